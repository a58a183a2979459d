//! The MQTT link, the only code that touches rumqttc's event loop. One task polls it; others
//! publish through the cloned `AsyncClient`. Clean sessions: on every ConnAck the link
//! subscribes again, and announces the connection on a watch channel.

pub mod backoff;

use crate::config::BrokerSettings;
use crate::stats::Stats;
use backoff::Backoff;
use bytes::Bytes;
use rumqttc::{
    AsyncClient, Event, EventLoop, LastWill, MqttOptions, Outgoing, Packet, QoS, TlsConfiguration, Transport,
};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{mpsc, watch};
use tokio_util::sync::CancellationToken;

/// A message from the broker, stamped with the wall time it arrived.
#[derive(Debug, Clone)]
pub struct Inbound {
    pub topic: String,
    pub payload: Bytes,
    pub received_ms: i64,
}

/// A retained message the link publishes itself: the status on connect, the last will.
#[derive(Debug, Clone)]
pub struct Retained {
    pub topic: String,
    pub payload: Vec<u8>,
}

/// Where the link sends the messages of some topics instead of ingest.
#[derive(Debug, Clone)]
pub struct Route {
    /// A topic, or a prefix when it ends with `/`.
    pub topics: String,
    pub to: mpsc::Sender<Inbound>,
}

impl Route {
    fn takes(&self, topic: &str) -> bool {
        if self.topics.ends_with('/') {
            topic.starts_with(self.topics.as_str())
        } else {
            topic == self.topics
        }
    }
}

/// How long a graceful disconnect may take to flush the final status.
const DISCONNECT_GRACE: Duration = Duration::from_secs(2);
/// Requests (publishes, subscribes) waiting for the event loop.
const REQUEST_CAPACITY: usize = 256;

pub fn options(broker: &BrokerSettings, will: &Retained) -> MqttOptions {
    let mut opts = MqttOptions::new(&broker.client_id, &broker.host, broker.port);
    opts.set_keep_alive(broker.keep_alive.0.max(Duration::from_secs(1)));
    opts.set_clean_session(true);
    opts.set_max_packet_size(broker.max_packet_bytes, broker.max_packet_bytes);
    opts.set_last_will(LastWill::new(&will.topic, will.payload.clone(), QoS::AtLeastOnce, true));
    if let Some((user, pass)) = &broker.credentials {
        opts.set_credentials(user, pass);
    }
    if let Some(tls) = &broker.tls {
        opts.set_transport(Transport::tls_with_config(TlsConfiguration::Simple {
            ca: tls.ca_pem.clone(),
            alpn: None,
            client_auth: tls.client_auth.clone(),
        }));
    }
    opts
}

pub fn client(broker: &BrokerSettings, will: &Retained) -> (AsyncClient, EventLoop) {
    AsyncClient::new(options(broker, will), REQUEST_CAPACITY)
}

pub struct Link {
    pub eventloop: EventLoop,
    pub client: AsyncClient,
    pub subscriptions: Vec<String>,
    /// Messages for the agent itself (decisions, Home Assistant's birth, later overrides and
    /// flex events) go to their route's channel instead of ingest.
    pub routes: Vec<Route>,
    pub backoff: Backoff,
    /// Published (retained) when the agent stops on purpose; the last will covers the rest.
    pub goodbye: Retained,
    /// Bumped on every ConnAck, so the status publisher can announce itself.
    pub connected: watch::Sender<u64>,
    pub stats: Arc<Stats>,
}

impl std::fmt::Debug for Link {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Link").field("subscriptions", &self.subscriptions).field("backoff", &self.backoff).finish()
    }
}

impl Link {
    /// Polls until `cancel`, forwarding publishes to `inbound`. When `inbound` is full the
    /// link waits: TCP back-pressure on the broker, nothing dropped here.
    pub async fn run(mut self, inbound: mpsc::Sender<Inbound>, cancel: CancellationToken) {
        let mut generation = 0u64;
        loop {
            let event = tokio::select! {
                _ = cancel.cancelled() => break,
                event = self.eventloop.poll() => event,
            };
            match event {
                Ok(Event::Incoming(Packet::ConnAck(ack))) => {
                    self.backoff.reset();
                    generation += 1;
                    Stats::add(&self.stats.connections, 1);
                    tracing::info!(
                        session_present = ack.session_present,
                        topics = self.subscriptions.len(),
                        "connected to the broker"
                    );
                    let topics =
                        self.subscriptions.iter().map(|t| rumqttc::SubscribeFilter::new(t.clone(), QoS::AtLeastOnce));
                    if let Err(e) = self.client.try_subscribe_many(topics) {
                        tracing::error!(error = %e, "cannot queue subscriptions");
                    }
                    self.connected.send_replace(generation);
                }
                Ok(Event::Incoming(Packet::Publish(publish))) => {
                    let message = Inbound {
                        topic: publish.topic,
                        payload: publish.payload,
                        received_ms: chrono::Utc::now().timestamp_millis(),
                    };
                    let to = self.routes.iter().find(|r| r.takes(&message.topic)).map_or(&inbound, |r| &r.to);
                    tokio::select! {
                        _ = cancel.cancelled() => break,
                        sent = to.send(message) => if sent.is_err() { break },
                    }
                }
                Ok(Event::Incoming(Packet::SubAck(ack))) => {
                    let refused =
                        ack.return_codes.iter().filter(|c| matches!(c, rumqttc::SubscribeReasonCode::Failure)).count();
                    if refused > 0 {
                        tracing::error!(refused, "the broker refused subscriptions (ACL?)");
                    }
                    Stats::add(&self.stats.subscribed, 1);
                }
                Ok(_) => {}
                Err(e) => {
                    let delay = self.backoff.next_delay(fastrand::f64());
                    tracing::warn!(error = %e, attempt = self.backoff.attempt(), retry_in = ?delay, "MQTT connection lost");
                    tokio::select! {
                        _ = cancel.cancelled() => break,
                        _ = tokio::time::sleep(delay) => {}
                    }
                }
            }
        }
        self.say_goodbye().await;
    }

    /// Publishes the offline status and disconnects, polling until both are on the wire or
    /// the grace period ends.
    async fn say_goodbye(mut self) {
        let queued =
            self.client.try_publish(&self.goodbye.topic, QoS::AtLeastOnce, true, self.goodbye.payload.clone()).is_ok()
                && self.client.try_disconnect().is_ok();
        if !queued {
            return;
        }
        let flush = async {
            loop {
                match self.eventloop.poll().await {
                    Ok(Event::Outgoing(Outgoing::Disconnect)) | Err(_) => break,
                    Ok(_) => {}
                }
            }
        };
        if tokio::time::timeout(DISCONNECT_GRACE, flush).await.is_err() {
            tracing::warn!("broker did not take the goodbye in time; the last will says offline instead");
        }
    }
}
