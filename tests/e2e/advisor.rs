//! The advisor on the poorly tuned emulated school, checked against the emulator's ground truth:
//! the demo fills a real store through the embedded broker, the advisor records its
//! recommendations in the ledger, and the emulator is rerun with each change alone.

use crate::demo::{demo, learned};
use crate::support::{readme, schema};
use serde_json::Value;
use sobre_agent::advisor::{Recommendation, RuleKind};
use sobre_agent::sim::{self, whatif, SimSettings};

/// The README's table of the advice on the poorly tuned school: the row of each change.
const README_ROWS: [(RuleKind, &str); 5] = [
    (RuleKind::SetpointAboveLimit, "| occupied setpoint"),
    (RuleKind::NightSetback, "| night setpoint"),
    (RuleKind::WeekendHeating, "| unoccupied weekends"),
    (RuleKind::LateStop, "| day programme end"),
    (RuleKind::OptimalStart, "| day programme start"),
];

// (first of the tests by name, which is the order the test harness starts them in: the demo it
// runs, which several tests read, starts beside the longest of the others)
#[test]
fn finds_the_poor_schools_waste_and_the_emulator_confirms_each_saving() {
    // Given the poorly tuned school's eight weeks in a store (the demo)
    let path = &demo().store;
    // When the advisor has run over them (the advice the demo prints: its last run, over the
    // whole period)
    let (school, advice) = (&learned().school, &learned().advice);
    let latest: &[Recommendation] = &advice.recommendations;
    // Then it finds the night setback, the weekend heating, the early start and the late stop
    let rules: Vec<RuleKind> = latest.iter().map(|r| r.rule).collect();
    for rule in [RuleKind::NightSetback, RuleKind::WeekendHeating, RuleKind::OptimalStart, RuleKind::LateStop] {
        assert!(rules.contains(&rule), "{rule:?} in {rules:?}");
    }
    // And no heating cut-off: the daily model's balance point on a winter alone is 9 °C, but a
    // school held at 21 °C behind poor walls needs its heating on such days, as its zone
    // models say
    assert!(!rules.contains(&RuleKind::HeatingCutOff), "{rules:?}");
    assert!(advice.dismissed.iter().any(|d| d.contains("heating on those days is needed")), "{:?}", advice.dismissed);
    // And every record, and the retained list, hold to their schemas
    let (decision, list) = (schema::load("decision"), schema::load("recommendations"));
    let mut ledger = sobre_agent::advisor::ledger::Ledger::open(path, "ecole-demo").expect("ledger");
    let records = ledger.records(10_000).expect("records");
    assert!(!records.is_empty());
    for r in &records {
        schema::check(&decision, r).unwrap_or_else(|e| panic!("{e}\n{r}"));
    }
    ledger.set_occupancy(advice.occupancy.clone());
    let retained: Value =
        serde_json::from_slice(&sobre_agent::advisor::task::current_list(&ledger, "ecole-demo").expect("list"))
            .expect("JSON");
    assert_eq!(retained["occupancy"].as_array().map(Vec::len), Some(advice.occupancy.len()), "{retained}");
    schema::check(&list, &retained).unwrap_or_else(|e| panic!("{e}\n{retained}"));
    // And it says each zone's occupancy came from the zone's presence sensor, the school's first
    // source
    assert!(!advice.occupancy.is_empty());
    for z in &advice.occupancy {
        assert_eq!(z.source, sobre_agent::advisor::occupancy::OccupancySource::Presence, "{z:?}");
        assert!(z.confidence > 0.9, "{z:?}");
    }
    // And each estimate is within 25 % of what the emulator shows with that change alone, as
    // the README's table says, row by row
    let base = whatif::run(school.clone()).expect("runs").plant_kwh;
    let mut checked = Vec::new();
    for r in latest {
        let Some(changed) = whatif::with_setting(school.clone(), &r.setting) else { continue };
        let truth = base - whatif::run(changed).expect("runs").plant_kwh;
        let (kwh, uncertainty) = (r.savings.period_kwh, r.savings.period_kwh_uncertainty);
        let ratio = kwh / truth;
        println!("{}: advisor {kwh:.0} ± {uncertainty:.0} kWh, emulator {truth:.0} kWh ({ratio:.2})", r.title);
        assert!((0.75..=1.25).contains(&ratio), "{}: estimated {kwh:.0} kWh, emulator {truth:.0} kWh", r.title);
        let (_, row) = README_ROWS.iter().find(|(rule, _)| *rule == r.rule).unwrap_or_else(|| panic!("{:?}", r.rule));
        let cells = format!("| {kwh:.0} ± {uncertainty:.0} | {truth:.0} | {ratio:.2} |");
        let line = readme::line(row);
        assert!(line.ends_with(&cells), "README.md's row for {}: {line:?}; this run: {cells:?}", r.title);
        checked.push(r.rule);
    }
    let rows: Vec<RuleKind> = README_ROWS.iter().map(|(rule, _)| *rule).collect();
    assert_eq!(checked.len(), rows.len(), "checked against the emulator: {checked:?}; the README's rows: {rows:?}");
}

