//! `/metrics` in the OpenMetrics text format: the agent's counters, read at scrape time, the
//! recommendations by status, and what stops the advisor, by code. A registry is built per scrape: it is a handful of values, and
//! the counters already live in `Stats`.

use crate::advisor::ledger::Status;
use crate::advisor::Blocker;
use crate::glance::AdvisorState;
use crate::stats::Snapshot;
use prometheus_client::collector::Collector;
use prometheus_client::encoding::{text, DescriptorEncoder, EncodeMetric};
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::registry::Registry;

pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

#[derive(Debug)]
struct Scrape {
    stats: Snapshot,
    by_status: Vec<(&'static str, i64)>,
    blocked: Vec<(&'static str, i64)>,
    /// (zone, source, confidence) of the advisor's latest run.
    occupancy: Vec<(String, &'static str, f64)>,
    /// (zone, kind, count) of control's actions on the building.
    control: Vec<(String, &'static str, u64)>,
}

impl Collector for Scrape {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let s = &self.stats;
        let counters: [(&str, &str, u64); 18] = [
            ("messages", "MQTT messages that reached ingest", s.messages),
            ("readings_accepted", "readings that passed validation", s.accepted),
            ("readings_rejected", "readings refused by ingest", s.rejected),
            ("readings_stored", "readings committed to the store", s.stored),
            ("readings_duplicate", "readings the store already held", s.duplicates),
            ("readings_lost", "readings the store could not write", s.lost),
            ("store_commits", "store transactions", s.commits),
            ("broker_connections", "connections to the building's broker", s.connections),
            ("reports_queued", "reports queued in the outbox", s.reports_queued),
            ("reports_sent", "reports handed to the city's broker, resends included", s.reports_sent),
            ("reports_acked", "reports the city's broker acknowledged", s.reports_acked),
            (
                "requests_dropped",
                "requests dropped: over their topic's rate, repeated, or their queue full",
                s.requests_dropped,
            ),
            ("readings_dropped", "QoS 0 readings dropped while the disk refused commits", s.readings_dropped),
            (
                "broker_resyncs",
                "clean reconnections so the broker sends again what the agent left unacknowledged",
                s.resyncs,
            ),
            ("publish_dropped", "messages not published: the link to the broker was behind", s.publish_dropped),
            ("publish_refused", "messages the building's broker refused (its ACL)", s.publish_refused),
            (
                "flex_reports_withheld",
                "refused or cancelled flex requests not reported to the city: over the day's allowance, or the report layer behind",
                s.flex_reports_withheld,
            ),
            (
                "records_unreadable",
                "stored ledger and control records this version cannot read, skipped when restoring",
                s.records_unreadable,
            ),
        ];
        for (name, help, value) in counters {
            let counter = ConstCounter::new(value);
            counter.encode(encoder.encode_descriptor(
                &format!("sobre_{name}"),
                help,
                None,
                counter.metric_type(),
            )?)?;
        }
        let gauges: [(&str, &str, i64); 3] = [
            ("devices_offline", "devices whose availability topic says offline", s.devices_offline as i64),
            ("store_failing", "1 while the disk refuses the store's commits", i64::from(s.store_failing)),
            ("stored_through_seconds", "event time of the newest stored reading", (s.stored_through_ms / 1000) as i64),
        ];
        for (name, help, value) in gauges {
            let gauge = ConstGauge::new(value);
            gauge.encode(encoder.encode_descriptor(&format!("sobre_{name}"), help, None, gauge.metric_type())?)?;
        }
        let mut family = encoder.encode_descriptor(
            "sobre_flex_answers",
            "answers published on <prefix>/flex/status to flexibility requests, by status",
            None,
            prometheus_client::metrics::MetricType::Counter,
        )?;
        for (status, n) in crate::stats::FLEX_ANSWERS.iter().zip(s.flex_answers) {
            ConstCounter::new(n).encode(family.encode_family(&[("status", *status)])?)?;
        }
        let mut family = encoder.encode_descriptor(
            "sobre_recommendations",
            "recommendations by their ledger status",
            None,
            prometheus_client::metrics::MetricType::Gauge,
        )?;
        for (status, n) in &self.by_status {
            ConstGauge::new(*n).encode(family.encode_family(&[("status", *status)])?)?;
        }
        let mut family = encoder.encode_descriptor(
            "sobre_advisor_blocked",
            "causes that stopped the advisor's latest run (or left zones out), by code; the page and the retained recommendations name the fix",
            None,
            prometheus_client::metrics::MetricType::Gauge,
        )?;
        for (code, n) in &self.blocked {
            ConstGauge::new(*n).encode(family.encode_family(&[("code", *code)])?)?;
        }
        let mut family = encoder.encode_descriptor(
            "sobre_occupancy_confidence",
            "how sure the advisor's latest run is of when people are in, per zone, labelled with where it read it (presence, co2, building_point, timetable, none)",
            None,
            prometheus_client::metrics::MetricType::Gauge,
        )?;
        for (zone, source, confidence) in &self.occupancy {
            ConstGauge::new(*confidence)
                .encode(family.encode_family(&[("zone", zone.as_str()), ("source", *source)])?)?;
        }
        let mut family = encoder.encode_descriptor(
            "sobre_control_actions",
            "what control did to the building, per zone and kind (command, release, unexplained, watchdog_tripped)",
            None,
            prometheus_client::metrics::MetricType::Counter,
        )?;
        for (zone, kind, n) in &self.control {
            ConstCounter::new(*n).encode(family.encode_family(&[("zone", zone.as_str()), ("kind", *kind)])?)?;
        }
        Ok(())
    }
}

pub fn render(stats: &Snapshot, advisor: &AdvisorState, control: Vec<(String, &'static str, u64)>) -> String {
    let by_status = Status::ALL
        .iter()
        .map(|s| (s.name(), advisor.current.iter().filter(|c| c.status == *s).count() as i64))
        .collect();
    let blocked = Blocker::CODES
        .iter()
        .map(|code| (*code, advisor.blocked.iter().filter(|b| b.code == *code).count() as i64))
        .collect();
    let occupancy = advisor.occupancy.iter().map(|z| (z.zone.clone(), z.source.name(), z.confidence)).collect();
    let mut registry = Registry::default();
    registry.register_collector(Box::new(Scrape { stats: *stats, by_status, blocked, occupancy, control }));
    let mut out = String::new();
    if let Err(e) = text::encode(&mut out, &registry) {
        tracing::error!(error = %e, "cannot encode the metrics");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn what_the_agent_dropped_or_could_not_read_how_it_answered_flex_and_whether_its_disk_refuses_commits_are_scraped()
    {
        // Given an agent that dropped requests and whose disk refuses commits
        let stats = Snapshot {
            requests_dropped: 7,
            publish_refused: 2,
            records_unreadable: 3,
            flex_answers: [4, 1, 0, 0, 2],
            store_failing: true,
            ..Snapshot::default()
        };
        // When /metrics is rendered
        // and control that commanded a zone twice, then released it on an unexplained readback
        let control = vec![("north".to_string(), "command", 2), ("north".to_string(), "unexplained", 1)];
        let text = render(&stats, &AdvisorState::default(), control);
        // Then each is there, with its value
        for line in [
            "sobre_control_actions_total{zone=\"north\",kind=\"command\"} 2",
            "sobre_control_actions_total{zone=\"north\",kind=\"unexplained\"} 1",
            "sobre_requests_dropped_total 7",
            "sobre_publish_refused_total 2",
            "sobre_records_unreadable_total 3",
            "sobre_store_failing 1",
            "sobre_flex_answers_total{status=\"accepted\"} 4",
            "sobre_flex_answers_total{status=\"refused\"} 1",
            "sobre_flex_answers_total{status=\"cancelled\"} 0",
            "sobre_flex_answers_total{status=\"ended\"} 2",
        ] {
            assert!(text.lines().any(|l| l == line), "{line} in\n{text}");
        }
    }

    #[test]
    fn what_stops_the_advisor_is_a_gauge_per_code_at_zero_when_it_does_not_apply() {
        // Given an advisor stopped by its heat-loss gate, with two zones left out
        let m =
            sobre_models::metrics::Metrics { n: 40, p: 3, mean: 100.0, rmse: 45.0, cv_rmse: 0.45, nmbe: 0.02, r2: 0.3 };
        let gate = sobre_models::metrics::gl14(sobre_models::metrics::Resolution::Daily, &m);
        let blocked =
            [Blocker::heat_loss_gate(&m, &gate, 40), Blocker::zone_model("a", "x"), Blocker::zone_model("b", "y")];
        // and a zone whose occupancy it read from CO₂
        let occupancy = vec![crate::advisor::occupancy::ZoneOccupancy {
            zone: "north".into(),
            source: crate::advisor::occupancy::OccupancySource::Co2,
            point: Some("co2_north".into()),
            confidence: 0.95,
            text: String::new(),
        }];
        // When /metrics is rendered
        let state = AdvisorState { blocked: blocked.to_vec(), occupancy, ..AdvisorState::default() };
        let text = render(&Snapshot::default(), &state, Vec::new());
        // Then each code has its gauge: the causes that apply count, the others read 0; and the
        // zone's occupancy confidence is labelled with its source
        let table = [
            ("sobre_occupancy_confidence{zone=\"north\",source=\"co2\"} 0.95", true),
            ("sobre_advisor_blocked{code=\"heat_loss_gate\"} 1", true),
            ("sobre_advisor_blocked{code=\"zone_model\"} 2", true),
            ("sobre_advisor_blocked{code=\"no_occupancy_source\"} 0", true),
            ("sobre_advisor_blocked{code=\"heat_loss_gate\"} 0", false),
        ];
        for (line, present) in table {
            assert_eq!(text.lines().any(|l| l == line), present, "{line} in\n{text}");
        }
    }
}
