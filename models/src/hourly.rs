//! The hourly time-of-week-and-temperature model (CalTRACK 2.0 hourly; LBNL TOWT): for each
//! calendar month, one weighted least-squares model over that month (weight 1) and its two
//! neighbours (weight ½), with an indicator per hour of the week (168) and piecewise-linear
//! temperature terms, separate for occupied and unoccupied hours of the week. Occupancy is read
//! from the data: an hour of the week is occupied when the load sits above a simple
//! degree-day fit at least 65 % of the time. Holidays are a day type of their own: a holiday
//! hour takes an indicator per hour of the day instead of its weekday's, so a closed week
//! at Christmas neither drags the weekday profile down nor is predicted as a working week.

use crate::metrics::{metrics, Metrics};
use crate::wls::NormalEquations;
use serde::Serialize;

/// One hour of data in the site's local calendar.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct HourObs {
    /// 1–12.
    pub month: u8,
    /// Hour of the week, 0 = Monday 00:00 … 167 = Sunday 23:00.
    pub tow: u8,
    pub temp: f64,
    pub energy: f64,
    /// The hour falls on one of the site's holidays.
    pub holiday: bool,
}

pub const HOURS_PER_WEEK: usize = 168;
/// Time-of-week slots: the hours of the week, then the hours of a holiday.
const SLOTS: usize = HOURS_PER_WEEK + 24;
/// Sunday 00:00's hour of the week.
const SUNDAY: usize = 6 * 24;

