//! The real controller in closed loop with the real emulator, on hundreds of randomised
//! buildings (`[random]`): thermostats or a BMS, devices that drop a command or hold it until
//! released, a programme that changes under the agent, people who turn the device or ask the
//! agent at random (some of them absurdly), accepted changes and bounds of every shape. Each
//! seed checks what must hold whatever happens; a failure names its seed, and
//! `random_building(seed)` replays it.

use super::closed_loop::{self, LoopOutcome};
use super::{Emulator, SimSettings};
use crate::advisor::programme::{Day, DayKind, Programme};
use crate::config::control::{Bounds, Mode};
use crate::config::Settings;
use chrono::{Datelike, NaiveDate, Weekday};
use std::collections::BTreeMap;

/// Enough seeds to meet every path many times, each one or two weeks of a one- or two-zone
/// building: about 20 s in a debug build on two idle cores.
const SEEDS: u64 = 240;
/// The longest run; each seed runs a week and up to this.
const MOST_DAYS: u64 = 14;

/// The seed's building, as an integrator would describe it, with `[random]` on.
fn random_building(seed: u64) -> String {
    let mut rng = fastrand::Rng::with_seed(seed);
    let bms = rng.bool();
    let first = NaiveDate::from_ymd_opt(2019, 1, 7).expect("date") + chrono::Days::new(rng.u64(0..60));
    let (system, zones, plant) = if bms {
        ("system = \"bms\"", "zones = \"bms\"\nmeters = \"bms\"", "kind = \"boiler\"")
    } else {
        ("system = \"thermostats\"", "zones = \"zigbee2mqtt\"\nmeters = \"tasmota\"", "kind = \"heat_pump\"")
    };
    let days = rng.u64(7..=MOST_DAYS);
    let tuning = if rng.bool() { "good" } else { "poor" };
    let occupants = rng.bool();
    let mut text = format!(
        "[building]\nid = \"random-{seed}\"\ntimezone = \"Europe/Paris\"\nstart = \"{first}\"\ndays = {days}\nseed = {seed}\n\n\
         [plant]\n{plant}\n\n[control]\n{system}\ntuning = \"{tuning}\"\n\n[devices]\n{zones}\n\n\
         [occupants]\nenabled = {occupants}\n\n[random]\nseed = {seed}\nprogramme_changes_per_week = {:.1}\n\
         device_overrides_per_week = {:.1}\nagent_overrides_per_week = {:.1}\nunannounced_visits_per_week = {:.1}\n",
        rng.f64() * 4.0,
        rng.f64() * 6.0,
        rng.f64() * 8.0,
        rng.f64() * 6.0,
    );
    for z in 0..1 + rng.usize(0..2) {
        let room = ["office", "classroom", "meeting"][rng.usize(0..3)];
        text += &format!("\n[[zones]]\nname = \"zone-{z}\"\nuse = \"{room}\"\narea_m2 = {}\n", 20 + rng.u32(0..120));
    }
    text
}

/// The programme the agent learned: the building's as described (the randomised building
/// then changes it under the agent), carried over the two weeks before the run.
fn learned_programme(s: &SimSettings) -> Programme {
    let (c, calendar) = (&s.control, &s.calendar);
    let first = calendar.local(s.start_ms).date();
    let days = (1..=14)
        .filter_map(|back| first.checked_sub_days(chrono::Days::new(back)))
        .map(|date| {
            let weekend = matches!(date.weekday(), Weekday::Sat | Weekday::Sun);
            let kind = if weekend { DayKind::Weekend } else { DayKind::Occupied };
            (date, Day { kind, heated: !weekend || c.weekends, mean_outdoor_c: None })
        })
        .collect::<BTreeMap<_, _>>();
    Programme {
        night_c: c.unoccupied_c,
        occupied_c: c.occupied_c,
        start: c.start_time(calendar),
        stop: c.stop,
        arrive: calendar.from,
        leave: calendar.until,
        days,
    }
}

/// One seed's run and what the checks need of it.
struct Run {
    settings: Settings,
    sim: SimSettings,
    schedule: crate::control::schedule::Schedule,
    outcome: LoopOutcome,
}

