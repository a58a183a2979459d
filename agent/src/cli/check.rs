//! `sobre check`: what a valid configuration describes, for the integrator to read over.

use sobre_agent::advisor::occupancy::OccupancySource;
use sobre_agent::config::Decoder;
use sobre_agent::config::{EnergyMode, Settings};
use std::fmt::Write;
use std::path::Path;

pub fn summary(path: &Path, s: &Settings) -> String {
    let mut out = String::new();
    let b = &s.broker;
    let r = &s.storage.retention;
    let _ = writeln!(out, "{} is valid.", path.display());
    let area = s.site.floor_area_m2.map(|a| format!(", {a} m²")).unwrap_or_default();
    let _ = writeln!(out, "site      {} ({}), {}{area}", s.site.id, s.site.name, s.site.timezone);
    let _ = writeln!(
        out,
        "broker    {}:{} as {}, TLS {}, {}",
        b.host,
        b.port,
        b.client_id,
        if b.tls.is_some() { "on" } else { "off" },
        if b.credentials.is_some() { "with credentials" } else { "anonymous" }
    );
    let _ = writeln!(out, "status    {}/status (retained, last will offline)", s.agent.topic_prefix);
    let _ = writeln!(out, "clock     {:?}", s.agent.clock);
    let _ = writeln!(
        out,
        "storage   {}: commit every {} or {} records; keep raw {}, 15m {}, 1h {}, 1d {}, 1mo {}; \
         decisions {}, control log {} (the latest per subject always), delivered report ids {}",
        s.storage.path.display(),
        s.storage.commit_interval,
        s.storage.batch_max,
        r.raw,
        r.quarter_hour,
        r.hourly,
        r.daily,
        r.monthly,
        r.decisions,
        r.control_log,
        r.delivered
    );
    let _ = writeln!(out, "points    {}", s.points.len());
    for p in &s.points {
        let how = match p.energy {
            Some(EnergyMode::Counter { max_kw }) => format!(" counter ≤{max_kw} kW"),
            Some(EnergyMode::Interval { length, .. }) => format!(" per {length}"),
            None => String::new(),
        };
        let fuel = p.fuel.map(|f| format!(" {}", f.name())).unwrap_or_default();
        let decoder = match &p.decoder {
            Decoder::Plain => "plain".to_string(),
            Decoder::Json { pointer, .. } => format!("json {pointer}"),
            Decoder::Zigbee2mqtt { pointer } => format!("zigbee2mqtt {pointer}"),
            Decoder::Tasmota { pointer } => format!("tasmota {pointer}"),
        };
        let _ = writeln!(
            out,
            "  {:<18} {}{fuel}{how}, {} → {}, zone {}, {} [{decoder}]",
            p.id,
            p.kind,
            p.unit,
            p.kind.stored_unit(),
            p.zone.as_deref().unwrap_or("-"),
            p.topic
        );
    }
    let _ =
        writeln!(out, "occupancy (per zone, the first of: presence, CO₂, BMS occupancy point, [occupancy] timetable)");
    for (zone, source, point) in sobre_agent::advisor::occupancy::configured(s) {
        let from = match (source, point) {
            (OccupancySource::None, _) => format!("none: {}", sobre_agent::advisor::occupancy::FIX),
            (source, Some(point)) => format!("{} {point}", source.name()),
            (source, None) => source.name().to_string(),
        };
        let _ = writeln!(out, "  {zone:<18} {from}");
    }
    if let Some(t) = &s.occupancy {
        let days: Vec<String> = t.days.iter().map(ToString::to_string).collect();
        let _ = writeln!(
            out,
            "  timetable          {} {}–{}, closed on {} holiday periods",
            days.join(" "),
            t.from.format("%H:%M"),
            t.until.format("%H:%M"),
            t.holidays.len()
        );
    }
    out
}
