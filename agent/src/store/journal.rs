//! The journal: one append-only shape for the records the agent must be able to explain and
//! restore from, the decision ledger (`decisions`) and the control log (`control_log`). A row
//! is a sequence number, the agent time, the record's kind, what it is about (a recommendation,
//! a zone, or nothing in particular) and the record as it was published. Rows are never
//! rewritten; retention deletes only records a newer one of the same kind about the same
//! subject supersedes ([`prune`]), so a subject's latest state survives any retention.
//!
//! A record this version cannot read (another version wrote it) costs that record, never the
//! rest of a read: it is skipped, counted once (`sobre_records_unreadable_total`), and the
//! first of each journal is logged.

use super::StoreError;
use crate::stats::Stats;
use rusqlite::{params, params_from_iter, Connection, TransactionBehavior};
use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::Value;
use std::collections::BTreeSet;
use std::fmt::Display;
use std::path::Path;
use std::sync::{Arc, Mutex, PoisonError};

/// One journal table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Book {
    table: &'static str,
    /// What people call it, in logs and errors.
    name: &'static str,
}

pub const DECISIONS: Book = Book { table: "decisions", name: "decision ledger" };
pub const CONTROL: Book = Book { table: "control_log", name: "control log" };

#[derive(Debug, thiserror::Error)]
pub enum JournalError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("{book}: {source}")]
    Sql { book: &'static str, source: rusqlite::Error },
    #[error("{book}: cannot write a {kind} record: {source}")]
    Json { book: &'static str, kind: String, source: serde_json::Error },
}

/// A record as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct Stored {
    pub seq: i64,
    pub ts_ms: i64,
    pub kind: String,
    pub subject: Option<String>,
    /// The record as published (JSON).
    pub record: String,
}

impl Stored {
    /// The whole record, in the shape `T`.
    pub fn record<T: DeserializeOwned>(&self) -> Result<T, serde_json::Error> {
        serde_json::from_str(&self.record)
    }

    /// The record's `detail`, in the shape `T`.
    pub fn detail<T: DeserializeOwned>(&self) -> Result<T, serde_json::Error> {
        serde_json::from_str::<Value>(&self.record).and_then(|mut r| serde_json::from_value(r["detail"].take()))
    }
}

#[derive(Debug)]
pub struct Journal {
    conn: Connection,
    book: Book,
    /// The records found unreadable so far: each is counted once however often it is read.
    skipped: Mutex<BTreeSet<i64>>,
    stats: Option<Arc<Stats>>,
}

const COLUMNS: &str = "seq, ts, kind, subject, record";

fn stored(row: &rusqlite::Row) -> rusqlite::Result<Stored> {
    Ok(Stored { seq: row.get(0)?, ts_ms: row.get(1)?, kind: row.get(2)?, subject: row.get(3)?, record: row.get(4)? })
}

/// `?1, ?2, …` for `n` values.
fn placeholders(n: usize) -> String {
    (1..=n).map(|i| format!("?{i}")).collect::<Vec<_>>().join(", ")
}

impl Journal {
    /// Opens `book` in the store's file (its schema migrated by [`super::connect`]).
    pub fn open(path: &Path, book: Book) -> Result<Self, JournalError> {
        Ok(Self { conn: super::connect(path)?, book, skipped: Mutex::default(), stats: None })
    }

    /// Counts the records found unreadable in the agent's counters too.
    pub fn counting(mut self, stats: Arc<Stats>) -> Self {
        self.stats = Some(stats);
        self
    }

    fn sql(&self) -> impl Fn(rusqlite::Error) -> JournalError {
        let book = self.book.name;
        move |source| JournalError::Sql { book, source }
    }

