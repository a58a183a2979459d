//! The one task that polls rumqttc's event loop. Readings flow link → ingest → writer, the
//! writer's acknowledgements flow back; requests go to their mailboxes without waiting.
//!
//! When ingest is behind, readings wait in the link (`Backlog`), up to the broker's in-flight
//! window (`receive_maximum`) and some slack. A broker that keeps to the window never sends
//! more QoS 1 messages than that before they are acknowledged; mosquitto 2.0.11 does not keep
//! to it once acknowledgements flow (measured: 33,767 in flight for a window of 2,000). So at
//! the bound the link stops polling until ingest takes one: back-pressure that keeps the
//! readings in order, for the milliseconds ingest needs. Ingest and the writer never wait on
//! the link, so this wait always ends, except while the disk refuses commits. Then the link
//! polls on regardless, so that the keep-alive, the `degraded` status, requests and commands
//! go on: past the bound a QoS 0 reading is dropped and counted (at most once is what QoS 0
//! promises), and QoS 1 readings are left unacknowledged, in order, from the first one that
//! finds no room; once the disk takes commits again and the backlog is empty, the link
//! disconnects cleanly and reconnects (`resync`), and the broker sends all of them again.
//! The acknowledgements' channel is unbounded because it holds at most what the backlog and
//! the stages hold.

use super::backlog::{Backlog, Taken};
use super::backoff::Backoff;
use super::low_water::{LowWaterError, Socket};
use super::mailbox::Offer;
use super::pace::Pace;
use super::route::Route;
use super::{Ack, Inbound, Retained};
use crate::quiet::Quiet;
use crate::stats::Stats;
use crate::watchdog::Pulse;
use rumqttc::v5::mqttbytes::v5::{
    DisconnectReasonCode, Filter, Packet, PubAckReason, Publish, RetainForwardRule, SubscribeReasonCode,
};
use rumqttc::v5::mqttbytes::QoS;
use rumqttc::v5::{AsyncClient, ConnectionError, Event, EventLoop, StateError};
use rumqttc::Outgoing;
use std::collections::VecDeque;
use std::future::Future;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::task::Poll;
use std::time::Duration;
use tokio::sync::{mpsc, watch};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

/// How long a graceful disconnect may take to flush the final status.
const DISCONNECT_GRACE: Duration = Duration::from_secs(2);
/// On a stop, how long the link waits for the writer's last acknowledgements.
const DRAIN_ACKS: Duration = Duration::from_secs(10);
/// While the link waits for room in ingest, how often it looks whether the disk has failed.
const RECHECK: Duration = Duration::from_millis(250);
/// Acknowledgements in the request queue at once: the rest of it stays free for the other
/// tasks' publishes (commands, ledger records), which are dropped when it is full.
const ACKS_QUEUED: usize = super::options::REQUEST_CAPACITY / 4;
pub struct Link {
    pub eventloop: EventLoop,
    pub client: AsyncClient,
    pub subscriptions: Vec<String>,
    /// Checked most specific first, whatever the order they were given in.
    pub routes: Vec<Route>,
    pub backoff: Backoff,
    /// Published (retained) when the agent stops on purpose; the last will covers the rest.
    pub goodbye: Retained,
    /// Bumped on every ConnAck, so the status publisher can announce itself.
    pub connected: watch::Sender<u64>,
    pub stats: Arc<Stats>,
    pub pulse: Pulse,
    /// The broker's in-flight window (`broker.receive_maximum`).
    pub window: usize,
}

impl std::fmt::Debug for Link {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Link").field("subscriptions", &self.subscriptions).field("backoff", &self.backoff).finish()
    }
}

/// What the link keeps between events.
#[derive(Debug)]
struct Session {
    /// Connections so far; an `Ack` names the one its message came on.
    connection: u64,
    /// Acknowledgements not queued yet, and how many are in the request queue.
    pending: VecDeque<Ack>,
    queued: usize,
    /// QoS 1 readings skipped unacknowledged past the backlog's bound: the broker must send
    /// them again, which it does on a new connection.
    unacknowledged: u64,
    /// The link disconnected on purpose to have them sent again.
    resyncing: bool,
    /// One line a minute for each kind of trouble, so that a flood of one (dropped requests)
    /// never hides another (the broker refusing a command).
    quiet_requests: Quiet,
    quiet_readings: Quiet,
    quiet_refused: Quiet,
}

