//! Baselines fitted on what the store holds, for one energy point against the outdoor
//! temperature: the CalTRACK hourly model, or, where the hourly model fails Guideline 14 and a
//! daily one passes, the CalTRACK daily change-point model with day types (open days and closed
//! days: weekends and the site's holidays). A plant that is off at night and at weekends (an
//! office's gas boiler under a BMS) has hours that no hourly model predicts well, a warm-up at
//! 04:00 one day and 06:00 the next, while its days follow the weather closely: M&V practice
//! (CalTRACK's daily methods for gas) measures such a meter by the day. Each baseline carries its
//! Guideline 14 verdict at its own resolution and the lag-1 autocorrelation of its residuals
//! (which widens the savings interval). Hours and days are read in the site's calendar: its time
//! zone, and its holidays as a day type of their own.

use crate::config::Site;
use crate::store::rollup::{Calendar, Resolution};
use crate::store::{Store, StoreError};
use chrono::{Datelike, Timelike, Weekday};
use chrono_tz::Tz;
use sobre_models::daily::{fit_daily, mark_recoveries, DailyModel, DailyOptions, Day, Fuel, CLOSED_DAYS_RECOVERED};
use sobre_models::hourly::{fit_hourly, HourObs, HourlyModel};
use sobre_models::metrics::{gl14, Metrics, Resolution as Gl14Resolution};
use sobre_models::stats::lag1_autocorrelation;
use std::collections::{BTreeMap, HashMap};

/// One baseline per energy point, or why there is none.
pub type Fits = Vec<(String, Result<Baseline, String>)>;

const HOUR_MS: i64 = 3_600_000;

/// How far before a period the daily model reads: the closed days whose heat loss the period's
/// first open day recovers (a day more for the clocks changing).
const LOOKBACK_MS: i64 = (CLOSED_DAYS_RECOVERED as i64 + 1) * 24 * HOUR_MS;

/// The hours to read for what a baseline predicts of `period` ([`Baseline::predict`]): the
/// period and the look-back the daily model needs before it.
pub fn read_for(period: (i64, i64)) -> (i64, i64) {
    (period.0 - LOOKBACK_MS, period.1)
}

#[derive(Debug, Clone)]
pub enum Model {
    Hourly(HourlyModel),
    /// Days are read in `tz`, the site's time zone.
    Daily {
        model: DailyModel,
        tz: Tz,
    },
}

#[derive(Debug, Clone)]
pub struct Baseline {
    pub model: Model,
    pub metrics: Metrics,
    pub rho: f64,
    pub gate_pass: bool,
    /// When the daily model was chosen, what the hourly one scored (its CV(RMSE) and NMBE):
    /// why the baseline is daily.
    pub hourly_rejected: Option<Metrics>,
}

/// One hour (hourly model) or one complete local day (daily model) the baseline predicts.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Predicted {
    pub start_ms: i64,
    /// Hours it covers.
    pub hours: u32,
    pub predicted: f64,
    pub metered: f64,
}

impl Baseline {
    /// `baseline-hourly` or `baseline-daily`, as the reports and the register name them.
    pub fn name(&self) -> &'static str {
        match self.model {
            Model::Hourly(_) => "baseline-hourly",
            Model::Daily { .. } => "baseline-daily",
        }
    }

    pub fn resolution(&self) -> Gl14Resolution {
        match self.model {
            Model::Hourly(_) => Gl14Resolution::Hourly,
            Model::Daily { .. } => Gl14Resolution::Daily,
        }
    }

    /// Hours a reporting point holds: what the level-shift search calls a day.
    pub fn points_per_day(&self) -> usize {
        match self.model {
            Model::Hourly(_) => 24,
            Model::Daily { .. } => 1,
        }
    }

    /// What the baseline predicts of the hours of `hours` in `period`: each hour it has a model
    /// for (none of a month the hourly model did not see), or each complete local day. `hours`
    /// should be those of [`read_for`] the period: the daily model reads the closed days before
    /// an open one.
    pub fn predict(&self, hours: &[(i64, HourObs)], period: (i64, i64)) -> Vec<Predicted> {
        let mut predicted = self.predict_all(hours);
        predicted.retain(|p| (period.0..period.1).contains(&p.start_ms));
        predicted
    }

    fn predict_all(&self, hours: &[(i64, HourObs)]) -> Vec<Predicted> {
        match &self.model {
            Model::Hourly(model) => hours
                .iter()
                .filter_map(|(start_ms, o)| {
                    Some(Predicted { start_ms: *start_ms, hours: 1, predicted: model.predict(o)?, metered: o.energy })
                })
                .collect(),
            Model::Daily { model, tz } => days(*tz, hours)
                .into_iter()
                .map(|(start_ms, hours, d)| Predicted {
                    start_ms,
                    hours,
                    predicted: model.predict_day(&d),
                    metered: d.energy,
                })
                .collect(),
        }
    }
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

