//! The owner: locks and opens the store, starts every task, and decides shutdown. One
//! cancellation token stops the MQTT link, the status publisher and the tasks that serve
//! requests; ingest and the writer stop when their input channel closes, after draining it, so
//! nothing received is dropped on a clean stop, and the link stays until the writer's last
//! acknowledgements are out, so the broker does not send again what the store holds.
//! Everything stops within one deadline, inside systemd's stop timeout.

use crate::advisor::ledger::{Ledger, LedgerError};
use crate::advisor::task::{self, AdvisorTask};
use crate::clock::Clock;
use crate::config::{Settings, UplinkSettings};
use crate::control::{self, log::ControlLog, log::LogError, task::ControlTask};
use crate::glance::{GlanceError, Reader};
use crate::homeassistant::{self, HomeAssistant};
use crate::ingest::stage::Tap;
use crate::ingest::validate::Validator;
use crate::ingest::Ingest;
use crate::mqtt::mailbox;
use crate::mqtt::{self, backoff::Backoff, Link, Publisher, Retained, Route};
use crate::report::{FlexReports, Reporter};
use crate::shared::Shared;
use crate::stats::Stats;
use crate::status::{self, Health, StatusPublisher};
use crate::store::lock::{LockError, StoreLock};
use crate::store::writer::Writer;
use crate::store::{Store, StoreError};
use crate::uplink::outbox::{Outbox, OutboxError};
use crate::uplink::sender::{Sender, State};
use crate::watchdog::{systemd, Watchdog};
use crate::web::Web;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{mpsc, watch, Notify};
use tokio::time::{timeout_at, Instant};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

/// How long the stages may take, together, to drain after shutdown is asked: well inside the
/// unit's `TimeoutStopSec` (45 s).
const DRAIN_LIMIT: Duration = Duration::from_secs(30);

