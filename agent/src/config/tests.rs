use super::validate::DEFAULT_MAX_KW;
use super::*;
use crate::point::{Fuel, PointKind, Unit};

const MINIMAL: &str = r#"
[site]
id = "gym"
timezone = "Europe/Paris"

[[points]]
id = "t"
kind = "zone_temperature"
unit = "°C"
topic = "sensors/t"
"#;

fn problems(text: &str) -> Vec<Problem> {
    match Settings::parse(text, "test.toml") {
        Err(ConfigError::Invalid { problems, .. }) => problems,
        other => panic!("expected validation problems, got {other:?}"),
    }
}

#[test]
fn the_annotated_example_parses_into_what_it_says() {
    let text = include_str!("../../../config/example.toml");
    let settings = Settings::parse(text, "config/example.toml").expect("example.toml is valid");
    assert_eq!(settings.site.timezone, chrono_tz::Europe::Paris);
    assert_eq!(settings.agent.topic_prefix, "sobre/ecole-jaures");
    assert_eq!(settings.points.len(), 7);
    assert_eq!(settings.site.building_use, BuildingUse::School);
    let christmas = chrono::NaiveDate::from_ymd_opt(2024, 12, 25).expect("a date");
    let back = chrono::NaiveDate::from_ymd_opt(2025, 1, 6).expect("a date");
    assert!(settings.site.is_holiday(christmas) && !settings.site.is_holiday(back));
    let timetable = settings.occupancy.as_ref().expect("[occupancy]");
    let at = |date: chrono::NaiveDate, h: u32, m: u32| date.and_hms_opt(h, m, 0).expect("a time");
    for (when, open) in [
        (at(back, 8, 0), true),
        (at(back, 16, 59), true),
        (at(back, 17, 0), false),
        (at(back, 7, 45), false),
        (at(christmas, 10, 0), false),
        (at(back + chrono::Days::new(5), 10, 0), false),
    ] {
        assert_eq!(timetable.is_open(when), open, "{when}: a Monday–Friday 08:00–17:00 timetable, closed on holidays");
    }

    let main = &settings.points[settings.point_index("main_elec").expect("main_elec")];
    assert_eq!((main.unit, main.energy), (Unit::KilowattHour, Some(EnergyMode::Counter { max_kw: 250.0 })));
    assert_eq!(main.availability_topic.as_deref(), Some("tele/main-meter/LWT"));
    let power = &settings.points[settings.point_index("main_power").expect("main_power")];
    assert_eq!(power.unit, Unit::Watt);
    let gas = &settings.points[settings.point_index("boiler_gas").expect("boiler_gas")];
    assert_eq!(gas.fuel, Some(Fuel::Gas));
    assert_eq!(gas.energy, Some(EnergyMode::Interval { length: Span::secs(900), max_kw: DEFAULT_MAX_KW }));
    let trv = &settings.points[settings.point_index("class1_temp").expect("class1_temp")];
    assert_eq!((trv.kind, trv.unit), (PointKind::ZoneTemperature, Unit::Celsius));
    assert_eq!(trv.availability_topic.as_deref(), Some("zigbee2mqtt/trv-class1/availability"));
    let outdoor = &settings.points[settings.point_index("outdoor_temp").expect("outdoor_temp")];
    assert_eq!((outdoor.unit, outdoor.range), (Unit::Fahrenheit, (-40.0, 50.0)));
}

#[test]
fn defaults_come_from_one_place() {
    let settings = Settings::parse(MINIMAL, "minimal").expect("minimal config is valid");
    let defaults = file::BrokerFile::default();
    assert_eq!((settings.broker.host.as_str(), settings.broker.port), (defaults.host.as_str(), defaults.port));
    assert_eq!(settings.broker.client_id, "sobre-gym");
    assert_eq!(settings.storage.retention.monthly, file::RetentionFile::default().monthly);
    assert_eq!(settings.points[0].range, PointKind::ZoneTemperature.default_range());
    let page = settings.web.expect("the page is on by default");
    let loopback = page.listen;
    assert!(loopback.ip().is_loopback(), "{loopback}: only this machine, unless the operator says otherwise");
    assert_eq!(page.max_connections, super::web::WebFile::default().max_connections);
    assert!(settings.homeassistant.is_some());
}