impl Link {
    /// Polls until `cancel`, sending readings to `inbound` and requests to their mailboxes,
    /// and acknowledging what `acks` says is committed. On `cancel` it reads nothing more and
    /// lets go of `inbound`, so that ingest and the writer drain, and stays until the writer
    /// has stopped and its acknowledgements are on the wire: the broker does not send again,
    /// at the next start, readings the store already holds.
    pub async fn run(
        mut self,
        inbound: mpsc::Sender<Inbound>,
        mut acks: mpsc::UnboundedReceiver<Vec<Ack>>,
        cancel: CancellationToken,
    ) {
        self.routes.sort_by_key(|r| std::cmp::Reverse(r.specificity()));
        let mut session = Session {
            connection: 0,
            pending: VecDeque::new(),
            queued: 0,
            unacknowledged: 0,
            resyncing: false,
            quiet_requests: Quiet::new(Duration::from_secs(60)),
            quiet_readings: Quiet::new(Duration::from_secs(60)),
            quiet_refused: Quiet::new(Duration::from_secs(60)),
        };
        let mut writer_running = true;
        let mut backlog = Backlog::new(self.window);
        let mut pace = Pace::new(Instant::now());
        let mut inbound = Some(inbound);
        let mut draining = None;
        // The broker's socket while connected, once found: where the pace sets its mark.
        let mut socket: Option<Socket> = None;
        loop {
            // One poll lives until it yields: acknowledgements go into the request queue that
            // this same poll reads, and dropping a poll half-way could drop a packet with it.
            let event = {
                let poll = self.eventloop.poll();
                tokio::pin!(poll);
                loop {
                    if let Some(until) = draining {
                        let acknowledged = !writer_running && session.pending.is_empty() && session.queued == 0;
                        if acknowledged || Instant::now() >= until {
                            break None;
                        }
                    }
                    let polling = !backlog.full() || self.stats.store_failing.load(Ordering::Relaxed);
                    if polling {
                        // What is ready is handled at once; once nothing is, the pace sets the
                        // socket's low-water mark for the next read.
                        match std::future::poll_fn(|cx| Poll::Ready(poll.as_mut().poll(cx))).await {
                            Poll::Ready(event) => break Some(event),
                            Poll::Pending if socket.is_some() => {
                                if let Some(mark) = pace.dry(Instant::now()) {
                                    set_mark(&mut socket, mark);
                                }
                            }
                            Poll::Pending => {}
                        }
                    }
                    let mut stopping = false;
                    let held = pace.until();
                    tokio::select! {
                        _ = cancel.cancelled(), if draining.is_none() => stopping = true,
                        _ = tokio::time::sleep_until(draining.unwrap_or_else(Instant::now)), if draining.is_some() => {}
                        committed = acks.recv(), if writer_running => match committed {
                            // Only this connection's packet ids mean what they meant: the broker
                            // sends every earlier unacknowledged message again, to be acknowledged anew.
                            Some(c) => {
                                session.pending.extend(c.into_iter().filter(|a| a.connection == session.connection));
                                session.flush(&self.client);
                            }
                            None => writer_running = false,
                        },
                        room = reserve(&inbound), if !backlog.waiting.is_empty() => match (room, backlog.waiting.pop_front()) {
                            (Some(permit), Some(message)) => permit.send(message),
                            _ => break None,
                        },
                        _ = tokio::time::sleep(RECHECK), if !polling => {}
                        _ = tokio::time::sleep_until(held.unwrap_or_else(Instant::now)), if held.is_some() => {
                            pace.release();
                            set_mark(&mut socket, 1);
                        }
                        event = &mut poll, if polling => break Some(event),
                    }
                    if stopping {
                        pace.release();
                        set_mark(&mut socket, 1);
                        inbound = None;
                        backlog.waiting.clear();
                        draining = Some(Instant::now() + DRAIN_ACKS);
                    }
                }
            };
            let Some(event) = event else { break };
            let _busy = self.pulse.busy();
            match event {
                Ok(Event::Incoming(Packet::ConnAck(ack))) => {
                    backlog.skipping = false;
                    let (host, port) = self.eventloop.options.broker_address();
                    socket = Socket::find(&host, port).map_err(|e| without_pace(&e)).ok();
                    self.connected(&mut session, ack.session_present);
                }
                Ok(Event::Incoming(Packet::Publish(publish))) => match &inbound {
                    // Stopping: left unacknowledged, so the broker sends it again at the next start.
                    None => {}
                    Some(inbound) => {
                        pace.read(publish.size());
                        let message = inbound_of(publish, session.connection);
                        match self.routes.iter().find(|r| r.takes(&message.topic)) {
                            Some(route) => self.request(route, message, &mut session),
                            None => match backlog.take(message, inbound) {
                                Taken::Queued => {}
                                Taken::Closed => break,
                                Taken::Skipped => session.unacknowledged += 1,
                                Taken::Dropped(topic) => {
                                    Stats::add(&self.stats.readings_dropped, 1);
                                    if let Some(held) = session.quiet_readings.allow() {
                                        tracing::warn!(
                                            topic,
                                            also_dropped_since_last_line = held,
                                            "the disk refuses commits: a QoS 0 reading was dropped"
                                        );
                                    }
                                }
                            },
                        }
                    }
                },
                Ok(Event::Incoming(Packet::SubAck(ack))) => {
                    let refused =
                        ack.return_codes.iter().filter(|c| !matches!(c, SubscribeReasonCode::Success(_))).count();
                    if refused > 0 {
                        tracing::error!(refused, codes = ?ack.return_codes, "the broker refused subscriptions: check the agent's ACL");
                    }
                    Stats::add(&self.stats.subscribed, 1);
                }
                Ok(Event::Incoming(Packet::PubAck(ack)))
                    if !matches!(ack.reason, PubAckReason::Success | PubAckReason::NoMatchingSubscribers) =>
                {
                    Stats::add(&self.stats.publish_refused, 1);
                    if let Some(held) = session.quiet_refused.allow() {
                        tracing::error!(reason = ?ack.reason, also_refused_since_last_line = held, "the broker refused a message the agent published (commands, status or ledger): check the agent's ACL");
                    }
                }
                Ok(Event::Outgoing(Outgoing::PubAck(_))) => session.queued = session.queued.saturating_sub(1),
                // The connection ends: its socket's number may soon name another file.
                Ok(Event::Outgoing(Outgoing::Disconnect)) => {
                    socket = None;
                    pace.release();
                }
                Ok(_) => {}
                // The acknowledgements still owed name packets of this connection only.
                Err(_) if draining.is_some() => break,
                Err(e) => {
                    socket = None;
                    pace.release();
                    self.lost(e, &mut session, &cancel).await
                }
            }
            session.flush(&self.client);
            let failing = self.stats.store_failing.load(Ordering::Relaxed);
            if session.unacknowledged > 0 && backlog.waiting.is_empty() && !failing && draining.is_none() {
                self.resync(&mut session);
            }
        }
        self.say_goodbye().await;
    }

