//! The daily and hourly models on real buildings against eemeter 4.1.1 (CalTRACK), as listed in
//! tests/data/README.md: baseline 2018, reporting 2019 and 2020; and the README's table of both.

use sobre_models::daily::{fit_daily, DailyOptions, Fuel};
use sobre_models::savings::{backtest, savings};
use sobre_models::stats::lag1_autocorrelation;
mod support;

use support::{hourly_obs, hours, year};

struct Result {
    cv_rmse: f64,
    nmbe_2019: f64,
    savings_2020: f64,
}

fn run(file: &str, column: usize, fuel: Fuel) -> Result {
    let all = hours(file, column);
    let baseline = year(&all, 2018, fuel);
    let fit = fit_daily(&baseline, &DailyOptions::new(fuel)).expect("baseline fits");
    let residuals: Vec<Option<f64>> =
        baseline.iter().map(|d| Some(d.energy - fit.model.predict(d.temp, d.weekend))).collect();
    let rho = lag1_autocorrelation(&residuals);
    let period = |y: i32| {
        let days = year(&all, y, fuel);
        let predicted: Vec<f64> = days.iter().map(|d| fit.model.predict(d.temp, d.weekend)).collect();
        let metered: Vec<f64> = days.iter().map(|d| d.energy).collect();
        savings(&fit.metrics, rho, &predicted, &metered)
    };
    let (s2019, s2020) = (period(2019), period(2020));
    eprintln!(
        "{file} {fuel:?}: {:?} {:?} bp {:?}/{:?} cv {:.4} nmbe {:.4} | 2019 nmbe {:.4} savings {:.4} | 2020 savings {:.4} ±{:.0} (90 %) of {:.0}, rho {rho:.2}",
        fit.model.form, fit.model.day_types, fit.model.heating_balance_c, fit.model.cooling_balance_c,
        fit.metrics.cv_rmse, fit.metrics.nmbe, s2019.reporting.nmbe, s2019.savings_pct, s2020.savings_pct, s2020.interval90_kwh, s2020.savings_kwh
    );
    Result { cv_rmse: fit.metrics.cv_rmse, nmbe_2019: s2019.reporting.nmbe, savings_2020: s2020.savings_pct }
}

/// How far sobre's figures on the Cambridge data may stand from eemeter's, in points of
/// percentage (0.003: 0.3 point), for each figure compared: the baseline's CV(RMSE), the 2019
/// NMBE and the 2020 savings. eemeter publishes one decimal (±0.05 point), and the two are
/// separate implementations of CalTRACK's methods that choose balance points and model forms
/// each in its own way, so fits of the same days differ by a few tenths of a point: the widest
/// gap is building 64's gas CV(RMSE), 0.26 point above eemeter's published 9.2 %. Within this
/// the figure is eemeter's; sobre is not claimed to beat it.
const FROM_EEMETER: f64 = 0.003;

/// sobre's figures for `series` within `FROM_EEMETER` of eemeter's (tests/data/README.md), and
/// the README's table giving both as they are.
fn within_eemeter(series: &str, readme_series: &str, r: &Result) {
    let [cv, _, nmbe_2019, savings_2020] = support::eemeter(series);
    for (what, sobre, eemeter) in [
        ("CV(RMSE)", r.cv_rmse, cv),
        ("2019 NMBE", r.nmbe_2019, nmbe_2019),
        ("2020 savings", r.savings_2020, savings_2020),
    ] {
        assert!(
            (sobre - eemeter).abs() <= FROM_EEMETER,
            "{series}: {what} {sobre:.4}, eemeter {eemeter:.3}: more than {FROM_EEMETER} apart"
        );
    }
    let row = support::readme_row(&format!("| {readme_series} |"));
    let pct = support::pct;
    let cells = format!(
        "| {} / {} | {} / {} | {} / {} |",
        pct(r.cv_rmse, 2),
        pct(cv, 1),
        pct(r.nmbe_2019, 2),
        pct(nmbe_2019, 1),
        pct(r.savings_2020, 1),
        pct(savings_2020, 1)
    );
    assert!(row.ends_with(&cells), "README.md: {row:?}; this run: {cells:?}");
}

#[test]
fn building_33_electricity_daily_is_within_0_3_points_of_eemeter() {
    let r = run("ucam_b33_hourly.csv", 1, Fuel::Electricity);
    within_eemeter("b33 electricity, daily", "b33 electricity, daily", &r);
}

#[test]
fn building_64_gas_daily_is_within_0_3_points_of_eemeter() {
    let r = run("ucam_b64_hourly.csv", 2, Fuel::Gas);
    within_eemeter("b64 gas, daily", "b64 gas, daily", &r);
}

