//! The emulated building as an integrator would describe it: rooms by use and floor area, the
//! plant, the timetable, how well its own controls are tuned and what devices it speaks through.
//! `validate()` turns it into [`SimSettings`] and reports every problem at once.

use super::occupancy::{Occupancy, Pattern};
use super::programme::{Calendar, ControlProgramme};
pub use super::random::RandomFile;
use super::weather::{Climate, Weather, WeatherError};
use crate::config::duration::Span;
/// The comfort band while occupied, for the emulator's own discomfort count (K·h): the same
/// table, defaults and meaning as the agent's `[comfort]`.
pub use crate::config::file::ComfortFile;
use chrono::{NaiveDate, NaiveTime, TimeZone, Weekday};
use chrono_tz::Tz;
use serde::Deserialize;
use sobre_models::emulator::{Co2Spec, Envelope, Plant, Sensor, Use, ZoneSpec};
use std::path::PathBuf;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SimFile {
    pub building: BuildingFile,
    #[serde(default)]
    pub plant: PlantFile,
    #[serde(default)]
    pub occupancy: OccupancyFile,
    #[serde(default)]
    pub control: ControlFile,
    #[serde(default)]
    pub occupants: OccupantsFile,
    #[serde(default)]
    pub comfort: ComfortFile,
    #[serde(default)]
    pub devices: DevicesFile,
    #[serde(default)]
    pub sensors: SensorsFile,
    /// A building that does not keep to its description (see `random.rs`); absent: it does.
    #[serde(default)]
    pub random: Option<RandomFile>,
    pub zones: Vec<ZoneFile>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BuildingFile {
    /// Names the topics; letters, digits, `-`, `_`.
    pub id: String,
    #[serde(default)]
    pub name: Option<String>,
    /// What the building is used for: the agent that reads it (`sobre demo`) takes its defaults.
    #[serde(default, rename = "use")]
    pub building_use: crate::config::BuildingUse,
    #[serde(default = "paris")]
    pub timezone: String,
    #[serde(default = "poor")]
    pub envelope: EnvelopeFile,
    /// First local day simulated; the weather must cover it.
    pub start: NaiveDate,
    pub days: u32,
    #[serde(default = "quarter_hour")]
    pub step: Span,
    #[serde(default = "one")]
    pub seed: u64,
    /// School holidays, `[first, last]` local days, both included.
    #[serde(default)]
    pub holidays: Vec<[NaiveDate; 2]>,
    /// An hourly CSV with `timestamp_utc`, `temp_c` and `ghi_wm2`; the bundled `climate` when
    /// absent.
    #[serde(default)]
    pub weather: Option<PathBuf>,
    /// The bundled weather: Cambridge (UK) 2019, or the Netherlands from 25 October 2021 to
    /// 4 January 2022.
    #[serde(default)]
    pub climate: Climate,
}

fn paris() -> String {
    "Europe/Paris".into()
}
fn poor() -> EnvelopeFile {
    EnvelopeFile::Poor
}
fn quarter_hour() -> Span {
    Span::secs(900)
}
fn one() -> u64 {
    1
}

#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EnvelopeFile {
    Poor,
    Average,
    Good,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, tag = "kind", rename_all = "snake_case")]
pub enum PlantFile {
    HeatPump {
        /// Heat at 7 °C outdoors; sized from the emitters when absent.
        #[serde(default)]
        rated_kw: Option<f64>,
        #[serde(default = "supply")]
        supply_c: f64,
        #[serde(default = "carnot")]
        carnot_share: f64,
    },
    Boiler {
        #[serde(default)]
        rated_kw: Option<f64>,
        #[serde(default = "boiler_efficiency")]
        efficiency: f64,
        /// Circulation pumps, W, whenever the plant runs.
        #[serde(default = "pumps")]
        pumps_w: f64,
        /// Burner fan and controls, W, in proportion to the burner's firing.
        #[serde(default = "burner_fan")]
        fan_w: f64,
    },
}

