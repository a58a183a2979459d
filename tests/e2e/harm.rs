//! Control that does no harm on a building it does not know (issue 19): the emulated office,
//! whose BMS holds a written setpoint until it is released and starts early after cold nights
//! and weekends, learned through mosquitto by a running agent, then piloted in `auto` in closed
//! loop with the emulator for four weeks it did not learn from.

use crate::advisor::played_and_advised;
use chrono::NaiveDate;
use sobre_agent::advisor::Setting;
use sobre_agent::sim::{self, trial, Emulator};

#[test]
fn on_the_office_the_agent_in_auto_runs_its_programme_exactly_without_a_model_and_never_reads_its_early_starts_as_a_person(
) {
    // Given what the agent learned from the office's ten weeks (its BMS's programme: plant off
    // at night and at weekends, optimum start)
    let (office, advice) = played_and_advised(sim::OFFICE, "good office");
    let programme = advice.programme.clone().expect("a programme");
    let emulator = Emulator::new(office.clone()).expect("emulator");
    let dir = tempfile::tempdir().expect("tempdir");
    let settings = sim::demo_settings(&emulator, 1883, 1883, &dir.path().join("sobre.db")).expect("settings");
    // and every zone's contract: the BMS holds a write until it is released
    assert!(settings.control.zones.iter().all(|z| z.holds && z.release.explicit()), "{:?}", settings.control.zones);
    let first_day = NaiveDate::from_ymd_opt(2021, 11, 22).expect("date");
    let schedule = |accepted: Vec<Setting>| {
        settings.control.schedule(programme.clone(), accepted, settings.site.timezone, settings.comfort.min_c, 0)
    };

    // When the agent runs in auto for four weeks with its models failing their gate
    let alone = trial::auto(&office, &settings.control, &schedule(Vec::new()), false, first_day, 28).expect("runs");
    println!("gate failing: {alone:#?}");
    // Then it sends nothing, and the building runs its own programme exactly: the same gas and
    // the same discomfort as left alone
    assert_eq!((alone.commands, alone.releases, alone.held_at_end), (0, 0, 0), "{alone:?}");
    assert_eq!(alone.controlled_kwh, alone.baseline_kwh);
    assert_eq!(alone.controlled_worst_zone_kh, alone.baseline_worst_zone_kh);
    // And the BMS's early starts (the day level hours before the programme's usual start) are
    // never taken for a person
    assert!(alone.unexplained.is_empty(), "{:#?}", alone.unexplained);

    // When its models pass and it holds the offices half a kelvin lower by day
    let lower = Setting::OccupiedSetpoint { from_c: programme.occupied_c, to_c: programme.occupied_c - 0.5 };
    let acting = trial::auto(&office, &settings.control, &schedule(vec![lower]), true, first_day, 28).expect("runs");
    println!("acting: {acting:#?}");
    // Then it commands the BMS and hands each zone back by releasing it, and nothing it wrote
    // is still held once it stops
    assert!(acting.commands > 0 && acting.releases > 0, "{acting:?}");
    assert_eq!(acting.held_at_end, 0, "{acting:?}");
    // And over the four weeks, Monday's early starts included, no readback is unexplained
    assert!(acting.unexplained.is_empty(), "{:#?}", acting.unexplained);
    // And the README gives these figures
    let k = crate::support::readme::thousands;
    crate::support::readme::says(&format!(
        "saves gas ({} → {} kWh), releases every write",
        k(acting.baseline_kwh),
        k(acting.controlled_kwh)
    ));
    // When the grid asks a two-hour shed on every working day of a week, mornings (09:00) and
    // afternoons (14:00), each in a run of its own, with the zone models the advisor fitted on
    // the building's gas shared by the zones
    let at = |day: u32, h: u32| {
        let local = NaiveDate::from_ymd_opt(2021, 11, day).expect("date").and_hms_opt(h, 0, 0).expect("time");
        chrono::TimeZone::from_local_datetime(&settings.site.timezone, &local)
            .single()
            .expect("local")
            .timestamp_millis()
    };
    let learned = trial::Learned { zone_models: &advice.zone_models, kw_per_demand: advice.kw_per_demand };
    let mut sheds = Vec::new();
    for day in 22..=26 {
        for hour in [9, 14] {
            let day_before = NaiveDate::from_ymd_opt(2021, 11, day - 1).expect("date");
            let window = (at(day, hour), at(day, hour + 2));
            let shed = trial::shed(&office, &settings.control, &schedule(Vec::new()), learned, day_before, window)
                .expect("runs");
            println!(
                "office shed 2021-11-{day} {hour}:00: {:.0} % ({:.1} → {:.1} kW), rebound {:.2}×, {:.2} K·h, {:+.1} kWh over three days",
                shed.shed_percent,
                shed.baseline_kw,
                shed.event_kw,
                shed.rebound_peak_kw / shed.baseline_peak_kw,
                shed.worst_zone_kh,
                shed.added_kwh
            );
            sheds.push(((day, hour), shed));
        }
    }
    // Then each is taken with a forecast from those models, sheds at least half the boiler's
    // power, and costs no more than half a kelvin-hour in any zone nor rebounds above 1.2
    // times the same hours without it: the zones pre-heat towards the day's level (where the
    // 20 °C floor would leave 1 K of the 4 asked and the forecast says under half the power,
    // from six hours before and a kelvin warmer, so the walls hold what the floor would
    // cost: Monday after the weekend and the coldest morning included), and climb back in
    // turns over two hours, so the one boiler does not see them all call for heat at once
    for ((day, hour), shed) in &sheds {
        let forecast = shed.forecast.as_ref().expect("a forecast from the shared-power zone models");
        assert!(forecast.shed_kw > 0.0, "{day} {hour}:00: {forecast:?}");
        assert!(shed.shed_percent >= 50.0, "{day} {hour}:00: {shed:?}");
        assert!(shed.worst_zone_kh <= 0.5, "{day} {hour}:00: {shed:?}");
        assert!(shed.rebound_peak_kw <= 1.2 * shed.baseline_peak_kw, "{day} {hour}:00: {shed:?}");
    }
    let tuesday = &sheds.iter().find(|(when, _)| *when == (23, 9)).expect("Tuesday morning").1;
    let forecast = tuesday.forecast.as_ref().expect("forecast");
    let mut percents: Vec<f64> = sheds.iter().map(|(_, s)| s.shed_percent).collect();
    percents.sort_by(f64::total_cmp);
    let median = (percents[4] + percents[5]) / 2.0;
    crate::support::readme::says(&format!(
        "sheds {:.0} % of the gas boiler's power ({:.1} → {:.1} kW; forecast {:.1} kW of shed), {:.2} K·h in the worst zone, rebound {:.2}× the peak without the event",
        tuesday.shed_percent,
        tuesday.baseline_kw,
        tuesday.event_kw,
        forecast.shed_kw,
        tuesday.worst_zone_kh,
        tuesday.rebound_peak_kw / tuesday.baseline_peak_kw
    ));
    let most = |f: fn(&trial::ShedTrial) -> f64| sheds.iter().map(|(_, s)| f(s)).fold(0.0, f64::max);
    crate::support::readme::says(&format!(
        "the ten two-hour events of that week, mornings and afternoons, shed {:.0}–{:.0} % (median {median:.0} %), rebound at most {:.2}×, at most {:.2} K·h in the worst zone, at most {:.0} kWh more gas over each event's three days",
        percents[0],
        percents[9],
        most(|s| s.rebound_peak_kw / s.baseline_peak_kw),
        most(|s| s.worst_zone_kh),
        most(|s| s.added_kwh),
    ));
    // And it saves gas at no more than 0.5 K·h a zone and week above the building alone
    assert!(acting.controlled_kwh < acting.baseline_kwh, "{acting:?}");
    assert!(
        acting.controlled_worst_zone_kh - acting.baseline_worst_zone_kh <= 4.0 * 0.5,
        "{:.2} K·h against {:.2} K·h alone",
        acting.controlled_worst_zone_kh,
        acting.baseline_worst_zone_kh
    );
}

