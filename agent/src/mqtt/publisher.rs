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

/// Where a task's messages go: the link's publisher in the agent, a recorder in tests, so a
/// task's shell is tested without a broker.
pub trait Publish {
    /// Queues a QoS 1 publish, not retained; `false` when it was dropped.
    fn publish(&self, topic: &str, payload: Bytes) -> bool;
}

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

impl Publish for Publisher {
    fn publish(&self, topic: &str, payload: Bytes) -> bool {
        Publisher::publish(self, topic, false, payload)
    }
}

/// A publisher that keeps what it is given, in order, and can be told to drop everything (a
/// link that is behind).
#[cfg(test)]
#[derive(Debug, Default)]
pub(crate) struct Recorder {
    sent: std::sync::Mutex<Vec<(String, Bytes)>>,
    pub(crate) dropping: std::sync::atomic::AtomicBool,
}

#[cfg(test)]
impl Recorder {
    /// What was published so far, as (topic, payload as text).
    pub(crate) fn sent(&self) -> Vec<(String, String)> {
        let sent = self.sent.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        sent.iter().map(|(t, p)| (t.clone(), String::from_utf8_lossy(p).into_owned())).collect()
    }
}

#[cfg(test)]
impl Publish for std::sync::Arc<Recorder> {
    fn publish(&self, topic: &str, payload: Bytes) -> bool {
        if self.dropping.load(std::sync::atomic::Ordering::Relaxed) {
            return false;
        }
        self.sent.lock().unwrap_or_else(std::sync::PoisonError::into_inner).push((topic.to_string(), payload));
        true
    }
}
