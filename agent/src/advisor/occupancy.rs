//! Each zone's occupancy from what the building has, the first of: the zone's presence
//! sensor; its CO₂ sensor, read by the detector of `sobre_models::occupancy`; a building-wide
//! BMS occupancy or mode point; the `[occupancy]` timetable. A sensor counts when it reported
//! on at least half the window's days; when none did and there is no timetable, the one
//! that reported on most days is taken, sparse as it is (a sensor installed a fortnight ago).
//! Each zone keeps which source it got and how sure that is (0–1):
//!
//! - presence: the share of days the sensor reported on (it sees people directly);
//! - CO₂: the detector's own confidence (the share of quarter-hours it decided clearly);
//! - a BMS point: the share of days it reported on, times 3/4: it says what the BMS believes
//!   of the whole building (often its schedule), not who is in this zone;
//! - a timetable: 1/2, what someone wrote, never checked against the building.

use super::history::{Column, History, STEP_HOURS};
use crate::config::Timetable;
use serde::{Deserialize, Serialize};

/// A sensor that reported on fewer of the window's days than this is passed over for the next
/// source.
const MIN_COVERAGE: f64 = 0.5;
const QUARTERS_PER_DAY: usize = 96;
const BUILDING_POINT_TRUST: f64 = 0.75;
const TIMETABLE_CONFIDENCE: f64 = 0.5;

/// What a zone without a source needs, in the words of the configuration.
pub const FIX: &str = "add presence or CO₂ sensors to the zone ([[points]] of kind \"occupancy\" or \"co2\" with its \
                       zone), a building-wide BMS occupancy point (kind \"occupancy\" without a zone), or an \
                       [occupancy] timetable";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OccupancySource {
    Presence,
    Co2,
    /// A building-wide occupancy or mode point.
    BuildingPoint,
    Timetable,
    /// Nothing: the zone counts as empty.
    None,
}

impl OccupancySource {
    /// What a sensor of this source is called in a sentence.
    pub fn sensor(self) -> &'static str {
        match self {
            OccupancySource::Presence => "presence sensor",
            OccupancySource::Co2 => "CO₂ sensor",
            OccupancySource::BuildingPoint => "building's occupancy point",
            OccupancySource::Timetable | OccupancySource::None => "",
        }
    }

    /// How early this source may see the last person leave, minutes: only CO₂ misses people,
    /// a thinned room under full ventilation (`sobre_models::occupancy::DEPARTURE_EARLY_MIN`).
    pub fn departure_error_min(self) -> f64 {
        match self {
            OccupancySource::Co2 => sobre_models::occupancy::DEPARTURE_EARLY_MIN,
            _ => 0.0,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            OccupancySource::Presence => "presence",
            OccupancySource::Co2 => "co2",
            OccupancySource::BuildingPoint => "building_point",
            OccupancySource::Timetable => "timetable",
            OccupancySource::None => "none",
        }
    }
}

/// Where one zone's occupancy came from, and how sure it is.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ZoneOccupancy {
    pub zone: String,
    pub source: OccupancySource,
    /// The point read, for a sensor or a BMS point.
    pub point: Option<String>,
    /// 0–1 (see the module's doc).
    pub confidence: f64,
    /// The source in a sentence; for none, what to add.
    pub text: String,
}

/// Each zone's first source as configured (before any data: a sensor that reads too little is
/// passed over when the advisor runs), with its point: what `sobre check` shows.
pub fn configured(settings: &crate::config::Settings) -> Vec<(String, OccupancySource, Option<String>)> {
    use crate::point::PointKind;
    let point = |kind: PointKind, zone: Option<&str>| {
        settings.points.iter().find(|p| p.kind == kind && p.zone.as_deref() == zone).map(|p| p.id.clone())
    };
    let mut zones: Vec<(String, OccupancySource, Option<String>)> = Vec::new();
    for p in settings.points.iter().filter(|p| p.kind == PointKind::ZoneTemperature) {
        let Some(zone) = p.zone.as_deref() else { continue };
        if zones.iter().any(|(z, _, _)| z == zone) {
            continue;
        }
        let (source, point) = match (
            point(PointKind::Occupancy, Some(zone)),
            point(PointKind::Co2, Some(zone)),
            point(PointKind::Occupancy, None),
        ) {
            (Some(p), _, _) => (OccupancySource::Presence, Some(p)),
            (None, Some(p), _) => (OccupancySource::Co2, Some(p)),
            (None, None, Some(p)) => (OccupancySource::BuildingPoint, Some(p)),
            (None, None, None) if settings.occupancy.is_some() => (OccupancySource::Timetable, None),
            (None, None, None) => (OccupancySource::None, None),
        };
        zones.push((zone.to_string(), source, point));
    }
    zones
}

/// A sensor a zone could take its occupancy from, and the share of the window's days it
/// reported on.
struct Sensor {
    source: OccupancySource,
    point: String,
    reported: f64,
}

