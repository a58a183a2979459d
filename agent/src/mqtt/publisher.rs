//! How every task but the link publishes on the building's broker: QoS 1, never waiting. When
//! the link's request queue is full (the broker slow or away), the message is dropped, counted
//! and logged (one line a minute): what matters is in the store or the ledger already, and a
//! task that waited here could wait on the link while the link waits on it.

use crate::quiet::Quiet;
use crate::stats::Stats;
use bytes::Bytes;
use rumqttc::v5::mqttbytes::QoS;
use rumqttc::v5::AsyncClient;
use std::sync::Arc;
use std::time::Duration;

#[derive(Debug, Clone)]
pub struct Publisher {
    client: AsyncClient,
    stats: Arc<Stats>,
    quiet: Arc<Quiet>,
}

impl Publisher {
    pub fn new(client: AsyncClient, stats: Arc<Stats>) -> Self {
        Self { client, stats, quiet: Arc::new(Quiet::new(Duration::from_secs(60))) }
    }

    /// Queues a QoS 1 publish; `false` when it was dropped.
    pub fn publish(&self, topic: impl Into<String>, retain: bool, payload: impl Into<Bytes>) -> bool {
        let topic = topic.into();
        match self.client.try_publish(topic.as_str(), QoS::AtLeastOnce, retain, payload) {
            Ok(()) => true,
            Err(_) => {
                Stats::add(&self.stats.publish_dropped, 1);
                if let Some(held) = self.quiet.allow() {
                    tracing::warn!(
                        topic,
                        also_dropped_since_last_line = held,
                        "a message was not published: the link to the broker is behind (broker slow or away)"
                    );
                }
                false
            }
        }
    }
}
