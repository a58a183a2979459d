//! A year of a real building, replayed through the broker with `sobre replay`: every valid
//! reading is stored, and the daily rollups equal the CSV's daily sums.

use crate::support::*;
use chrono::{DateTime, Utc};
use std::collections::BTreeMap;
use std::process::Command;

const CSV: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../tests/data/cambridge_estates/ucam_b33_2019.csv");
const UCAM: &str = include_str!("../../config/ucam-b33.toml");

/// Local (Europe/London) day → (elec, gas) sums, and the number of cells per column.
fn csv_daily_sums() -> (BTreeMap<String, (f64, f64)>, usize) {
    let mut days: BTreeMap<String, (f64, f64)> = BTreeMap::new();
    let mut rows = 0;
    let text = std::fs::read_to_string(CSV).expect("bundled CSV");
    for line in text.lines().skip(1) {
        let cells: Vec<&str> = line.split(',').collect();
        let ts: DateTime<Utc> = cells[0].parse().expect("timestamp");
        let day = ts.with_timezone(&chrono_tz::Europe::London).format("%Y-%m-%d").to_string();
        let entry = days.entry(day).or_default();
        entry.0 += cells[1].parse::<f64>().expect("elec");
        entry.1 += cells[2].parse::<f64>().expect("gas");
        rows += 1;
    }
    (days, rows)
}

#[test]
fn a_replayed_year_is_stored_whole_and_daily_rollups_equal_the_csv() {
    let broker = Mosquitto::start();
    // The bundled configuration's points, in event time.
    let points = &UCAM[UCAM.find("[[points]]").expect("points")..];
    let extra = "[agent]\nclock = \"event\"\n";
    let agent = Agent::start(broker.port, points, extra);
    let mqtt = Mqtt::connect(broker.port, &["sobre/test-site/status"]);
    mqtt.expect("sobre/test-site/status", |s| s["state"] == "online");

    // Given a year of hourly data, When `sobre replay` publishes it as fast as the broker takes it
    let out = output(
        Command::new(env!("CARGO_BIN_EXE_sobre")).args([
            "replay",
            CSV,
            "--port",
            &broker.port.to_string(),
            "--prefix",
            "replay/ucam-b33",
        ]),
        "sobre replay",
    );
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let (sums, rows) = csv_daily_sums();
    assert_eq!(rows, 8760);
    assert!(String::from_utf8_lossy(&out.stdout).contains(&format!("published {} readings", rows * 5)));

    // Then every reading of every column is stored
    let db = agent.db();
    wait_until("a year of readings", || db.count("SELECT count(*) FROM readings") == (rows * 5) as u64);
    for point in ["elec", "gas", "outdoor_temp", "outdoor_rh", "solar"] {
        assert_eq!(db.readings(point), rows as u64, "{point}");
    }
    assert_eq!(db.count("SELECT count(*) FROM rejections"), 0);

    // And the daily rollups (local days) equal the CSV's daily sums
    let stored = |point: &str| -> BTreeMap<String, f64> {
        db.rows(&format!("SELECT label, energy_kwh FROM rollups_view WHERE point = '{point}' AND resolution = '1d'"))
            .into_iter()
            .map(|r| (r[0].clone(), r[1].parse().expect("kWh")))
            .collect()
    };
    let (elec, gas) = (stored("elec"), stored("gas"));
    assert_eq!(elec.len(), sums.len(), "one rollup per local day");
    for (day, (e, g)) in &sums {
        assert!((elec[day] - e).abs() < 1e-6, "{day}: elec {} vs CSV {e}", elec[day]);
        assert!((gas[day] - g).abs() < 1e-6, "{day}: gas {} vs CSV {g}", gas[day]);
    }
    // With full coverage: every day's seconds are accounted for (23 h and 25 h days included)
    let short_day = db.number(
        "SELECT covered_s FROM rollups_view WHERE point = 'elec' AND resolution = '1d' AND label = '2019-03-31'",
    );
    assert_eq!(short_day, Some(23.0 * 3600.0));
}
