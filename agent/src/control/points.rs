//! Which of the site's points control reads, and what each is to it: a controlled zone's
//! temperature, setpoint or presence, the outdoor temperature (forecasts hold it), or the
//! heating meter (events are settled on it). Ingest's tap copies exactly these.

use crate::config::Settings;
use crate::point::PointKind;

/// Which of a zone's readings a point carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Field {
    Temperature,
    Setpoint,
    Occupancy,
}

/// What a tapped point is to control.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Tapped {
    /// The controlled zone's index and the reading.
    Zone(usize, Field),
    Outdoor,
    Heating,
}

/// By point index, what each point is to control, or `None` for points it does not read.
#[derive(Debug, Clone)]
pub(crate) struct PointMap(Vec<Option<Tapped>>);

impl PointMap {
    pub(crate) fn new(settings: &Settings) -> Self {
        let zones = &settings.control.zones;
        let of = |p: &crate::config::Point| {
            if p.kind == PointKind::OutdoorTemperature {
                return Some(Tapped::Outdoor);
            }
            if p.is_heating_meter() {
                return Some(Tapped::Heating);
            }
            let zone = zones.iter().position(|z| Some(&z.zone) == p.zone.as_ref())?;
            let field = match p.kind {
                PointKind::ZoneTemperature => Field::Temperature,
                PointKind::Setpoint => Field::Setpoint,
                PointKind::Occupancy => Field::Occupancy,
                _ => return None,
            };
            Some(Tapped::Zone(zone, field))
        };
        Self(settings.points.iter().map(of).collect())
    }

    pub(crate) fn get(&self, point: usize) -> Option<Tapped> {
        self.0.get(point).copied().flatten()
    }

    /// By point index, whether a step waits for it: only the zones' points are waited for.
    pub(crate) fn waited_for(&self) -> Vec<bool> {
        self.0.iter().map(|t| matches!(t, Some(Tapped::Zone(..)))).collect()
    }

    /// How many points control reads.
    pub(crate) fn len(&self) -> usize {
        self.0.iter().flatten().count()
    }
}

/// The points the task reads, by index: what ingest's tap copies.
pub fn tapped(settings: &Settings) -> Vec<bool> {
    PointMap::new(settings).0.iter().map(Option::is_some).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_point_is_a_controlled_zones_reading_the_outdoor_temperature_the_heating_meter_or_nothing() {
        // Given a site with a controlled zone, a zone it does not control, outdoor and meters
        let text = r#"
[site]
id = "s"
timezone = "Europe/Paris"

[[points]]
id = "class_temp"
kind = "zone_temperature"
unit = "°C"
zone = "class"
topic = "t/1"

[[points]]
id = "class_set"
kind = "setpoint"
unit = "°C"
zone = "class"
topic = "t/2"

[[points]]
id = "hall_temp"
kind = "zone_temperature"
unit = "°C"
zone = "hall"
topic = "t/3"

[[points]]
id = "outdoor"
kind = "outdoor_temperature"
unit = "°C"
topic = "t/4"

[[points]]
id = "heat"
kind = "energy"
unit = "kWh"
tags = ["heating"]
topic = "t/5"

[[points]]
id = "elec"
kind = "energy"
unit = "kWh"
topic = "t/6"

[[control.zones]]
zone = "class"
command_topic = "trv/class/set"
"#;
        let settings = Settings::parse(text, "test").expect("settings");
        // When they are mapped
        let map = PointMap::new(&settings);
        // Then each is what it carries, and the step waits for the zone's points only
        let got: Vec<Option<Tapped>> = (0..6).map(|i| map.get(i)).collect();
        let zone = |f| Some(Tapped::Zone(0, f));
        assert_eq!(
            got,
            [zone(Field::Temperature), zone(Field::Setpoint), None, Some(Tapped::Outdoor), Some(Tapped::Heating), None]
        );
        assert_eq!(map.waited_for(), [true, true, false, false, false, false]);
        assert_eq!(tapped(&settings), [true, true, false, true, true, false]);
        assert_eq!(map.len(), 4);
    }
}
