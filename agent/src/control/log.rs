//! The control part of the decision ledger: every command, override, flex request (taken or
//! refused, and why) and change of mode, appended to the store's `control_log` journal and
//! published on `<prefix>/decisions` (schema `sobre.control/1`). What must survive a restart
//! (overrides in force, the stop switch) is read back from it.

use super::controller::Override;
use super::event::FlexEvent;
use super::forecast::Forecast;
use crate::config::control::Mode;
use crate::stats::Stats;
use crate::store::journal::{self, Journal, JournalError, Stored};
use serde::Serialize;
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

#[derive(Debug, thiserror::Error)]
pub enum LogError {
    #[error(transparent)]
    Journal(#[from] JournalError),
    #[error("control log: cannot write the detail of a {kind} record: {source}")]
    Detail { kind: &'static str, source: serde_json::Error },
    #[error(transparent)]
    Unfinished(#[from] crate::shared::Unfinished),
}

/// What a record is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    Command,
    Release,
    Override,
    OverrideRefused,
    OverrideEnded,
    CommandLapsed,
    BudgetSpent,
    FlexAccepted,
    FlexForecast,
    FlexSettled,
    FlexRefused,
    FlexCancelled,
    Mode,
    DayCompared,
    /// A readback the agent did not send and cannot explain: it released the zone and stays off.
    Unexplained,
    /// The comfort watchdog released a zone below comfort while occupied.
    WatchdogTripped,
}

impl Kind {
    pub fn name(self) -> &'static str {
        match self {
            Kind::Command => "command",
            Kind::Release => "release",
            Kind::Override => "override",
            Kind::OverrideRefused => "override_refused",
            Kind::OverrideEnded => "override_ended",
            Kind::CommandLapsed => "command_lapsed",
            Kind::BudgetSpent => "budget_spent",
            Kind::FlexAccepted => "flex_accepted",
            Kind::FlexForecast => "flex_forecast",
            Kind::FlexSettled => "flex_settled",
            Kind::FlexRefused => "flex_refused",
            Kind::FlexCancelled => "flex_cancelled",
            Kind::Mode => "mode",
            Kind::DayCompared => "day_compared",
            Kind::Unexplained => "unexplained",
            Kind::WatchdogTripped => "watchdog_tripped",
        }
    }
}

#[derive(Debug)]
pub struct ControlLog {
    journal: Journal,
    site: String,
}

/// The kinds that say whether a zone is overridden: the latest of them per zone holds.
const OVERRIDES: [&str; 2] = ["override", "override_ended"];
/// The kinds that make up a flex event's story.
const FLEX: [&str; 4] = ["flex_accepted", "flex_cancelled", "flex_forecast", "flex_settled"];

impl ControlLog {
    pub fn open(path: &Path, site: &str) -> Result<Self, LogError> {
        Ok(Self { journal: Journal::open(path, journal::CONTROL)?, site: site.to_string() })
    }

    /// Counts the records this version cannot read in the agent's counters too.
    pub fn counting(self, stats: Arc<Stats>) -> Self {
        Self { journal: self.journal.counting(stats), ..self }
    }

    /// Appends a record; returns it as published.
    pub fn append(
        &mut self,
        kind: Kind,
        zone: Option<&str>,
        ts_ms: i64,
        reason: &str,
        detail: impl Serialize,
    ) -> Result<Value, LogError> {
        let detail = serde_json::to_value(detail).map_err(|source| LogError::Detail { kind: kind.name(), source })?;
        let site = self.site.as_str();
        Ok(self.journal.append(ts_ms, kind.name(), zone, |seq| {
            let mut record = serde_json::json!({
                "schema": "sobre.control/1",
                "id": format!("control/{seq}"),
                "site": site,
                "ts": crate::clock::iso(ts_ms),
                "kind": kind.name(),
                "reason": reason,
                "detail": detail,
            });
            if let (Some(zone), Some(map)) = (zone, record.as_object_mut()) {
                map.insert("zone".into(), Value::from(zone));
            }
            record
        })?)
    }

    /// Per zone, the override in force at `now_ms`: its latest override record, unless an end
    /// was recorded after it or it has lapsed.
    pub fn overrides_in_force(&self, now_ms: i64) -> Result<Vec<(String, Override)>, LogError> {
        let mut out = Vec::new();
        for stored in self.journal.latest(&OVERRIDES)? {
            if stored.kind != Kind::Override.name() {
                continue;
            }
            let Some(over) = self.journal.read(&stored, Stored::detail::<Override>) else { continue };
            if let (Some(zone), true) = (stored.subject, over.until_ms > now_ms) {
                out.push((zone, over));
            }
        }
        Ok(out)
    }

    /// The events taken and not cancelled that may still be in force or unsettled at
    /// `since_ms` (their end after it), each with its latest forecast unless it was settled.
    pub fn events_since(&self, since_ms: i64) -> Result<Vec<(FlexEvent, Option<Forecast>)>, LogError> {
        let mut events: BTreeMap<String, (FlexEvent, Option<Forecast>)> = BTreeMap::new();
        for stored in self.journal.scan(&FLEX)? {
            match stored.kind.as_str() {
                "flex_accepted" => {
                    let Some(e) = self.journal.read(&stored, Stored::detail::<FlexEvent>) else { continue };
                    events.insert(e.id.clone(), (e, None));
                }
                "flex_forecast" => {
                    let Some(f) = self.journal.read(&stored, Stored::detail::<Forecast>) else { continue };
                    if let Some(entry) = events.get_mut(&f.event) {
                        entry.1 = Some(f);
                    }
                }
                "flex_settled" => {
                    let Some(detail) = self.journal.read(&stored, Stored::detail::<Value>) else { continue };
                    if let Some(entry) = detail["event_id"].as_str().and_then(|id| events.get_mut(id)) {
                        entry.1 = None;
                    }
                }
                _ => {
                    let Some(detail) = self.journal.read(&stored, Stored::detail::<Value>) else { continue };
                    if let Some(id) = detail["id"].as_str() {
                        events.remove(id);
                    }
                }
            }
        }
        Ok(events.into_values().filter(|(e, _)| e.end_ms > since_ms).collect())
    }

