use super::*;
use crate::advisor::Setting;
use crate::control::schedule::tests::{hm, poor_school};
use chrono::NaiveDate;

const STEP: i64 = 900_000;

/// Monday 21 January 2019 at a local time.
fn monday(h: u32, m: u32) -> i64 {
    let local = NaiveDate::from_ymd_opt(2019, 1, 21).expect("date").and_time(hm(h, m));
    chrono_tz::Europe::Paris.from_local_datetime(&local).single().expect("local").timestamp_millis()
}

/// One zone of the poorly tuned school (21 °C 04:30–20:00, 19 °C at night), with the night
/// setback to 16 °C accepted; bounds 12–24 °C, 4 K a step, a step between changes.
fn controller(mode: Mode) -> Controller {
    let programme = poor_school();
    let tz = chrono_tz::Europe::Paris;
    let night = vec![Setting::NightSetpoint { from_c: 19.0, to_c: 16.0 }];
    let settings = ControlSettings {
        step_ms: STEP,
        timezone: tz,
        comfort_min_c: 19.0,
        budget_kh_per_week: 1.0,
        command_ttl_ms: 6 * 3_600_000,
        flex: FlexSettings::default(),
    };
    let bounds = Bounds::new(12.0, 24.0, 4.0, STEP).expect("bounds");
    let mut c = Controller::new(settings, [("class-1".to_string(), bounds)], mode);
    c.set_schedule(Some(Schedule::new(programme, night, tz, 19.5, None)), true);
    c
}

/// A reading fresh for every step of the tests (they judge readbacks only on fresh ones).
fn reading(temperature_c: f64, setpoint_c: f64, occupied: bool) -> ZoneReading {
    ZoneReading {
        temperature_c: Some(temperature_c),
        setpoint_c: Some(setpoint_c),
        setpoint_at_ms: Some(i64::MAX),
        occupied,
    }
}

fn sent(r: &StepResult) -> Vec<f64> {
    r.commands.iter().filter(|c| !c.shadow).map(|c| c.setpoint_c).collect()
}

#[test]
fn the_schedule_is_commanded_once_kept_while_the_thermostat_holds_it_and_sent_again_when_it_lapses() {
    // Given the zone at night, its thermostat at the programme's 19 °C
    let mut c = controller(Mode::Auto);
    c.observe(0, reading(19.0, 19.0, false));
    // When the controller steps at 21:00, Then it commands the accepted 16 °C, a step within
    // the 4 K bound (19 → 16)
    assert_eq!(sent(&c.step(monday(21, 0))), [16.0]);
    // When the thermostat reads it back, Then nothing more is sent
    c.observe(0, reading(18.5, 16.0, false));
    assert_eq!(sent(&c.step(monday(21, 15))), Vec::<f64>::new());
    // When the thermostat's own period turns and it drops the command (back to 19 °C)
    c.observe(0, reading(17.0, 19.0, false));
    let r = c.step(monday(23, 0));
    // Then the controller notes the lapse and sends 16 °C again
    assert!(matches!(r.notices.as_slice(), [Notice::CommandLapsed { read_back_c, .. }] if *read_back_c == 19.0));
    assert_eq!(sent(&r), [16.0]);
    // And once the programme's day level is the schedule's too, it hands the zone back
    c.observe(0, reading(16.0, 16.0, false));
    let r = c.step(monday(6, 0) + 86_400_000);
    assert!(r.commands.iter().all(|c| c.release && c.setpoint_c == 21.0), "{r:?}");
}

#[test]
fn a_setpoint_the_agent_did_not_send_and_cannot_explain_stands_it_down_without_sending_a_value() {
    // (device, what the agent sends when it stands down)
    let table =
        [("a TRV that drops commands", false, vec![]), ("a BMS point that holds them", true, vec![(19.0, true)])];
    for (device, explicit_release, then) in table {
        // Given the night setback in force
        let mut c = controller(Mode::Auto);
        c.set_explicit_release(0, explicit_release);
        c.observe(0, reading(19.0, 19.0, false));
        c.step(monday(21, 0));
        // When the device reads back 22 °C: neither the command, nor the programme's levels
        c.observe(0, reading(17.0, 22.0, false));
        let r = c.step(monday(21, 30));
        // Then it is unexplained: the agent stays off the zone until the schedule's next change
        // (04:30), and sends no value because of it; a device that holds is released
        let [Notice::Unexplained { read_back_c, until_ms, .. }] = r.notices.as_slice() else {
            panic!("{device}: {r:?}")
        };
        assert_eq!((*read_back_c, *until_ms), (22.0, monday(4, 30) + 86_400_000), "{device}");
        let got: Vec<(f64, bool)> = r.commands.iter().map(|c| (c.setpoint_c, c.release)).collect();
        assert_eq!(got, then, "{device}");
        // And nothing more is sent while it stays off, nor is the comfort budget spent
        c.observe(0, reading(17.0, 22.0, false));
        assert!(c.step(monday(22, 0)).commands.is_empty(), "{device}");
        assert_eq!(c.spent_kh(), [("class-1".to_string(), 0.0)], "{device}");
        assert_eq!(c.states(monday(22, 0))[0].stood_down, Some(StandDown::Unexplained), "{device}");
    }
}