#[test]
fn on_the_school_the_agent_in_auto_with_its_models_failing_their_gate_runs_the_programme_exactly() {
    // Given what the agent learned on the demo's school, every recommendation accepted
    let crate::demo::Learned { school, settings, programme, advice } = crate::demo::learned();
    let accepted: Vec<Setting> = advice.recommendations.iter().map(|r| r.setting.clone()).collect();
    let schedule =
        settings.control.schedule(programme.clone(), accepted, settings.site.timezone, settings.comfort.min_c, 0);
    // When it runs in auto through two December weeks with its models failing their gate
    let first_day = NaiveDate::from_ymd_opt(2019, 12, 2).expect("date");
    let t = trial::auto(school, &settings.control, &schedule, false, first_day, 14).expect("runs");
    // Then it sends nothing: the school uses exactly its programme's energy, in the same comfort,
    // and reads nothing its thermostats do as a person
    assert_eq!((t.commands, t.releases, t.watchdog_trips), (0, 0, 0), "{t:?}");
    assert_eq!((t.controlled_kwh, t.controlled_worst_zone_kh), (t.baseline_kwh, t.baseline_worst_zone_kh));
    assert!(t.unexplained.is_empty(), "{:#?}", t.unexplained);
}

/// One office zone behind a BMS that holds a write until it is released, and that does not
/// listen to this agent's last will: only the agent's own release hands it back.
const ONE_HELD_ZONE: &str = r#"
[building]
id = "held"
timezone = "Europe/Paris"
start = "2019-01-07"
days = 2

