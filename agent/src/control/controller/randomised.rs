//! The controller against randomised buildings, hundreds of seeds: programmes and accepted
//! changes of every shape, devices that drop or hold commands, a BMS that starts early, people
//! who turn the setpoint at the device or ask through the override topic, the stop switch. Each
//! seed checks what must hold whatever happens: no command outside the zone's range, none below
//! comfort while occupied except a person's explicit one, no value sent because of a change the
//! agent inferred, and nothing the agent set left unreleased once it stops.

use super::*;
use crate::control::schedule::tests::{hm, poor_school};
use chrono::NaiveDate;

const STEP: i64 = 900_000;
const SEEDS: u64 = 300;
const DAYS: i64 = 14;

/// A zone's device as the emulator plays it: what the agent commanded and a person set, and
/// whether it holds a command until released or drops it at its programme's next change.
#[derive(Debug, Clone, Copy)]
struct Device {
    holds: bool,
    agent_c: Option<f64>,
    person_c: Option<f64>,
    temperature_c: f64,
}

impl Device {
    fn setpoint(&self, programme_c: f64, early_c: Option<f64>) -> f64 {
        self.person_c.or(self.agent_c).or(early_c).unwrap_or(programme_c)
    }
}

struct Building {
    controller: Controller,
    schedule: Schedule,
    bounds: Vec<Bounds>,
    comfort_min_c: f64,
    devices: Vec<Device>,
}

fn building(rng: &mut fastrand::Rng) -> Building {
    let mut programme = poor_school();
    programme.night_c = 12.0 + rng.f64() * 7.0;
    programme.occupied_c = programme.night_c + 1.0 + rng.f64() * 5.0;
    programme.start = hm(4 + rng.u32(0..4), 15 * rng.u32(0..4));
    programme.stop = hm(17 + rng.u32(0..4), 0);
    let accepted = crate::control::schedule::tests::random_accepted(rng, &programme);
    let tz = chrono_tz::Europe::Paris;
    let comfort_min_c = 18.0 + rng.f64() * 2.5;
    let settings = ControlSettings {
        step_ms: STEP,
        timezone: tz,
        comfort_min_c,
        budget_kh_per_week: rng.f64() * 3.0,
        command_ttl_ms: (1 + rng.i64(0..8)) * 3_600_000,
        flex: FlexSettings::default(),
    };
    let bounds: Vec<Bounds> = (0..2)
        .map(|_| {
            let min_c = 12.0 + rng.f64() * 4.0;
            let max_c = 21.0 + rng.f64() * 5.0;
            Bounds::new(min_c, max_c, 0.5 + rng.f64() * 4.0, STEP * rng.i64(0..3)).expect("bounds")
        })
        .collect();
    let zones = bounds.iter().enumerate().map(|(i, b)| (format!("zone-{i}"), *b));
    let mut controller = Controller::new(settings, zones, Mode::Auto);
    let schedule = Schedule::new(programme, accepted, tz, comfort_min_c + 0.5, None);
    controller.set_schedule(Some(schedule.clone()), rng.f64() < 0.8);
    let devices = (0..2)
        .map(|i| {
            let holds = rng.bool();
            controller.set_explicit_release(i, holds);
            Device { holds, agent_c: None, person_c: None, temperature_c: 16.0 + rng.f64() * 4.0 }
        })
        .collect();
    Building { controller, schedule, bounds, comfort_min_c, devices }
}

/// What the seeds exercised: commands, releases, unexplained readbacks, watchdog trips.
#[derive(Debug, Default)]
struct Seen {
    commands: u64,
    releases: u64,
    unexplained: u64,
    watchdog: u64,
}

