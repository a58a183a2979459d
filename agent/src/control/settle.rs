//! Settling an event as a flexibility aggregator would: the baseline is the forecast on
//! schedule, adjusted on the day by how the building actually ran in the two hours before the
//! pre-heat (the "day-of adjustment" of demand-response baselines, capped at ±20 %); the shed
//! is that baseline less the metered power during the event.

use super::event::{FlexEvent, FlexKind};
use super::forecast::Forecast;
use serde::Serialize;

/// The day-of adjustment window, before the pre-heat starts.
const ADJUSTMENT_MS: i64 = 2 * 3_600_000;
/// Hours after the event the rebound is looked for.
pub const REBOUND_MS: i64 = 3 * 3_600_000;

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Settlement {
    pub event_id: String,
    pub event_kind: FlexKind,
    pub start_ms: i64,
    pub end_ms: i64,
    pub planned_shed_kw: f64,
    /// The forecast on schedule times this, from the hours before the pre-heat.
    pub adjustment: f64,
    pub baseline_kw: f64,
    pub measured_kw: f64,
    pub achieved_shed_kw: f64,
    pub shifted_kwh: f64,
    pub rebound_peak_kw: f64,
    pub baseline_peak_kw: f64,
    pub discomfort_kh: f64,
    pub overrides: u64,
}

/// What the city is told of a flex request the agent answered for good (`sobre.flex/2`).
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// An event the agent commanded, measured once over.
    Settled(Settlement),
    /// A request refused, or an accepted event cancelled: no figures, only why.
    Declined(Declined),
}

#[derive(Debug, Clone, PartialEq)]
pub struct Declined {
    pub event_id: String,
    /// None when the request was refused before its kind could be read.
    pub event_kind: Option<FlexKind>,
    /// The event's window; None when the request was refused before it could be read.
    pub window: Option<(i64, i64)>,
    /// Cancelled after it was accepted, rather than refused.
    pub cancelled: bool,
    /// The same sentence as the answer on `<prefix>/flex/status`.
    pub reason: String,
    pub at_ms: i64,
}

/// Settles `event` from its forecast and the metered power, `(end of step, kW)` in time order.
pub fn settle(
    event: &FlexEvent,
    forecast: &Forecast,
    preheat_ms: i64,
    metered: &[(i64, f64)],
    discomfort_kh: f64,
    overrides: u64,
) -> Settlement {
    // A meter's reading belongs to the forecast step it ends in.
    let step = forecast.series.get(1).zip(forecast.series.first()).map_or(1, |(b, a)| (b.0 - a.0).max(1));
    let baseline_at = |t: i64| forecast.series.iter().find(|s| s.0 >= t && s.0 - t < step).map(|s| s.1);
    // Steps are keyed by their end: a step belongs to a window when it ends within it.
    let pairs = |from: i64, to: i64| -> Vec<(f64, f64)> {
        metered
            .iter()
            .filter(|(t, _)| *t > from && *t <= to)
            .filter_map(|(t, kw)| Some((baseline_at(*t)?, *kw)))
            .collect()
    };
    let mean = |v: &[(f64, f64)], pick: fn(&(f64, f64)) -> f64| v.iter().map(pick).sum::<f64>() / v.len().max(1) as f64;
    let preheat_start = event.start_ms - preheat_ms;
    let before = pairs(preheat_start - ADJUSTMENT_MS, preheat_start);
    let adjustment = match (mean(&before, |p| p.0), mean(&before, |p| p.1)) {
        (b, m) if !before.is_empty() && b > 0.0 => (m / b).clamp(0.8, 1.2),
        _ => 1.0,
    };
    let during = pairs(event.start_ms, event.end_ms);
    let (baseline_kw, measured_kw) = (adjustment * mean(&during, |p| p.0), mean(&during, |p| p.1));
    let after = pairs(event.end_ms, event.end_ms + REBOUND_MS);
    let step_h = |v: &[(f64, f64)], from: i64, to: i64| (to - from) as f64 / 3_600_000.0 / v.len().max(1) as f64;
    let preheat = pairs(preheat_start, event.start_ms);
    let shifted_kwh =
        preheat.iter().map(|(b, m)| m - adjustment * b).sum::<f64>() * step_h(&preheat, preheat_start, event.start_ms);
    Settlement {
        event_id: event.id.clone(),
        event_kind: event.kind,
        start_ms: event.start_ms,
        end_ms: event.end_ms,
        planned_shed_kw: forecast.shed_kw,
        adjustment,
        baseline_kw,
        measured_kw,
        achieved_shed_kw: baseline_kw - measured_kw,
        shifted_kwh: if shifted_kwh > 0.0 { shifted_kwh } else { 0.0 },
        rebound_peak_kw: after.iter().map(|p| p.1).fold(0.0, f64::max),
        baseline_peak_kw: adjustment * after.iter().map(|p| p.0).fold(0.0, f64::max),
        discomfort_kh,
        overrides,
    }
}

#[cfg(test)]
mod tests {
    use super::super::event::Depth;
    use super::*;

    const H: i64 = 3_600_000;
    const Q: i64 = 900_000;

    #[test]
    fn the_baseline_is_adjusted_on_the_day_and_the_shed_is_what_the_meter_did_not_draw() {
        // Given an event 10:00–12:00 with 2 h of pre-heat, a forecast of 10 kW on schedule all
        // day (5 kW planned during it), and a building that ran at 9 kW before the pre-heat,
        // 11 kW in it, 3 kW in the event and 12 kW after
        let event = FlexEvent {
            id: "e1".into(),
            kind: FlexKind::Shed,
            start_ms: 10 * H,
            end_ms: 12 * H,
            depth: Depth::Level(1.0),
            notice_ms: 0,
        };
        let ends: Vec<i64> = (1..=64).map(|k| k * Q).collect();
        let series = ends.iter().map(|&t| (t, 10.0, if t > 10 * H && t <= 12 * H { 5.0 } else { 10.0 })).collect();
        let forecast = Forecast {
            event: "e1".into(),
            window: (10 * H, 12 * H),
            baseline_kw: 10.0,
            planned_kw: 5.0,
            shed_kw: 5.0,
            rebound_peak_kw: 10.0,
            baseline_peak_kw: 10.0,
            discomfort_kh: 0.0,
            preheat_kwh: 0.0,
            zones: 1,
            series,
            deep_preheat: false,
        };
        let metered: Vec<(i64, f64)> = ends
            .iter()
            .map(|&t| {
                (
                    t,
                    if t <= 8 * H {
                        9.0
                    } else if t <= 10 * H {
                        11.0
                    } else if t <= 12 * H {
                        3.0
                    } else {
                        12.0
                    },
                )
            })
            .collect();
        // When it is settled
        let s = settle(&event, &forecast, 2 * H, &metered, 0.2, 1);
        // Then the baseline is the forecast times 0.9, the shed what the meter did not draw
        assert!((s.adjustment - 0.9).abs() < 1e-9, "{s:?}");
        assert!((s.achieved_shed_kw - 6.0).abs() < 1e-9, "{s:?}");
        // And the pre-heat moved 2 h × (11 − 9) kW ahead, the rebound peaked at 12 kW
        assert!((s.shifted_kwh - 4.0).abs() < 1e-9, "{s:?}");
        assert_eq!((s.rebound_peak_kw, s.baseline_peak_kw), (12.0, 9.0));
    }
}
