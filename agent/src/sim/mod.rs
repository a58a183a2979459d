//! `sobre sim`: a building to learn from. An emulated multi-zone building (physics in
//! `sobre_models::emulator`) that speaks MQTT like a real gateway's devices: Zigbee2MQTT TRVs
//! and presence sensors, Tasmota meters, a weather feed; or a BMS's points and meters. It obeys
//! setpoint commands on its thermostats' topics (a BMS holds them until released), lets an
//! occupant override a thermostat, and runs in event time: as fast as the machine allows, at a
//! multiple of real time, or stepped by a test. Two buildings are bundled: a school and an office.
//!
//! Layer: tools, at the top (see `crate::layers`): may use every layer below.

pub mod closed_loop;
pub(crate) mod config;
#[cfg(test)]
mod detector_check;
pub mod devices;
pub(crate) mod emulator;
pub(crate) mod link;
pub(crate) mod occupancy;
#[cfg(test)]
mod office_tests;
pub(crate) mod programme;
pub(crate) mod random;
#[cfg(test)]
mod random_runs;
/// The README's figures, read as the e2e tests read them: one reader for both.
#[cfg(test)]
#[allow(dead_code)]
#[path = "../../../tests/e2e/support/readme.rs"]
mod readme;
pub mod trial;
pub(crate) mod weather;
pub mod whatif;

pub use config::SimSettings;
pub use emulator::{Emulator, Readings, Truth};
pub use link::{run, SimSummary, Target};
pub use weather::Climate;

/// The school `sobre demo` runs: poorly tuned, eight zones, a heat pump, winter 2019.
pub const SCHOOL: &str = include_str!("../../../config/sim-school.toml");
/// The office: a BMS over a gas boiler, well tuned, three zones, autumn 2021 in the Netherlands.
pub const OFFICE: &str = include_str!("../../../config/sim-office.toml");

/// The buildings bundled with sobre.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum Bundled {
    /// A primary school: heat pump, Zigbee TRVs and presence sensors, poorly tuned thermostats.
    #[default]
    School,
    /// Town hall offices: gas boiler, a BMS (plant off at night, optimum start), CO₂ sensors.
    Office,
}

impl Bundled {
    /// The building's description, and where it comes from.
    pub fn text(self) -> (&'static str, &'static str) {
        match self {
            Bundled::School => (SCHOOL, "config/sim-school.toml"),
            Bundled::Office => (OFFICE, "config/sim-office.toml"),
        }
    }

    pub fn settings(self) -> Result<SimSettings, config::SimConfigError> {
        let (text, origin) = self.text();
        SimSettings::parse(text, origin)
    }
}

/// The demo's savings baseline: the building's first five weeks; the rest is the reporting period.
const DEMO_BASELINE_DAYS: u64 = 35;

/// The agent configuration `sobre demo` runs: config/demo.toml with the brokers' ports and the
/// store's path filled in, the site (its name, time zone, use and holidays) and the savings'
/// baseline taken from the building, and the points of `building`'s devices appended.
pub fn demo_settings(
    building: &Emulator,
    port: u16,
    uplink_port: u16,
    store: &std::path::Path,
) -> Result<crate::config::Settings, crate::config::ConfigError> {
    let s = building.settings();
    let first_day = s.calendar.local(s.start_ms).date();
    let holidays: Vec<String> = s.calendar.holidays.iter().map(|(a, z)| format!("[\"{a}\", \"{z}\"]")).collect();
    let text = include_str!("../../../config/demo.toml")
        .replace("{site}", &s.id)
        .replace("{name}", &s.name.replace('"', "'"))
        .replace("{timezone}", s.timezone.name())
        .replace("{floor_area_m2}", &format!("{:.0}", s.zones.iter().map(|z| z.floor_area_m2).sum::<f64>()))
        .replace("{use}", s.building_use.name())
        .replace("{holidays}", &format!("[{}]", holidays.join(", ")))
        .replace("{baseline_from}", &first_day.to_string())
        .replace("{baseline_to}", &(first_day + chrono::Days::new(DEMO_BASELINE_DAYS - 1)).to_string())
        .replace("{port}", &port.to_string())
        .replace("{uplink_port}", &uplink_port.to_string())
        .replace("{path}", &store.display().to_string().replace('\\', "/"))
        + &devices::agent_points(building.settings(), building.topics());
    crate::config::Settings::parse(&text, "config/demo.toml")
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Pace {
    /// As fast as the broker acknowledges.
    Max,
    /// `n` times real time.
    Factor(f64),
    /// Only when a test asks, on `<prefix>/step`.
    Stepped,
}

impl std::str::FromStr for Pace {
    type Err = String;
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text {
            "max" => Ok(Pace::Max),
            "stepped" => Ok(Pace::Stepped),
            n => match n.parse::<f64>() {
                Ok(f) if f.is_finite() && f > 0.0 => Ok(Pace::Factor(f)),
                _ => {
                    Err(format!("{n:?} is not a pace; use \"max\", \"stepped\" or a factor of real time such as 3600"))
                }
            },
        }
    }
}
