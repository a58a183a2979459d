//! `sobre fit --model hourly`: the time-of-week-and-temperature model on hours.

use super::output::print;
use super::{baseline_json, prior_year, reporting_json, with_interval, Period, Row};
use serde_json::json;
use sobre_models::hourly::{fit_hourly, HourObs};
use sobre_models::metrics::{gl14, Resolution};
use sobre_models::savings::{level_shifts, savings};
use sobre_models::stats::lag1_autocorrelation;
use sobre_models::sufficiency::{interpolate, Zeros};

/// Usable hours: energy present (zeros are missing unless they are readings), temperature
/// present after short gaps are interpolated. `None` keeps the gaps visible to the
/// autocorrelation.
fn observations(rows: &[Row], zeros: Zeros) -> (Vec<Option<HourObs>>, usize) {
    let mut temps: Vec<Option<f64>> = rows.iter().map(|r| r.hour.temp).collect();
    let interpolated = interpolate(&mut temps);
    let obs = rows
        .iter()
        .zip(temps)
        .map(|(r, temp)| {
            let energy = r.hour.energy.filter(|e| !(zeros == Zeros::Missing && *e == 0.0))?;
            Some(HourObs { month: r.month, tow: r.tow, temp: temp?, energy, holiday: r.holiday })
        })
        .collect();
    (obs, interpolated)
}

/// The baseline's zeros CalTRACK treats as missing, said, with the way out when they are many
/// (a meter whose plant is switched off reads real zeros).
fn zeros_warning(rows: &[Row], zeros: Zeros) -> Option<String> {
    if zeros != Zeros::Missing {
        return None;
    }
    let count = rows.iter().filter(|r| r.hour.energy == Some(0.0)).count();
    if count == 0 {
        return None;
    }
    let mut warning = format!(
        "{count} of {} baseline hours read 0 kWh and are treated as missing (CalTRACK's rule for electricity)",
        rows.len()
    );
    if count as f64 > 0.1 * rows.len() as f64 {
        warning.push_str(
            ": if the plant behind this meter is switched off at times, they are readings: pass --zeros-are-readings",
        );
    }
    Some(warning)
}

