//! The one writer: collects records into batches and commits each in one transaction, at most
//! every `commit_interval`, or at once when `batch_max` records or `ack_every` unacknowledged
//! messages wait. Only then are the messages acknowledged to the broker (through the link), so
//! a reading the broker handed over is either in the store or still the broker's to send again.
//!
//! A commit that fails because of the disk (full, I/O error, locked) is retried until it
//! succeeds or the agent stops, acknowledging nothing meanwhile: the broker keeps what it
//! cannot deliver, and the status says `degraded`. Any other failure is counted as lost after
//! a few attempts, and the batch acknowledged, so that one bad batch cannot stall ingest.
//! The writer stops when ingest closes the channel, after committing everything it was sent.

use super::{Record, Store, StoreError};
use crate::clock::Clock;
use crate::config::StorageSettings;
use crate::mqtt::Ack;
use crate::stats::Stats;
use crate::watchdog::Pulse;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;
use tokio::time::{timeout_at, Instant};
use tokio_util::sync::CancellationToken;

/// How often (in agent time) old data is deleted.
const RETENTION_EVERY_MS: i64 = 3_600_000;
/// A commit failing for another reason than the disk is tried this many times, then lost.
const COMMIT_ATTEMPTS: u32 = 3;
/// The longest wait between two tries of a commit the disk refuses.
const RETRY_MAX: Duration = Duration::from_secs(30);
/// How long the rollup rows of each point's open buckets may lag its committed readings (see
/// `store::held`): at a building's real rate, writing them at every commit cost four row
/// updates per reading, and each writing of them rewrites a page or more per point (60 s made
/// them three quarters of the disk writes at 1,000 points). Buckets that are over are written
/// at once whatever this says, so only a period still open lags.
const ROLLUPS_HELD_FOR: Duration = Duration::from_secs(15 * 60);

/// What ingest hands the writer, in arrival order: records to store, and after a message's
/// records the acknowledgement that is due once they are committed.
#[derive(Debug, Clone, PartialEq)]
pub enum Item {
    Record(Record),
    Ack(Ack),
}

#[derive(Debug)]
pub struct Writer {
    pub store: Store,
    pub settings: StorageSettings,
    /// Commit early once this many acknowledgements wait: half the broker's in-flight window,
    /// so the broker never runs out of it while the writer waits for `commit_interval`.
    pub ack_every: usize,
    /// Where acknowledgements go once their messages are committed (the link).
    pub acks: mpsc::UnboundedSender<Vec<Ack>>,
    pub clock: Clock,
    pub stats: Arc<Stats>,
    pub pulse: Pulse,
}

/// How a batch ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Outcome {
    Committed,
    /// Given up (not a disk failure): counted as lost, acknowledged anyway.
    Lost,
    /// The agent is stopping while the disk refuses: nothing acknowledged.
    Abandoned,
}

impl Writer {
    pub async fn run(self, mut items: mpsc::Receiver<Item>, cancel: CancellationToken) {
        let Writer { mut store, settings, ack_every, acks, clock, stats, pulse } = self;
        let held;
        (store, _, held) = blocking(store, (), |store, ()| store.hold_rollups(ROLLUPS_HELD_FOR)).await;
        if let Err(e) = held {
            // Rows a crashed writer held stay short of those readings until a later start
            // rebuilds them; the readings themselves are all there.
            tracing::error!(error = %e, "cannot rebuild the rollup rows the last run held; writing them at every commit");
        }
        let commit_interval = settings.commit_interval.0;
        let ack_every = ack_every.max(1);
        let mut next_retention_ms = i64::MIN;
        let mut batch = Vec::with_capacity(settings.batch_max);
        let mut owed: Vec<Ack> = Vec::new();
        // Items are taken all that wait at once (up to the batch's room), not one per wake-up.
        let mut arrived = Vec::new();
        let mut closed = false;
        while !closed {
            if items.recv_many(&mut arrived, settings.batch_max).await == 0 {
                break;
            }
            take(&mut arrived, &mut batch, &mut owed);
            let deadline = Instant::now() + commit_interval;
            while batch.len() < settings.batch_max && owed.len() < ack_every {
                let room = settings.batch_max - batch.len();
                match timeout_at(deadline, items.recv_many(&mut arrived, room)).await {
                    Ok(0) => {
                        closed = true;
                        break;
                    }
                    Ok(_) => take(&mut arrived, &mut batch, &mut owed),
                    Err(_) => break,
                }
            }
            let outcome;
            (store, outcome) = commit(store, &mut batch, &stats, &pulse, &cancel).await;
            if outcome == Outcome::Abandoned {
                tracing::warn!(
                    unacknowledged = owed.len(),
                    "stopping with a batch the disk refused; the broker sends it again at the next start"
                );
                return;
            }
            if !owed.is_empty() && acks.send(std::mem::take(&mut owed)).is_err() {
                // The link has stopped: the broker sends these again, the store ignores the repeat.
                owed.clear();
            }
            let now = clock.now_ms();
            if now >= next_retention_ms {
                next_retention_ms = now.saturating_add(RETENTION_EVERY_MS);
                store = retain(store, now, clock.wall_ms(), &settings).await;
            }
        }
        let (_, _, written) = blocking(store, (), |store, ()| store.write_held()).await;
        if let Err(e) = written {
            tracing::warn!(error = %e, "cannot write the held rollup rows; the next start rebuilds them from the readings");
        }
        tracing::debug!(stored = stats.snapshot().stored, "writer stopped");
    }
}

