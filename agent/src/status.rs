//! The agent's own retained `<prefix>/status`: online with version and health on every
//! connection and every `status_interval`; `offline` as last will and on a clean stop.
//! Schema: `config/schemas/status.json` (`sobre.status/1`).

use crate::clock::{iso, Clock};
use crate::config::Settings;
use crate::stats::Stats;
use rumqttc::{AsyncClient, QoS};
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
        json!({
            "schema": SCHEMA,
            "site": self.settings.site.id,
            "state": "online",
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
            }
        })
        .to_string()
        .into_bytes()
    }
}

#[derive(Debug)]
pub struct StatusPublisher {
    pub client: AsyncClient,
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
            }
            if let Err(e) = self.client.publish(&topic, QoS::AtLeastOnce, true, self.health.online()).await {
                tracing::warn!(error = %e, "cannot queue the status message");
            }
        }
    }
}