/// Injects a known saving (3–15 %) into windows of 60–180 days of building 33's 2019 data and
/// estimates it against the 2018 baseline, with the interval from a backtest of the same model
/// fitted on 2017. Returns the shares of windows whose 90 % interval covers the truth (backtest,
/// and Guideline 14 for comparison), and the mean error as a fraction of the baseline prediction.
fn injected_savings(trials: u32) -> (f64, f64, f64) {
    let all = hours("ucam_b33_hourly.csv", 1);
    let options = DailyOptions::new(Fuel::Electricity);
    let baseline = year(&all, 2018, Fuel::Electricity);
    let fit = fit_daily(&baseline, &options).expect("baseline");
    let residuals: Vec<Option<f64>> =
        baseline.iter().map(|d| Some(d.energy - fit.model.predict(d.temp, d.weekend))).collect();
    let rho = lag1_autocorrelation(&residuals);
    let prior = fit_daily(&year(&all, 2017, Fuel::Electricity), &options).expect("prior year");
    let backtest_errors: Vec<f64> =
        baseline.iter().map(|d| prior.model.predict(d.temp, d.weekend) - d.energy).collect();
    let baseline_kwh: f64 = baseline.iter().map(|d| d.energy).sum();
    let reporting = year(&all, 2019, Fuel::Electricity);

    let mut rng = fastrand::Rng::with_seed(2019);
    let (mut covered, mut covered_gl14, mut errors) = (0, 0, 0.0);
    for _ in 0..trials {
        let fraction = 0.03 + 0.12 * rng.f64();
        let start = rng.usize(0..reporting.len() - 60);
        let len = rng.usize(60..=(reporting.len() - start).min(180));
        let window = &reporting[start..start + len];
        let predicted: Vec<f64> = window.iter().map(|d| fit.model.predict(d.temp, d.weekend)).collect();
        let metered: Vec<f64> = window.iter().map(|d| d.energy * (1.0 - fraction)).collect();
        let truth: f64 = window.iter().map(|d| d.energy * fraction).sum();
        let gl14 = savings(&fit.metrics, rho, &predicted, &metered);
        let s = gl14.with_backtest(backtest(&backtest_errors, baseline_kwh, len).expect("2017 is comparable to 2018"));
        covered += u32::from((s.savings_kwh - truth).abs() <= s.interval90_kwh);
        covered_gl14 += u32::from((s.savings_kwh - truth).abs() <= s.gl14_interval90_kwh);
        errors += (s.savings_kwh - truth) / s.baseline_kwh;
    }
    let share = |n: u32| f64::from(n) / f64::from(trials);
    (share(covered), share(covered_gl14), errors / f64::from(trials))
}

/// Given real 2019 data and its 2018 baseline, When a known saving is injected from random
/// dates, Then the estimate recovers it (the error is the model's own year-ahead drift; eemeter:
/// 2019 NMBE −1.3 %), and the 90 % interval covers the truth for at least 85 % of the dates.
/// The Guideline 14 interval alone covers far fewer (printed): it holds the model's random
/// error, not the building's drift from one year to the next.
#[test]
fn injected_savings_are_recovered_within_the_90_percent_interval() {
    let (coverage, coverage_gl14, mean_error) = injected_savings(200);
    eprintln!("coverage: backtest {coverage:.2}, Guideline 14 alone {coverage_gl14:.2}; mean error {mean_error:.4}");
    assert!(mean_error.abs() < 0.02, "mean error {mean_error:.4} of the baseline");
    assert!(coverage >= 0.85, "the 90 % interval covered the truth in {coverage:.2} of injections");
}

#[test]
fn building_33_electricity_hourly_is_within_0_3_points_of_eemeter() {
    use sobre_models::hourly::fit_hourly;
    let all = hourly_obs("ucam_b33_hourly.csv", 1, Fuel::Electricity);
    let of_year = |y: i32| all.iter().filter(|(year, _)| *year == y).map(|(_, o)| *o).collect::<Vec<_>>();
    let fit = fit_hourly(&of_year(2018)).expect("baseline fits");
    let compare = |y: i32| {
        let obs = of_year(y);
        let (metered, predicted): (Vec<f64>, Vec<f64>) =
            obs.iter().filter_map(|o| Some((o.energy, fit.model.predict(o)?))).unzip();
        savings(&fit.metrics, 0.0, &predicted, &metered)
    };
    let (s2019, s2020) = (compare(2019), compare(2020));
    eprintln!(
        "hourly b33: cv {:.4} nmbe {:.4} p {} | 2019 nmbe {:.4} | 2020 savings {:.4}",
        fit.metrics.cv_rmse, fit.metrics.nmbe, fit.metrics.p, s2019.reporting.nmbe, s2020.savings_pct
    );
    let r = Result { cv_rmse: fit.metrics.cv_rmse, nmbe_2019: s2019.reporting.nmbe, savings_2020: s2020.savings_pct };
    within_eemeter("b33 electricity, hourly TOWT", "b33 electricity, hourly", &r);
}
