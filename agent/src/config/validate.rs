//! `validate()`: the configuration file's types → the runtime [`Settings`], collecting every
//! problem with its key, what was found and what would be accepted.

use super::building_use::Chosen;
use super::file::{self, ConfigFile, DecodeFile, PointFile};
use super::Decoder;
use super::{
    AgentSettings, BrokerSettings, ByUse, Comfort, EnergyMode, HomeAssistantSettings, IngestSettings, Point, Problem,
    ReportSettings, Retention, SavingsSettings, Settings, Site, Span, StorageSettings, Tariff, Tariffs, TlsSettings,
    UplinkSettings,
};
use crate::point::{Fuel, PointKind, Unit};
use chrono_tz::Tz;
use std::collections::HashSet;
use std::fmt;
use std::path::Path;

/// Ten megawatts: above any public building's draw, so only a glitch or a meter swap exceeds it.
pub(super) const DEFAULT_MAX_KW: f64 = 10_000.0;
/// The BACS decree's minimum for monthly data.
const BACS_MONTHLY_MIN: Span = Span::days(5 * 365);

/// Collects every problem rather than stopping at the first: an operator fixes a file in one go.
#[derive(Default)]
pub(super) struct Check(Vec<Problem>);

impl Check {
    pub(super) fn fail(&mut self, key: impl Into<String>, found: impl fmt::Debug, expected: impl Into<String>) {
        self.0.push(Problem { key: key.into(), found: format!("{found:?}"), expected: expected.into() });
    }
}

pub fn validate(file: ConfigFile) -> Result<Settings, Vec<Problem>> {
    let mut check = Check::default();
    let site = validate_site(file.site, &mut check);
    let broker = validate_broker(file.broker, "broker", format!("sobre-{}", site.id), &mut check);
    let uplink = file.uplink.map(|u| validate_uplink(u, &site.id, &mut check));
    let reports = validate_reports(&file.reports, &mut check);
    let defaults = site.building_use.defaults();
    let by_use = ByUse {
        comfort_min_c: Chosen::of(file.comfort.min_c, defaults.comfort_min_c),
        comfort_max_c: Chosen::of(file.comfort.max_c, defaults.comfort_max_c),
        comfort_limit_c: Chosen::of(file.advisor.comfort_limit_c, defaults.comfort_limit_c),
        setback_c: Chosen::of(file.advisor.setback_c, defaults.setback_c),
    };
    let advisor = validate_advisor(&file.advisor, &by_use, &mut check);
    let web = super::web::validate(file.web, &mut check);
    let homeassistant = validate_homeassistant(file.homeassistant, &mut check);
    let agent = validate_agent(file.agent, &site, &mut check);
    let ingest = validate_ingest(file.ingest, &broker, &mut check);
    let storage = validate_storage(file.storage, &mut check);
    let tariffs = validate_tariffs(file.tariffs, &mut check);
    let comfort = validate_comfort(&by_use, &mut check);
    let points = validate_points(file.points, &mut check);
    let savings = file.savings.map(|f| validate_savings(f, &points, &mut check));
    let zones_of_points: Vec<&str> = points.iter().filter_map(|p| p.zone.as_deref()).collect();
    let control = super::control::validate(file.control, &zones_of_points, &mut check);
    let occupancy = super::occupancy::validate(file.occupancy, &site.holidays, &mut check);

    if check.0.is_empty() {
        Ok(Settings {
            control,
            site,
            broker,
            agent,
            ingest,
            storage,
            tariffs,
            comfort,
            uplink,
            reports,
            advisor,
            web,
            homeassistant,
            savings,
            occupancy,
            points,
            by_use,
        })
    } else {
        Err(check.0)
    }
}