fn run(seed: u64) -> Run {
    let sim = SimSettings::parse(&random_building(seed), &format!("seed {seed}")).expect("a valid random building");
    let emulator = Emulator::new(sim.clone()).expect("valid physics");
    let mut settings =
        super::demo_settings(&emulator, 1883, 1883, std::path::Path::new("unused.db")).expect("agent settings");
    let mut rng = fastrand::Rng::with_seed(seed ^ 0xA6E17);
    for z in &mut settings.control.zones {
        let (min_c, max_c) = (12.0 + rng.f64() * 4.0, 21.0 + rng.f64() * 5.0);
        z.bounds = Bounds::new(min_c, max_c, 0.5 + rng.f64() * 4.0, 900_000 * rng.i64(0..3)).expect("bounds");
    }
    settings.control.budget_kh_per_week = rng.f64() * 3.0;
    settings.control.command_ttl_ms = (1 + rng.i64(0..8)) * 3_600_000;
    let programme = learned_programme(&sim);
    let accepted = crate::control::schedule::tests::random_accepted(&mut rng, &programme);
    let (tz, comfort_c) = (sim.timezone, settings.comfort.min_c);
    let schedule = settings.control.schedule(programme, accepted, tz, comfort_c, 0);
    let mut controller = settings.control.controller(tz, comfort_c);
    controller.set_mode(Mode::Auto);
    controller.set_schedule(Some(schedule.clone()), rng.f64() < 0.8);
    let outcome = closed_loop::run(emulator, Some(controller), &[], sim.steps).expect("the seed runs");
    Run { settings, sim, schedule, outcome }
}

/// What must not be, in one seed's run.
fn breaches(seed: u64, r: &Run) -> Vec<String> {
    let mut out = Vec::new();
    let comfort_c = r.settings.comfort.min_c;
    for s in &r.outcome.sent {
        let (bounds, at) = (r.settings.control.zones[s.zone].bounds, crate::clock::iso(s.at_ms));
        if s.setpoint_c < bounds.min_c() - 1e-9 || s.setpoint_c > bounds.max_c() + 1e-9 {
            out.push(format!("seed {seed}, {at}: zone {} sent {} °C outside {bounds:?}", s.zone, s.setpoint_c));
        }
        // Occupied as the schedule has it, or as people really are (who come in unannounced).
        let slot = r.schedule.at(s.at_ms);
        let floor = comfort_c.min(slot.programme_c);
        if (slot.occupied || s.occupied) && !s.person && s.setpoint_c < floor - 1e-9 {
            out.push(format!(
                "seed {seed}, {at}: zone {} sent {} °C below comfort {floor} occupied (scheduled {}, in fact {})",
                s.zone, s.setpoint_c, slot.occupied, s.occupied
            ));
        }
        let stood_down =
            r.outcome.stand_downs.iter().any(|(from, z, until)| *z == s.zone && (*from..*until).contains(&s.at_ms));
        if stood_down && !s.person {
            out.push(format!(
                "seed {seed}, {at}: zone {} sent {} °C after an unexplained readback",
                s.zone, s.setpoint_c
            ));
        }
    }
    if r.outcome.asked.inferred > 0 {
        out.push(format!("seed {seed}: {} overrides inferred from readbacks", r.outcome.asked.inferred));
    }
    for (z, holds) in r.outcome.truth.zones.iter().zip(&r.sim.holds) {
        if *holds && z.commanded {
            out.push(format!("seed {seed}: {} still holds a command of the agent's once it stopped", z.zone));
        }
    }
    out
}

/// What the seeds exercised.
#[derive(Debug, Default)]
struct Seen {
    holding_zones: usize,
    dropping_zones: usize,
    programme_changes: u64,
    device_overrides: u64,
    refused_at_device: u64,
    asked_agent: u64,
    refused_by_agent: u64,
    commands: u64,
    releases: u64,
    stand_downs: usize,
    watchdog: u64,
    /// Commands sent while people were in a zone the schedule had empty.
    unannounced: u64,
}

