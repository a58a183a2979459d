//! Why the advisor cannot advise: a stable code for machines (the `/metrics` gauge, Home
//! Assistant, a script), a sentence for people, and the fix. One constructor per cause, so a
//! cause is worded once and every place that shows it (the log, the retained recommendations,
//! the local page, `/metrics`, `sobre check`) says the same.

use super::history::History;
use super::occupancy::OccupancySource;
use crate::config::Settings;
use crate::point::PointKind;
use serde::{Deserialize, Serialize};
use sobre_models::metrics::{Gate, Metrics};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Blocker {
    /// One of [`Blocker::CODES`].
    pub code: String,
    pub text: String,
    /// What the operator can do about it; empty where nothing but time helps.
    pub fix: String,
}

impl Blocker {
    /// Every code a blocker may carry: `/metrics` shows each, at 0 when it does not apply, so
    /// an alert can be written on any of them before it first happens.
    pub const CODES: [&'static str; 12] = [
        "no_zones",
        "no_setpoints",
        "no_setpoint_readings",
        "no_occupancy_source",
        "never_occupied",
        "no_programme",
        "no_heating_meter",
        "too_few_days",
        "heat_loss_model",
        "heat_loss_gate",
        "zone_model",
        "other",
    ];

    fn new(code: &'static str, text: String, fix: impl Into<String>) -> Self {
        Self { code: code.into(), text, fix: fix.into() }
    }

    pub fn no_zones() -> Self {
        Self::new(
            "no_zones",
            "no zone temperature point names its zone: the advisor reads the building zone by zone".into(),
            "give each [[points]] of kind \"zone_temperature\" its zone = \"…\"",
        )
    }

    pub fn no_setpoints() -> Self {
        Self::new(
            "no_setpoints",
            "no zone has a setpoint point: the advisor reads the heating programme from the setpoints".into(),
            "declare each zone's setpoint (the thermostat's or the BMS's readback) as a [[points]] of kind \"setpoint\" with its zone",
        )
    }

    pub fn no_setpoint_readings(points: &[String]) -> Self {
        Self::new(
            "no_setpoint_readings",
            format!("the setpoint points ({}) sent nothing over the analysed window", points.join(", ")),
            "check that each setpoint's topic and decoder match what the device publishes (`sobre check`, then the rejections on the local page)",
        )
    }

    pub fn no_occupancy_source() -> Self {
        Self::new(
            "no_occupancy_source",
            "no zone has an occupancy source: the advisor compares the heating programme with the hours people are in"
                .into(),
            super::occupancy::FIX,
        )
    }

    /// Some zones have a source and these have none: they count as empty.
    pub fn zones_without_occupancy(zones: &[&str]) -> Self {
        Self::new(
            "no_occupancy_source",
            format!("zone(s) {} have no occupancy source and count as empty", zones.join(", ")),
            super::occupancy::FIX,
        )
    }

    /// `sources`: each zone's, as "zone from source".
    pub fn never_occupied(sources: &[String]) -> Self {
        Self::new(
            "never_occupied",
            format!("no one was seen in any zone over the analysed window (occupancy: {})", sources.join(", ")),
            "check that the occupancy points report 1 while someone is in (a presence sensor's \"occupancy\" field), or that the CO₂ sensors read the rooms people use",
        )
    }

    /// Setpoints and people were seen, but no day level above the night level.
    pub fn no_programme() -> Self {
        Self::new(
            "no_programme",
            "no zone was ever held above its night setpoint: no heating programme to read".into(),
            "check that the setpoint points carry the heating setpoint (not a frost limit or a cooling setpoint)",
        )
    }

    pub fn no_heating_meter() -> Self {
        Self::new(
            "no_heating_meter",
            "no energy point is tagged \"heating\": the advisor needs to know which meter carries the heating".into(),
            "add tags = [\"heating\"] to the energy point of the meter that carries the heating",
        )
    }

    pub fn too_few_days(found: usize, needed: usize) -> Self {
        Self::new(
            "too_few_days",
            format!("{found} whole days with heating energy, indoor and outdoor temperatures; the heat-loss model needs {needed}"),
            format!("wait for {} more whole days of data from the heating meter, the zones and the outdoor thermometer", needed.saturating_sub(found)),
        )
    }

