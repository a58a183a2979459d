//! Control on the emulated school, in closed loop with the emulator (as BOPTEST runs a
//! controller against a test case), from what the agent learned: the programme the advisor read
//! from the demo's store and the recommendations it made there, all accepted.

use crate::demo::{demo, learned};
use crate::support::{copy_store, readme, schema, wait_until, wait_until_within, Agent, InProcess, Mosquitto, Mqtt};
use chrono::{NaiveDate, TimeZone};
use serde_json::Value;
use sobre_agent::advisor::{programme::Programme, Setting};
use sobre_agent::config::control::Mode;
use sobre_agent::control::schedule::Schedule;
use sobre_agent::sim::{self, trial, Emulator, SimSettings};

fn schedule(settings: &sobre_agent::config::Settings, programme: Programme, accepted: Vec<Setting>) -> Schedule {
    settings.control.schedule(programme, accepted, settings.site.timezone, settings.comfort.min_c, 0)
}

#[test]
fn the_accepted_recommendations_applied_as_schedules_save_a_sixth_of_a_winter_months_heating_in_comfort() {
    // Given what the agent learned from eight weeks of the poorly tuned school, every
    // recommendation accepted
    let crate::demo::Learned { school, settings, programme, advice } = learned();
    let accepted: Vec<Setting> = advice.recommendations.iter().map(|r| r.setting.clone()).collect();
    assert!(accepted.iter().filter(|s| Schedule::applies(s)).count() >= 4, "{accepted:?}");
    let schedule = schedule(settings, programme.clone(), accepted);
    // When the agent pilots the thermostats through December (four weeks it never saw)
    let first_day = NaiveDate::from_ymd_opt(2019, 12, 2).expect("date");
    let learned = trial::Learned { zone_models: &advice.zone_models, kw_per_demand: advice.kw_per_demand };
    let m = trial::month(school, &settings.control, &schedule, learned, first_day, 28).expect("runs");
    println!("{m:#?}");
    // Then the emulator measures at least 15 % less heating than under the building's programme
    assert!(
        m.saving_percent >= 15.0,
        "{:.1} % ({:.0} → {:.0} kWh)",
        m.saving_percent,
        m.baseline_kwh,
        m.controlled_kwh
    );
    // And no zone spends more than 0.5 K·h a week outside the comfort band while occupied
    assert!(m.worst_zone_kh_per_week <= 0.5, "{:.2} K·h per week in the worst zone", m.worst_zone_kh_per_week);
    // And in shadow mode, what the controller says each midnight the day will use on the
    // building's programme is within a quarter of what the meter then shows
    let p = &m.predicted;
    assert!(p.days >= 25, "{p:?}");
    assert!((p.programme_kwh / p.metered_programme_kwh - 1.0).abs() <= 0.25, "{p:?}");
    // And the saving it predicts for the schedule is the saving the emulator measures when the
    // same decisions are sent (the run under control against the run on the programme, over
    // the same days), overstated but within SHADOW_OVERSTATES of it
    let (predicted, measured) = (p.programme_kwh - p.schedule_kwh, p.metered_programme_kwh - p.metered_schedule_kwh);
    assert!(measured > 0.0, "the emulator measures no saving: {p:?}");
    let ratio = predicted / measured;
    assert!(
        SHADOW_OVERSTATES.contains(&ratio),
        "predicted {predicted:.0} kWh, measured {measured:.0} kWh: {ratio:.2}× ({SHADOW_OVERSTATES:?})"
    );
    // And the saving lies within the interval the advisor gave for the changes accepted
    // together (as a share of the heating: it estimated them over the eight weeks it read, the
    // trial runs a December it never saw), at no more than 0.5 K·h a zone and week above the
    // building's own programme
    within_the_advisors_interval("school", advice, m.saving_percent);
    assert!(m.worst_zone_kh_per_week - m.baseline_worst_zone_kh_per_week <= 0.5, "{m:?}");
    // And nobody had to turn a thermostat up, and the controller's time is a sliver of a step
    assert_eq!(m.occupant_overrides, 0);
    assert!(m.kpis.compute_ratio < 1e-3, "{}", m.kpis.compute_ratio);
    // And the README gives these figures
    let (k, pct) = (readme::thousands, |x: f64| format!("{:+.0} %", x).replace('-', "−"));
    readme::says(&format!(
        "heating {} → {} kWh, **−{:.1} %**; {:.2} K·h per zone and week outside comfort (emulator's truth; {:.2} K·h per zone over the month from the noisy sensors); {} occupant overrides; {} commands",
        k(m.baseline_kwh),
        k(m.controlled_kwh),
        m.saving_percent,
        m.discomfort_kh_per_zone_week,
        m.kpis.discomfort_kh_per_zone,
        m.occupant_overrides,
        k(m.commands as f64)
    ));
    readme::says(&format!("(−{:.1} % heating, no discomfort)", m.saving_percent));
    readme::says(&format!(
        "on the programme {} kWh predicted, {} metered ({}); on the schedule {} predicted, {} metered under control ({}): a saving of {} kWh predicted against {} measured, **{ratio:.1}× too much**",
        k(p.programme_kwh),
        k(p.metered_programme_kwh),
        pct(100.0 * (p.programme_kwh / p.metered_programme_kwh - 1.0)),
        k(p.schedule_kwh),
        k(p.metered_schedule_kwh),
        pct(100.0 * (p.schedule_kwh / p.metered_schedule_kwh - 1.0)),
        k(predicted),
        k(measured),
    ));
}

