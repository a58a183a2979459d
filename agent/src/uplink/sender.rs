//! The sender: drains the outbox to the central broker as an explicit state machine.
//!
//! - `BackingOff`: no connection; waits with exponential backoff and jitter, then connects.
//! - `CatchingUp`: connected with reports left from before; sends the backlog oldest first,
//!   taking turns with reports queued since the connection so live ones keep flowing.
//! - `Normal`: connected, nothing old left; sends each report as it is queued.
//! - `ShuttingDown`: sends nothing new; waits for acknowledgements until the deadline.
//!
//! At most `in_flight` reports await acknowledgement (QoS 1). A report leaves the outbox only
//! when the broker acknowledges it. On a lost connection the client is dropped whole and the
//! unacknowledged reports are sent again from the outbox: duplicates only as QoS 1 allows, and
//! each carries its id.

use super::outbox::{Outbox, OutboxError, Queued};
use crate::config::UplinkSettings;
use crate::mqtt::{backoff::Backoff, Retained};
use crate::shared::Shared;
use crate::stats::Stats;
use crate::status::Health;
use rumqttc::{AsyncClient, Event, EventLoop, Outgoing, Packet, QoS};
use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{watch, Notify};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    BackingOff,
    CatchingUp,
    Normal,
    ShuttingDown,
}

/// The outbox, shared by the reporter (which fills it) and the sender (which drains it).
pub type SharedOutbox = Shared<Outbox>;

#[derive(Debug)]
pub struct Sender {
    pub settings: UplinkSettings,
    pub outbox: SharedOutbox,
    /// The reporter rings when it queued something.
    pub queued: Arc<Notify>,
    /// The agent's status on the central broker: `online` on connect, `offline` as last will.
    pub health: Health,
    pub goodbye: Retained,
    pub state: watch::Sender<State>,
    pub stats: Arc<Stats>,
}

/// Requests waiting for the event loop: the window plus the status.
const REQUEST_CAPACITY: usize = 1024;

/// Where sending got to on one connection. Reports up to `mark` were queued before it: the
/// backlog.
#[derive(Debug, Default, Clone, Copy)]
struct Cursors {
    mark: i64,
    backlog: i64,
    live: i64,
    live_turn: bool,
    backlog_done: bool,
}

impl Cursors {
    /// The next report to send: backlog and live reports take turns.
    fn pick(mut self, outbox: &Outbox) -> Result<(Self, Option<Queued>), OutboxError> {
        let live = outbox.next(self.live, i64::MAX)?;
        let backlog = if self.backlog_done { None } else { outbox.next(self.backlog, self.mark)? };
        self.backlog_done = backlog.is_none();
        let take_live = live.is_some() && (self.live_turn || backlog.is_none());
        self.live_turn = !self.live_turn;
        let picked = if take_live { live } else { backlog };
        if let Some(q) = &picked {
            if take_live {
                self.live = q.seq;
            } else {
                self.backlog = q.seq;
            }
        }
        Ok((self, picked))
    }
}

/// Publishes in flight on one connection.
#[derive(Debug, Default)]
struct InFlight {
    /// Handed to the client, in order, until the event loop names their packet id (`None`:
    /// the status message).
    handed: VecDeque<Option<i64>>,
    /// Packet id → outbox sequence, awaiting acknowledgement.
    awaiting: HashMap<u16, i64>,
}

impl InFlight {
    fn reports(&self) -> usize {
        self.handed.iter().flatten().count() + self.awaiting.len()
    }

    /// Follows a publish through the event loop; returns the outbox sequence it acknowledges.
    fn track(&mut self, event: &Event) -> Option<i64> {
        match event {
            Event::Outgoing(Outgoing::Publish(pkid)) => {
                if let Some(Some(seq)) = self.handed.pop_front() {
                    self.awaiting.insert(*pkid, seq);
                }
                None
            }
            Event::Incoming(Packet::PubAck(ack)) => self.awaiting.remove(&ack.pkid),
            _ => None,
        }
    }
}

enum Ended {
    Lost,
    Cancelled,
}

impl Sender {
    pub async fn run(self, cancel: CancellationToken) {
        let b = &self.settings.broker;
        let mut backoff = Backoff::new(b.reconnect_min.0, b.reconnect_max.0);
        loop {
            let (client, eventloop) =
                AsyncClient::new(super::connect::options(&self.settings.broker, &self.goodbye), REQUEST_CAPACITY);
            match self.connected(client, eventloop, &cancel, &mut backoff).await {
                Ended::Cancelled => break,
                Ended::Lost => {
                    self.state.send_replace(State::BackingOff);
                    let delay = backoff.next_delay(fastrand::f64());
                    tracing::warn!(retry_in = ?delay, attempt = backoff.attempt(), "central broker out of reach");
                    tokio::select! {
                        _ = cancel.cancelled() => break,
                        _ = tokio::time::sleep(delay) => {}
                    }
                }
            }
        }
        tracing::info!("uplink stopped");
    }

