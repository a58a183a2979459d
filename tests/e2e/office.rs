//! The advisor on a building unlike the school, from its data alone: the emulated office (a BMS
//! over a gas boiler that is off at night and at weekends, CO₂ sensors and no presence sensor,
//! no heating demand per zone), played through mosquitto into a running agent; and the school
//! with its presence sensors taken out (CO₂ only). The agent is given no truth: each estimate is
//! checked against the emulator rerun with that change alone.

use crate::advisor::{played_advised_and_baselined, played_and_advised};
use crate::demo::learned;
use crate::support::readme;
use sobre_agent::advisor::occupancy::OccupancySource;
use sobre_agent::advisor::{Advice, RuleKind};
use sobre_agent::sim::{self, whatif, SimSettings};

/// The README's table of the advice on the poorly tuned office: the start of each change's row.
const README_ROWS: [(RuleKind, &str); 3] = [
    (RuleKind::WeekendHeating, "unoccupied weekends"),
    (RuleKind::SetpointAboveLimit, "occupied setpoint"),
    (RuleKind::OptimalStart, "day programme start"),
];

/// Its people stay until the programme ends (18:00, 60 % of the day's staff in the last hour):
/// an earlier end is never right, and the CO₂ cannot see the last half hour of a thinned room
/// under full ventilation. The advisor says so rather than proposing it.
fn no_earlier_end(name: &str, advice: &Advice) {
    assert!(
        advice.recommendations.iter().all(|r| r.rule != RuleKind::LateStop),
        "{name}: {:?}",
        advice.recommendations
    );
    assert!(
        advice.dismissed.iter().any(|d| d.starts_with("day programme end") && d.contains("CO₂ sensor")),
        "{name}: {:?}",
        advice.dismissed
    );
}

fn describe(name: &str, advice: &Advice) {
    println!(
        "{name}: occupancy {:?}",
        advice.occupancy.iter().map(|z| (&z.zone, z.source.name(), z.confidence)).collect::<Vec<_>>()
    );
    for r in &advice.recommendations {
        println!(
            "{name}: {} — {:.0} ± {:.0} kWh ({:.1} %), model CV(RMSE) {:.1} % gate {}",
            r.title,
            r.savings.period_kwh,
            r.savings.period_kwh_uncertainty,
            r.savings.percent,
            100.0 * r.model.cv_rmse,
            r.model.passes_gate
        );
    }
    println!("{name}: dismissed {:?}", advice.dismissed);
    println!("{name}: blocked {:?}", advice.missing.iter().map(ToString::to_string).collect::<Vec<_>>());
}

/// Each recommendation the emulated programme can express, against the emulator rerun with it
/// alone: (rule, advisor kWh, emulator kWh).
fn confirmed(building: &SimSettings, advice: &Advice) -> Vec<(RuleKind, f64, f64)> {
    let base = whatif::run(building.clone()).expect("runs").plant_kwh;
    advice
        .recommendations
        .iter()
        .filter_map(|r| {
            let changed = whatif::with_setting(building.clone(), &r.setting)?;
            let truth = base - whatif::run(changed).expect("runs").plant_kwh;
            println!(
                "{}: advisor {:.0} kWh, emulator {truth:.0} kWh ({:.2})",
                r.title,
                r.savings.period_kwh,
                r.savings.period_kwh / truth
            );
            Some((r.rule, r.savings.period_kwh, truth))
        })
        .collect()
}

/// The office's gas baseline, fitted on its first five weeks, is the daily model and passes
/// Guideline 14 (at the daily resolution it reports at), where the hourly model fails.
fn gas_is_measured_by_the_day(baselines: &sobre_agent::baseline::Fits, name: &str) {
    let gas = baselines.iter().find(|(point, _)| point == "heating_energy").map(|(_, fit)| fit);
    let Some(Ok(b)) = gas else { panic!("{name}: no gas baseline: {gas:?}") };
    println!(
        "{name}: gas baseline {} CV(RMSE) {:.1} % NMBE {:.1} % (hourly: {:?})",
        b.name(),
        100.0 * b.metrics.cv_rmse,
        100.0 * b.metrics.nmbe,
        b.hourly_rejected.map(|m| format!("CV(RMSE) {:.1} %", 100.0 * m.cv_rmse))
    );
    assert_eq!(b.name(), "baseline-daily", "{name}");
    assert!(b.gate_pass, "{name}: {:?}", b.metrics);
    assert!(b.hourly_rejected.is_some_and(|m| m.cv_rmse > 0.30), "{name}: the hourly model failed first");
}

