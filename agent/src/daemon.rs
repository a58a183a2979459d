//! The owner: opens the store, starts every task, and decides shutdown. One cancellation
//! token stops the MQTT link and the status publisher; ingest and the writer stop when their
//! input channel closes, after draining it, so nothing received is dropped on a clean stop.

use crate::clock::Clock;
use crate::config::Settings;
use crate::ingest::validate::Validator;
use crate::ingest::Ingest;
use crate::mqtt::{self, backoff::Backoff, Link, Retained};
use crate::stats::Stats;
use crate::status::{self, StatusPublisher};
use crate::store::writer::Writer;
use crate::store::{Store, StoreError};
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{mpsc, watch};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

/// How long the stages may take to drain after shutdown is asked.
const DRAIN_LIMIT: Duration = Duration::from_secs(30);

#[derive(Debug, thiserror::Error)]
pub enum DaemonError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("the stages did not drain within {0:?}; unacknowledged data stays with the broker")]
    Drain(Duration),
}

/// Runs the agent until `shutdown` completes.
pub async fn run(
    settings: Settings,
    clock: Clock,
    stats: Arc<Stats>,
    shutdown: impl Future<Output = ()>,
) -> Result<(), DaemonError> {
    let settings = Arc::new(settings);
    let store = Store::open(&settings.storage.path, &settings.points, settings.site.timezone)?;
    let mut validator = Validator::new(&settings.points, &settings.ingest);
    for newest in store.newest()? {
        validator.resume(newest.point, newest.ts_ms, newest.value);
        clock.observe(newest.ts_ms);
    }
    tracing::info!(site = settings.site.id, points = settings.points.len(), store = %store.path().display(), "starting");

    let ingest = Ingest::new(settings.clone(), validator, clock.clone(), stats.clone());
    let goodbye = Retained { topic: status::topic(&settings), payload: status::offline(&settings) };
    let (client, eventloop) = mqtt::client(&settings.broker, &goodbye);
    let (connected_tx, connected_rx) = watch::channel(0);
    let link = Link {
        eventloop,
        client: client.clone(),
        subscriptions: ingest.topics(),
        backoff: Backoff::new(settings.broker.reconnect_min.0, settings.broker.reconnect_max.0),
        goodbye,
        connected: connected_tx,
        stats: stats.clone(),
    };
    let status = StatusPublisher {
        client,
        settings: settings.clone(),
        clock: clock.clone(),
        stats: stats.clone(),
        started_ms: clock.wall_ms(),
    };
    let writer = Writer { store, settings: settings.storage.clone(), clock, stats };

    let (inbound_tx, inbound_rx) = mpsc::channel(settings.ingest.queue);
    let (records_tx, records_rx) = mpsc::channel(settings.storage.queue);
    let cancel = CancellationToken::new();
    let tracker = TaskTracker::new();
    tracker.spawn(link.run(inbound_tx, cancel.clone()));
    tracker.spawn(status.run(connected_rx, cancel.clone()));
    tracker.spawn(ingest.run(inbound_rx, records_tx));
    tracker.spawn(writer.run(records_rx));
    tracker.close();

    shutdown.await;
    tracing::info!("stopping: draining ingest and the store");
    cancel.cancel();
    tokio::time::timeout(DRAIN_LIMIT, tracker.wait()).await.map_err(|_| DaemonError::Drain(DRAIN_LIMIT))?;
    tracing::info!("stopped");
    Ok(())
}