    async fn acknowledge(&self, seq: i64) {
        let now = chrono::Utc::now().timestamp_millis();
        match self.outbox.try_with(move |o| o.acknowledge(seq, now)).await {
            Ok(()) => Stats::add(&self.stats.reports_acked, 1),
            Err(e) => tracing::error!(error = %e, seq, "cannot remove an acknowledged report; it will be resent"),
        }
    }

    /// Connects and sends until the connection is lost or the agent stops.
    async fn connected(
        &self,
        client: AsyncClient,
        mut eventloop: EventLoop,
        cancel: &CancellationToken,
        backoff: &mut Backoff,
    ) -> Ended {
        loop {
            let event = tokio::select! {
                _ = cancel.cancelled() => return Ended::Cancelled,
                event = eventloop.poll() => event,
            };
            match event {
                Ok(Event::Incoming(Packet::ConnAck(_))) => break,
                Ok(_) => {}
                Err(e) => {
                    tracing::debug!(error = %e, "uplink connect failed");
                    return Ended::Lost;
                }
            }
        }
        backoff.reset();
        Stats::add(&self.stats.uplink_connections, 1);
        let mut cursors = match self.outbox.try_with(|o| o.newest_seq()).await {
            Ok(mark) => Cursors { mark, live: mark, ..Cursors::default() },
            Err(e) => {
                tracing::error!(error = %e, "cannot read the outbox");
                return Ended::Lost;
            }
        };
        let mut flight = InFlight::default();
        if client.try_publish(&self.goodbye.topic, QoS::AtLeastOnce, true, self.health.online()).is_ok() {
            flight.handed.push_back(None);
        }
        tracing::info!(
            backlog_up_to = cursors.mark,
            window = self.settings.in_flight,
            "connected to the central broker"
        );
        loop {
            while flight.reports() < self.settings.in_flight {
                let picked = self.outbox.try_with(move |o| cursors.pick(o)).await;
                let q = match picked {
                    Ok((moved, Some(q))) => {
                        cursors = moved;
                        q
                    }
                    Ok((moved, None)) => {
                        cursors = moved;
                        break;
                    }
                    Err(e) => {
                        tracing::error!(error = %e, "cannot read the outbox");
                        break;
                    }
                };
                if client.try_publish(q.topic, QoS::AtLeastOnce, false, q.payload).is_err() {
                    return Ended::Lost;
                }
                flight.handed.push_back(Some(q.seq));
                Stats::add(&self.stats.reports_sent, 1);
            }
            let state = if cursors.backlog_done { State::Normal } else { State::CatchingUp };
            self.state.send_if_modified(|s| std::mem::replace(s, state) != state);

            let event = tokio::select! {
                _ = cancel.cancelled() => return self.shut_down(client, eventloop, flight).await,
                () = self.queued.notified() => continue,
                event = eventloop.poll() => event,
            };
            match event {
                Ok(event) => {
                    if let Some(seq) = flight.track(&event) {
                        self.acknowledge(seq).await;
                    }
                }
                Err(e) => {
                    tracing::warn!(error = %e, unacknowledged = flight.reports(), "lost the central broker");
                    return Ended::Lost;
                }
            }
        }
    }

    /// Sends nothing new; waits for what is in flight until the deadline, then says offline.
    async fn shut_down(&self, client: AsyncClient, mut eventloop: EventLoop, mut flight: InFlight) -> Ended {
        self.state.send_replace(State::ShuttingDown);
        let deadline = Instant::now() + self.settings.shutdown_deadline.0;
        while flight.reports() > 0 {
            match tokio::time::timeout_at(deadline, eventloop.poll()).await {
                Ok(Ok(event)) => {
                    if let Some(seq) = flight.track(&event) {
                        self.acknowledge(seq).await;
                    }
                }
                Ok(Err(_)) | Err(_) => break,
            }
        }
        if flight.reports() > 0 {
            tracing::warn!(left = flight.reports(), "stopping with unacknowledged reports; they stay queued");
        }
        let goodbye = client.try_publish(&self.goodbye.topic, QoS::AtLeastOnce, true, self.goodbye.payload.clone());
        if goodbye.is_ok() && client.try_disconnect().is_ok() {
            // Until the broker has closed the connection: `mqtt::closing` says why (MQTT 3.1.1
            // here, so another event loop).
            let flush = async { while eventloop.poll().await.is_ok() {} };
            let _ = tokio::time::timeout(Duration::from_secs(2), flush).await;
        }
        Ended::Cancelled
    }
}