#[test]
fn on_hundreds_of_random_buildings_in_closed_loop_the_agent_does_no_harm() {
    // Given hundreds of randomised buildings, each run a week under the agent in auto, on both cores
    let half = |first: u64| {
        move || {
            let (mut found, mut seen) = (Vec::new(), Seen::default());
            for seed in (first..SEEDS).step_by(2) {
                let r = run(seed);
                found.extend(breaches(seed, &r));
                let t = &r.outcome.truth;
                seen.holding_zones += r.sim.holds.iter().filter(|h| **h).count();
                seen.dropping_zones += r.sim.holds.iter().filter(|h| !**h).count();
                seen.programme_changes += t.programme_changes;
                seen.device_overrides += t.occupant_overrides;
                seen.refused_at_device += t.commands_refused;
                seen.asked_agent += r.outcome.asked.taken;
                seen.refused_by_agent += r.outcome.asked.refused;
                seen.commands += r.outcome.commands;
                seen.releases += r.outcome.releases;
                seen.stand_downs += r.outcome.stand_downs.len();
                seen.watchdog += r.outcome.watchdog_trips;
                seen.unannounced +=
                    r.outcome.sent.iter().filter(|s| s.occupied && !r.schedule.at(s.at_ms).occupied).count() as u64;
            }
            (found, seen)
        }
    };
    let ((mut found, a), (more, b)) = std::thread::scope(|s| {
        let even = s.spawn(half(0));
        let odd = s.spawn(half(1));
        (even.join().expect("even seeds"), odd.join().expect("odd seeds"))
    });
    found.extend(more);
    // Then no command left a zone's range, none went below comfort while occupied but a
    // person's, none followed a readback the agent could not explain, none was inferred, and no
    // device that holds still held anything of the agent's once it stopped
    assert!(found.is_empty(), "{} breaches, the first: {:#?}", found.len(), &found[..found.len().min(10)]);
    // And the seeds did exercise each path
    let seen = Seen {
        holding_zones: a.holding_zones + b.holding_zones,
        dropping_zones: a.dropping_zones + b.dropping_zones,
        programme_changes: a.programme_changes + b.programme_changes,
        device_overrides: a.device_overrides + b.device_overrides,
        refused_at_device: a.refused_at_device + b.refused_at_device,
        asked_agent: a.asked_agent + b.asked_agent,
        refused_by_agent: a.refused_by_agent + b.refused_by_agent,
        commands: a.commands + b.commands,
        releases: a.releases + b.releases,
        stand_downs: a.stand_downs + b.stand_downs,
        watchdog: a.watchdog + b.watchdog,
        unannounced: a.unannounced + b.unannounced,
    };
    println!("{seen:#?}");
    assert!(seen.holding_zones > 50 && seen.dropping_zones > 50 && seen.programme_changes > 50, "{seen:?}");
    assert!(seen.device_overrides > 50 && seen.refused_at_device > 10, "{seen:?}");
    assert!(seen.asked_agent > 50 && seen.refused_by_agent > 10, "{seen:?}");
    assert!(seen.commands > 1000 && seen.releases > 100 && seen.stand_downs > 10, "{seen:?}");
    assert!(seen.unannounced > 10, "{seen:?}");
}

#[test]
fn on_a_broker_people_of_a_randomised_building_ask_the_agent_on_its_override_topic() {
    // Given the school randomised with people asking the agent often, whose agent's status is
    // `sobre/ecole-demo/status`
    let text = format!("{}\n[random]\nseed = 5\nagent_overrides_per_week = 300\n", super::SCHOOL);
    let mut e = Emulator::new(SimSettings::parse(&text, "school").expect("valid")).expect("valid physics");
    // When it runs a day and publishes what its devices say
    let mut asked = Vec::new();
    for _ in 0..96 {
        e.step().expect("steps");
        let mut out = Vec::new();
        e.messages(&mut out);
        asked.extend(out.into_iter().filter(|(t, _)| t.starts_with("sobre/ecole-demo/override/")));
    }
    // Then the asks go to the agent's override topic, one zone each, and some are nonsense
    assert!(asked.len() > 50, "{asked:?}");
    let zones: Vec<&str> = e.settings().zones.iter().map(|z| z.name.as_str()).collect();
    assert!(asked.iter().all(|(t, _)| zones.contains(&t.trim_start_matches("sobre/ecole-demo/override/"))));
    assert!(asked.iter().any(|(_, p)| serde_json::from_str::<serde_json::Value>(p).is_err()), "{asked:?}");
}