fn supply() -> f64 {
    45.0
}
fn carnot() -> f64 {
    0.45
}
fn boiler_efficiency() -> f64 {
    0.9
}
fn pumps() -> f64 {
    250.0
}
fn burner_fan() -> f64 {
    120.0
}

impl Default for PlantFile {
    fn default() -> Self {
        PlantFile::HeatPump { rated_kw: None, supply_c: supply(), carnot_share: carnot() }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct OccupancyFile {
    pub days: Vec<Weekday>,
    pub from: NaiveTime,
    pub until: NaiveTime,
    /// `timetable`: everyone in from `from` to `until`, half over lunch (a school). `office`:
    /// people drift in and out, fewer on Fridays, meeting rooms booked by the hour.
    pub pattern: Pattern,
}

impl Default for OccupancyFile {
    fn default() -> Self {
        Self {
            days: vec![Weekday::Mon, Weekday::Tue, Weekday::Wed, Weekday::Thu, Weekday::Fri],
            from: NaiveTime::from_hms_opt(8, 0, 0).unwrap_or_default(),
            until: NaiveTime::from_hms_opt(17, 0, 0).unwrap_or_default(),
            pattern: Pattern::Timetable,
        }
    }
}

/// The building's own controls: a preset, with any of its values overridden.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ControlFile {
    /// Who runs the heating: thermostats in each room, or a BMS that switches the plant.
    pub system: ControlSystem,
    pub tuning: Tuning,
    pub occupied_c: Option<f64>,
    pub unoccupied_c: Option<f64>,
    pub start: Option<NaiveTime>,
    pub stop: Option<NaiveTime>,
    /// Heat on Saturdays and Sundays as on school days.
    pub weekends: Option<bool>,
    /// Frost protection during holidays; holidays are heated as school days when absent.
    pub holidays_c: Option<f64>,
    /// No heating (frost protection only) on days whose mean outdoor temperature is above
    /// this: a summer/winter switch working on a day-ahead forecast. Off when absent.
    pub cut_off_above_c: Option<f64>,
    /// Start the heating as late as still reaches `occupied_c` by `[occupancy] from`, judged
    /// from the zones' temperatures; `start` is then unused.
    pub optimum_start: Option<bool>,
    /// How early optimum start may begin before `[occupancy] from`.
    pub max_preheat: Option<Span>,
}

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ControlSystem {
    /// Room thermostats on a programme, always heating to a setback at night (the school).
    #[default]
    Thermostats,
    /// A building management system: the plant is off outside the heated period (the zones'
    /// setpoint reads the low limit, below which the plant restarts to protect from frost).
    Bms,
}

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Tuning {
    /// What an energy audit finds: 21 °C from 04:30 to 20:00 every day of the year, 19 °C at
    /// night.
    #[default]
    Poor,
    /// 19.5 °C from an hour and a half before the pupils, setback to 16 °C at night and at
    /// weekends, frost protection in the holidays.
    Good,
}
// Under a BMS: poor is 22 °C from a fixed 04:00 start every day, weekends included; good is
// 21 °C on working days with optimum start (at most 3 h early); the plant off otherwise.

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct OccupantsFile {
    pub enabled: bool,
    /// An occupant who is cold this long turns the thermostat up until the end of the day.
    pub complain_below_c: f64,
    pub after: Span,
    pub raise_to_c: f64,
}

impl Default for OccupantsFile {
    fn default() -> Self {
        Self { enabled: true, complain_below_c: 18.0, after: Span::secs(30 * 60), raise_to_c: 22.0 }
    }
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ZoneStyle {
    /// A TRV and a presence sensor per zone, as Zigbee2MQTT publishes them.
    #[default]
    Zigbee2mqtt,
    /// One JSON state message per zone.
    Generic,
    /// A BMS's points, one topic each (`bms/<id>/<zone>/temperature`, `…/co2`, `…/setpoint`),
    /// setpoint writes held until released; no presence, no heating demand.
    Bms,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MeterStyle {
    /// Tasmota energy monitors (the SENSOR telemetry message).
    #[default]
    Tasmota,
    Generic,
    /// The BMS's meters: gas (the heating), the HVAC's electricity (pumps and burner) and the
    /// rest of the building's, on `bms/<id>/meters/…`.
    Bms,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DevicesFile {
    pub zones: ZoneStyle,
    pub meters: MeterStyle,
    /// Where the emulator's own topics live (weather, clock, step, occupant); `sim/<id>`.
    pub prefix: Option<String>,
    /// The agent's status topic: when it says offline, commands lapse and the building's own
    /// programme takes over (the fallback contract).
    pub agent_status: Option<String>,
    /// Zigbee2MQTT presence sensors in each zone (`false`: removed).
    pub presence: bool,
}

impl Default for DevicesFile {
    fn default() -> Self {
        Self {
            zones: ZoneStyle::default(),
            meters: MeterStyle::default(),
            prefix: None,
            agent_status: None,
            presence: true,
        }
    }
}

#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SensorsFile {
    pub temperature_sigma: f64,
    /// Resolution of published temperatures (Zigbee TRVs: 0.1 or 0.5 K).
    pub temperature_quantum: f64,
    /// A Zigbee2MQTT air-quality sensor in each zone (`zigbee2mqtt/co2-<zone>`); a BMS always
    /// reads CO₂.
    pub co2: bool,
    /// CO₂ sensors' noise, ppm (NDIR sensors: a few ppm).
    pub co2_sigma: f64,
}

impl Default for SensorsFile {
    fn default() -> Self {
        Self { temperature_sigma: 0.1, temperature_quantum: 0.1, co2: false, co2_sigma: 5.0 }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ZoneFile {
    pub name: String,
    #[serde(rename = "use")]
    pub room: UseFile,
    pub area_m2: f64,
    /// Zones sharing a wall or an open door with this one.
    #[serde(default)]
    pub neighbours: Vec<String>,
    /// Where its windows face: the share of the sun it gets.
    #[serde(default)]
    pub facing: Facing,
}

#[derive(Debug, Clone, Copy, Default, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Facing {
    #[default]
    South,
    East,
    West,
    North,
}

#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum UseFile {
    Classroom,
    Office,
    Gym,
    Hall,
    Meeting,
}

/// Heat exchanged through an internal wall or door between neighbouring zones, W/K.
const NEIGHBOUR_W_PER_K: f64 = 40.0;
/// An undersized plant, as most are after decades of extensions: it caps the coldest mornings.
const PLANT_SHARE_OF_EMITTERS: f64 = 0.8;

/// The emulator's runtime settings.
#[derive(Debug, Clone)]
pub struct SimSettings {
    pub id: String,
    pub name: String,
    pub building_use: crate::config::BuildingUse,
    pub timezone: Tz,
    pub start_ms: i64,
    pub steps: u64,
    pub step_s: f64,
    pub seed: u64,
    pub zones: Vec<ZoneSpec>,
    /// Each zone's CO₂ physics, in the order of `zones`.
    pub co2: Vec<Co2Spec>,
    pub couplings: Vec<(usize, usize, f64)>,
    pub plant: Plant,
    /// The boiler's pumps and burner fan, metered apart (none for a heat pump: its meter has them).
    pub auxiliaries: Option<Auxiliaries>,
    pub calendar: Calendar,
    /// Who is in each zone when.
    pub occupancy: Occupancy,
    pub control: ControlProgramme,
    pub occupants: Option<OccupantsFile>,
    pub comfort: ComfortFile,
    pub zone_style: ZoneStyle,
    /// Per zone, whether its device holds a command until released (a BMS's, or drawn by
    /// `[random]`) rather than dropping it at its programme's next period.
    pub holds: Vec<bool>,
    /// The randomised building's knobs, when `[random]` is given.
    pub random: Option<RandomFile>,
    pub meter_style: MeterStyle,
    pub prefix: String,
    pub agent_status: Option<String>,
    pub sensor: Sensor,
    pub co2_sensor: Sensor,
    /// Zigbee2MQTT presence sensors are installed.
    pub presence: bool,
    /// Zigbee2MQTT CO₂ sensors are installed (a BMS reads CO₂ whatever this says).
    pub co2_sensors: bool,
    pub weather: Weather,
    pub climate: Climate,
}

/// The HVAC electricity of a boiler plant.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Auxiliaries {
    pub pumps_w: f64,
    pub fan_w: f64,
}

#[derive(Debug, thiserror::Error)]
pub enum SimConfigError {
    #[error("cannot read {path}: {source}")]
    Read { path: PathBuf, source: std::io::Error },
    #[error("{origin}: {message}")]
    Parse { origin: String, message: String },
    #[error("{origin} describes no building the emulator can run:\n  - {}", problems.join("\n  - "))]
    Invalid { origin: String, problems: Vec<String> },
    #[error("weather: {0}")]
    Weather(#[from] WeatherError),
}

impl SimSettings {
    pub fn load(path: &std::path::Path) -> Result<Self, SimConfigError> {
        let text = std::fs::read_to_string(path)
            .map_err(|source| SimConfigError::Read { path: path.to_path_buf(), source })?;
        Self::parse(&text, &path.display().to_string())
    }

