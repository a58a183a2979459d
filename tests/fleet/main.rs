//! The city's side at fleet scale, against one mosquitto and one PostgreSQL on this machine:
//! 50 real `sobre` agents (each its own site, store and outbox, in event time) and a load
//! generator speaking the same schemas for 2 000 sites report to the broker; two `sobre city`
//! sinks share the subscription; one sink is killed (SIGKILL) and started again, and the sinks'
//! PostgreSQL connections are cut mid-run. Every report lands exactly once, the views' totals
//! equal the sums of what was sent, and every SQL query of the Grafana dashboard runs on the
//! result. A test binary of its own: its 50 agents would starve the end-to-end tests' deadlines.
//!
//! PostgreSQL's restart is played on the test's own database: it refuses new connections
//! (`ALLOW_CONNECTIONS false`), the sinks' sessions are ended (`pg_terminate_backend`), and it
//! takes connections again once a sink has been refused. A test cannot safely restart the
//! machine's PostgreSQL service (other tests use it), and to a client a restart is exactly that:
//! its connection ended by the server and new ones refused until it is back, which the sink's
//! retry with backoff covers. Skips, saying so, when no PostgreSQL answers.

// Shared with the end-to-end tests, this binary using part of it.
#[path = "../e2e/support/mod.rs"]
#[allow(dead_code)]
mod support;

mod load;

use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use support::city::{assert_close, claimed_by_site, Sink, TestDatabase};
use support::{json_reading, wait_until, wait_until_within, Mosquitto, Mqtt};

const AGENTS: usize = 50;
const GENERATED_SITES: u64 = 2000;
/// Reports of sites the city never enrolled, from the generator: each refused, none stored.
const STRANGERS: u64 = 5;
/// Hours of readings each agent gets: a health and a footprint report per completed hour, and
/// its register entry.
const HOURS: i64 = 12;
const PER_AGENT: usize = 2 * (HOURS as usize - 1) + 1;
/// Generous: 50 debug agents, two sinks and PostgreSQL share two loaded cores.
const FLEET_DEADLINE: Duration = Duration::from_secs(240);

/// One `sobre run`, its own site, store and outbox, its local broker and the city's the same
/// mosquitto; killed on drop.
struct FleetAgent {
    dir: tempfile::TempDir,
    child: Child,
}

impl FleetAgent {
    fn start(site: &str, port: u16) -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let db = dir.path().join("sobre.db");
        let config = dir.path().join("sobre.toml");
        let text = format!(
            r#"[agent]
clock = "event"

[site]
id = "{site}"
timezone = "Europe/Paris"

[broker]
port = {port}
reconnect_min = "50ms"
reconnect_max = "500ms"

[storage]
path = {db:?}
commit_interval = "200ms"

[web]
listen = ""

[uplink]
prefix = "city"

[uplink.broker]
port = {port}
reconnect_min = "100ms"
reconnect_max = "1s"

[reports]
health_interval = "1h"
check_interval = "250ms"
owner = "Ville de Test, direction de l'énergie"
contact = "energie@ville.example"

[[points]]
id = "outdoor"
kind = "outdoor_temperature"
unit = "°C"
topic = "fleet/outdoor"
decode = {{ format = "json", pointer = "/value", timestamp = "/ts" }}
"#
        );
        std::fs::write(&config, text).expect("write config");
        let log = std::fs::File::create(dir.path().join("agent.log")).expect("log file");
        let child = Command::new(env!("CARGO_BIN_EXE_sobre"))
            .args(["run", "-c"])
            .arg(&config)
            .env("RUST_LOG", "warn")
            .env("NO_COLOR", "1")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::from(log))
            .spawn()
            .expect("start sobre run");
        FleetAgent { dir, child }
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("agent.log")).unwrap_or_default()
    }
}

