//! The local store: SQLite in WAL mode, the one persistence layer. Every table of the file is
//! created by one migration path ([`migrate`]) under one schema version, whoever opens it
//! first; retention covers every table ([`retention`]). One writer (see [`writer`]) commits
//! batches of readings; the decision ledger and the control log append through one journal
//! type ([`journal`]); anyone may open a second connection to read.

mod held;
pub mod journal;
pub mod lock;
mod migrate;
mod retention;
mod sums;
pub use retention::Pruned;
pub mod rollup;
pub mod writer;

use crate::config::Point;
use crate::reading::Reason;
pub use crate::reading::Record;
use rollup::{Calendar, Resolution};
use rusqlite::{params, Connection, OptionalExtension};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
pub(crate) use sums::Acc;
use sums::Rollups;

pub use migrate::SCHEMA_VERSION;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("cannot open the store at {path}: {source}")]
    Open { path: PathBuf, source: rusqlite::Error },
    #[error(
        "the store at {path} has schema version {found}; this sobre knows up to version {SCHEMA_VERSION}: \
         a newer sobre wrote it, run that version (the store is left as it was)"
    )]
    Version { path: PathBuf, found: i64 },
    #[error("cannot bring the store at {path} to schema version {version}: {source} (the store is left as it was)")]
    Migrate { path: PathBuf, version: i64, source: rusqlite::Error },
    #[error("store query failed: {0}")]
    Sql(#[from] rusqlite::Error),
}

/// What one committed batch did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Written {
    pub readings: u64,
    /// Readings the store already held (older than the in-memory dedupe window).
    pub duplicates: u64,
    pub rejections: u64,
}

#[derive(Debug)]
pub struct Store {
    conn: Connection,
    path: PathBuf,
    calendar: Calendar,
    /// Point index in `Settings::points` → `points.key`.
    keys: Vec<i64>,
    ids: Vec<String>,
    energy: Vec<bool>,
    rollups: Rollups,
    held: held::Held,
    /// By point index: the newest `(ts, value)` the batch being written stores of each point.
    batch_newest: Vec<Option<(i64, f64)>>,
}

/// The newest stored reading of a point, to resume validation after a restart.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Newest {
    pub point: usize,
    pub ts_ms: i64,
    pub value: f64,
}

/// What arrived during a period.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Activity {
    pub points_seen: u64,
    pub readings: u64,
    pub rejections_total: u64,
}

/// WAL pages written before a commit copies them into the database file (SQLite's default is
/// 1,000). A page changed several times between two checkpoints is copied once: with 10,000 (a
/// WAL of at most about 40 MB) the rollup pages of a 1,000-point building, one or more per
/// point, are copied once for several of the writer's rewrites of them (README, "Disk writes").
const WAL_PAGES_BEFORE_CHECKPOINT: i64 = 10_000;

/// A connection to the store's SQLite file as every user of it needs one, with the schema
/// migrated to this binary's version (the first to open the file does it, see [`migrate`]):
/// WAL, so the writer, the outbox and the ledger work side by side; and a wait, not an error,
/// while another connection writes. NORMAL sync: a power cut may undo the last commits of these
/// connections (ledger, outbox, reports), never corrupt them; the readings' writer asks for
/// more ([`Store::sync`]).
pub fn connect(path: &Path) -> Result<Connection, StoreError> {
    let open = |source| StoreError::Open { path: path.to_path_buf(), source };
    create_private(path).map_err(|e| open(rusqlite::Error::ToSqlConversionFailure(Box::new(e))))?;
    let mut conn = Connection::open(path).map_err(open)?;
    conn.busy_timeout(std::time::Duration::from_secs(5)).map_err(open)?;
    // Before WAL is asked for: a store this binary cannot read is left exactly as it was.
    migrate::refuse_newer(&conn, path)?;
    conn.pragma_update(None, "journal_mode", "WAL").map_err(open)?;
    conn.pragma_update(None, "synchronous", "NORMAL").map_err(open)?;
    // 1 MiB of page cache per connection instead of SQLite's 2 (resident memory): the writer's
    // hot pages are the end of the readings table, a few; the rollup rows it writes, one page
    // per point at 1,000 points, would not fit in 2 MiB either and are read again from the
    // OS's page cache.
    conn.pragma_update(None, "cache_size", -1024).map_err(open)?;
    conn.pragma_update(None, "wal_autocheckpoint", WAL_PAGES_BEFORE_CHECKPOINT).map_err(open)?;
    migrate::migrate(&mut conn, path)?;
    Ok(conn)
}

