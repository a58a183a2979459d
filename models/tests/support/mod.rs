//! Loads the bundled Cambridge estate data for the models' tests, benchmarks and examples; `office`
//! plays an intermittently heated office.
#![allow(dead_code)]

pub mod office;

use sobre_models::daily::{Day, Fuel};
use sobre_models::hourly::HourObs;
use sobre_models::sufficiency::{daily_from_hours, Hour, Zeros};

const DATA: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../tests/data/cambridge_estates/");

/// Hours of one energy column, in UTC days (as eemeter reads the UTC index).
pub fn hours(file: &str, column: usize) -> Vec<(i32, Hour)> {
    let text = std::fs::read_to_string(format!("{DATA}{file}")).expect("bundled data");
    text.lines()
        .skip(1)
        .map(|line| {
            let cells: Vec<&str> = line.split(',').collect();
            let date = &cells[0][..10];
            let year: i32 = date[..4].parse().expect("year");
            let day = days_from_civil(year, date[5..7].parse().expect("month"), date[8..10].parse().expect("day"));
            let weekday = (day + 3).rem_euclid(7); // 1970-01-01 was a Thursday (3, Monday = 0)
            let number = |s: &str| s.parse::<f64>().ok();
            (year, Hour { day, weekend: weekday >= 5, energy: number(cells[column]), temp: number(cells[3]) })
        })
        .collect()
}

pub fn days_from_civil(y: i32, m: u32, d: u32) -> i64 {
    let y = i64::from(if m <= 2 { y - 1 } else { y });
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (i64::from(m) + 9) % 12;
    let doy = (153 * mp + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

pub fn year(all: &[(i32, Hour)], y: i32, fuel: Fuel) -> Vec<Day> {
    let hours: Vec<Hour> = all.iter().filter(|(year, _)| *year == y).map(|(_, h)| *h).collect();
    daily_from_hours(&hours, Zeros::of(fuel, false)).0
}

/// Hourly observations of one energy column in UTC, zeros as missing for electricity, short
/// temperature gaps interpolated; `(year, observation)`.
pub fn hourly_obs(file: &str, column: usize, fuel: Fuel) -> Vec<(i32, HourObs)> {
    let text = std::fs::read_to_string(format!("{DATA}{file}")).expect("bundled data");
    let rows: Vec<Vec<String>> = text.lines().skip(1).map(|l| l.split(',').map(str::to_string).collect()).collect();
    let mut temps: Vec<Option<f64>> = rows.iter().map(|r| r[3].parse().ok()).collect();
    sobre_models::sufficiency::interpolate(&mut temps);
    rows.iter()
        .zip(temps)
        .filter_map(|(r, temp)| {
            let energy: f64 = r[column].parse().ok()?;
            if fuel == Fuel::Electricity && energy == 0.0 {
                return None;
            }
            let (y, m, d): (i32, u32, u32) =
                (r[0][..4].parse().ok()?, r[0][5..7].parse().ok()?, r[0][8..10].parse().ok()?);
            let hour: i64 = r[0][11..13].parse().ok()?;
            let weekday = (days_from_civil(y, m, d) + 3).rem_euclid(7);
            let obs = HourObs { month: m as u8, tow: (weekday * 24 + hour) as u8, temp: temp?, energy, holiday: false };
            Some((y, obs))
        })
        .collect()
}

/// The repository's README.md, read when the test runs (editing it rebuilds nothing).
pub fn readme() -> String {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../README.md");
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// The README's one table row that starts with `start`.
pub fn readme_row(start: &str) -> String {
    let text = readme();
    let rows: Vec<&str> = text.lines().filter(|l| l.starts_with(start)).collect();
    assert_eq!(rows.len(), 1, "README.md: one row starts with {start:?}: {rows:#?}");
    rows[0].to_string()
}

#[path = "../../../tests/data/eemeter.rs"]
mod eemeter_figures;
// The benchmarks include this module too and do not compare with eemeter.
#[allow(unused_imports)]
pub use eemeter_figures::eemeter;

/// A percentage as the README writes it: `decimals` after the point, the minus sign −.
pub fn pct(fraction: f64, decimals: usize) -> String {
    format!("{:.decimals$} %", 100.0 * fraction).replace('-', "−")
}
