//! The agent's own retained `<prefix>/status`: `online` with version and health on every
//! connection and every `status_interval`, `degraded` at once while the disk refuses the
//! store's commits (readings are then left with the broker, not acknowledged); `offline` as
//! last will and on a clean stop. Schema: `config/schemas/status.json` (`sobre.status/1`).

use crate::clock::{iso, Clock};
use crate::config::Settings;
use crate::mqtt::Publisher;
use crate::stats::Stats;
use serde_json::json;
use std::sync::Arc;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

pub const SCHEMA: &str = "sobre.status/1";

pub fn topic(settings: &Settings) -> String {
    format!("{}/status", settings.agent.topic_prefix)
}

pub fn offline(settings: &Settings) -> Vec<u8> {
    json!({ "schema": SCHEMA, "site": settings.site.id, "state": "offline" }).to_string().into_bytes()
}

/// What the online status says: published on the building's broker and, by the uplink, on
/// the city's.
#[derive(Debug, Clone)]
pub struct Health {
    pub settings: Arc<Settings>,
    pub clock: Clock,
    pub stats: Arc<Stats>,
    pub started_ms: i64,
}

impl Health {
    pub fn online(&self) -> Vec<u8> {
        let s = self.stats.snapshot();
        let state = if s.store_failing { "degraded" } else { "online" };
        json!({
            "schema": SCHEMA,
            "site": self.settings.site.id,
            "state": state,
            "version": env!("CARGO_PKG_VERSION"),
            "started_at": iso(self.started_ms),
            "now": iso(self.clock.now_ms()),
            "clock": match self.clock.mode() { crate::config::ClockMode::Wall => "wall", crate::config::ClockMode::Event => "event" },
            "points": self.settings.points.len(),
            "health": {
                "messages": s.messages,
                "accepted": s.accepted,
                "rejected": s.rejected,
                "stored": s.stored,
                "lost": s.lost,
                "devices_offline": s.devices_offline,
                "connections": s.connections,
                "store_failing": s.store_failing,
                "requests_dropped": s.requests_dropped,
                "readings_dropped": s.readings_dropped,
                "resyncs": s.resyncs,
                "publish_dropped": s.publish_dropped,
                "publish_refused": s.publish_refused,
            }
        })
        .to_string()
        .into_bytes()
    }
}

#[derive(Debug)]
pub struct StatusPublisher {
    pub publisher: Publisher,
    pub health: Health,
}

impl StatusPublisher {
    pub async fn run(self, mut connected: watch::Receiver<u64>, cancel: CancellationToken) {
        let settings = &self.health.settings;
        let topic = topic(settings);
        let mut refresh =
            tokio::time::interval(settings.agent.status_interval.0.max(std::time::Duration::from_secs(1)));
        loop {
            tokio::select! {
                _ = cancel.cancelled() => break,
                changed = connected.changed() => if changed.is_err() { break },
                _ = refresh.tick() => if *connected.borrow() == 0 { continue },
                _ = self.health.stats.health_changed.notified() => if *connected.borrow() == 0 { continue },
            }
            self.publisher.publish(topic.as_str(), true, self.health.online());
        }
    }
}