[plant]
kind = "boiler"
rated_kw = 10.0

[control]
system = "bms"

[devices]
zones = "bms"
meters = "bms"
agent_status = "sobre/another-agent/status"

[occupants]
enabled = false

[[zones]]
name = "office"
use = "office"
area_m2 = 60
"#;

#[test]
fn an_agent_that_stops_releases_what_it_wrote_to_a_bms_before_it_goes() {
    // Given an agent in auto on a BMS zone that holds writes until released
    let broker = crate::support::Mosquitto::start();
    let _sim = crate::sim::Sim::start(broker.port, ONE_HELD_ZONE, "stepped");
    let points = crate::sim::Sim::points(ONE_HELD_ZONE);
    assert!(points.contains("release_topic = \"bms/held/office/setpoint/release\"\nholds = true"), "{points}");
    let mqtt = crate::support::Mqtt::connect(
        broker.port,
        &["sim/held/clock", "sobre/test-site/decisions", "sobre/test-site/status"],
    );
    let mut agent = crate::support::Agent::start(
        broker.port,
        &points,
        "[agent]\nclock = \"event\"\n\n[control]\nmode = \"auto\"\n",
    );
    mqtt.expect("sobre/test-site/status", |s| s["state"] == "online");
    let step = |n: u64, until: u64| {
        mqtt.publish("sim/held/step", n.to_string());
        mqtt.expect("sim/held/clock", |c| c["step"] == until)
    };
    let office = |clock: &serde_json::Value| {
        let z = clock["zones"].as_array().and_then(|z| z.iter().find(|z| z["zone"] == "office")).cloned();
        z.expect("the zone in the truth")
    };
    step(4, 4);
    // When a person holds it at 23 °C through the agent, Then the BMS takes and holds it
    mqtt.publish("sobre/test-site/override/office", r#"{"setpoint_c": 23.0}"#);
    crate::control::record(&mqtt, "sobre/test-site", |r| r["kind"] == "command" && r["detail"]["setpoint_c"] == 23.0);
    let held = office(&step(1, 5));
    assert_eq!((held["setpoint_c"].as_f64(), &held["commanded"]), (Some(23.0), &serde_json::Value::Bool(true)));
    // When the agent is stopped as systemd stops it
    assert!(agent.terminate().success());
    // Then it released the zone (on the BMS's release topic) and recorded why, before it went
    let r = crate::control::record(&mqtt, "sobre/test-site", |r| r["kind"] == "release");
    assert!(r["reason"].as_str().is_some_and(|t| t.contains("the agent is stopping")), "{r}");
    // And at the next step the BMS is back on its own programme, though it never heard the
    // agent's last will
    let back = office(&step(1, 6));
    assert_eq!(back["commanded"], serde_json::Value::Bool(false), "{back}");
}
