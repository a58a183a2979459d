//! The controller's own cost: a month of 15-minute steps for the eight-zone school on its
//! accepted schedule, without the emulator (readings given), and the same month in closed loop
//! with the emulator. `cargo bench -p sobre-agent --bench control`.

use chrono::NaiveTime;
use sobre_agent::advisor::programme::Programme;
use sobre_agent::advisor::Setting;
use sobre_agent::config::control::Mode;
use sobre_agent::control::controller::{Controller, ZoneReading};
use sobre_agent::control::schedule::Schedule;
use sobre_agent::sim::{closed_loop, demo_settings, Emulator, SimSettings, SCHOOL};

fn main() {
    divan::main();
}

const ZONES: usize = 8;
const STEP: i64 = 900_000;

fn hm(h: u32, m: u32) -> NaiveTime {
    NaiveTime::from_hms_opt(h, m, 0).expect("time")
}

/// The school's programme as the advisor reads it, every change it proposes accepted.
fn controller() -> Controller {
    let programme = Programme {
        night_c: 19.0,
        occupied_c: 21.0,
        start: hm(4, 30),
        stop: hm(20, 0),
        arrive: hm(8, 0),
        leave: hm(17, 0),
        days: Default::default(),
    };
    let accepted = [
        Setting::OccupiedSetpoint { from_c: 21.0, to_c: 19.0 },
        Setting::NightSetpoint { from_c: 19.0, to_c: 16.0 },
        Setting::HeatingStart { from: hm(4, 30), to: hm(6, 15) },
        Setting::HeatingStop { from: hm(20, 0), to: hm(17, 0) },
    ];
    // The demo's agent settings: the school's zones, their thermostats and the default bounds.
    let school = Emulator::new(SimSettings::parse(SCHOOL, "school").expect("valid")).expect("valid");
    let settings = demo_settings(&school, 1883, 1883, std::path::Path::new("bench.db")).expect("settings");
    let tz = settings.site.timezone;
    let mut c = settings.control.controller(tz, settings.comfort.min_c);
    c.set_mode(Mode::Auto);
    c.set_schedule(Some(Schedule::new(programme, accepted, tz, 19.5, None)), true);
    c
}

#[divan::bench(sample_count = 10)]
fn controller_month_8_zones(bencher: divan::Bencher) {
    let start = 1_575_241_200_000; // 2019-12-02 00:00 Paris
    bencher.bench(|| {
        let mut c = controller();
        let mut commands = 0;
        for k in 0..28 * 96 {
            let now = start + k * STEP;
            for z in 0..ZONES {
                let reading = ZoneReading {
                    temperature_c: Some(19.5),
                    setpoint_c: Some(19.0),
                    setpoint_at_ms: Some(now),
                    occupied: false,
                };
                c.observe(z, reading);
            }
            commands += c.step(now).commands.len();
        }
        commands
    });
}

#[divan::bench(sample_count = 5)]
fn closed_loop_month_8_zones(bencher: divan::Bencher) {
    let text = SCHOOL.replace("start = \"2019-01-07\"", "start = \"2019-12-02\"").replace("days = 56", "days = 28");
    let school = SimSettings::parse(&text, "school").expect("valid");
    bencher.bench(|| {
        let e = Emulator::new(school.clone()).expect("valid");
        closed_loop::run(e, Some(controller()), &[], school.steps).expect("runs").truth.plant_kwh
    });
}
