//! Target `config`: `Settings::parse` on any text returns an error or settings a daemon can
//! run on: every number finite and within what validation promises, every point whole.

use crate::config::duration::LONGEST;
use crate::config::Decoder;
use crate::config::{EnergyMode, Settings, Span};
use std::collections::HashSet;

pub fn run(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else { return };
    // Validation reads the password and certificate files a config names; a device file
    // (`/dev/zero`, `/dev/stdin`) would hang the fuzzer rather than test the parser.
    if text.contains("_file") && ["dev", "proc", "sys"].iter().any(|d| text.contains(d)) {
        return;
    }
    match Settings::parse(text, "fuzz") {
        Ok(settings) => holds(&settings),
        Err(e) => assert!(e.to_string().starts_with("fuzz"), "an error that does not name its file: {e}"),
    }
}

fn finite_in(v: f64, lo: f64, hi: f64) -> bool {
    v.is_finite() && lo <= v && v <= hi
}

fn holds(s: &Settings) {
    assert!(!s.site.id.is_empty() && s.site.id.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_'));
    assert!(s.site.floor_area_m2.is_none_or(|a| a.is_finite() && a > 0.0));
    for t in [s.tariffs.electricity, s.tariffs.gas, s.tariffs.heat] {
        assert!(finite_in(t.eur_per_kwh, 0.0, 10.0) && finite_in(t.kg_co2_per_kwh, 0.0, 2.0), "{t:?}");
    }
    assert!(s.comfort.min_c.is_finite() && s.comfort.max_c.is_finite() && s.comfort.min_c < s.comfort.max_c);
    assert!(finite_in(s.reports.watts_per_core, 0.0, 200.0));
    let a = &s.advisor;
    assert!(
        finite_in(a.setback_c, 5.0, 20.0)
            && finite_in(a.comfort_limit_c, 16.0, 26.0)
            && a.setback_c < a.comfort_limit_c
    );
    assert!(finite_in(a.heating_season_days, 1.0, 366.0) && finite_in(a.baseload_share, 0.0, 1.0));
    assert!(s.ingest.max_payload_bytes > 0 && s.ingest.max_payload_bytes <= s.broker.max_packet_bytes);
    assert!(!s.agent.topic_prefix.is_empty() && !s.agent.topic_prefix.contains(['+', '#']));

    let c = &s.control;
    assert!(c.step_ms >= 60_000 && c.command_ttl_ms >= c.step_ms);
    for v in [c.budget_kh_per_week, c.comfort_margin_k, c.ramp_k_per_day, c.flex.preheat_k, c.flex.shed_k] {
        assert!(finite_in(v, 0.0, 50.0), "control: {v}");
    }
    assert!(finite_in(c.flex.recovery_k_per_step, 0.05, 10.0) && finite_in(c.flex.price_spike_ratio, 1.0, 10.0));
    for z in &c.zones {
        assert!(s.points.iter().any(|p| p.zone.as_deref() == Some(z.zone.as_str())), "zone {} has no point", z.zone);
        assert!(!z.command_topic.is_empty() && !z.command_topic.contains(['+', '#']));
    }

    assert!(!s.points.is_empty());
    let mut ids = HashSet::new();
    for p in &s.points {
        assert!(ids.insert(p.id.as_str()), "two points {}", p.id);
        assert!(!p.topic.is_empty() && !p.topic.contains(['+', '#']), "topic {:?}", p.topic);
        assert!(p.kind.accepted_units().contains(&p.unit), "{} in {}", p.kind, p.unit);
        let (lo, hi) = p.range;
        assert!(lo.is_finite() && hi.is_finite() && lo < hi, "range [{lo}, {hi}]");
        assert_eq!(p.energy.is_some(), p.kind.is_energy(), "{}", p.id);
        match p.energy {
            Some(EnergyMode::Counter { max_kw }) => assert!(max_kw.is_finite() && max_kw > 0.0),
            Some(EnergyMode::Interval { length, max_kw }) => {
                assert!(max_kw.is_finite() && max_kw > 0.0 && !length.0.is_zero());
            }
            None => {}
        }
        if let Decoder::Json { pointer, timestamp } = &p.decoder {
            assert!(pointer.starts_with('/') && timestamp.as_ref().is_none_or(|t| t.starts_with('/')));
        }
    }
    // Every span is added to a timestamp somewhere, in i64 ms: none is long enough to overflow.
    let r = s.storage.retention;
    let spans = [
        s.ingest.future_tolerance,
        s.ingest.late_window,
        s.ingest.rejection_log_interval,
        s.storage.commit_interval,
        r.raw,
        r.quarter_hour,
        r.hourly,
        r.daily,
        r.monthly,
        r.decisions,
        r.control_log,
        r.delivered,
        s.reports.health_interval,
        s.agent.status_interval,
        Span(s.advisor.window),
        Span(s.advisor.interval),
        Span(s.advisor.expiry),
        Span(s.control.flex.preheat),
        Span(s.control.flex.recovery_spread),
        Span(s.control.flex.recovery),
    ];
    let intervals = s.points.iter().filter_map(|p| match p.energy {
        Some(EnergyMode::Interval { length, .. }) => Some(length),
        _ => None,
    });
    for span in spans.into_iter().chain(intervals) {
        assert!(span <= LONGEST, "{span} is longer than {LONGEST}");
        // Spans are written back in status and reports: what is shown reads back the same.
        assert_eq!(span.to_string().parse::<Span>(), Ok(span));
    }
    assert!(c.step_ms <= LONGEST.as_millis_i64() && c.command_ttl_ms <= LONGEST.as_millis_i64());
}
