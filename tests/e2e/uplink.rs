//! Reports to the city's broker through outages, kills and a full disk budget: every report
//! arrives, none is lost, duplicates only as QoS 1 allows and recognisable by id.

use crate::support::*;
use serde_json::Value;
use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};

const HOURS: i64 = 1000;
/// A health and a footprint report per hour of data, and the register entry.
const REPORTS: usize = 2 * (HOURS as usize - 1) + 1;
const IN_FLIGHT: usize = 16;

fn config(central: u16, budget_rows: u64) -> String {
    format!(
        r#"[agent]
clock = "event"

[uplink]
prefix = "city"
in_flight = {IN_FLIGHT}
budget = {{ rows = {budget_rows}, bytes = 67108864 }}

[uplink.broker]
port = {central}
reconnect_min = "50ms"
reconnect_max = "300ms"

[reports]
health_interval = "1h"
check_interval = "20ms"
owner = "Ville de Test, direction de l'énergie"
contact = "energie@ville.example"
"#
    )
}

/// Hourly readings of one outdoor thermometer, from 2019-01-01T00:00Z, once the agent listens.
fn publish_hours(port: u16) {
    let mqtt = Mqtt::connect(port, &["sobre/test-site/status"]);
    mqtt.expect("sobre/test-site/status", |s| s["state"] == "online");
    let start = chrono::DateTime::parse_from_rfc3339("2019-01-01T00:00:00Z").expect("valid");
    mqtt.publish_all((0..HOURS).map(|h| {
        let ts = (start + chrono::Duration::hours(h)).to_rfc3339();
        ("test/outdoor".to_string(), json_reading(&ts, 5.0 + (h % 24) as f64 / 4.0))
    }));
}

fn points() -> String {
    json_point("outdoor", "outdoor_temperature", "°C", "")
}

fn schemas() -> HashMap<&'static str, Value> {
    HashMap::from([
        ("health", schema::load("health")),
        ("footprint", schema::load("footprint")),
        ("register", schema::load("register")),
    ])
}

/// Reports received on the city's broker: (id, payload) in arrival order.
fn collect(city: &Mqtt, until: impl Fn(&HashSet<String>) -> bool, within: Duration) -> Vec<(String, Value)> {
    let started = Instant::now();
    let (mut all, mut ids) = (Vec::new(), HashSet::new());
    while !until(&ids) {
        let left = within
            .checked_sub(started.elapsed())
            .unwrap_or_else(|| panic!("{} of the reports after {within:?}", ids.len()));
        let Ok((topic, payload)) = city.messages.recv_timeout(left) else { continue };
        if !topic.contains("/reports/") {
            continue;
        }
        let report: Value = serde_json::from_slice(&payload).expect("a report is JSON");
        let id = report["id"].as_str().expect("every report has an id").to_string();
        ids.insert(id.clone());
        all.push((id, report));
    }
    all
}

/// Given the city's broker down, with the dashboard's persistent session (`dashboard`) waiting
/// on it, and an agent with an outbox budget of `budget_rows`.
fn outage(dashboard: &str, budget_rows: u64) -> (Mosquitto, Mosquitto, Mqtt, Agent) {
    let local = Mosquitto::start();
    let mut central = Mosquitto::start_persistent();
    let city = Mqtt::connect_persistent(central.port, dashboard, &["city/#"]);
    central.stop();
    let agent = Agent::start(local.port, &points(), &config(central.port, budget_rows));
    (local, central, city, agent)
}

fn outbox_rows(agent: &Agent) -> u64 {
    agent.db().count("SELECT count(*) FROM outbox")
}