    /// Appends the record `build` makes from its sequence number (records name themselves by
    /// it); returns the record as stored. Sequence numbers are never reused, even after
    /// retention deleted the newest rows of a kind.
    pub fn append<R: Serialize>(
        &mut self,
        ts_ms: i64,
        kind: &str,
        subject: Option<&str>,
        build: impl FnOnce(i64) -> R,
    ) -> Result<R, JournalError> {
        let (sql, table, name) = (self.sql(), self.book.table, self.book.name);
        let tx = self.conn.transaction_with_behavior(TransactionBehavior::Immediate).map_err(&sql)?;
        let seq: i64 = tx
            .query_row(
                &format!(
                    "SELECT max(COALESCE((SELECT seq FROM sqlite_sequence WHERE name = ?1), 0),
                                COALESCE((SELECT max(seq) FROM {table}), 0)) + 1"
                ),
                [table],
                |r| r.get(0),
            )
            .map_err(&sql)?;
        let record = build(seq);
        let text = serde_json::to_string(&record).map_err(|source| JournalError::Json {
            book: name,
            kind: kind.to_string(),
            source,
        })?;
        tx.execute(
            &format!("INSERT INTO {table} ({COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5)"),
            params![seq, ts_ms, kind, subject, text],
        )
        .map_err(&sql)?;
        tx.commit().map_err(&sql)?;
        Ok(record)
    }

    /// Each subject's newest record among `kinds` (of any kind when `kinds` is empty), newest
    /// first. Records about no subject are left out.
    pub fn latest(&self, kinds: &[&str]) -> Result<Vec<Stored>, JournalError> {
        let table = self.book.table;
        let of_kinds =
            if kinds.is_empty() { String::new() } else { format!("AND kind IN ({})", placeholders(kinds.len())) };
        let mut stmt = self
            .conn
            .prepare(&format!(
                "SELECT {COLUMNS} FROM {table} WHERE seq IN
                   (SELECT max(seq) FROM {table} WHERE subject IS NOT NULL {of_kinds} GROUP BY subject)
                 ORDER BY seq DESC"
            ))
            .map_err(self.sql())?;
        let rows = stmt.query_map(params_from_iter(kinds), stored).map_err(self.sql())?;
        rows.collect::<Result<_, _>>().map_err(self.sql())
    }

    /// The newest record of `kind` that `parse` can read: one this version cannot read must
    /// not hide the one before it (the stop switch must survive a record another version wrote).
    pub fn newest<T, E: Display>(
        &self,
        kind: &str,
        parse: impl Fn(&Stored) -> Result<T, E>,
    ) -> Result<Option<T>, JournalError> {
        let mut stmt = self
            .conn
            .prepare(&format!("SELECT {COLUMNS} FROM {} WHERE kind = ?1 ORDER BY seq DESC", self.book.table))
            .map_err(self.sql())?;
        let rows = stmt.query_map([kind], stored).map_err(self.sql())?;
        for row in rows {
            if let Some(found) = self.read(&row.map_err(self.sql())?, &parse) {
                return Ok(Some(found));
            }
        }
        Ok(None)
    }

    /// Every record among `kinds`, oldest first.
    pub fn scan(&self, kinds: &[&str]) -> Result<Vec<Stored>, JournalError> {
        let mut stmt = self
            .conn
            .prepare(&format!(
                "SELECT {COLUMNS} FROM {} WHERE kind IN ({}) ORDER BY seq",
                self.book.table,
                placeholders(kinds.len())
            ))
            .map_err(self.sql())?;
        let rows = stmt.query_map(params_from_iter(kinds), stored).map_err(self.sql())?;
        rows.collect::<Result<_, _>>().map_err(self.sql())
    }

    /// Records of `kind` in `[from_ms, to_ms)` of agent time.
    pub fn count(&self, kind: &str, from_ms: i64, to_ms: i64) -> Result<u64, JournalError> {
        self.conn
            .query_row(
                &format!("SELECT count(*) FROM {} WHERE kind = ?1 AND ts >= ?2 AND ts < ?3", self.book.table),
                params![kind, from_ms, to_ms],
                |r| r.get(0),
            )
            .map_err(self.sql())
    }

    /// The newest `limit` records as published, oldest first.
    pub fn records(&self, limit: usize) -> Result<Vec<Value>, JournalError> {
        let mut stmt = self
            .conn
            .prepare(&format!("SELECT {COLUMNS} FROM {} ORDER BY seq DESC LIMIT ?1", self.book.table))
            .map_err(self.sql())?;
        let rows = stmt.query_map([i64::try_from(limit).unwrap_or(i64::MAX)], stored).map_err(self.sql())?;
        let mut out = Vec::new();
        for row in rows {
            if let Some(record) = self.read(&row.map_err(self.sql())?, Stored::record::<Value>) {
                out.push(record);
            }
        }
        out.reverse();
        Ok(out)
    }

    /// `parse(stored)`, or `None` when this version cannot read the record: counted once,
    /// the journal's first logged.
    pub fn read<T, E: Display>(&self, stored: &Stored, parse: impl FnOnce(&Stored) -> Result<T, E>) -> Option<T> {
        match parse(stored) {
            Ok(found) => Some(found),
            Err(e) => {
                let mut skipped = self.skipped.lock().unwrap_or_else(PoisonError::into_inner);
                let first = skipped.is_empty();
                if skipped.insert(stored.seq) {
                    if let Some(stats) = &self.stats {
                        Stats::add(&stats.records_unreadable, 1);
                    }
                    if first {
                        tracing::warn!(
                            journal = self.book.name,
                            seq = stored.seq,
                            kind = stored.kind,
                            error = %e,
                            "a stored record this version cannot read is skipped (later ones are only counted, in sobre_records_unreadable_total)"
                        );
                    } else {
                        tracing::debug!(journal = self.book.name, seq = stored.seq, kind = stored.kind, error = %e, "unreadable record skipped");
                    }
                }
                None
            }
        }
    }

    /// Records found unreadable so far, each once.
    pub fn unreadable(&self) -> u64 {
        self.skipped.lock().unwrap_or_else(PoisonError::into_inner).len() as u64
    }
}

/// Deletes the records of `book` older than `before_ms` (agent time) that a newer record of the
/// same kind about the same subject supersedes. What a restart restores (a subject's latest
/// status, the override in force or its end, the last mode set) is the newest of its kind, so
/// it is never among them.
pub(super) fn prune(conn: &Connection, book: Book, before_ms: i64) -> rusqlite::Result<u64> {
    let table = book.table;
    let deleted = conn.execute(
        &format!(
            "DELETE FROM {table} WHERE ts < ?1
               AND seq NOT IN (SELECT max(seq) FROM {table} GROUP BY kind, subject)"
        ),
        [before_ms],
    )?;
    Ok(deleted as u64)
}

#[cfg(test)]
mod tests;
