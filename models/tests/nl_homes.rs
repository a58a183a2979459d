//! The zone thermal model on real homes (tests/data/nl_homes_thermal): fitted on the first 70 %
//! of each series, it forecasts the last 30 % (days it did not see) from the measured inputs,
//! against persistence (tomorrow is like now), at 1 h, 6 h and 24 h.

use sobre_models::thermal::{fit_two_node, fit_zone, fit_zone_trajectories, forecast_errors, Order, ZoneStep};
mod support;

const DATA: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../tests/data/nl_homes_thermal/");
const HORIZONS: [usize; 3] = [4, 24, 96];

fn steps(file: &str) -> Vec<ZoneStep> {
    let text = std::fs::read_to_string(format!("{DATA}{file}")).expect("bundled data");
    text.lines()
        .skip(1)
        .map(|line| {
            let hour: u8 = line[11..13].parse().expect("hour");
            let c: Vec<f64> = line.split(',').skip(1).map(|v| v.parse().expect("number")).collect();
            // Ps, Ta, yTi, Thm
            ZoneStep { indoor: c[2], outdoor: c[1], solar: c[0], heating: c[3], hour, occupancy: 0.0 }
        })
        .collect()
}

/// `(horizon in steps, model RMSE, persistence RMSE)`, K.
type Errors = Vec<(usize, f64, f64)>;

/// The three fits of one home, each with its forecast errors.
fn evaluate(file: &str) -> Vec<(&'static str, Errors)> {
    let all = steps(file);
    let split = all.len() * 7 / 10;
    let (train, test) = all.split_at(split);
    let fits = [
        ("1R1C one-step", fit_zone(train, 0.25, Order::R1C1)),
        ("2R2C one-step", fit_zone(train, 0.25, Order::R2C2)),
        ("1R1C trajectories", fit_zone_trajectories(train, 0.25, 96)),
    ];
    let show = |name: &str, tau: f64, errors: &Errors| {
        eprintln!(
            "{file} {name}: τ {tau:.1} h; RMSE model / persistence: {}",
            errors.iter().map(|(h, m, p)| format!("{} h {m:.2} / {p:.2} K", h / 4)).collect::<Vec<_>>().join(", ")
        );
    };
    let mut results: Vec<(&'static str, Errors)> = fits
        .into_iter()
        .map(|(name, model)| {
            let model = model.expect("physical fit");
            let errors = forecast_errors(&model, test, &HORIZONS);
            show(name, model.time_constant_hours, &errors);
            (name, errors)
        })
        .collect();
    let two_node = fit_two_node(train, 0.25, 96).expect("physical 2R2C");
    let errors = forecast_errors(&two_node, test, &HORIZONS);
    show("2R2C trajectories", two_node.time_constant_hours(), &errors);
    eprintln!("  {two_node:?}");
    results.push(("2R2C trajectories", errors));
    results
}

/// Given a home's first 70 %, When the zone model (the state-space 2R2C fitted on trajectories)
/// forecasts the rest from measured inputs, Then it beats persistence at 6 h and 24 h on both
/// homes. The simpler forms are reported beside it; they lose at 24 h on home 1. And the
/// README's table gives each form's errors as they are.
#[test]
fn the_zone_model_beats_persistence_at_6_and_24_hours_on_unseen_days() {
    for (home, file) in [(1, "blg_1_15min.csv"), (2, "blg_2_15min.csv")] {
        let results = evaluate(file);
        let (_, errors) = results.iter().find(|(name, _)| *name == "2R2C trajectories").expect("fitted");
        for (h, model, persistence) in errors.iter().filter(|(h, _, _)| *h >= 24) {
            assert!(model < persistence, "{file} at {} h: {model:.3} K vs persistence {persistence:.3} K", h / 4);
        }
        // (the README's name for each form, and whether it sets it in bold)
        let forms = [
            ("1R1C trajectories", "1R1C trajectories", false),
            ("2R2C one-step", "2R2C one-step", false),
            ("2R2C trajectories", "3R2C state-space, trajectories", true),
        ];
        for (name, shown, bold) in forms {
            let (_, errors) = results.iter().find(|(n, _)| *n == name).expect("fitted");
            let b = if bold { "**" } else { "" };
            let cells: Vec<String> = errors.iter().map(|(_, m, p)| format!("{b}{m:.2} / {p:.2}{b}")).collect();
            let row = format!("| {home} | {b}{shown}{b} | {} |", cells.join(" | "));
            let readme = support::readme();
            assert!(readme.lines().any(|l| l == row), "README.md's row for home {home}, {shown}: this run {row:?}");
        }
    }
}
