//! The sink's two tasks. The link polls the city's broker and never waits on the writer past a
//! bounded queue; the writer maps each message, commits a batch in one transaction, and only
//! then hands the batch's acknowledgements back to the link. So a message is acknowledged (and
//! forgotten by the broker) only once it is in the database, or in `refused`: when the sink or
//! the database stops, whatever was not committed is still the broker's, and it sends it again
//! on the persistent session (or to another sink of the share group).

use super::config::CitySettings;
use super::db::{self, DbError, Received, Written};
use super::row;
use crate::mqtt::backoff::Backoff;
use rumqttc::v5::mqttbytes::v5::{Filter, Packet, Publish};
use rumqttc::v5::mqttbytes::QoS;
use rumqttc::v5::{AsyncClient, Event, EventLoop, MqttOptions};
use std::collections::VecDeque;
use std::time::Duration;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

/// Messages the link holds for the writer beyond the queue; it stops polling past this.
const HELD_MAX: usize = 1024;
const REQUEST_CAPACITY: usize = 1024;

#[derive(Debug, thiserror::Error)]
pub enum SinkError {
    #[error(transparent)]
    Database(#[from] DbError),
}

/// A delivery the broker waits to have acknowledged: its packet id on one connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Ack {
    pkid: u16,
    connection: u64,
}

#[derive(Debug)]
struct Message {
    topic: String,
    payload: bytes::Bytes,
    ack: Option<Ack>,
}

/// Runs until `cancel`: connects to the database (migrating it), then to the broker.
pub async fn run(settings: CitySettings, cancel: CancellationToken) -> Result<(), SinkError> {
    let Some(mut client) = connect_database(&settings, &cancel).await? else { return Ok(()) };
    let version = db::migrate(&mut client).await?;
    let connection = db::Connection::prepare(client).await?;
    tracing::info!(database = %db::describe(&settings.database), from = settings.database_source, version, "city database ready");

    let (client_mqtt, eventloop) = AsyncClient::new(options(&settings), REQUEST_CAPACITY);
    let (to_writer, from_link) = mpsc::channel::<Message>(settings.batch * 2);
    let (acks_tx, acks_rx) = mpsc::unbounded_channel::<Vec<Ack>>();
    let writer = tokio::spawn(write_loop(settings.clone(), connection, from_link, acks_tx, cancel.clone()));
    link(&settings, client_mqtt, eventloop, to_writer, acks_rx, &cancel).await;
    // The link has stopped: the writer ends with its input; what it had not committed the
    // broker sends again.
    cancel.cancel();
    let _ = writer.await;
    Ok(())
}

/// Connects, retrying with backoff (the database may start after the sink); None if cancelled.
async fn connect_database(
    settings: &CitySettings,
    cancel: &CancellationToken,
) -> Result<Option<tokio_postgres::Client>, DbError> {
    let mut backoff = Backoff::new(Duration::from_millis(200), Duration::from_secs(10));
    loop {
        match db::connect(&settings.database).await {
            Ok(c) => return Ok(Some(c)),
            Err(e) => {
                let delay = backoff.next_delay(fastrand::f64());
                tracing::warn!(error = %e, retry_in = ?delay, "no database yet");
                tokio::select! {
                    _ = cancel.cancelled() => return Ok(None),
                    _ = tokio::time::sleep(delay) => {}
                }
            }
        }
    }
}

fn options(settings: &CitySettings) -> MqttOptions {
    let b = &settings.broker;
    let mut opts = MqttOptions::new(&b.client_id, &b.host, b.port);
    opts.set_keep_alive(b.keep_alive);
    // The broker keeps the session (subscription, unacknowledged and queued reports) while the
    // sink is away, under this stable client id.
    opts.set_clean_start(false);
    opts.set_session_expiry_interval(Some(b.session_expiry_s));
    opts.set_manual_acks(true);
    opts.set_receive_maximum(Some(b.receive_maximum));
    // Advertised above the report limit, so that an oversize report reaches the sink and is
    // recorded in `refused`; past four times the limit (at least 1 MiB) the broker drops it
    // instead of sending it (MQTT 5, §3.1.2.11.4), and only the broker's log says so.
    let max = settings.max_report_bytes.saturating_mul(4).max(1 << 20);
    opts.set_max_packet_size(Some(u32::try_from(max).unwrap_or(u32::MAX)));
    opts.set_request_channel_capacity(REQUEST_CAPACITY);
    if let Some((user, pass)) = &b.credentials {
        opts.set_credentials(user, pass);
    }
    opts
}

