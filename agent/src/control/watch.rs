//! The events the agent is measuring: from the forecast it made to three hours after the event,
//! it keeps the heating meter's power, the K·h below comfort in the zones and the overrides,
//! then settles each event (see `settle`).

use super::controller::ZoneReading;
use super::event::FlexEvent;
use super::forecast::Forecast;
use super::settle::{settle, Settlement, REBOUND_MS};
use std::collections::VecDeque;

/// Metered power kept: three days of quarter-hours covers a day's notice, the event and after.
const METERED: usize = 3 * 96;

#[derive(Debug, Clone)]
struct Watch {
    event: FlexEvent,
    forecast: Forecast,
    discomfort_kh: f64,
    overrides: u64,
}

#[derive(Debug)]
pub struct Watches {
    events: Vec<Watch>,
    metered: VecDeque<(i64, f64)>,
    preheat_ms: i64,
    comfort_min_c: f64,
}

impl Watches {
    pub fn new(preheat_ms: i64, comfort_min_c: f64) -> Self {
        Self { events: Vec::new(), metered: VecDeque::new(), preheat_ms, comfort_min_c }
    }

    /// Starts (or restarts, for an updated event) measuring `event` against `forecast`, with
    /// the overrides already counted in it (after a restart).
    pub fn watch(&mut self, event: FlexEvent, forecast: Forecast, overrides: u64) {
        self.events.retain(|w| w.event.id != event.id);
        self.events.push(Watch { event, forecast, discomfort_kh: 0.0, overrides });
    }

    /// The events watched: taken with a forecast, not yet settled.
    pub fn events(&self) -> impl Iterator<Item = &FlexEvent> {
        self.events.iter().map(|w| &w.event)
    }

    pub fn forget(&mut self, id: &str) {
        self.events.retain(|w| w.event.id != id);
    }

    /// The heating meter's energy over `[start_ms, end_ms)`.
    pub fn meter(&mut self, start_ms: i64, end_ms: i64, kwh: f64) {
        if end_ms <= start_ms || !kwh.is_finite() {
            return;
        }
        self.metered.push_back((end_ms, kwh * 3_600_000.0 / (end_ms - start_ms) as f64));
        while self.metered.len() > METERED {
            self.metered.pop_front();
        }
    }

    /// The heating meter's kWh over `(from_ms, to_ms]`, and the share of its steps metered.
    pub fn metered_kwh(&self, from_ms: i64, to_ms: i64, step_ms: i64) -> (f64, f64) {
        let within: Vec<f64> =
            self.metered.iter().filter(|(t, _)| *t > from_ms && *t <= to_ms).map(|(_, kw)| *kw).collect();
        let step_h = step_ms as f64 / 3_600_000.0;
        let expected = ((to_ms - from_ms) / step_ms.max(1)).max(1) as f64;
        (within.iter().sum::<f64>() * step_h, within.len() as f64 / expected)
    }

    fn within(w: &Watch, ts_ms: i64) -> bool {
        ts_ms >= w.event.start_ms && ts_ms < w.event.end_ms + REBOUND_MS
    }

    pub fn overrides(&mut self, n: u64, ts_ms: i64) {
        for w in self.events.iter_mut().filter(|w| Self::within(w, ts_ms)) {
            w.overrides += n;
        }
    }

    /// One control step at `at_ms` of `step_h` hours: the zones' K·h below comfort while
    /// occupied, and the events whose watch is over, settled.
    pub fn step(&mut self, at_ms: i64, step_h: f64, zones: &[ZoneReading]) -> Vec<Settlement> {
        let below: f64 = zones
            .iter()
            .filter(|z| z.occupied)
            .filter_map(|z| z.temperature_c)
            .map(|t| (self.comfort_min_c - t).max(0.0) * step_h)
            .sum();
        for w in self.events.iter_mut().filter(|w| Self::within(w, at_ms)) {
            w.discomfort_kh += below;
        }
        let (over, going): (Vec<Watch>, Vec<Watch>) =
            self.events.drain(..).partition(|w| at_ms >= w.event.end_ms + REBOUND_MS);
        self.events = going;
        let metered: Vec<(i64, f64)> = self.metered.iter().copied().collect();
        over.iter()
            .map(|w| settle(&w.event, &w.forecast, self.preheat_ms, &metered, w.discomfort_kh, w.overrides))
            .collect()
    }
}