/// The store holds the building's occupancy and the facility manager's decisions: readable by
/// the agent's user only. SQLite gives its -wal and -shm files the database file's mode.
fn create_private(path: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty() && !d.exists()) {
        std::fs::DirBuilder::new().recursive(true).mode(0o700).create(dir)?;
    }
    match std::fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(path) {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(e),
    }
}

impl Store {
    /// Opens (creating if needed) the store and registers the configured points.
    pub fn open(path: &Path, points: &[Point], tz: chrono_tz::Tz) -> Result<Store, StoreError> {
        // SQLite's foreign-key checks off (the bundled SQLite turns them on): each row the
        // writer adds names a point by the key `register` read from `points`, and nothing
        // deletes points, so the check, a lookup in `points` per row, could never fail; it cost
        // about 3,800 instructions per stored reading (README, "Less work per reading").
        // `PRAGMA foreign_key_check` finds no orphan in what a store writes (tested).
        let conn = connect(path)?;
        conn.pragma_update(None, "foreign_keys", "OFF")
            .map_err(|source| StoreError::Open { path: path.to_path_buf(), source })?;

        let mut store = Store {
            conn,
            path: path.to_path_buf(),
            calendar: Calendar { tz },
            keys: Vec::new(),
            ids: Vec::new(),
            energy: Vec::new(),
            rollups: Rollups::default(),
            held: held::Held::default(),
            batch_newest: Vec::new(),
        };
        store.register(points)?;
        Ok(store)
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// How the writer's commits reach the disk (`storage.sync`). A reading's commit is
    /// acknowledged to the broker, which then forgets it: with `full` the commit outlives a
    /// power cut, because the WAL is synced at every commit (once a batch).
    pub fn sync(&mut self, sync: crate::config::file::Sync) -> Result<(), StoreError> {
        self.conn.pragma_update(None, "synchronous", sync.pragma())?;
        Ok(())
    }

    /// The file's size in pages, free ones included.
    pub fn pages(&self) -> Result<u64, StoreError> {
        Ok(self.conn.pragma_query_value(None, "page_count", |r| r.get(0))?)
    }

    /// Commits that would grow the file past `pages` fail as a full disk would, until
    /// retention frees pages inside it (`storage.max_bytes`).
    pub fn limit_pages(&mut self, pages: u64) -> Result<(), StoreError> {
        self.conn.pragma_update(None, "max_page_count", pages)?;
        Ok(())
    }

    pub fn page_size(&self) -> Result<u64, StoreError> {
        Ok(self.conn.pragma_query_value(None, "page_size", |r| r.get(0))?)
    }

    fn register(&mut self, points: &[Point]) -> Result<(), StoreError> {
        let tx = self.conn.transaction()?;
        {
            // Prepared once: parsing the two statements again for each point was most of a
            // 1,000-point building's start-up.
            let mut upsert = tx.prepare(
                "INSERT INTO points (id, kind, unit, zone, fuel, topic, brick, tags) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)
                 ON CONFLICT(id) DO UPDATE SET kind = excluded.kind, unit = excluded.unit, zone = excluded.zone,
                   fuel = excluded.fuel, topic = excluded.topic, brick = excluded.brick, tags = excluded.tags",
            )?;
            let mut key_of = tx.prepare("SELECT key FROM points WHERE id = ?1")?;
            for p in points {
                let tags = serde_json::to_string(&p.tags).unwrap_or_else(|_| "[]".into());
                upsert.execute(params![
                    p.id,
                    p.kind.name(),
                    p.kind.stored_unit().symbol(),
                    p.zone,
                    p.fuel.map(|f| f.name()),
                    p.topic,
                    p.kind.brick(),
                    tags
                ])?;
                let key: i64 = key_of.query_row([&p.id], |r| r.get(0))?;
                self.keys.push(key);
                self.ids.push(p.id.clone());
                self.energy.push(p.kind.is_energy());
                self.batch_newest.push(None);
            }
        }
        tx.commit()?;
        Ok(())
    }

    /// The newest reading of every point that has one.
    pub fn newest(&self) -> Result<Vec<Newest>, StoreError> {
        let mut stmt = self.conn.prepare_cached("SELECT ts, value FROM newest_readings WHERE point = ?1")?;
        let mut found = Vec::new();
        for (point, key) in self.keys.iter().enumerate() {
            if let Some((ts_ms, value)) = stmt.query_row([key], |r| Ok((r.get(0)?, r.get(1)?))).optional()? {
                found.push(Newest { point, ts_ms, value });
            }
        }
        Ok(found)
    }

    /// Writes a batch in one transaction: readings, their rollups, rejections, availability.
    /// A reading already stored is left as it is and counted. Rollup rows of open buckets may
    /// be held rather than written (see [`Store::hold_rollups`]).
    pub fn write(&mut self, batch: &[Record]) -> Result<Written, StoreError> {
        let result = self.write_batch(batch);
        match result {
            Ok((_, due)) => self.held.committed(due),
            Err(_) => self.held.rolled_back(),
        }
        // The accumulators of this batch, emptied: their room is reused, not allocated again.
        self.rollups.clear();
        self.batch_newest.iter_mut().for_each(|n| *n = None);
        result.map(|(written, _)| written)
    }

    /// The batch's transaction; also which held rows it wrote.
    fn write_batch(&mut self, batch: &[Record]) -> Result<(Written, held::Due), StoreError> {
        let mut written = Written::default();
        let mut rejections: BTreeMap<(usize, Reason), (u64, i64, i64, &str)> = BTreeMap::new();
        let mut late_duplicates = Vec::new();
        let mut through_ms = i64::MIN;

        // `&mut self` already guarantees no other transaction is open on this connection.
        let tx = self.conn.unchecked_transaction()?;
        let due;
        {
            let mut insert = tx.prepare_cached(
                "INSERT OR IGNORE INTO readings (point, ts, value, energy_kwh, energy_start, energy_end)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            )?;
            let mut existing = tx.prepare_cached("SELECT value FROM readings WHERE point = ?1 AND ts = ?2")?;
            let mut availability =
                tx.prepare_cached("INSERT OR IGNORE INTO availability (topic, ts, online) VALUES (?1, ?2, ?3)")?;
            for record in batch {
                match record {
                    Record::Reading(r) => {
                        let Some(&key) = self.keys.get(r.point) else { continue };
                        let e = r.energy;
                        let inserted = insert.execute(params![
                            key,
                            r.ts_ms,
                            r.value,
                            e.map(|e| e.kwh),
                            e.map(|e| e.start_ms),
                            e.map(|e| e.end_ms)
                        ])?;
                        if inserted == 0 {
                            let stored: f64 = existing.query_row(params![key, r.ts_ms], |row| row.get(0))?;
                            let reason = if stored.to_bits() == r.value.to_bits() {
                                Reason::Duplicate
                            } else {
                                Reason::Conflict
                            };
                            late_duplicates.push((r.point, reason, r.ts_ms));
                            written.duplicates += 1;
                            continue;
                        }
                        written.readings += 1;
                        through_ms = through_ms.max(r.ts_ms);
                        let newest = &mut self.batch_newest[r.point];
                        if newest.is_none_or(|(ts_ms, _)| r.ts_ms > ts_ms) {
                            *newest = Some((r.ts_ms, r.value));
                        }
                        self.rollups.add(&self.calendar, self.energy[r.point], r);
                    }
                    Record::Rejection { point, reason, at_ms, detail } => {
                        let entry = rejections.entry((*point, *reason)).or_insert((0, *at_ms, *at_ms, detail));
                        entry.0 += 1;
                        entry.2 = *at_ms;
                        entry.3 = detail;
                        written.rejections += 1;
                    }
                    Record::Availability { topic, at_ms, online } => {
                        availability.execute(params![topic, at_ms, online])?;
                    }
                }
            }
            // One row per point the batch stored readings of, not one per reading.
            let mut newest = tx.prepare_cached(
                "INSERT INTO newest_readings (point, ts, value) VALUES (?1, ?2, ?3)
                 ON CONFLICT(point) DO UPDATE SET ts = excluded.ts, value = excluded.value WHERE excluded.ts > ts",
            )?;
            for (key, (ts_ms, value)) in self.keys.iter().zip(&self.batch_newest).filter_map(|(k, n)| Some((k, (*n)?)))
            {
                newest.execute(params![key, ts_ms, value])?;
            }
            for (point, reason, at_ms) in &late_duplicates {
                let entry = rejections.entry((*point, *reason)).or_insert((0, *at_ms, *at_ms, "already in the store"));
                entry.0 += 1;
            }

            // One row written per bucket the batch touched, however many readings fell in it,
            // unless the bucket is open and its row held.
            let mut rows = held::Rows::prepare(&tx)?;
            let series = held::Series { calendar: &self.calendar, keys: &self.keys, energy: &self.energy };
            let held = &mut self.held;
            self.rollups.each_bucket(&self.calendar, |bucket, acc| held.roll(&series, &mut rows, bucket, acc))?;
            due = self.held.write_due(&series, &mut rows, through_ms)?;

            let mut count = tx.prepare_cached(
                "INSERT INTO rejections (point, reason, count, first_at, last_at, last_detail) VALUES (?1, ?2, ?3, ?4, ?5, ?6)
                 ON CONFLICT(point, reason) DO UPDATE SET count = count + excluded.count,
                   last_at = excluded.last_at, last_detail = excluded.last_detail",
            )?;
            for ((point, reason), (n, first, last, detail)) in &rejections {
                let id = self.ids.get(*point).map_or("?", String::as_str);
                count.execute(params![id, reason.name(), n, first, last, detail])?;
            }
        }
        tx.commit()?;
        Ok((written, due))
    }

    /// Read access for the CLI and the demo: `(label, value)` per bucket of one point, where
    /// value is the energy for energy points and the mean otherwise.
    pub fn series(&self, point_id: &str, resolution: Resolution) -> Result<Vec<(String, f64)>, StoreError> {
        let mut stmt = self.conn.prepare(
            "SELECT label, COALESCE(energy_kwh, sum / n) FROM rollups r JOIN points p ON p.key = r.point
             WHERE p.id = ?1 AND r.resolution = ?2 ORDER BY bucket",
        )?;
        let rows = stmt.query_map(params![point_id, resolution.name()], |r| Ok((r.get(0)?, r.get(1)?)))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// `(bucket start in ms, value)` of one point at one resolution, oldest first: energy in
    /// kWh for energy points, the mean for the others.
    pub fn buckets(&self, point_id: &str, resolution: Resolution) -> Result<Vec<(i64, f64)>, StoreError> {
        let mut stmt = self.conn.prepare(
            "SELECT bucket, COALESCE(energy_kwh, sum / n) FROM rollups r JOIN points p ON p.key = r.point
             WHERE p.id = ?1 AND r.resolution = ?2 AND COALESCE(energy_kwh, sum / n) IS NOT NULL ORDER BY bucket",
        )?;
        let rows = stmt.query_map(params![point_id, resolution.name()], |r| Ok((r.get(0)?, r.get(1)?)))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// The time of the oldest reading held, if any: the first of the key.
    pub fn oldest_ms(&self) -> Result<Option<i64>, StoreError> {
        Ok(self.conn.query_row("SELECT min(ts) FROM readings", [], |r| r.get(0))?)
    }

    /// What arrived in `[from, to)`: points heard from, readings, and rejections ever counted.
    pub fn activity(&self, from_ms: i64, to_ms: i64) -> Result<Activity, StoreError> {
        let (points_seen, readings) = self.conn.query_row(
            "SELECT count(DISTINCT point), count(*) FROM readings WHERE ts >= ?1 AND ts < ?2",
            [from_ms, to_ms],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )?;
        let rejections_total =
            self.conn.query_row("SELECT COALESCE(sum(count), 0) FROM rejections", [], |r| r.get(0))?;
        Ok(Activity { points_seen, readings, rejections_total })
    }

    /// How many readings of a point are held. It reads every reading of every point (the key
    /// is time first): for tests and small stores.
    pub fn reading_count(&self, point_id: &str) -> Result<u64, StoreError> {
        Ok(self.conn.query_row(
            "SELECT count(*) FROM readings r JOIN points p ON p.key = r.point WHERE p.id = ?1",
            [point_id],
            |r| r.get(0),
        )?)
    }

    /// `(point, reason, count)` for every rejection recorded.
    pub fn rejections(&self) -> Result<Vec<(String, String, u64)>, StoreError> {
        let mut stmt = self.conn.prepare("SELECT point, reason, count FROM rejections ORDER BY point, reason")?;
        let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }
}

#[cfg(test)]
mod tests;