impl Drop for FleetAgent {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// What a plain subscriber beside the sinks' share group saw: every report sent, by id (a QoS 1
/// redelivery is the same report), and the agents online.
#[derive(Default)]
struct Seen {
    reports: BTreeMap<String, (String, Value)>,
    online: BTreeSet<String>,
}

impl Seen {
    fn take(&mut self, observer: &Mqtt) {
        while let Ok((topic, payload)) = observer.messages.try_recv() {
            let message: Value = serde_json::from_slice(&payload).expect("JSON on the broker");
            if topic.contains("/reports/") {
                let id = message["id"].as_str().expect("a report has an id").to_string();
                self.reports.insert(id, (topic, message));
            } else if topic.starts_with("sobre/") && message["state"] == "online" {
                self.online.insert(topic);
            }
        }
    }
}

/// A dashboard's query as Grafana would send it over the test's data: the time range covers
/// everything (the reports' periods are in 2019, their reception now), `$site` is two sites.
fn as_grafana_sends(sql: &str, sites: &str) -> String {
    let (from, to) = ("'2000-01-01T00:00:00Z'::timestamptz", "'2100-01-01T00:00:00Z'::timestamptz");
    let mut out = sql.replace("$__timeFrom()", from).replace("$__timeTo()", to).replace("${site:sqlstring}", sites);
    out = out.replace("$site", sites);
    // $__timeFilter(expr) → expr BETWEEN from AND to
    while let Some(at) = out.find("$__timeFilter(") {
        let open = at + "$__timeFilter(".len();
        let close = open + out[open..].find(')').expect("a closed $__timeFilter");
        let expr = out[open..close].to_string();
        out.replace_range(at..=close, &format!("({expr} BETWEEN {from} AND {to})"));
    }
    assert!(!out.contains('$'), "a Grafana macro this test does not know in:\n{sql}");
    out
}

/// Every rawSql of the dashboard (panels, and the variables' queries), with where it is.
fn dashboard_queries() -> Vec<(String, String)> {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../deploy/city/grafana/dashboards/sobre-city.json");
    let text = std::fs::read_to_string(path).expect("the dashboard's JSON");
    let dashboard: Value = serde_json::from_str(&text).expect("the dashboard is JSON");
    let mut queries = Vec::new();
    for panel in dashboard["panels"].as_array().expect("panels") {
        for target in panel["targets"].as_array().into_iter().flatten() {
            if let Some(sql) = target["rawSql"].as_str() {
                queries.push((format!("panel {:?}", panel["title"]), sql.to_string()));
            }
        }
    }
    for variable in dashboard["templating"]["list"].as_array().into_iter().flatten() {
        if let Some(sql) = variable["query"].as_str().or_else(|| variable["query"]["query"].as_str()) {
            queries.push((format!("variable {:?}", variable["name"]), sql.to_string()));
        }
    }
    queries
}

#[test]
fn a_fleet_of_agents_and_thousands_of_sites_land_exactly_once_through_a_sink_kill_and_a_database_cut() {
    let Some(db) = TestDatabase::create() else { return };
    let broker = Mosquitto::start();
    let mut sink_a = Sink::start(broker.port, &db.url(), "fleet-sink-a", 256 * 1024);
    let sink_b = Sink::start(broker.port, &db.url(), "fleet-sink-b", 256 * 1024);

    // Given the sites the city enrolled: the agents', the generator's, and one never heard from
    let agent_sites: Vec<String> = (0..AGENTS).map(|n| format!("agent-{n:02}")).collect();
    let generated: Vec<String> = (0..GENERATED_SITES).map(|n| format!("gen-{n:05}")).collect();
    db.rows(&format!(
        "INSERT INTO sites (site) SELECT unnest(ARRAY[{}]) UNION SELECT 'enrolled-silent'",
        agent_sites.iter().chain(&generated).map(|s| format!("'{s}'")).collect::<Vec<_>>().join(",")
    ));
    // And the operator's optional daily table (a TimescaleDB hypertable where it is installed)
    db.batch(include_str!("../../deploy/city/timescaledb.sql"));
    let observer = Mqtt::connect(broker.port, &["city/+/reports/#", "sobre/+/status"]);

    // And 50 real agents listening
    let started = Instant::now();
    let agents: Vec<FleetAgent> = agent_sites.iter().map(|site| FleetAgent::start(site, broker.port)).collect();
    let mut seen = Seen::default();
    wait_until_within(FLEET_DEADLINE, "every agent online", || {
        seen.take(&observer);
        seen.online.len() == AGENTS
    });
    println!("{AGENTS} agents online in {:.1} s", started.elapsed().as_secs_f64());

    // When the agents get twelve hours of readings and the generator sends its sites' reports
    // (and a few of sites never enrolled)
    let feed = Mqtt::connect(broker.port, &[]);
    let t0 = chrono::DateTime::parse_from_rfc3339("2019-01-01T00:00:00Z").expect("valid");
    feed.publish_all((0..HOURS).map(|h| {
        let ts = (t0 + chrono::Duration::hours(h)).to_rfc3339();
        ("fleet/outdoor".to_string(), json_reading(&ts, 5.0 + h as f64 / 4.0))
    }));
    let generated_reports: Vec<(String, Value)> =
        generated.iter().enumerate().flat_map(|(n, site)| load::site_reports("city", site, n as u64)).collect();
    let strangers: Vec<(String, Value)> = (0..STRANGERS)
        .flat_map(|n| load::site_reports("city", &format!("stranger-{n}"), n).into_iter().take(1))
        .collect();
    for (topic, report) in generated_reports.iter().chain(&strangers) {
        let schema = sobre_agent::city::schema::report_schema(report["schema"].as_str().expect("schema"))
            .expect("a report schema");
        sobre_agent::city::schema::check(schema, report).unwrap_or_else(|e| panic!("{topic}: {e}"));
    }
    // Sent in three tranches, so that reports are on their way whatever the machine's pace:
    // before the kill, while one sink is dead, and after the database cut.
    let payloads = |reports: &[(String, Value)]| -> Vec<(String, Vec<u8>)> {
        reports.iter().map(|(t, r)| (t.clone(), r.to_string().into_bytes())).collect()
    };
    let (first, rest) = generated_reports.split_at(generated_reports.len() / 2);
    let (second, third) = rest.split_at(rest.len() / 2);
    let publish = |messages: Vec<(String, Vec<u8>)>| {
        let port = broker.port;
        std::thread::spawn(move || Mqtt::connect(port, &[]).publish_all(messages))
    };
    let expected = generated_reports.len() + AGENTS * PER_AGENT;
    let stored = || db.count("SELECT count(*) FROM reports") as usize;
    let publishing = Instant::now();
    let tranche = publish(payloads(first));

    // And one sink is killed (SIGKILL) once some of the first tranche is stored, the second sent
    // while it is dead, and it starts again once the other has carried on
    wait_until_within(FLEET_DEADLINE, "some of the first tranche stored", || stored() >= first.len() / 4);
    sink_a.kill();
    let at_kill = stored();
    tranche.join().expect("the first tranche published");
    publish(payloads(second)).join().expect("the second tranche published");
    wait_until_within(FLEET_DEADLINE, "the other sink carrying on", || stored() >= at_kill + second.len() / 4);
    sink_a.launch();
    // And the database cuts both sinks' connections, as its restart would, before the third
    let cut = format!(
        "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE datname = '{}' AND application_name = 'sobre-city'",
        db.name
    );
    let at_cut = stored();
    // As a restart does: the server ends their sessions and refuses new ones until it is back
    // (this database alone refuses them, the test's own session stays).
    db.allow_connections(false);
    // Both sinks' (and a killed sink's old session, should the server not have ended it yet).
    let terminated = db.count(&cut);
    assert!(terminated >= 2, "both sinks' connections cut: {terminated}");
    let third_tranche = publish(payloads(third).into_iter().chain(payloads(&strangers)).collect());
    wait_until_within(FLEET_DEADLINE, "a sink refused while the database is down", || {
        sink_a.log().contains("cannot reconnect to the database")
            || sink_b.log().contains("cannot reconnect to the database")
    });
    db.allow_connections(true);
    third_tranche.join().expect("the third tranche published");
    let published = publishing.elapsed();
    println!("sink A killed at {at_kill} reports stored, both sinks' connections cut at {at_cut} of {expected}");

    // Then every report lands
    wait_until_within(FLEET_DEADLINE, "every report stored", || stored() >= expected);
    wait_until("the strangers' reports refused", || db.count("SELECT count(*) FROM refused") >= STRANGERS as i64);
    let elapsed = started.elapsed().as_secs_f64();
    println!(
        "{expected} reports stored ({} generated, published in {:.1} s) {elapsed:.1} s after the agents started (debug build)",
        generated_reports.len(),
        published.as_secs_f64()
    );
    // The third tranche came after the cut: a sink's first write after it failed, and was retried.
    assert!(
        sink_a.log().contains("cannot commit; will retry") || sink_b.log().contains("cannot commit; will retry"),
        "the cut was felt:\n{}\n{}",
        sink_a.log(),
        sink_b.log()
    );

    // And what each agent sent, as the broker passed it on: its register and a health and a
    // footprint report per completed hour
    wait_until("the observer has every agent report", || {
        seen.take(&observer);
        seen.reports.len() >= AGENTS * PER_AGENT + generated_reports.len() + STRANGERS as usize
    });
    let sent_by_agents: Vec<(String, Value)> =
        seen.reports.values().filter(|(t, _)| t.starts_with("city/agent-")).cloned().collect();
    for (site, agent) in agent_sites.iter().zip(&agents) {
        let n = sent_by_agents.iter().filter(|(_, r)| r["site"] == site.as_str()).count();
        assert_eq!(n, PER_AGENT, "{site} sent {n} reports:\n{}", agent.log());
    }

    // And each is in the database exactly once (one row per id, and the same ids), the
    // strangers' refused as unknown sites
    let sent: Vec<(String, Value)> = sent_by_agents.into_iter().chain(generated_reports.iter().cloned()).collect();
    let sent_ids: BTreeSet<String> = sent.iter().map(|(_, r)| r["id"].as_str().expect("id").to_string()).collect();
    assert_eq!(sent_ids.len(), sent.len(), "report ids are unique");
    let stored_ids: BTreeSet<String> = db.rows("SELECT id FROM reports").iter().map(|r| r.get(0)).collect();
    assert_eq!(stored_ids.len(), sent_ids.len(), "as many rows as reports sent");
    assert!(stored_ids == sent_ids, "the stored reports are the ones sent");
    assert_eq!(
        db.count("SELECT count(*) FROM refused WHERE reason = 'unknown-site' AND site LIKE 'stranger-%'"),
        STRANGERS as i64
    );
    assert_eq!(db.count("SELECT count(*) FROM refused"), STRANGERS as i64, "nothing else refused");
    assert!(
        format!("{}{}", sink_a.log(), sink_b.log()).matches("reason=\"unknown-site\"").count() >= STRANGERS as usize,
        "each refusal logged"
    );
    support::readme::says(&format!(
        "The {} reports are stored exactly once",
        support::readme::thousands(expected as f64)
    ));

    // And the views' totals equal the sums of what was sent
    let claimed = claimed_by_site(&sent);
    let expected_kwh: f64 = claimed.values().map(|c| c.0).sum();
    let totals = &db.rows("SELECT sites, avoided_kwh, interval90_kwh FROM portfolio_totals")[0];
    assert_eq!(totals.get::<_, i64>(0), claimed.len() as i64, "sites with a claim");
    assert_close("portfolio kWh", totals.get(1), expected_kwh);
    assert_close("portfolio interval", totals.get(2), claimed.values().map(|c| c.1 * c.1).sum::<f64>().sqrt());
    let sum_of = |kind: &str, key: &str| -> f64 {
        sent.iter().filter(|(_, r)| r["kind"] == kind).filter_map(|(_, r)| r[key].as_f64()).sum()
    };
    assert_close(
        "every monthly kWh, claimed or not",
        db.number("SELECT sum(avoided_kwh_all) FROM savings_by_site_month"),
        sum_of("savings-monthly", "avoided_kwh"),
    );
    let daily = &db.rows("SELECT count(*), sum(avoided_kwh) FROM savings_daily")[0];
    assert_eq!(daily.get::<_, i64>(0) as usize, sent.iter().filter(|(_, r)| r["resolution"] == "1d").count());
    assert_close("the daily table's kWh", daily.get(1), sum_of("savings-daily", "avoided_kwh"));
    assert_eq!(db.count("SELECT sum(reports)::bigint FROM fleet_health"), sent.len() as i64);
    for site in agent_sites.iter().take(3) {
        let row = &db.rows(&format!("SELECT reports, known, silent FROM fleet_health WHERE site = '{site}'"))[0];
        assert_eq!((row.get::<_, i64>(0), row.get(1), row.get(2)), (PER_AGENT as i64, true, false), "{site}");
    }
    assert_eq!(db.count("SELECT count(*) FROM fleet_health WHERE silent"), 1 + STRANGERS as i64);
    assert_eq!(db.count("SELECT count(*) FROM fleet_health WHERE silent AND known"), 1, "the one never heard from");
    // A run's footprint is its latest figure (it counts from the run's start), summed over runs.
    let mut runs = BTreeMap::<(String, String), f64>::new();
    for (_, r) in sent.iter().filter(|(_, r)| r["kind"] == "footprint") {
        let key = (r["site"].as_str().expect("site").to_string(), r["process"]["since"].to_string());
        let run = runs.entry(key).or_default();
        *run = run.max(r["process"]["estimated_wh"].as_f64().expect("Wh"));
    }
    assert_close(
        "the agents' own kWh",
        db.number("SELECT sum(agent_kwh) FROM footprint_vs_savings"),
        runs.values().sum::<f64>() / 1000.0,
    );
    assert_close(
        "the kWh their savings avoided",
        db.number("SELECT sum(saved_kwh) FROM footprint_vs_savings"),
        sum_of("footprint", "saved_kwh"),
    );
    assert_eq!(db.count("SELECT count(*) FROM register_current"), (AGENTS as u64 + GENERATED_SITES) as i64);
    assert_close(
        "achieved shed",
        db.number("SELECT sum(achieved_shed_kw) FROM flex_events"),
        sum_of("flex", "achieved_shed_kw"),
    );
    let refusals = sent.iter().filter(|(_, r)| r["kind"] == "flex" && r["status"] == "refused").count();
    assert!(refusals > 0);
    assert_eq!(
        db.count("SELECT count(*) FROM flex_events WHERE status = 'refused' AND achieved_shed_kw IS NULL"),
        refusals as i64
    );

    // And every query of the Grafana dashboard runs on the result, with rows
    let queries = dashboard_queries();
    assert!(queries.len() >= 8, "the dashboard's queries: {}", queries.len());
    let sites = format!("'{}','{}'", agent_sites[0], generated[0]);
    for (place, sql) in &queries {
        let rows = db.try_rows(&as_grafana_sends(sql, &sites)).unwrap_or_else(|e| panic!("{place}: {e}\n{sql}"));
        assert!(!rows.is_empty(), "{place} shows nothing:\n{sql}");
    }
}