fn validate_site(site: file::SiteFile, check: &mut Check) -> Site {
    let site_id = site.id.clone();
    if site_id.is_empty() || !site_id.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_') {
        check.fail("site.id", &site_id, "use letters, digits, '-' and '_' only: it becomes part of MQTT topics");
    }
    let timezone = super::zone::parse(&site.timezone).unwrap_or_else(|expected| {
        check.fail("site.timezone", &site.timezone, expected);
        Tz::UTC
    });
    if let Some(area) = site.floor_area_m2 {
        if !(area.is_finite() && area > 0.0) {
            check.fail("site.floor_area_m2", area, "use the conditioned floor area in m², a positive number");
        }
    }
    let mut holidays = Vec::new();
    for [first, last] in site.holidays {
        if last < first {
            check.fail(
                "site.holidays",
                format!("[{first}, {last}]"),
                "write each holiday as [first, last] local days, first not after last",
            );
        } else {
            holidays.push((first, last));
        }
    }
    holidays.sort();
    Site {
        name: site.name.unwrap_or_else(|| site_id.clone()),
        id: site_id,
        timezone,
        floor_area_m2: site.floor_area_m2,
        building_use: site.building_use,
        holidays,
    }
}

fn validate_reports(r: &file::ReportsFile, check: &mut Check) -> ReportSettings {
    if r.health_interval.0 < std::time::Duration::from_secs(60) || r.check_interval.0.is_zero() {
        check.fail(
            "reports.health_interval / reports.check_interval",
            (r.health_interval.to_string(), r.check_interval.to_string()),
            "use a health interval of at least \"1m\" and a positive check interval",
        );
    }
    if !(r.watts_per_core.is_finite() && r.watts_per_core > 0.0 && r.watts_per_core < 200.0) {
        check.fail(
            "reports.watts_per_core",
            r.watts_per_core,
            "use the power of one busy core, e.g. 1.5 W for a Raspberry Pi 4",
        );
    }
    ReportSettings {
        health_interval: r.health_interval,
        check_interval: r.check_interval,
        owner: r.owner.clone(),
        contact: r.contact.clone(),
        watts_per_core: r.watts_per_core,
    }
}

fn validate_advisor(a: &file::AdvisorFile, by_use: &ByUse, check: &mut Check) -> super::AdvisorSettings {
    let (setback_c, comfort_limit_c) = (by_use.setback_c.value, by_use.comfort_limit_c.value);
    if !(5.0..=20.0).contains(&setback_c) || !(16.0..=26.0).contains(&comfort_limit_c) || setback_c >= comfort_limit_c {
        check.fail(
            "advisor.setback_c / advisor.comfort_limit_c",
            (setback_c, comfort_limit_c),
            "use a setback of 5–20 °C below a comfort limit of 16–26 °C (e.g. 16 and 19), or leave them out for the defaults of [site] use",
        );
    }
    // An occupied limit below the comfort floor would have the advisor propose the discomfort
    // the floor forbids.
    let comfort_min_c = by_use.comfort_min_c.value;
    if comfort_min_c > comfort_limit_c {
        check.fail(
            "comfort.min_c / advisor.comfort_limit_c",
            (comfort_min_c, comfort_limit_c),
            "keep the comfort floor at or below the occupied limit the advisor proposes: lower comfort.min_c or raise advisor.comfort_limit_c",
        );
    }
    if !(1.0..=366.0).contains(&a.heating_season_days) || !(0.0..1.0).contains(&a.baseload_share) {
        check.fail(
            "advisor.heating_season_days / advisor.baseload_share",
            (a.heating_season_days, a.baseload_share),
            "use 1–366 days and a share below 1 (e.g. 212 and 0.3)",
        );
    }
    if a.window.0 < std::time::Duration::from_secs(14 * 86_400) || a.interval.0 < std::time::Duration::from_secs(60) {
        check.fail(
            "advisor.window / advisor.interval",
            (a.window.to_string(), a.interval.to_string()),
            "use a window of at least \"14d\" (the heat-loss model needs two weeks) and an interval of at least \"1m\"",
        );
    }
    super::AdvisorSettings {
        setback_c,
        comfort_limit_c,
        heating_season_days: a.heating_season_days,
        baseload_share: a.baseload_share,
        window: a.window.0,
        interval: a.interval.0,
        expiry: a.expiry.0,
    }
}