#[test]
fn parse_errors_name_the_key() {
    let table = [
        (
            "unknown key",
            format!("{MINIMAL}\n[storage]\npaht = \"x.db\"\n"),
            "`storage.paht`: TOML parse error at line 13",
        ),
        ("unknown kind", MINIMAL.replace("zone_temperature", "vibes"), "`points[0].kind`"),
        (
            "the second point's kind",
            format!("{MINIMAL}\n[[points]]\nid = \"u\"\nkind = \"vibes\"\n"),
            "`points[1].kind`: TOML parse error at line 14",
        ),
        ("bad duration", format!("{MINIMAL}\n[ingest]\nlate_window = \"7 days\"\n"), "`ingest.late_window`"),
        ("missing site", MINIMAL.replace("[site]", "[sight]"), "`sight`"),
        (
            "unknown decode field",
            MINIMAL.replace(
                "topic = \"sensors/t\"",
                "topic = \"sensors/t\"\ndecode = { format = \"json\", pointer = \"/v\", ptr = \"/x\" }",
            ),
            "ptr",
        ),
    ];
    for (name, text, fragment) in table {
        match Settings::parse(&text, "test.toml") {
            Err(ConfigError::Parse { message, .. }) => assert!(message.contains(fragment), "{name}: {message}"),
            other => panic!("{name}: expected a parse error, got {other:?}"),
        }
    }
}