#[derive(Debug, thiserror::Error)]
pub enum DaemonError {
    #[error(transparent)]
    Lock(#[from] LockError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Outbox(#[from] OutboxError),
    #[error(transparent)]
    Ledger(#[from] LedgerError),
    #[error(transparent)]
    Glance(GlanceError),
    #[error(transparent)]
    ControlLog(#[from] LogError),
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
    let _lock = StoreLock::acquire(&settings.storage.path)?;
    let mut store = Store::open(&settings.storage.path, &settings.points, settings.site.timezone)?;
    store.sync(settings.storage.sync)?;
    if let Some(max) = settings.storage.max_bytes {
        store.limit_pages(max / store.page_size()?.max(1))?;
    }
    let mut validator = Validator::new(&settings.points, &settings.ingest);
    for newest in store.newest()? {
        validator.resume(newest.point, newest.ts_ms, newest.value);
        clock.observe(newest.ts_ms);
        stats.stored_through_ms.fetch_max(newest.ts_ms.max(0) as u64, std::sync::atomic::Ordering::Relaxed);
    }
    tracing::info!(site = settings.site.id, points = settings.points.len(), store = %store.path().display(), "starting");
    // systemd hears READY and STOPPING from here, and WATCHDOG from the watchdog's task.
    let notifier = systemd::Notifier::from_env().map(Arc::new);
    let mut watchdog = Watchdog::new(notifier.clone(), systemd::watchdog_period());

    let mut ingest =
        Ingest::new(settings.clone(), validator, clock.clone(), stats.clone()).with_pulse(watchdog.pulse("ingest"));
    let goodbye = Retained { topic: status::topic(&settings), payload: status::offline(&settings) };
    let (client, eventloop) = mqtt::options::client(&settings.broker, &goodbye);
    let publisher = Publisher::new(client.clone(), stats.clone());
    let (connected_tx, connected_rx) = watch::channel(0);
    let mut subscriptions = ingest.topics();
    let mut routes = Vec::new();
    // Requests wait in mailboxes, one per task that takes them; the link never waits on them.
    // Decisions are parsed as they are routed: the advisor takes the page's and MQTT's alike.
    let (decisions, decision_requests) = mailbox::mailbox(mailbox::CAPACITY, mailbox::REQUESTS);
    let decisions = Arc::new(decisions);
    routes.push(task::decision_route(&settings, decisions.clone()));
    subscriptions.push(task::decision_filter(&settings));
    // Control runs where the site names zones it may command; it reads them through a tap, and
    // takes its requests typed as they are routed.
    let control = if settings.control.zones.is_empty() {
        None
    } else {
        let (tap_tx, tap_rx) = mpsc::channel(1024);
        ingest = ingest.with_tap(Tap { points: control::points::tapped(&settings), to: tap_tx });
        subscriptions.extend(control::route::subscriptions(&settings));
        let (mailbox, requests) = mailbox::mailbox(mailbox::CAPACITY, mailbox::REQUESTS);
        let mailbox = Arc::new(mailbox);
        routes.extend(control::route::routes(&settings, mailbox.clone()));
        Some((requests, tap_rx, mailbox))
    };
    let births = settings.homeassistant.as_ref().map(|ha| {
        let (mailbox, births) = mailbox::mailbox(mailbox::CAPACITY, mailbox::REQUESTS);
        subscriptions.push(homeassistant::birth_topic(ha));
        routes.push(Route { topics: homeassistant::birth_topic(ha), to: Arc::new(mailbox) });
        births
    });
    let link = Link {
        eventloop,
        client,
        subscriptions,
        routes,
        backoff: Backoff::new(settings.broker.reconnect_min.0, settings.broker.reconnect_max.0),
        goodbye,
        connected: connected_tx,
        stats: stats.clone(),
        pulse: watchdog.pulse("mqtt link"),
        window: usize::from(settings.broker.receive_maximum),
    };
    let health =
        Health { settings: settings.clone(), clock: clock.clone(), stats: stats.clone(), started_ms: clock.wall_ms() };
    let (basis_tx, basis_rx) = watch::channel(None);
    // Connections to the store's file besides the writer's: one the advisor and the reporter
    // read history through (both read in steps and fit outside it), one for the ledger (the
    // advisor writes it, the page reads it), the page's, the control log's and the outbox's.
    let history = Shared::new(Store::open(&settings.storage.path, &settings.points, settings.site.timezone)?);
    let ledger = Shared::new(Ledger::open(&settings.storage.path, &settings.site.id)?.counting(stats.clone()));
    let advisor = AdvisorTask {
        settings: settings.clone(),
        store: history.clone(),
        ledger: ledger.clone(),
        publisher: publisher.clone(),
        stats: stats.clone(),
        check_interval: settings.reports.check_interval.0,
        basis: basis_tx,
    };

    // Control says each zone's state after each decision; the page and Home Assistant show it.
    let (states_tx, states_rx) = match control {
        Some(_) => {
            let (tx, rx) = tokio::sync::watch::channel(Vec::new());
            (Some(tx), Some(rx))
        }
        None => (None, None),
    };
    // The page and Home Assistant read through one connection and share the fitted baselines.
    let reader = Shared::new(Reader::open(&settings, ledger).map_err(DaemonError::Glance)?);
    let web = match settings.web.clone() {
        Some(page) => local_page(page.listen).await.map(|listener| {
            let web = Web {
                settings: settings.clone(),
                reader: reader.clone(),
                stats: stats.clone(),
                decisions: Some(decisions),
                control: states_rx.clone(),
                overrides: control.as_ref().map(|(_, _, mailbox)| crate::web::Overrides(mailbox.clone())),
            };
            (web, listener, page)
        }),
        None => None,
    };
    let home_assistant = settings.homeassistant.clone().map(|ha| HomeAssistant {
        settings: settings.clone(),
        ha,
        reader,
        publisher: publisher.clone(),
        control: states_rx,
    });
    let status = StatusPublisher { publisher: publisher.clone(), health: health.clone() };
    let (acks_tx, acks_rx) = mpsc::unbounded_channel();
    let writer = Writer {
        store,
        settings: settings.storage.clone(),
        ack_every: usize::from(settings.broker.receive_maximum / 2),
        acks: acks_tx,
        clock: clock.clone(),
        stats: stats.clone(),
        pulse: watchdog.pulse("writer"),
    };
    let reporting = match &settings.uplink {
        Some(uplink) => Some(reporting(&settings, uplink, &health, history)?),
        None => None,
    };

    let control = match control {
        Some((requests, tap, _)) => {
            // Control hands what became of each flex request to the flex reports, where the
            // site reports to a city.
            let (outcomes, flex_reports) = match reporting.as_ref() {
                Some((r, _)) => {
                    let (tx, rx) = mpsc::channel(16);
                    let reports = FlexReports {
                        settings: settings.clone(),
                        prefix: r.prefix.clone(),
                        outbox: r.outbox.clone(),
                        queued: r.queued.clone(),
                        clock: clock.clone(),
                        stats: stats.clone(),
                    };
                    (Some(tx), Some((reports, rx)))
                }
                None => (None, None),
            };
            let task = ControlTask {
                settings: settings.clone(),
                publisher: publisher.clone(),
                log: Shared::new(ControlLog::open(&settings.storage.path, &settings.site.id)?.counting(stats.clone())),
                clock: clock.clone(),
                stats: stats.clone(),
                outcomes,
                pulse: watchdog.pulse("control"),
                states: states_tx,
            };
            Some((task, requests, tap, flex_reports))
        }
        None => None,
    };

    let (inbound_tx, inbound_rx) = mpsc::channel(settings.ingest.queue);
    let (records_tx, records_rx) = mpsc::channel(settings.storage.queue);
    let cancel = CancellationToken::new();
    let tracker = TaskTracker::new();
    tracker.spawn(link.run(inbound_tx, acks_rx, cancel.clone()));
    if let (Some(ha), Some(births)) = (home_assistant, births) {
        tracker.spawn(ha.run(births, connected_rx.clone(), cancel.clone()));
    }
    if let Some((web, listener, page)) = web {
        tracker.spawn(web.serve(listener, page, cancel.clone()));
    }
    tracker.spawn(status.run(connected_rx, cancel.clone()));
    tracker.spawn(advisor.run(decision_requests, cancel.clone()));
    // Control stops first, while the link still carries what it sends: its releases reach the
    // building before the goodbye.
    let stop_control = CancellationToken::new();
    let mut control_stopped = None;
    if let Some((task, requests, tap, flex_reports)) = control {
        control_stopped = Some(tracker.spawn(task.run(requests, tap, basis_rx, stop_control.clone())));
        // It stops once control has stopped and what it handed over is queued.
        if let Some((reports, outcomes)) = flex_reports {
            tracker.spawn(reports.run(outcomes));
        }
    }
    tracker.spawn(ingest.run(inbound_rx, records_tx));
    tracker.spawn(writer.run(records_rx, cancel.clone()));
    tracker.close();
    // Reports are built from what the store holds, so they stop after it is complete.
    let (stop_reporter, stop_sender) = (CancellationToken::new(), CancellationToken::new());
    let (reporter, sender) = match reporting {
        Some((reporter, sender)) => (
            Some(tokio::spawn(reporter.run(stop_reporter.clone()))),
            Some(tokio::spawn(sender.run(stop_sender.clone()))),
        ),
        None => (None, None),
    };
    watchdog.notify("READY=1");
    let stop_watchdog = CancellationToken::new();
    let watching = tokio::spawn(watchdog.run(stop_watchdog.clone()));

    shutdown.await;
    tracing::info!("stopping: draining ingest and the store");
    if let Some(n) = &notifier {
        n.notify("STOPPING=1");
    }
    let deadline = Instant::now() + DRAIN_LIMIT;
    stop_control.cancel();
    if let Some(stopped) = control_stopped {
        let _ = timeout_at(deadline, stopped).await;
    }
    cancel.cancel();
    let drained = timeout_at(deadline, tracker.wait()).await;
    stop_reporter.cancel();
    if let Some(reporter) = reporter {
        let _ = timeout_at(deadline, reporter).await;
    }
    stop_sender.cancel();
    if let Some(sender) = sender {
        let _ = timeout_at(deadline, sender).await;
    }
    stop_watchdog.cancel();
    let _ = watching.await;
    drained.map_err(|_| DaemonError::Drain(DRAIN_LIMIT))?;
    tracing::info!("stopped");
    Ok(())
}

/// The page's listener; a port already taken costs the page, not the agent.
async fn local_page(addr: std::net::SocketAddr) -> Option<tokio::net::TcpListener> {
    if !addr.ip().is_loopback() {
        tracing::warn!(%addr, "the local page listens beyond this machine: whoever reaches it can accept or reject recommendations");
    }
    match tokio::net::TcpListener::bind(addr).await {
        Ok(listener) => Some(listener),
        Err(e) => {
            tracing::error!(%addr, error = %e, "cannot listen for the local page; the agent runs without it");
            None
        }
    }
}

/// The reporter (reading history through `store`) and the sender of the uplink, sharing the
/// durable outbox.
fn reporting(
    settings: &Arc<Settings>,
    uplink: &UplinkSettings,
    health: &Health,
    store: Shared<Store>,
) -> Result<(Reporter, Sender), DaemonError> {
    let outbox = Shared::new(Outbox::open(&settings.storage.path, uplink.budget)?);
    let queued = Arc::new(Notify::new());
    let status_topic = format!("{}/{}/status", uplink.prefix, settings.site.id);
    let reporter = Reporter {
        settings: settings.clone(),
        prefix: uplink.prefix.clone(),
        outbox: outbox.clone(),
        queued: queued.clone(),
        store,
        clock: health.clock.clone(),
        stats: health.stats.clone(),
        started_ms: health.started_ms,
    };
    let (state, _) = watch::channel(State::BackingOff);
    let sender = Sender {
        settings: uplink.clone(),
        outbox,
        queued,
        health: health.clone(),
        goodbye: Retained { topic: status_topic, payload: status::offline(settings) },
        state,
        stats: health.stats.clone(),
    };
    Ok((reporter, sender))
}
