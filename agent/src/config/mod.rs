//! Configuration: one TOML file, read into [`file::ConfigFile`] (unknown keys refused, every
//! default in one place) and turned by [`validate`] into the runtime [`Settings`].
//!
//! Layer: config, a leaf above the vocabulary (see `crate::layers`): data and validation only;
//! what the other modules build from it (a controller, a schedule) they build themselves.

mod advisor;
pub(crate) mod authority;
mod building_use;
pub mod control;
mod decoder;
pub(crate) mod duration;
pub(crate) mod file;
pub(crate) mod occupancy;
mod toml_key;
mod validate;
pub(crate) mod web;
pub mod zone;

pub use crate::clock::ClockMode;
use crate::point::{Fuel, PointKind, Unit};
pub use advisor::AdvisorSettings;
pub use building_use::{Chosen, UseDefaults};
use chrono_tz::Tz;
pub use decoder::Decoder;
pub use duration::Span;
use file::ConfigFile;
pub use file::{BuildingUse, Discovery};
pub use occupancy::Timetable;
use std::fmt;
use std::path::{Path, PathBuf};
pub use validate::validate;
pub use web::WebSettings;

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read {path}: {source}")]
    Read { path: PathBuf, source: std::io::Error },
    #[error("{origin}: {message}")]
    Parse { origin: String, message: String },
    #[error("{origin}: {} problem(s):\n{}", .problems.len(), Problems(.problems))]
    Invalid { origin: String, problems: Vec<Problem> },
}

/// One thing wrong in a valid-TOML file: where, what was found, what would be accepted.
#[derive(Debug, Clone, PartialEq)]
pub struct Problem {
    pub key: String,
    pub found: String,
    pub expected: String,
}

struct Problems<'a>(&'a [Problem]);

impl fmt::Display for Problems<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for p in self.0 {
            writeln!(f, "  - {}: found {}; {}", p.key, p.found, p.expected)?;
        }
        Ok(())
    }
}

#[derive(Debug, Clone)]
pub struct Settings {
    pub site: Site,
    pub broker: BrokerSettings,
    pub agent: AgentSettings,
    pub ingest: IngestSettings,
    pub storage: StorageSettings,
    pub tariffs: Tariffs,
    pub comfort: Comfort,
    pub uplink: Option<UplinkSettings>,
    pub reports: ReportSettings,
    pub advisor: AdvisorSettings,
    pub control: control::ControlConfig,
    /// The local page; `None`: no page.
    pub web: Option<WebSettings>,
    pub homeassistant: Option<HomeAssistantSettings>,
    pub savings: Option<SavingsSettings>,
    /// `[occupancy]`: when the building is open, if configured.
    pub occupancy: Option<Timetable>,
    pub points: Vec<Point>,
    /// The values that default by building use, and whether the file set each.
    pub by_use: ByUse,
}

/// The comfort band, the occupied limit and the setback as chosen: set in the file, or the
/// default for the site's building use (`sobre check` says which).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ByUse {
    pub comfort_min_c: Chosen,
    pub comfort_max_c: Chosen,
    pub comfort_limit_c: Chosen,
    pub setback_c: Chosen,
}

#[derive(Debug, Clone)]
pub struct SavingsSettings {
    /// Local days, both included.
    pub baseline: (chrono::NaiveDate, chrono::NaiveDate),
    /// Energy point ids to report on.
    pub points: Vec<String>,
}

/// The outbox's disk budget, stated by the operator: past it the oldest reports are dropped
/// (and counted).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Budget {
    pub rows: u64,
    pub bytes: u64,
}

#[derive(Debug, Clone)]
pub struct UplinkSettings {
    pub broker: BrokerSettings,
    pub prefix: String,
    pub in_flight: usize,
    pub budget: Budget,
    pub shutdown_deadline: Span,
}

#[derive(Debug, Clone)]
pub struct ReportSettings {
    pub health_interval: Span,
    pub check_interval: Span,
    pub owner: Option<String>,
    pub contact: Option<String>,
    pub watts_per_core: f64,
}

#[derive(Debug, Clone, Copy)]
pub struct Tariff {
    pub eur_per_kwh: f64,
    pub kg_co2_per_kwh: f64,
}

#[derive(Debug, Clone, Copy)]
pub struct Tariffs {
    pub electricity: Tariff,
    pub gas: Tariff,
    pub heat: Tariff,
}

impl Tariffs {
    pub fn of(&self, fuel: crate::point::Fuel) -> Tariff {
        match fuel {
            crate::point::Fuel::Electricity => self.electricity,
            crate::point::Fuel::Gas => self.gas,
            crate::point::Fuel::Heat => self.heat,
        }
    }
}

/// The comfort band while occupied, °C.
#[derive(Debug, Clone, Copy)]
pub struct Comfort {
    pub min_c: f64,
    pub max_c: f64,
}

