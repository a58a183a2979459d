//! Baselines fitted on what the store holds: the CalTRACK hourly model of one energy point
//! against the outdoor temperature, with its Guideline 14 verdict and the lag-1
//! autocorrelation of its residuals (which widens the savings interval). Hours are read in the
//! site's calendar: its time zone, and its holidays as a day type of their own.

use crate::config::Site;
use crate::store::rollup::Resolution;
use crate::store::{Store, StoreError};
use chrono::{Datelike, Timelike};
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
    site: &Site,
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
            let local = chrono::DateTime::from_timestamp_millis(bucket)?.with_timezone(&site.timezone);
            let tow = local.weekday().num_days_from_monday() * 24 + local.hour();
            let holiday = site.is_holiday(local.date_naive());
            Some((bucket, HourObs { month: local.month() as u8, tow: tow as u8, temp, energy, holiday }))
        })
        .collect())
}

/// Fits a baseline for each of `points` on `period`; a point whose hours cannot be read gets
/// the reason instead, like one with too little data.
pub fn fit_each(store: &Store, site: &Site, points: &[String], outdoor: &str, period: (i64, i64)) -> Fits {
    points
        .iter()
        .map(|point| {
            let fit = hours(store, site, point, outdoor, period).map_err(|e| e.to_string()).and_then(|h| fit(&h));
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
