//! The durable outbox: the source of truth for what must reach the central broker. A report is
//! written here before anything is sent, and deleted only when the broker acknowledges it. Its
//! id is stable, so enqueuing a report twice, or after it was delivered, does nothing. Past the
//! operator's budget (rows or bytes) the oldest report of the lowest priority is dropped, and
//! counted per kind. Its tables are the store's (created by its migrations, pruned by its
//! retention).

use crate::config::Budget;
use crate::store::StoreError;
use rusqlite::{params, Connection, OptionalExtension};
use std::path::Path;

/// What the budget drops first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Priority {
    /// Health and footprint: the next one says as much.
    Low = 0,
    /// Daily savings, flexibility events.
    Normal = 1,
    /// Monthly savings, the AI register: the city's record.
    High = 2,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Report {
    pub id: String,
    pub kind: String,
    pub priority: Priority,
    pub topic: String,
    pub payload: Vec<u8>,
    pub created_ms: i64,
}

/// A report taken from the outbox to send.
#[derive(Debug, Clone, PartialEq)]
pub struct Queued {
    pub seq: i64,
    pub id: String,
    pub topic: String,
    pub payload: Vec<u8>,
}

#[derive(Debug, thiserror::Error)]
pub enum OutboxError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("outbox: {0}")]
    Sql(#[from] rusqlite::Error),
    #[error("outbox: {0}")]
    Unfinished(#[from] crate::shared::Unfinished),
}

#[derive(Debug)]
pub struct Outbox {
    conn: Connection,
    budget: Budget,
    /// Drops are counted in `outbox_drops`; the log says so once a minute at most.
    quiet: crate::quiet::Quiet,
}

impl Outbox {
    /// Opens the outbox in the store's SQLite file (its own connection; WAL lets the writer
    /// and the outbox work side by side).
    pub fn open(path: &Path, budget: Budget) -> Result<Self, OutboxError> {
        let conn = crate::store::connect(path)?;
        Ok(Self { conn, budget, quiet: crate::quiet::Quiet::new(std::time::Duration::from_secs(60)) })
    }

    /// A write transaction that takes the write lock at once: a deferred one that reads first
    /// fails outright (SQLITE_BUSY, no retry) when the store's writer committed meanwhile.
    fn write(&mut self) -> Result<rusqlite::Transaction<'_>, OutboxError> {
        Ok(self.conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?)
    }

    /// Stores a report to send. Returns false when it is already queued or was delivered.
    pub fn enqueue(&mut self, report: &Report) -> Result<bool, OutboxError> {
        let budget = self.budget;
        let tx = self.write()?;
        let added = insert(&tx, report)?;
        let dropped = if added { enforce(&tx, budget)? } else { Dropped::default() };
        tx.commit()?;
        self.say(dropped);
        Ok(added)
    }

    /// The oldest queued report with `seq` in (`after`, `up_to`].
    pub fn next(&self, after: i64, up_to: i64) -> Result<Option<Queued>, OutboxError> {
        Ok(self
            .conn
            .query_row(
                "SELECT seq, id, topic, payload FROM outbox WHERE seq > ?1 AND seq <= ?2 ORDER BY seq LIMIT 1",
                [after, up_to],
                |r| Ok(Queued { seq: r.get(0)?, id: r.get(1)?, topic: r.get(2)?, payload: r.get(3)? }),
            )
            .optional()?)
    }

    /// The newest sequence number handed out so far (0 when none).
    pub fn newest_seq(&self) -> Result<i64, OutboxError> {
        Ok(self.conn.query_row("SELECT COALESCE(MAX(seq), 0) FROM outbox", [], |r| r.get(0))?)
    }

    /// The broker acknowledged this report: forget it, and remember its id.
    pub fn acknowledge(&mut self, seq: i64, acked_ms: i64) -> Result<(), OutboxError> {
        let tx = self.write()?;
        let id: Option<String> =
            tx.query_row("SELECT id FROM outbox WHERE seq = ?1", [seq], |r| r.get(0)).optional()?;
        if let Some(id) = id {
            tx.execute("INSERT OR IGNORE INTO outbox_delivered (id, acked_ms) VALUES (?1, ?2)", params![id, acked_ms])?;
            tx.execute("DELETE FROM outbox WHERE seq = ?1", [seq])?;
        }
        tx.commit()?;
        Ok(())
    }

    /// (rows, bytes) waiting.
    pub fn depth(&self) -> Result<(u64, u64), OutboxError> {
        Ok(self.conn.query_row("SELECT count(*), COALESCE(sum(length(payload)), 0) FROM outbox", [], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })?)
    }

    /// (kind, reports dropped) for every kind that lost any.
    pub fn drops(&self) -> Result<Vec<(String, u64)>, OutboxError> {
        let mut stmt = self.conn.prepare("SELECT kind, count FROM outbox_drops ORDER BY kind")?;
        let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Where a report series got to.
    pub fn progress(&self, series: &str) -> Result<Option<i64>, OutboxError> {
        Ok(self
            .conn
            .query_row("SELECT next_ms FROM reporter_state WHERE series = ?1", [series], |r| r.get(0))
            .optional()?)
    }

    /// Enqueues a period's reports and records the series' progress in one transaction, so a
    /// crash between the two can neither lose nor repeat a period.
    pub fn enqueue_period(&mut self, reports: &[Report], series: &str, next_ms: i64) -> Result<usize, OutboxError> {
        let budget = self.budget;
        let tx = self.write()?;
        let mut added = 0;
        for report in reports {
            added += usize::from(insert(&tx, report)?);
        }
        tx.execute(
            "INSERT INTO reporter_state (series, next_ms) VALUES (?1, ?2)
             ON CONFLICT(series) DO UPDATE SET next_ms = excluded.next_ms",
            params![series, next_ms],
        )?;
        let dropped = if added > 0 { enforce(&tx, budget)? } else { Dropped::default() };
        tx.commit()?;
        self.say(dropped);
        Ok(added)
    }

    /// Logs what `enforce` dropped, once a minute at most.
    fn say(&self, dropped: Dropped) {
        let Some((kind, id)) = dropped.last else { return };
        if let Some(held) = self.quiet.allow() {
            tracing::warn!(
                kind,
                id,
                dropped = dropped.count,
                warnings_held_back = held,
                "outbox over budget: dropped the oldest low-priority reports (each counted in outbox_drops)"
            );
        }
    }
}

