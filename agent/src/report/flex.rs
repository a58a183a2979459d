//! Flexibility reports (schema `sobre.flex/1`): each event the agent commanded, once control
//! has settled it, told to the city — what was planned against what the meter says was shed,
//! the rebound, the comfort it cost and the overrides. Control hands over its settlements on a
//! channel; here they become reports in the outbox.

use super::{build, envelope};
use crate::clock::Clock;
use crate::config::Settings;
use crate::control::settle::Settlement;
use crate::stats::Stats;
use crate::uplink::outbox::{Priority, Report};
use crate::uplink::sender::SharedOutbox;
use std::sync::Arc;
use tokio::sync::{mpsc, Notify};

#[derive(Debug)]
pub struct FlexReports {
    pub settings: Arc<Settings>,
    /// The city's topic prefix.
    pub prefix: String,
    pub outbox: SharedOutbox,
    /// Rung when a report was queued, so the sender need not poll.
    pub queued: Arc<Notify>,
    pub clock: Clock,
    pub stats: Arc<Stats>,
}

impl FlexReports {
    /// Queues a report per settlement until control stops and the channel is drained.
    pub async fn run(self, mut settlements: mpsc::Receiver<Settlement>) {
        while let Some(s) = settlements.recv().await {
            let id = s.event_id.clone();
            let report = report(&self.settings, &self.prefix, &s, self.clock.wall_ms());
            match self.outbox.try_with(move |o| o.enqueue(&report)).await {
                Ok(added) => {
                    Stats::add(&self.stats.reports_queued, u64::from(added));
                    self.queued.notify_one();
                }
                Err(e) => tracing::error!(error = %e, id, "flex report not queued"),
            }
        }
    }
}

/// The report of a settled event, made at `now_ms`; its id is the event's, so a settlement
/// reported twice is one report.
pub fn report(settings: &Settings, prefix: &str, s: &Settlement, now_ms: i64) -> Report {
    let round = |v: f64| (v * 1000.0).round() / 1000.0;
    let id = format!("{}/flex/{}", settings.site.id, s.event_id);
    let mut body = envelope(settings, "sobre.flex/1", "flex", &id, (s.start_ms, s.end_ms));
    let fields = serde_json::json!({
        "event_id": s.event_id,
        "event_kind": s.event_kind,
        "planned_shed_kw": round(s.planned_shed_kw),
        "achieved_shed_kw": round(s.achieved_shed_kw),
        "shifted_kwh": round(s.shifted_kwh),
        "rebound_peak_kw": round(s.rebound_peak_kw.max(0.0)),
        "baseline_peak_kw": round(s.baseline_peak_kw.max(0.0)),
        "discomfort_kh": round(s.discomfort_kh.max(0.0)),
        "overrides": s.overrides,
    });
    if let (Some(body), serde_json::Value::Object(fields)) = (body.as_object_mut(), fields) {
        body.extend(fields);
    }
    build(settings, prefix, "flex", Priority::Normal, id, body, now_ms)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Budget;
    use crate::config::ClockMode;
    use crate::control::event::FlexKind;
    use crate::uplink::outbox::Outbox;
    use serde_json::Value;

    const H: i64 = 3_600_000;

    fn settings(path: &std::path::Path) -> Settings {
        let text = format!(
            "[site]\nid = \"s\"\ntimezone = \"Europe/Paris\"\n\n[storage]\npath = {:?}\n\n[[points]]\nid = \"t\"\nkind = \"zone_temperature\"\nunit = \"°C\"\ntopic = \"t\"\n",
            path.display().to_string()
        );
        Settings::parse(&text, "test").expect("settings")
    }

    fn settlement(id: &str) -> Settlement {
        Settlement {
            event_id: id.into(),
            event_kind: FlexKind::Shed,
            start_ms: 8 * H,
            end_ms: 10 * H,
            planned_shed_kw: 6.0,
            adjustment: 0.9,
            baseline_kw: 9.0,
            measured_kw: 3.12345,
            achieved_shed_kw: 5.87655,
            shifted_kwh: 4.0,
            rebound_peak_kw: -1.0,
            baseline_peak_kw: 9.0,
            discomfort_kh: 0.2,
            overrides: 1,
        }
    }

    #[test]
    fn a_settlement_is_reported_under_the_events_id_with_aggregates_only() {
        // Given a settled event
        let dir = tempfile::tempdir().expect("tempdir");
        let settings = settings(&dir.path().join("sobre.db"));
        let s = settlement("peak-1");
        // When it is made a report
        let r = report(&settings, "city", &s, 5);
        let body: Value = serde_json::from_slice(&r.payload).expect("json");
        // Then it goes to the site's flex topic under the event's id, with its period and its
        // figures to the thousandth, a negative peak read as none
        assert_eq!(
            (r.id.as_str(), r.topic.as_str(), r.kind.as_str()),
            ("s/flex/peak-1", "city/s/reports/flex", "flex")
        );
        assert_eq!((r.priority, r.created_ms), (Priority::Normal, 5));
        assert_eq!((body["schema"].as_str(), body["id"].as_str()), (Some("sobre.flex/1"), Some("s/flex/peak-1")));
        let period = (body["period"]["start"].as_str(), body["period"]["end"].as_str());
        assert_eq!(period, (Some("1970-01-01T08:00:00Z"), Some("1970-01-01T10:00:00Z")));
        assert_eq!(body["achieved_shed_kw"], 5.877);
        assert_eq!(body["rebound_peak_kw"], 0.0);
        assert_eq!((body["event_kind"].as_str(), body["overrides"].as_u64()), (Some("shed"), Some(1)));
    }

    #[tokio::test(start_paused = true)]
    async fn each_settlement_control_hands_over_is_queued_once_and_the_sender_woken() {
        // Given the flex reports on an empty outbox
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("sobre.db");
        let settings = Arc::new(settings(&path));
        let outbox =
            crate::shared::Shared::new(Outbox::open(&path, Budget { rows: 100, bytes: 1 << 20 }).expect("outbox"));
        let (queued, stats) = (Arc::new(Notify::new()), Arc::new(Stats::default()));
        let reports = FlexReports {
            settings,
            prefix: "city".into(),
            outbox: outbox.clone(),
            queued: queued.clone(),
            clock: Clock::with_wall(ClockMode::Event, || 7),
            stats: stats.clone(),
        };
        let (tx, rx) = mpsc::channel(4);
        // When control settles two events, one of them twice, then stops
        for id in ["e1", "e2", "e1"] {
            tx.send(settlement(id)).await.expect("send");
        }
        drop(tx);
        reports.run(rx).await;
        // Then the outbox holds one report per event, the sender was woken and two are counted
        let first = outbox.with(|o| o.next(0, i64::MAX)).await.expect("blocking").expect("read").expect("a report");
        assert_eq!(first.id, "s/flex/e1");
        assert_eq!(outbox.with(|o| o.depth()).await.expect("blocking").expect("depth").0, 2);
        assert_eq!(stats.reports_queued.load(std::sync::atomic::Ordering::Relaxed), 2);
        tokio::time::timeout(std::time::Duration::from_secs(1), queued.notified()).await.expect("the sender woken");
    }
}
