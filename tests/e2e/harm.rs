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
    // And it saves gas at no more than 0.5 K·h a zone and week above the building alone
    assert!(acting.controlled_kwh < acting.baseline_kwh, "{acting:?}");
    assert!(
        acting.controlled_worst_zone_kh - acting.baseline_worst_zone_kh <= 4.0 * 0.5,
        "{:.2} K·h against {:.2} K·h alone",
        acting.controlled_worst_zone_kh,
        acting.baseline_worst_zone_kh
    );
}
