//! The emulator on a broker: publishes what its devices publish after every step (QoS 1),
//! applies the commands and overrides it receives between steps, and paces itself: as fast as
//! the broker takes it, at a multiple of real time, or one batch of steps per request.

use super::emulator::{Emulator, Inbound};
use super::Pace;
use crate::mqtt::backoff::Backoff;
use rumqttc::{AsyncClient, Event, MqttOptions, Outgoing, Packet, QoS, SubscribeFilter};
use std::future::Future;
use std::time::Duration;
use tokio::sync::{mpsc, watch};
use tokio::time::Instant;

#[derive(Debug, Clone)]
pub struct Target {
    pub host: String,
    pub port: u16,
    /// Give up when the broker acknowledges nothing for this long.
    pub stall_timeout: Duration,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SimSummary {
    pub steps: u64,
    /// Device messages published (not counting the clock).
    pub published: u64,
    pub commands: u64,
    pub refused: u64,
}

#[derive(Debug, thiserror::Error)]
pub enum SimError {
    #[error("the broker at {host}:{port} acknowledged nothing for {timeout:?}")]
    Stalled { host: String, port: u16, timeout: Duration },
    #[error("the broker at {host}:{port} closed the session")]
    Closed { host: String, port: u16 },
    #[error(transparent)]
    Physics(#[from] sobre_models::emulator::EmulatorError),
}

struct Connection {
    client: AsyncClient,
    inbound: mpsc::Receiver<(String, Vec<u8>)>,
    subscribed: watch::Receiver<u64>,
    acked: watch::Receiver<u64>,
    poller: tokio::task::JoinHandle<()>,
}

fn connect(emulator: &Emulator, target: &Target) -> Connection {
    let mut options = MqttOptions::new(
        format!("sobre-sim-{}-{}", emulator.settings().id, fastrand::u32(..)),
        &target.host,
        target.port,
    );
    options.set_keep_alive(Duration::from_secs(30));
    options.set_max_packet_size(1 << 20, 1 << 20);
    let (client, mut eventloop) = AsyncClient::new(options, 1024);
    let (inbound_tx, inbound) = mpsc::channel(1024);
    let (subscribed_tx, subscribed) = watch::channel(0u64);
    let (acked_tx, acked) = watch::channel(0u64);
    let filters: Vec<SubscribeFilter> =
        emulator.subscriptions().into_iter().map(|t| SubscribeFilter::new(t, QoS::AtLeastOnce)).collect();
    let resubscribe = client.clone();
    let poller = tokio::spawn(async move {
        let mut backoff = Backoff::new(Duration::from_millis(100), Duration::from_secs(2));
        loop {
            match eventloop.poll().await {
                Ok(Event::Incoming(Packet::Publish(p))) => {
                    if inbound_tx.send((p.topic, p.payload.to_vec())).await.is_err() {
                        break;
                    }
                }
                Ok(Event::Incoming(Packet::ConnAck(_))) => {
                    backoff.reset();
                    // No session is kept: subscribe again on every connection.
                    if resubscribe.try_subscribe_many(filters.clone()).is_err() {
                        tracing::warn!("the emulator could not queue its subscriptions");
                    }
                }
                Ok(Event::Incoming(Packet::SubAck(_))) => {
                    subscribed_tx.send_modify(|n| *n += 1);
                }
                Ok(Event::Incoming(Packet::PubAck(_))) => acked_tx.send_modify(|n| *n += 1),
                Ok(Event::Outgoing(Outgoing::Disconnect)) => break,
                Ok(_) => {}
                Err(e) => {
                    let delay = backoff.next_delay(fastrand::f64());
                    tracing::warn!(error = %e, retry_in = ?delay, "emulator connection");
                    tokio::time::sleep(delay).await;
                }
            }
        }
    });
    Connection { client, inbound, subscribed, acked, poller }
}

/// Runs the emulator on the broker until its period is over (max and factor paces) or until
/// `shutdown` completes (any pace). Returns once the broker has acknowledged everything.
pub async fn run(
    mut emulator: Emulator,
    target: &Target,
    pace: Pace,
    shutdown: impl Future<Output = ()>,
) -> Result<SimSummary, SimError> {
    let mut c = connect(&emulator, target);
    let stalled = || SimError::Stalled { host: target.host.clone(), port: target.port, timeout: target.stall_timeout };
    // Commands sent before the subscription is in place would be lost.
    tokio::time::timeout(target.stall_timeout, c.subscribed.wait_for(|n| *n > 0))
        .await
        .map_err(|_| stalled())?
        .map_err(|_| SimError::Closed { host: target.host.clone(), port: target.port })?;
    let mut summary = SimSummary::default();
    let mut published = 0u64;
    let mut batch = Vec::new();
    tokio::pin!(shutdown);
    publish_clock(&mut emulator, &c.client, &mut published).await;
    tracing::info!(building = emulator.settings().id, steps = emulator.settings().steps, ?pace, "emulator running");
    let started = Instant::now();
    loop {
        match pace {
            Pace::Stepped => {
                let message = tokio::select! {
                    m = c.inbound.recv() => m,
                    () = &mut shutdown => None,
                };
                let Some((topic, payload)) = message else { break };
                if let Some(n) = apply(&mut emulator, &topic, &payload, &mut summary) {
                    for _ in 0..n {
                        step(&mut emulator, &c.client, &mut batch, &mut summary, &mut published).await?;
                    }
                    publish_clock(&mut emulator, &c.client, &mut published).await;
                }
            }
            Pace::Max | Pace::Factor(_) => {
                if emulator.is_done() {
                    break;
                }
                while let Ok((topic, payload)) = c.inbound.try_recv() {
                    apply(&mut emulator, &topic, &payload, &mut summary);
                }
                if let Pace::Factor(factor) = pace {
                    let due =
                        started + Duration::from_secs_f64(summary.steps as f64 * emulator.settings().step_s / factor);
                    tokio::select! {
                        () = tokio::time::sleep_until(due) => {},
                        () = &mut shutdown => break,
                    }
                }
                step(&mut emulator, &c.client, &mut batch, &mut summary, &mut published).await?;
                if emulator.is_done() || summary.steps % 96 == 0 {
                    publish_clock(&mut emulator, &c.client, &mut published).await;
                }
            }
        }
    }
    // Wait for the broker to take everything, failing if it stops making progress.
    loop {
        let acked = *c.acked.borrow();
        if acked >= published {
            break;
        }
        match tokio::time::timeout(target.stall_timeout, c.acked.changed()).await {
            Ok(Ok(())) => {}
            _ => {
                c.poller.abort();
                return Err(stalled());
            }
        }
    }
    let _ = c.client.disconnect().await;
    let _ = tokio::time::timeout(Duration::from_secs(2), c.poller).await;
    Ok(summary)
}

/// Applies a message; returns the number of steps asked for, if it asked for steps.
fn apply(emulator: &mut Emulator, topic: &str, payload: &[u8], summary: &mut SimSummary) -> Option<u64> {
    match emulator.handle(topic, payload) {
        Inbound::Step(n) => return Some(n),
        Inbound::Command { zone, setpoint } => {
            summary.commands += 1;
            tracing::debug!(zone, setpoint, "setpoint command");
        }
        Inbound::Occupant { zone, setpoint } => tracing::info!(zone, setpoint, "an occupant set the thermostat"),
        Inbound::Released { zone } => tracing::debug!(zone, "setpoint released: the programme is back"),
        Inbound::AgentOffline => tracing::info!("the agent is offline: thermostats follow their own programme"),
        Inbound::Refused { topic, error } => {
            summary.refused += 1;
            tracing::warn!(topic, %error, "command refused");
        }
        Inbound::Ignored => {}
    }
    None
}

async fn step(
    emulator: &mut Emulator,
    client: &AsyncClient,
    batch: &mut Vec<(String, String)>,
    summary: &mut SimSummary,
    published: &mut u64,
) -> Result<(), SimError> {
    if emulator.is_done() {
        return Ok(());
    }
    emulator.step()?;
    summary.steps += 1;
    batch.clear();
    emulator.messages(batch);
    for (topic, payload) in batch.drain(..) {
        if client.publish(topic, QoS::AtLeastOnce, false, payload).await.is_ok() {
            *published += 1;
            summary.published += 1;
        }
    }
    Ok(())
}

async fn publish_clock(emulator: &mut Emulator, client: &AsyncClient, published: &mut u64) {
    let topic = emulator.topics().clock.clone();
    let payload = serde_json::to_string(emulator.truth()).unwrap_or_default();
    if client.publish(topic, QoS::AtLeastOnce, false, payload).await.is_ok() {
        *published += 1;
    }
}