#[test]
fn validation_names_key_value_and_fix() {
    let table = [
        ("wrong unit for kind", MINIMAL.replace("\"°C\"", "\"kWh\""), "points[0].unit", "\"kWh\"", "°C, °F, K"),
        ("unknown unit", MINIMAL.replace("\"°C\"", "\"furlong\""), "points[0].unit", "\"furlong\"", "accepts"),
        ("bad zone", MINIMAL.replace("Europe/Paris", "Mars/Olympus"), "site.timezone", "Mars/Olympus", "IANA"),
        (
            "wildcard topic",
            MINIMAL.replace("sensors/t", "sensors/#"),
            "points[0].topic",
            "sensors/#",
            "without wildcards",
        ),
        ("bad site id", MINIMAL.replace("\"gym\"", "\"my gym\""), "site.id", "my gym", "letters"),
        (
            "a holiday that ends before it starts",
            MINIMAL.replace("timezone = \"Europe/Paris\"", "timezone = \"Europe/Paris\"\nholidays = [[\"2025-01-05\", \"2024-12-21\"]]"),
            "site.holidays",
            "[2025-01-05, 2024-12-21]",
            "first not after last",
        ),
        (
            "a comfort floor above the occupied limit",
            format!("{MINIMAL}\n[comfort]\nmin_c = 22.0\n"),
            "comfort.min_c / advisor.comfort_limit_c",
            "(22.0, 19.0)",
            "lower comfort.min_c",
        ),
        (
            "zeros that are readings on a temperature",
            MINIMAL.replace("topic = \"sensors/t\"", "topic = \"sensors/t\"\nzeros_are_readings = true"),
            "points[0].zeros_are_readings",
            "zone_temperature",
            "energy and power points only",
        ),
        (
            "a timetable that closes before it opens",
            format!("{MINIMAL}\n[occupancy]\ndays = [\"Mon\"]\nfrom = \"18:00\"\nuntil = \"08:00\"\n"),
            "occupancy.until",
            "08:00",
            "after occupancy.from (18:00)",
        ),
        (
            "a timetable time that is not HH:MM",
            format!("{MINIMAL}\n[occupancy]\ndays = [\"Mon\"]\nfrom = \"8h\"\nuntil = \"17:00\"\n"),
            "occupancy.from",
            "8h",
            "\"HH:MM\"",
        ),
        (
            "a timetable with no day",
            format!("{MINIMAL}\n[occupancy]\ndays = []\nfrom = \"08:00\"\nuntil = \"17:00\"\n"),
            "occupancy.days",
            "[]",
            "list the days",
        ),
        (
            "BACS monthly retention",
            format!("{MINIMAL}\n[storage.retention]\nmonthly = \"2y\"\ndaily = \"1y\"\n"),
            "storage.retention.monthly",
            "2y",
            "5y",
        ),
        (
            "quarter-hours kept for less than the day a crash rebuilds from them",
            format!("{MINIMAL}\n[storage.retention]\nraw = \"1d\"\nquarter_hour = \"1d\"\n"),
            "storage.retention.quarter_hour",
            "1d",
            "rebuilt from them after a crash",
        ),
        (
            "a ledger kept for no time",
            format!("{MINIMAL}\n[storage.retention]\ncontrol_log = \"12h\"\n"),
            "storage.retention.control_log",
            "12h",
            "1d",
        ),
        (
            "inverted range",
            MINIMAL.replace("topic = \"sensors/t\"", "topic = \"sensors/t\"\nrange = [30.0, 10.0]"),
            "points[0].range",
            "30.0",
            "min < max",
        ),
        (
            "energy option on temperature",
            MINIMAL.replace("topic = \"sensors/t\"", "topic = \"sensors/t\"\nmax_kw = 3.0"),
            "points[0].max_kw",
            "zone_temperature",
            "energy points only",
        ),
        (
            "interval energy without interval",
            MINIMAL
                .replace("zone_temperature", "energy")
                .replace("\"°C\"", "\"kWh\"")
                .replace("topic = \"sensors/t\"", "topic = \"sensors/t\"\ncumulative = false"),
            "points[0].interval",
            "nothing",
            "interval = \"1h\"",
        ),
        ("unit missing without preset", MINIMAL.replace("unit = \"°C\"\n", ""), "points[0].unit", "nothing", "°C"),
        (
            "a controlled zone no point names",
            format!("{MINIMAL}\n[[control.zones]]\nzone = \"attic\"\ncommand_topic = \"trv/attic/set\"\n"),
            "control.zones[0].zone",
            "attic",
            "name a zone the points use",
        ),
        (
            "a controlled zone's bounds upside down",
            format!(
                "{}\n[[control.zones]]\nzone = \"hall\"\ncommand_topic = \"trv/hall/set\"\nmin_c = 24.0\nmax_c = 12.0\n",
                MINIMAL.replace("topic = \"sensors/t\"", "topic = \"sensors/t\"\nzone = \"hall\"")
            ),
            "control.zones[0] min_c / max_c / max_step_k",
            "(24.0, 12.0, 4.0)",
            "minimum below its maximum",
        ),
        (
            "a controlled zone that holds commands without a way to release them",
            format!(
                "{}\n[[control.zones]]\nzone = \"hall\"\ncommand_topic = \"bms/hall/setpoint/write\"\nformat = \"plain\"\nholds = true\n",
                MINIMAL.replace("topic = \"sensors/t\"", "topic = \"sensors/t\"\nzone = \"hall\"")
            ),
            "control.zones[0].holds",
            "true",
            "give release_topic",
        ),
        (
            "a flexibility recovery of a week",
            format!("{MINIMAL}\n[control.flex]\nrecovery = \"7d\"\n"),
            "control.flex.recovery",
            "7d",
            "less than a day",
        ),
        (
            "a floor pre-heat of a day",
            format!("{MINIMAL}\n[control.flex]\nfloor_preheat = \"1d\"\n"),
            "control.flex.floor_preheat",
            "1d",
            "less than a day",
        ),
        (
            "a floor pre-heat 8 K warmer",
            format!("{MINIMAL}\n[control.flex]\nfloor_preheat_k = 8.0\n"),
            "control.flex.floor_preheat_k",
            "8",
            "0–5 K",
        ),
        (
            "uplink CA file missing",
            format!("{MINIMAL}\n[uplink.broker]\nhost = \"city.example\"\ntls = {{ ca_file = \"/nonexistent/ca.pem\" }}\n"),
            "uplink.broker.tls.ca_file",
            "/nonexistent/ca.pem",
            "readable PEM",
        ),
        (
            "uplink budget too small",
            format!("{MINIMAL}\n[uplink]\nbudget = {{ rows = 0, bytes = 1000 }}\n[uplink.broker]\nhost = \"city.example\"\n"),
            "uplink.budget",
            "0",
            "disk budget",
        ),
        (
            "savings baseline too short",
            format!("{MINIMAL}\n[savings]\nbaseline = [\"2024-01-01\", \"2024-01-10\"]\n"),
            "savings.baseline",
            "2024-01-01",
            "30 days",
        ),
        ("page address", format!("{MINIMAL}\n[web]\nlisten = \"localhost\"\n"), "web.listen", "localhost", "127.0.0.1:8080"),
        (
            "a point id that is markup",
            MINIMAL.replace("id = \"t\"", "id = 'e\"onload=\"alert(1)'"),
            "points[0].id",
            "onload",
            "letters, digits, '-', '_', '.' and ':' only",
        ),
        (
            "a zone name that is markup",
            MINIMAL.replace("topic = \"sensors/t\"", "topic = \"sensors/t\"\nzone = \"<b>hall</b>\""),
            "points[0].zone",
            "<b>hall</b>",
            "letters, digits",
        ),
        (
            "a page name with a path",
            format!("{MINIMAL}\n[web]\nhosts = [\"gateway.local/evil\"]\n"),
            "web.hosts[0]",
            "gateway.local/evil",
            "gateway.school.local:8080",
        ),
        ("no connection allowed", format!("{MINIMAL}\n[web]\nmax_connections = 0\n"), "web.max_connections", "0", "64"),
        ("an idle timeout of none", format!("{MINIMAL}\n[web]\nidle_timeout = \"0s\"\n"), "web.idle_timeout", "0ms", "1s"),
        (
            "discovery prefix",
            format!("{MINIMAL}\n[homeassistant]\ndiscovery_prefix = \"ha/#\"\n"),
            "homeassistant.discovery_prefix",
            "ha/#",
            "homeassistant",
        ),
    ];
    for (name, text, key, found, expected) in table {
        let problems = problems(&text);
        let problem = problems
            .iter()
            .find(|p| p.key == key)
            .unwrap_or_else(|| panic!("{name}: no problem at {key}: {problems:?}"));
        assert!(problem.found.contains(found), "{name}: found {:?}", problem.found);
        assert!(problem.expected.contains(expected), "{name}: expected {:?}", problem.expected);
    }
}

