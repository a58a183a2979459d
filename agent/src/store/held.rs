//! Rollup rows held in memory between writes. At a building's real rate each point reports
//! once every few seconds, so every batch touched four rollup rows (quarter-hour, hour, day,
//! month) per reading, and those updates were most of a commit's work. The writer may instead
//! keep what each point adds to its newest bucket of each resolution (its *open* bucket) and
//! write it:
//! - when a later bucket of that point and resolution opens (the row is then complete);
//! - when the newest stored reading of any point is past the bucket's end, so a period that
//!   is over, as readers judge it by the stored readings, is in the rollups in full;
//! - when `every` has passed since they were last all written (the open periods' rows lag the
//!   readings by at most that); and when the writer stops.
//!
//! Readings are committed as before. Whatever is held is also named, in the commit that opens
//! its bucket, in `rollups_held`; after a crash the next writer rebuilds those rows before it
//! writes: quarter-hours from the readings, hours and days from the quarter-hours, months from
//! the days. Energy points are never held (an interval's energy is spread over the buckets it
//! covers, which the readings of one bucket do not tell).

use super::rollup::{Calendar, Resolution};
use super::{Acc, Store, StoreError};
use rusqlite::{params, CachedStatement, Transaction, TransactionBehavior};
use std::collections::HashMap;
use std::time::{Duration, Instant};

const RESOLUTIONS: usize = Resolution::ALL.len();

#[derive(Debug)]
pub(super) struct Held {
    /// None: nothing is held, every commit writes every row its readings touch.
    every: Option<Duration>,
    written_at: Instant,
    /// Event time of the newest reading stored since holding began.
    through_ms: i64,
    /// By `point * RESOLUTIONS + resolution`: the open bucket and what is not written of it.
    open: Vec<Option<Open>>,
    /// The slots a batch changed, as they were: put back when its commit fails.
    undo: Vec<(usize, Option<Open>)>,
}

/// An open bucket of a non-energy point and the sums of what is not written of it: the room
/// of 4 × points of these is held for good, so no energy fields.
#[derive(Debug, Clone, Copy)]
struct Open {
    start_ms: i64,
    end_ms: i64,
    n: i64,
    sum: f64,
    min: f64,
    max: f64,
}

impl Open {
    fn new(start_ms: i64, end_ms: i64, acc: &Acc) -> Open {
        Open { start_ms, end_ms, n: acc.n, sum: acc.sum, min: acc.min, max: acc.max }
    }

    fn merge(&mut self, acc: &Acc) {
        self.n += acc.n;
        self.sum += acc.sum;
        self.min = self.min.min(acc.min);
        self.max = self.max.max(acc.max);
    }

    fn pending(&self) -> Acc {
        Acc { n: self.n, sum: self.sum, min: self.min, max: self.max, ..Acc::EMPTY }
    }

    fn written(&mut self) {
        *self = Open::new(self.start_ms, self.end_ms, &Acc::EMPTY);
    }

    /// Whether what is held of it is written by a batch after which `due` holds.
    fn is_due(&self, due: Due) -> bool {
        self.n > 0 && (due.all || self.end_ms <= due.through_ms)
    }
}

/// Which held rows a batch writes: every one, or those of buckets that end by `through_ms`.
#[derive(Debug, Clone, Copy)]
pub(super) struct Due {
    all: bool,
    through_ms: i64,
}

impl Default for Held {
    fn default() -> Self {
        Held { every: None, written_at: Instant::now(), through_ms: i64::MIN, open: Vec::new(), undo: Vec::new() }
    }
}

/// The statements a batch writes rollup rows with.
pub(super) struct Rows<'t> {
    pub add: CachedStatement<'t>,
    pub mark: CachedStatement<'t>,
    pub label: String,
}

impl Rows<'_> {
    pub fn prepare<'t>(tx: &'t Transaction<'_>) -> rusqlite::Result<Rows<'t>> {
        Ok(Rows {
            add: tx.prepare_cached(
                "INSERT INTO rollups (point, resolution, bucket, label, n, sum, min, max, energy_kwh, covered_s)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)
                 ON CONFLICT(point, resolution, bucket) DO UPDATE SET
                   n = n + excluded.n,
                   sum = sum + excluded.sum,
                   min = min(min, excluded.min),
                   max = max(max, excluded.max),
                   energy_kwh = energy_kwh + excluded.energy_kwh,
                   covered_s = covered_s + excluded.covered_s",
            )?,
            mark: tx.prepare_cached(
                "INSERT OR REPLACE INTO rollups_held (point, resolution, bucket) VALUES (?1, ?2, ?3)",
            )?,
            label: String::new(),
        })
    }
}

/// What a batch needs to know of the configured points, by point index.
pub(super) struct Series<'a> {
    pub calendar: &'a Calendar,
    pub keys: &'a [i64],
    pub energy: &'a [bool],
}