    fn connected(&mut self, session: &mut Session, session_present: bool) {
        self.backoff.reset();
        session.connection += 1;
        // rumqttc dropped the acknowledgements still queued when the connection went.
        session.queued = 0;
        if !session_present {
            // The broker forgot the session: what it delivered before is gone from it, acked or not.
            session.pending.clear();
        }
        Stats::add(&self.stats.connections, 1);
        tracing::info!(session_present, topics = self.subscriptions.len(), "connected to the broker");
        // Subscribing again keeps a resumed session's subscriptions and adds any the config has
        // gained; retained messages come only with a subscription that is new.
        let filters = self.subscriptions.iter().map(|t| {
            let mut f = Filter::new(t.clone(), QoS::AtLeastOnce);
            f.retain_forward_rule = RetainForwardRule::OnNewSubscribe;
            f
        });
        if let Err(e) = self.client.try_subscribe_many(filters) {
            tracing::error!(error = %e, "cannot queue subscriptions");
        }
        self.connected.send_replace(session.connection);
    }

    /// A request goes to its mailbox, never waits, and is acknowledged at once: what happens
    /// to it from here is the agent's (taken, or dropped and counted), not the broker's.
    fn request(&self, route: &Route, mut message: Inbound, session: &mut Session) {
        let ack = message.ack.take();
        let topic = message.topic.clone();
        let offer = route.to.deliver(message);
        if offer != Offer::Queued {
            Stats::add(&self.stats.requests_dropped, 1);
            if let Some(held) = session.quiet_requests.allow() {
                tracing::warn!(topic, ?offer, also_dropped_since_last_line = held, "a request was dropped");
            }
        }
        session.pending.extend(ack);
    }

