//! `sobre city`, the city's sink, against a real mosquitto and a real PostgreSQL: the reports a
//! real agent sent (the demo's), as a fleet of sites, land exactly once whatever is delivered
//! twice or the sink being killed mid-stream; what is broken is in `refused` with its reason;
//! and the dashboard's views add up to what was sent.
//!
//! PostgreSQL on 127.0.0.1:5432 (trust authentication, user `postgres` or `PGUSER`): the test
//! creates a database of its own and drops it at the end, even on failure. Without a reachable
//! PostgreSQL it says so and skips.

use crate::support::city::{assert_close, claimed_by_site, Sink, TestDatabase};
use crate::support::{wait_until, Mosquitto, Mqtt};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::process::Command;

const MAX_REPORT_BYTES: usize = 64 * 1024;
/// How the sink says a report carries a field its schema does not have; the README quotes it.
const OCCUPANT: &str = "$: \"occupant\" is not in the schema";

/// The reports the demo's agent sent the city's broker, as (topic, report).
fn demo_reports() -> Vec<(String, Value)> {
    crate::demo::demo()
        .upstream
        .iter()
        .filter(|(topic, _)| topic.contains("/reports/"))
        .map(|(topic, payload)| (topic.clone(), serde_json::from_slice(payload).expect("the agent sends JSON")))
        .collect()
}

/// The demo's reports as another site's: its code in the topic, the site field and the id.
/// Sites in `unclaimed` get baselines that fail Guideline 14: figures, but no claim.
fn as_site(reports: &[(String, Value)], site: &str, unclaimed: bool) -> Vec<(String, Value)> {
    reports
        .iter()
        .map(|(topic, report)| {
            let from = report["site"].as_str().expect("a site").to_string();
            let mut r = report.clone();
            r["site"] = Value::from(site);
            let id = r["id"].as_str().expect("an id").replacen(&from, site, 1);
            r["id"] = Value::from(id);
            if unclaimed && r["schema"] == "sobre.savings/1" {
                r["claim"] = Value::from(false);
                r["model"]["gl14_pass"] = Value::from(false);
            }
            (topic.replacen(&format!("/{from}/"), &format!("/{site}/"), 1), r)
        })
        .collect()
}

fn payloads(reports: &[(String, Value)]) -> Vec<(String, Vec<u8>)> {
    reports.iter().map(|(t, r)| (t.clone(), r.to_string().into_bytes())).collect()
}