/// The share of the window's days on which a sensor reported at all. Days, not quarter-hours:
/// a presence sensor or a BMS mode point reports when its state changes, and holds it between.
fn coverage(column: &Column) -> f64 {
    let days = column.chunks(QUARTERS_PER_DAY).len();
    let reported = column.chunks(QUARTERS_PER_DAY).filter(|d| d.iter().any(Option::is_some)).count();
    reported as f64 / days.max(1) as f64
}

/// A zone's occupancy (1 or 0 a quarter-hour, `None` where undecided) from its CO₂ on the
/// quarter-hour grid, by the models' detector, and what the detector learned.
pub fn from_co2(co2: &[Option<f64>]) -> (Column, sobre_models::occupancy::Detection) {
    let d = sobre_models::occupancy::detect(co2, STEP_HOURS);
    (d.occupied.iter().map(|o| o.map(|o| f64::from(u8::from(o)))).collect(), d)
}

/// Chooses each zone's source, fills its occupancy column from it, and records the choice in
/// `h.occupancy_sources`. Without a sensor that reported enough, the timetable; without one,
/// the sensor that reported on most days, sparse as it is, rather than nothing.
pub fn fill(h: &mut History, timetable: Option<&Timetable>) {
    let n = h.len();
    let building_read = coverage(&h.building_occupancy);
    let open: Column = match timetable {
        Some(t) => (0..n).map(|i| Some(if t.is_open(h.local(i)) { 1.0 } else { 0.0 })).collect(),
        None => Vec::new(),
    };
    let mut sources = Vec::with_capacity(h.zones.len());
    for z in &mut h.zones {
        let sensor =
            |source, point: &Option<String>, reported| point.clone().map(|point| Sensor { source, point, reported });
        let sensors: Vec<Sensor> = [
            sensor(OccupancySource::Presence, &z.presence_point, coverage(&z.occupancy)),
            sensor(OccupancySource::Co2, &z.co2_point, coverage(&z.co2)),
            sensor(OccupancySource::BuildingPoint, &h.building_point, building_read),
        ]
        .into_iter()
        .flatten()
        .collect();
        let sparse_best = sensors
            .iter()
            .enumerate()
            .filter(|(_, s)| s.reported > 0.0)
            .max_by(|(_, a), (_, b)| a.reported.total_cmp(&b.reported))
            .map(|(i, _)| i);
        let pick = sensors.iter().position(|s| s.reported >= MIN_COVERAGE).or(if timetable.is_some() {
            None
        } else {
            sparse_best
        });
        // Sensors passed over for reading too little, said beside the source taken.
        let passed_over: Vec<String> = sensors[..pick.unwrap_or(sensors.len())]
            .iter()
            .map(|s| format!("{} {} reported on {:.0} % of the days", s.source.sensor(), s.point, 100.0 * s.reported))
            .collect();
        let (source, point, confidence, text) = match (pick.map(|i| &sensors[i]), timetable) {
            (Some(Sensor { source: OccupancySource::Co2, point, .. }), _) => {
                let (occupancy, d) = from_co2(&z.co2);
                z.occupancy = occupancy;
                let decay = if d.decay_learned { "learned from its falls" } else { "too few falls seen: the default" };
                let text = format!(
                    "CO₂ sensor {point}: in when people's CO₂ shows above noise (background {:.0} ppm, decay {:.2}/h {decay}, noise {:.0} ppm)",
                    d.background_ppm, d.decay_per_hour, d.noise_ppm
                );
                (OccupancySource::Co2, Some(point.clone()), d.confidence, text)
            }
            (Some(Sensor { source: OccupancySource::BuildingPoint, point, reported }), _) => {
                z.occupancy = h.building_occupancy.clone();
                let text = format!(
                    "building-wide occupancy point {point}, reporting on {:.0} % of the days: what the BMS says of the whole building, not of this zone",
                    100.0 * reported
                );
                (OccupancySource::BuildingPoint, Some(point.clone()), reported * BUILDING_POINT_TRUST, text)
            }
            // The presence sensor, the one sensor left.
            (Some(Sensor { source, point, reported }), _) => {
                let text = format!("presence sensor {point}, reporting on {:.0} % of the days", 100.0 * reported);
                (*source, Some(point.clone()), *reported, text)
            }
            (None, Some(t)) => {
                z.occupancy = open.clone();
                let days: Vec<String> = t.days.iter().map(ToString::to_string).collect();
                let text = format!(
                    "the [occupancy] timetable, {} {}–{} (configured, not measured)",
                    days.join(" "),
                    t.from.format("%H:%M"),
                    t.until.format("%H:%M")
                );
                (OccupancySource::Timetable, None, TIMETABLE_CONFIDENCE, text)
            }
            (None, None) => {
                z.occupancy = vec![None; n];
                (OccupancySource::None, None, 0.0, format!("no occupancy source, counted as empty: {FIX}"))
            }
        };
        let text =
            if passed_over.is_empty() { text } else { format!("{text} ({} in the window)", passed_over.join("; ")) };
        sources.push(ZoneOccupancy { zone: z.zone.clone(), source, point, confidence, text });
    }
    h.occupancy_sources = sources;
}

#[cfg(test)]
mod tests;