fn validate_homeassistant(ha: file::HomeAssistantFile, check: &mut Check) -> Option<HomeAssistantSettings> {
    if ha.enabled && !is_topic_prefix(&ha.discovery_prefix) {
        check.fail(
            "homeassistant.discovery_prefix",
            &ha.discovery_prefix,
            "use Home Assistant's prefix, \"homeassistant\" unless changed there",
        );
    }
    if ha.summary_interval.0 < std::time::Duration::from_secs(1) {
        check.fail(
            "homeassistant.summary_interval",
            ha.summary_interval.to_string(),
            "use at least \"1s\", e.g. \"5m\"",
        );
    }
    ha.enabled.then_some(HomeAssistantSettings {
        discovery_prefix: ha.discovery_prefix,
        discovery: ha.discovery,
        summary_interval: ha.summary_interval,
    })
}

fn validate_agent(file: file::AgentFile, site: &Site, check: &mut Check) -> AgentSettings {
    let agent = AgentSettings {
        topic_prefix: file.topic_prefix.unwrap_or_else(|| format!("sobre/{}", site.id)),
        clock: file.clock,
        status_interval: file.status_interval,
    };
    if !is_topic_prefix(&agent.topic_prefix) {
        check.fail("agent.topic_prefix", &agent.topic_prefix, "use a topic without wildcards or a trailing '/'");
    }
    agent
}

fn validate_ingest(ingest: file::IngestFile, broker: &BrokerSettings, check: &mut Check) -> IngestSettings {
    for (key, value) in [("ingest.queue", ingest.queue), ("ingest.max_payload_bytes", ingest.max_payload_bytes)] {
        if value == 0 {
            check.fail(key, value, "use a positive number");
        }
    }
    if ingest.max_payload_bytes > broker.max_packet_bytes {
        check.fail(
            "ingest.max_payload_bytes",
            ingest.max_payload_bytes,
            format!("use at most broker.max_packet_bytes ({})", broker.max_packet_bytes),
        );
    }
    IngestSettings {
        max_payload_bytes: ingest.max_payload_bytes,
        future_tolerance: ingest.future_tolerance,
        late_window: ingest.late_window,
        rejection_log_interval: ingest.rejection_log_interval,
        queue: ingest.queue,
    }
}

fn validate_storage(storage: file::StorageFile, check: &mut Check) -> StorageSettings {
    let r = storage.retention;
    if r.monthly < BACS_MONTHLY_MIN {
        check.fail(
            "storage.retention.monthly",
            r.monthly.to_string(),
            "keep monthly data at least \"5y\" (BACS decree)",
        );
    }
    for (key, shorter, longer) in [
        ("storage.retention.quarter_hour", r.raw, r.quarter_hour),
        ("storage.retention.hourly", r.quarter_hour, r.hourly),
        ("storage.retention.daily", r.hourly, r.daily),
        ("storage.retention.monthly", r.daily, r.monthly),
    ] {
        if longer < shorter {
            check.fail(
                key,
                longer.to_string(),
                format!("keep a coarser resolution at least as long as the finer one ({shorter})"),
            );
        }
    }
    // After a crash the writer rebuilds the rollup rows it held (the open hour, day and month)
    // from the finer ones: the open day from its quarter-hours, the open month from its days.
    for (key, span, least, why) in [
        ("storage.retention.quarter_hour", r.quarter_hour, Span::days(2), "the open day's"),
        ("storage.retention.daily", r.daily, Span::days(32), "the open month's"),
    ] {
        if span < least {
            check.fail(
                key,
                span.to_string(),
                format!("keep at least {least}: {why} rollups are rebuilt from them after a crash"),
            );
        }
    }
    for (key, span) in [
        ("storage.retention.decisions", r.decisions),
        ("storage.retention.control_log", r.control_log),
        ("storage.retention.delivered", r.delivered),
    ] {
        if span < Span::days(1) {
            check.fail(
                key,
                span.to_string(),
                "keep records at least \"1d\" (the latest about each subject stays anyway)",
            );
        }
    }
    if storage.batch_max == 0 || storage.queue == 0 {
        check.fail("storage.batch_max / storage.queue", (storage.batch_max, storage.queue), "use positive numbers");
    }
    if storage.max_bytes.is_some_and(|b| b < 1 << 20) {
        check.fail(
            "storage.max_bytes",
            storage.max_bytes.unwrap_or_default(),
            "use at least 1048576 (1 MiB), or leave it out",
        );
    }
    StorageSettings {
        path: storage.path,
        commit_interval: storage.commit_interval,
        batch_max: storage.batch_max,
        queue: storage.queue,
        sync: storage.sync,
        max_bytes: storage.max_bytes,
        retention: Retention {
            raw: r.raw,
            quarter_hour: r.quarter_hour,
            hourly: r.hourly,
            daily: r.daily,
            monthly: r.monthly,
            decisions: r.decisions,
            control_log: r.control_log,
            delivered: r.delivered,
        },
    }
}