/// The one task that polls the event loop.
async fn link(
    settings: &CitySettings,
    client: AsyncClient,
    mut eventloop: EventLoop,
    to_writer: mpsc::Sender<Message>,
    mut acks: mpsc::UnboundedReceiver<Vec<Ack>>,
    cancel: &CancellationToken,
) {
    let subscription = settings.broker.subscription();
    let mut backoff = Backoff::new(Duration::from_millis(100), Duration::from_secs(10));
    let mut connection = 0_u64;
    let mut held: VecDeque<Message> = VecDeque::new();
    let mut pending: VecDeque<Ack> = VecDeque::new();
    loop {
        // One poll lives until it yields: dropping it half-way could drop a packet with it.
        let event = {
            let poll = eventloop.poll();
            tokio::pin!(poll);
            loop {
                tokio::select! {
                    _ = cancel.cancelled() => break None,
                    committed = acks.recv() => match committed {
                        // Only this connection's packet ids still mean those messages.
                        Some(c) => {
                            pending.extend(c.into_iter().filter(|a| a.connection == connection));
                            flush(&client, &mut pending);
                        }
                        None => break None,
                    },
                    room = to_writer.reserve(), if !held.is_empty() => match (room, held.pop_front()) {
                        (Ok(permit), Some(m)) => permit.send(m),
                        _ => break None,
                    },
                    event = &mut poll, if held.len() < HELD_MAX => break Some(event),
                }
            }
        };
        let Some(event) = event else { break };
        match event {
            Ok(Event::Incoming(Packet::ConnAck(ack))) => {
                backoff.reset();
                connection += 1;
                if !ack.session_present {
                    pending.clear();
                }
                tracing::info!(session_present = ack.session_present, subscription, "connected to the city's broker");
                // Again on every connection: harmless on a kept session, needed on a new one.
                if let Err(e) = client.try_subscribe_many([Filter::new(subscription.clone(), QoS::AtLeastOnce)]) {
                    tracing::error!(error = %e, "cannot queue the subscription");
                }
            }
            Ok(Event::Incoming(Packet::SubAck(ack))) => {
                tracing::info!(codes = ?ack.return_codes, "subscribed");
            }
            Ok(Event::Incoming(Packet::Publish(p))) => {
                let message = message_of(p, connection);
                match to_writer.try_send(message) {
                    Ok(()) => {}
                    Err(mpsc::error::TrySendError::Full(m)) => held.push_back(m),
                    Err(mpsc::error::TrySendError::Closed(_)) => break,
                }
            }
            Ok(_) => {}
            Err(e) => {
                let delay = backoff.next_delay(fastrand::f64());
                tracing::warn!(error = %e, retry_in = ?delay, "city broker connection lost");
                tokio::select! {
                    _ = cancel.cancelled() => break,
                    _ = tokio::time::sleep(delay) => {}
                }
            }
        }
        flush(&client, &mut pending);
    }
    // A clean disconnect; what is unacknowledged stays in the session.
    if client.try_disconnect().is_ok() {
        crate::mqtt::closing::until_closed(&mut eventloop, Duration::from_secs(2)).await;
    }
}

/// Queues the acknowledgements the request channel has room for; the rest wait.
fn flush(client: &AsyncClient, pending: &mut VecDeque<Ack>) {
    while let Some(ack) = pending.front() {
        let publish = Publish { qos: QoS::AtLeastOnce, pkid: ack.pkid, ..Default::default() };
        if client.try_ack(&publish).is_err() {
            break;
        }
        pending.pop_front();
    }
}

fn message_of(p: Publish, connection: u64) -> Message {
    let ack = (p.qos != QoS::AtMostOnce).then_some(Ack { pkid: p.pkid, connection });
    // MQTT topics are UTF-8 (the broker checks).
    Message { topic: String::from_utf8_lossy(&p.topic).into_owned(), payload: p.payload, ack }
}

/// A new connection, its statements prepared (the database was migrated at start).
async fn reconnect(settings: &CitySettings) -> Result<db::Connection, DbError> {
    db::Connection::prepare(db::connect(&settings.database).await?).await
}

/// Takes what the link queued, a batch at a time: maps, commits, then acknowledges.
async fn write_loop(
    settings: CitySettings,
    mut connection: db::Connection,
    mut input: mpsc::Receiver<Message>,
    acks: mpsc::UnboundedSender<Vec<Ack>>,
    cancel: CancellationToken,
) {
    let mut backoff = Backoff::new(Duration::from_millis(200), Duration::from_secs(10));
    let mut totals = Written::default();
    loop {
        let first = tokio::select! {
            _ = cancel.cancelled() => return,
            m = input.recv() => match m { Some(m) => m, None => return },
        };
        let mut messages = vec![first];
        while messages.len() < settings.batch {
            match input.try_recv() {
                Ok(m) => messages.push(m),
                Err(_) => break,
            }
        }
        let received_at = chrono::Utc::now();
        let batch: Vec<Received> = messages
            .iter()
            .map(|m| Received {
                topic: m.topic.clone(),
                received_at,
                verdict: row::map(&settings.broker.prefix, &m.topic, &m.payload, settings.max_report_bytes),
            })
            .collect();
        for r in &batch {
            if let row::Verdict::Refuse(refusal) = &r.verdict {
                refusal.log(&r.topic);
            }
        }
        // Until it commits: a database that restarts costs a wait, never a message.
        let written = loop {
            match connection.write(&batch).await {
                Ok(w) => break w,
                Err(e) => {
                    let delay = backoff.next_delay(fastrand::f64());
                    tracing::warn!(error = %e, retry_in = ?delay, reports = batch.len(), "cannot commit; will retry");
                    tokio::select! {
                        _ = cancel.cancelled() => return,
                        _ = tokio::time::sleep(delay) => {}
                    }
                    if connection.is_closed() {
                        match reconnect(&settings).await {
                            Ok(c) => connection = c,
                            Err(e) => tracing::warn!(error = %e, "cannot reconnect to the database"),
                        }
                    }
                }
            }
        };
        backoff.reset();
        totals.stored += written.stored;
        totals.duplicates += written.duplicates;
        totals.refused += written.refused;
        tracing::debug!(?written, ?totals, "committed a batch");
        if acks.send(messages.iter().filter_map(|m| m.ack).collect()).is_err() {
            return;
        }
    }
}