#[test]
fn the_sink_keeps_every_report_once_refuses_the_broken_and_loses_nothing_when_killed() {
    let Some(db) = TestDatabase::create() else { return };
    let demo = demo_reports();
    assert!(demo.iter().any(|(_, r)| r["resolution"] == "1mo"), "the demo sent monthly savings");
    let broker = Mosquitto::start();
    let mut sink = Sink::start(broker.port, &db.url(), "city-test-sink", MAX_REPORT_BYTES);
    // The sites the city enrolled: the demo's, the fleet's twenty, and one added later.
    db.rows("INSERT INTO sites (site) SELECT 'site-' || lpad(n::text, 3, '0') FROM generate_series(1, 20) n");
    db.rows("INSERT INTO sites (site, name) VALUES ('ecole-demo', 'École de démonstration'), ('site-after-cut', NULL)");
    let agent = Mqtt::connect(broker.port, &[]);

    // Given the demo's own reports, and one of them delivered twice
    agent.publish_all(payloads(&demo));
    let ids: BTreeSet<String> = demo.iter().map(|(_, r)| r["id"].as_str().expect("id").to_string()).collect();
    wait_until("the demo's reports stored", || db.count("SELECT count(*) FROM reports") == ids.len() as i64);
    let (dup_topic, dup) = demo.iter().find(|(_, r)| r["resolution"] == "1mo").expect("a monthly report").clone();
    let dup_id = dup["id"].as_str().expect("id").to_string();
    let first_seen = format!("SELECT received_at::text FROM reports WHERE id = '{dup_id}'");
    let before: String = db.rows(&first_seen)[0].get(0);

    // When it arrives again, followed by what the sink must refuse
    let mut oversize = dup.clone();
    oversize["point"] = Value::from("x".repeat(MAX_REPORT_BYTES));
    let mut extra = dup.clone();
    extra["occupant"] = Value::from("Jane Doe");
    let (stranger_topic, stranger) = as_site(&[(dup_topic.clone(), dup.clone())], "site-unknown", false).remove(0);
    let refusals: Vec<(String, Vec<u8>, &str, &str)> = vec![
        (
            "city/ecole-demo/reports/health".into(),
            b"{\"schema\": \"sobre.health/1\", ".to_vec(),
            "not-json",
            "not JSON",
        ),
        (dup_topic.clone(), extra.to_string().into_bytes(), "schema", OCCUPANT),
        (dup_topic.clone(), oversize.to_string().into_bytes(), "oversize", "over sink.max_report_bytes"),
        (
            "city/ecole-demo/reports/status".into(),
            br#"{"schema":"sobre.status/1","state":"online"}"#.to_vec(),
            "unknown-schema",
            "not a report schema",
        ),
        (
            "city/other-site/reports/savings-monthly".into(),
            dup.to_string().into_bytes(),
            "topic",
            "site \"ecole-demo\"",
        ),
        (
            stranger_topic,
            stranger.to_string().into_bytes(),
            "unknown-site",
            "\"site-unknown\" is not in the sites table",
        ),
    ];
    agent.publish(&dup_topic, dup.to_string());
    agent.publish_all(refusals.iter().map(|(t, p, _, _)| (t.clone(), p.clone())));
    wait_until("the refusals recorded", || db.count("SELECT count(*) FROM refused") == refusals.len() as i64);
    // and each of those again (a broker delivering anew what a stopped sink had not acknowledged
    // sends the same bytes, as does a publisher repeating itself)
    let between: String = db.rows("SELECT clock_timestamp()::text")[0].get(0);
    agent.publish_all(refusals.iter().map(|(t, p, _, _)| (t.clone(), p.clone())));
    wait_until("the second deliveries counted", || {
        db.count("SELECT sum(times)::bigint FROM refused") == 2 * refusals.len() as i64
    });

    // Then each report is stored once, the duplicate changed nothing, the broken ones say why,
    // each in one row that counts its two deliveries
    assert_eq!(db.count("SELECT count(*) FROM reports"), ids.len() as i64, "one row per report id");
    let stored: BTreeSet<String> = db.rows("SELECT id FROM reports").iter().map(|r| r.get(0)).collect();
    assert_eq!(stored, ids);
    let after: String = db.rows(&first_seen)[0].get(0);
    assert_eq!(after, before, "the duplicate left the first delivery's row as it was");
    let body: Value = db.rows(&format!("SELECT body FROM reports WHERE id = '{dup_id}'"))[0].get(0);
    assert_eq!(body, dup, "the JSON is kept as sent");
    let monthly = demo.iter().filter(|(_, r)| r["resolution"] == "1mo").count() as i64;
    let daily = demo.iter().filter(|(_, r)| r["resolution"] == "1d").count() as i64;
    assert_eq!(db.count("SELECT count(*) FROM savings WHERE resolution = '1mo'"), monthly);
    assert_eq!(db.count("SELECT count(*) FROM savings WHERE resolution = '1d'"), daily);
    for (topic, _, reason, says) in &refusals {
        let rows = db.rows(&format!(
            "SELECT detail, times, first_received_at < '{between}' AND received_at > '{between}' FROM refused \
             WHERE reason = '{reason}' AND topic = '{topic}'"
        ));
        assert_eq!(rows.len(), 1, "one {reason} refusal on {topic}");
        let detail: String = rows[0].get(0);
        assert!(detail.contains(says), "{reason}: {detail:?} should say {says:?}");
        assert_eq!(rows[0].get::<_, i64>(1), 2, "{reason}: both deliveries counted");
        assert!(rows[0].get::<_, bool>(2), "{reason}: received first before {between}, last after it");
    }
    assert_eq!(
        db.count("SELECT count(*) FROM refused WHERE reason = 'oversize' AND payload IS NULL"),
        1,
        "an oversize payload is not kept"
    );

    // Given a fleet: the demo's reports as 20 sites', a quarter of them without a claim, sent
    // while the sink is killed half-way and started again
    let fleet: Vec<(String, Value)> =
        (1..=20).flat_map(|n| as_site(&demo, &format!("site-{n:03}"), n % 4 == 0)).collect();
    let publisher = std::thread::spawn({
        let messages = payloads(&fleet);
        let port = broker.port;
        move || Mqtt::connect(port, &[]).publish_all(messages)
    });
    let fleet_stored = "SELECT count(*) FROM reports WHERE site LIKE 'site-%'";
    wait_until("some of the fleet's reports stored", || db.count(fleet_stored) > 0);
    sink.kill();
    let at_kill = db.count(fleet_stored);
    publisher.join().expect("the fleet's reports published");
    let restarted = std::time::Instant::now();
    sink.launch();
    wait_until("every fleet report stored", || db.count(fleet_stored) >= fleet.len() as i64);
    let secs = restarted.elapsed().as_secs_f64();
    println!(
        "the sink was killed with {at_kill} of the fleet's {} reports stored; started again, it stored the other {} in {secs:.1} s ({:.0} reports/s, debug build, the sink's start included)",
        fleet.len(),
        fleet.len() as i64 - at_kill,
        (fleet.len() as i64 - at_kill) as f64 / secs
    );

    // Then nothing was lost and nothing doubled
    let all: Vec<(String, Value)> = demo.iter().chain(&fleet).cloned().collect();
    assert_eq!(db.count("SELECT count(*) FROM reports"), all.len() as i64, "every report exactly once");
    assert_eq!(db.count("SELECT count(*) FROM refused"), refusals.len() as i64, "no new refusal");

    // Given the database connection cut under the sink (as a PostgreSQL restart does), when
    // more reports come, then they are stored all the same: the write is retried on a new
    // connection, and acknowledged only once it commits
    let cut = format!(
        "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE datname = '{}' AND application_name = 'sobre-city'",
        db.name
    );
    assert_eq!(db.count(&cut), 1, "the sink's one connection");
    let after_cut = as_site(&demo, "site-after-cut", false);
    agent.publish_all(payloads(&after_cut));
    let after_cut_stored = "SELECT count(*) FROM reports WHERE site = 'site-after-cut'";
    wait_until("the reports after the cut stored", || db.count(after_cut_stored) == after_cut.len() as i64);
    assert!(sink.log().contains("cannot commit; will retry"), "the cut was felt:\n{}", sink.log());
    let all: Vec<(String, Value)> = all.into_iter().chain(after_cut).collect();
    assert_eq!(db.count("SELECT count(*) FROM reports"), all.len() as i64, "every report exactly once");

    // And the views add up to what was sent: claims only; sites' intervals in quadrature
    let claimed = claimed_by_site(&all);
    let expected_kwh: f64 = claimed.values().map(|c| c.0).sum();
    let expected_interval = claimed.values().map(|c| c.1 * c.1).sum::<f64>().sqrt();
    assert_eq!(claimed.len(), 17, "the unclaimed sites are not in the claimed totals");
    assert_close(
        "claimed kWh by site and month",
        db.number("SELECT sum(avoided_kwh) FROM savings_by_site_month"),
        expected_kwh,
    );
    let totals = &db.rows("SELECT sites, avoided_kwh, interval90_kwh FROM portfolio_totals")[0];
    assert_eq!(totals.get::<_, i64>(0), claimed.len() as i64);
    assert_close("portfolio kWh", totals.get(1), expected_kwh);
    assert_close("portfolio interval", totals.get(2), expected_interval);
    let all_kwh: f64 = all
        .iter()
        .filter(|(_, r)| r["resolution"] == "1mo")
        .map(|(_, r)| r["avoided_kwh"].as_f64().expect("kWh"))
        .sum();
    assert_close(
        "every monthly kWh, claimed or not",
        db.number("SELECT sum(avoided_kwh_all) FROM savings_by_site_month"),
        all_kwh,
    );
    for (site, reports, refused) in
        [("ecole-demo", demo.len() as i64, 4_i64), ("site-007", demo.len() as i64, 0), ("other-site", 0, 1)]
    {
        let row = &db.rows(&format!("SELECT reports, refused FROM fleet_health WHERE site = '{site}'"))[0];
        assert_eq!((row.get::<_, i64>(0), row.get::<_, i64>(1)), (reports, refused), "{site} in fleet_health");
    }
    assert_eq!(
        db.count("SELECT count(*) FROM fleet_health"),
        24,
        "the demo's site, the fleet's 20, the one after the cut, the impostor topic's, the unknown one"
    );
    assert_eq!(
        db.count("SELECT count(*) FROM fleet_health WHERE known AND NOT silent"),
        22,
        "the enrolled sites all reported just now"
    );
    db.rows("INSERT INTO sites (site) VALUES ('site-never-heard')");
    let never = &db.rows("SELECT reports, known, silent FROM fleet_health WHERE site = 'site-never-heard'")[0];
    assert_eq!((never.get::<_, i64>(0), never.get::<_, bool>(1), never.get::<_, bool>(2)), (0, true, true));
    crate::support::readme::says(OCCUPANT);

    // And the fleet's other views: the register's current entry per site, the agents' own
    // footprint (a run's latest figure) against their savings, flexibility events
    assert_eq!(db.count("SELECT count(*) FROM register_current"), 22, "every site that reported has its entry");
    let last_register =
        demo.iter().filter(|(_, r)| r["kind"] == "register").map(|(_, r)| r["id"].as_str().expect("id")).max();
    let current: String = db.rows("SELECT id FROM register_current WHERE site = 'ecole-demo'")[0].get(0);
    assert_eq!(Some(current.as_str()), last_register, "the entry after the baselines' fit");
    let mut runs = BTreeMap::<String, f64>::new();
    let mut saved: Option<f64> = None;
    for (_, r) in demo.iter().filter(|(_, r)| r["kind"] == "footprint") {
        let wh = r["process"]["estimated_wh"].as_f64().unwrap_or(0.0);
        let run = runs.entry(r["process"]["since"].as_str().expect("since").to_string()).or_insert(0.0);
        *run = run.max(wh);
        // null before the reporting period: SQL's sum skips it, and is null if all are.
        if let Some(kwh) = r["saved_kwh"].as_f64() {
            saved = Some(saved.unwrap_or(0.0) + kwh);
        }
    }
    let footprint = &db.rows("SELECT agent_kwh, saved_kwh FROM footprint_vs_savings WHERE site = 'ecole-demo'")[0];
    assert_close("the agent's kWh", footprint.get(0), runs.values().sum::<f64>() / 1000.0);
    let saved_in_view: Option<f64> = footprint.get(1);
    assert_eq!(saved_in_view.is_some(), saved.is_some(), "saved kWh: {saved_in_view:?} in the view, {saved:?} sent");
    if let (Some(found), Some(sent)) = (saved_in_view, saved) {
        assert_close("the kWh it saved", found, sent);
    }
    let flex = serde_json::json!({"schema":"sobre.flex/1","id":"ecole-demo/flex/peak-0311","site":"ecole-demo","kind":"flex",
        "period":{"start":"2019-03-11T08:00:00Z","end":"2019-03-11T10:00:00Z"},"agent_version":"0.1.0",
        "event_id":"peak-0311","event_kind":"shed","planned_shed_kw":6.381,"achieved_shed_kw":4.616,
        "shifted_kwh":0.0,"rebound_peak_kw":4.216,"baseline_peak_kw":7.4,"discomfort_kh":0.0,"overrides":1});
    agent.publish("city/ecole-demo/reports/flex", flex.to_string());
    // (and, from an upgraded agent, sobre.flex/2: a request it refused, with why and no figures)
    let refused = serde_json::json!({"schema":"sobre.flex/2","id":"ecole-demo/flex/peak-0312/refused","site":"ecole-demo",
        "kind":"flex","period":{"start":"2019-03-12T08:00:00Z","end":"2019-03-12T10:00:00Z"},"agent_version":"0.1.0",
        "event_id":"peak-0312","event_kind":"shed","status":"refused",
        "reason":"event peak-0312: the agent is in advise mode and commands nothing; refused, nothing will be commanded for it",
        "planned_shed_kw":null,"achieved_shed_kw":null,"shifted_kwh":null,"rebound_peak_kw":null,
        "baseline_peak_kw":null,"discomfort_kh":null,"overrides":null});
    agent.publish("city/ecole-demo/reports/flex", refused.to_string());
    wait_until("the flex reports stored", || db.count("SELECT count(*) FROM flex_events") == 2);
    let events = db.rows(
        "SELECT event_id, planned_shed_kw, achieved_shed_kw, achieved_share, status, reason FROM flex_events ORDER BY event_id",
    );
    let event = &events[0];
    assert_eq!((event.get::<_, String>(0), event.get::<_, String>(4)), ("peak-0311".into(), "settled".into()));
    assert_eq!((event.get::<_, f64>(1), event.get::<_, f64>(2)), (6.381, 4.616));
    assert_close("achieved against planned", event.get(3), 4.616 / 6.381);
    // And the refusal is an event with its status and reason, and no figures to sum
    let refusal = &events[1];
    assert_eq!((refusal.get::<_, String>(0), refusal.get::<_, String>(4)), ("peak-0312".into(), "refused".into()));
    assert_eq!(refusal.get::<_, Option<String>>(5).as_deref(), refused["reason"].as_str());
    assert_eq!((refusal.get::<_, Option<f64>>(1), refusal.get::<_, Option<f64>>(3)), (None, None));

    assert!(sink.log().contains("refused a report"), "refusals are logged:\n{}", sink.log());

    // And a database a newer sink migrated is refused, not written to
    sink.kill();
    db.rows("UPDATE schema_version SET version = 99");
    let refused_start = crate::support::output(
        Command::new(env!("CARGO_BIN_EXE_sobre")).args(["city", "--config"]).arg(sink.dir.path().join("city.toml")),
        "sobre city on a newer database",
    );
    let stderr = String::from_utf8_lossy(&refused_start.stderr);
    assert!(!refused_start.status.success(), "{stderr}");
    assert!(stderr.contains("schema version 99, newer than this sink's 6"), "{stderr}");
}