#[test]
fn the_poorly_tuned_office_is_learned_from_its_own_data_and_the_emulator_confirms_each_saving() {
    // Given the office poorly tuned (plant from 04:00, weekends heated, 22 °C occupied, no
    // optimum start), ten weeks played through mosquitto into a running agent
    let text = sim::OFFICE.replace("tuning = \"good\"", "tuning = \"poor\"");
    // When the advisor runs over them, and the savings baselines are fitted on the first five
    // weeks
    let (office, advice, baselines) = played_advised_and_baselined(&text, "poor office");
    describe("poor office", &advice);
    // Then the gas, whose hourly model cannot pass Guideline 14 on a plant off at night, is
    // measured by the daily model with its Monday recovery, which passes
    gas_is_measured_by_the_day(&baselines, "poor office");
    // Then every zone's occupancy comes from its CO₂ sensor
    assert_eq!(advice.occupancy.len(), 3);
    assert!(advice.occupancy.iter().all(|z| z.source == OccupancySource::Co2), "{:?}", advice.occupancy);
    // And its heat-loss model passes Guideline 14 on a boiler that is off at night
    assert!(advice.models_pass_gate, "{:?}", advice.missing);
    // And it finds the weekends heated, the 22 °C and the early start
    let rules: Vec<RuleKind> = advice.recommendations.iter().map(|r| r.rule).collect();
    for rule in [RuleKind::WeekendHeating, RuleKind::SetpointAboveLimit, RuleKind::OptimalStart] {
        assert!(rules.contains(&rule), "{rule:?} in {rules:?}");
    }
    // And not an earlier end: its people stay until 18:00
    no_earlier_end("poor office", &advice);
    // And each estimate is within 25 % of the emulator with that change alone, as the README's
    // table says, row by row
    let checked = confirmed(&office, &advice);
    for (rule, kwh, truth) in &checked {
        assert!((0.75..=1.25).contains(&(kwh / truth)), "{rule:?}: estimated {kwh:.0} kWh, emulator {truth:.0} kWh");
        let r = advice.recommendations.iter().find(|r| r.rule == *rule).expect("a recommendation");
        let row = format!("| office: {}", README_ROWS.iter().find(|(k, _)| k == rule).map_or("?", |(_, row)| row));
        let cells = format!("| {kwh:.0} ± {:.0} | {truth:.0} | {:.2} |", r.savings.period_kwh_uncertainty, kwh / truth);
        let line = readme::line(&row);
        assert!(line.ends_with(&cells), "README.md's row for {}: {line:?}; this run: {cells:?}", r.title);
    }
    assert_eq!(checked.len(), README_ROWS.len(), "{checked:?}");
    // When the agent pilots the office in auto for four of those weeks, every recommendation
    // accepted
    let emulator = sim::Emulator::new(office.clone()).expect("emulator");
    let dir = tempfile::tempdir().expect("tempdir");
    let settings = sim::demo_settings(&emulator, 1883, 1883, &dir.path().join("sobre.db")).expect("settings");
    let accepted = advice.recommendations.iter().map(|r| r.setting.clone());
    let programme = advice.programme.clone().expect("a programme");
    let schedule = settings.control.schedule(programme, accepted, settings.site.timezone, settings.comfort.min_c, 0);
    let first_day = chrono::NaiveDate::from_ymd_opt(2021, 11, 22).expect("date");
    let t = sobre_agent::sim::trial::auto(&office, &settings.control, &schedule, true, first_day, 28).expect("runs");
    println!("poor office, all accepted: {t:#?}");
    // Then the gas it saves lies within the interval the advisor gave for them together, at no
    // more than 0.5 K·h a zone and week above the building's own programme, and it reads
    // nothing the BMS does as a person, and leaves nothing held
    let saving = 100.0 * (1.0 - t.controlled_kwh / t.baseline_kwh);
    crate::control::within_the_advisors_interval("poor office", &advice, saving);
    assert!(t.controlled_worst_zone_kh - t.baseline_worst_zone_kh <= 4.0 * 0.5, "{t:?}");
    assert!(t.unexplained.is_empty() && t.held_at_end == 0, "{t:?}");
}

