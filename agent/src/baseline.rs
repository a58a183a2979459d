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
            let obs = sobre_models::hourly::HourObs { month: 1, tow: (h % 168) as u8, temp, energy, holiday: false };
            (h as i64 * 3_600_000, obs)
        })
        .collect();
    fit(&hours).expect("a fit")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Settings;
    use crate::reading::{EnergySpan, Reading, Record};

    const H: i64 = 3_600_000;
    // 2024-12-23T00:00:00Z, a Monday.
    const MONDAY: i64 = 1_734_912_000_000;

    #[test]
    fn the_sites_holidays_reach_the_hourly_baseline_as_local_days() {
        // Given a site in Paris closed on 24 and 25 December, and two days of hourly energy
        // and outdoor temperature from Monday 23 December 00:00 UTC
        let settings = Settings::parse(
            r#"
[site]
id = "s"
timezone = "Europe/Paris"
holidays = [["2024-12-24", "2024-12-25"]]
[[points]]
id = "outdoor"
kind = "outdoor_temperature"
unit = "°C"
topic = "o"
[[points]]
id = "gas"
kind = "energy"
fuel = "gas"
unit = "kWh"
topic = "g"
cumulative = false
interval = "1h"
"#,
            "test",
        )
        .expect("valid test config");
        let dir = tempfile::tempdir().expect("tempdir");
        let mut store =
            Store::open(&dir.path().join("sobre.db"), &settings.points, settings.site.timezone).expect("store opens");
        let batch: Vec<Record> = (0..48)
            .flat_map(|h| {
                let ts_ms = MONDAY + h * H;
                let energy = Some(EnergySpan { start_ms: ts_ms, end_ms: ts_ms + H, kwh: 10.0 });
                [
                    Record::Reading(Reading { point: 0, ts_ms, value: 5.0, energy: None }),
                    Record::Reading(Reading { point: 1, ts_ms, value: 10.0, energy }),
                ]
            })
            .collect();
        store.write(&batch).expect("write");
        // When the baseline reads its hours
        let hours = hours(&store, &settings.site, "gas", "outdoor", (MONDAY, MONDAY + 48 * H)).expect("hours");
        // Then the hours from the local 24 December on (23:00 UTC on the 23rd) are holidays,
        // keeping their hours of the week (Tuesday's, then Wednesday's first), and the Monday's
        // are not
        let holiday: Vec<i64> = hours.iter().filter(|(_, o)| o.holiday).map(|(t, _)| (t - MONDAY) / H).collect();
        assert_eq!(holiday, (23..48).collect::<Vec<_>>());
        assert!(hours.iter().filter(|(_, o)| o.holiday).all(|(_, o)| (24..=48).contains(&o.tow)));
    }
}