/// The school described by `text` played through mosquitto into a running agent (which does
/// not advise on its own: the tests advise once, at the end), and the advice on its whole
/// period.
pub(crate) fn played_and_advised(text: &str, name: &str) -> (SimSettings, sobre_agent::advisor::Advice) {
    let (building, advice, _) = played_advised_and_baselined(text, name);
    (building, advice)
}

/// As [`played_and_advised`], with the savings baselines the agent fits on the building's
/// first five weeks (the demo's `[savings]`).
pub(crate) fn played_advised_and_baselined(
    text: &str,
    name: &str,
) -> (SimSettings, sobre_agent::advisor::Advice, sobre_agent::baseline::Fits) {
    let broker = crate::support::Mosquitto::start();
    let school = SimSettings::parse(text, name).expect("school");
    let emulator = sobre_agent::sim::Emulator::new(school.clone()).expect("emulator");
    let (start_ms, days) = (emulator.settings().start_ms, emulator.settings().steps / 96);
    let dir = tempfile::tempdir().expect("tempdir");
    let mut settings =
        sim::demo_settings(&emulator, broker.port, broker.port, &dir.path().join("sobre.db")).expect("settings");
    settings.uplink = None;
    settings.homeassistant = None;
    // The agent's own daily runs would only compete for the cores with its ingest.
    settings.advisor.interval = std::time::Duration::from_secs(100 * 86_400);
    let agent = crate::support::InProcess::start(settings.clone(), dir);
    let target = sim::Target { host: "127.0.0.1".into(), port: broker.port, stall_timeout: crate::support::DEADLINE };
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
    let played =
        rt.block_on(sim::run(emulator, &target, sim::Pace::Max, std::future::pending())).expect("the school plays");
    // (eight weeks of a school through mosquitto: a debug build on a loaded machine takes a while)
    crate::support::wait_until_within(
        std::time::Duration::from_secs(300),
        "every device message reached the agent",
        || agent.stats.snapshot().messages >= played.published,
    );
    let path = settings.storage.path.clone();
    let _dir = agent.stop();
    let store = sobre_agent::store::Store::open(&path, &settings.points, settings.site.timezone).expect("store");
    let advice = sobre_agent::advisor::advise(
        &store,
        &settings,
        &settings.advisor,
        (start_ms, start_ms + days as i64 * 86_400_000),
    )
    .expect("advice");
    let baselines = match (&settings.savings, settings.first_point(sobre_agent::point::PointKind::OutdoorTemperature)) {
        (Some(savings), Some(outdoor)) => {
            let calendar = sobre_agent::store::rollup::Calendar { tz: settings.site.timezone };
            let period = (
                calendar.local_midnight(savings.baseline.0),
                calendar.local_midnight(calendar.next_day(savings.baseline.1)),
            );
            sobre_agent::baseline::fit_each(&store, &settings.site, &savings.points, &outdoor.id, period)
        }
        _ => Vec::new(),
    };
    (school, advice, baselines)
}

