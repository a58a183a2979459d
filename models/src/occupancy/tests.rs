use super::synthetic::{play, Room, RoomUse, Series, Ventilation};
use super::*;

const QUARTERS_PER_DAY: usize = 96;

/// How a detection compares with the truth.
#[derive(Debug)]
struct Score {
    /// Share of the decided quarter-hours classified right.
    right: f64,
    /// Minutes between the truth's first arrival (last departure) of a day and the start (end)
    /// of the first (last) quarter-hour detected occupied: median and worst over the days both
    /// see someone.
    arrive_median: f64,
    arrive_worst: f64,
    leave_median: f64,
    leave_worst: f64,
    /// Occupied days with nobody detected; empty days with someone detected.
    missed_days: usize,
    false_days: usize,
    days: usize,
    arrivals: Vec<f64>,
    departures: Vec<f64>,
}

fn median(v: Vec<f64>) -> f64 {
    crate::stats::percentile(v, 0.5).unwrap_or(0.0)
}

fn score(series: &Series, d: &Detection) -> Score {
    let decided: Vec<(bool, bool)> =
        series.occupied.iter().zip(&d.occupied).filter_map(|(t, o)| Some((*t, (*o)?))).collect();
    let right = decided.iter().filter(|(t, o)| t == o).count() as f64 / decided.len().max(1) as f64;
    let days = series.occupied.len() / QUARTERS_PER_DAY;
    let (mut arrive, mut leave, mut missed_days, mut false_days) = (Vec::new(), Vec::new(), 0, 0);
    for day in 0..days {
        let quarters = &d.occupied[day * QUARTERS_PER_DAY..(day + 1) * QUARTERS_PER_DAY];
        let first = quarters.iter().position(|o| *o == Some(true));
        let last = quarters.iter().rposition(|o| *o == Some(true));
        match (series.visits.iter().find(|v| v.day == day), first, last) {
            (Some(v), Some(first), Some(last)) => {
                arrive.push((first as f64 * 15.0 - v.arrive_minute as f64).abs());
                leave.push(((last + 1) as f64 * 15.0 - v.leave_minute as f64).abs());
            }
            (Some(_), _, _) => missed_days += 1,
            (None, Some(_), _) => false_days += 1,
            (None, None, _) => {}
        }
    }
    let worst = |v: &[f64]| v.iter().copied().fold(0.0, f64::max);
    let (arrive_worst, leave_worst) = (worst(&arrive), worst(&leave));
    Score {
        right,
        arrive_median: median(arrive.clone()),
        arrive_worst,
        leave_median: median(leave.clone()),
        leave_worst,
        missed_days,
        false_days,
        days,
        arrivals: arrive,
        departures: leave,
    }
}

fn room(room_use: RoomUse, ventilation: Ventilation, noise_ppm: f64, seed: u64) -> Room {
    let area_m2 = match room_use {
        RoomUse::Office => 120.0,
        RoomUse::Classroom => 55.0,
        RoomUse::MeetingRoom => 30.0,
    };
    Room { room_use, ventilation, area_m2, noise_ppm, days: 42, seed }
}

/// The bounds a user can rely on, per room, ventilation and run, and over all of them.
const RIGHT_AT_LEAST: f64 = 0.93;
const MEDIAN_MINUTES_AT_MOST: f64 = 40.0;
const POOLED_MEDIAN_MINUTES_AT_MOST: f64 = 30.0;
/// Share of days where the detector and the truth disagree on whether anyone came at all.
const WRONG_DAYS_AT_MOST: f64 = 0.1;
/// Runs of each case, each with its own people and noise.
const RUNS: u64 = 3;

