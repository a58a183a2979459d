//! Per-point validation: range, time, duplicates, and counters turned into interval energy.
//! State per point is fixed-size, so memory is bounded by the number of points, not by traffic.

use crate::config::{EnergyMode, IngestSettings, Point};
use crate::reading::{EnergySpan, Reading, Reason};
use heapless::Deque;

/// Recent (timestamp, value bits) per point: catches QoS 1 redelivery without a store round trip.
/// Older duplicates are still caught by the store's primary key.
pub const DEDUPE_WINDOW: usize = 32;

#[derive(Debug, Clone, PartialEq)]
pub struct Rejected {
    pub reason: Reason,
    pub detail: String,
}

/// An accepted reading, and possibly why its interval energy could not be derived.
#[derive(Debug, Clone, PartialEq)]
pub struct Accepted {
    pub reading: Reading,
    pub flag: Option<Rejected>,
}

#[derive(Debug)]
struct PointState {
    range: (f64, f64),
    energy: Option<EnergyMode>,
    recent: Deque<(i64, u64), DEDUPE_WINDOW>,
    newest_ms: Option<i64>,
    /// The last counter reading in time order: the anchor of the next interval.
    counter: Option<(i64, f64)>,
}

#[derive(Debug)]
pub struct Validator {
    states: Vec<PointState>,
    future_tolerance_ms: i64,
    late_window_ms: i64,
}

fn rejected(reason: Reason, detail: String) -> Result<Accepted, Rejected> {
    Err(Rejected { reason, detail })
}

impl Validator {
    pub fn new(points: &[Point], ingest: &IngestSettings) -> Self {
        let states = points
            .iter()
            .map(|p| PointState {
                range: p.range,
                energy: p.energy,
                recent: Deque::new(),
                newest_ms: None,
                counter: None,
            })
            .collect();
        Self {
            states,
            future_tolerance_ms: ingest.future_tolerance.as_millis_i64(),
            late_window_ms: ingest.late_window.as_millis_i64(),
        }
    }

    /// Picks up where the store left off, so a restart neither loses a counter interval nor
    /// forgets how late is too late.
    pub fn resume(&mut self, point: usize, newest_ms: i64, newest_value: f64) {
        if let Some(state) = self.states.get_mut(point) {
            state.newest_ms = Some(newest_ms);
            if matches!(state.energy, Some(EnergyMode::Counter { .. })) {
                state.counter = Some((newest_ms, newest_value));
            }
        }
    }

    /// Checks one reading of `point`, already in its stored unit, against `wall_now_ms`.
    pub fn check(&mut self, point: usize, ts_ms: i64, value: f64, wall_now_ms: i64) -> Result<Accepted, Rejected> {
        let future_tolerance_ms = self.future_tolerance_ms;
        let late_window_ms = self.late_window_ms;
        let Some(state) = self.states.get_mut(point) else {
            return rejected(Reason::Malformed, format!("no point with index {point}"));
        };
        if !value.is_finite() {
            return rejected(Reason::NotFinite, format!("{value}"));
        }
        let (lo, hi) = state.range;
        if !(lo..=hi).contains(&value) {
            return rejected(Reason::OutOfRange, format!("{value} outside [{lo}, {hi}]"));
        }
        if ts_ms > wall_now_ms.saturating_add(future_tolerance_ms) {
            let ahead_s = (ts_ms - wall_now_ms) / 1000;
            return rejected(Reason::Future, format!("stamped {ahead_s} s ahead of the wall clock"));
        }
        if let Some(newest) = state.newest_ms {
            if ts_ms < newest.saturating_sub(late_window_ms) {
                let behind_s = (newest - ts_ms) / 1000;
                return rejected(Reason::Late, format!("{behind_s} s older than the newest reading"));
            }
        }
        if let Some(&(_, bits)) = state.recent.iter().find(|(t, _)| *t == ts_ms) {
            return if bits == value.to_bits() {
                rejected(Reason::Duplicate, format!("{value} again at the same time"))
            } else {
                rejected(Reason::Conflict, format!("{value} where {} was already accepted", f64::from_bits(bits)))
            };
        }

        let (energy, flag) = match state.energy {
            None => (None, None),
            Some(EnergyMode::Interval { length, max_kw }) => {
                let hours = length.0.as_secs_f64() / 3600.0;
                // Either way: a net meter whose range allows export glitches downwards too.
                if value.abs() > max_kw * hours {
                    return rejected(Reason::OutOfRange, format!("{value} kWh in {length} is beyond max_kw {max_kw}"));
                }
                let span = EnergySpan { start_ms: ts_ms, end_ms: ts_ms + length.as_millis_i64(), kwh: value };
                (Some(span), None)
            }
            Some(EnergyMode::Counter { max_kw }) => counter_interval(&mut state.counter, ts_ms, value, max_kw),
        };

        if state.recent.is_full() {
            state.recent.pop_front();
        }
        // Cannot fail: a slot was freed just above when the window was full.
        let _ = state.recent.push_back((ts_ms, value.to_bits()));
        state.newest_ms = Some(state.newest_ms.map_or(ts_ms, |n| n.max(ts_ms)));
        Ok(Accepted { reading: Reading { point, ts_ms, value, energy }, flag })
    }
}

/// The energy since the previous counter reading, or why there is none. A late reading (older
/// than the anchor) is stored but yields no energy: the interval it falls in is already counted.
fn counter_interval(
    anchor: &mut Option<(i64, f64)>,
    ts_ms: i64,
    value: f64,
    max_kw: f64,
) -> (Option<EnergySpan>, Option<Rejected>) {
    let Some((prev_ms, prev)) = *anchor else {
        *anchor = Some((ts_ms, value));
        return (None, None);
    };
    if ts_ms < prev_ms {
        return (None, None);
    }
    *anchor = Some((ts_ms, value));
    let delta = value - prev;
    let hours = (ts_ms - prev_ms) as f64 / 3_600_000.0;
    if delta < 0.0 {
        let flag = Rejected { reason: Reason::CounterReset, detail: format!("counter went from {prev} to {value}") };
        return (None, Some(flag));
    }
    if delta > max_kw * hours {
        let flag = Rejected {
            reason: Reason::CounterJump,
            detail: format!("counter stepped {delta} kWh in {hours:.3} h, above max_kw {max_kw}"),
        };
        return (None, Some(flag));
    }
    (Some(EnergySpan { start_ms: prev_ms, end_ms: ts_ms, kwh: delta }), None)
}

#[cfg(test)]
mod tests;