#[test]
fn the_programmes_own_levels_and_the_agents_own_commands_are_never_unexplained() {
    // (what the device reads back at 03:00, while the agent holds the 16 °C setback)
    let table = [
        ("an early start: the programme's day level before its usual start", 21.0),
        ("the programme's night level", 19.0),
        ("the agent's own command, still held", 16.0),
        ("a command the agent sent earlier, read late", 17.0),
    ];
    for (case, read_back) in table {
        let mut c = controller(Mode::Auto);
        c.set_explicit_release(0, true);
        c.observe(0, reading(19.0, 19.0, false));
        c.step(monday(21, 0));
        c.zones[0].sent_lately.push((17.0, monday(21, 0)));
        c.observe(0, reading(17.0, read_back, false));
        let r = c.step(monday(3, 0) + 86_400_000);
        assert!(!r.notices.iter().any(|n| matches!(n, Notice::Unexplained { .. })), "{case}: {r:?}");
        assert!(r.commands.iter().all(|c| !c.release), "{case}: {r:?}");
    }
}

#[test]
fn a_restored_override_the_agent_once_inferred_from_a_readback_is_not_acted_on() {
    let mut c = controller(Mode::Auto);
    c.observe(0, reading(19.0, 19.0, false));
    let inferred = Override {
        hold: Hold::Setpoint { setpoint_c: 16.0 },
        since_ms: monday(20, 0),
        until_ms: monday(4, 30) + 86_400_000,
        source: Source::Thermostat,
    };
    c.restore_override(0, inferred);
    assert_eq!(c.states(monday(21, 0))[0].holder, Holder::Building);
}

#[test]
fn the_comfort_watchdog_releases_a_zone_held_down_below_comfort_while_occupied() {
    // (case, the week's budget, the zone's temperature while occupied (comfort from 19 °C),
    // whether the watchdog trips)
    let table = [
        ("budget left, within what a shed may cost", 1.0, 18.5, false),
        ("budget left, far below comfort", 1.0, 17.8, true),
        ("budget spent, below comfort", 0.0, 18.5, true),
        ("budget spent, within a sensor's noise", 0.0, 18.9, false),
    ];
    for (case, budget, temperature_c, trips) in table {
        // Given a zone the agent holds at the 16 °C setback
        let mut c = controller(Mode::Auto);
        c.settings.budget_kh_per_week = budget;
        c.set_explicit_release(0, true);
        c.observe(0, reading(19.0, 19.0, false));
        c.step(monday(21, 0));
        // When it reads this while people are in
        c.observe(0, reading(temperature_c, 16.0, true));
        let r = c.step(monday(22, 0));
        // Then the watchdog releases it at once, or leaves it
        let tripped = matches!(r.notices.as_slice(), [.., Notice::WatchdogTripped { .. }]);
        assert_eq!(tripped, trips, "{case}: {r:?}");
        let released = matches!(r.commands.as_slice(), [cmd] if cmd.release && cmd.limits == [Limit::Watchdog]);
        assert_eq!(released, trips, "{case}: {r:?}");
        // And once tripped, the agent leaves the zone to its programme
        if trips {
            c.observe(0, reading(temperature_c, 19.0, true));
            assert!(c.step(monday(22, 15)).commands.is_empty(), "{case}");
        }
    }
}

#[test]
fn stopping_releases_every_zone_the_agent_commands_once() {
    let mut c = controller(Mode::Auto);
    c.set_explicit_release(0, true);
    c.observe(0, reading(19.0, 19.0, false));
    c.step(monday(21, 0));
    let r = c.release_all(monday(21, 5), Limit::Shutdown);
    assert!(matches!(r.commands.as_slice(), [cmd] if cmd.release && cmd.limits == [Limit::Shutdown]), "{r:?}");
    assert!(c.release_all(monday(21, 6), Limit::Shutdown).commands.is_empty());
}