impl Series<'_> {
    /// Adds `acc` to the row of `point`'s bucket at `bucket`.
    pub fn add_row(
        &self,
        rows: &mut Rows<'_>,
        point: usize,
        resolution: Resolution,
        bucket: i64,
        acc: &Acc,
    ) -> rusqlite::Result<()> {
        let (sum, min, max, kwh, covered) = if self.energy[point] {
            (None, None, None, Some(acc.kwh), Some(acc.covered_s))
        } else {
            (Some(acc.sum), Some(acc.min), Some(acc.max), None, None)
        };
        self.calendar.write_label(resolution, bucket, &mut rows.label);
        let key = self.keys[point];
        rows.add.execute(params![key, resolution.name(), bucket, rows.label, acc.n, sum, min, max, kwh, covered])?;
        Ok(())
    }
}

impl Held {
    /// Writes or holds a batch's contribution to one bucket, inside the batch's transaction.
    pub fn roll(
        &mut self,
        series: &Series<'_>,
        rows: &mut Rows<'_>,
        (point, resolution, bucket): (usize, Resolution, i64),
        acc: &Acc,
    ) -> rusqlite::Result<()> {
        if self.every.is_none() || series.energy[point] {
            return series.add_row(rows, point, resolution, bucket, acc);
        }
        let slot = point * RESOLUTIONS + resolution as usize;
        let was = self.open[slot];
        match was {
            Some(open) if bucket < open.start_ms => return series.add_row(rows, point, resolution, bucket, acc),
            Some(mut open) if bucket == open.start_ms => {
                open.merge(acc);
                self.open[slot] = Some(open);
            }
            _ => {
                // A later bucket opens: the one it replaces is complete.
                if let Some(open) = was.filter(|o| o.n > 0) {
                    series.add_row(rows, point, resolution, open.start_ms, &open.pending())?;
                }
                rows.mark.execute(params![series.keys[point], resolution.name(), bucket])?;
                let end_ms = series.calendar.end(resolution, bucket);
                self.open[slot] = Some(Open::new(bucket, end_ms, acc));
            }
        }
        self.undo.push((slot, was));
        Ok(())
    }

    /// Writes what is held of buckets that are over (the newest stored reading, `through_ms`,
    /// is past their end), or of every bucket once `every` has passed. What it wrote is
    /// forgotten once the batch commits ([`Held::committed`]).
    pub fn write_due(&mut self, series: &Series<'_>, rows: &mut Rows<'_>, through_ms: i64) -> rusqlite::Result<Due> {
        let Some(every) = self.every else { return Ok(Due { all: true, through_ms }) };
        let due = Due { all: self.written_at.elapsed() >= every, through_ms: through_ms.max(self.through_ms) };
        self.write(series, rows, due)?;
        Ok(due)
    }

    /// Adds to their rows what is held of the buckets `due` names.
    fn write(&self, series: &Series<'_>, rows: &mut Rows<'_>, due: Due) -> rusqlite::Result<()> {
        for (slot, open) in self.open.iter().enumerate() {
            let Some(open) = open.filter(|o| o.is_due(due)) else { continue };
            let (point, resolution) = (slot / RESOLUTIONS, Resolution::ALL[slot % RESOLUTIONS]);
            series.add_row(rows, point, resolution, open.start_ms, &open.pending())?;
        }
        Ok(())
    }

    /// After the batch's commit: what it held stays held, what it wrote is forgotten.
    pub fn committed(&mut self, due: Due) {
        self.undo.clear();
        if self.every.is_none() {
            return;
        }
        for open in self.open.iter_mut().flatten().filter(|o| o.is_due(due)) {
            open.written();
        }
        self.through_ms = self.through_ms.max(due.through_ms);
        if due.all {
            self.written_at = Instant::now();
        }
    }

    /// After a failed commit: the slots are as before the batch, which is tried again whole.
    pub fn rolled_back(&mut self) {
        while let Some((slot, was)) = self.undo.pop() {
            self.open[slot] = was;
        }
    }
}

impl Store {
    /// From now on, rows of the open buckets are held and written at most every `every` (see
    /// the module's documentation). First rebuilds the rows a writer that crashed held part
    /// of. Only the store's one writer may hold: another connection rebuilding a row while the
    /// writer holds part of it would have that part counted twice. Returns the rows rebuilt.
    pub fn hold_rollups(&mut self, every: Duration) -> Result<usize, StoreError> {
        let rebuilt = self.rebuild_held()?;
        self.held = Held { every: Some(every), open: vec![None; self.keys.len() * RESOLUTIONS], ..Held::default() };
        Ok(rebuilt)
    }

