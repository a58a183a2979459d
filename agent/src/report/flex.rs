//! Flexibility reports (schema `sobre.flex/2`): what became of each flex request, told to the
//! city. An event the agent commanded, once control has settled it: what was planned against
//! what the meter says was shed, the rebound, the comfort it cost and the overrides. A request it
//! refused or an event it cancelled, at once: why, and no figures. Control hands its outcomes
//! over on a channel; here they become reports in the outbox.

use super::{build, envelope};
use crate::clock::Clock;
use crate::config::Settings;
use crate::control::settle::{Declined, Outcome, Settlement};
use crate::stats::Stats;
use crate::uplink::outbox::{Priority, Report};
use crate::uplink::sender::SharedOutbox;
use serde_json::{json, Value};
use std::sync::Arc;
use tokio::sync::{mpsc, Notify};

pub const SCHEMA: &str = "sobre.flex/2";

/// Refusals and cancellations reported a day (UTC, event time). Requests are the building's
/// broker's to send: a flood of them, hostile or broken, must not fill the outbox that carries
/// the savings. Past it they are answered on the status topic and counted, not reported.
pub const DECLINED_PER_DAY: u32 = 48;

const DAY_MS: i64 = 86_400_000;

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
    /// Queues a report per outcome until control stops and the channel is drained.
    pub async fn run(self, mut outcomes: mpsc::Receiver<Outcome>) {
        // (day, refusals and cancellations reported that day)
        let mut allowance = (i64::MIN, 0u32);
        while let Some(outcome) = outcomes.recv().await {
            if let Outcome::Declined(d) = &outcome {
                let day = d.at_ms.div_euclid(DAY_MS);
                if allowance.0 != day {
                    allowance = (day, 0);
                }
                if allowance.1 >= DECLINED_PER_DAY {
                    Stats::add(&self.stats.flex_reports_withheld, 1);
                    tracing::warn!(
                        id = d.event_id,
                        "flex report withheld: over {DECLINED_PER_DAY} refusals and cancellations today"
                    );
                    continue;
                }
                allowance.1 += 1;
            }
            let report = report(&self.settings, &self.prefix, &outcome, self.clock.wall_ms());
            let id = report.id.clone();
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

/// The report of an outcome, made at `now_ms`. A settled event's id is the event's, a refusal's
/// or a cancellation's says which it was: the same outcome reported twice is one report, and an
/// event refused, asked again and carried out is two.
pub fn report(settings: &Settings, prefix: &str, outcome: &Outcome, now_ms: i64) -> Report {
    let site = &settings.site.id;
    let (id, period, fields) = match outcome {
        Outcome::Settled(s) => (format!("{site}/flex/{}", s.event_id), (s.start_ms, s.end_ms), settled(s)),
        Outcome::Declined(d) => {
            let status = if d.cancelled { "cancelled" } else { "refused" };
            let period = d.window.unwrap_or((d.at_ms, d.at_ms));
            (format!("{site}/flex/{}/{status}", d.event_id), period, declined(d, status))
        }
    };
    let mut body = envelope(settings, SCHEMA, "flex", &id, period);
    if let (Some(body), Value::Object(fields)) = (body.as_object_mut(), fields) {
        body.extend(fields);
    }
    build(settings, prefix, "flex", Priority::Normal, id, body, now_ms)
}

fn settled(s: &Settlement) -> Value {
    let round = |v: f64| (v * 1000.0).round() / 1000.0;
    let planned = round(s.planned_shed_kw);
    let achieved = round(s.achieved_shed_kw);
    json!({
        "event_id": s.event_id,
        "event_kind": s.event_kind,
        "status": "settled",
        "reason": format!("planned {planned} kW of shed, achieved {achieved} kW"),
        "planned_shed_kw": planned,
        "achieved_shed_kw": achieved,
        "shifted_kwh": round(s.shifted_kwh),
        "rebound_peak_kw": round(s.rebound_peak_kw.max(0.0)),
        "baseline_peak_kw": round(s.baseline_peak_kw.max(0.0)),
        "discomfort_kh": round(s.discomfort_kh.max(0.0)),
        "overrides": s.overrides,
    })
}

fn declined(d: &Declined, status: &str) -> Value {
    json!({
        "event_id": d.event_id,
        "event_kind": d.event_kind,
        "status": status,
        "reason": d.reason,
        "planned_shed_kw": null,
        "achieved_shed_kw": null,
        "shifted_kwh": null,
        "rebound_peak_kw": null,
        "baseline_peak_kw": null,
        "discomfort_kh": null,
        "overrides": null,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Budget;
    use crate::config::ClockMode;
    use crate::control::event::FlexKind;
    use crate::uplink::outbox::Outbox;
    use std::sync::atomic::Ordering;

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

    fn refused(id: &str, at_ms: i64) -> Outcome {
        Outcome::Declined(Declined {
            event_id: id.into(),
            event_kind: None,
            window: None,
            cancelled: false,
            reason: "not a flex request".into(),
            at_ms,
        })
    }

    #[test]
    fn each_outcome_is_reported_under_an_id_that_says_what_became_of_the_event() {
        // Given a settled event, an event cancelled after it was accepted, and a request
        // refused before its window could be read
        let dir = tempfile::tempdir().expect("tempdir");
        let settings = settings(&dir.path().join("sobre.db"));
        let cancelled = Outcome::Declined(Declined {
            event_id: "peak-2".into(),
            event_kind: Some(FlexKind::Shed),
            window: Some((9 * H, 11 * H)),
            cancelled: true,
            reason: "cancelled as asked".into(),
            at_ms: 3 * H,
        });
        // (case, outcome, then: id, status, kind, period, planned shed)
        type Then = (&'static str, &'static str, Value, (&'static str, &'static str), Value);
        let table: [(&str, Outcome, Then); 3] = [
            (
                "settled",
                Outcome::Settled(settlement("peak-1")),
                (
                    "s/flex/peak-1",
                    "settled",
                    json!("shed"),
                    ("1970-01-01T08:00:00Z", "1970-01-01T10:00:00Z"),
                    json!(6.0),
                ),
            ),
            (
                "cancelled",
                cancelled,
                (
                    "s/flex/peak-2/cancelled",
                    "cancelled",
                    json!("shed"),
                    ("1970-01-01T09:00:00Z", "1970-01-01T11:00:00Z"),
                    Value::Null,
                ),
            ),
            (
                "refused unread",
                refused("peak-3", 4 * H),
                (
                    "s/flex/peak-3/refused",
                    "refused",
                    Value::Null,
                    ("1970-01-01T04:00:00Z", "1970-01-01T04:00:00Z"),
                    Value::Null,
                ),
            ),
        ];
        for (case, outcome, (id, status, kind, period, planned)) in table {
            // When it is made a report
            let r = report(&settings, "city", &outcome, 5);
            let body: Value = serde_json::from_slice(&r.payload).expect("json");
            // Then it goes to the site's flex topic under its id, with its status, its period
            // (the event's, or the instant of a refusal that could not read one) and figures only
            // for what was carried out
            assert_eq!(
                (r.id.as_str(), r.topic.as_str(), r.priority),
                (id, "city/s/reports/flex", Priority::Normal),
                "{case}"
            );
            assert_eq!((body["schema"].as_str(), body["id"].as_str()), (Some(SCHEMA), Some(id)), "{case}");
            assert_eq!((body["status"].as_str(), &body["event_kind"]), (Some(status), &kind), "{case}");
            assert_eq!(
                (body["period"]["start"].as_str(), body["period"]["end"].as_str()),
                (Some(period.0), Some(period.1)),
                "{case}"
            );
            assert_eq!(body["planned_shed_kw"], planned, "{case}");
            assert!(body["reason"].as_str().is_some_and(|r| !r.is_empty()), "{case}");
        }
        // And a settled event's figures are given to the thousandth, a negative peak read as none
        let body: Value =
            serde_json::from_slice(&report(&settings, "city", &Outcome::Settled(settlement("peak-1")), 5).payload)
                .expect("json");
        assert_eq!((body["achieved_shed_kw"].as_f64(), body["rebound_peak_kw"].as_f64()), (Some(5.877), Some(0.0)));
        assert_eq!(body["overrides"].as_u64(), Some(1));
    }

    /// The flex reports on an empty outbox, and what they fill and count.
    fn reports(path: &std::path::Path) -> (FlexReports, SharedOutbox, Arc<Notify>, Arc<Stats>) {
        let settings = Arc::new(settings(path));
        let outbox =
            crate::shared::Shared::new(Outbox::open(path, Budget { rows: 1000, bytes: 1 << 20 }).expect("outbox"));
        let (queued, stats) = (Arc::new(Notify::new()), Arc::new(Stats::default()));
        let reports = FlexReports {
            settings,
            prefix: "city".into(),
            outbox: outbox.clone(),
            queued: queued.clone(),
            clock: Clock::with_wall(ClockMode::Event, || 7),
            stats: stats.clone(),
        };
        (reports, outbox, queued, stats)
    }

    #[tokio::test(start_paused = true)]
    async fn each_settlement_control_hands_over_is_queued_once_and_the_sender_woken() {
        // Given the flex reports on an empty outbox
        let dir = tempfile::tempdir().expect("tempdir");
        let (reports, outbox, queued, stats) = reports(&dir.path().join("sobre.db"));
        let (tx, rx) = mpsc::channel(4);
        // When control settles two events, one of them twice, then stops
        for id in ["e1", "e2", "e1"] {
            tx.send(Outcome::Settled(settlement(id))).await.expect("send");
        }
        drop(tx);
        reports.run(rx).await;
        // Then the outbox holds one report per event, the sender was woken and two are counted
        let first = outbox.with(|o| o.next(0, i64::MAX)).await.expect("blocking").expect("read").expect("a report");
        assert_eq!(first.id, "s/flex/e1");
        assert_eq!(outbox.with(|o| o.depth()).await.expect("blocking").expect("depth").0, 2);
        assert_eq!(stats.reports_queued.load(Ordering::Relaxed), 2);
        tokio::time::timeout(std::time::Duration::from_secs(1), queued.notified()).await.expect("the sender woken");
    }

    #[tokio::test(start_paused = true)]
    async fn a_flood_of_refused_requests_reports_a_days_allowance_and_never_holds_back_a_settlement() {
        // Given the flex reports on an empty outbox
        let dir = tempfile::tempdir().expect("tempdir");
        let (reports, outbox, _, stats) = reports(&dir.path().join("sobre.db"));
        let (tx, rx) = mpsc::channel(256);
        let flood = DECLINED_PER_DAY as usize + 20;
        // When a day brings refusals of as many distinct requests as the allowance and 20 more,
        // then a settled event, then the next day one more refusal
        for k in 0..flood {
            tx.send(refused(&format!("junk-{k}"), 10 * H + k as i64)).await.expect("send");
        }
        tx.send(Outcome::Settled(settlement("e1"))).await.expect("send");
        tx.send(refused("next-day", 24 * H + 1)).await.expect("send");
        drop(tx);
        reports.run(rx).await;
        // Then the day's allowance is reported, the rest withheld and counted, and the settled
        // event and the next day's refusal are reported
        let depth = outbox.with(|o| o.depth()).await.expect("blocking").expect("depth").0;
        assert_eq!(depth as usize, DECLINED_PER_DAY as usize + 2);
        assert_eq!(stats.flex_reports_withheld.load(Ordering::Relaxed), 20);
    }
}
