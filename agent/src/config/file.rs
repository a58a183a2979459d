//! The configuration file as the operator writes it. Every default lives here, in one place,
//! but for those that depend on the building's use, in one table (`super::building_use`);
//! `validate()` turns these types into the runtime [`Settings`](super::Settings).

use super::duration::Span;
use crate::clock::ClockMode;
use crate::point::{Fuel, PointKind};
use serde::Deserialize;
use std::path::PathBuf;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConfigFile {
    pub site: SiteFile,
    #[serde(default)]
    pub broker: BrokerFile,
    #[serde(default)]
    pub agent: AgentFile,
    #[serde(default)]
    pub ingest: IngestFile,
    #[serde(default)]
    pub storage: StorageFile,
    #[serde(default)]
    pub tariffs: TariffsFile,
    #[serde(default)]
    pub comfort: SiteComfortFile,
    /// The city's broker; no reports leave the building without it.
    #[serde(default)]
    pub uplink: Option<UplinkFile>,
    #[serde(default)]
    pub reports: ReportsFile,
    #[serde(default)]
    pub advisor: AdvisorFile,
    #[serde(default)]
    pub control: super::control::ControlFile,
    #[serde(default)]
    pub web: super::web::WebFile,
    #[serde(default)]
    pub homeassistant: HomeAssistantFile,
    /// When the building is open: the occupancy of zones with no sensor that shows it.
    #[serde(default)]
    pub occupancy: Option<super::occupancy::OccupancyFile>,
    /// Measured savings against a baseline period; no savings reports without it.
    #[serde(default)]
    pub savings: Option<SavingsFile>,
    #[serde(default)]
    pub points: Vec<PointFile>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SavingsFile {
    /// First and last local day of the baseline period, both included (before the measures).
    pub baseline: [chrono::NaiveDate; 2],
    /// Energy points to report on; every energy point when absent.
    #[serde(default)]
    pub points: Option<Vec<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UplinkFile {
    /// The central broker: its own host, credentials and TLS, separate from the building's.
    pub broker: BrokerFile,
    /// Reports go to `<prefix>/<site>/reports/<kind>`, the status to `<prefix>/<site>/status`.
    #[serde(default = "city_prefix")]
    pub prefix: String,
    /// Reports sent and not yet acknowledged at any time.
    #[serde(default = "in_flight")]
    pub in_flight: usize,
    #[serde(default)]
    pub budget: BudgetFile,
    /// How long a stop may wait for acknowledgements; what is unacknowledged stays queued.
    #[serde(default = "shutdown_deadline")]
    pub shutdown_deadline: Span,
}

fn city_prefix() -> String {
    "sobre".into()
}
fn in_flight() -> usize {
    16
}
fn shutdown_deadline() -> Span {
    Span::secs(5)
}

/// The disk the outbox may use while the central broker is out of reach.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct BudgetFile {
    pub rows: u64,
    pub bytes: u64,
}

impl Default for BudgetFile {
    fn default() -> Self {
        Self { rows: 100_000, bytes: 64 << 20 }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ReportsFile {
    /// Event time between health reports.
    pub health_interval: Span,
    /// Wall time between looks at whether a report is due.
    pub check_interval: Span,
    /// Who answers for the agent's models, for the AI register.
    pub owner: Option<String>,
    pub contact: Option<String>,
    /// Power of one busy core of the gateway, to estimate the agent's own energy.
    pub watts_per_core: f64,
}

impl Default for ReportsFile {
    fn default() -> Self {
        Self {
            health_interval: Span::days(1),
            check_interval: Span::secs(1),
            owner: None,
            contact: None,
            watts_per_core: 1.5,
        }
    }
}

/// The advisor's targets and cadence.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AdvisorFile {
    /// The night and unoccupied level a setback proposes, °C; by building use when absent.
    pub setback_c: Option<f64>,
    /// The highest occupied heating setpoint the site allows, °C; by building use when absent
    /// (19 °C in French public buildings, 21 °C in an office).
    pub comfort_limit_c: Option<f64>,
    /// Days a year the heating runs: turns the analysed period's savings into a year's.
    pub heating_season_days: f64,
    /// The unoccupied electric load expected at most, as a share of the occupied load.
    pub baseload_share: f64,
    /// History each run analyses, and event time between runs.
    pub window: Span,
    pub interval: Span,
    /// A recommendation nobody decided on lapses after this (event time).
    pub expiry: Span,
}

impl Default for AdvisorFile {
    fn default() -> Self {
        Self {
            setback_c: None,
            comfort_limit_c: None,
            heating_season_days: 212.0,
            baseload_share: 0.3,
            window: Span::days(56),
            interval: Span::days(1),
            expiry: Span::days(14),
        }
    }
}

/// What a kWh of each fuel costs and emits, for savings in € and CO₂.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TariffsFile {
    pub electricity: TariffFile,
    pub gas: TariffFile,
    /// District heating.
    pub heat: TariffFile,
}

#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TariffFile {
    pub eur_per_kwh: f64,
    pub kg_co2_per_kwh: f64,
}

