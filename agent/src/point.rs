//! What a point is: its kind, the unit its device speaks, and how that unit becomes the
//! agent's one unit per kind (kWh, kW, °C, %, ppm, 0/1).

use serde::Deserialize;
use std::fmt;

/// The kinds of point the agent understands. Brick / Haystack names are given in `brick()`
/// so that tags in reports and the store line up with what integrators already use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PointKind {
    /// Energy: a cumulative meter counter, or the energy of fixed intervals.
    Energy,
    Power,
    ZoneTemperature,
    OutdoorTemperature,
    Setpoint,
    Humidity,
    Co2,
    Occupancy,
    /// Global horizontal irradiance: solar gains for thermal models.
    SolarIrradiance,
    /// How hard a zone's emitter works: a TRV's valve opening or PI heating demand, %.
    HeatingDemand,
    /// How hard a zone's cooling works: a fan coil's chilled-water valve or cooling demand, %.
    CoolingDemand,
}

impl PointKind {
    pub const ALL: [PointKind; 11] = [
        PointKind::Energy,
        PointKind::Power,
        PointKind::ZoneTemperature,
        PointKind::OutdoorTemperature,
        PointKind::Setpoint,
        PointKind::Humidity,
        PointKind::Co2,
        PointKind::Occupancy,
        PointKind::SolarIrradiance,
        PointKind::HeatingDemand,
        PointKind::CoolingDemand,
    ];

    pub fn name(self) -> &'static str {
        match self {
            PointKind::Energy => "energy",
            PointKind::Power => "power",
            PointKind::ZoneTemperature => "zone_temperature",
            PointKind::OutdoorTemperature => "outdoor_temperature",
            PointKind::Setpoint => "setpoint",
            PointKind::Humidity => "humidity",
            PointKind::Co2 => "co2",
            PointKind::Occupancy => "occupancy",
            PointKind::SolarIrradiance => "solar_irradiance",
            PointKind::HeatingDemand => "heating_demand",
            PointKind::CoolingDemand => "cooling_demand",
        }
    }

    pub fn brick(self) -> &'static str {
        match self {
            PointKind::Energy => "Energy_Sensor",
            PointKind::Power => "Electric_Power_Sensor",
            PointKind::ZoneTemperature => "Zone_Air_Temperature_Sensor",
            PointKind::OutdoorTemperature => "Outside_Air_Temperature_Sensor",
            PointKind::Setpoint => "Zone_Air_Temperature_Setpoint",
            PointKind::Humidity => "Zone_Air_Humidity_Sensor",
            PointKind::Co2 => "CO2_Level_Sensor",
            PointKind::Occupancy => "Occupancy_Sensor",
            PointKind::SolarIrradiance => "Solar_Irradiance_Sensor",
            PointKind::HeatingDemand => "Valve_Position_Sensor",
            PointKind::CoolingDemand => "Cooling_Demand_Sensor",
        }
    }

    /// The unit every reading of this kind is stored in.
    pub fn stored_unit(self) -> Unit {
        match self {
            PointKind::Energy => Unit::KilowattHour,
            PointKind::Power => Unit::Kilowatt,
            PointKind::ZoneTemperature | PointKind::OutdoorTemperature | PointKind::Setpoint => Unit::Celsius,
            PointKind::Humidity | PointKind::HeatingDemand | PointKind::CoolingDemand => Unit::Percent,
            PointKind::Co2 => Unit::Ppm,
            PointKind::Occupancy => Unit::Boolean,
            PointKind::SolarIrradiance => Unit::WattPerSquareMetre,
        }
    }

    /// The range a physically possible reading falls in, in the stored unit. Generous on
    /// purpose: it catches a sensor that reports 6553.5 °C, not an unusual building.
    pub fn default_range(self) -> (f64, f64) {
        match self {
            // A counter in kWh: a large campus meter stays well below 10^10 kWh.
            PointKind::Energy => (0.0, 1.0e10),
            // Negative power is export (PV); 100 MW is more than any public building draws.
            PointKind::Power => (-100_000.0, 100_000.0),
            PointKind::ZoneTemperature => (-20.0, 60.0),
            PointKind::OutdoorTemperature => (-60.0, 60.0),
            PointKind::Setpoint => (0.0, 40.0),
            PointKind::Humidity | PointKind::HeatingDemand | PointKind::CoolingDemand => (0.0, 100.0),
            PointKind::Co2 => (0.0, 20_000.0),
            PointKind::Occupancy => (0.0, 1.0),
            // The solar constant is 1361 W/m²; nothing on the ground measures more than ~1500.
            PointKind::SolarIrradiance => (0.0, 1600.0),
        }
    }

    /// Rollups sum energy over time and average everything else.
    pub fn is_energy(self) -> bool {
        self == PointKind::Energy
    }

    pub fn accepted_units(self) -> Vec<Unit> {
        Unit::ALL.into_iter().filter(|u| u.dimension() == self.stored_unit().dimension()).collect()
    }
}

