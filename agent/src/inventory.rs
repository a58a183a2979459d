//! What a valid configuration describes, section by section, for `sobre check`: the site, the
//! comfort band and the advisor's limits (each said to be configured or the default for the
//! building's use), control's zones, the savings period, the points by kind with their tags,
//! the meter that carries the heating, and where the advisor reads each zone's occupancy from.
//! Where the advisor will lack something, the line says so with the fix the advisor itself
//! would give ([`Blocker`]).
//!
//! Layer: views (see `crate::layers`): reads the settings only.

use crate::advisor::occupancy::OccupancySource;
use crate::advisor::Blocker;
use crate::config::{control::Mode, Decoder};
use crate::config::{Chosen, EnergyMode, Point, Settings};
use crate::point::PointKind;
use std::fmt::Write;

/// The sections, in the order of the file.
pub fn render(s: &Settings) -> String {
    let mut out = String::new();
    site(&mut out, s);
    comfort(&mut out, s);
    control(&mut out, s);
    savings(&mut out, s);
    points(&mut out, s);
    heating(&mut out, s);
    occupancy(&mut out, s);
    warnings(&mut out, s);
    out
}

fn site(out: &mut String, s: &Settings) {
    let area = s.site.floor_area_m2.map(|a| format!(", {a} m²")).unwrap_or_default();
    let _ = writeln!(out, "site      {} ({}), {}{area}", s.site.id, s.site.name, s.site.timezone);
    let _ = writeln!(out, "use       {}", s.site.building_use.name());
    if s.site.holidays.is_empty() {
        let _ = writeln!(out, "holidays  none: only weekends are closed days ([site] holidays adds others)");
    } else {
        let periods: Vec<String> = s
            .site
            .holidays
            .iter()
            .map(|(first, last)| if first == last { first.to_string() } else { format!("{first} – {last}") })
            .collect();
        let _ = writeln!(out, "holidays  {}: {}", periods.len(), periods.join(", "));
    }
}

fn comfort(out: &mut String, s: &Settings) {
    let (u, by) = (s.site.building_use, &s.by_use);
    let said = |c: &Chosen| format!("{} °C ({})", c.value, c.origin(u));
    let _ = writeln!(out, "comfort   while occupied from {} to {}", said(&by.comfort_min_c), said(&by.comfort_max_c));
    let a = &s.advisor;
    let _ = writeln!(
        out,
        "advisor   occupied limit {}, setback {}; analyses {} every {}, proposals lapse after {}, {} heating days a year",
        said(&by.comfort_limit_c),
        said(&by.setback_c),
        crate::config::Span(a.window),
        crate::config::Span(a.interval),
        crate::config::Span(a.expiry),
        a.heating_season_days
    );
}

fn control(out: &mut String, s: &Settings) {
    let c = &s.control;
    let mode = match c.mode {
        Mode::Advise => "advise (no command leaves)",
        Mode::Shadow => "shadow (decides and records, sends nothing)",
        Mode::Auto => "auto",
    };
    let _ = writeln!(
        out,
        "control   {mode}; occupied floor {} °C (comfort.min_c + comfort_margin_k), never above the building's own occupied setpoint; {} zone(s)",
        s.comfort.min_c + c.comfort_margin_k,
        c.zones.len()
    );
    for z in &c.zones {
        let b = &z.bounds;
        let _ = writeln!(
            out,
            "  {:<18} → {} ({:?}); {}; {}–{} °C, at most {} K a step, {} apart",
            z.zone,
            z.command_topic,
            z.format,
            match (&z.release, z.holds) {
                (crate::config::control::Release::Publish { topic, payload }, holds) => format!(
                    "{}released by {} on {topic}",
                    if holds { "holds a command until " } else { "drops a command by itself, or is " },
                    if payload.is_empty() { "an empty message".to_string() } else { format!("{payload:?}") }
                ),
                (crate::config::control::Release::ProgrammeValue, _) =>
                    "drops a command at its programme's next period; handed back with the programme's value".to_string(),
            },
            b.min_c(),
            b.max_c(),
            b.max_step_k(),
            crate::config::Span(std::time::Duration::from_millis(u64::try_from(b.min_interval_ms()).unwrap_or(0)))
        );
    }
}

fn savings(out: &mut String, s: &Settings) {
    match &s.savings {
        Some(v) => {
            let _ = writeln!(
                out,
                "savings   baseline {} – {}; measured on {}",
                v.baseline.0,
                v.baseline.1,
                if v.points.is_empty() { "no point".to_string() } else { v.points.join(", ") }
            );
        }
        None => {
            let _ = writeln!(
                out,
                "savings   none measured: add [savings] baseline = [\"first day\", \"last day\"] (a period before the measures) to report savings"
            );
        }
    }
}

fn describe(p: &Point) -> String {
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
    let tags = if p.tags.is_empty() { String::new() } else { format!(", tags {}", p.tags.join(", ")) };
    let zeros = if p.zeros_are_readings { ", zeros are readings" } else { "" };
    format!(
        "{:<18} {}{fuel}{how}, {} → {}, zone {}, {} [{decoder}]{tags}{zeros}",
        p.id,
        p.kind,
        p.unit,
        p.kind.stored_unit(),
        p.zone.as_deref().unwrap_or("-"),
        p.topic
    )
}

