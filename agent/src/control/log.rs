//! The control part of the decision ledger: every command, override, flex request (taken or
//! refused, and why) and change of mode, appended to a table of the store's SQLite file and
//! published on `<prefix>/decisions` (schema `sobre.control/1`). What must survive a restart
//! (overrides in force, the stop switch) is read back from it.

use super::controller::Override;
use super::event::FlexEvent;
use super::forecast::Forecast;
use crate::config::control::Mode;
use rusqlite::{params, Connection};
use serde::Serialize;
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::Path;

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS control_log (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    ts INTEGER NOT NULL,
    kind TEXT NOT NULL,
    zone TEXT,
    record TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS control_log_kind ON control_log (kind, zone, seq);
";

#[derive(Debug, thiserror::Error)]
pub enum LogError {
    #[error("cannot open the control log in {path}: {source}")]
    Open { path: String, source: rusqlite::Error },
    #[error("control log: {0}")]
    Sql(#[from] rusqlite::Error),
    #[error("control log record: {0}")]
    Json(#[from] serde_json::Error),
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
        }
    }
}

#[derive(Debug)]
pub struct ControlLog {
    conn: Connection,
    site: String,
}

impl ControlLog {
    pub fn open(path: &Path, site: &str) -> Result<Self, LogError> {
        let open = |source| LogError::Open { path: path.display().to_string(), source };
        let conn = crate::store::connect(path).map_err(open)?;
        conn.execute_batch(SCHEMA).map_err(open)?;
        Ok(Self { conn, site: site.to_string() })
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
        let tx = self.conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        let seq: i64 = tx.query_row("SELECT COALESCE(max(seq), 0) + 1 FROM control_log", [], |r| r.get(0))?;
        let mut record = serde_json::json!({
            "schema": "sobre.control/1",
            "id": format!("control/{seq}"),
            "site": self.site,
            "ts": crate::clock::iso(ts_ms),
            "kind": kind.name(),
            "reason": reason,
            "detail": serde_json::to_value(detail)?,
        });
        if let (Some(zone), Some(map)) = (zone, record.as_object_mut()) {
            map.insert("zone".into(), Value::from(zone));
        }
        tx.execute(
            "INSERT INTO control_log (seq, ts, kind, zone, record) VALUES (?1, ?2, ?3, ?4, ?5)",
            params![seq, ts_ms, kind.name(), zone, serde_json::to_string(&record)?],
        )?;
        tx.commit()?;
        Ok(record)
    }

    /// Per zone, the override in force at `now_ms`: its latest override record, unless an end
    /// was recorded after it or it has lapsed.
    pub fn overrides_in_force(&self, now_ms: i64) -> Result<Vec<(String, Override)>, LogError> {
        let mut stmt = self.conn.prepare(
            "SELECT zone, kind, record FROM control_log c
             WHERE kind IN ('override', 'override_ended') AND zone IS NOT NULL
               AND seq = (SELECT max(seq) FROM control_log
                          WHERE zone = c.zone AND kind IN ('override', 'override_ended'))",
        )?;
        let rows =
            stmt.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?, r.get::<_, String>(2)?)))?;
        let mut out = Vec::new();
        for row in rows {
            let (zone, kind, record) = row?;
            if kind != Kind::Override.name() {
                continue;
            }
            let Some(over) = readable::<Override>(&record, "override") else { continue };
            if over.until_ms > now_ms {
                out.push((zone, over));
            }
        }
        Ok(out)
    }

    /// The events taken and not cancelled that may still be in force or unsettled at
    /// `since_ms` (their end after it), each with its latest forecast unless it was settled.
    pub fn events_since(&self, since_ms: i64) -> Result<Vec<(FlexEvent, Option<Forecast>)>, LogError> {
        let mut stmt = self.conn.prepare(
            "SELECT kind, record FROM control_log
             WHERE kind IN ('flex_accepted', 'flex_cancelled', 'flex_forecast', 'flex_settled') ORDER BY seq",
        )?;
        let rows = stmt.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)))?;
        let mut events: BTreeMap<String, (FlexEvent, Option<Forecast>)> = BTreeMap::new();
        for row in rows {
            let (kind, record) = row?;
            match kind.as_str() {
                "flex_accepted" => {
                    let Some(e) = readable::<FlexEvent>(&record, "flex event") else { continue };
                    events.insert(e.id.clone(), (e, None));
                }
                "flex_forecast" => {
                    let Some(f) = readable::<Forecast>(&record, "flex forecast") else { continue };
                    if let Some(entry) = events.get_mut(&f.event) {
                        entry.1 = Some(f);
                    }
                }
                "flex_settled" => {
                    let Some(detail) = readable::<Value>(&record, "settlement") else { continue };
                    if let Some(entry) = detail["event_id"].as_str().and_then(|id| events.get_mut(id)) {
                        entry.1 = None;
                    }
                }
                _ => {
                    let Some(detail) = readable::<Value>(&record, "cancellation") else { continue };
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
        Ok(self.conn.query_row(
            "SELECT count(*) FROM control_log WHERE kind = 'override' AND ts >= ?1 AND ts < ?2",
            [from_ms, to_ms],
            |r| r.get(0),
        )?)
    }

    /// The mode last set on `<prefix>/control/set`, if ever: the newest record this version
    /// can read (the stop switch must survive one it cannot).
    pub fn latest_mode(&self) -> Result<Option<Mode>, LogError> {
        let mut stmt = self.conn.prepare("SELECT record FROM control_log WHERE kind = 'mode' ORDER BY seq DESC")?;
        let rows = stmt.query_map([], |r| r.get::<_, String>(0))?;
        for row in rows {
            let row = row?;
            if let Some(mode) = readable::<ModeDetail>(&row, "mode").map(|d| d.mode) {
                return Ok(Some(mode));
            }
        }
        Ok(None)
    }

    /// The newest records, oldest first.
    pub fn records(&self, limit: usize) -> Result<Vec<Value>, LogError> {
        let mut stmt = self.conn.prepare("SELECT record FROM control_log ORDER BY seq DESC LIMIT ?1")?;
        let rows = stmt.query_map([limit as i64], |r| r.get::<_, String>(0))?;
        let mut out = Vec::new();
        for row in rows {
            out.push(serde_json::from_str(&row?)?);
        }
        out.reverse();
        Ok(out)
    }
}

/// A mode record's detail.
#[derive(Debug, serde::Deserialize)]
struct ModeDetail {
    mode: Mode,
}

/// The detail of a stored record, or `None` (logged) when this version cannot read it: a
/// record written by another version costs that record, never the rest of the restore.
fn readable<T: serde::de::DeserializeOwned>(record: &str, what: &str) -> Option<T> {
    let parsed =
        serde_json::from_str::<Value>(record).and_then(|mut r| serde_json::from_value::<T>(r["detail"].take()));
    match parsed {
        Ok(detail) => Some(detail),
        Err(e) => {
            tracing::warn!(what, error = %e, "control: a stored record this version cannot read is skipped");
            None
        }
    }
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
        // When an agent starts, Then it still has the stop switch and the readable override
        assert_eq!(log.latest_mode().expect("mode"), Some(Mode::Advise));
        assert_eq!(log.overrides_in_force(2 * H).expect("overrides"), [("class-1".to_string(), over)]);
        assert_eq!(log.events_since(2 * H).expect("events"), []);
    }
}