    /// Overrides that began in `[from_ms, to_ms)`.
    pub fn overrides_between(&self, from_ms: i64, to_ms: i64) -> Result<u64, LogError> {
        Ok(self.journal.count(Kind::Override.name(), from_ms, to_ms)?)
    }

    /// The mode last set on `<prefix>/control/set`, if ever: the newest record this version
    /// can read (the stop switch must survive one it cannot).
    pub fn latest_mode(&self) -> Result<Option<Mode>, LogError> {
        Ok(self.journal.newest(Kind::Mode.name(), |stored| stored.detail::<ModeDetail>().map(|d| d.mode))?)
    }

    /// The newest records, oldest first.
    pub fn records(&self, limit: usize) -> Result<Vec<Value>, LogError> {
        Ok(self.journal.records(limit)?)
    }

    /// Records found unreadable so far.
    pub fn unreadable(&self) -> u64 {
        self.journal.unreadable()
    }
}

/// A mode record's detail.
#[derive(Debug, serde::Deserialize)]
struct ModeDetail {
    mode: Mode,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::control::controller::{Hold, Source};
    use crate::control::event::{Depth, FlexKind};

    const H: i64 = 3_600_000;

    #[test]
    fn what_must_survive_a_restart_is_read_back_from_the_log() {
        // Given a log with an override, an event taken and forecast, another taken then
        // cancelled, and the stop switch turned
        let dir = tempfile::tempdir().expect("tempdir");
        let mut log = ControlLog::open(&dir.path().join("sobre.db"), "s").expect("log");
        let over =
            Override { hold: Hold::Setpoint { setpoint_c: 23.0 }, since_ms: H, until_ms: 9 * H, source: Source::Topic };
        log.append(Kind::Override, Some("class-1"), H, "a person", over).expect("append");
        let event = |id: &str| FlexEvent {
            id: id.into(),
            kind: FlexKind::Shed,
            start_ms: 8 * H,
            end_ms: 10 * H,
            depth: Depth::Level(1.0),
            notice_ms: H,
        };
        log.append(Kind::FlexAccepted, None, H, "taken", event("e1")).expect("append");
        let forecast = Forecast {
            event: "e1".into(),
            window: (8 * H, 10 * H),
            baseline_kw: 8.0,
            planned_kw: 2.0,
            shed_kw: 6.0,
            rebound_peak_kw: 9.0,
            baseline_peak_kw: 8.5,
            discomfort_kh: 0.0,
            preheat_kwh: 5.0,
            zones: 8,
            series: vec![(8 * H, 8.0, 2.0)],
            deep_preheat: false,
        };
        log.append(Kind::FlexForecast, None, H, "expects", &forecast).expect("append");
        log.append(Kind::FlexAccepted, None, H, "taken", event("e2")).expect("append");
        log.append(Kind::FlexCancelled, None, H, "cancelled", event("e2")).expect("append");
        log.append(Kind::Mode, None, H, "stop", serde_json::json!({ "mode": "advise" })).expect("append");
        // When an agent starts at 02:00
        let overrides = log.overrides_in_force(2 * H).expect("overrides");
        let events = log.events_since(2 * H).expect("events");
        // Then it finds the override, the event with its forecast (not the cancelled one) and
        // the stop switch
        assert_eq!(overrides, [("class-1".to_string(), over)]);
        assert_eq!(events, [(event("e1"), Some(forecast))]);
        assert_eq!(log.latest_mode().expect("mode"), Some(Mode::Advise));
    }

    #[test]
    fn a_record_this_version_cannot_read_costs_that_record_not_the_restore() {
        // Given a log with the stop switch and an override, then records another version wrote
        // (a mode this one does not know, an override and an event in another shape)
        let dir = tempfile::tempdir().expect("tempdir");
        let mut log = ControlLog::open(&dir.path().join("sobre.db"), "s").expect("log");
        let over =
            Override { hold: Hold::Setpoint { setpoint_c: 23.0 }, since_ms: H, until_ms: 9 * H, source: Source::Topic };
        log.append(Kind::Override, Some("class-1"), H, "a person", over).expect("append");
        log.append(Kind::Mode, None, H, "stop", serde_json::json!({ "mode": "advise" })).expect("append");
        log.append(Kind::Mode, None, H, "later", serde_json::json!({ "mode": "turbo" })).expect("append");
        log.append(Kind::Override, Some("class-2"), H, "a person", serde_json::json!({ "hold": 7 })).expect("append");
        log.append(Kind::FlexAccepted, None, H, "taken", serde_json::json!({ "id": "e9", "shape": "new" }))
            .expect("append");
        // When an agent starts (twice over, as the page and a restart read again)
        for _ in 0..2 {
            // Then it still has the stop switch and the readable override
            assert_eq!(log.latest_mode().expect("mode"), Some(Mode::Advise));
            assert_eq!(log.overrides_in_force(2 * H).expect("overrides"), [("class-1".to_string(), over)]);
            assert_eq!(log.events_since(2 * H).expect("events"), []);
        }
        // And each of the three records it could not read is counted once
        assert_eq!(log.unreadable(), 3);
    }
}
