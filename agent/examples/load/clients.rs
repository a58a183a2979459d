//! The load's MQTT clients: a publisher, and a bare subscriber that receives what the agent
//! receives and only counts it.

use rumqttc::{Client, Event, MqttOptions, Packet, QoS};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

pub struct Publisher {
    pub client: Client,
}

impl Publisher {
    pub fn connect(port: u16) -> Self {
        let mut opts = MqttOptions::new(format!("load-pub-{}", fastrand::u32(..)), "127.0.0.1", port);
        opts.set_inflight(1000);
        let (client, mut connection) = Client::new(opts, 10_000);
        std::thread::spawn(move || for _ in connection.iter() {});
        Publisher { client }
    }

    /// One reading of point `point` stamped `ts_s` (seconds since 1970).
    pub fn reading(&self, point: u64, ts_s: i64, value: f64, qos: QoS) -> Result<(), rumqttc::ClientError> {
        let ts = chrono::DateTime::from_timestamp(ts_s, 0).unwrap_or_default().to_rfc3339();
        self.client.publish(format!("load/p{point}"), qos, false, format!("{{\"ts\":\"{ts}\",\"value\":{value}}}"))
    }
}

/// Subscribes to everything the agent gets and only counts.
pub struct BareSubscriber {
    pub received: Arc<AtomicU64>,
    pub status_online: Arc<AtomicU64>,
}

impl BareSubscriber {
    pub fn start(port: u16) -> Self {
        let received = Arc::new(AtomicU64::new(0));
        let status_online = Arc::new(AtomicU64::new(0));
        let (r, s) = (received.clone(), status_online.clone());
        let mut opts = MqttOptions::new(format!("load-bare-{}", fastrand::u32(..)), "127.0.0.1", port);
        opts.set_max_packet_size(1 << 20, 1 << 20);
        let (client, mut connection) = Client::new(opts, 100);
        std::thread::spawn(move || {
            for event in connection.iter() {
                match event {
                    Ok(Event::Incoming(Packet::ConnAck(_))) => {
                        let _ = client.try_subscribe("load/#", QoS::AtLeastOnce);
                        let _ = client.try_subscribe("sobre/load/status", QoS::AtLeastOnce);
                    }
                    Ok(Event::Incoming(Packet::Publish(p))) if p.topic.starts_with("load/") => {
                        r.fetch_add(1, Ordering::Relaxed);
                    }
                    Ok(Event::Incoming(Packet::Publish(p))) if p.payload.windows(8).any(|w| w == b"\"online\"") => {
                        s.fetch_add(1, Ordering::Relaxed);
                    }
                    _ => {}
                }
            }
        });
        BareSubscriber { received, status_online }
    }

    pub fn online(&self) -> bool {
        self.status_online.load(Ordering::Relaxed) > 0
    }

    pub fn received(&self) -> u64 {
        self.received.load(Ordering::Relaxed)
    }
}