#[test]
fn co2_gives_occupancy_within_the_stated_error_under_every_ventilation() {
    let (mut arrivals, mut departures) = (Vec::new(), Vec::new());
    let (mut least_right, mut most_right) = (f64::INFINITY, 0.0_f64);
    for (n, room_use) in [RoomUse::Office, RoomUse::Classroom, RoomUse::MeetingRoom].into_iter().enumerate() {
        for (m, ventilation) in
            [Ventilation::Natural, Ventilation::Scheduled, Ventilation::DemandControlled].into_iter().enumerate()
        {
            for (noise, run) in [10.0, 30.0].into_iter().flat_map(|noise| (0..RUNS).map(move |run| (noise, run))) {
                // Given six weeks of a room's CO₂ from the mass balance, with noise and gaps
                let seed = (10 * n + m) as u64 + noise as u64 + 1000 * run;
                let series = play(&room(room_use, ventilation, noise, seed));
                // When the detector reads them, told nothing of the room
                let d = detect(&series.co2, 0.25);
                let s = score(&series, &d);
                println!(
                    "{room_use:?}, {ventilation:?}, σ {noise} ppm, run {run}: {:.1} % right; arrival {:.0} min (worst {:.0}), departure {:.0} min (worst {:.0}); {} missed and {} false days of {}; k {:.3}/h, confidence {:.2}",
                    100.0 * s.right,
                    s.arrive_median,
                    s.arrive_worst,
                    s.leave_median,
                    s.leave_worst,
                    s.missed_days,
                    s.false_days,
                    s.days,
                    d.decay_per_hour,
                    d.confidence,
                );
                // Then it is right on nearly every quarter-hour and close on arrivals and departures
                let case = format!("{room_use:?} {ventilation:?} σ {noise} run {run}: {s:?}");
                assert!(s.right >= RIGHT_AT_LEAST, "{case}");
                assert!(
                    s.arrive_median <= MEDIAN_MINUTES_AT_MOST && s.leave_median <= MEDIAN_MINUTES_AT_MOST,
                    "{case}"
                );
                assert!((s.missed_days + s.false_days) as f64 <= WRONG_DAYS_AT_MOST * s.days as f64, "{case}");
                assert!(d.decay_learned && d.confidence > 0.8, "{case}: {d:?}");
                (least_right, most_right) = (least_right.min(s.right), most_right.max(s.right));
                arrivals.extend(s.arrivals);
                departures.extend(s.departures);
            }
        }
    }
    // And over every room and ventilation, half the arrivals and departures are found within
    // half an hour
    let (arrive, leave) = (median(arrivals.clone()), median(departures.clone()));
    let share_within = |v: &[f64], minutes: f64| v.iter().filter(|e| **e <= minutes).count() as f64 / v.len() as f64;
    println!(
        "all: arrival {arrive:.0} min, departure {leave:.0} min; within 30 min: {:.0} % of arrivals, {:.0} % of departures; within 60 min: {:.0} %, {:.0} %",
        100.0 * share_within(&arrivals, 30.0),
        100.0 * share_within(&departures, 30.0),
        100.0 * share_within(&arrivals, 60.0),
        100.0 * share_within(&departures, 60.0),
    );
    assert!(arrive <= POOLED_MEDIAN_MINUTES_AT_MOST && leave <= POOLED_MEDIAN_MINUTES_AT_MOST, "{arrive} {leave}");
    // And the README states these figures as this run computes them
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../README.md")).unwrap_or_default();
    let readme = readme.split_whitespace().collect::<Vec<_>>().join(" ");
    for figure in [
        format!("{:.0}–{:.0} % of quarter-hours right", 100.0 * least_right, 100.0 * most_right),
        format!("arrivals within a median {arrive:.0} min and departures within {leave:.0} min"),
        format!(
            "({:.0} % and {:.0} % within half an hour)",
            100.0 * share_within(&arrivals, 30.0),
            100.0 * share_within(&departures, 30.0)
        ),
    ] {
        assert!(readme.contains(&figure), "README.md should say {figure:?}");
    }
}

/// A name, readings, a step (h), readings rejected, anything decided.
type Case = (&'static str, Vec<Option<f64>>, f64, usize, bool);

#[test]
fn bad_input_gives_nothing_known_or_counted_rejections() {
    let table: [Case; 4] = [
        // Given readings and a step, Then rejected readings and whether anything is decided
        ("no readings", vec![], 0.25, 0, false),
        ("a step of zero", vec![Some(420.0); 200], 0.0, 0, false),
        ("a NaN step", vec![Some(420.0); 200], f64::NAN, 0, false),
        (
            "NaN, negative and absurd readings",
            [vec![Some(f64::NAN), Some(-5.0), Some(1e9)], vec![Some(420.0); 200]].concat(),
            0.25,
            3,
            true,
        ),
    ];
    for (case, co2, step, rejected, decided) in table {
        // When the detector reads them
        let d = detect(&co2, step);
        // Then it does not crash, counts what it dropped, and decides only on what it can
        assert_eq!(d.occupied.len(), co2.len(), "{case}");
        assert_eq!(d.rejected, rejected, "{case}");
        assert_eq!(d.occupied.iter().any(|o| o.is_some()), decided, "{case}");
        assert!(d.occupied.iter().all(|o| *o != Some(true)), "{case}: nobody was in");
    }
}
