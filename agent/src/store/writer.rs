//! The one writer: collects records into batches and commits each in one transaction, at most
//! every `commit_interval` or every `batch_max` records. It stops when ingest closes the
//! channel, after committing everything it was sent.

use super::{Record, Store};
use crate::clock::Clock;
use crate::config::StorageSettings;
use crate::stats::Stats;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;
use tokio::time::{timeout_at, Instant};

/// How often (in agent time) old data is deleted.
const RETENTION_EVERY_MS: i64 = 3_600_000;
/// A failed commit is retried this many times (a locked or briefly full disk) before the
/// batch is counted as lost.
const COMMIT_ATTEMPTS: u32 = 3;

#[derive(Debug)]
pub struct Writer {
    pub store: Store,
    pub settings: StorageSettings,
    pub clock: Clock,
    pub stats: Arc<Stats>,
}

impl Writer {
    pub async fn run(self, mut records: mpsc::Receiver<Record>) {
        let Writer { mut store, settings, clock, stats } = self;
        let commit_interval = settings.commit_interval.0;
        let mut next_retention_ms = i64::MIN;
        let mut batch = Vec::with_capacity(settings.batch_max);
        loop {
            let Some(first) = records.recv().await else { break };
            batch.push(first);
            let deadline = Instant::now() + commit_interval;
            let mut closed = false;
            while batch.len() < settings.batch_max {
                match timeout_at(deadline, records.recv()).await {
                    Ok(Some(record)) => batch.push(record),
                    Ok(None) => {
                        closed = true;
                        break;
                    }
                    Err(_) => break,
                }
            }
            store = commit(store, &mut batch, &stats).await;
            let now = clock.now_ms();
            if now >= next_retention_ms {
                next_retention_ms = now.saturating_add(RETENTION_EVERY_MS);
                store = retain(store, now, &settings).await;
            }
            if closed {
                break;
            }
        }
        tracing::debug!(stored = stats.snapshot().stored, "writer stopped");
    }
}

/// Commits off the async thread: SQLite blocks, and the runtime has one thread.
async fn commit(mut store: Store, batch: &mut Vec<Record>, stats: &Stats) -> Store {
    let mut records = std::mem::take(batch);
    let readings = records.iter().filter(|r| matches!(r, Record::Reading(_))).count() as u64;
    let newest = records.iter().filter_map(|r| if let Record::Reading(r) = r { Some(r.ts_ms) } else { None }).max();
    for attempt in 1..=COMMIT_ATTEMPTS {
        let (back, records_back, result) = blocking(store, records, |store, records| store.write(records)).await;
        (store, records) = (back, records_back);
        match result {
            Ok(written) => {
                Stats::add(&stats.stored, written.readings);
                Stats::add(&stats.duplicates, written.duplicates);
                Stats::add(&stats.commits, 1);
                if let Some(ts) = newest {
                    stats.stored_through_ms.fetch_max(ts.max(0) as u64, std::sync::atomic::Ordering::Relaxed);
                }
                break;
            }
            Err(e) if attempt < COMMIT_ATTEMPTS => {
                tracing::warn!(error = %e, attempt, "commit failed; retrying");
                tokio::time::sleep(Duration::from_millis(200 * u64::from(attempt))).await;
            }
            Err(e) => {
                tracing::error!(error = %e, readings, "commit failed; these readings are lost");
                Stats::add(&stats.lost, readings);
            }
        }
    }
    // Hand the allocation back for the next batch.
    records.clear();
    *batch = records;
    store
}

async fn retain(store: Store, now_ms: i64, settings: &StorageSettings) -> Store {
    let retention = settings.retention;
    let (store, _, result) = blocking(store, (), move |store, ()| store.apply_retention(now_ms, &retention)).await;
    match result {
        Ok(0) => {}
        Ok(deleted) => tracing::info!(deleted, "retention applied"),
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
    use crate::ingest::reading::Reading;

    fn setup(dir: &tempfile::TempDir) -> (Writer, Arc<Stats>) {
        let text = format!(
            "[site]\nid = \"s\"\ntimezone = \"UTC\"\n[storage]\npath = {:?}\ncommit_interval = \"1s\"\nbatch_max = 100\n[[points]]\nid = \"t\"\nkind = \"zone_temperature\"\nunit = \"°C\"\ntopic = \"t\"\n",
            dir.path().join("w.db")
        );
        let settings = Settings::parse(&text, "test").expect("config");
        let store = Store::open(&settings.storage.path, &settings.points, settings.site.timezone).expect("store");
        let stats = Arc::new(Stats::default());
        let writer = Writer {
            store,
            settings: settings.storage,
            clock: Clock::with_wall(ClockMode::Wall, || 0),
            stats: stats.clone(),
        };
        (writer, stats)
    }

    fn reading(i: i64) -> Record {
        Record::Reading(Reading { point: 0, ts_ms: i * 60_000, value: 20.0, energy: None })
    }

    #[tokio::test(start_paused = true)]
    async fn batches_by_interval_and_size_and_drains_on_close() {
        let dir = tempfile::tempdir().expect("tempdir");
        let (writer, stats) = setup(&dir);
        let (tx, rx) = mpsc::channel(1000);
        let task = tokio::spawn(writer.run(rx));

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