fn validate_tariffs(t: file::TariffsFile, check: &mut Check) -> Tariffs {
    for (fuel, tariff) in [("electricity", t.electricity), ("gas", t.gas), ("heat", t.heat)] {
        if !(tariff.eur_per_kwh.is_finite() && (0.0..10.0).contains(&tariff.eur_per_kwh)) {
            check.fail(format!("tariffs.{fuel}.eur_per_kwh"), tariff.eur_per_kwh, "use a price in €/kWh, e.g. 0.20");
        }
        if !(tariff.kg_co2_per_kwh.is_finite() && (0.0..2.0).contains(&tariff.kg_co2_per_kwh)) {
            check.fail(
                format!("tariffs.{fuel}.kg_co2_per_kwh"),
                tariff.kg_co2_per_kwh,
                "use kg CO₂e per kWh, e.g. 0.052 for French electricity",
            );
        }
    }
    let tariff = |f: file::TariffFile| Tariff { eur_per_kwh: f.eur_per_kwh, kg_co2_per_kwh: f.kg_co2_per_kwh };
    Tariffs { electricity: tariff(t.electricity), gas: tariff(t.gas), heat: tariff(t.heat) }
}

fn validate_comfort(by_use: &ByUse, check: &mut Check) -> Comfort {
    let (min_c, max_c) = (by_use.comfort_min_c.value, by_use.comfort_max_c.value);
    if !(min_c.is_finite() && max_c.is_finite() && min_c < max_c && (10.0..35.0).contains(&min_c)) {
        check.fail(
            "comfort",
            format!("[{min_c}, {max_c}]"),
            "use min_c below max_c, e.g. 19 and 26 °C, or leave them out for the defaults of [site] use",
        );
    }
    Comfort { min_c, max_c }
}

fn validate_points(files: Vec<PointFile>, check: &mut Check) -> Vec<Point> {
    let mut seen = HashSet::new();
    let mut points = Vec::with_capacity(files.len());
    for (i, point) in files.into_iter().enumerate() {
        if !seen.insert(point.id.clone()) {
            check.fail(format!("points[{i}].id"), &point.id, "give every point its own id");
        }
        if let Some(point) = validate_point(i, point, check) {
            points.push(point);
        }
    }
    if points.is_empty() && check.0.is_empty() {
        check.fail("points", "none", "declare at least one [[points]] table");
    }
    points
}

fn validate_savings(f: file::SavingsFile, points: &[Point], check: &mut Check) -> SavingsSettings {
    let [first, last] = f.baseline;
    if last < first + chrono::Days::new(29) {
        check.fail(
            "savings.baseline",
            format!("[{first}, {last}]"),
            "give a baseline of at least 30 days: the hourly model needs a month of data",
        );
    }
    let energy: Vec<&str> = points.iter().filter(|p| p.kind.is_energy()).map(|p| p.id.as_str()).collect();
    let chosen = f.points.unwrap_or_else(|| energy.iter().map(|p| p.to_string()).collect());
    for id in chosen.iter().filter(|id| !energy.contains(&id.as_str())) {
        check.fail("savings.points", id, format!("name energy points: {energy:?}"));
    }
    if !points.iter().any(|p| p.kind == crate::point::PointKind::OutdoorTemperature) {
        check.fail("savings", "no outdoor_temperature point", "declare one: the baseline is weather-normalised");
    }
    SavingsSettings { baseline: (first, last), points: chosen }
}