impl Default for TariffsFile {
    // French public-sector orders of magnitude: electricity and gas prices of 2024 contracts,
    // emission factors from ADEME's Base Empreinte (electricity: average French mix, gas: on
    // the net calorific value, district heating: national average network).
    fn default() -> Self {
        Self {
            electricity: TariffFile { eur_per_kwh: 0.20, kg_co2_per_kwh: 0.052 },
            gas: TariffFile { eur_per_kwh: 0.10, kg_co2_per_kwh: 0.227 },
            heat: TariffFile { eur_per_kwh: 0.09, kg_co2_per_kwh: 0.11 },
        }
    }
}

/// The comfort band while a zone is occupied: discomfort is counted outside it (K·h). Each
/// key defaults by the site's building use (`super::building_use`).
#[derive(Debug, Clone, Copy, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SiteComfortFile {
    pub min_c: Option<f64>,
    pub max_c: Option<f64>,
}

/// A comfort band with both ends (the emulator's, which has no building use).
#[cfg(feature = "sim")]
#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ComfortFile {
    pub min_c: f64,
    pub max_c: f64,
}

#[cfg(feature = "sim")]
impl Default for ComfortFile {
    fn default() -> Self {
        let d = BuildingUse::Other.defaults();
        Self { min_c: d.comfort_min_c, max_c: d.comfort_max_c }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SiteFile {
    /// Stable identifier: it names the topics and every report. Letters, digits, `-`, `_`.
    pub id: String,
    #[serde(default)]
    pub name: Option<String>,
    /// IANA time zone: schedules, local days and months follow it.
    pub timezone: String,
    /// Conditioned floor area, for energy use intensity (kWh/m²).
    #[serde(default)]
    pub floor_area_m2: Option<f64>,
    /// What the building is used for: it chooses the defaults of the comfort band, the occupied
    /// limit and the setback.
    #[serde(default, rename = "use")]
    pub building_use: BuildingUse,
    /// Days the building is closed besides weekends (public and school holidays), `[first,
    /// last]` local days, both included: the baselines give them their own day type.
    #[serde(default)]
    pub holidays: Vec<[chrono::NaiveDate; 2]>,
}

/// What a building is used for.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum BuildingUse {
    School,
    Office,
    TownHall,
    Gym,
    Library,
    /// Today's generic defaults (comfort 19–26 °C, occupied limit 19 °C, setback 16 °C).
    #[default]
    Other,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct BrokerFile {
    pub host: String,
    pub port: u16,
    /// Defaults to `sobre-<site id>`.
    pub client_id: Option<String>,
    pub username: Option<String>,
    pub password: Option<String>,
    /// A file holding the password (e.g. a systemd credential), instead of `password`.
    pub password_file: Option<PathBuf>,
    pub keep_alive: Span,
    pub reconnect_min: Span,
    pub reconnect_max: Span,
    /// Largest MQTT packet accepted or sent. The rumqttc default (10 KiB) is too small for reports.
    /// The building's broker is told (MQTT 5) and drops a larger one rather than sending it.
    pub max_packet_bytes: usize,
    /// The building's broker only: how long it keeps the agent's session (subscriptions and
    /// the readings that arrive meanwhile) while the agent is away.
    pub session_expiry: Span,
    /// The building's broker only: readings it may send before the agent acknowledges them.
    /// The agent acknowledges once they are committed, and commits when half of them wait (or
    /// `storage.batch_max` are in the batch). Each commit waits for its fsync, so the window
    /// must hold a few whole batches or the broker waits on the disk: 2,000 stored QoS 1
    /// readings at 40,000/s here, 8,000 at 66,000–75,000/s (README, Performance).
    pub receive_maximum: u16,
    pub tls: Option<TlsFile>,
}

impl Default for BrokerFile {
    fn default() -> Self {
        Self {
            host: "127.0.0.1".into(),
            port: 1883,
            client_id: None,
            username: None,
            password: None,
            password_file: None,
            keep_alive: Span::secs(30),
            reconnect_min: Span(std::time::Duration::from_millis(250)),
            reconnect_max: Span::secs(30),
            max_packet_bytes: 1 << 20,
            session_expiry: Span::days(7),
            receive_maximum: 8000,
            tls: None,
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TlsFile {
    /// PEM file of the certificate authority that signed the broker's certificate.
    pub ca_file: PathBuf,
    pub client_cert_file: Option<PathBuf>,
    pub client_key_file: Option<PathBuf>,
}

/// Home Assistant MQTT discovery on the building's broker.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct HomeAssistantFile {
    pub enabled: bool,
    /// Home Assistant's discovery prefix.
    pub discovery_prefix: String,
    /// `device`: one discovery message for the agent and its entities (Home Assistant 2024.11
    /// and later); `entity`: one message per entity, for older versions.
    pub discovery: Discovery,
    /// How often the summary (savings to date, recommendations) is refreshed, in wall time.
    pub summary_interval: Span,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Discovery {
    Device,
    Entity,
}

impl Default for HomeAssistantFile {
    fn default() -> Self {
        Self {
            enabled: true,
            discovery_prefix: "homeassistant".into(),
            discovery: Discovery::Device,
            summary_interval: Span::secs(300),
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AgentFile {
    /// Defaults to `sobre/<site id>`.
    pub topic_prefix: Option<String>,
    pub clock: ClockMode,
    /// How often the retained status is refreshed.
    pub status_interval: Span,
}

impl Default for AgentFile {
    fn default() -> Self {
        Self { topic_prefix: None, clock: ClockMode::Wall, status_interval: Span::secs(60) }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct IngestFile {
    /// Payloads above this are rejected before decoding.
    pub max_payload_bytes: usize,
    /// A reading stamped further ahead of the wall clock than this is rejected.
    pub future_tolerance: Span,
    /// A reading older than a point's newest reading by more than this is rejected as late.
    pub late_window: Span,
    /// Rejections are logged as one summary line per point and reason per interval.
    pub rejection_log_interval: Span,
    /// Messages waiting between the MQTT link and ingest. When full, readings wait in the link
    /// (up to `broker.receive_maximum` and some slack), then the link reads no more from the
    /// broker until ingest catches up; while the disk refuses commits, QoS 0 readings past
    /// that are dropped and counted, and QoS 1 ones left with the broker to send again.
    pub queue: usize,
}

impl Default for IngestFile {
    fn default() -> Self {
        Self {
            max_payload_bytes: 64 * 1024,
            future_tolerance: Span::secs(300),
            late_window: Span::days(7),
            rejection_log_interval: Span::secs(300),
            queue: 1024,
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct StorageFile {
    pub path: PathBuf,
    /// Readings are committed together at most this often (fewer writes: SD-card wear)...
    pub commit_interval: Span,
    /// ...or as soon as this many are waiting.
    pub batch_max: usize,
    /// Records waiting for the writer; when full, ingest waits.
    pub queue: usize,
    /// `full`: every commit is synced to the disk before its readings are acknowledged, so a
    /// power cut loses nothing the broker handed over (one fsync a batch). `normal`: synced at
    /// checkpoints only; a power cut may undo the last commits, whose readings the broker has
    /// already forgotten. For disks whose fsync is slow and boxes whose power is safe.
    pub sync: Sync,
    /// The most disk the store's file may take. Past it, commits wait (nothing is
    /// acknowledged, the status says `degraded`) until retention frees room. None: the disk's.
    pub max_bytes: Option<u64>,
    pub retention: RetentionFile,
}

impl Default for StorageFile {
    fn default() -> Self {
        Self {
            path: PathBuf::from("/var/lib/sobre/sobre.db"),
            commit_interval: Span::secs(1),
            batch_max: 2000,
            queue: 8192,
            sync: Sync::Full,
            max_bytes: None,
            retention: RetentionFile::default(),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Sync {
    Full,
    Normal,
}

impl Sync {
    /// SQLite's name for it.
    pub fn pragma(self) -> &'static str {
        match self {
            Sync::Full => "FULL",
            Sync::Normal => "NORMAL",
        }
    }
}

/// How long each resolution, and each record the agent keeps, is kept. The French BACS decree
/// (décret 2020-887) asks for hourly data and monthly data kept for at least five years;
/// monthly below five years is refused. A ledger's or the control log's latest record about
/// each subject is kept whatever its age: restarts restore from it.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RetentionFile {
    pub raw: Span,
    pub quarter_hour: Span,
    pub hourly: Span,
    pub daily: Span,
    pub monthly: Span,
    /// Recommendations and what people decided about them: the savings claimed rest on when a
    /// change was accepted, so as long as the daily data.
    pub decisions: Span,
    /// Every command, override and flex request: as long as the quarter-hours it explains.
    pub control_log: Span,
    /// Ids of reports the city's broker acknowledged (wall time). Only a report rebuilt after a
    /// restart (the register entry of the running version) could be sent again; the city
    /// takes a repeated id as the same report.
    pub delivered: Span,
}

impl Default for RetentionFile {
    fn default() -> Self {
        Self {
            raw: Span::days(35),
            quarter_hour: Span::days(400),
            hourly: Span::days(5 * 365),
            daily: Span::days(10 * 365),
            monthly: Span::days(10 * 365),
            decisions: Span::days(10 * 365),
            control_log: Span::days(400),
            delivered: Span::days(90),
        }
    }
}

/// How a payload becomes a number (and maybe a timestamp).
#[derive(Debug, Clone, Deserialize)]
#[serde(tag = "format", rename_all = "snake_case", deny_unknown_fields)]
pub enum DecodeFile {
    /// The payload is the number itself (`21.5`, `ON`/`OFF` for occupancy).
    Plain,
    /// A JSON document: `pointer` (RFC 6901) to the value, `timestamp` to an ISO 8601 string
    /// or epoch seconds / milliseconds.
    Json { pointer: String, timestamp: Option<String> },
    /// A Zigbee2MQTT device topic; `field` is the exposed property (`energy`, `local_temperature`).
    Zigbee2mqtt { field: String },
    /// A Tasmota `tele/<topic>/SENSOR` message; `field` is a dotted path (`ENERGY.Total`).
    Tasmota { field: String },
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PointFile {
    pub id: String,
    pub kind: PointKind,
    /// The unit the device sends. Presets know their device's unit; otherwise required.
    pub unit: Option<String>,
    pub zone: Option<String>,
    pub topic: String,
    pub decode: Option<DecodeFile>,
    #[serde(default)]
    pub tags: Vec<String>,
    /// Energy points: what is metered (default electricity).
    pub fuel: Option<Fuel>,
    /// Energy points: `true` (default) for a meter counter, `false` for interval energy.
    pub cumulative: Option<bool>,
    /// Interval energy: the length of the interval each reading covers, from its timestamp.
    pub interval: Option<Span>,
    /// Counters: the largest plausible average power; a larger step is a meter swap or glitch.
    pub max_kw: Option<f64>,
    /// `[min, max]` in the stored unit (kWh, kW, °C, %, ppm). Defaults per kind.
    pub range: Option<[f64; 2]>,
    /// Where the device says `online` / `offline`. Presets derive it.
    pub availability_topic: Option<String>,
    /// Energy and power points: the plant behind this meter is switched off at times (nights,
    /// weekends) and the meter then reads a real 0, which is data, not a gap.
    #[serde(default)]
    pub zeros_are_readings: bool,
}