fn points(out: &mut String, s: &Settings) {
    let _ = writeln!(out, "points    {}", s.points.len());
    for kind in PointKind::ALL {
        let of_kind: Vec<&Point> = s.points.iter().filter(|p| p.kind == kind).collect();
        if of_kind.is_empty() {
            continue;
        }
        let _ = writeln!(out, "  {kind} ({})", of_kind.len());
        for p in of_kind {
            let _ = writeln!(out, "    {}", describe(p));
        }
    }
}

fn heating(out: &mut String, s: &Settings) {
    let meters: Vec<&str> = s.points.iter().filter(|p| p.is_heating_meter()).map(|p| p.id.as_str()).collect();
    match meters.as_slice() {
        [] => {
            let b = Blocker::no_heating_meter();
            let _ = writeln!(out, "heating   none: {}; fix: {}", b.text, b.fix);
        }
        [one] => {
            let _ = writeln!(out, "heating   {one} carries the heating (tagged \"heating\")");
        }
        [first, ..] => {
            let _ = writeln!(
                out,
                "heating   {first} carries the heating: the first of the energy points tagged \"heating\" ({})",
                meters.join(", ")
            );
        }
    }
}

/// What the file allows but its writer most likely did not mean, each with what to do.
fn warnings(out: &mut String, s: &Settings) {
    let mut found = Vec::new();
    for p in s.points.iter().filter(|p| p.kind != PointKind::Energy && p.tags.iter().any(|t| t == "heating")) {
        found.push(format!(
            "{} is tagged \"heating\" but is a {} point: only an energy point carries the heating; move the tag to the heating meter",
            p.id, p.kind
        ));
    }
    let meters = s.points.iter().filter(|p| p.is_heating_meter()).count();
    if meters > 1 {
        found.push(format!(
            "{meters} energy points are tagged \"heating\": the advisor reads only the first; tag the one meter that carries the heating"
        ));
    }
    for pair in s.site.holidays.windows(2) {
        let ((a, b), (c, d)) = (pair[0], pair[1]);
        if c <= b {
            found.push(format!("holidays {a} – {b} and {c} – {d} overlap: one period is enough"));
        }
    }
    for z in &s.control.zones {
        let has_setpoint =
            s.points.iter().any(|p| p.kind == PointKind::Setpoint && p.zone.as_deref() == Some(z.zone.as_str()));
        if !has_setpoint {
            found.push(format!(
                "control zone {} has no setpoint point: the agent cannot read back what the device holds; add a [[points]] of kind \"setpoint\" with zone = \"{}\"",
                z.zone, z.zone
            ));
        }
    }
    if found.is_empty() {
        let _ = writeln!(out, "warnings  none");
        return;
    }
    let _ = writeln!(out, "warnings  {}", found.len());
    for w in found {
        let _ = writeln!(out, "  {w}");
    }
}

/// Per zone of the advisor (each zone with a temperature point), what it can read occupancy
/// from, best first.
fn occupancy(out: &mut String, s: &Settings) {
    let mut zones: Vec<&str> = Vec::new();
    for p in s.points.iter().filter(|p| p.kind == PointKind::ZoneTemperature) {
        if let Some(z) = p.zone.as_deref().filter(|z| !zones.contains(z)) {
            zones.push(z);
        }
    }
    if zones.is_empty() {
        let b = Blocker::no_zones();
        let _ = writeln!(out, "zones     none: {}; fix: {}", b.text, b.fix);
        return;
    }
    let in_zone = |kind: PointKind, zone: Option<&str>| {
        s.points.iter().find(|p| p.kind == kind && p.zone.as_deref() == zone).map(|p| p.id.as_str())
    };
    let _ = writeln!(
        out,
        "zones     {} (where the advisor reads occupancy, the first of: presence, CO₂, BMS occupancy point, [occupancy] timetable; and the programme)",
        zones.len()
    );
    let sources = crate::advisor::occupancy::configured(s);
    for zone in zones {
        let occupancy = match sources.iter().find(|(z, _, _)| z == zone) {
            Some((_, OccupancySource::None, _)) | None => format!("none; fix: {}", crate::advisor::occupancy::FIX),
            Some((_, OccupancySource::BuildingPoint, Some(point))) => format!("the building's occupancy point {point}"),
            Some((_, source, Some(point))) => format!("{} {point}", source.sensor()),
            Some((_, _, None)) => "the [occupancy] timetable".to_string(),
        };
        let setpoint = match in_zone(PointKind::Setpoint, Some(zone)) {
            Some(p) => format!("setpoint {p}"),
            None => format!("no setpoint; fix: {}", Blocker::no_setpoints().fix),
        };
        let _ = writeln!(out, "  {zone:<18} occupancy from {occupancy}; {setpoint}");
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
}

#[cfg(test)]
mod tests;