fn take(arrived: &mut Vec<Item>, batch: &mut Vec<Record>, owed: &mut Vec<Ack>) {
    for item in arrived.drain(..) {
        match item {
            Item::Record(r) => batch.push(r),
            Item::Ack(a) => owed.push(a),
        }
    }
}

/// A failure the disk may recover from: worth waiting for, never worth losing readings over.
fn disk_refused(e: &StoreError) -> bool {
    use rusqlite::ErrorCode::*;
    matches!(
        e,
        StoreError::Sql(rusqlite::Error::SqliteFailure(f, _))
            if matches!(f.code, DiskFull | SystemIoFailure | DatabaseBusy | DatabaseLocked | CannotOpen | ReadOnly)
    )
}

/// Commits off the async thread: SQLite blocks, and the runtime has one thread.
async fn commit(
    mut store: Store,
    batch: &mut Vec<Record>,
    stats: &Stats,
    pulse: &Pulse,
    cancel: &CancellationToken,
) -> (Store, Outcome) {
    let mut records = std::mem::take(batch);
    let readings = records.iter().filter(|r| matches!(r, Record::Reading(_))).count() as u64;
    let newest = records.iter().filter_map(|r| if let Record::Reading(r) = r { Some(r.ts_ms) } else { None }).max();
    let mut attempt = 0u32;
    let mut wait = Duration::from_millis(200);
    let outcome = loop {
        attempt += 1;
        let result;
        {
            let _busy = pulse.busy();
            (store, records, result) = blocking(store, records, |store, records| store.write(records)).await;
        }
        match result {
            Ok(written) => {
                Stats::add(&stats.stored, written.readings);
                Stats::add(&stats.duplicates, written.duplicates);
                Stats::add(&stats.commits, 1);
                if let Some(ts) = newest {
                    stats.stored_through_ms.fetch_max(ts.max(0) as u64, Ordering::Relaxed);
                }
                break Outcome::Committed;
            }
            Err(e) if disk_refused(&e) => {
                if !stats.store_failing.swap(true, Ordering::Relaxed) {
                    stats.health_changed.notify_one();
                }
                if attempt == 1 || attempt.is_power_of_two() {
                    tracing::error!(error = %e, attempt, readings, retry_in = ?wait, "the disk refused a commit; nothing is acknowledged until it takes it");
                }
                tokio::select! {
                    _ = cancel.cancelled() => break Outcome::Abandoned,
                    _ = tokio::time::sleep(wait) => {}
                }
                wait = (wait * 2).min(RETRY_MAX);
            }
            Err(e) if attempt < COMMIT_ATTEMPTS => {
                tracing::warn!(error = %e, attempt, "commit failed; retrying");
                tokio::time::sleep(Duration::from_millis(200 * u64::from(attempt))).await;
            }
            Err(e) => {
                tracing::error!(error = %e, readings, "commit failed; these readings are lost");
                Stats::add(&stats.lost, readings);
                break Outcome::Lost;
            }
        }
    };
    if outcome != Outcome::Abandoned && stats.store_failing.swap(false, Ordering::Relaxed) {
        tracing::info!("the disk takes commits again");
        stats.health_changed.notify_one();
    }
    // Hand the allocation back for the next batch.
    records.clear();
    *batch = records;
    (store, outcome)
}