    pub fn parse(text: &str, origin: &str) -> Result<Self, SimConfigError> {
        let file: SimFile = toml::from_str(text)
            .map_err(|e| SimConfigError::Parse { origin: origin.into(), message: e.to_string() })?;
        validate(file, origin)
    }
}

fn validate(file: SimFile, origin: &str) -> Result<SimSettings, SimConfigError> {
    let mut problems = Vec::new();
    let b = &file.building;
    if b.id.is_empty() || !b.id.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_') {
        problems.push(format!("building.id {:?}: use letters, digits, '-' or '_'", b.id));
    }
    let timezone: Tz = b.timezone.parse().unwrap_or_else(|_| {
        problems.push(format!("building.timezone {:?} is not an IANA time zone", b.timezone));
        chrono_tz::UTC
    });
    if b.days == 0 {
        problems.push("building.days must be at least 1".into());
    }
    let step_s = b.step.0.as_secs_f64();
    if !(60.0..=3600.0).contains(&step_s) || 86_400.0 % step_s != 0.0 {
        problems.push(format!("building.step {}: use a divisor of a day between 1m and 1h, e.g. \"15m\"", b.step));
    }
    for [first, last] in &b.holidays {
        if last < first {
            problems.push(format!("building.holidays [{first}, {last}]: the last day is before the first"));
        }
    }
    let envelope = match b.envelope {
        EnvelopeFile::Poor => Envelope::Poor,
        EnvelopeFile::Average => Envelope::Average,
        EnvelopeFile::Good => Envelope::Good,
    };
    if file.zones.is_empty() {
        problems.push("zones: describe at least one [[zones]]".into());
    }
    let mut zones = Vec::new();
    let mut co2 = Vec::new();
    let mut rooms = Vec::new();
    for (i, z) in file.zones.iter().enumerate() {
        if z.name.is_empty() || !z.name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_') {
            problems.push(format!("zones[{i}].name {:?}: use letters, digits, '-' or '_'", z.name));
        }
        if file.zones[..i].iter().any(|o| o.name == z.name) {
            problems.push(format!("zones[{i}].name {:?} is used twice", z.name));
        }
        if !(z.area_m2.is_finite() && (5.0..=5000.0).contains(&z.area_m2)) {
            problems.push(format!("zones[{i}].area_m2 {}: a room is between 5 and 5000 m²", z.area_m2));
        }
        let room = match z.room {
            UseFile::Classroom => Use::Classroom,
            UseFile::Office => Use::Office,
            UseFile::Gym => Use::Gym,
            UseFile::Hall => Use::Hall,
            UseFile::Meeting => Use::Meeting,
        };
        let mut spec = ZoneSpec::from_archetype(&z.name, z.area_m2.clamp(5.0, 5000.0), room, envelope);
        spec.solar_aperture_m2 *= match z.facing {
            Facing::South => 1.0,
            Facing::East | Facing::West => 0.7,
            Facing::North => 0.35,
        };
        co2.push(Co2Spec::for_zone(&spec, room));
        rooms.push(room);
        zones.push(spec);
    }
    let mut couplings: Vec<(usize, usize, f64)> = Vec::new();
    for (i, z) in file.zones.iter().enumerate() {
        for n in &z.neighbours {
            match file.zones.iter().position(|o| &o.name == n) {
                Some(j) if j == i => problems.push(format!("zones[{i}] {:?} lists itself as a neighbour", z.name)),
                Some(j) => {
                    let pair = (i.min(j), i.max(j), NEIGHBOUR_W_PER_K);
                    if !couplings.iter().any(|c| (c.0, c.1) == (pair.0, pair.1)) {
                        couplings.push(pair);
                    }
                }
                None => problems.push(format!("zones[{i}] {:?}: neighbour {n:?} is not a zone", z.name)),
            }
        }
    }
    let emitters_kw: f64 = zones.iter().map(|z| z.emitter).sum::<f64>() / 1000.0;
    let mut sized = |rated: Option<f64>| {
        if rated.is_some_and(|kw| !(kw.is_finite() && kw > 0.0)) {
            problems.push(format!("plant.rated_kw {rated:?} must be positive"));
        }
        rated.unwrap_or(PLANT_SHARE_OF_EMITTERS * emitters_kw) * 1000.0
    };
    let mut auxiliaries = None;
    let plant = match file.plant {
        PlantFile::HeatPump { rated_kw, supply_c, carnot_share } => {
            let rated_w = sized(rated_kw);
            if !(25.0..=75.0).contains(&supply_c) {
                problems.push(format!("plant.supply_c {supply_c}: heat pumps supply water at 25–75 °C"));
            }
            if !(0.2..=0.7).contains(&carnot_share) {
                problems.push(format!("plant.carnot_share {carnot_share}: real units reach 0.3–0.55"));
            }
            Plant::HeatPump { rated_w, supply_c, carnot_share }
        }
        PlantFile::Boiler { rated_kw, efficiency, pumps_w, fan_w } => {
            let rated_w = sized(rated_kw);
            if !(0.5..=1.1).contains(&efficiency) {
                problems.push(format!("plant.efficiency {efficiency}: boilers reach 0.6–1.07 on net calorific value"));
            }
            for (key, w) in [("pumps_w", pumps_w), ("fan_w", fan_w)] {
                if !(w.is_finite() && (0.0..=20_000.0).contains(&w)) {
                    problems.push(format!("plant.{key} {w}: a plant's auxiliaries draw 0–20 000 W"));
                }
            }
            auxiliaries = Some(Auxiliaries { pumps_w, fan_w });
            Plant::Boiler { rated_w, efficiency }
        }
    };
    let o = &file.occupancy;
    if o.until <= o.from {
        problems.push(format!("occupancy: until {} is not after from {}", o.until, o.from));
    }
    let control = ControlProgramme::from_file(&file.control);
    if control.stop <= control.start {
        problems.push(format!("control: stop {} is not after start {}", control.stop, control.start));
    }
    let preheat_s = control.max_preheat_s;
    if control.optimum_start && !(preheat_s > 0 && preheat_s <= 12 * 3600 && preheat_s % step_s.max(1.0) as i64 == 0) {
        problems.push(format!(
            "control.max_preheat {} s: optimum start needs a whole number of steps, at most 12 h, e.g. \"3h\"",
            preheat_s
        ));
    }
    if control.optimum_start && control.stop <= o.from {
        problems.push(format!("control: stop {} is not after occupancy.from {}", control.stop, o.from));
    }
    for (key, v) in [("occupied_c", control.occupied_c), ("unoccupied_c", control.unoccupied_c)] {
        if !(5.0..=30.0).contains(&v) {
            problems.push(format!("control.{key} {v}: thermostats take 5–30 °C"));
        }
    }
    if let Some(c) = control.cut_off_above_c.filter(|c| !(-10.0..=30.0).contains(c)) {
        problems.push(format!("control.cut_off_above_c {c}: a daily mean outdoor temperature, -10–30 °C"));
    }
    let c = file.comfort;
    if c.max_c <= c.min_c {
        problems.push(format!("comfort: max_c {} is not above min_c {}", c.max_c, c.min_c));
    }
    let s = file.sensors;
    if !(s.temperature_sigma >= 0.0 && s.temperature_sigma < 2.0 && s.temperature_quantum >= 0.0) {
        problems.push(format!(
            "sensors: temperature_sigma {} must be in [0, 2) and temperature_quantum {} not negative",
            s.temperature_sigma, s.temperature_quantum
        ));
    }
    if !(s.co2_sigma >= 0.0 && s.co2_sigma <= 100.0) {
        problems.push(format!("sensors.co2_sigma {}: NDIR sensors are within 0–100 ppm", s.co2_sigma));
    }
    if let Some(r) = &file.random {
        problems.extend(r.problems());
    }
    if file.devices.zones == ZoneStyle::Bms && file.control.system != ControlSystem::Bms {
        problems.push("devices.zones = \"bms\" needs [control] system = \"bms\"".into());
    }
    let local_start = b.start.and_hms_opt(0, 0, 0).unwrap_or_default();
    let start_ms = timezone.from_local_datetime(&local_start).earliest().map_or(0, |t| t.timestamp_millis());
    let steps = (f64::from(b.days) * 86_400.0 / step_s.max(1.0)) as u64;
    let weather = match &b.weather {
        Some(path) => Weather::load(path)?,
        None => Weather::bundled(b.climate)?,
    };
    if problems.is_empty() {
        if let Err(e) = weather.covers(start_ms, start_ms + (f64::from(b.days) * 86_400_000.0) as i64) {
            problems.push(format!("building.start {} and days {}: {e}", b.start, b.days));
        }
    }
    if !problems.is_empty() {
        return Err(SimConfigError::Invalid { origin: origin.into(), problems });
    }
    let prefix = file.devices.prefix.clone().unwrap_or_else(|| format!("sim/{}", b.id));
    Ok(SimSettings {
        id: b.id.clone(),
        name: b.name.clone().unwrap_or_else(|| b.id.clone()),
        building_use: b.building_use,
        timezone,
        start_ms,
        steps,
        step_s,
        seed: b.seed,
        zones,
        co2,
        couplings,
        plant,
        auxiliaries,
        calendar: Calendar {
            timezone,
            days: file.occupancy.days.clone(),
            from: o.from,
            until: o.until,
            holidays: b.holidays.iter().map(|[a, z]| (*a, *z)).collect(),
        },
        occupancy: Occupancy::new(o.pattern, b.seed, &rooms),
        control,
        occupants: file.occupants.enabled.then_some(file.occupants),
        comfort: file.comfort,
        zone_style: file.devices.zones,
        holds: match &file.random {
            Some(r) => r.holds(file.zones.len()),
            None => vec![file.devices.zones == ZoneStyle::Bms; file.zones.len()],
        },
        random: file.random,
        meter_style: file.devices.meters,
        prefix,
        agent_status: file.devices.agent_status,
        sensor: Sensor { sigma: s.temperature_sigma, quantum: s.temperature_quantum },
        co2_sensor: Sensor { sigma: s.co2_sigma, quantum: 1.0 },
        presence: file.devices.presence,
        co2_sensors: s.co2,
        weather,
        climate: b.climate,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const SCHOOL: &str = include_str!("../../../config/sim-school.toml");

    #[test]
    fn the_bundled_school_is_valid() {
        let s = SimSettings::parse(SCHOOL, "sim-school.toml").expect("valid");
        assert!(s.zones.len() >= 6 && !s.couplings.is_empty());
        assert_eq!(s.step_s, 900.0);
    }

    #[test]
    fn the_bundled_office_is_a_bms_over_a_boiler_with_optimum_start() {
        let s = SimSettings::parse(super::super::OFFICE, "sim-office.toml").expect("valid");
        assert_eq!((s.zones.len(), s.zone_style, s.meter_style), (3, ZoneStyle::Bms, MeterStyle::Bms));
        assert!(!s.plant.is_electric() && s.auxiliaries.is_some());
        let c = s.control;
        assert_eq!(
            (c.system, c.optimum_start, c.max_preheat_s, c.weekends),
            (ControlSystem::Bms, true, 3 * 3600, false)
        );
        // A BMS's devices under thermostats, or an optimum start that is no whole number of
        // steps, are refused with their key
        let table = [
            ("system = \"bms\"", "system = \"thermostats\"", "devices.zones"),
            ("# max_preheat = \"3h\"", "max_preheat = \"20m\"", "control.max_preheat"),
        ];
        for (from, to, key) in table {
            let broken = super::super::OFFICE.replace(from, to);
            let e = SimSettings::parse(&broken, "office").expect_err(key);
            assert!(e.to_string().contains(key), "{key}: {e}");
        }
    }

    #[test]
    fn every_problem_is_reported_with_its_key() {
        let broken = SCHOOL
            .replace("timezone = \"Europe/Paris\"", "timezone = \"Mars/Olympus\"")
            .replace("neighbours = [\"class-2\"]", "neighbours = [\"attic\"]")
            .replace("days = 56", "days = 0");
        let e = SimSettings::parse(&broken, "broken.toml").expect_err("three problems");
        let text = e.to_string();
        for key in ["building.timezone", "\"attic\"", "building.days"] {
            assert!(text.contains(key), "{key} in {text}");
        }
        let unknown = SCHOOL.replace("[building]", "[building]\ncolour = \"red\"");
        assert!(SimSettings::parse(&unknown, "x").expect_err("unknown key").to_string().contains("colour"));
    }

    #[test]
    fn a_randomised_school_says_which_devices_hold_and_its_agent_releases_them_there() {
        // Given the school randomised with every device holding, and without [random]
        let held = format!("{SCHOOL}\n[random]\nseed = 3\nholding_share = 1.0\n");
        let table = [(held.as_str(), true), (SCHOOL, false)];
        for (text, holds) in table {
            let s = SimSettings::parse(text, "school").expect("valid");
            // Then each zone's device holds or drops as drawn, and the agent's points say so
            assert_eq!(s.holds, vec![holds; s.zones.len()]);
            let topics = super::super::devices::Topics::new(&s);
            let points = super::super::devices::agent_points(&s, &topics);
            let agent = format!("[site]\nid = \"s\"\ntimezone = \"Europe/Paris\"\n{points}");
            let settings = crate::config::Settings::parse(&agent, "generated").expect("valid agent configuration");
            assert!(settings.control.zones.iter().all(|z| z.holds == holds && z.release.explicit() == holds));
        }
        // And a knob out of its range is refused with its key, as an unknown one is
        let broken = format!("{SCHOOL}\n[random]\nholding_share = 2.0\n");
        let e = SimSettings::parse(&broken, "x").expect_err("a share above 1");
        assert!(e.to_string().contains("random.holding_share"), "{e}");
        let unknown = format!("{SCHOOL}\n[random]\nchaos = 1.0\n");
        assert!(SimSettings::parse(&unknown, "x").expect_err("unknown key").to_string().contains("chaos"));
    }

    #[test]
    fn a_start_outside_the_weather_year_is_refused() {
        let late = SCHOOL.replace("start = \"2019-01-07\"", "start = \"2023-01-09\"");
        let e = SimSettings::parse(&late, "x").expect_err("no weather in 2023");
        assert!(e.to_string().contains("building.start"), "{e}");
    }
}