impl HourObs {
    /// The hour's indicator: its hour of the week, or on a holiday its hour of the day.
    fn slot(&self) -> usize {
        if self.holiday {
            HOURS_PER_WEEK + usize::from(self.tow) % 24
        } else {
            usize::from(self.tow)
        }
    }
}
/// CalTRACK's bin endpoints: 30, 45, 55, 65, 75, 90 °F.
const ENDPOINTS_C: [f64; 6] = [-1.111, 7.222, 12.778, 18.333, 23.889, 32.222];
/// A temperature bin needs this many hours, or it is merged with its neighbour.
const MIN_BIN_HOURS: f64 = 20.0;
const OCCUPIED_SHARE: f64 = 0.65;
const NEIGHBOUR_WEIGHT: f64 = 0.5;
/// The occupancy screen's degree-day balance points: 50 °F and 65 °F.
const OCCUPANCY_HDD_C: f64 = 10.0;
const OCCUPANCY_CDD_C: f64 = 18.333;
/// Keeps an hour of the week without data from making the system singular; tiny next to the
/// hundreds of weighted hours each column holds.
const RIDGE: f64 = 1e-6;

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum HourlyFitError {
    #[error("{hours} usable hours; the hourly model needs at least {needed}")]
    TooFewHours { hours: usize, needed: usize },
    #[error("month {month}: {reason}")]
    Month { month: u8, reason: String },
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MonthModel {
    pub month: u8,
    /// Temperature bin endpoints kept after merging sparse bins, °C.
    pub endpoints_c: Vec<f64>,
    pub occupied_hours_of_week: usize,
    #[serde(skip)]
    occupied: Vec<bool>,
    #[serde(skip)]
    beta: Vec<f64>,
    pub parameters: usize,
    /// The baseline saw holidays around this month. Without any, a holiday is predicted as a
    /// Sunday (a closed day), never as the working day it falls on: that would credit the
    /// closure as a saving.
    pub holidays_seen: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct HourlyModel {
    pub months: Vec<MonthModel>,
    /// Months with data too thin to fit (less than a week): no prediction for them.
    pub skipped_months: Vec<u8>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct HourlyFit {
    pub model: HourlyModel,
    pub metrics: Metrics,
}

/// Piecewise-linear temperature terms: each value is the part of `temp` inside one bin.
fn segments(temp: f64, endpoints: &[f64], out: &mut Vec<f64>) {
    out.clear();
    let mut lower = f64::NEG_INFINITY;
    for &e in endpoints {
        out.push(if lower.is_infinite() { temp.min(e) } else { (temp.min(e) - lower).max(0.0) });
        lower = e;
    }
    out.push(if lower.is_infinite() { temp } else { (temp - lower).max(0.0) });
}

fn weight_for(month: u8, obs_month: u8) -> f64 {
    let distance = (i16::from(obs_month) - i16::from(month)).rem_euclid(12);
    match distance {
        0 => 1.0,
        1 | 11 => NEIGHBOUR_WEIGHT,
        _ => 0.0,
    }
}

/// Which slots (hours of the week, hours of a holiday) run above a degree-day fit at least
/// 65 % of the (weighted) time.
fn occupancy(rows: &[(HourObs, f64)]) -> Result<Vec<bool>, String> {
    let mut ne = NormalEquations::new(3);
    let x = |t: f64| [1.0, (OCCUPANCY_HDD_C - t).max(0.0), (t - OCCUPANCY_CDD_C).max(0.0)];
    for (o, w) in rows {
        ne.add(&x(o.temp), o.energy, *w);
    }
    let fit = ne.solve_penalising(RIDGE, 1).map_err(|e| e.to_string())?;
    let (mut above, mut total) = (vec![0.0; SLOTS], vec![0.0; SLOTS]);
    for (o, w) in rows {
        let tow = o.slot();
        total[tow] += w;
        if o.energy > fit.predict(&x(o.temp)) {
            above[tow] += w;
        }
    }
    Ok(above.iter().zip(&total).map(|(a, t)| *t > 0.0 && a / t >= OCCUPIED_SHARE).collect())
}

/// Drops endpoints until every bin holds enough (weighted) hours.
fn endpoints_for(rows: &[(HourObs, f64)]) -> Vec<f64> {
    let mut endpoints = ENDPOINTS_C.to_vec();
    loop {
        let mut counts = vec![0.0; endpoints.len() + 1];
        for (o, _) in rows {
            counts[endpoints.iter().take_while(|e| o.temp > **e).count()] += 1.0;
        }
        match counts.iter().position(|c| *c < MIN_BIN_HOURS) {
            Some(_) if endpoints.is_empty() => return endpoints,
            Some(bin) => {
                endpoints.remove(bin.saturating_sub(1).min(endpoints.len() - 1));
            }
            None => return endpoints,
        }
    }
}

impl MonthModel {
    /// Column layout: 168 hour-of-week indicators and 24 holiday hour-of-day ones, then
    /// occupied temperature terms, then unoccupied ones.
    fn row(&self, o: &HourObs, segs: &mut Vec<f64>, columns: &mut Vec<usize>, values: &mut Vec<f64>) {
        segments(o.temp, &self.endpoints_c, segs);
        columns.clear();
        values.clear();
        let slot = match o.slot() {
            holiday if holiday >= HOURS_PER_WEEK && !self.holidays_seen => SUNDAY + holiday - HOURS_PER_WEEK,
            slot => slot,
        };
        columns.push(slot);
        values.push(1.0);
        let block = if self.occupied[slot] { 0 } else { segs.len() };
        for (k, v) in segs.iter().enumerate() {
            columns.push(SLOTS + block + k);
            values.push(*v);
        }
    }

    fn predict(&self, o: &HourObs) -> f64 {
        let (mut segs, mut columns, mut values) = (Vec::new(), Vec::new(), Vec::new());
        self.row(o, &mut segs, &mut columns, &mut values);
        columns.iter().zip(&values).map(|(c, v)| self.beta[*c] * v).sum()
    }
}

fn fit_month(month: u8, data: &[HourObs]) -> Result<MonthModel, String> {
    let rows: Vec<(HourObs, f64)> =
        data.iter().map(|o| (*o, weight_for(month, o.month))).filter(|(_, w)| *w > 0.0).collect();
    let occupied = occupancy(&rows)?;
    let endpoints = endpoints_for(&rows);
    let p = SLOTS + 2 * (endpoints.len() + 1);
    let mut model = MonthModel {
        month,
        occupied_hours_of_week: occupied[..HOURS_PER_WEEK].iter().filter(|o| **o).count(),
        endpoints_c: endpoints,
        occupied,
        beta: Vec::new(),
        parameters: 0,
        holidays_seen: rows.iter().any(|(o, _)| o.holiday),
    };
    let mut ne = NormalEquations::new(p);
    let (mut segs, mut columns, mut values) = (Vec::new(), Vec::new(), Vec::new());
    let mut used = vec![false; p];
    for (o, w) in &rows {
        model.row(o, &mut segs, &mut columns, &mut values);
        for (&c, &v) in columns.iter().zip(&values) {
            used[c] |= v != 0.0;
        }
        ne.add_sparse(&columns, &values, o.energy, *w);
    }
    model.beta = ne.solve_penalising(RIDGE, 0).map_err(|e| e.to_string())?.beta;
    model.parameters = used.iter().filter(|u| **u).count();
    Ok(model)
}

pub fn fit_hourly(data: &[HourObs]) -> Result<HourlyFit, HourlyFitError> {
    const NEEDED: usize = 30 * 24;
    if data.len() < NEEDED {
        return Err(HourlyFitError::TooFewHours { hours: data.len(), needed: NEEDED });
    }
    let (mut months, mut skipped_months) = (Vec::new(), Vec::new());
    for month in 1..=12u8 {
        let hours = data.iter().filter(|o| o.month == month).count();
        if hours == 0 {
            continue;
        }
        if hours < HOURS_PER_WEEK {
            skipped_months.push(month);
            continue;
        }
        months.push(fit_month(month, data).map_err(|reason| HourlyFitError::Month { month, reason })?);
    }
    let model = HourlyModel { months, skipped_months };
    let (actual, predicted): (Vec<f64>, Vec<f64>) =
        data.iter().filter_map(|o| model.predict(o).map(|p| (o.energy, p))).unzip();
    let p = model.months.iter().map(|m| m.parameters).max().unwrap_or(0);
    Ok(HourlyFit { metrics: metrics(&actual, &predicted, p), model })
}

impl HourlyModel {
    /// The prediction for an hour, from the model of its calendar month; `None` for a month
    /// the baseline did not cover.
    pub fn predict(&self, o: &HourObs) -> Option<f64> {
        self.months.iter().find(|m| m.month == o.month).map(|m| m.predict(o))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn segments_split_a_temperature_across_bins() {
        let mut out = Vec::new();
        segments(20.0, &[0.0, 10.0, 15.0], &mut out);
        assert_eq!(out, vec![0.0, 10.0, 5.0, 5.0]);
        segments(-5.0, &[0.0, 10.0], &mut out);
        assert_eq!(out, vec![-5.0, 0.0, 0.0]);
        assert_eq!(out.iter().sum::<f64>(), -5.0, "the terms add up to the temperature");
    }

    /// A building open 8–18 on weekdays (300 kW, +6 kW/°C above 18 °C), 100 kW otherwise.
    fn office(weeks: usize) -> Vec<HourObs> {
        (0..weeks * HOURS_PER_WEEK)
            .map(|h| {
                let tow = (h % HOURS_PER_WEEK) as u8;
                let (day, hour) = (tow / 24, tow % 24);
                let temp =
                    15.0 + 8.0 * ((h as f64) / 24.0 * std::f64::consts::TAU).sin() + 4.0 * ((h / 24 % 9) as f64 / 9.0);
                let open = day < 5 && (8..18).contains(&hour);
                let energy = if open { 300.0 + 6.0 * (temp - 18.0).max(0.0) } else { 100.0 };
                HourObs { month: (1 + (h / (24 * 30)) % 12) as u8, tow, temp, energy, holiday: false }
            })
            .collect()
    }

    #[test]
    fn finds_occupied_hours_and_fits_a_known_office() {
        let data = office(26);
        let fit = fit_hourly(&data).expect("fits");
        assert_eq!(fit.model.skipped_months, vec![7], "two days of July are too few");
        assert!(fit.metrics.cv_rmse < 0.01, "{:?}", fit.metrics);
        let january = &fit.model.months[0];
        assert_eq!(january.occupied_hours_of_week, 50, "10 hours × 5 weekdays");
    }

    #[test]
    fn a_closed_christmas_week_no_longer_biases_the_weekday_profile() {
        // Given twelve weeks of the office in three four-week months, closed all of week 6 (at
        // its night load), and a weekday at 10:00 of the month it falls in
        let closed = |h: usize| h / HOURS_PER_WEEK == 5;
        let data = |flagged: bool| -> Vec<HourObs> {
            office(12)
                .into_iter()
                .enumerate()
                .map(|(h, o)| HourObs {
                    month: (1 + h / (28 * 24)) as u8,
                    energy: if closed(h) { 100.0 } else { o.energy },
                    holiday: flagged && closed(h),
                    ..o
                })
                .collect()
        };
        let tuesday_10 = HourObs { month: 2, tow: 24 + 10, temp: 15.0, energy: 0.0, holiday: false };
        let holiday_10 = HourObs { holiday: true, ..tuesday_10 };
        // (holidays flagged, the weekday keeps its 300 kW within 1 kW)
        let table = [(true, true), (false, false)];
        for (flagged, unbiased) in table {
            // When the baseline is fitted with the holiday flagged, or not
            let model = fit_hourly(&data(flagged)).expect("fits").model;
            let weekday = model.predict(&tuesday_10).expect("February is fitted");
            // Then flagged, the weekday keeps its 300 kW and a holiday morning is at the night
            // load; unflagged, the closed week drags the weekday down (today's behaviour)
            assert_eq!((weekday - 300.0).abs() < 1.0, unbiased, "flagged {flagged}: {weekday}");
            let holiday = model.predict(&holiday_10).expect("February is fitted");
            if flagged {
                assert!((holiday - 100.0).abs() < 1.0, "{holiday}");
            } else {
                // And a baseline that saw no holiday predicts one as a closed day, a Sunday,
                // not as the working day it falls on
                let sunday_10 = HourObs { tow: (SUNDAY + 10) as u8, ..tuesday_10 };
                let sunday = model.predict(&sunday_10).expect("February is fitted");
                assert!((holiday - sunday).abs() < 1e-9 && holiday < weekday - 100.0, "{holiday} vs {sunday}");
            }
        }
    }

    #[test]
    fn too_little_data_is_an_error() {
        assert!(matches!(fit_hourly(&office(2)), Err(HourlyFitError::TooFewHours { .. })));
    }
}