    /// Before the advisor's first run: the heat-loss model needs `days` of history.
    pub fn first_run_pending(days: i64, first_run_ms: i64) -> Self {
        Self::new(
            "too_few_days",
            format!(
                "the advisor first runs once the store holds {days} days of data, at {} (the data's time)",
                crate::clock::iso(first_run_ms)
            ),
            "",
        )
    }

    pub fn heat_loss_model(why: impl std::fmt::Display) -> Self {
        Self::new(
            "heat_loss_model",
            format!("no heat-loss model: {why}"),
            "check that the meter tagged \"heating\" carries the heating and that the zones' temperatures and the outdoor temperature are stored",
        )
    }

    pub fn heat_loss_gate(m: &Metrics, gate: &Gate, days: usize) -> Self {
        Self::new(
            "heat_loss_gate",
            format!(
                "the heat-loss model fails its quality gate (daily CV(RMSE) {:.1} %, NMBE {:.1} % over {days} days; Guideline 14 asks at most {:.0} % and ±{:.0} %)",
                100.0 * m.cv_rmse,
                100.0 * m.nmbe,
                100.0 * gate.cv_rmse_limit,
                100.0 * gate.nmbe_limit
            ),
            "more days of complete data, or a heating meter that carries only the heating",
        )
    }

    /// Not a stop: the zone is left out of the estimates.
    pub fn zone_model(zone: &str, why: impl std::fmt::Display) -> Self {
        Self::new(
            "zone_model",
            format!("zone {zone}: no zone model ({why}); it is left out of the estimates"),
            "a heating demand point for the zone (a TRV's valve opening or the PI demand), and nights when it cools with the heating off",
        )
    }

    /// Why no heating programme could be read, from what is configured and what was seen.
    pub fn why_no_programme(h: &History, settings: &Settings) -> Self {
        let points_of = |kind: PointKind| -> Vec<String> {
            settings.points.iter().filter(|p| p.kind == kind && p.zone.is_some()).map(|p| p.id.clone()).collect()
        };
        let setpoints = points_of(PointKind::Setpoint);
        let sources = &h.occupancy_sources;
        let occupancy: Vec<String> = sources.iter().map(|z| format!("{} from {}", z.zone, z.source.name())).collect();
        if h.zones.is_empty() {
            Self::no_zones()
        } else if setpoints.is_empty() && h.zones.iter().all(|z| z.setpoint.iter().all(Option::is_none)) {
            Self::no_setpoints()
        } else if h.zones.iter().all(|z| z.setpoint.iter().all(Option::is_none)) {
            Self::no_setpoint_readings(&setpoints)
        } else if sources.iter().all(|z| z.source == OccupancySource::None) {
            Self::no_occupancy_source()
        } else if !(0..h.len()).any(|i| h.building_occupied(i)) {
            Self::never_occupied(&occupancy)
        } else {
            Self::no_programme()
        }
    }
}

/// A cause another part words itself (a sentence only); its code is "other".
impl From<String> for Blocker {
    fn from(text: String) -> Self {
        Self::new("other", text, "")
    }
}

impl From<&str> for Blocker {
    fn from(text: &str) -> Self {
        Self::from(text.to_string())
    }
}