#[derive(Debug, Clone)]
pub struct Site {
    pub id: String,
    pub name: String,
    pub timezone: Tz,
    pub floor_area_m2: Option<f64>,
    pub building_use: file::BuildingUse,
    /// `(first, last)` local days, both included, sorted.
    pub holidays: Vec<(chrono::NaiveDate, chrono::NaiveDate)>,
}

impl Site {
    /// Whether a local day falls in one of the site's configured holidays.
    pub fn is_holiday(&self, date: chrono::NaiveDate) -> bool {
        self.holidays.iter().any(|(first, last)| (*first..=*last).contains(&date))
    }
}

#[derive(Debug, Clone)]
pub struct BrokerSettings {
    pub host: String,
    pub port: u16,
    pub client_id: String,
    pub credentials: Option<(String, String)>,
    pub keep_alive: Span,
    pub reconnect_min: Span,
    pub reconnect_max: Span,
    pub max_packet_bytes: usize,
    pub session_expiry_s: u32,
    pub receive_maximum: u16,
    pub tls: Option<TlsSettings>,
}

#[derive(Debug, Clone)]
pub struct TlsSettings {
    pub ca_pem: Vec<u8>,
    pub client_auth: Option<(Vec<u8>, Vec<u8>)>,
}

#[derive(Debug, Clone)]
pub struct HomeAssistantSettings {
    pub discovery_prefix: String,
    pub discovery: file::Discovery,
    pub summary_interval: Span,
}

#[derive(Debug, Clone)]
pub struct AgentSettings {
    pub topic_prefix: String,
    pub clock: ClockMode,
    pub status_interval: Span,
}

#[derive(Debug, Clone)]
pub struct IngestSettings {
    pub max_payload_bytes: usize,
    pub future_tolerance: Span,
    pub late_window: Span,
    pub rejection_log_interval: Span,
    pub queue: usize,
}

#[derive(Debug, Clone)]
pub struct StorageSettings {
    pub path: PathBuf,
    pub commit_interval: Span,
    pub batch_max: usize,
    pub queue: usize,
    pub sync: file::Sync,
    pub max_bytes: Option<u64>,
    pub retention: Retention,
}

#[derive(Debug, Clone, Copy)]
pub struct Retention {
    pub raw: Span,
    pub quarter_hour: Span,
    pub hourly: Span,
    pub daily: Span,
    pub monthly: Span,
    /// Superseded records of the decision ledger and the control log, in agent time.
    pub decisions: Span,
    pub control_log: Span,
    /// Delivered report ids, in wall time (when the city acknowledged them).
    pub delivered: Span,
}

/// How an energy point's readings become energy.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum EnergyMode {
    /// A meter counter: energy is the difference between consecutive readings.
    Counter { max_kw: f64 },
    /// Each reading is the energy of `[timestamp, timestamp + length)`.
    Interval { length: Span, max_kw: f64 },
}

#[derive(Debug, Clone)]
pub struct Point {
    pub id: String,
    pub kind: PointKind,
    /// The unit the device sends; readings are stored in `kind.stored_unit()`.
    pub unit: Unit,
    pub zone: Option<String>,
    pub topic: String,
    pub decoder: Decoder,
    pub tags: Vec<String>,
    pub fuel: Option<Fuel>,
    pub energy: Option<EnergyMode>,
    pub range: (f64, f64),
    pub availability_topic: Option<String>,
    /// The plant behind the meter is off at times and it then reads a real 0 (energy and power
    /// points only).
    pub zeros_are_readings: bool,
}

impl Point {
    /// The meter the advisor and control take for the heating: an energy point tagged "heating".
    pub fn is_heating_meter(&self) -> bool {
        self.kind == crate::point::PointKind::Energy && self.tags.iter().any(|t| t == "heating")
    }
}

impl Settings {
    pub fn load(path: &Path) -> Result<Settings, ConfigError> {
        let text =
            std::fs::read_to_string(path).map_err(|source| ConfigError::Read { path: path.to_path_buf(), source })?;
        Self::parse(&text, &path.display().to_string())
    }

    /// Parses and validates; `origin` names the file in messages.
    pub fn parse(text: &str, origin: &str) -> Result<Settings, ConfigError> {
        // toml names the line; the table it is in (which of the `[[points]]`) is read here.
        let file: ConfigFile = toml::from_str(text).map_err(|e| {
            let key = e.span().and_then(|span| toml_key::key_at(text, span.start));
            let message = key.map_or_else(|| e.to_string(), |key| format!("`{key}`: {e}"));
            ConfigError::Parse { origin: origin.to_string(), message }
        })?;
        validate(file).map_err(|problems| ConfigError::Invalid { origin: origin.to_string(), problems })
    }

    /// The first configured point of a kind (the outdoor thermometer, the pyranometer).
    pub fn first_point(&self, kind: crate::point::PointKind) -> Option<&Point> {
        self.points.iter().find(|p| p.kind == kind)
    }

    pub fn point_index(&self, id: &str) -> Option<usize> {
        self.points.iter().position(|p| p.id == id)
    }
}

#[cfg(test)]
mod tests;
