//! The CO₂ occupancy detector the advisor reads zones with (`sobre_models::occupancy`), checked
//! against the emulator's own occupancy: the office's BMS sensors (people who drift in and out,
//! a meeting room booked now and then) and the school's air-quality sensors (a timetable).

use super::{Emulator, SimSettings, OFFICE, SCHOOL};
use sobre_models::occupancy::{detect, DEPARTURE_EARLY_MIN};

/// How the detector did on one building, over every zone and quarter-hour.
#[derive(Debug)]
struct Score {
    /// Share of the decided quarter-hours it got right.
    right: f64,
    /// Median and 90th percentile of |detected − true| first arrival / last departure of a
    /// zone's day, minutes, over the zone-days someone came.
    arrival_min: (f64, f64),
    departure_min: (f64, f64),
    /// Medians of detected − true arrival and departure, minutes: positive, it sees people
    /// arrive or leave late.
    arrival_bias_min: f64,
    departure_bias_min: f64,
    zone_days: usize,
}

fn percentile(v: Vec<f64>, p: f64) -> f64 {
    sobre_models::stats::percentile(v, p).unwrap_or(f64::NAN)
}

/// Plays the building and scores the detector on the CO₂ each zone's sensor read, as the store
/// holds it: the reading at the end of a quarter-hour stands for the next bucket's start.
fn score(text: &str) -> Score {
    let mut e = Emulator::new(SimSettings::parse(text, "building").expect("valid building")).expect("physics");
    let zones = e.settings().zones.len();
    let (mut truth, mut co2) = (vec![Vec::new(); zones], vec![vec![None]; zones]);
    while !e.is_done() {
        for (z, t) in e.truth().zones.iter().enumerate() {
            truth[z].push(t.occupancy > 0.0);
        }
        e.step().expect("steps");
        for (z, r) in e.readings().zones.iter().enumerate() {
            co2[z].push(Some(r.co2_ppm));
        }
    }
    let (mut right, mut decided) = (0usize, 0usize);
    let (mut arrivals, mut departures) = (Vec::new(), Vec::new());
    let (mut arrived_late, mut left_late) = (Vec::new(), Vec::new());
    for (truth, co2) in truth.iter().zip(&co2) {
        let found = detect(&co2[..truth.len()], 0.25).occupied;
        for (t, f) in truth.iter().zip(&found) {
            if let Some(f) = f {
                decided += 1;
                right += usize::from(t == f);
            }
        }
        for (day, t) in truth.chunks(96).enumerate() {
            let f: Vec<bool> =
                found[day * 96..(day * 96 + t.len()).min(found.len())].iter().map(|f| f.unwrap_or(false)).collect();
            let (Some(a), Some(d)) = (t.iter().position(|x| *x), t.iter().rposition(|x| *x)) else { continue };
            let (fa, fd) = (f.iter().position(|x| *x), f.iter().rposition(|x| *x));
            // A day it saw nobody on counts as a whole day off.
            arrivals.push(fa.map_or(24.0 * 60.0, |fa| 15.0 * (fa as f64 - a as f64).abs()));
            departures.push(fd.map_or(24.0 * 60.0, |fd| 15.0 * (fd as f64 - d as f64).abs()));
            arrived_late.extend(fa.map(|fa| 15.0 * (fa as f64 - a as f64)));
            left_late.extend(fd.map(|fd| 15.0 * (fd as f64 - d as f64)));
        }
    }
    Score {
        right: right as f64 / decided.max(1) as f64,
        zone_days: arrivals.len(),
        arrival_bias_min: percentile(arrived_late, 0.5),
        departure_bias_min: percentile(left_late, 0.5),
        arrival_min: (percentile(arrivals.clone(), 0.5), percentile(arrivals, 0.9)),
        departure_min: (percentile(departures.clone(), 0.5), percentile(departures, 0.9)),
    }
}

#[test]
fn the_co2_detector_agrees_with_the_emulators_occupancy_in_the_office_and_the_school() {
    // Given the office's ten weeks (CO₂ per zone from its BMS) and the school's eight with an
    // air-quality sensor in each zone and no presence sensor
    let school = SCHOOL.replace("# presence = true", "presence = false").replace("# co2 = false", "co2 = true");
    for (building, text) in [("office", OFFICE.to_string()), ("school", school)] {
        // When the detector reads each zone's CO₂ alone
        let s = score(&text);
        println!("{building}: {s:?}");
        // Then most quarter-hours are right, and a zone's day starts and ends within half an
        // hour of the truth on a median day (the office's last half hour, its thinned staff
        // under a ventilation sized for all of them, is out of the CO₂'s reach), as the README
        // says
        assert!(s.right >= 0.95 && s.zone_days > 100, "{building}: {s:?}");
        assert!(s.arrival_min.0 <= 30.0 && s.departure_min.0 <= 30.0, "{building}: {s:?}");
        // (and on nine zone-days in ten no earlier than the advisor allows for when it reads a
        // programme's end from CO₂)
        assert!(s.departure_min.1 <= DEPARTURE_EARLY_MIN, "{building}: {s:?}");
        // (and never late: a median day's error is people still there when it says they left)
        assert!(s.departure_bias_min <= 0.0 && s.arrival_bias_min.abs() <= 15.0, "{building}: {s:?}");
        let line = format!(
            "| {building} | {:.1} % | {:.0} / {:.0} min | {:.0} / {:.0} min |",
            100.0 * s.right,
            s.arrival_min.0,
            s.arrival_min.1,
            s.departure_min.0,
            s.departure_min.1
        );
        assert!(super::readme::text().contains(&line), "README.md: {line:?}");
    }
}
