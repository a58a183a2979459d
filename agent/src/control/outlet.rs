//! Where control's effects go: commands and decisions to the building's broker through a
//! `Publish`, records into the control log, what became of flex requests to the report layer over a channel,
//! counts to the stats. A log that cannot be written costs the record, never the control; a
//! message the link drops costs that message.

use super::effect::{Effect, Record};
use super::flex_status::Status;
use super::log::{ControlLog, Kind};
use super::settle::Outcome;
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
    pub(crate) outcomes: Option<mpsc::Sender<Outcome>>,
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
                Effect::Report(outcome) => self.report(outcome).await,
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

    /// Hands what became of a flex request to the report layer. A settlement (a few a day)
    /// waits for room: a dropped one would be a report the city never gets. A refusal or a
    /// cancellation comes as often as requests do, and the requester has had its answer on
    /// the status topic: when the report layer is behind it is dropped and counted, so that a
    /// flood of requests never holds up control.
    async fn report(&self, outcome: Outcome) {
        let Some(outcomes) = &self.outcomes else { return };
        let sent = match outcome {
            Outcome::Settled(_) => outcomes.send(outcome).await.map_err(|_| "the report layer has stopped"),
            Outcome::Declined(_) => outcomes.try_send(outcome).map_err(|e| match e {
                mpsc::error::TrySendError::Full(_) => "the report layer is behind",
                mpsc::error::TrySendError::Closed(_) => "the report layer has stopped",
            }),
        };
        if let Err(why) = sent {
            Stats::add(&self.stats.flex_reports_withheld, 1);
            tracing::warn!(why, "control: flex report not queued");
        }
    }
}