#[test]
fn reports_wait_out_a_long_outage_and_all_arrive_once_it_ends() {
    // Given the city's broker down, with the dashboard's persistent session waiting on it
    let (local, mut central, city, agent) = outage("dashboard-outage", 100_000);

    // When a thousand hours of data arrive, a health and a footprint report for each hour
    publish_hours(local.port);
    wait_until("every report waiting in the outbox", || outbox_rows(&agent) == REPORTS as u64);

    // Then once the broker is back, every report arrives, valid against its schema
    central.restart();
    let received = collect(&city, |ids| ids.len() == REPORTS, Duration::from_secs(120));
    let schemas = schemas();
    for (id, report) in &received {
        let kind = report["kind"].as_str().expect("kind");
        schema::check(&schemas[kind], report).unwrap_or_else(|e| panic!("{id}: {e}"));
        assert_eq!(report["site"], "test-site");
    }
    // And duplicates only as QoS 1 allows: at most one window's worth
    assert!(received.len() - REPORTS <= IN_FLIGHT, "{} duplicates", received.len() - REPORTS);
    wait_until("the outbox empty", || outbox_rows(&agent) == 0);
    let hours: HashSet<&str> = received
        .iter()
        .filter(|(_, r)| r["kind"] == "health")
        .filter_map(|(_, r)| r["period"]["start"].as_str())
        .collect();
    assert_eq!(hours.len(), HOURS as usize - 1, "one health report per completed hour");
    readme::says(&format!("a thousand hours of data build {} reports", readme::thousands(REPORTS as f64)));
}

#[test]
fn killing_the_agent_during_catch_up_loses_nothing_and_resends_only_what_was_in_flight() {
    // Given a backlog of reports built while the city's broker was down
    let (local, mut central, city, mut agent) = outage("dashboard-kills", 100_000);
    publish_hours(local.port);
    wait_until("every report waiting in the outbox", || outbox_rows(&agent) == REPORTS as u64);

    // When the broker returns and the agent is killed (SIGKILL) at random moments while it
    // catches up, and restarted each time
    central.restart();
    let mut kills = 0;
    while kills < 8 && outbox_rows(&agent) > 0 {
        std::thread::sleep(Duration::from_millis(fastrand::u64(30..300)));
        agent.kill();
        kills += 1;
        agent.launch();
    }

    // Then every report arrives, and each kill resends at most what was in flight
    let received = collect(&city, |ids| ids.len() == REPORTS, Duration::from_secs(120));
    let duplicates = received.len() - REPORTS;
    eprintln!("{kills} kills during catch-up, {duplicates} duplicates");
    assert!(kills >= 3, "the catch-up outlived only {kills} kills");
    assert!(duplicates <= kills * (IN_FLIGHT + 1), "{duplicates} duplicates after {kills} kills");
    wait_until("the outbox empty", || outbox_rows(&agent) == 0);
}

#[test]
fn past_its_budget_the_outbox_drops_the_oldest_low_priority_reports_and_says_so() {
    // Given an outbox budget of 300 reports and the city's broker down
    let (local, mut central, city, agent) = outage("dashboard-budget", 300);

    // When a thousand hours of reports are built
    publish_hours(local.port);
    let db = agent.db();
    let dropped = || db.number("SELECT sum(count) FROM outbox_drops").unwrap_or(0.0) as usize;
    wait_until("every report built, kept or dropped", || dropped() + 300 == REPORTS);

    // Then the outbox holds its budget, the register entry (high priority) among them
    assert_eq!(outbox_rows(&agent), 300);
    assert_eq!(db.count("SELECT count(*) FROM outbox WHERE kind = 'register'"), 1);
    assert_eq!(db.count("SELECT count(*) FROM outbox_drops WHERE kind NOT IN ('health', 'footprint')"), 0);
    readme::says(&format!(
        "a budget of 300 reports: the register kept, {} health and footprint reports dropped",
        readme::thousands(dropped() as f64)
    ));

    // And once the broker is back the kept reports arrive, the newest health report counting
    // the drops
    central.restart();
    let received = collect(&city, |ids| ids.len() == 300, Duration::from_secs(60));
    let newest = received
        .iter()
        .filter(|(_, r)| r["kind"] == "health")
        .max_by_key(|(_, r)| r["period"]["start"].as_str().unwrap_or_default().to_string())
        .map(|(_, r)| r.clone())
        .expect("health reports");
    let counted: u64 =
        newest["outbox"]["dropped"].as_object().expect("dropped").values().filter_map(Value::as_u64).sum();
    assert!(counted as usize >= REPORTS - 300 - 2, "the newest health report counts {counted} drops");
}