/// What a seed saw that must not be.
fn breaches(seed: u64, seen: &mut Seen) -> Vec<String> {
    let mut rng = fastrand::Rng::with_seed(seed);
    let mut b = building(&mut rng);
    let start = NaiveDate::from_ymd_opt(2019, 1, 21).expect("date").and_time(hm(0, 0));
    let start = chrono_tz::Europe::Paris.from_local_datetime(&start).single().expect("local").timestamp_millis();
    let mut out = Vec::new();
    // Per zone, until when the agent stays off after an unexplained readback.
    let mut off_until = [i64::MIN; 2];
    let mut previous = b.schedule.at(start);
    for n in 0..DAYS * 96 {
        let now = start + n * STEP;
        let slot = b.schedule.at(now);
        let programme = b.schedule.programme().clone();
        // A BMS's optimum start: the day level up to two hours before its usual start.
        let local = chrono_tz::Europe::Paris.timestamp_millis_opt(now).single().expect("local").naive_local();
        let minutes = |t: chrono::NaiveTime| i64::from(t.hour() * 60 + t.minute());
        let before_start = minutes(programme.start) - minutes(local.time());
        let early = (local.weekday() == chrono::Weekday::Mon && (0..120).contains(&before_start))
            .then_some(programme.occupied_c);
        for (i, d) in b.devices.iter_mut().enumerate() {
            if slot.programme_c != previous.programme_c {
                // The programme's next period: a person's turn ends, a dropping device drops.
                d.person_c = None;
                if !d.holds {
                    d.agent_c = None;
                }
            }
            if rng.f64() < 0.004 {
                d.person_c = Some(15.0 + rng.f64() * 10.0);
            }
            let setpoint = d.setpoint(slot.programme_c, early);
            d.temperature_c += 0.2 * (setpoint - d.temperature_c) + 0.1 * (rng.f64() - 0.5);
            let occupied = slot.occupied != (rng.f64() < 0.05);
            let reading = ZoneReading {
                temperature_c: Some(d.temperature_c),
                setpoint_c: Some(setpoint),
                setpoint_at_ms: Some(now),
                occupied,
            };
            b.controller.observe(i, reading);
        }
        previous = slot;
        let mut results = vec![b.controller.step(now)];
        let zone = rng.usize(0..2);
        if rng.f64() < 0.003 {
            let hold =
                if rng.f64() < 0.8 { Hold::Setpoint { setpoint_c: 8.0 + rng.f64() * 25.0 } } else { Hold::HandsOff };
            let over = Override { hold, since_ms: now, until_ms: now + rng.i64(1..16) * STEP, source: Source::Topic };
            results.push(b.controller.override_zone(zone, over, now));
        }
        if rng.f64() < 0.002 {
            let mode = [Mode::Advise, Mode::Shadow, Mode::Auto][rng.usize(0..3)];
            if b.controller.mode() == Mode::Auto && mode != Mode::Auto {
                results.push(b.controller.release_all(now, Limit::StopSwitch));
            }
            b.controller.set_mode(mode);
            results.push(b.controller.reconsider(now));
        }
        for r in &results {
            for notice in &r.notices {
                if let Notice::Unexplained { zone, until_ms, .. } = notice {
                    let i = b.controller.zone_index(zone).expect("zone");
                    off_until[i] = *until_ms;
                    seen.unexplained += 1;
                }
                if let Notice::WatchdogTripped { .. } = notice {
                    seen.watchdog += 1;
                }
            }
            for c in r.commands.iter().filter(|c| !c.shadow) {
                let i = b.controller.zone_index(&c.zone).expect("zone");
                let d = &mut b.devices[i];
                if c.release {
                    seen.releases += 1;
                    if d.holds {
                        d.agent_c = None;
                    } else {
                        d.agent_c = Some(c.setpoint_c);
                    }
                    continue;
                }
                d.agent_c = Some(c.setpoint_c);
                seen.commands += 1;
                let (bounds, person) = (b.bounds[i], c.limits.contains(&Limit::Override));
                if c.setpoint_c < bounds.min_c() - 1e-9 || c.setpoint_c > bounds.max_c() + 1e-9 {
                    out.push(format!("seed {seed}, step {n}: {} °C outside {bounds:?}", c.setpoint_c));
                }
                let floor = b.comfort_min_c.min(slot.programme_c);
                if slot.occupied && !person && c.setpoint_c < floor - 1e-9 {
                    out.push(format!(
                        "seed {seed}, step {n}: {} °C below comfort {floor} while occupied",
                        c.setpoint_c
                    ));
                }
                if now < off_until[i] && !person {
                    out.push(format!(
                        "seed {seed}, step {n}: {} °C sent while off after an unexplained readback",
                        c.setpoint_c
                    ));
                }
            }
        }
    }
    // When the agent stops, nothing it set stays held.
    let end = start + DAYS * 86_400_000;
    for c in b.controller.release_all(end, Limit::Shutdown).commands {
        let i = b.controller.zone_index(&c.zone).expect("zone");
        if b.devices[i].holds {
            b.devices[i].agent_c = None;
        }
    }
    for (i, d) in b.devices.iter().enumerate() {
        if d.holds && d.agent_c.is_some() {
            out.push(format!("seed {seed}: zone-{i} still holds {:?} °C of the agent's", d.agent_c));
        }
    }
    out
}

#[test]
fn on_hundreds_of_random_buildings_the_controller_does_no_harm() {
    let mut seen = Seen::default();
    let found: Vec<String> = (0..SEEDS).flat_map(|seed| breaches(seed, &mut seen)).collect();
    assert!(found.is_empty(), "{} breaches, the first: {:#?}", found.len(), &found[..found.len().min(10)]);
    // And the seeds did exercise each path
    assert!(seen.commands > 1000 && seen.releases > 100 && seen.unexplained > 10 && seen.watchdog > 0, "{seen:?}");
}
