//! The decision ledger: every recommendation and every later decision about it is one record,
//! appended (never rewritten) to a table of the store's SQLite file and published on
//! `<prefix>/decisions`. A subject's status is its latest record's.

use super::Recommendation;
use rusqlite::{params, Connection};
use serde::{Deserialize, Serialize};
use std::path::Path;

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS decisions (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    subject TEXT NOT NULL,
    status TEXT NOT NULL,
    ts INTEGER NOT NULL,
    expires INTEGER,
    record TEXT NOT NULL,
    -- The recommendation as last proposed, so the current list survives a restart.
    recommendation TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS decisions_subject ON decisions (subject, seq);
";

#[derive(Debug, thiserror::Error)]
pub enum LedgerError {
    #[error("cannot open the ledger in {path}: {source}")]
    Open { path: String, source: rusqlite::Error },
    #[error("ledger: {0}")]
    Sql(#[from] rusqlite::Error),
    #[error("ledger record: {0}")]
    Json(#[from] serde_json::Error),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Proposed,
    Accepted,
    Applied,
    Rejected,
    Overridden,
    Expired,
}

impl Status {
    pub const ALL: [Status; 6] =
        [Status::Proposed, Status::Accepted, Status::Applied, Status::Rejected, Status::Overridden, Status::Expired];

    pub fn name(self) -> &'static str {
        match self {
            Status::Proposed => "proposed",
            Status::Accepted => "accepted",
            Status::Applied => "applied",
            Status::Rejected => "rejected",
            Status::Overridden => "overridden",
            Status::Expired => "expired",
        }
    }

    fn parse(s: &str) -> Self {
        Status::ALL.into_iter().find(|status| status.name() == s).unwrap_or(Status::Proposed)
    }

    /// A person decided: later advisor runs do not re-propose or expire it.
    pub fn is_decided(self) -> bool {
        matches!(self, Status::Accepted | Status::Applied | Status::Rejected | Status::Overridden)
    }
}

/// One ledger record (schema `sobre.decision/1`).
#[derive(Debug, Clone, Serialize)]
pub struct Record {
    pub schema: &'static str,
    /// `<subject>/<sequence>`: unique, in the order recorded.
    pub id: String,
    pub site: String,
    pub ts: String,
    pub kind: &'static str,
    /// The recommendation this record is about.
    pub subject: String,
    pub status: Status,
    /// Who decided, for a person's decision.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub by: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expires: Option<String>,
    pub recommendation: Recommendation,
}

/// A subject's latest state.
#[derive(Debug, Clone)]
pub struct Current {
    pub subject: String,
    pub status: Status,
    pub ts_ms: i64,
    pub expires_ms: Option<i64>,
    pub recommendation: serde_json::Value,
}

#[derive(Debug)]
pub struct Ledger {
    conn: Connection,
    site: String,
}

/// The fields a new record needs besides the recommendation.
#[derive(Debug, Clone, Copy)]
pub struct Entry<'a> {
    pub status: Status,
    pub ts_ms: i64,
    pub expires_ms: Option<i64>,
    pub by: Option<&'a str>,
    pub note: Option<&'a str>,
}

impl Ledger {
    pub fn open(path: &Path, site: &str) -> Result<Self, LedgerError> {
        let open = |source| LedgerError::Open { path: path.display().to_string(), source };
        let conn = crate::store::connect(path).map_err(open)?;
        conn.execute_batch(SCHEMA).map_err(open)?;
        Ok(Self { conn, site: site.to_string() })
    }

    /// Appends a record; returns it as published.
    pub fn append(&mut self, recommendation: &Recommendation, entry: Entry) -> Result<Record, LedgerError> {
        let tx = self.conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        let seq: i64 = tx.query_row("SELECT COALESCE(max(seq), 0) + 1 FROM decisions", [], |r| r.get(0))?;
        let record = Record {
            schema: "sobre.decision/1",
            id: format!("{}/{seq}", recommendation.id),
            site: self.site.clone(),
            ts: crate::clock::iso(entry.ts_ms),
            kind: "recommendation",
            subject: recommendation.id.clone(),
            status: entry.status,
            by: entry.by.map(str::to_string),
            note: entry.note.map(str::to_string),
            expires: entry.expires_ms.map(crate::clock::iso),
            recommendation: recommendation.clone(),
        };
        tx.execute(
            "INSERT INTO decisions (seq, subject, status, ts, expires, record, recommendation) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            params![
                seq,
                record.subject,
                entry.status.name(),
                entry.ts_ms,
                entry.expires_ms,
                serde_json::to_string(&record)?,
                serde_json::to_string(recommendation)?
            ],
        )?;
        tx.commit()?;
        Ok(record)
    }

    /// Every subject's latest state, newest first.
    pub fn current(&self) -> Result<Vec<Current>, LedgerError> {
        let mut stmt = self.conn.prepare(
            "SELECT subject, status, ts, expires, recommendation FROM decisions d
             WHERE seq = (SELECT max(seq) FROM decisions WHERE subject = d.subject) ORDER BY seq DESC",
        )?;
        let rows = stmt.query_map([], |r| {
            Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?, r.get(2)?, r.get(3)?, r.get::<_, String>(4)?))
        })?;
        let mut out = Vec::new();
        for row in rows {
            let (subject, status, ts_ms, expires_ms, recommendation) = row?;
            out.push(Current {
                subject,
                status: Status::parse(&status),
                ts_ms,
                expires_ms,
                recommendation: serde_json::from_str(&recommendation)?,
            });
        }
        Ok(out)
    }

    /// The records, oldest first (the local page's ledger table).
    pub fn records(&self, limit: usize) -> Result<Vec<serde_json::Value>, LedgerError> {
        let mut stmt = self.conn.prepare("SELECT record FROM decisions ORDER BY seq DESC LIMIT ?1")?;
        let rows = stmt.query_map([limit as i64], |r| r.get::<_, String>(0))?;
        let mut out = Vec::new();
        for row in rows {
            out.push(serde_json::from_str(&row?)?);
        }
        out.reverse();
        Ok(out)
    }
}
