//! The decision ledger: every recommendation and every later decision about it is one record,
//! appended (never rewritten) to the store's `decisions` journal and published on
//! `<prefix>/decisions`. A subject's status is its latest record's: the journal's kind.

use super::occupancy::ZoneOccupancy;
use super::{Blocker, Recommendation};
use crate::stats::Stats;
use crate::store::journal::{self, Journal, JournalError, Stored};
use serde::{Deserialize, Serialize};
use std::path::Path;
use std::sync::Arc;

#[derive(Debug, thiserror::Error)]
pub enum LedgerError {
    #[error(transparent)]
    Journal(#[from] JournalError),
    #[error("decision {seq}: the status {status:?} is not one this version knows")]
    Status { seq: i64, status: String },
    #[error("decision {seq}: {source}")]
    Record { seq: i64, source: serde_json::Error },
    #[error("decision {seq}: its expiry {expires:?} is not a time: {source}")]
    Expires { seq: i64, expires: String, source: chrono::ParseError },
    #[error("ledger record: {0}")]
    Json(#[from] serde_json::Error),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Proposed,
    Accepted,
    Rejected,
    Expired,
}

impl Status {
    pub const ALL: [Status; 4] = [Status::Proposed, Status::Accepted, Status::Rejected, Status::Expired];

    pub fn name(self) -> &'static str {
        match self {
            Status::Proposed => "proposed",
            Status::Accepted => "accepted",
            Status::Rejected => "rejected",
            Status::Expired => "expired",
        }
    }

    fn parse(s: &str) -> Option<Self> {
        Status::ALL.into_iter().find(|status| status.name() == s)
    }

    /// A person decided: later advisor runs do not re-propose or expire it.
    pub fn is_decided(self) -> bool {
        matches!(self, Status::Accepted | Status::Rejected)
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
    journal: Journal,
    site: String,
    /// What stopped the advisor's latest run, in memory: the retained recommendations, the
    /// local page and `/metrics` read it where they read the recommendations. After a restart
    /// it is empty until the advisor's first run.
    blocked: Vec<Blocker>,
    /// Where the latest run read each zone's occupancy, in memory as `blocked` is.
    occupancy: Vec<ZoneOccupancy>,
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

/// What a subject's state is read from in its stored record.
#[derive(Debug, Deserialize)]
struct Decided {
    expires: Option<String>,
    recommendation: serde_json::Value,
}

impl Ledger {
    pub fn open(path: &Path, site: &str) -> Result<Self, LedgerError> {
        Ok(Self {
            journal: Journal::open(path, journal::DECISIONS)?,
            site: site.to_string(),
            blocked: Vec::new(),
            occupancy: Vec::new(),
        })
    }

    /// Counts the records this version cannot read in the agent's counters too.
    pub fn counting(self, stats: Arc<Stats>) -> Self {
        Self { journal: self.journal.counting(stats), ..self }
    }

    /// Appends a record; returns it as published.
    pub fn append(&mut self, recommendation: &Recommendation, entry: Entry) -> Result<Record, LedgerError> {
        let site = self.site.clone();
        let subject = recommendation.id.as_str();
        Ok(self.journal.append(entry.ts_ms, entry.status.name(), Some(subject), |seq| Record {
            schema: "sobre.decision/1",
            id: format!("{subject}/{seq}"),
            site,
            ts: crate::clock::iso(entry.ts_ms),
            kind: "recommendation",
            subject: subject.to_string(),
            status: entry.status,
            by: entry.by.map(str::to_string),
            note: entry.note.map(str::to_string),
            expires: entry.expires_ms.map(crate::clock::iso),
            recommendation: recommendation.clone(),
        })?)
    }

    /// Every subject's latest state, newest first. A subject whose latest record this version
    /// cannot read is left out (and counted).
    pub fn current(&self) -> Result<Vec<Current>, LedgerError> {
        Ok(self.journal.latest(&[])?.iter().filter_map(|stored| self.journal.read(stored, current)).collect())
    }

    /// The records, oldest first (the local page's ledger table).
    pub fn records(&self, limit: usize) -> Result<Vec<serde_json::Value>, LedgerError> {
        Ok(self.journal.records(limit)?)
    }

    /// What stops the advisor, as its latest run found.
    pub fn blocked(&self) -> &[Blocker] {
        &self.blocked
    }

    pub fn set_blocked(&mut self, blocked: Vec<Blocker>) {
        self.blocked = blocked;
    }

    /// Where the latest run read each zone's occupancy.
    pub fn occupancy(&self) -> &[ZoneOccupancy] {
        &self.occupancy
    }

    pub fn set_occupancy(&mut self, occupancy: Vec<ZoneOccupancy>) {
        self.occupancy = occupancy;
    }

    /// Records found unreadable so far.
    pub fn unreadable(&self) -> u64 {
        self.journal.unreadable()
    }
}

/// A subject's state from its latest stored record.
fn current(stored: &Stored) -> Result<Current, LedgerError> {
    let seq = stored.seq;
    let status = Status::parse(&stored.kind).ok_or_else(|| LedgerError::Status { seq, status: stored.kind.clone() })?;
    let decided: Decided = stored.record().map_err(|source| LedgerError::Record { seq, source })?;
    let expires_ms = match decided.expires {
        Some(expires) => Some(
            chrono::DateTime::parse_from_rfc3339(&expires)
                .map_err(|source| LedgerError::Expires { seq, expires: expires.clone(), source })?
                .timestamp_millis(),
        ),
        None => None,
    };
    Ok(Current {
        subject: stored.subject.clone().unwrap_or_default(),
        status,
        ts_ms: stored.ts_ms,
        expires_ms,
        recommendation: decided.recommendation,
    })
}

#[cfg(test)]
mod tests;