/// `section` names the table in messages (`broker`, `uplink.broker`).
fn validate_broker(
    file: file::BrokerFile,
    section: &str,
    default_client_id: String,
    check: &mut Check,
) -> BrokerSettings {
    let key = |field: &str| format!("{section}.{field}");
    if file.host.is_empty() {
        check.fail(key("host"), &file.host, "name the broker's host, e.g. \"127.0.0.1\"");
    }
    if file.reconnect_min > file.reconnect_max || file.reconnect_min.0.is_zero() {
        check.fail(
            key("reconnect_min"),
            file.reconnect_min.to_string(),
            format!("use a positive delay no longer than {} ({})", key("reconnect_max"), file.reconnect_max),
        );
    }
    if file.max_packet_bytes < 16 * 1024 || u32::try_from(file.max_packet_bytes).is_err() {
        check.fail(
            key("max_packet_bytes"),
            file.max_packet_bytes,
            "use 16384 (reports are larger than that) to 4294967295 (MQTT's limit)",
        );
    }
    let session_expiry_s = u32::try_from(file.session_expiry.0.as_secs()).unwrap_or(u32::MAX);
    if session_expiry_s == 0 {
        check.fail(
            key("session_expiry"),
            file.session_expiry.to_string(),
            "use at least a minute: the broker keeps what arrives while the agent restarts only for that long",
        );
    }
    if file.receive_maximum < 2 {
        check.fail(key("receive_maximum"), file.receive_maximum, "use 2 to 65535 unacknowledged messages");
    }
    let password = match (&file.password, &file.password_file) {
        (Some(_), Some(_)) => {
            check.fail(key("password_file"), "both password and password_file", "give one of them");
            None
        }
        (Some(p), None) => Some(p.clone()),
        (None, Some(path)) => match std::fs::read_to_string(path) {
            Ok(p) => Some(p.trim_end().to_string()),
            Err(e) => {
                check.fail(key("password_file"), path.display().to_string(), format!("make it readable ({e})"));
                None
            }
        },
        (None, None) => None,
    };
    let credentials = match (file.username, password) {
        (Some(user), Some(pass)) => Some((user, pass)),
        (Some(user), None) => Some((user, String::new())),
        (None, Some(_)) => {
            check.fail(key("username"), "none", "give a username with the password");
            None
        }
        (None, None) => None,
    };
    let read = |check: &mut Check, key: String, path: &Path| match std::fs::read(path) {
        Ok(bytes) => bytes,
        Err(e) => {
            check.fail(key, path.display().to_string(), format!("give a readable PEM file ({e})"));
            Vec::new()
        }
    };
    let tls = file.tls.map(|tls| {
        let ca_pem = read(check, key("tls.ca_file"), &tls.ca_file);
        let client_auth = match (tls.client_cert_file, tls.client_key_file) {
            (Some(cert), Some(private)) => Some((
                read(check, key("tls.client_cert_file"), &cert),
                read(check, key("tls.client_key_file"), &private),
            )),
            (None, None) => None,
            _ => {
                check.fail(key("tls"), "only one of client_cert_file / client_key_file", "give both or neither");
                None
            }
        };
        TlsSettings { ca_pem, client_auth }
    });
    BrokerSettings {
        host: file.host,
        port: file.port,
        client_id: file.client_id.unwrap_or(default_client_id),
        credentials,
        keep_alive: file.keep_alive,
        reconnect_min: file.reconnect_min,
        reconnect_max: file.reconnect_max,
        max_packet_bytes: file.max_packet_bytes,
        session_expiry_s,
        receive_maximum: file.receive_maximum,
        tls,
    }
}