#[test]
fn everything_the_demo_sends_upstream_is_an_aggregate_within_its_schema() {
    // Given the city's broker, and a subscriber on all of it, When the whole demo runs with its
    // reports going there
    let demo = crate::demo::demo();

    // Then every payload is JSON under one of the published schemas, and valid against it
    let mut schemas = schemas();
    for name in ["status", "savings"] {
        schemas.insert(name, schema::load(name));
    }
    let mut kinds = HashSet::new();
    for (topic, payload) in &demo.upstream {
        let text = std::str::from_utf8(payload).unwrap_or_else(|_| panic!("{topic}: not UTF-8"));
        let message: Value = serde_json::from_str(text).unwrap_or_else(|_| panic!("{topic}: not JSON: {text}"));
        let schema = match message["schema"].as_str() {
            Some("sobre.status/1") => &schemas["status"],
            Some("sobre.health/1") => &schemas["health"],
            Some("sobre.footprint/1") => &schemas["footprint"],
            Some("sobre.register/1") => &schemas["register"],
            Some("sobre.savings/1") => &schemas["savings"],
            other => panic!("{topic}: {other:?} is outside the published schemas"),
        };
        schema::check(schema, &message).unwrap_or_else(|e| panic!("{topic}: {e}"));
        kinds.insert(message["kind"].as_str().unwrap_or("status").to_string());
        // And nothing names the building, a room or a device, or carries a series of readings
        for private in ["École", "Tilleuls", "class-", "library", "trv-", "pir-", "zigbee2mqtt", "tele/"] {
            assert!(!text.contains(private), "{topic} carries {private:?}: {text}");
        }
        assert!(topic.starts_with("city/ecole-demo/"), "{topic} is outside the site's topics");
    }
    for kind in ["health", "footprint", "register", "savings-daily", "savings-monthly"] {
        assert!(kinds.contains(kind), "no {kind} report among {} messages: {kinds:?}", demo.upstream.len());
    }
    // And once the baseline is fitted, each day's footprint sets what the savings avoided beside
    // the agent's own cost (it waits for the savings series to be stored past the day's end:
    // at full pace the devices arrive days apart)
    let footprints: Vec<Value> = demo
        .upstream
        .iter()
        .filter_map(|(_, payload)| serde_json::from_slice::<Value>(payload).ok())
        .filter(|r| r["kind"] == "footprint")
        .collect();
    let saved: Vec<f64> = footprints.iter().filter_map(|r| r["saved_kwh"].as_f64()).collect();
    println!("footprints: {} ({} with savings: {saved:?})", footprints.len(), saved.len());
    assert!(saved.len() >= 14, "{} of {} footprints give the savings", saved.len(), footprints.len());
    // And the monthly savings report the README shows is the demo's, to the README's decimals
    let shown = readme::json_example(r#"{"schema":"sobre.savings/1""#);
    let sent: Vec<Value> = demo
        .upstream
        .iter()
        .filter_map(|(_, payload)| serde_json::from_slice::<Value>(payload).ok())
        .filter(|r| r["id"] == shown["id"])
        .collect();
    assert!(!sent.is_empty(), "the demo sent no {} as the README shows it", shown["id"]);
    // (QoS 1 may deliver it twice: each copy is the same report)
    for report in &sent {
        readme::shows(&shown, report, "$").unwrap_or_else(|e| panic!("{e}\n{report}"));
    }
}