#[test]
fn on_the_well_tuned_school_no_setback_is_proposed_and_the_one_proposal_is_the_occupied_setpoint() {
    // Given the same school well tuned (setback to 16 °C at night and at weekends, frost
    // protection in the holidays), played through mosquitto into a running agent
    let text = sim::SCHOOL.replace("tuning = \"poor\"", "tuning = \"good\"");
    // When the advisor runs over the eight weeks
    let (school, advice) = played_and_advised(&text, "good school");
    println!(
        "well tuned school: recommended {:?}; dismissed {:?}",
        advice
            .recommendations
            .iter()
            .map(|r| format!("{} ({:.0} ± {:.0} kWh)", r.title, r.savings.period_kwh, r.savings.period_kwh_uncertainty))
            .collect::<Vec<_>>(),
        advice.dismissed
    );
    // Then its models pass their gate (silence is a verdict, not a lack of data)
    assert!(advice.missing.is_empty(), "{:?}", advice.missing);
    // And it proposes no setback: the school already sets back at night, at weekends and in
    // the holidays
    let proposed: Vec<RuleKind> = advice.recommendations.iter().map(|r| r.rule).collect();
    let setbacks = [RuleKind::NightSetback, RuleKind::WeekendHeating, RuleKind::ClosureHeating];
    assert!(!proposed.iter().any(|r| setbacks.contains(r)), "{proposed:?}");
    // But it still finds what is left: its one proposal is the occupied setpoint above the
    // 19 °C limit, with the saving the README gives, within 25 % of the emulator's
    assert_eq!(proposed, [RuleKind::SetpointAboveLimit]);
    let r = &advice.recommendations[0];
    let s = &r.savings;
    readme::says(&format!("({:.0} ± {:.0} kWh over the eight weeks)", s.period_kwh, s.period_kwh_uncertainty));
    let changed = whatif::with_setting(school.clone(), &r.setting).expect("the emulator plays a setpoint change");
    let truth = whatif::run(school).expect("runs").plant_kwh - whatif::run(changed).expect("runs").plant_kwh;
    println!("well tuned school, {}: advisor {:.0} kWh, emulator {truth:.0} kWh", r.title, s.period_kwh);
    assert!(
        (0.75..=1.25).contains(&(s.period_kwh / truth)),
        "estimated {:.0} kWh, emulator {truth:.0} kWh",
        s.period_kwh
    );
}

#[test]
fn in_spring_the_advisor_cuts_the_heating_off_on_warm_days_and_the_emulator_confirms_the_saving() {
    // Given the poorly tuned school in April and May, when some days are warm enough to need
    // no heating, played through mosquitto into a running agent
    let text = sim::SCHOOL.replace("start = \"2019-01-07\"", "start = \"2019-04-01\"");
    // When the advisor runs over the eight weeks
    let (school, advice) = played_and_advised(&text, "spring school");
    // Then it proposes a heating cut-off above the balance point
    let cut_off = advice.recommendations.iter().find(|r| r.rule == RuleKind::HeatingCutOff);
    let Some(r) = cut_off else {
        panic!(
            "no cut-off in {:?}; dismissed {:?}; missing {:?}",
            advice.recommendations.iter().map(|r| &r.title).collect::<Vec<_>>(),
            advice.dismissed,
            advice.missing
        )
    };
    // And the emulator with that cut-off alone saves within 25 % of its estimate
    let base = whatif::run(school.clone()).expect("runs");
    let changed = whatif::with_setting(school, &r.setting).expect("the emulated programme takes a cut-off");
    let changed = whatif::run(changed).expect("runs");
    let truth = base.plant_kwh - changed.plant_kwh;
    let kwh = r.savings.period_kwh;
    // (what the cut-off adds to the emulator's own discomfort, worst zone, K·h a week)
    let worst = base
        .zones
        .iter()
        .zip(&changed.zones)
        .map(|(b, c)| (c.discomfort_kh - b.discomfort_kh) / 8.0)
        .fold(0.0, f64::max);
    println!(
        "{}: advisor {kwh:.0} ± {:.0} kWh, emulator {truth:.0} kWh ({:.2}); advisor: {}; emulator: {worst:.2} K·h a week more in the worst zone",
        r.title,
        r.savings.period_kwh_uncertainty,
        kwh / truth,
        r.comfort.text
    );
    assert!((0.75..=1.25).contains(&(kwh / truth)), "{}: estimated {kwh:.0} kWh, emulator {truth:.0} kWh", r.title);
    // (The README's figures for this run are not asserted: under heavy load one run in about ten
    // estimated 32 ± 11 kWh instead of 43 ± 14 from the same eight weeks; the ratio above held.
    // Why the same data fits differently is an open question, see the session's note.)
}

