//! A year of a 10-zone building at 15-minute steps: the physics alone, and the whole emulator
//! (timetable, thermostats, occupants, sensor noise, every device payload rendered) without
//! the broker. `cargo bench -p sobre-agent --bench sim`.

use sobre_agent::sim::{Emulator, SimSettings, SCHOOL};
use sobre_models::emulator::{Building, StepOutcome, ZoneDrive};

fn main() {
    divan::main();
}

/// The bundled school with two more classrooms, over all of 2019.
fn ten_zone_year() -> SimSettings {
    let text = SCHOOL.replace("start = \"2019-01-07\"", "start = \"2019-01-02\"").replace("days = 56", "days = 364")
        + "\n[[zones]]\nname = \"class-5\"\nuse = \"classroom\"\narea_m2 = 60\nneighbours = [\"class-6\"]\n\
           \n[[zones]]\nname = \"class-6\"\nuse = \"classroom\"\narea_m2 = 60\nneighbours = [\"library\"]\n";
    let settings = SimSettings::parse(&text, "ten zones").expect("valid");
    assert_eq!(settings.zones.len(), 10);
    settings
}

#[divan::bench(sample_count = 5)]
fn physics_year_10_zones(bencher: divan::Bencher) {
    let s = ten_zone_year();
    let drives: Vec<ZoneDrive> = vec![ZoneDrive { setpoint: 20.0, occupancy: 0.5 }; 10];
    bencher.bench(|| {
        let mut b = Building::new(s.zones.clone(), s.couplings.clone(), s.plant, 18.0).expect("valid");
        let mut out = StepOutcome::default();
        for k in 0..s.steps {
            let (outdoor, ghi) = s.weather.at(s.start_ms + k as i64 * 900_000);
            b.step(900.0, outdoor, ghi, &drives, &mut out).expect("steps");
        }
        out.heat_wh
    });
}

#[divan::bench(sample_count = 5)]
fn emulator_year_10_zones_with_payloads(bencher: divan::Bencher) {
    let s = ten_zone_year();
    bencher.bench(|| {
        let mut e = Emulator::new(s.clone()).expect("valid");
        let mut messages = Vec::with_capacity(32);
        let mut bytes = 0;
        while !e.is_done() {
            e.step().expect("steps");
            messages.clear();
            e.messages(&mut messages);
            bytes += messages.iter().map(|(_, p)| p.len()).sum::<usize>();
        }
        bytes
    });
}
