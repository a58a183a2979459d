//! Where control's effects go: commands and decisions to the building's broker through a
//! `Publish`, records into the control log, settled events to the report layer over a channel,
//! counts to the stats. A log that cannot be written costs the record, never the control; a
//! message the link drops costs that message.

use super::effect::{Effect, Record};
use super::flex_status::Status;
use super::log::{ControlLog, Kind};
use super::settle::Settlement;
use crate::mqtt::publisher::Publish;
use crate::shared::Shared;
use crate::stats::Stats;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use tokio::sync::mpsc;

#[derive(Debug)]
pub(crate) struct Outlet<P> {
    pub(crate) publisher: P,
    pub(crate) log: Shared<ControlLog>,
    /// `<prefix>/decisions`.
    pub(crate) decisions: String,
    pub(crate) stats: Arc<Stats>,
    /// The report layer's end, when the site reports to a city.
    pub(crate) settlements: Option<mpsc::Sender<Settlement>>,
}

impl<P: Publish> Outlet<P> {
    /// Carries `effects` out in their order.
    pub(crate) async fn carry_out(&self, effects: Vec<Effect>) {
        for effect in effects {
            match effect {
                // The publisher counts and logs what the link drops.
                Effect::Send { topic, payload } => {
                    if self.publisher.publish(&topic, payload) {
                        Stats::add(&self.stats.commands_sent, 1);
                    }
                }
                Effect::Record(record) => self.record(record).await,
                Effect::FlexAnswer { status, topic, payload } => {
                    Stats::add(&self.stats.flex_answers[status.index()], 1);
                    if status == Status::Refused {
                        Stats::add(&self.stats.flex_refused, 1);
                    }
                    self.publisher.publish(&topic, payload);
                }
                Effect::Settled(s) => self.report(s).await,
                Effect::Stepped { at_ms } => {
                    self.stats.control_through_ms.fetch_max(at_ms.max(0) as u64, Ordering::Relaxed);
                }
            }
        }
    }

    /// Appends to the log, then publishes the record as the log numbered it. What the agent
    /// does to the building (a command, a release, an unexplained readback, a watchdog trip)
    /// is also an INFO line and a count by zone and kind.
    async fn record(&self, r: Record) {
        let Record { kind, zone, ts_ms, why, detail } = r;
        let acts = matches!(kind, Kind::Command | Kind::Release | Kind::Unexplained | Kind::WatchdogTripped);
        let shadowed = detail.get("shadow").and_then(serde_json::Value::as_bool) == Some(true);
        if let (true, false, Some(zone)) = (acts, shadowed, zone.as_deref()) {
            tracing::info!(zone, kind = kind.name(), at = crate::clock::iso(ts_ms), "control: {why}");
            self.stats.control_action(zone, kind.name());
        }
        match self.log.try_with(move |l| l.append(kind, zone.as_deref(), ts_ms, &why, detail)).await {
            Ok(record) => {
                self.publisher.publish(&self.decisions, record.to_string().into());
            }
            Err(e) => tracing::error!(error = %e, kind = kind.name(), "control: record not written"),
        }
    }

    /// Hands a settled event to the report layer. A full channel (a few events a day never fill
    /// it) makes control wait for room: the report layer never waits on control, and a dropped
    /// settlement would be a report the city never gets.
    async fn report(&self, s: Settlement) {
        let Some(settlements) = &self.settlements else { return };
        if let Err(e) = settlements.send(s).await {
            tracing::error!(id = e.0.event_id, "control: flex report not queued: the report layer has stopped");
        }
    }
}