#[test]
fn every_problem_is_reported_at_once() {
    let text = MINIMAL.replace("Europe/Paris", "Nowhere").replace("\"°C\"", "\"kWh\"");
    let message = Settings::parse(&text, "school.toml").expect_err("two problems").to_string();
    assert!(message.starts_with("school.toml: 2 problem(s)"), "{message}");
    assert!(message.contains("site.timezone") && message.contains("points[0].unit"), "{message}");
}

#[test]
fn duplicate_point_ids_are_refused() {
    let text = format!("{MINIMAL}\n[[points]]\nid = \"t\"\nkind = \"humidity\"\nunit = \"%\"\ntopic = \"x\"\n");
    assert!(problems(&text).iter().any(|p| p.key == "points[1].id"));
}

#[test]
fn the_building_use_chooses_what_the_file_leaves_out_and_a_key_the_file_sets_wins() {
    let table = [
        // Given a use and what the file sets, Then comfort band, occupied limit, setback, and
        // which of them are the use's defaults
        ("other", "", (19.0, 26.0, 19.0, 16.0), [false; 4]),
        ("school", "", (19.0, 26.0, 19.0, 16.0), [false; 4]),
        ("office", "", (20.0, 26.0, 21.0, 16.0), [false; 4]),
        ("gym", "", (14.0, 26.0, 16.0, 12.0), [false; 4]),
        ("library", "", (19.0, 26.0, 19.0, 17.0), [false; 4]),
        ("office", "[comfort]\nmin_c = 21.0\n", (21.0, 26.0, 21.0, 16.0), [true, false, false, false]),
        (
            "office",
            "[advisor]\ncomfort_limit_c = 22.0\nsetback_c = 15.0\n",
            (20.0, 26.0, 22.0, 15.0),
            [false, false, true, true],
        ),
    ];
    for (building_use, keys, (min_c, max_c, limit_c, setback_c), configured) in table {
        let text = MINIMAL.replace("[site]\n", &format!("{keys}[site]\nuse = \"{building_use}\"\n"));
        // When the file is validated
        let s = Settings::parse(&text, "test.toml").unwrap_or_else(|e| panic!("{building_use} {keys:?}: {e}"));
        let found = (s.comfort.min_c, s.comfort.max_c, s.advisor.comfort_limit_c, s.advisor.setback_c);
        assert_eq!(found, (min_c, max_c, limit_c, setback_c), "{building_use} {keys:?}");
        let u = &s.by_use;
        let origin = [u.comfort_min_c, u.comfort_max_c, u.comfort_limit_c, u.setback_c].map(|c| c.configured);
        assert_eq!(origin, configured, "{building_use} {keys:?}");
    }
}

#[test]
fn a_setback_above_the_uses_limit_names_both_keys_and_the_way_back_to_the_defaults() {
    // Given a gym (occupied limit 16 °C by default) whose file sets a setback of 17 °C
    let text = MINIMAL.replace("[site]\n", "[advisor]\nsetback_c = 17.0\n[site]\nuse = \"gym\"\n");
    // Then the file is refused, naming the keys, the values in force and the fix
    let p = problems(&text);
    assert_eq!(p.len(), 1, "{p:?}");
    assert_eq!(p[0].key, "advisor.setback_c / advisor.comfort_limit_c");
    assert_eq!(p[0].found, "(17.0, 16.0)");
    assert!(p[0].expected.contains("[site] use"), "{}", p[0].expected);
}