impl fmt::Display for PointKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Unit {
    WattHour,
    KilowattHour,
    MegawattHour,
    Watt,
    Kilowatt,
    Celsius,
    Fahrenheit,
    Kelvin,
    Percent,
    Ppm,
    Boolean,
    WattPerSquareMetre,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Dimension {
    Energy,
    Power,
    Temperature,
    Ratio,
    Concentration,
    State,
    Irradiance,
}

impl Unit {
    pub const ALL: [Unit; 12] = [
        Unit::WattHour,
        Unit::KilowattHour,
        Unit::MegawattHour,
        Unit::Watt,
        Unit::Kilowatt,
        Unit::Celsius,
        Unit::Fahrenheit,
        Unit::Kelvin,
        Unit::Percent,
        Unit::Ppm,
        Unit::Boolean,
        Unit::WattPerSquareMetre,
    ];

    pub fn symbol(self) -> &'static str {
        match self {
            Unit::WattHour => "Wh",
            Unit::KilowattHour => "kWh",
            Unit::MegawattHour => "MWh",
            Unit::Watt => "W",
            Unit::Kilowatt => "kW",
            Unit::Celsius => "°C",
            Unit::Fahrenheit => "°F",
            Unit::Kelvin => "K",
            Unit::Percent => "%",
            Unit::Ppm => "ppm",
            Unit::Boolean => "bool",
            Unit::WattPerSquareMetre => "W/m²",
        }
    }

    /// Reads the spellings devices and people actually use ("degC", "C", "°C").
    pub fn parse(text: &str) -> Option<Unit> {
        let unit = match text.trim() {
            "Wh" | "wh" => Unit::WattHour,
            "kWh" | "kwh" | "KWh" => Unit::KilowattHour,
            "MWh" | "mwh" => Unit::MegawattHour,
            "W" | "w" => Unit::Watt,
            "kW" | "kw" | "KW" => Unit::Kilowatt,
            "°C" | "C" | "degC" | "celsius" => Unit::Celsius,
            "°F" | "F" | "degF" | "fahrenheit" => Unit::Fahrenheit,
            "K" | "kelvin" => Unit::Kelvin,
            "%" | "percent" | "%RH" => Unit::Percent,
            "ppm" => Unit::Ppm,
            "bool" | "boolean" => Unit::Boolean,
            "W/m²" | "W/m2" | "Wm-2" => Unit::WattPerSquareMetre,
            _ => return None,
        };
        Some(unit)
    }

    fn dimension(self) -> Dimension {
        match self {
            Unit::WattHour | Unit::KilowattHour | Unit::MegawattHour => Dimension::Energy,
            Unit::Watt | Unit::Kilowatt => Dimension::Power,
            Unit::Celsius | Unit::Fahrenheit | Unit::Kelvin => Dimension::Temperature,
            Unit::Percent => Dimension::Ratio,
            Unit::Ppm => Dimension::Concentration,
            Unit::Boolean => Dimension::State,
            Unit::WattPerSquareMetre => Dimension::Irradiance,
        }
    }

    /// Converts a value in this unit to the stored unit of its dimension.
    pub fn normalise(self, value: f64) -> f64 {
        match self {
            Unit::WattHour | Unit::Watt => value / 1000.0,
            Unit::MegawattHour => value * 1000.0,
            Unit::Fahrenheit => (value - 32.0) * 5.0 / 9.0,
            Unit::Kelvin => value - 273.15,
            Unit::KilowattHour
            | Unit::Kilowatt
            | Unit::Celsius
            | Unit::Percent
            | Unit::Ppm
            | Unit::Boolean
            | Unit::WattPerSquareMetre => value,
        }
    }
}

impl fmt::Display for Unit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.symbol())
    }
}

/// What an energy point meters. Gas and heat are kept apart from electricity because their
/// baselines differ (CalTRACK: no cooling term for gas).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Fuel {
    Electricity,
    Gas,
    Heat,
}

impl Fuel {
    pub fn name(self) -> &'static str {
        match self {
            Fuel::Electricity => "electricity",
            Fuel::Gas => "gas",
            Fuel::Heat => "heat",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_unit_normalises_to_its_kind() {
        let table = [
            (Unit::WattHour, 1500.0, 1.5),
            (Unit::MegawattHour, 0.25, 250.0),
            (Unit::Watt, 2300.0, 2.3),
            (Unit::Fahrenheit, 212.0, 100.0),
            (Unit::Fahrenheit, 32.0, 0.0),
            (Unit::Kelvin, 293.15, 20.0),
            (Unit::Celsius, 21.5, 21.5),
        ];
        for (unit, given, then) in table {
            assert!((unit.normalise(given) - then).abs() < 1e-9, "{unit}: {given} -> {}", unit.normalise(given));
        }
    }

    #[test]
    fn each_kind_accepts_only_units_of_its_dimension() {
        assert!(PointKind::ZoneTemperature.accepted_units().contains(&Unit::Fahrenheit));
        assert!(!PointKind::ZoneTemperature.accepted_units().contains(&Unit::KilowattHour));
        assert_eq!(PointKind::Energy.accepted_units(), vec![Unit::WattHour, Unit::KilowattHour, Unit::MegawattHour]);
        for kind in PointKind::ALL {
            assert!(kind.accepted_units().contains(&kind.stored_unit()), "{kind}");
        }
    }

    #[test]
    fn unit_spellings_round_trip() {
        for unit in Unit::ALL {
            assert_eq!(Unit::parse(unit.symbol()), Some(unit));
        }
        assert_eq!(Unit::parse("furlongs"), None);
    }
}
