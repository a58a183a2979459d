//! Baselines fitted on what the store holds: the CalTRACK hourly model of one energy point
//! against the outdoor temperature, with its Guideline 14 verdict and the lag-1
//! autocorrelation of its residuals (which widens the savings interval).

use crate::store::rollup::Resolution;
use crate::store::{Store, StoreError};
use chrono::{Datelike, Timelike};
use chrono_tz::Tz;
use sobre_models::hourly::{fit_hourly, HourObs, HourlyModel};
use sobre_models::metrics::{gl14, Metrics, Resolution as Gl14Resolution};
use sobre_models::stats::lag1_autocorrelation;
use std::collections::HashMap;

/// One baseline per energy point, or why there is none.
pub type Fits = Vec<(String, Result<Baseline, String>)>;

#[derive(Debug, Clone)]
pub struct Baseline {
    pub model: HourlyModel,
    pub metrics: Metrics,
    pub rho: f64,
    pub gate_pass: bool,
}

/// Hours of `point` in `[from_ms, to_ms)` that have both energy and an outdoor temperature,
/// keyed by the hour's start, in the site's calendar.
pub fn hours(
    store: &Store,
    tz: Tz,
    point: &str,
    outdoor: &str,
    (from_ms, to_ms): (i64, i64),
) -> Result<Vec<(i64, HourObs)>, StoreError> {
    let temps: HashMap<i64, f64> = store.buckets(outdoor, Resolution::Hour)?.into_iter().collect();
    Ok(store
        .buckets(point, Resolution::Hour)?
        .into_iter()
        .filter(|(bucket, _)| (from_ms..to_ms).contains(bucket))
        .filter_map(|(bucket, energy)| {
            let temp = *temps.get(&bucket)?;
            let local = chrono::DateTime::from_timestamp_millis(bucket)?.with_timezone(&tz);
            let tow = local.weekday().num_days_from_monday() * 24 + local.hour();
            Some((bucket, HourObs { month: local.month() as u8, tow: tow as u8, temp, energy }))
        })
        .collect())
}

/// Fits a baseline for each of `points` on `period`; a point whose hours cannot be read gets
/// the reason instead, like one with too little data.
pub fn fit_each(store: &Store, tz: Tz, points: &[String], outdoor: &str, period: (i64, i64)) -> Fits {
    points
        .iter()
        .map(|point| {
            let fit = hours(store, tz, point, outdoor, period).map_err(|e| e.to_string()).and_then(|h| fit(&h));
            (point.clone(), fit)
        })
        .collect()
}

/// Fits the baseline on `hours`; `Err` says why there is none.
pub fn fit(hours: &[(i64, HourObs)]) -> Result<Baseline, String> {
    let obs: Vec<HourObs> = hours.iter().map(|(_, o)| *o).collect();
    let fit = fit_hourly(&obs).map_err(|e| e.to_string())?;
    let residuals: Vec<Option<f64>> = obs.iter().map(|o| fit.model.predict(o).map(|p| o.energy - p)).collect();
    Ok(Baseline {
        rho: lag1_autocorrelation(&residuals),
        gate_pass: gl14(Gl14Resolution::Hourly, &fit.metrics).pass,
        metrics: fit.metrics,
        model: fit.model,
    })
}

#[cfg(test)]
/// A baseline fitted on five weeks of hours whose energy follows the temperature, with `noise`
/// kWh of pseudo-random scatter around it.
pub(crate) fn with_scatter(noise: f64) -> Baseline {
    let mut seed = 7_u64;
    let hours: Vec<(i64, sobre_models::hourly::HourObs)> = (0..35 * 24)
        .map(|h| {
            seed = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
            let scatter = noise * ((seed >> 33) as f64 / (1_u64 << 31) as f64 - 0.5);
            let temp = 5.0 + 5.0 * ((h % 24) as f64 / 24.0 * std::f64::consts::TAU).sin();
            let energy = (20.0 + 2.0 * (15.0 - temp) + scatter).max(0.0);
            let obs = sobre_models::hourly::HourObs { month: 1, tow: (h % 168) as u8, temp, energy };
            (h as i64 * 3_600_000, obs)
        })
        .collect();
    fit(&hours).expect("a fit")
}