#[test]
fn each_poor_trait_alone_gets_its_recommendation_and_the_emulator_confirms_it() {
    // Given the well-tuned office with one poor trait each, as offices really have them
    let traits = [
        (
            "no optimum start (a fixed 05:00 start)",
            "# optimum_start = true",
            "optimum_start = false",
            RuleKind::OptimalStart,
        ),
        (
            "a fixed start at 04:00",
            "# optimum_start = true",
            "optimum_start = false\nstart = \"04:00:00\"",
            RuleKind::OptimalStart,
        ),
        ("weekends heated", "# weekends = false", "weekends = true", RuleKind::WeekendHeating),
        ("22 °C occupied", "# occupied_c = 21.0", "occupied_c = 22.0", RuleKind::SetpointAboveLimit),
    ];
    for (name, key, value, rule) in traits {
        let text = sim::OFFICE.replace(key, value);
        assert_ne!(text, sim::OFFICE, "{name}: the key is in the bundled office");
        // When the advisor runs over its ten weeks
        let (office, advice) = played_and_advised(&text, name);
        describe(name, &advice);
        // Then it proposes the change for that trait, within 25 % of the emulator with that
        // change alone
        let found = confirmed(&office, &advice);
        let Some((_, kwh, truth)) = found.iter().find(|(r, _, _)| *r == rule) else {
            panic!("{name}: no {rule:?} in {found:?}")
        };
        assert!((0.75..=1.25).contains(&(kwh / truth)), "{name}: estimated {kwh:.0} kWh, emulator {truth:.0} kWh");
    }
}

#[test]
fn the_well_tuned_office_gets_nothing_of_substance() {
    // Given the office well tuned (optimum start, 21 °C, off at night, at weekends and over
    // Christmas)
    let (office, advice, baselines) = played_advised_and_baselined(sim::OFFICE, "good office");
    describe("good office", &advice);
    gas_is_measured_by_the_day(&baselines, "good office");
    // Then its models pass their gate: silence is a verdict, not a lack of data
    assert!(advice.models_pass_gate, "{:?}", advice.missing);
    // And it proposes nothing: a facility manager told of a change worth 1 % of the gas, within
    // the baseline's own uncertainty, would be sent to check what is already right. Its only
    // candidate, an earlier end read from the CO₂, is dismissed with why
    assert!(advice.recommendations.is_empty(), "{:?}", confirmed(&office, &advice));
    no_earlier_end("good office", &advice);
}

#[test]
fn a_school_with_co2_sensors_instead_of_presence_sensors_gets_the_same_advice() {
    // Given the poorly tuned school with an air-quality sensor in each zone and no presence
    // sensor
    let text = sim::SCHOOL.replace("# presence = true", "presence = false").replace("# co2 = false", "co2 = true");
    // When the advisor runs over the eight weeks
    let (_, advice) = played_and_advised(&text, "school, CO₂ only");
    describe("school, CO₂ only", &advice);
    // Then every zone reads its occupancy from CO₂
    assert!(advice.occupancy.iter().all(|z| z.source == OccupancySource::Co2), "{:?}", advice.occupancy);
    // And it proposes what it proposes with presence sensors, each saving within 25 %
    let with_presence = &learned().advice;
    for r in &with_presence.recommendations {
        let same = advice.recommendations.iter().find(|c| c.rule == r.rule);
        let Some(c) = same else { panic!("{:?} with presence sensors, not with CO₂", r.rule) };
        let ratio = c.savings.period_kwh / r.savings.period_kwh;
        println!(
            "{}: CO₂ {:.0} kWh, presence {:.0} kWh ({ratio:.2})",
            r.title, c.savings.period_kwh, r.savings.period_kwh
        );
        assert!((0.75..=1.25).contains(&ratio), "{:?}: {ratio:.2}", r.rule);
    }
    assert_eq!(advice.recommendations.len(), with_presence.recommendations.len());
}
