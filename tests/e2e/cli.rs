//! `sobre check` and `sobre --version`, as an integrator runs them.

use crate::support::readme;
use std::process::Command;

fn sobre(args: &[&str]) -> (i32, String, String) {
    let out = crate::support::output(Command::new(env!("CARGO_BIN_EXE_sobre")).args(args), "sobre");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into(),
        String::from_utf8_lossy(&out.stderr).into(),
    )
}

#[test]
fn check_summarises_a_valid_config() {
    let example = concat!(env!("CARGO_MANIFEST_DIR"), "/../config/example.toml");
    let (code, out, err) = sobre(&["check", example]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("is valid"), "{out}");
    assert!(out.contains("ecole-jaures") && out.contains("points    7"), "{out}");
    assert!(out.contains("main_elec") && out.contains("tasmota /ENERGY/Total"), "{out}");
    assert!(out.contains("class1             presence class1_occupancy"), "{out}");
    assert!(out.contains("timetable          Mon Tue Wed Thu Fri 08:00–17:00, closed on 10 holiday periods"), "{out}");
}

#[test]
fn check_names_the_key_the_value_and_the_fix() {
    let dir = tempfile::tempdir().expect("tempdir");
    let table = [
        ("unknown key", "[site]\nid = \"s\"\ntimezone = \"UTC\"\ncolour = \"red\"\n", "colour"),
        ("not TOML", "[site\n", "TOML parse error"),
        (
            "bad unit",
            "[site]\nid = \"s\"\ntimezone = \"UTC\"\n[[points]]\nid = \"t\"\nkind = \"zone_temperature\"\nunit = \"kWh\"\ntopic = \"x\"\n",
            "points[0].unit: found \"kWh\"; a zone_temperature point accepts °C, °F, K",
        ),
    ];
    for (name, text, fragment) in table {
        let path = dir.path().join("broken.toml");
        std::fs::write(&path, text).expect("write");
        let (code, _, err) = sobre(&["check", path.to_str().expect("utf-8 path")]);
        assert_eq!(code, 2, "{name}: {err}");
        assert!(err.contains(fragment), "{name}: {err}");
    }
    let (code, _, err) = sobre(&["check", "/nonexistent/sobre.toml"]);
    assert_eq!(code, 2);
    assert!(err.contains("cannot read /nonexistent/sobre.toml"), "{err}");
}

#[test]
fn version_is_printed() {
    let (code, out, _) = sobre(&["--version"]);
    assert_eq!(code, 0);
    assert_eq!(out.trim(), format!("sobre {}", env!("CARGO_PKG_VERSION")));
}

#[test]
fn fit_prints_the_json_contract_on_real_data() {
    let csv = concat!(env!("CARGO_MANIFEST_DIR"), "/../tests/data/cambridge_estates/ucam_b33_hourly.csv");
    let (code, out, err) = sobre(&[
        "fit",
        "--csv",
        csv,
        "--time-column",
        "timestamp_utc",
        "--energy-column",
        "elec_kwh",
        "--temperature-column",
        "temp_c",
        "--model",
        "daily",
        "--baseline",
        "2018-01-01..2018-12-31",
        "--reporting",
        "2020-01-01..2020-12-31",
        "--json",
    ]);
    assert_eq!(code, 0, "{err}");
    let v: serde_json::Value = serde_json::from_str(&out).expect("one JSON object");
    // Given a baseline and a reporting period, the fields the issue names are there, as plain numbers
    for key in ["n", "p", "cv_rmse", "nmbe", "r2"] {
        assert!(v["baseline"][key].is_number(), "baseline.{key}: {v}");
    }
    assert_eq!(v["baseline"]["gl14_pass"], true);
    for key in [
        "metered_kwh",
        "baseline_kwh",
        "savings_kwh",
        "savings_pct",
        "interval68_kwh",
        "interval90_kwh",
        "cv_rmse",
        "nmbe",
    ] {
        assert!(v["reporting"][key].is_number(), "reporting.{key}: {v}");
    }
    assert!(v["warnings"].is_array() && v["model"]["form"].is_string());
    // And the figures are the building's: 2020 (COVID-19 closures) saved about a fifth
    let pct = v["reporting"]["savings_pct"].as_f64().expect("fraction");
    assert!((0.2..0.23).contains(&pct), "{pct}");
    let (i68, i90) = (
        v["reporting"]["interval68_kwh"].as_f64().unwrap_or(0.0),
        v["reporting"]["interval90_kwh"].as_f64().unwrap_or(0.0),
    );
    assert!(0.0 < i68 && i68 < i90, "{i68} {i90}");
    assert!(!v["reporting"]["non_routine"].as_array().expect("array").is_empty(), "the lockdown is flagged");
    // 2017 precedes the baseline: the interval comes from a year-ahead backtest, wider than
    // Guideline 14's, which is still given
    assert_eq!(v["reporting"]["interval_method"], "backtest");
    // Per month and per day too, adding up to the period
    let months = v["reporting"]["monthly"].as_array().expect("monthly");
    assert_eq!(months.len(), 12);
    let days = v["reporting"]["daily"].as_array().expect("daily");
    let sum =
        |rows: &[serde_json::Value]| rows.iter().map(|m| m["savings_kwh"].as_f64().unwrap_or(f64::NAN)).sum::<f64>();
    let total = v["reporting"]["savings_kwh"].as_f64().expect("number");
    assert!((sum(months) - total).abs() < 1e-6 * total.abs() && (sum(days) - total).abs() < 1e-6 * total.abs());
    assert!(i90 > v["reporting"]["gl14_interval90_kwh"].as_f64().expect("number"));
}