/// The complete local days of `hours` (every hour of the day present: 23 or 25 on the days the
/// clocks change), with their start and hours: energy summed, temperature averaged, closed on
/// Saturdays, Sundays and holidays, each open day with the closed days just before it.
pub fn days(tz: Tz, hours: &[(i64, HourObs)]) -> Vec<(i64, u32, Day)> {
    let calendar = Calendar { tz };
    let mut by_day: BTreeMap<chrono::NaiveDate, Vec<&HourObs>> = BTreeMap::new();
    for (start_ms, o) in hours {
        by_day.entry(calendar.local_date(*start_ms)).or_default().push(o);
    }
    let mut complete: Vec<(i64, u32, Day)> = by_day
        .into_iter()
        .filter_map(|(date, obs)| {
            let start_ms = calendar.local_midnight(date);
            let length = (calendar.local_midnight(calendar.next_day(date)) - start_ms) / HOUR_MS;
            if obs.len() as i64 != length {
                return None;
            }
            let n = obs.len() as f64;
            let closed = matches!(date.weekday(), Weekday::Sat | Weekday::Sun) || obs.iter().any(|o| o.holiday);
            let energy = obs.iter().map(|o| o.energy).sum();
            let day = Day::new(
                i64::from(date.num_days_from_ce()),
                energy,
                obs.iter().map(|o| o.temp).sum::<f64>() / n,
                closed,
            );
            Some((start_ms, obs.len() as u32, day))
        })
        .collect();
    let mut days: Vec<Day> = complete.iter().map(|(_, _, d)| *d).collect();
    mark_recoveries(&mut days);
    for ((_, _, day), marked) in complete.iter_mut().zip(days) {
        *day = marked;
    }
    // An open day after a weekend day the data does not hold (the first Monday of a series, a
    // gap) has a recovery nobody knows: it is neither fitted nor predicted.
    let known: std::collections::HashSet<i64> = complete.iter().map(|(_, _, d)| d.index).collect();
    complete.retain(|(_, _, d)| {
        let previous = chrono::NaiveDate::from_num_days_from_ce_opt((d.index - 1) as i32);
        let weekend = previous.is_some_and(|p| matches!(p.weekday(), Weekday::Sat | Weekday::Sun));
        d.weekend || !weekend || known.contains(&(d.index - 1))
    });
    complete
}

/// Fits a baseline for each of `points` on `period`; a point whose hours cannot be read gets
/// the reason instead, like one with too little data.
pub fn fit_each(store: &Store, site: &Site, points: &[String], outdoor: &str, period: (i64, i64)) -> Fits {
    points
        .iter()
        .map(|point| {
            let fit = hours(store, site, point, outdoor, period)
                .map_err(|e| e.to_string())
                .and_then(|h| fit(site.timezone, &h));
            (point.clone(), fit)
        })
        .collect()
}

/// Fits the baseline on `hours`, read in `tz`: the hourly model, unless it fails Guideline 14
/// and the daily model on the same hours passes; `Err` says why there is none.
pub fn fit(tz: Tz, hours: &[(i64, HourObs)]) -> Result<Baseline, String> {
    let hourly = fit_hourly_baseline(hours);
    if hourly.as_ref().is_ok_and(|b| b.gate_pass) {
        return hourly;
    }
    match fit_daily_baseline(tz, hours) {
        Ok(mut daily) if daily.gate_pass => {
            daily.hourly_rejected = hourly.ok().map(|h| h.metrics);
            Ok(daily)
        }
        // Neither passes: the hourly model, with its figures, says what fails.
        _ => hourly,
    }
}