/// Asserts that `measured_percent`, the saving a closed-loop trial measured with every
/// recommendation accepted, lies within the 90 % interval the advisor gave for them together.
pub(crate) fn within_the_advisors_interval(name: &str, advice: &sobre_agent::advisor::Advice, measured_percent: f64) {
    let t = advice.together.as_ref().unwrap_or_else(|| panic!("{name}: no estimate of the changes together"));
    let s = &t.savings;
    let relative = s.period_kwh_uncertainty / s.period_kwh;
    let (low, high) = (s.percent * (1.0 - relative), s.percent * (1.0 + relative));
    let sum: f64 =
        advice.recommendations.iter().filter(|r| t.settings.contains(&r.setting)).map(|r| r.savings.percent).sum();
    println!(
        "{name}: advisor {:.1} % ({low:.1}–{high:.1} %; {:.0} ± {:.0} kWh; each alone summed {sum:.1} %), measured {measured_percent:.1} %",
        s.percent, s.period_kwh, s.period_kwh_uncertainty
    );
    readme::says(&format!(
        "the advisor expected {:.1} % ({low:.1}–{high:.1} %), the emulator measured {measured_percent:.1} %",
        s.percent
    ));
    assert!(
        (low..=high).contains(&measured_percent),
        "{name}: measured {measured_percent:.1} % outside the advisor's {low:.1}–{high:.1} % for {:?}",
        t.settings
    );
}

/// How far shadow mode's predicted saving may stand from the one the emulator measures, as a
/// multiple of it. Its day-ahead zone models miss the morning recovery after a setback, so they
/// overstate a schedule's saving about twofold (the README says by how much); anywhere from
/// three quarters of the truth (had they learned the recovery) to two and a half times it is
/// that known bias and no more: a saving wrong in sign, or off by a factor of three, fails.
const SHADOW_OVERSTATES: std::ops::RangeInclusive<f64> = 0.75..=2.5;