impl std::fmt::Display for Blocker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.fix.is_empty() {
            write!(f, "{}", self.text)
        } else {
            write!(f, "{}; fix: {}", self.text, self.fix)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::advisor::history::ZoneHistory;

    /// A site whose points are `points` (`kind` names), all in zone "a".
    fn settings(points: &[&str]) -> Settings {
        let mut text = String::from("[site]\nid = \"s\"\ntimezone = \"Europe/Paris\"\n");
        for kind in points {
            let unit = match *kind {
                "occupancy" => "bool",
                _ => "°C",
            };
            text.push_str(&format!(
                "[[points]]\nid = \"{kind}\"\nkind = \"{kind}\"\nunit = \"{unit}\"\nzone = \"a\"\ntopic = \"t/{kind}\"\n"
            ));
        }
        Settings::parse(&text, "test.toml").expect("settings")
    }

    /// A day of quarter-hours of zone "a" (when it has a temperature point) with these columns.
    fn history(settings: &Settings, setpoint: Option<f64>, occupancy: Option<f64>) -> History {
        let n = 96;
        let zones = settings
            .points
            .iter()
            .filter(|p| p.kind == PointKind::ZoneTemperature)
            .map(|_| ZoneHistory {
                temperature: vec![Some(20.0); n],
                setpoint: vec![setpoint; n],
                occupancy: vec![occupancy; n],
                presence_point: settings.first_point(PointKind::Occupancy).map(|p| p.id.clone()),
                ..ZoneHistory::blank("a", n)
            })
            .collect();
        let mut h = History { zones, ..History::blank(chrono_tz::Europe::Paris, 0, n) };
        crate::advisor::occupancy::fill(&mut h, None);
        h
    }

    /// Given what, the kinds of point configured, the setpoint and occupancy the window holds,
    /// Then the code.
    type Case<'a> = (&'a str, &'a [&'a str], Option<f64>, Option<f64>, &'a str);

    #[test]
    fn without_a_programme_the_advisor_names_the_first_thing_missing() {
        let all = ["zone_temperature", "setpoint", "occupancy"];
        let table: [Case; 6] = [
            // Given what is configured and what the window holds, Then the cause
            ("no zone at all", &["setpoint"], None, None, "no_zones"),
            ("a zone without a setpoint", &["zone_temperature", "occupancy"], None, Some(1.0), "no_setpoints"),
            ("a zone without occupancy", &["zone_temperature", "setpoint"], Some(20.0), None, "no_occupancy_source"),
            ("setpoints that never reported", &all, None, Some(1.0), "no_setpoint_readings"),
            ("occupancy that never showed anyone", &all, Some(20.0), Some(0.0), "never_occupied"),
            ("setpoints and people, but no day level", &all, Some(20.0), Some(1.0), "no_programme"),
        ];
        for (given, points, setpoint, occupancy, code) in table {
            let s = settings(points);
            // When the advisor finds no programme
            let blocker = Blocker::why_no_programme(&history(&s, setpoint, occupancy), &s);
            // Then it names the cause by its code, and a fix
            assert_eq!(blocker.code, code, "{given}");
            assert!(Blocker::CODES.contains(&blocker.code.as_str()), "{given}");
            assert!(!blocker.fix.is_empty(), "{given}");
        }
    }

    /// `days` days from Monday 2019-01-07 of a zone held at 21 °C while people are in (08:00–
    /// 17:00 on weekdays) and 16 °C otherwise, at 5 °C outdoors; the heating meter, when there is
    /// one, draws 2 kWh a quarter-hour.
    fn programme_history(days: usize, meter: bool) -> History {
        let n = days * 96;
        let occupied = |i: usize| (i / 96) % 7 < 5 && (32..68).contains(&(i % 96));
        History {
            outdoor: vec![Some(5.0); n],
            heating_meter: meter.then(|| "heating".to_string()),
            heating_kwh: vec![meter.then_some(2.0); n],
            zones: vec![ZoneHistory {
                temperature: vec![Some(20.0); n],
                setpoint: (0..n).map(|i| Some(if occupied(i) { 21.0 } else { 16.0 })).collect(),
                occupancy: (0..n).map(|i| Some(if occupied(i) { 1.0 } else { 0.0 })).collect(),
                presence_point: Some("a_occupancy".into()),
                ..ZoneHistory::blank("a", n)
            }],
            ..History::blank(chrono_tz::UTC, 1_546_819_200_000, n)
        }
    }

    #[test]
    fn the_advice_says_what_stops_the_models_with_the_figures() {
        let s = settings(&["zone_temperature", "setpoint", "occupancy"]);
        let table = [
            // Given a programme to read and, Then the first blocker
            (
                "no meter tagged for the heating",
                programme_history(28, false),
                "no_heating_meter",
                "tags = [\"heating\"]",
            ),
            ("ten days of data", programme_history(10, true), "too_few_days", "wait for 4 more whole days"),
        ];
        for (given, h, code, fix) in table {
            // When the advisor runs on it
            let advice = crate::advisor::advise_on(&h, &s, &s.advisor);
            // Then there is no recommendation, and the advice says why and what to do
            assert!(advice.recommendations.is_empty(), "{given}");
            let first = advice.missing.first().unwrap_or_else(|| panic!("{given}: a blocker"));
            assert_eq!(first.code, code, "{given}: {first}");
            assert!(first.fix.contains(fix), "{given}: {first}");
        }
    }
}