/// How far sobre's figures on the Cambridge data may stand from eemeter's (0.003: 0.3 point of
/// percentage), as in `models/tests/cambridge.rs`: eemeter publishes one decimal, and the two
/// implement CalTRACK's methods each in its own way, so their fits of the same data differ by a
/// few tenths of a point. Within this the figure is eemeter's; sobre is not claimed to beat it.
const FROM_EEMETER: f64 = 0.003;

#[test]
fn fit_hourly_measures_the_savings_eemeter_measures_within_0_3_points() {
    let csv = concat!(env!("CARGO_MANIFEST_DIR"), "/../tests/data/cambridge_estates/ucam_b33_hourly.csv");
    let (code, out, err) = sobre(&[
        "fit",
        "--csv",
        csv,
        "--energy-column",
        "elec_kwh",
        "--temperature-column",
        "temp_c",
        "--model",
        "hourly",
        "--baseline",
        "2018-01-01..2018-12-31",
        "--reporting",
        "2020-01-01..2020-12-31",
        "--json",
    ]);
    assert_eq!(code, 0, "{err}");
    let v: serde_json::Value = serde_json::from_str(&out).expect("one JSON object");
    assert_eq!(v["model"]["kind"], "hourly");
    assert_eq!(v["model"]["months"].as_array().map(Vec::len), Some(12));
    assert_eq!(v["baseline"]["n"], 8760);
    assert_eq!(v["baseline"]["gl14_pass"], true);
    // eemeter 4.1.1 (CalTRACK hourly) on the same data: 22.1 % savings in 2020
    let [.., reference] = readme::eemeter("b33 electricity, hourly TOWT");
    let pct = v["reporting"]["savings_pct"].as_f64().expect("fraction");
    assert!((pct - reference).abs() <= FROM_EEMETER, "2020 savings {pct:.4}; eemeter {reference}");
}

#[test]
fn fit_refuses_bad_arguments_clearly() {
    let csv = concat!(env!("CARGO_MANIFEST_DIR"), "/../tests/data/cambridge_estates/ucam_b33_hourly.csv");
    let table: [(&[&str], &str); 3] = [
        (
            &["--energy-column", "steam_kwh", "--temperature-column", "temp_c", "--baseline", "2018-01-01..2018-12-31"],
            "no column \"steam_kwh\"",
        ),
        (
            &["--energy-column", "elec_kwh", "--temperature-column", "temp_c", "--baseline", "2018-12-31..2018-01-01"],
            "ends before it starts",
        ),
        (
            &["--energy-column", "elec_kwh", "--temperature-column", "temp_c", "--baseline", "2016-01-01..2016-01-10"],
            "usable days",
        ),
    ];
    for (args, fragment) in table {
        let mut all = vec!["fit", "--csv", csv];
        all.extend_from_slice(args);
        let (code, _, err) = sobre(&all);
        assert_ne!(code, 0, "{args:?}");
        assert!(err.contains(fragment), "{args:?}: {err}");
    }
}

#[test]
fn the_demo_tells_a_facility_manager_what_the_school_used_and_what_the_agent_learned() {
    // Given a fresh machine (no building broker, no config): When a new user runs the README's
    // first command (here with the store kept and the reports sent to a broker of the test's,
    // for the other tests that read them: one run for all)
    let out = &crate::demo::demo().stdout;
    // Then every device message reached the store and nothing was refused
    let stored = out.lines().find(|l| l.starts_with("simulated 5376 steps")).unwrap_or_else(|| panic!("{out}"));
    assert!(stored.contains("(0 rejected)"), "{stored}");
    // And the summary gives the energy with its cost and CO₂, a heating baseline that passes
    // Guideline 14, and a line per zone with comfort and a zone model
    let line = |start: &str| {
        out.lines().find(|l| l.trim_start().starts_with(start)).unwrap_or_else(|| panic!("{start} in {out}"))
    };
    let numbers = |l: &str| l.split_whitespace().filter_map(|w| w.parse::<f64>().ok()).collect::<Vec<_>>();
    let heating = numbers(line("heating_energy "));
    assert!(heating[0] > 1000.0 && (heating[1] / heating[0] - 0.20).abs() < 1e-2, "kWh and € at 0.20: {heating:?}");
    let baseline = out.lines().filter(|l| l.contains("heating_energy") && l.contains("CV(RMSE)")).collect::<Vec<_>>();
    assert!(baseline.len() == 1 && baseline[0].contains("passes Guideline 14"), "{out}");
    for zone in ["class-1", "class-4", "hall", "office", "gym", "library"] {
        let z = numbers(line(zone));
        assert!(z.len() >= 9, "{zone}: occupied, empty, demand, K·h, τ, 6 h and 24 h errors: {z:?}");
        assert!((20.0..22.5).contains(&z[0]), "{zone} occupied at {} °C: the poorly tuned school is warm", z[0]);
        assert!(z[5] < z[6], "{zone}: the zone model beats persistence at 6 h: {z:?}");
    }
    // And what it prints is what the README shows of it, line for line ("..." stands for the
    // lines the README leaves out)
    let readme = readme::text();
    for start in ["What sobre measured", "Reports the city's broker received"] {
        let block = readme.split("```").find(|b| b.trim_start().starts_with(start)).expect("the README shows it");
        for shown in block.lines().map(str::trim_end).filter(|l| !l.is_empty() && l.trim() != "...") {
            assert!(out.lines().any(|l| l.trim_end() == shown), "README.md shows {shown:?}; the demo printed:\n{out}");
        }
    }
}