#[test]
fn a_two_hour_shed_halves_the_heat_pumps_power_and_the_staggered_recovery_keeps_the_rebound_low() {
    // Given the school under its own programme, the agent ready to answer the grid
    let crate::demo::Learned { school, settings, programme, advice } = learned();
    let schedule = schedule(settings, programme.clone(), Vec::new());
    // When a full shed is asked on a December Tuesday from 09:00 to 11:00, during lessons
    let at = |h| {
        let local = NaiveDate::from_ymd_opt(2019, 12, 3).expect("date").and_hms_opt(h, 0, 0).expect("time");
        school.timezone.from_local_datetime(&local).single().expect("local").timestamp_millis()
    };
    let first_day = NaiveDate::from_ymd_opt(2019, 12, 2).expect("date");
    let learned = trial::Learned { zone_models: &advice.zone_models, kw_per_demand: advice.kw_per_demand };
    let t = trial::shed(school, &settings.control, &schedule, learned, first_day, (at(9), at(11))).expect("runs");
    println!("{t:#?}");
    // Then the heat pump draws at most half the power it draws without the event
    assert!(t.shed_percent >= 50.0, "shed {:.0} % ({:.1} → {:.1} kW)", t.shed_percent, t.baseline_kw, t.event_kw);
    // And the rebound after it stays within 1.2 times the peak of the same hours without it
    assert!(
        t.rebound_peak_kw <= 1.2 * t.baseline_peak_kw,
        "rebound {:.1} kW against {:.1} kW",
        t.rebound_peak_kw,
        t.baseline_peak_kw
    );
    // And no zone spends more than its week's comfort budget
    assert!(t.worst_zone_kh <= t.budget_kh, "{:.2} K·h against a budget of {:.2}", t.worst_zone_kh, t.budget_kh);
    // And what the agent forecast twelve hours ahead, from its zone models, was within a
    // quarter of the shed the emulator measured, and within the budget
    let f = t.forecast.expect("a forecast");
    let measured = t.baseline_kw - t.event_kw;
    assert!((f.shed_kw / measured - 1.0).abs() <= 0.25, "forecast {:.1} kW, measured {measured:.1} kW", f.shed_kw);
    assert!(f.discomfort_kh <= t.budget_kh, "{f:?}");
    // And the agent's own settlement (the forecast adjusted on the day, less the meter) is
    // within a fifth of the shed the emulator measured against its run without the event
    let s = t.settlement.expect("a settlement");
    assert!(
        (s.achieved_shed_kw / measured - 1.0).abs() <= 0.2,
        "settled {:.1} kW, measured {measured:.1} kW",
        s.achieved_shed_kw
    );
    // And the README gives these figures
    let rebound = t.rebound_peak_kw / t.baseline_peak_kw;
    readme::says(&format!(
        "heat pump {:.1} → {:.1} kW, **−{:.0} %**; rebound peak {:.1} kW against {:.1} kW without the event (**{rebound:.2}×**); worst zone {:.2} K·h (budget {:.1} a week)",
        t.baseline_kw, t.event_kw, t.shed_percent, t.rebound_peak_kw, t.baseline_peak_kw, t.worst_zone_kh, t.budget_kh
    ));
    readme::says(&format!(
        "{:.1} → {:.1} kW, {:.1} kW of shed against {measured:.1} kW measured; settled from the meter alone: {:.1} kW",
        f.baseline_kw, f.planned_kw, f.shed_kw, s.achieved_shed_kw
    ));
    readme::says(&format!(
        "(−{:.0} % of the heat pump's power, rebound {rebound:.2}× the same hours without it)",
        t.shed_percent
    ));
}

/// The emulator's ground truth after asking building `id` for `n` steps: its clock message
/// once it reports step `until`.
fn step(mqtt: &Mqtt, id: &str, n: u64, until: u64) -> Value {
    mqtt.publish(&format!("sim/{id}/step"), n.to_string());
    mqtt.expect(&format!("sim/{id}/clock"), |c| c["step"] == until)
}

/// The next control record on the agent's decisions topic that satisfies `matches`, checked
/// against its schema.
pub(crate) fn record(mqtt: &Mqtt, prefix: &str, matches: impl Fn(&Value) -> bool) -> Value {
    let r = mqtt.expect(&format!("{prefix}/decisions"), |r| r["schema"] == "sobre.control/1" && matches(r));
    schema::check(&schema::load("control"), &r).unwrap_or_else(|e| panic!("{e}\n{r}"));
    r
}

