//! The control part of the decision ledger: every command, override, flex request (taken or
//! refused, and why) and change of mode, appended to a table of the store's SQLite file and
//! published on `<prefix>/decisions` (schema `sobre.control/1`). What must survive a restart
//! (overrides in force, the stop switch) is read back from it.

use super::controller::Override;
use rusqlite::{params, Connection, OptionalExtension};
use serde::Serialize;
use serde_json::Value;
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
    FlexRefused,
    FlexCancelled,
    Mode,
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
            Kind::FlexRefused => "flex_refused",
            Kind::FlexCancelled => "flex_cancelled",
            Kind::Mode => "mode",
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
            let record: Value = serde_json::from_str(&record)?;
            let over: Override = serde_json::from_value(record["detail"].clone())?;
            if over.until_ms > now_ms {
                out.push((zone, over));
            }
        }
        Ok(out)
    }

    /// The mode last set on `<prefix>/control/set`, if ever.
    pub fn latest_mode(&self) -> Result<Option<Value>, LogError> {
        let record: Option<String> = self
            .conn
            .query_row("SELECT record FROM control_log WHERE kind = 'mode' ORDER BY seq DESC LIMIT 1", [], |r| r.get(0))
            .optional()?;
        Ok(match record {
            Some(r) => Some(serde_json::from_str::<Value>(&r)?["detail"]["mode"].clone()),
            None => None,
        })
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