#[test]
fn what_stops_the_advisor_is_published_in_the_retained_list_as_its_schema_says() {
    // Given a ledger whose advisor's latest run was stopped, for each cause there is
    let dir = tempfile::tempdir().expect("tempdir");
    let mut ledger =
        sobre_agent::advisor::ledger::Ledger::open(&dir.path().join("sobre.db"), "bureau").expect("ledger");
    use sobre_agent::advisor::Blocker;
    let m =
        sobre_models::metrics::Metrics { n: 35, p: 3, mean: 900.0, rmse: 450.0, cv_rmse: 0.5, nmbe: -0.01, r2: 0.2 };
    let gate = sobre_models::metrics::gl14(sobre_models::metrics::Resolution::Daily, &m);
    let blocked = vec![
        Blocker::no_zones(),
        Blocker::no_setpoints(),
        Blocker::no_setpoint_readings(&["sp".into()]),
        Blocker::no_occupancy_source(),
        Blocker::never_occupied(&["presence".into()]),
        Blocker::no_programme(),
        Blocker::no_heating_meter(),
        Blocker::too_few_days(9, 14),
        Blocker::heat_loss_model("the meter does not follow the heat loss"),
        Blocker::heat_loss_gate(&m, &gate, 35),
        Blocker::zone_model("north", "no free fall"),
        Blocker::from("occupancy: worded by another part"),
    ];
    assert_eq!(blocked.len(), Blocker::CODES.len(), "one of each code");
    ledger.set_blocked(blocked);
    // When the retained list is built
    let retained: Value =
        serde_json::from_slice(&sobre_agent::advisor::task::current_list(&ledger, "bureau").expect("list"))
            .expect("JSON");
    // Then it holds to its schema, and names every cause with its code
    schema::check(&schema::load("recommendations"), &retained).unwrap_or_else(|e| panic!("{e}\n{retained}"));
    let codes: Vec<&str> =
        retained["blocked"].as_array().expect("blocked").iter().filter_map(|b| b["code"].as_str()).collect();
    assert_eq!(codes, Blocker::CODES);
    assert!(retained.to_string().contains("CV(RMSE) 50.0 %"), "the gate's figures: {retained}");
}

#[test]
fn before_its_first_run_the_advisor_says_on_mqtt_that_it_waits_for_two_weeks_of_data() {
    use crate::support::{json_point, json_reading, Agent, Mosquitto, Mqtt};
    // Given an agent that has stored its first reading
    let broker = Mosquitto::start();
    let agent = Agent::start(broker.port, &json_point("t", "zone_temperature", "°C", "zone = \"a\""), "");
    let mqtt = Mqtt::connect(broker.port, &["sobre/test-site/status", "sobre/test-site/recommendations"]);
    mqtt.expect("sobre/test-site/status", |s| s["state"] == "online");
    mqtt.publish("test/t", json_reading("2024-01-15T10:00:00Z", 20));
    // When the advisor looks whether to run, Then the retained list says why there is no advice
    // yet and when there will be, as its schema says
    let list =
        mqtt.expect("sobre/test-site/recommendations", |l| l["blocked"].as_array().is_some_and(|b| !b.is_empty()));
    schema::check(&schema::load("recommendations"), &list).unwrap_or_else(|e| panic!("{e}\n{list}"));
    assert_eq!(list["count"], 0);
    assert_eq!(list["blocked"][0]["code"], "too_few_days", "{list}");
    let text = list["blocked"][0]["text"].as_str().unwrap_or_default();
    assert!(text.contains("14 days") && text.contains("2024-01-29T10:00:00"), "{text}");
    drop(agent);
}