/// The next answer on the agent's flex status topic that satisfies `matches`, checked against
/// its schema.
pub(crate) fn answer(mqtt: &Mqtt, prefix: &str, matches: impl Fn(&Value) -> bool) -> Value {
    let a = mqtt.expect(&format!("{prefix}/flex/status"), |a| a["schema"] == "sobre.flex-status/1" && matches(a));
    schema::check(&schema::load("flex-status"), &a).unwrap_or_else(|e| panic!("{e}\n{a}"));
    a
}

/// How long an advisor run on the demo's eight weeks may take in a debug build on a 2-core
/// machine that the other tests and another build load (about 30 s on its own).
const FIT: std::time::Duration = std::time::Duration::from_secs(300);

/// Waits until the agent's control has decided on the step the emulator's clock shows.
fn caught_up(agent: &InProcess, clock: &Value) {
    let ts = chrono::DateTime::parse_from_rfc3339(clock["ts"].as_str().expect("ts")).expect("RFC 3339");
    let at = ts.timestamp_millis() as u64;
    // Control decides beside the advisor's first fit of eight weeks, which a debug build on a
    // loaded machine takes minutes over: the same deadline as that fit.
    wait_until_within(FIT, &format!("control to decide on the step of {ts}"), || {
        agent.stats.control_through_ms.load(std::sync::atomic::Ordering::Relaxed) >= at
    });
}

fn zone<'a>(clock: &'a Value, name: &str) -> &'a Value {
    clock["zones"].as_array().and_then(|z| z.iter().find(|z| z["zone"] == name)).expect("the zone in the truth")
}

