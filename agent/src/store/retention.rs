//! Retention for every table of the store, in one IMMEDIATE transaction the writer runs every
//! hour of agent time. Readings, availability and rollups go by their resolution's span; the
//! journals lose only superseded records (see [`journal::prune`]); delivered report ids go by
//! when the city acknowledged them, in wall time. The rest holds no history: points and
//! rejection counts (one row per point and reason), the outbox itself (bounded by its budget),
//! its drop counters (one per report kind, the running totals every health report carries) and
//! the reporter's progress (one row per series).

use super::journal::{self, Book};
use super::rollup::Resolution;
use super::{Store, StoreError};
use crate::config::{Retention, Span};
use rusqlite::{params, TransactionBehavior};

/// What one pass deleted.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Pruned {
    /// Readings, availability changes and rollups.
    pub series: u64,
    /// Superseded ledger and control records.
    pub records: u64,
    pub delivered: u64,
}

impl Pruned {
    pub fn total(self) -> u64 {
        self.series + self.records + self.delivered
    }
}

impl Store {
    /// Deletes what is kept no longer: relative to `now_ms` (agent time) for what the agent
    /// stamps with it, to `wall_ms` for delivered report ids.
    pub fn apply_retention(&mut self, now_ms: i64, wall_ms: i64, retention: &Retention) -> Result<Pruned, StoreError> {
        let before = |at: i64, span: Span| at.saturating_sub(span.as_millis_i64());
        let tx = self.conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let mut pruned = Pruned::default();
        // Readings are keyed by time first: the delete is the start of the key. Rollups are keyed
        // by point first: `point IN (points)` makes each delete a range of the key per point
        // instead of a scan of the whole table, hourly, which on a big building's store would
        // read all of it from the SD card.
        let raw_before = before(now_ms, retention.raw);
        pruned.series += tx.execute("DELETE FROM readings WHERE ts < ?1", [raw_before])? as u64;
        // A point whose readings are all gone has no newest reading either, as before.
        tx.execute("DELETE FROM newest_readings WHERE ts < ?1", [raw_before])?;
        pruned.series += tx.execute("DELETE FROM availability WHERE ts < ?1", [raw_before])? as u64;
        for (resolution, span) in [
            (Resolution::QuarterHour, retention.quarter_hour),
            (Resolution::Hour, retention.hourly),
            (Resolution::Day, retention.daily),
            (Resolution::Month, retention.monthly),
        ] {
            pruned.series += tx.execute(
                "DELETE FROM rollups WHERE point IN (SELECT key FROM points) AND resolution = ?1 AND bucket < ?2",
                params![resolution.name(), before(now_ms, span)],
            )? as u64;
        }
        let journals: [(Book, Span); 2] =
            [(journal::DECISIONS, retention.decisions), (journal::CONTROL, retention.control_log)];
        for (book, span) in journals {
            pruned.records += journal::prune(&tx, book, before(now_ms, span))?;
        }
        pruned.delivered += tx
            .execute("DELETE FROM outbox_delivered WHERE acked_ms < ?1", [before(wall_ms, retention.delivered)])?
            as u64;
        tx.commit()?;
        Ok(pruned)
    }
}