async fn retain(store: Store, now_ms: i64, wall_ms: i64, settings: &StorageSettings) -> Store {
    let retention = settings.retention;
    let (store, _, result) =
        blocking(store, (), move |store, ()| store.apply_retention(now_ms, wall_ms, &retention)).await;
    match result {
        Ok(pruned) if pruned.total() == 0 => {}
        Ok(pruned) => tracing::info!(
            series = pruned.series,
            records = pruned.records,
            delivered_ids = pruned.delivered,
            "retention applied"
        ),
        Err(e) => tracing::warn!(error = %e, "retention failed; will retry"),
    }
    store
}

/// Runs `work` on the blocking pool, handing the store there and back.
async fn blocking<A: Send + 'static, T: Send + 'static>(
    mut store: Store,
    arg: A,
    work: impl FnOnce(&mut Store, &A) -> T + Send + 'static,
) -> (Store, A, T) {
    let handle = tokio::task::spawn_blocking(move || {
        let out = work(&mut store, &arg);
        (store, arg, out)
    });
    match handle.await {
        Ok(done) => done,
        // The closure cannot panic under panic = abort; under unwind (tests) re-raise.
        Err(e) => std::panic::resume_unwind(e.into_panic()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{ClockMode, Settings};
    use crate::reading::Reading;

    struct Setup {
        writer: Writer,
        stats: Arc<Stats>,
        acks: mpsc::UnboundedReceiver<Vec<Ack>>,
    }

    fn setup(dir: &tempfile::TempDir, ack_every: usize) -> Setup {
        let text = format!(
            "[site]\nid = \"s\"\ntimezone = \"UTC\"\n[storage]\npath = {:?}\ncommit_interval = \"1s\"\nbatch_max = 100\n[[points]]\nid = \"t\"\nkind = \"zone_temperature\"\nunit = \"°C\"\ntopic = \"t\"\n",
            dir.path().join("w.db")
        );
        let settings = Settings::parse(&text, "test").expect("config");
        let store = Store::open(&settings.storage.path, &settings.points, settings.site.timezone).expect("store");
        let stats = Arc::new(Stats::default());
        let (acks_tx, acks) = mpsc::unbounded_channel();
        let writer = Writer {
            store,
            settings: settings.storage,
            ack_every,
            acks: acks_tx,
            clock: Clock::with_wall(ClockMode::Wall, || 0),
            stats: stats.clone(),
            pulse: Pulse::unwatched("writer"),
        };
        Setup { writer, stats, acks }
    }

    fn reading(i: i64) -> Item {
        Item::Record(Record::Reading(Reading { point: 0, ts_ms: i * 60_000, value: 20.0, energy: None }))
    }

    fn ack(pkid: u16) -> Item {
        Item::Ack(Ack { pkid, connection: 1 })
    }

    #[tokio::test(start_paused = true)]
    async fn batches_by_interval_and_size_and_drains_on_close() {
        let dir = tempfile::tempdir().expect("tempdir");
        let Setup { writer, stats, .. } = setup(&dir, 1000);
        let (tx, rx) = mpsc::channel(1000);
        let task = tokio::spawn(writer.run(rx, CancellationToken::new()));

        // Given three readings sent together, When less than the commit interval passes,
        // Then nothing is committed; after it passes, one commit holds all three.
        for i in 0..3 {
            tx.send(reading(i)).await.expect("send");
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
        assert_eq!(stats.snapshot().commits, 0);
        wait_for(|| stats.snapshot().commits == 1).await;
        assert_eq!(stats.snapshot().stored, 3);

        // Given 250 readings at once, Then batches of at most 100 commit without waiting.
        for i in 3..253 {
            tx.send(reading(i)).await.expect("send");
        }
        wait_for(|| stats.snapshot().commits >= 3).await;
        assert!(stats.snapshot().stored >= 203);

        // When the channel closes, Then the rest is committed before the writer stops.
        drop(tx);
        task.await.expect("writer task");
        assert_eq!(stats.snapshot().stored, 253);
    }

    #[tokio::test(start_paused = true)]
    async fn messages_are_acknowledged_after_their_readings_commit_and_early_when_the_window_fills() {
        let dir = tempfile::tempdir().expect("tempdir");
        let Setup { writer, stats, mut acks } = setup(&dir, 4);
        let (tx, rx) = mpsc::channel(1000);
        let task = tokio::spawn(writer.run(rx, CancellationToken::new()));

        // Given two messages (a reading, then its ack) with the commit interval not yet over
        for i in 0..2 {
            tx.send(reading(i)).await.expect("send");
            tx.send(ack(i as u16 + 1)).await.expect("send");
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
        // Then nothing is acknowledged before the commit
        assert!(acks.try_recv().is_err());
        assert_eq!(stats.snapshot().stored, 0);
        // When the interval ends, Then both are acknowledged, in order, after they are stored
        let first = acks.recv().await.expect("acks");
        assert_eq!(first.iter().map(|a| a.pkid).collect::<Vec<_>>(), [1, 2]);
        assert_eq!(stats.snapshot().stored, 2);

        // When four messages come at once (half the broker's window), Then the writer commits
        // and acknowledges them without waiting out the interval
        let sent_at = Instant::now();
        for i in 2..6 {
            tx.send(reading(i)).await.expect("send");
            tx.send(ack(i as u16 + 1)).await.expect("send");
        }
        let second = acks.recv().await.expect("acks");
        assert_eq!(second.iter().map(|a| a.pkid).collect::<Vec<_>>(), [3, 4, 5, 6]);
        assert!(sent_at.elapsed() < Duration::from_millis(100), "took {:?}", sent_at.elapsed());
        assert_eq!(stats.snapshot().stored, 6);
        drop(tx);
        task.await.expect("writer task");
    }

    #[tokio::test(start_paused = true)]
    async fn a_full_disk_acknowledges_nothing_until_it_takes_the_commit() {
        let dir = tempfile::tempdir().expect("tempdir");
        let Setup { mut writer, stats, mut acks } = setup(&dir, 1);
        // Given a store filled with old readings up to its size limit
        let pages = writer.store.pages().expect("pages");
        writer.store.limit_pages(pages + 8).expect("limit");
        let mut filled = 0;
        loop {
            let old = Reading { point: 0, ts_ms: -1_000_000_000 + filled, value: 20.0, energy: None };
            match writer.store.write(&[Record::Reading(old)]) {
                Ok(_) => filled += 1,
                Err(e) => {
                    assert!(disk_refused(&e), "{e}");
                    break;
                }
            }
        }
        assert!(filled > 100, "only {filled} readings fit");
        let (tx, rx) = mpsc::channel(4000);
        let task = tokio::spawn(writer.run(rx, CancellationToken::new()));

        // When a thousand readings arrive, each with its acknowledgement
        for i in 0..1000 {
            tx.send(reading(i)).await.expect("send");
            tx.send(ack(i as u16 + 1)).await.expect("send");
        }
        // Then the store is failing, nothing is acknowledged, nothing counted as lost
        wait_for(|| stats.snapshot().store_failing).await;
        tokio::time::sleep(Duration::from_secs(120)).await;
        assert!(acks.try_recv().is_err());
        assert_eq!((stats.snapshot().stored, stats.snapshot().lost), (0, 0));

        // When room is made (the old readings deleted, as retention would)
        let other = rusqlite::Connection::open(dir.path().join("w.db")).expect("a second connection");
        other.busy_timeout(Duration::from_secs(5)).expect("busy timeout");
        other.execute("DELETE FROM readings WHERE ts < 0", []).expect("delete");
        drop(other);
        // Then everything is stored and acknowledged
        wait_for(|| !stats.snapshot().store_failing).await;
        drop(tx);
        task.await.expect("writer task");
        let mut acknowledged = 0;
        while let Ok(a) = acks.try_recv() {
            acknowledged += a.len();
        }
        assert_eq!((stats.snapshot().stored, acknowledged, stats.snapshot().lost), (1000, 1000, 0));
    }

    /// Yields to the paused runtime until `done` holds; time only advances when all tasks idle.
    async fn wait_for(done: impl Fn() -> bool) {
        for _ in 0..10_000 {
            if done() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        panic!("condition not reached");
    }
}