#[test]
fn an_override_on_the_topic_takes_effect_at_once_and_hands_off_releases_the_zone() {
    // Given the night setback in force
    let mut c = controller(Mode::Auto);
    c.observe(0, reading(19.0, 19.0, false));
    c.step(monday(21, 0));
    // When a person asks for 20 °C until 22:00, Then the command goes out without waiting for
    // a step, outside the rate limits' hold
    let over = Override {
        hold: Hold::Setpoint { setpoint_c: 20.0 },
        since_ms: monday(21, 5),
        until_ms: monday(22, 0),
        source: Source::Topic,
    };
    let r = c.override_zone(0, over, monday(21, 5));
    assert_eq!(sent(&r), [20.0]);
    // When it ends, Then the schedule resumes, but without curtailing below the programme
    // (the budget is spent): 19 °C, not 16
    c.observe(0, reading(20.0, 20.0, false));
    let r = c.step(monday(22, 0));
    assert!(r.notices.contains(&Notice::OverrideEnded { zone: "class-1".into() }), "{r:?}");
    assert_eq!(sent(&r), [19.0]);
    // When a person says hands off, Then the zone goes back to its programme and stays there
    let hands_off = Override { hold: Hold::HandsOff, source: Source::Topic, ..over };
    let r = c.override_zone(0, Override { until_ms: monday(23, 0), ..hands_off }, monday(22, 10));
    assert!(r.commands.iter().all(|c| c.release), "{r:?}");
    assert!(sent(&c.step(monday(22, 30))).is_empty());
}

#[test]
fn advise_only_commands_nothing_a_failing_model_commands_nothing_and_shadow_only_records() {
    let cases = [
        ("the stop switch", Mode::Advise, true, 0usize, 0usize),
        ("a model that fails its gate", Mode::Auto, false, 0, 0),
        ("shadow mode", Mode::Shadow, true, 0, 1),
    ];
    for (name, mode, gate, commands, shadowed) in cases {
        // Given the zone at night
        let mut c = controller(mode);
        let schedule = c.schedule().cloned();
        c.set_schedule(schedule, gate);
        c.observe(0, reading(19.0, 19.0, false));
        // When the controller steps
        let r = c.step(monday(21, 0));
        // Then nothing is commanded; shadow mode records what it would have sent
        assert_eq!(sent(&r).len(), commands, "{name}");
        assert_eq!(r.commands.iter().filter(|c| c.shadow).count(), shadowed, "{name}");
    }
}

#[test]
fn turning_the_stop_switch_hands_every_commanded_zone_back() {
    // Given the night setback in force
    let mut c = controller(Mode::Auto);
    c.observe(0, reading(19.0, 19.0, false));
    c.step(monday(21, 0));
    c.observe(0, reading(18.5, 16.0, false));
    // When the stop switch is turned
    c.set_mode(Mode::Advise);
    let r = c.step(monday(21, 15));
    // Then the zone gets its programme's value back, once
    assert_eq!(r.commands.iter().map(|c| (c.setpoint_c, c.release)).collect::<Vec<_>>(), [(19.0, true)]);
    assert!(c.step(monday(21, 30)).commands.is_empty());
}

