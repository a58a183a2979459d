//! The reporter: on an event-time cadence, builds the reports the city's dashboard reads and
//! queues them in the outbox. Each report has a stable id (`<site>/<kind>/<period start>`), so
//! building it again after a restart, or delivering it twice, is harmless. Reports carry the
//! site code, aggregates and model metadata only: never a raw series, a person or an address.

mod flex;
mod footprint;
mod health;
mod register;
mod savings;

pub use crate::clock::iso;
use crate::clock::Clock;
use crate::config::Settings;
use crate::shared::Shared;
use crate::stats::Stats;
use crate::store::rollup::Calendar;
use crate::store::{Activity, Store};
use crate::uplink::outbox::{OutboxError, Priority, Report};
use crate::uplink::sender::SharedOutbox;
pub use flex::FlexReports;
use serde_json::{json, Value};
use std::sync::Arc;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

/// The health cadence: local days when the interval is a day (what a facility manager reads),
/// else multiples of the interval since the epoch.
#[derive(Debug, Clone, Copy)]
enum Cadence {
    LocalDays(Calendar),
    Every(i64),
}

impl Cadence {
    fn of(settings: &Settings) -> Self {
        match settings.reports.health_interval.as_millis_i64() {
            86_400_000 => Cadence::LocalDays(Calendar { tz: settings.site.timezone }),
            ms => Cadence::Every(ms.max(60_000)),
        }
    }

    /// The end of the period holding `ts_ms`.
    fn end_of_period(self, ts_ms: i64) -> i64 {
        match self {
            Cadence::LocalDays(c) => c.local_midnight(c.next_day(c.local_date(ts_ms))),
            Cadence::Every(ms) => (ts_ms.div_euclid(ms) + 1) * ms,
        }
    }

    /// The start of the period ending at `end_ms`.
    fn start_of_period(self, end_ms: i64) -> i64 {
        match self {
            Cadence::LocalDays(c) => c.local_midnight(c.local_date(end_ms - 1)),
            Cadence::Every(ms) => end_ms - ms,
        }
    }
}

/// Periods built per look, so a long replay catches up in bounded steps.
const PERIODS_PER_LOOK: usize = 500;

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

/// How long, on the wall clock, a health and footprint period waits for the savings series to
/// be stored past its end before it goes without them.
const FOOTPRINT_WAITS_MS: i64 = 2 * 86_400_000;

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
            let savings_through = savings.as_ref().ok().copied().flatten();
            let health = self
                .health_due(&fitted, savings_through)
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
    /// returns the time it looked up to (none before any data). A period waits until the
    /// savings series are stored past its end (`savings_through`), so that its footprint sets
    /// what they avoided beside the agent's cost: in event time without limit (a replay's
    /// devices arrive at their own pace, days apart), on the wall clock at most
    /// [`FOOTPRINT_WAITS_MS`] (a silent meter must not silence the agent's health).
    async fn health_due(
        &self,
        fitted: &savings::Fitted,
        savings_through: Option<i64>,
    ) -> Result<Option<i64>, OutboxError> {
        if self.clock.awaits_data() {
            return Ok(None);
        }
        let now = self.now_ms();
        let cadence = Cadence::of(&self.settings);
        let next_end = match self.outbox.try_with(|o| o.progress("health")).await? {
            Some(next) => next,
            // A new series starts with the period of the oldest data the store holds.
            None => match self.store.with(|s| s.oldest_ms()).await?.ok().flatten() {
                Some(oldest) => cadence.end_of_period(oldest),
                None => return Ok(None),
            },
        };
        let (mut start, mut end) = (cadence.start_of_period(next_end), next_end);
        for _ in 0..PERIODS_PER_LOOK {
            let waits = match self.clock.mode() {
                crate::config::ClockMode::Event => true,
                crate::config::ClockMode::Wall => now < end + FOOTPRINT_WAITS_MS,
            };
            if end > now || (waits && savings_through.is_some_and(|through| end > through)) {
                break;
            }
            let period = (start, end);
            let activity = self.store.with(move |s| s.activity(period.0, period.1)).await?.unwrap_or_else(|e| {
                tracing::warn!(error = %e, "cannot count the period's readings; the health report says none");
                Activity::default()
            });
            let (depth, drops) = self.outbox.try_with(|o| Ok::<_, OutboxError>((o.depth()?, o.drops()?))).await?;
            let saved = self.saved_kwh(fitted, period).await?;
            let reports =
                vec![health::report(self, period, activity, depth, &drops), footprint::report(self, period, saved)];
            (start, end) = (end, cadence.end_of_period(end));
            let next = end;
            let added = self.outbox.try_with(move |o| o.enqueue_period(&reports, "health", next)).await?;
            self.queued(added);
        }
        // A look that stopped at its cap has not reached `now`.
        Ok(Some(if end > now { now } else { start }))
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

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(iso: &str) -> i64 {
        chrono::DateTime::parse_from_rfc3339(iso).expect("valid").timestamp_millis()
    }

    #[test]
    fn daily_health_periods_follow_local_days_and_others_the_interval() {
        let days = Cadence::LocalDays(Calendar { tz: chrono_tz::Europe::Paris });
        let table = [
            // (a time, the end of its period, the start of that period)
            ("2019-01-07T10:00:00+01:00", "2019-01-08T00:00:00+01:00", "2019-01-07T00:00:00+01:00"),
            ("2019-01-07T00:00:00+01:00", "2019-01-08T00:00:00+01:00", "2019-01-07T00:00:00+01:00"),
            // The day the clocks go forward has 23 hours.
            ("2019-03-31T12:00:00+02:00", "2019-04-01T00:00:00+02:00", "2019-03-31T00:00:00+01:00"),
        ];
        for (at, end, start) in table {
            assert_eq!(days.end_of_period(ms(at)), ms(end), "end for {at}");
            assert_eq!(days.start_of_period(ms(end)), ms(start), "start for {at}");
        }
        let hourly = Cadence::Every(3_600_000);
        assert_eq!(hourly.end_of_period(ms("2019-01-07T10:20:00Z")), ms("2019-01-07T11:00:00Z"));
        assert_eq!(hourly.start_of_period(ms("2019-01-07T11:00:00Z")), ms("2019-01-07T10:00:00Z"));
    }
}