const NAME_RULE: &str = "a short name of letters, digits, '-', '_', '.' and ':' only (64 at most)";

/// What a point id or zone name may hold. The page escapes every value it prints all the same;
/// this keeps markup, topic wildcards and spaces out of names from the start.
fn is_name(text: &str) -> bool {
    !text.is_empty()
        && text.len() <= 64
        && text.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | ':'))
}

/// What every topic prefix must be: the start of topics, so no wildcard, no trailing `/`, and
/// not empty (a topic would then start with `/`).
fn is_topic_prefix(prefix: &str) -> bool {
    !prefix.is_empty() && !prefix.contains(['+', '#']) && !prefix.ends_with('/')
}

fn validate_uplink(file: file::UplinkFile, site_id: &str, check: &mut Check) -> UplinkSettings {
    let broker = validate_broker(file.broker, "uplink.broker", format!("sobre-{site_id}-uplink"), check);
    if !is_topic_prefix(&file.prefix) {
        check.fail("uplink.prefix", &file.prefix, "use a topic prefix without wildcards or a trailing '/'");
    }
    if !(1..=1000).contains(&file.in_flight) {
        check.fail("uplink.in_flight", file.in_flight, "use 1 to 1000 reports awaiting acknowledgement");
    }
    if file.budget.rows == 0 || file.budget.bytes < 64 * 1024 {
        check.fail(
            "uplink.budget",
            (file.budget.rows, file.budget.bytes),
            "use at least one row and 65536 bytes: the operator's disk budget for reports in waiting",
        );
    }
    UplinkSettings {
        broker,
        prefix: file.prefix,
        in_flight: file.in_flight,
        budget: super::Budget { rows: file.budget.rows, bytes: file.budget.bytes },
        shutdown_deadline: file.shutdown_deadline,
    }
}