    /// Writes everything held; the rollups then say all the readings do. The writer's last act.
    pub fn write_held(&mut self) -> Result<(), StoreError> {
        if self.held.every.is_none() {
            return Ok(());
        }
        let tx = self.conn.unchecked_transaction()?;
        {
            let mut rows = Rows::prepare(&tx)?;
            let series = Series { calendar: &self.calendar, keys: &self.keys, energy: &self.energy };
            self.held.write(&series, &mut rows, Due { all: true, through_ms: i64::MIN })?;
            tx.execute("DELETE FROM rollups_held", [])?;
        }
        tx.commit()?;
        self.held.open.iter_mut().for_each(|slot| *slot = None);
        self.held.written_at = Instant::now();
        Ok(())
    }

    /// Rebuilds every row `rollups_held` names, finer resolutions first (each is rebuilt from
    /// the one below it), and empties it.
    fn rebuild_held(&mut self) -> Result<usize, StoreError> {
        let tx = self.conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let mut marked: Vec<(i64, Resolution, i64)> = {
            let mut stmt = tx.prepare("SELECT point, resolution, bucket FROM rollups_held")?;
            let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get::<_, String>(1)?, r.get(2)?)))?;
            let mut marked = Vec::new();
            for row in rows {
                let (key, name, bucket) = row?;
                if let Some(resolution) = Resolution::named(&name) {
                    marked.push((key, resolution, bucket));
                }
            }
            marked
        };
        marked.sort_by_key(|&(key, resolution, bucket)| (resolution, bucket, key));
        // The readings are keyed by time: a quarter-hour's readings of every point are read
        // once, not once per point.
        let mut quarter: Option<(i64, HashMap<i64, Sums>)> = None;
        for &(key, resolution, bucket) in &marked {
            let end = self.calendar.end(resolution, bucket);
            let sums = match resolution {
                Resolution::QuarterHour => {
                    if quarter.as_ref().is_none_or(|(start, _)| *start != bucket) {
                        quarter = Some((bucket, quarter_sums(&tx, bucket, end)?));
                    }
                    quarter.as_ref().and_then(|(_, sums)| sums.get(&key).copied()).unwrap_or(NOTHING)
                }
                // A local day lies in one local month; days are kept far longer than quarter-hours.
                Resolution::Month => rollup_sums(&tx, key, Resolution::Day, bucket, end)?,
                Resolution::Hour | Resolution::Day => rollup_sums(&tx, key, Resolution::QuarterHour, bucket, end)?,
            };
            set_row(&tx, &self.calendar, key, resolution, bucket, sums)?;
        }
        tx.execute("DELETE FROM rollups_held", [])?;
        tx.commit()?;
        if !marked.is_empty() {
            tracing::info!(
                rows = marked.len(),
                "rollup rows held by a writer that stopped without writing them: rebuilt"
            );
        }
        Ok(marked.len())
    }
}

/// A bucket's count, sum, minimum and maximum of a non-energy point.
type Sums = (i64, Option<f64>, Option<f64>, Option<f64>);
const NOTHING: Sums = (0, None, None, None);

/// The sums of every point's readings in `[from, to)`, by point key.
fn quarter_sums(tx: &Transaction<'_>, from: i64, to: i64) -> rusqlite::Result<HashMap<i64, Sums>> {
    let mut stmt = tx.prepare(
        "SELECT point, count(*), sum(value), min(value), max(value) FROM readings WHERE ts >= ?1 AND ts < ?2 GROUP BY point",
    )?;
    let rows = stmt.query_map([from, to], |r| Ok((r.get(0)?, (r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))))?;
    rows.collect()
}

/// The sums of a point's rows of resolution `below` that start in `[from, to)`.
fn rollup_sums(tx: &Transaction<'_>, key: i64, below: Resolution, from: i64, to: i64) -> rusqlite::Result<Sums> {
    tx.query_row(
        "SELECT COALESCE(sum(n), 0), sum(sum), min(min), max(max) FROM rollups
         WHERE point = ?1 AND resolution = ?2 AND bucket >= ?3 AND bucket < ?4",
        params![key, below.name(), from, to],
        |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
    )
}

/// Sets the row of a non-energy point's bucket to `sums`; no row when they count nothing.
fn set_row(
    tx: &Transaction<'_>,
    calendar: &Calendar,
    key: i64,
    resolution: Resolution,
    bucket: i64,
    (n, sum, min, max): Sums,
) -> rusqlite::Result<()> {
    if n == 0 {
        tx.execute(
            "DELETE FROM rollups WHERE point = ?1 AND resolution = ?2 AND bucket = ?3",
            params![key, resolution.name(), bucket],
        )?;
        return Ok(());
    }
    let mut label = String::new();
    calendar.write_label(resolution, bucket, &mut label);
    tx.execute(
        "INSERT INTO rollups (point, resolution, bucket, label, n, sum, min, max) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)
         ON CONFLICT(point, resolution, bucket) DO UPDATE SET
           n = excluded.n, sum = excluded.sum, min = excluded.min, max = excluded.max",
        params![key, resolution.name(), bucket, label, n, sum, min, max],
    )?;
    Ok(())
}

#[cfg(test)]
mod tests;
