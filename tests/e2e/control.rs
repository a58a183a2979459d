//! Control on the emulated school, in closed loop with the emulator (as BOPTEST runs a
//! controller against a test case), from what the agent learned: the programme the advisor read
//! from the demo's store and the recommendations it made there, all accepted.

use crate::advisor::demo;
use chrono::{NaiveDate, TimeZone};
use sobre_agent::advisor::{self, programme::Programme, Setting};
use sobre_agent::control::schedule::Schedule;
use sobre_agent::sim::{self, trial, Emulator, SimSettings};

/// The school, the demo's agent settings, the programme it read and what it recommended.
fn learned() -> (SimSettings, sobre_agent::config::Settings, Programme, Vec<Setting>) {
    let (_, path) = demo();
    let school = SimSettings::parse(sim::SCHOOL, "school").expect("school");
    let emulator = Emulator::new(school.clone()).expect("emulator");
    let settings = sim::demo_settings(&emulator, 1883, 1883, path).expect("settings");
    let store = sobre_agent::store::Store::open(path, &settings.points, settings.site.timezone).expect("store");
    let from = school.start_ms;
    let history = advisor::read(&store, &settings, (from, from + 56 * 86_400_000)).expect("history");
    let programme = Programme::read(&history).expect("a programme");
    let advice = advisor::advise_on(&history, &settings, &settings.advisor);
    let accepted = advice.recommendations.into_iter().map(|r| r.setting).collect();
    (school, settings, programme, accepted)
}

fn schedule(settings: &sobre_agent::config::Settings, programme: Programme, accepted: Vec<Setting>) -> Schedule {
    settings.control.schedule(programme, accepted, settings.site.timezone, settings.comfort.min_c, 0)
}

#[test]
fn the_accepted_recommendations_applied_as_schedules_save_a_sixth_of_a_winter_months_heating_in_comfort() {
    // Given what the agent learned from eight weeks of the poorly tuned school, every
    // recommendation accepted
    let (school, settings, programme, accepted) = learned();
    assert!(accepted.iter().filter(|s| Schedule::applies(s)).count() >= 4, "{accepted:?}");
    let schedule = schedule(&settings, programme, accepted);
    // When the agent pilots the thermostats through December (four weeks it never saw)
    let first_day = NaiveDate::from_ymd_opt(2019, 12, 2).expect("date");
    let m = trial::month(&school, &settings.control, &schedule, first_day, 28).expect("runs");
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
    // And nobody had to turn a thermostat up, and the controller's time is a sliver of a step
    assert_eq!(m.occupant_overrides, 0);
    assert!(m.kpis.compute_ratio < 1e-3, "{}", m.kpis.compute_ratio);
}

#[test]
fn a_two_hour_shed_halves_the_heat_pumps_power_and_the_staggered_recovery_keeps_the_rebound_low() {
    // Given the school under its own programme, the agent ready to answer the grid
    let (school, settings, programme, _) = learned();
    let schedule = schedule(&settings, programme, Vec::new());
    // When a full shed is asked on a December Tuesday from 09:00 to 11:00, during lessons
    let at = |h| {
        let local = NaiveDate::from_ymd_opt(2019, 12, 3).expect("date").and_hms_opt(h, 0, 0).expect("time");
        school.timezone.from_local_datetime(&local).single().expect("local").timestamp_millis()
    };
    let first_day = NaiveDate::from_ymd_opt(2019, 12, 2).expect("date");
    let t = trial::shed(&school, &settings.control, &schedule, first_day, (at(9), at(11))).expect("runs");
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
}
