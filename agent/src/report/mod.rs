//! The reporter: on an event-time cadence, builds the reports the city's dashboard reads and
//! queues them in the outbox. Each report has a stable id (`<site>/<kind>/<period start>`), so
//! building it again after a restart, or delivering it twice, is harmless. Reports carry the
//! site code, aggregates and model metadata only: never a raw series, a person or an address.

mod footprint;
mod health;
mod register;
mod savings;

use crate::clock::Clock;
use crate::config::Settings;
use crate::shared::Shared;
use crate::stats::Stats;
use crate::store::{Activity, Store};
use crate::uplink::outbox::{OutboxError, Priority, Report};
use crate::uplink::sender::SharedOutbox;
use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::{json, Value};
use std::sync::Arc;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

/// Periods built per look, so a long replay catches up in bounded steps.
const PERIODS_PER_LOOK: usize = 500;

pub fn iso(ms: i64) -> String {
    DateTime::<Utc>::from_timestamp_millis(ms).unwrap_or_default().to_rfc3339_opts(SecondsFormat::Secs, true)
}

pub fn topic(settings: &Settings, prefix: &str, kind: &str) -> String {
    format!("{prefix}/{}/reports/{kind}", settings.site.id)
}

/// The fields every report starts with.
fn envelope(settings: &Settings, schema: &str, kind: &str, id: &str, period: (i64, i64)) -> Value {
    json!({
        "schema": schema,
        "id": id,
        "site": settings.site.id,
        "kind": kind,
        "period": { "start": iso(period.0), "end": iso(period.1) },
        "agent_version": env!("CARGO_PKG_VERSION"),
    })
}

#[derive(Debug)]
pub struct Reporter {
    pub settings: Arc<Settings>,
    pub prefix: String,
    pub outbox: SharedOutbox,
    /// Rung when something was queued, so the sender need not poll.
    pub queued: Arc<Notify>,
    pub store: Shared<Store>,
    pub clock: Clock,
    pub stats: Arc<Stats>,
    pub started_ms: i64,
}

impl Reporter {
    pub async fn run(self, cancel: CancellationToken) {
        self.queue_register().await;
        let mut fitted = savings::Fitted::default();
        let mut look = tokio::time::interval(self.settings.reports.check_interval.0);
        loop {
            let stopping = tokio::select! {
                _ = cancel.cancelled() => true,
                _ = look.tick() => false,
            };
            // On a stop, one last look: periods the data completed just before it.
            // Savings first: the footprint reports set what the savings avoided beside the
            // agent's own cost.
            let savings = self
                .savings_due(&mut fitted)
                .await
                .inspect_err(|e| tracing::error!(error = %e, "cannot queue savings reports"));
            let health = self
                .health_due(&fitted)
                .await
                .inspect_err(|e| tracing::error!(error = %e, "cannot queue health reports"));
            if let (Ok(Some(health)), Ok(savings)) = (health, savings) {
                let through = health.min(savings.unwrap_or(i64::MAX)).max(0) as u64;
                self.stats.reports_through_ms.fetch_max(through, std::sync::atomic::Ordering::Relaxed);
            }
            if stopping {
                break;
            }
        }
    }

    /// The AI register entry of this agent version: once per version (stable id).
    async fn queue_register(&self) {
        let report = register::report(&self.settings, &self.prefix, self.clock.now_ms(), None);
        match self.outbox.try_with(move |o| o.enqueue(&report)).await {
            Ok(added) => self.queued(usize::from(added)),
            Err(e) => tracing::error!(error = %e, "cannot queue the register entry"),
        }
    }

    /// Queues a health and a footprint report for every completed period of event time;
    /// returns the time it looked up to (none before any data).
    async fn health_due(&self, fitted: &savings::Fitted) -> Result<Option<i64>, OutboxError> {
        if self.clock.awaits_data() {
            return Ok(None);
        }
        let now = self.now_ms();
        let interval = self.settings.reports.health_interval.as_millis_i64().max(60_000);
        let next_end = match self.outbox.try_with(|o| o.progress("health")).await? {
            Some(next) => next,
            // A new series starts with the period of the oldest data the store holds.
            None => match self.store.with(|s| s.oldest_ms()).await?.ok().flatten() {
                Some(oldest) => (oldest.div_euclid(interval) + 1) * interval,
                None => return Ok(None),
            },
        };
        let mut next_end = next_end;
        for _ in 0..PERIODS_PER_LOOK {
            if next_end > now {
                break;
            }
            let period = (next_end - interval, next_end);
            let activity = self.store.with(move |s| s.activity(period.0, period.1)).await?.unwrap_or_else(|e| {
                tracing::warn!(error = %e, "cannot count the period's readings; the health report says none");
                Activity::default()
            });
            let (depth, drops) = self.outbox.try_with(|o| Ok::<_, OutboxError>((o.depth()?, o.drops()?))).await?;
            let saved = self.saved_kwh(fitted, period).await?;
            let reports =
                vec![health::report(self, period, activity, depth, &drops), footprint::report(self, period, saved)];
            next_end += interval;
            let end = next_end;
            let added = self.outbox.try_with(move |o| o.enqueue_period(&reports, "health", end)).await?;
            self.queued(added);
        }
        // A look that stopped at its cap has not reached `now`.
        Ok(Some(if next_end > now { now } else { next_end - interval }))
    }

    /// How far reports may look: in event time, no further than what the store has committed
    /// (ingest runs ahead of the writer); on the wall clock, a couple of commits back.
    fn now_ms(&self) -> i64 {
        match self.clock.mode() {
            crate::config::ClockMode::Event => {
                let stored = self.stats.snapshot().stored_through_ms;
                self.clock.now_ms().min(i64::try_from(stored).unwrap_or(i64::MAX))
            }
            crate::config::ClockMode::Wall => {
                self.clock.now_ms() - 2 * self.settings.storage.commit_interval.as_millis_i64()
            }
        }
    }

    /// Counts what was queued and wakes the sender.
    fn queued(&self, added: usize) {
        Stats::add(&self.stats.reports_queued, added as u64);
        self.queued.notify_one();
    }
}

fn build(
    settings: &Settings,
    prefix: &str,
    kind: &str,
    priority: Priority,
    id: String,
    body: Value,
    now_ms: i64,
) -> Report {
    Report {
        topic: topic(settings, prefix, kind),
        kind: kind.to_string(),
        priority,
        payload: body.to_string().into_bytes(),
        created_ms: now_ms,
        id,
    }
}