#[test]
fn refusals_recorded_twice_before_the_upgrade_are_one_row_each_after_it() {
    let Some(db) = TestDatabase::create() else { return };
    // Given a database of the sink before refusals were recorded once (schema 5), where a
    // redelivered broken message and a redelivered oversize one were each recorded twice
    for sql in [
        include_str!("../../agent/src/city/migrations/001_reports.sql"),
        include_str!("../../agent/src/city/migrations/002_views.sql"),
        include_str!("../../agent/src/city/migrations/003_fleet_views.sql"),
        include_str!("../../agent/src/city/migrations/004_sites.sql"),
        include_str!("../../agent/src/city/migrations/005_flex_outcomes.sql"),
    ] {
        db.batch(sql);
    }
    db.batch(
        "CREATE TABLE schema_version (version integer NOT NULL); INSERT INTO schema_version VALUES (5);
         INSERT INTO refused (received_at, topic, site, reason, detail, bytes, payload) VALUES
         ('2026-12-01T10:00Z', 'city/a/reports/health', 'a', 'not-json', 'not JSON', 3, 'abc'),
         ('2026-12-01T16:00Z', 'city/a/reports/health', 'a', 'not-json', 'not JSON', 3, 'abc'),
         ('2026-12-01T12:00Z', 'city/a/reports/health', 'a', 'not-json', 'not JSON', 3, 'abd'),
         ('2026-12-01T13:00Z', 'city/a/reports/health', 'a', 'oversize', 'too big', 900000, NULL),
         ('2026-12-01T14:00Z', 'city/a/reports/health', 'a', 'oversize', 'too big', 900000, NULL),
         ('2026-12-01T15:00Z', 'city/a/reports/health', 'a', 'oversize', 'too big', 900001, NULL);",
    );

    // When the sink starts on it
    let broker = Mosquitto::start();
    let _sink = Sink::start(broker.port, &db.url(), "city-upgrade-sink", MAX_REPORT_BYTES);
    wait_until("the database migrated", || db.count("SELECT max(version)::bigint FROM schema_version") == 6);

    // Then each message is one row, counting its deliveries from the first to the last (hours
    // of 2026-12-01, UTC)
    let rows: Vec<(String, i32, i64, i32, i32)> = db
        .rows(
            "SELECT reason, bytes, times, extract(hour FROM first_received_at AT TIME ZONE 'UTC')::int, \
             extract(hour FROM received_at AT TIME ZONE 'UTC')::int FROM refused ORDER BY first_received_at",
        )
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2), r.get(3), r.get(4)))
        .collect();
    let expected = [
        ("not-json", 3, 2, 10, 16),
        ("not-json", 3, 1, 12, 12),
        ("oversize", 900000, 2, 13, 14),
        ("oversize", 900001, 1, 15, 15),
    ];
    assert_eq!(
        rows,
        expected.map(|(reason, bytes, times, first, last)| (reason.to_string(), bytes, times, first, last))
    );
    // And the site's health counts four refused messages, the last one delivered at 16:00
    let health = &db.rows(
        "SELECT refused, extract(hour FROM last_refused_at AT TIME ZONE 'UTC')::int FROM fleet_health WHERE site = 'a'",
    )[0];
    assert_eq!((health.get::<_, i64>(0), health.get::<_, i32>(1)), (4, 16));
}