fn validate_point(i: usize, file: PointFile, check: &mut Check) -> Option<Point> {
    let key = |field: &str| format!("points[{i}].{field}");
    let problems_before = check.0.len();
    if !is_name(&file.id) {
        check.fail(
            key("id"),
            &file.id,
            format!("use {NAME_RULE}: the id names the point in topics, reports and the page"),
        );
    }
    if let Some(zone) = file.zone.as_deref().filter(|z| !is_name(z)) {
        check.fail(key("zone"), zone, format!("use {NAME_RULE}: the zone is named in commands, reports and the page"));
    }
    if file.topic.is_empty() || file.topic.contains(['+', '#']) {
        check.fail(key("topic"), &file.topic, "use the exact topic the device publishes on, without wildcards");
    }

    let decode = file.decode.unwrap_or(DecodeFile::Plain);
    let (decoder, preset_unit, preset_availability) = match &decode {
        DecodeFile::Plain => (Decoder::Plain, None, None),
        DecodeFile::Json { pointer, timestamp } => {
            for (field, p) in [("decode.pointer", Some(pointer)), ("decode.timestamp", timestamp.as_ref())] {
                if let Some(p) = p.filter(|p| !p.starts_with('/')) {
                    check.fail(key(field), p, "use a JSON pointer starting with '/', e.g. \"/value\"");
                }
            }
            (Decoder::Json { pointer: pointer.clone(), timestamp: timestamp.clone() }, None, None)
        }
        DecodeFile::Zigbee2mqtt { field } => {
            (Decoder::zigbee2mqtt(field), zigbee2mqtt_unit(field), Some(format!("{}/availability", file.topic)))
        }
        DecodeFile::Tasmota { field } => {
            let lwt = file.topic.strip_suffix("/SENSOR").map(|base| format!("{base}/LWT"));
            (Decoder::tasmota(field), tasmota_unit(field), lwt)
        }
    };

    let accepted = || {
        let units: Vec<_> = file.kind.accepted_units().iter().map(|u| u.symbol()).collect();
        format!("a {} point accepts {}", file.kind, units.join(", "))
    };
    let unit = match file.unit.as_deref() {
        Some(text) => match Unit::parse(text) {
            Some(unit) if file.kind.accepted_units().contains(&unit) => Some(unit),
            _ => {
                check.fail(key("unit"), text, accepted());
                None
            }
        },
        None => preset_unit.filter(|u| file.kind.accepted_units().contains(u)).or_else(|| {
            check.fail(key("unit"), "nothing", accepted());
            None
        }),
    };

    let is_energy = file.kind.is_energy();
    for (field, given) in [
        ("fuel", file.fuel.is_some()),
        ("cumulative", file.cumulative.is_some()),
        ("interval", file.interval.is_some()),
        ("max_kw", file.max_kw.is_some()),
    ] {
        if given && !is_energy {
            check.fail(
                key(field),
                format!("{field} on a {} point", file.kind),
                "remove it: it applies to energy points only",
            );
        }
    }
    if file.zeros_are_readings && !matches!(file.kind, PointKind::Energy | PointKind::Power) {
        check.fail(
            key("zeros_are_readings"),
            format!("zeros_are_readings on a {} point", file.kind),
            "remove it: it applies to energy and power points only",
        );
    }
    let max_kw = file.max_kw.unwrap_or(DEFAULT_MAX_KW);
    if !(max_kw.is_finite() && max_kw > 0.0) {
        check.fail(key("max_kw"), max_kw, "use the largest plausible average power in kW, a positive number");
    }
    let energy = match (is_energy, file.cumulative.unwrap_or(true), file.interval) {
        (false, _, _) => None,
        (true, true, None) => Some(EnergyMode::Counter { max_kw }),
        (true, true, Some(_)) => {
            check.fail(key("interval"), "interval on a cumulative counter", "remove it, or set cumulative = false");
            None
        }
        (true, false, Some(length)) if !length.0.is_zero() => Some(EnergyMode::Interval { length, max_kw }),
        (true, false, _) => {
            check.fail(
                key("interval"),
                "nothing",
                "interval energy needs the interval it covers, e.g. interval = \"1h\"",
            );
            None
        }
    };

    let range = match file.range {
        Some([lo, hi]) if lo.is_finite() && hi.is_finite() && lo < hi => (lo, hi),
        Some(given) => {
            check.fail(key("range"), given, "use [min, max] with min < max, finite, in the stored unit");
            file.kind.default_range()
        }
        None => file.kind.default_range(),
    };

    if check.0.len() > problems_before {
        return None;
    }
    Some(Point {
        id: file.id,
        kind: file.kind,
        unit: unit?,
        zone: file.zone,
        topic: file.topic,
        decoder,
        tags: file.tags,
        fuel: is_energy.then(|| file.fuel.unwrap_or(Fuel::Electricity)),
        energy,
        range,
        availability_topic: file.availability_topic.or(preset_availability),
        zeros_are_readings: file.zeros_are_readings,
    })
}

/// The units Zigbee2MQTT documents for its exposes.
fn zigbee2mqtt_unit(field: &str) -> Option<Unit> {
    match field {
        "energy" => Some(Unit::KilowattHour),
        "power" => Some(Unit::Watt),
        "humidity" | "pi_heating_demand" | "position" => Some(Unit::Percent),
        "co2" => Some(Unit::Ppm),
        "occupancy" | "presence" => Some(Unit::Boolean),
        f if f.contains("temperature") || f.contains("setpoint") => Some(Unit::Celsius),
        _ => None,
    }
}

/// The units Tasmota documents for its SENSOR message (temperatures follow `TempUnit`).
fn tasmota_unit(field: &str) -> Option<Unit> {
    let last = field.rsplit('.').next().unwrap_or(field);
    match last {
        "Total" | "Today" | "Yesterday" => Some(Unit::KilowattHour),
        "Power" => Some(Unit::Watt),
        "Temperature" => Some(Unit::Celsius),
        "Humidity" => Some(Unit::Percent),
        "CarbonDioxide" | "eCO2" => Some(Unit::Ppm),
        _ => None,
    }
}