    /// Disconnects cleanly (no last will) so that the broker, on the next connection, sends
    /// again what the link dropped unacknowledged.
    fn resync(&mut self, session: &mut Session) {
        if self.client.try_disconnect().is_ok() {
            tracing::info!(
                readings = session.unacknowledged,
                "the broker sent past its window while ingest was behind: reconnecting so it sends those again"
            );
            Stats::add(&self.stats.resyncs, 1);
            session.unacknowledged = 0;
            session.resyncing = true;
        }
    }

    async fn lost(&mut self, e: ConnectionError, session: &mut Session, cancel: &CancellationToken) {
        if std::mem::take(&mut session.resyncing) {
            // A disconnection the link asked for: straight back.
            return;
        }
        if let ConnectionError::MqttState(StateError::ServerDisconnect {
            reason_code: DisconnectReasonCode::SessionTakenOver,
            ..
        }) = e
        {
            tracing::error!("another client connected with this agent's client id and took its session: give each agent its own broker.client_id");
        }
        let delay = self.backoff.next_delay(fastrand::f64());
        tracing::warn!(error = %e, attempt = self.backoff.attempt(), retry_in = ?delay, "MQTT connection lost");
        tokio::select! {
            _ = cancel.cancelled() => {}
            _ = tokio::time::sleep(delay) => {}
        }
    }

    /// Publishes the offline status and disconnects, polling until the broker has closed the
    /// connection (so it has read everything before) or the grace period ends.
    async fn say_goodbye(mut self) {
        let queued = self
            .client
            .try_publish(self.goodbye.topic.as_str(), QoS::AtLeastOnce, true, self.goodbye.payload.clone())
            .is_ok()
            && self.client.try_disconnect().is_ok();
        if queued && !super::closing::until_closed(&mut self.eventloop, DISCONNECT_GRACE).await {
            tracing::warn!("broker did not take the goodbye in time; the last will says offline instead");
        }
    }
}

impl Session {
    /// Queues what acknowledgements there is room for; the rest wait for the next event.
    /// Through the client's channel, not rumqttc's public `pending` queue: it sleeps
    /// `pending_throttle` before each request it takes from there, and even a zero sleep waits
    /// for the timer's next tick and starts over whenever the socket is read first, so under a
    /// stream of readings acknowledgements there starve (README, "PUBACKs straight into
    /// rumqttc's own queue").
    fn flush(&mut self, client: &AsyncClient) {
        while self.queued < ACKS_QUEUED {
            let Some(ack) = self.pending.front() else { break };
            let publish = Publish { qos: QoS::AtLeastOnce, pkid: ack.pkid, ..Default::default() };
            if client.try_ack(&publish).is_err() {
                break;
            }
            self.pending.pop_front();
            self.queued += 1;
        }
    }
}

/// Sets the broker's socket's low-water mark; a socket that refuses is forgotten, and the link
/// reads as messages come.
fn set_mark(socket: &mut Option<Socket>, mark: usize) {
    if let Some(Err(e)) = socket.as_mut().map(|s| s.wait_for(mark)) {
        without_pace(&e);
        *socket = None;
    }
}

fn without_pace(e: &LowWaterError) {
    tracing::info!(error = %e, "reading the broker as messages come, without a pace");
}

/// Room in ingest's queue; never, once the link has let go of it.
async fn reserve(inbound: &Option<mpsc::Sender<Inbound>>) -> Option<mpsc::Permit<'_, Inbound>> {
    match inbound {
        Some(inbound) => inbound.reserve().await.ok(),
        None => std::future::pending().await,
    }
}

fn inbound_of(publish: Publish, connection: u64) -> Inbound {
    let ack = (publish.qos != QoS::AtMostOnce).then_some(Ack { pkid: publish.pkid, connection });
    Inbound {
        // MQTT topics are UTF-8 (the broker checks); a broken one matches no point and no route.
        topic: String::from_utf8_lossy(&publish.topic).into_owned(),
        payload: publish.payload,
        // The wall clock as milliseconds, without working out a calendar date for each message.
        received_ms: std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX)),
        ack,
    }
}