#[test]
fn the_comfort_watchdog_releases_a_zone_its_model_says_will_be_cold_when_people_arrive() {
    // (case, the heating the model gives the zone, whether it knows the outdoor temperature,
    // whether the watchdog trips before anyone is in)
    let table = [
        ("heating too weak to climb back from the shed by 08:00", 2.0, true, true),
        ("heating that climbs back in time", 100.0, true, false),
        ("no outdoor reading: no look-ahead", 2.0, false, false),
    ];
    for (case, max_heating, outdoor, trips) in table {
        // Given a full shed from 06:00 to 08:00, people in from 08:00, the zone at the shed's
        // 17 °C at 06:30 and the weather at 0 °C
        let mut c = controller(Mode::Auto);
        c.set_explicit_release(0, true);
        c.set_models(&[("class-1".to_string(), crate::control::fixture::classroom_model(max_heating))], Some(0.1));
        if outdoor {
            c.observe_outdoor(0.0);
        }
        let (start, end) = (crate::clock::iso(monday(6, 0)), crate::clock::iso(monday(8, 0)));
        let request = format!(r#"{{"id":"e","kind":"shed","start":"{start}","end":"{end}","level":1.0}}"#);
        c.flex(request.as_bytes(), monday(5, 0)).expect("taken");
        c.observe(0, reading(21.0, 21.0, false));
        let shed = c.step(monday(6, 0));
        assert_eq!(sent(&shed), vec![17.0], "{case}: {shed:?}");
        c.observe(0, reading(17.0, 17.0, false));
        // When the controller steps at 06:30, nobody in yet
        let r = c.step(monday(6, 30));
        // Then, where the model says the zone cannot be warm by 08:00, the watchdog releases it
        // now and says when it expected the zone cold; else the shed goes on
        let expected = r.notices.iter().find_map(|n| match n {
            Notice::WatchdogTripped { expected_at_ms, .. } => Some(*expected_at_ms),
            _ => None,
        });
        assert_eq!(expected.is_some(), trips, "{case}: {r:?}");
        if trips {
            assert!(expected.flatten().is_some_and(|at| at >= monday(8, 0)), "{case}: {expected:?}");
            assert!(matches!(r.commands.as_slice(), [cmd] if cmd.release && cmd.limits == [Limit::Watchdog]), "{r:?}");
        }
    }
}

#[test]
fn an_event_the_floor_would_leave_under_half_its_shed_preheats_earlier_and_deeper_and_no_other_does() {
    // (case, the event's local hours on Tuesday, the comfort floor, whether the zone has a
    // model, and whether its pre-heat goes deep)
    let table = [
        ("while people are in, a 20 °C floor leaves 1 K of the 4: under half", (10, 12), 20.0, true, true),
        ("a 19 °C floor leaves 2 K: the forecast says over half", (10, 12), 19.0, true, false),
        ("a 20 °C floor without a model: nothing says it falls short", (10, 12), 20.0, false, false),
        ("at night, nobody in: the floor takes nothing", (0, 2), 20.0, true, false),
    ];
    let tuesday = |h| monday(h, 0) + 86_400_000;
    for (case, (from, to), floor_c, model, deep) in table {
        // Given the classroom at 21 °C, its comfort floor, the weather at 0 °C, and its model
        // or none
        let mut c = controller(Mode::Auto);
        c.settings.comfort_min_c = floor_c;
        if model {
            c.set_models(&[("class-1".to_string(), crate::control::fixture::classroom_model(100.0))], Some(0.1));
        }
        c.observe_outdoor(0.0);
        c.observe(0, reading(21.0, 21.0, false));
        // When a full shed is asked on Monday evening
        let (start, end) = (crate::clock::iso(tuesday(from)), crate::clock::iso(tuesday(to)));
        let request = format!(r#"{{"id":"e","kind":"shed","start":"{start}","end":"{end}","level":1.0}}"#);
        c.flex(request.as_bytes(), monday(21, 0)).expect("taken");
        // Then only the event the forecast says falls short pre-heats deep: six hours ahead, a
        // kelvin warmer than the ordinary pre-heat
        let forecast = c.forecast("e", monday(21, 0), 0.0);
        assert_eq!(c.preheats_deep("e"), deep, "{case}: {forecast:?}");
        if deep {
            let early = c.step(tuesday(from) - 6 * 3_600_000);
            assert_eq!(sent(&early), vec![23.0], "{case}: {early:?}");
        }
        // And the forecast says so, so that an agent restarted before the event plans it alike
        assert_eq!(forecast.as_ref().map(|f| f.deep_preheat), model.then_some(deep), "{case}");
        let mut restarted = controller(Mode::Auto);
        let event = c.book.events().find(|e| e.id == "e").cloned().expect("the event");
        restarted.restore_event(event, forecast.is_some_and(|f| f.deep_preheat));
        assert_eq!(restarted.preheats_deep("e"), deep, "{case}");
    }
}

#[test]
fn people_the_zone_sees_when_none_were_expected_keep_it_out_of_the_agents_setback() {
    // Given the zone at night under the agent's accepted 16 °C setback, its thermostat holding it
    let mut c = controller(Mode::Auto);
    c.observe(0, reading(19.0, 19.0, false));
    assert_eq!(sent(&c.step(monday(21, 0))), [16.0]);
    c.observe(0, reading(18.5, 16.0, false));
    assert_eq!(sent(&c.step(monday(21, 15))), Vec::<f64>::new());
    // When its sensor sees people come in at 21:30, whom the schedule does not expect
    c.observe(0, reading(18.0, 16.0, true));
    let r = c.step(monday(21, 30));
    // Then the agent hands the zone back to its programme's 19 °C at once (not a step at a
    // time), because the comfort floor holds while people are in
    assert!(
        r.commands.iter().all(|c| c.release && c.setpoint_c == 19.0 && c.limits.contains(&Limit::ComfortFloor))
            && !r.commands.is_empty(),
        "{r:?}"
    );
    // And while they stay, it sends nothing below it
    c.observe(0, reading(18.2, 19.0, true));
    assert!(sent(&c.step(monday(21, 45))).iter().all(|&v| v >= 19.0));
    // And once they have gone, the setback is sent again
    c.observe(0, reading(18.6, 19.0, false));
    assert_eq!(sent(&c.step(monday(22, 0))), [16.0]);
}