fn fit_hourly_baseline(hours: &[(i64, HourObs)]) -> Result<Baseline, String> {
    let obs: Vec<HourObs> = hours.iter().map(|(_, o)| *o).collect();
    let fit = fit_hourly(&obs).map_err(|e| e.to_string())?;
    let residuals: Vec<Option<f64>> = obs.iter().map(|o| fit.model.predict(o).map(|p| o.energy - p)).collect();
    Ok(Baseline {
        rho: lag1_autocorrelation(&residuals),
        gate_pass: gl14(Gl14Resolution::Hourly, &fit.metrics).pass,
        metrics: fit.metrics,
        model: Model::Hourly(fit.model),
        hourly_rejected: None,
    })
}

fn fit_daily_baseline(tz: Tz, hours: &[(i64, HourObs)]) -> Result<Baseline, String> {
    let days: Vec<Day> = days(tz, hours).into_iter().map(|(_, _, d)| d).collect();
    // Every form (the degree days refuse what they cannot support), and a recovery after closed
    // days: the daily model is chosen for plants switched off at night and at weekends.
    let options = DailyOptions { recovery: true, ..DailyOptions::new(Fuel::Electricity) };
    let fit = fit_daily(&days, &options).map_err(|e| e.to_string())?;
    // A missing day breaks the lag: residuals are laid on the calendar, gaps as None.
    let first = days.first().map_or(0, |d| d.index);
    let mut residuals = vec![None; days.last().map_or(0, |d| (d.index - first + 1) as usize)];
    for d in &days {
        residuals[(d.index - first) as usize] = Some(d.energy - fit.model.predict_day(d));
    }
    Ok(Baseline {
        rho: lag1_autocorrelation(&residuals),
        gate_pass: gl14(Gl14Resolution::Daily, &fit.metrics).pass,
        metrics: fit.metrics,
        model: Model::Daily { model: fit.model, tz },
        hourly_rejected: None,
    })
}

#[cfg(test)]
/// An hourly baseline fitted on five weeks of hours whose energy follows the temperature, with `noise`
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
    fit_hourly_baseline(&hours).expect("a fit")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Settings;
    use crate::reading::{EnergySpan, Reading, Record};

    const H: i64 = 3_600_000;
    // 2024-12-23T00:00:00Z, a Monday.
    const MONDAY: i64 = 1_734_912_000_000;

    /// Hourly observations of `days` local days from Monday 23 December 2024 (UTC), at the
    /// day's index as temperature, except the hours `skip` leaves out.
    fn hours_of(days: i64, skip: impl Fn(i64) -> bool) -> Vec<(i64, HourObs)> {
        (0..days * 24)
            .filter(|h| !skip(*h))
            .map(|h| {
                let obs =
                    HourObs { month: 12, tow: (h % 168) as u8, temp: (h / 24) as f64, energy: 1.0, holiday: false };
                (MONDAY + h * H, obs)
            })
            .collect()
    }

    #[test]
    fn the_daily_model_reads_complete_days_and_a_monday_with_the_weekend_before_it() {
        type Case = (&'static str, Vec<(i64, HourObs)>, Vec<i64>);
        let table: [Case; 3] = [
            // Given two whole weeks: every day but the first Monday, whose weekend is not there
            // (the recovery it paid is unknown)
            ("two weeks", hours_of(14, |_| false), (1..14).collect()),
            // Given a Wednesday an hour short: it is not a day
            ("a short Wednesday", hours_of(14, |h| h == 2 * 24 + 5), (1..14).filter(|d| *d != 2).collect()),
            // Given the first Sunday missing: nor is the Monday after it
            ("no Sunday", hours_of(14, |h| h / 24 == 6), (1..14).filter(|d| *d != 6 && *d != 7).collect()),
        ];
        for (name, hours, expected) in table {
            // When the hours are read as days
            let read = days(chrono_tz::UTC, &hours);
            // Then these days are there, each of 24 hours and 24 kWh
            let first = i64::from(chrono::NaiveDate::from_ymd_opt(2024, 12, 23).expect("a date").num_days_from_ce());
            let got: Vec<i64> = read.iter().map(|(_, _, d)| d.index - first).collect();
            assert_eq!(got, expected, "{name}");
            assert!(read.iter().all(|(_, n, d)| *n == 24 && d.energy == 24.0), "{name}");
            // And a Monday after a whole weekend has its Sunday's and Saturday's temperatures
            if let Some((_, _, monday)) = read.iter().find(|(_, _, d)| d.index - first == 7) {
                assert_eq!(monday.closed_before, [Some(6.0), Some(5.0)], "{name}");
            }
        }
    }

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