/// What `enforce` dropped: how many, and the last one's kind and id.
#[derive(Debug, Default)]
struct Dropped {
    count: u64,
    last: Option<(String, String)>,
}

/// Adds a report unless it is queued already or was delivered.
fn insert(tx: &rusqlite::Transaction, report: &Report) -> Result<bool, OutboxError> {
    let delivered: bool =
        tx.query_row("SELECT EXISTS (SELECT 1 FROM outbox_delivered WHERE id = ?1)", [&report.id], |r| r.get(0))?;
    Ok(!delivered
        && tx.execute(
            "INSERT OR IGNORE INTO outbox (id, kind, priority, topic, payload, created_ms) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            params![report.id, report.kind, report.priority as i64, report.topic, report.payload, report.created_ms],
        )? == 1)
}

/// Drops the oldest reports of the lowest priority until the outbox fits its budget.
fn enforce(tx: &rusqlite::Transaction, budget: Budget) -> Result<Dropped, OutboxError> {
    let mut dropped = Dropped::default();
    loop {
        let (rows, bytes): (u64, u64) =
            tx.query_row("SELECT count(*), COALESCE(sum(length(payload)), 0) FROM outbox", [], |r| {
                Ok((r.get(0)?, r.get(1)?))
            })?;
        if rows <= budget.rows && bytes <= budget.bytes {
            return Ok(dropped);
        }
        let victim: Option<(i64, String, String)> = tx
            .query_row("SELECT seq, id, kind FROM outbox ORDER BY priority, seq LIMIT 1", [], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?))
            })
            .optional()?;
        let Some((seq, id, kind)) = victim else { return Ok(dropped) };
        tx.execute("DELETE FROM outbox WHERE seq = ?1", [seq])?;
        tx.execute(
            "INSERT INTO outbox_drops (kind, count, last_id) VALUES (?1, 1, ?2)
             ON CONFLICT(kind) DO UPDATE SET count = count + 1, last_id = excluded.last_id",
            params![kind, id],
        )?;
        dropped.count += 1;
        dropped.last = Some((kind, id));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report(id: &str, priority: Priority, bytes: usize) -> Report {
        Report {
            id: id.into(),
            kind: format!("{priority:?}").to_lowercase(),
            priority,
            topic: format!("city/site/reports/{id}"),
            payload: vec![b'x'; bytes],
            created_ms: 0,
        }
    }

    fn outbox(rows: u64, bytes: u64) -> (tempfile::TempDir, Outbox) {
        let dir = tempfile::tempdir().expect("tempdir");
        let outbox = Outbox::open(&dir.path().join("o.db"), Budget { rows, bytes }).expect("opens");
        (dir, outbox)
    }

    #[test]
    fn a_report_is_queued_once_and_never_again_after_delivery() {
        let (_dir, mut o) = outbox(100, 1 << 20);
        assert!(o.enqueue(&report("a", Priority::Normal, 10)).expect("enqueue"));
        assert!(!o.enqueue(&report("a", Priority::Normal, 10)).expect("enqueue"), "same id: ignored");
        let q = o.next(0, i64::MAX).expect("next").expect("queued");
        assert_eq!(q.id, "a");
        o.acknowledge(q.seq, 1).expect("ack");
        assert_eq!(o.depth().expect("depth"), (0, 0));
        assert!(!o.enqueue(&report("a", Priority::Normal, 10)).expect("enqueue"), "delivered: not again");
    }

    #[test]
    fn over_budget_the_oldest_lowest_priority_reports_are_dropped_and_counted() {
        // Given a budget of three reports
        let (_dir, mut o) = outbox(3, 1 << 20);
        for (id, p) in [("m1", Priority::High), ("h1", Priority::Low), ("d1", Priority::Normal), ("h2", Priority::Low)]
        {
            o.enqueue(&report(id, p, 10)).expect("enqueue");
        }
        // When two more arrive
        o.enqueue(&report("d2", Priority::Normal, 10)).expect("enqueue");
        o.enqueue(&report("h3", Priority::Low, 10)).expect("enqueue");
        // Then the low-priority ones went first, oldest first, and every drop is counted
        let mut left = Vec::new();
        let mut after = 0;
        while let Some(q) = o.next(after, i64::MAX).expect("next") {
            after = q.seq;
            left.push(q.id);
        }
        assert_eq!(left, ["m1", "d1", "d2"]);
        assert_eq!(o.drops().expect("drops"), [("low".to_string(), 3)]);
        // And a byte budget works the same way
        let (_dir, mut small) = outbox(100, 25);
        for id in ["a", "b", "c"] {
            small.enqueue(&report(id, Priority::Normal, 10)).expect("enqueue");
        }
        assert_eq!(small.depth().expect("depth"), (2, 20));
    }

    #[test]
    fn a_period_and_the_progress_of_its_series_commit_together() {
        let (_dir, mut o) = outbox(100, 1 << 20);
        assert_eq!(o.progress("health").expect("progress"), None);
        let added = o.enqueue_period(&[report("x", Priority::Low, 5), report("y", Priority::Low, 5)], "health", 42);
        assert_eq!(added.expect("enqueued"), 2);
        assert_eq!(o.progress("health").expect("progress"), Some(42));
        assert_eq!(o.newest_seq().expect("seq"), 2);
    }
}