/// `rows_within` gives the CSV's rows inside a period; `warnings` are those of reading it.
pub fn run(
    args: &super::FitArgs,
    zeros: Zeros,
    rows_within: impl Fn(Period) -> Vec<Row>,
    mut warnings: Vec<String>,
) -> anyhow::Result<()> {
    let baseline_rows = rows_within(args.baseline);
    let (obs, interpolated) = observations(&baseline_rows, zeros);
    let usable: Vec<HourObs> = obs.iter().flatten().copied().collect();
    let fit = fit_hourly(&usable)?;
    let residuals: Vec<Option<f64>> =
        obs.iter().map(|o| o.and_then(|o| fit.model.predict(&o).map(|p| o.energy - p))).collect();
    let rho = lag1_autocorrelation(&residuals);
    let gate = gl14(Resolution::Hourly, &fit.metrics);
    warnings.extend(zeros_warning(&baseline_rows, zeros));
    if interpolated > 0 {
        warnings.push(format!("{interpolated} hourly temperatures interpolated across short gaps"));
    }
    let missing = obs.len() - usable.len();
    if missing > 0 {
        warnings.push(format!("{missing} baseline hours without energy or temperature left out"));
    }
    let mut disqualifications = Vec::new();
    // CalTRACK hourly: each calendar month of the baseline needs 90 % of its hours.
    let mut per_month: std::collections::BTreeMap<u8, (usize, usize)> = std::collections::BTreeMap::new();
    for (r, o) in baseline_rows.iter().zip(&obs) {
        let m = per_month.entry(r.month).or_default();
        m.0 += usize::from(o.is_some());
        m.1 += 1;
    }
    for (month, (good, all)) in per_month {
        if (good as f64) < 0.9 * all as f64 {
            disqualifications
                .push(format!("month {month}: {good} of {all} hours usable; CalTRACK requires 90 % per month"));
        }
    }
    if (usable.len() as f64) < 0.9 * obs.len() as f64 {
        disqualifications.push(format!(
            "{} of {} baseline hours usable; CalTRACK requires 90 %",
            usable.len(),
            obs.len()
        ));
    }
    if !fit.model.skipped_months.is_empty() {
        warnings.push(format!(
            "months {:?} have less than a week of data: no prediction for them",
            fit.model.skipped_months
        ));
    }
    let mut out = json!({
        "model": { "kind": "hourly", "months": fit.model.months },
        "baseline": baseline_json(args.baseline, &fit.metrics, rho, gate.pass),
    });
    if let Some(period) = args.reporting {
        let rows = rows_within(period);
        let (obs, _) = observations(&rows, zeros);
        let points: Vec<(i64, f64, f64)> = rows
            .iter()
            .zip(&obs)
            .filter_map(|(r, o)| o.as_ref().and_then(|o| Some((r.hour.day, fit.model.predict(o)?, o.energy))))
            .collect();
        let (predicted, metered): (Vec<f64>, Vec<f64>) = points.iter().map(|(_, p, m)| (*p, *m)).unzip();
        // A year-ahead backtest (only a reporting period needs it): the same model fitted on the
        // year before, over the baseline.
        let (prior, _) = observations(&rows_within(prior_year(args.baseline)), zeros);
        let prior: Vec<HourObs> = prior.into_iter().flatten().collect();
        let backtest_errors: Option<Vec<f64>> = (prior.len() >= 6000)
            .then(|| fit_hourly(&prior).ok())
            .flatten()
            .map(|p| usable.iter().filter_map(|o| Some(p.model.predict(o)? - o.energy)).collect());
        let metered_baseline: f64 = usable.iter().map(|o| o.energy).sum();
        let backtest = backtest_errors.as_deref().map(|e| (e, metered_baseline));
        let s = with_interval(savings(&fit.metrics, rho, &predicted, &metered), backtest, &mut warnings);
        let shifts = level_shifts(&fit.metrics, rho, &predicted, &metered, 28 * 24, 4.0);
        let shifts = shifts
            .iter()
            .map(|x| json!({"hour": x.start, "hours": x.len, "mean_residual_kwh": x.mean_residual, "z": x.z}))
            .collect();
        out["reporting"] = reporting_json(period, &s, "hours", points, shifts, &mut warnings);
    }
    out["warnings"] = json!(warnings);
    out["disqualifications"] = json!(disqualifications);
    print(&out, args.json);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use sobre_models::sufficiency::Hour;

    fn hours(zeros: usize, all: usize) -> Vec<Row> {
        (0..all)
            .map(|i| {
                let energy = Some(if i < zeros { 0.0 } else { 5.0 });
                Row { hour: Hour { day: 0, weekend: false, energy, temp: Some(5.0) }, month: 1, tow: 0, holiday: false }
            })
            .collect()
    }

    #[test]
    fn zeros_treated_as_missing_are_counted_and_many_of_them_point_to_zeros_are_readings() {
        let table = [
            // Given zeros among 100 hours and CalTRACK's rule or not, Then the warning
            (0, Zeros::Missing, None),
            (5, Zeros::Missing, Some("5 of 100 baseline hours read 0 kWh and are treated as missing")),
            (40, Zeros::Missing, Some("40 of 100 baseline hours read 0 kWh and are treated as missing (CalTRACK's rule for electricity): if the plant behind this meter is switched off at times, they are readings: pass --zeros-are-readings")),
            (40, Zeros::Readings, None),
        ];
        for (zeros, rule, expected) in table {
            // When the baseline's hours are looked at
            let found = zeros_warning(&hours(zeros, 100), rule);
            match (found.as_deref(), expected) {
                (None, None) => {}
                (Some(w), Some(want)) => {
                    assert!(w.starts_with(want), "{w}");
                    assert_eq!(w.contains("--zeros-are-readings"), zeros > 10, "{w}");
                }
                (found, expected) => panic!("{zeros} zeros: found {found:?}, expected {expected:?}"),
            }
        }
    }
}