#[test]
fn an_occupant_override_mid_event_wins_within_a_step_is_recorded_and_survives_a_restart() {
    // Given the agent on the demo's store (it read the school's programme there), allowed to
    // pilot, and the school going on from Monday 11 March, stepped by the test
    let broker = Mosquitto::start();
    let demo_store = &demo().store;
    let dir = tempfile::tempdir().expect("tempdir");
    let path = copy_store(demo_store, &dir);
    let school =
        sim::SCHOOL.replace("start = \"2019-01-07\"", "start = \"2019-03-11\"").replace("days = 56", "days = 3");
    let _sim = crate::sim::Sim::start(broker.port, &school, "stepped");
    let emulator = Emulator::new(SimSettings::parse(&school, "school").expect("school")).expect("emulator");
    let mut settings = sim::demo_settings(&emulator, broker.port, broker.port, &path).expect("settings");
    settings.control.mode = Mode::Auto;
    // Savings reports would take the reporter minutes in a debug build; flex reports need none.
    settings.savings = None;
    let prefix = settings.agent.topic_prefix.clone();
    let mqtt = Mqtt::connect(
        broker.port,
        &[
            "sim/ecole-demo/clock",
            &format!("{prefix}/decisions"),
            &format!("{prefix}/recommendations"),
            &format!("{prefix}/flex/status"),
            "city/ecole-demo/reports/flex",
        ],
    );
    let agent = InProcess::start(settings.clone(), dir);
    // (its schedule comes with the advisor's first run)
    mqtt.expect_within(FIT, &format!("{prefix}/recommendations"), |_| true);
    // When the grid asks at 01:00 for a shed from 09:00 to 11:00
    let clock = step(&mqtt, "ecole-demo", 4, 4);
    caught_up(&agent, &clock);
    mqtt.publish(
        &format!("{prefix}/flex/event"),
        r#"{"id":"peak-0311","kind":"shed","start":"2019-03-11T08:00:00Z","end":"2019-03-11T10:00:00Z","level":1.0}"#,
    );
    // Then it takes it and says, from its zone models, what it expects to shed and what it
    // will cost, in the ledger and in its answer to the requester
    record(&mqtt, &prefix, |r| r["kind"] == "flex_accepted");
    let forecast = record(&mqtt, &prefix, |r| r["kind"] == "flex_forecast");
    assert!(forecast["detail"]["shed_kw"].as_f64().is_some_and(|kw| kw > 0.0), "{forecast}");
    let accepted = answer(&mqtt, &prefix, |a| a["id"] == "peak-0311");
    assert_eq!(accepted["status"], "accepted", "{accepted}");
    let expected = (accepted["forecast"]["shed_kw"].as_f64(), forecast["detail"]["shed_kw"].as_f64());
    assert!(matches!(expected, (Some(a), Some(f)) if (a - f).abs() < 1e-3), "{accepted}\n{forecast}");
    // When the school runs to 09:30
    let clock = step(&mqtt, "ecole-demo", 34, 38);
    caught_up(&agent, &clock);
    let shed =
        record(&mqtt, &prefix, |r| r["kind"] == "command" && r["zone"] == "class-1" && r["detail"]["phase"] == "shed");
    let shed_c = shed["detail"]["setpoint_c"].as_f64().expect("a setpoint");
    let clock = step(&mqtt, "ecole-demo", 1, 39);
    assert_eq!(zone(&clock, "class-1")["setpoint_c"].as_f64(), Some(shed_c), "{clock}");
    // And a teacher in class-1 asks for 23 °C on the override topic
    mqtt.publish(&format!("{prefix}/override/class-1"), r#"{"setpoint_c": 23.0, "by": "teacher"}"#);
    // Then the override is in the ledger, the command follows at once…
    let over = record(&mqtt, &prefix, |r| r["kind"] == "override" && r["zone"] == "class-1");
    assert_eq!(over["detail"]["source"], "topic", "{over}");
    record(&mqtt, &prefix, |r| r["kind"] == "command" && r["zone"] == "class-1" && r["detail"]["setpoint_c"] == 23.0);
    // …and the thermostat holds 23 °C at the next step, while the other classrooms stay shed
    let clock = step(&mqtt, "ecole-demo", 1, 40);
    assert_eq!(zone(&clock, "class-1")["setpoint_c"].as_f64(), Some(23.0), "{clock}");
    assert!(zone(&clock, "class-2")["setpoint_c"].as_f64().expect("setpoint") < 21.0, "{clock}");
    // When the agent restarts (its going away hands every thermostat back to its programme)
    let dir = agent.stop();
    let clock = step(&mqtt, "ecole-demo", 1, 41);
    assert_eq!(zone(&clock, "class-1")["commanded"], false, "{clock}");
    let agent = InProcess::start(settings, dir);
    // Then the override still stands: class-1 is sent 23 °C again, with the person as reason
    // (at the first step it closes: maybe the step the school ran while it was away, which the
    // broker kept for it); and once the advisor's first run has brought back the schedule the
    // event shapes, the other classrooms are shed again (these come in any order)
    let (mut again, mut shed_again) = (Value::Null, false);
    while again.is_null() || !shed_again {
        let (_, payload) = mqtt.messages.recv_timeout(FIT).expect("the override's command and the shed");
        let r: Value = serde_json::from_slice(&payload).unwrap_or_default();
        if r["schema"] != "sobre.control/1" || r["kind"] != "command" {
            continue;
        }
        if r["zone"] == "class-1" {
            again = r;
        } else if r["zone"] == "class-2" && r["detail"]["phase"] == "shed" {
            shed_again = true;
        }
    }
    assert_eq!(
        (again["detail"]["setpoint_c"].as_f64(), again["reason"].as_str()),
        (Some(23.0), Some("a person's override"))
    );
    let clock = step(&mqtt, "ecole-demo", 1, 42);
    assert_eq!(zone(&clock, "class-1")["setpoint_c"].as_f64(), Some(23.0), "{clock}");
    // And the thermostats hold it: the other classrooms are shed
    assert!(zone(&clock, "class-2")["setpoint_c"].as_f64().expect("setpoint") < 21.0, "{clock}");
    // When the event and the three hours after it are over (a step at a time, so that each
    // command reaches the thermostats before the next step, as it would in a real building)
    for n in 43..=56 {
        let clock = step(&mqtt, "ecole-demo", 1, n);
        caught_up(&agent, &clock);
    }
    // Then the agent settles it, in the ledger and to the city, with the override counted
    // (the ledger record and the report travel on two connections: either may come first)
    // and tells the requester it ended, with what it achieved
    let (mut settled, mut report, mut ended) = (Value::Null, Value::Null, Value::Null);
    while settled.is_null() || report.is_null() || ended.is_null() {
        let (topic, payload) = mqtt.messages.recv_timeout(FIT).expect("the settlement, the report and the answer");
        let json: Value = serde_json::from_slice(&payload).unwrap_or_default();
        if topic == format!("{prefix}/decisions") && json["kind"] == "flex_settled" {
            settled = json;
        } else if topic == "city/ecole-demo/reports/flex" && json["event_id"] == "peak-0311" {
            report = json;
        } else if topic == format!("{prefix}/flex/status") && json["status"] == "ended" {
            ended = json;
        }
    }
    schema::check(&schema::load("control"), &settled).unwrap_or_else(|e| panic!("{e}\n{settled}"));
    schema::check(&schema::load("flex"), &report).unwrap_or_else(|e| panic!("{e}\n{report}"));
    schema::check(&schema::load("flex-status"), &ended).unwrap_or_else(|e| panic!("{e}\n{ended}"));
    assert_eq!(report["overrides"], 1, "{report}");
    let achieved = &ended["achieved"];
    assert_eq!(
        (&achieved["overrides"], &achieved["shed_kw"]),
        (&report["overrides"], &report["achieved_shed_kw"]),
        "{ended}"
    );
    // When two midnights pass (six hours at a time, each caught up with: control reads the
    // readings through a queue of 1024, which about ten hours of the school's readings in one
    // burst can overflow when control falls behind, and a step whose last readings were
    // dropped waits for the next step's to close it: here, for ever)
    let mut at = 56;
    while at < 192 {
        let n = 24.min(192 - at);
        let clock = step(&mqtt, "ecole-demo", n, at + n);
        caught_up(&agent, &clock);
        at += n;
    }
    assert_eq!(agent.stats.tap_dropped.load(std::sync::atomic::Ordering::Relaxed), 0, "control read every reading");
    // Then the ledger compares what the controller said at the first that the day would use
    // with what the meter showed
    let day = record(&mqtt, &prefix, |r| r["kind"] == "day_compared");
    let d = &day["detail"];
    assert!(
        d["programme_kwh"].as_f64().is_some_and(|v| v > 0.0) && d["metered_kwh"].as_f64().is_some_and(|v| v > 0.0),
        "{day}"
    );
    assert!(report["achieved_shed_kw"].as_f64().is_some_and(|kw| kw > 0.0), "{report}\n{settled}");
}

/// A one-classroom building whose thermostat the agent of `sobre/test-site` may command.
const ONE_CLASSROOM: &str = r#"
[building]
id = "killed"
timezone = "Europe/Paris"
start = "2019-01-07"
days = 2

[devices]
zones = "generic"
meters = "generic"
agent_status = "sobre/test-site/status"

[occupants]
enabled = false

[[zones]]
name = "class"
use = "classroom"
area_m2 = 60
"#;

#[test]
fn flex_requests_and_day_ahead_prices_are_answered_and_refused_without_a_forecast_each_with_a_ledger_record_saying_why()
{
    // Given the agent reading the classroom, at 01:00 on Monday 7 January 2019, with nothing
    // learned yet to forecast a shed with
    let broker = Mosquitto::start();
    let _sim = crate::sim::Sim::start(broker.port, ONE_CLASSROOM, "stepped");
    let mqtt = Mqtt::connect(
        broker.port,
        &["sim/killed/clock", "sobre/test-site/decisions", "sobre/test-site/status", "sobre/test-site/flex/status"],
    );
    let agent = Agent::start(
        broker.port,
        &crate::sim::Sim::points(ONE_CLASSROOM),
        "[agent]\nclock = \"event\"\n\n[control]\nmode = \"auto\"\n",
    );
    mqtt.expect("sobre/test-site/status", |s| s["state"] == "online");
    step(&mqtt, "killed", 4, 4);
    wait_until("the agent read the classroom", || agent.db().readings("class_temp") >= 4);
    let no_forecast = "; refused, nothing will be commanded for it";
    // (topic, payload, the ledger's record and what its reason says, the answer's id if any)
    type Row<'a> = (&'a str, &'a str, &'a str, &'a str, Option<Option<&'a str>>);
    let table: [Row; 8] = [
        (
            "flex/event",
            r#"{"id":"e1","kind":"shed","start":"2019-01-07T17:00:00Z","end":"2019-01-07T19:00:00Z","level":0.5}"#,
            "flex_refused",
            no_forecast,
            Some(Some("e1")),
        ),
        ("flex/event", r#"{"id":"e1","cancel":true}"#, "flex_refused", "no event e1 to cancel", Some(Some("e1"))),
        (
            "flex/event",
            r#"{"id":"e3","kind":"shed","start":"2019-01-06T17:00:00Z","end":"2019-01-06T19:00:00Z","level":1}"#,
            "flex_refused",
            "already over",
            Some(Some("e3")),
        ),
        ("flex/event", "{\"id\": \"e4\", \"kind\": ", "flex_refused", "not a flex request", Some(None)),
        ("flex/price", &price_day(), "flex_refused", no_forecast, Some(Some("price-2019-01-08-1"))),
        ("flex/price", r#"{"id":"d2","prices":[]}"#, "flex_refused", "0 prices", Some(Some("d2"))),
        ("override/attic", r#"{"setpoint_c": 21}"#, "override_refused", "no controlled zone \"attic\"", None),
        ("override/class", r#"{"setpoint_c": 45}"#, "override_refused", "outside 5–30 °C", None),
    ];
    for (topic, payload, kind, why, answered) in table {
        // When a request arrives
        mqtt.publish(&format!("sobre/test-site/{topic}"), payload);
        // Then the ledger says what became of it, and why
        let r = record(&mqtt, "sobre/test-site", |r| r["kind"] == kind);
        assert!(r["reason"].as_str().is_some_and(|t| t.contains(why)), "{topic} {payload}: {r}");
        // And a flex request is answered where the requester reads, with the same reason
        if let Some(id) = answered {
            let a = answer(&mqtt, "sobre/test-site", |_| true);
            assert_eq!((a["status"].as_str(), a["id"].as_str()), (Some("refused"), id), "{a}");
            assert_eq!((&a["reason"], &a["forecast"]), (&r["reason"], &Value::Null), "{a}");
        }
    }
}

#[test]
fn a_flex_event_on_the_office_it_cannot_forecast_is_refused_out_loud_not_taken_in_silence() {
    // Given the agent in auto mode on the office, whose BMS gives no heating demand per zone
    // (so no zone models), at 01:00 on Monday 25 October 2021, reporting to a city (here the
    // same broker, under `city/`)
    let office = sim::OFFICE.replace("days = 70", "days = 2");
    let broker = Mosquitto::start();
    let _sim = crate::sim::Sim::start(broker.port, &office, "stepped");
    let mqtt = Mqtt::connect(
        broker.port,
        &[
            "sim/mairie-demo/clock",
            "sobre/test-site/decisions",
            "sobre/test-site/status",
            "sobre/test-site/flex/status",
        ],
    );
    // (the city's reports come on another connection: in their own order)
    let city = Mqtt::connect(broker.port, &["city/test-site/reports/flex"]);
    let agent = Agent::start(
        broker.port,
        &crate::sim::Sim::points(&office),
        &format!(
            "[agent]\nclock = \"event\"\n\n[control]\nmode = \"auto\"\n\n[uplink]\nprefix = \"city\"\n\n\
             [uplink.broker]\nport = {}\nreconnect_min = \"50ms\"\nreconnect_max = \"300ms\"\n",
            broker.port
        ),
    );
    mqtt.expect("sobre/test-site/status", |s| s["state"] == "online");
    step(&mqtt, "mairie-demo", 4, 4);
    wait_until("the agent read the office", || agent.db().readings("open-plan_temp") >= 4);
    // When the grid asks for a two-hour shed in the afternoon
    mqtt.publish(
        "sobre/test-site/flex/event",
        r#"{"id":"office-peak","kind":"shed","start":"2021-10-25T14:00:00Z","end":"2021-10-25T16:00:00Z","level":1.0}"#,
    );
    // Then it is refused in the ledger, and the requester is told so on the status topic,
    // with why, and no forecast
    let refused = record(&mqtt, "sobre/test-site", |r| r["kind"] == "flex_refused");
    let a = answer(&mqtt, "sobre/test-site", |a| a["id"] == "office-peak");
    assert_eq!(
        (a["status"].as_str(), &a["forecast"], &a["reason"]),
        (Some("refused"), &Value::Null, &refused["reason"]),
        "{a}"
    );
    assert!(a["reason"].as_str().is_some_and(|r| r.contains("nothing will be commanded for it")), "{a}");
    // And the city is told too, in its flex report: refused, with the same reason and no figures
    let report = city.expect("city/test-site/reports/flex", |r| r["event_id"] == "office-peak");
    schema::check(&schema::load("flex"), &report).unwrap_or_else(|e| panic!("{e}\n{report}"));
    assert_eq!(
        (report["status"].as_str(), &report["reason"], &report["achieved_shed_kw"]),
        (Some("refused"), &refused["reason"], &Value::Null),
        "{report}"
    );
    assert_eq!(report["period"]["start"], "2021-10-25T14:00:00Z", "{report}");
    // And cancelling it is refused too: it never stood in the book
    mqtt.publish("sobre/test-site/flex/event", r#"{"id":"office-peak","cancel":true}"#);
    let a = answer(&mqtt, "sobre/test-site", |a| a["id"] == "office-peak");
    assert_eq!(a["status"], "refused", "{a}");
    assert!(a["reason"].as_str().is_some_and(|r| r.contains("no event office-peak to cancel")), "{a}");
}

/// Tuesday's day-ahead prices: flat but for an evening spike.
fn price_day() -> String {
    let slots: Vec<String> = (0..24)
        .map(|h| format!(r#"{{"start":"2019-01-08T{h:02}:00:00Z","price":{}}}"#, if h == 18 { 0.4 } else { 0.1 }))
        .collect();
    format!(r#"{{"id":"2019-01-08","unit":"EUR/kWh","prices":[{}]}}"#, slots.join(","))
}

#[test]
fn a_killed_agent_leaves_the_thermostats_on_their_own_programme() {
    // Given a one-classroom building whose thermostat the agent may command
    let broker = Mosquitto::start();
    let building = ONE_CLASSROOM;
    let _sim = crate::sim::Sim::start(broker.port, building, "stepped");
    let mqtt = Mqtt::connect(broker.port, &["sim/killed/clock", "sobre/test-site/decisions", "sobre/test-site/status"]);
    let mut agent = Agent::start(
        broker.port,
        &crate::sim::Sim::points(building),
        "[agent]\nclock = \"event\"\n\n[control]\nmode = \"auto\"\n",
    );
    mqtt.expect("sobre/test-site/status", |s| s["state"] == "online");
    step(&mqtt, "killed", 4, 4);
    // When someone holds it at 23 °C through the agent, Then the thermostat takes it
    mqtt.publish("sobre/test-site/override/class", r#"{"setpoint_c": 23.0}"#);
    record(&mqtt, "sobre/test-site", |r| r["kind"] == "command" && r["detail"]["setpoint_c"] == 23.0);
    let clock = step(&mqtt, "killed", 1, 5);
    assert_eq!(
        (zone(&clock, "class")["setpoint_c"].as_f64(), &zone(&clock, "class")["commanded"]),
        (Some(23.0), &Value::Bool(true))
    );
    // When the agent is killed without warning
    agent.kill();
    // Then its last will says so, and at the next step the thermostat is back on its own
    // programme (19 °C at night for the poorly tuned school)
    mqtt.expect("sobre/test-site/status", |s| s["state"] == "offline");
    let clock = step(&mqtt, "killed", 1, 6);
    let class = zone(&clock, "class");
    assert_eq!((class["setpoint_c"].as_f64(), &class["commanded"]), (Some(19.0), &Value::Bool(false)), "{clock}");
}
