//! CalTRACK data sufficiency and cleaning, reported, never silent: hourly data → days with
//! coverage rules, electricity zeros treated as missing (not gas, nor a meter whose plant is
//! switched off at times), short temperature gaps interpolated, extreme days flagged.

use crate::daily::{Day, Fuel};
use serde::Serialize;

/// One hour in the site's local calendar.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Hour {
    /// Local day, as days since any fixed origin.
    pub day: i64,
    /// A closed day: a weekend or a holiday (see [`crate::daily::Day::weekend`]).
    pub weekend: bool,
    pub energy: Option<f64>,
    pub temp: Option<f64>,
}

/// What a reading of exactly 0 is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Zeros {
    /// A gap: CalTRACK's rule for electricity, whose meters (and datasets) write 0 when they
    /// have nothing to say.
    Missing,
    /// Data: gas, or a meter whose plant is switched off at times and then really reads 0
    /// (an HVAC board off at nights and weekends).
    Readings,
}

impl Zeros {
    /// CalTRACK's rule for `fuel`, unless the meter is known to read real zeros.
    pub fn of(fuel: Fuel, zeros_are_readings: bool) -> Self {
        if fuel == Fuel::Electricity && !zeros_are_readings {
            Zeros::Missing
        } else {
            Zeros::Readings
        }
    }
}

/// Temperature gaps up to this many hours are interpolated (CalTRACK: up to 6).
pub const MAX_INTERPOLATED_HOURS: usize = 6;
/// A day needs this share of hours with temperature.
const DAY_TEMPERATURE_COVERAGE: f64 = 0.9;
/// The baseline needs this share of its days usable (CalTRACK: 90 %).
const PERIOD_COVERAGE: f64 = 0.9;

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Sufficiency {
    pub days_in_period: usize,
    pub days_usable: usize,
    pub zeros_as_missing: usize,
    pub temperatures_interpolated: usize,
    /// Warnings a reader should see; the data is still used.
    pub warnings: Vec<String>,
    /// Reasons the data does not meet CalTRACK's requirements; a result is still computed and
    /// labelled, never passed off as compliant.
    pub disqualifications: Vec<String>,
}

/// Interpolates interior temperature gaps of at most `MAX_INTERPOLATED_HOURS`; returns how many.
pub fn interpolate(temps: &mut [Option<f64>]) -> usize {
    let mut filled = 0;
    let mut i = 0;
    while i < temps.len() {
        if temps[i].is_some() {
            i += 1;
            continue;
        }
        let start = i;
        while i < temps.len() && temps[i].is_none() {
            i += 1;
        }
        let gap = i - start;
        if let (Some(Some(before)), Some(Some(after))) = (start.checked_sub(1).map(|b| temps[b]), temps.get(i).copied())
        {
            if gap <= MAX_INTERPOLATED_HOURS {
                for (k, slot) in temps[start..i].iter_mut().enumerate() {
                    *slot = Some(before + (after - before) * (k + 1) as f64 / (gap + 1) as f64);
                }
                filled += gap;
            }
        }
    }
    filled
}

/// Aggregates hours (in time order) into usable days. A day is usable when every hour it has
/// carries energy and at least 90 % carry temperature; its energy is the sum and its
/// temperature the mean. `zeros` says whether a 0 is a reading or a gap (see [`Zeros::of`]).
pub fn daily_from_hours(hours: &[Hour], zeros: Zeros) -> (Vec<Day>, Sufficiency) {
    let mut report = Sufficiency::default();
    let mut temps: Vec<Option<f64>> = hours.iter().map(|h| h.temp.filter(|t| t.is_finite())).collect();
    report.temperatures_interpolated = interpolate(&mut temps);
    let mut days = Vec::new();
    let mut i = 0;
    while i < hours.len() {
        let day = hours[i].day;
        let (mut energy, mut energy_hours, mut temp_sum, mut temp_hours, mut count) = (0.0, 0, 0.0, 0, 0);
        while i < hours.len() && hours[i].day == day {
            let e = hours[i].energy.filter(|e| e.is_finite());
            let e = match (zeros, e) {
                (Zeros::Missing, Some(0.0)) => {
                    report.zeros_as_missing += 1;
                    None
                }
                (_, e) => e,
            };
            if let Some(e) = e {
                energy += e;
                energy_hours += 1;
            }
            if let Some(t) = temps[i] {
                temp_sum += t;
                temp_hours += 1;
            }
            count += 1;
            i += 1;
        }
        report.days_in_period += 1;
        if energy_hours == count && temp_hours as f64 >= DAY_TEMPERATURE_COVERAGE * count as f64 {
            days.push(Day::new(day, energy, temp_sum / temp_hours as f64, hours[i - 1].weekend));
        }
    }
    report.days_usable = days.len();
    if report.zeros_as_missing > 0 {
        report.warnings.push(format!(
            "{} zero electricity readings treated as missing (a meter whose plant is switched off at times reads real zeros: say so, and they are kept)",
            report.zeros_as_missing
        ));
    }
    if report.temperatures_interpolated > 0 {
        report
            .warnings
            .push(format!("{} hourly temperatures interpolated across short gaps", report.temperatures_interpolated));
    }
    let coverage = report.days_usable as f64 / report.days_in_period.max(1) as f64;
    if coverage < PERIOD_COVERAGE {
        report.disqualifications.push(format!("{:.0} % of days usable; CalTRACK requires 90 %", coverage * 100.0));
    }
    let extreme = extreme_days(&days);
    if !extreme.is_empty() {
        report
            .warnings
            .push(format!("{} days with extreme energy (beyond 3 IQR of the quartiles), kept", extreme.len()));
    }
    (days, report)
}

/// Days whose energy lies beyond Q1 − 3·IQR or Q3 + 3·IQR.
pub fn extreme_days(days: &[Day]) -> Vec<i64> {
    if days.len() < 8 {
        return Vec::new();
    }
    let mut sorted: Vec<f64> = days.iter().map(|d| d.energy).collect();
    sorted.sort_by(f64::total_cmp);
    let q = |f: f64| sorted[((sorted.len() - 1) as f64 * f).round() as usize];
    let (q1, q3) = (q(0.25), q(0.75));
    let iqr = q3 - q1;
    days.iter().filter(|d| d.energy < q1 - 3.0 * iqr || d.energy > q3 + 3.0 * iqr).map(|d| d.index).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::daily::{fit_daily, DailyOptions};

    fn hours(days: i64, energy: f64) -> Vec<Hour> {
        (0..days * 24).map(|h| Hour { day: h / 24, weekend: false, energy: Some(energy), temp: Some(10.0) }).collect()
    }

    #[test]
    fn days_need_all_their_energy_and_most_of_their_temperature() {
        let mut h = hours(4, 2.0);
        h[5].energy = None; // day 0 loses an hour of energy: unusable
        for slot in &mut h[24..24 + 8] {
            slot.temp = None; // day 1: 8 hours without temperature, too long to interpolate
        }
        h[50].temp = None; // day 2: one hour, interpolated
        h[80].energy = Some(0.0); // day 3: electricity zero is missing
        let (days, report) = daily_from_hours(&h, Zeros::of(Fuel::Electricity, false));
        assert_eq!(days.iter().map(|d| d.index).collect::<Vec<_>>(), vec![2]);
        assert_eq!(
            (report.days_in_period, report.days_usable, report.zeros_as_missing, report.temperatures_interpolated),
            (4, 1, 1, 1)
        );
        assert!((days[0].energy - 48.0).abs() < 1e-12 && (days[0].temp - 10.0).abs() < 1e-12);
        assert_eq!(report.disqualifications.len(), 1, "{report:?}");
        // Gas zeros are real readings
        let (gas_days, gas_report) = daily_from_hours(&h, Zeros::of(Fuel::Gas, false));
        assert_eq!(gas_report.zeros_as_missing, 0);
        assert!(gas_days.iter().any(|d| d.index == 3));
    }

    #[test]
    fn a_meter_off_at_nights_and_weekends_is_baselined_when_its_zeros_are_readings() {
        // Given six weeks of an HVAC board: 30 kWh an hour 07:00–19:00 on weekdays, a real 0
        // otherwise (the plant is off)
        let h: Vec<Hour> = (0..42 * 24)
            .map(|k| {
                let (day, hour) = (k / 24, k % 24);
                let weekend = day % 7 >= 5;
                let on = !weekend && (7..19).contains(&hour);
                Hour { day, weekend, energy: Some(if on { 30.0 } else { 0.0 }), temp: Some(2.0 + (day % 9) as f64) }
            })
            .collect();
        let table = [
            // (zeros are readings, days usable, zeros counted as missing, disqualified)
            (true, 42, 0, false),
            (false, 0, 42 * 24 - 30 * 12, true),
        ];
        for (readings, usable, missing, disqualified) in table {
            // When it is cleaned with its zeros as readings, or as CalTRACK has it
            let (days, report) = daily_from_hours(&h, Zeros::of(Fuel::Electricity, readings));
            // Then flagged, every day is usable, weekends at 0 kWh, and the daily baseline fits
            // them; unflagged, today's rule holds: no day is whole, the baseline is
            // disqualified and there is none
            assert_eq!(
                (report.days_usable, report.zeros_as_missing, !report.disqualifications.is_empty()),
                (usable, missing, disqualified),
                "zeros are readings: {readings}; {report:?}"
            );
            let baseline = fit_daily(&days, &DailyOptions::new(Fuel::Electricity));
            assert_eq!(baseline.is_ok(), readings, "zeros are readings: {readings}; {baseline:?}");
            if let Ok(fit) = baseline {
                let energy: Vec<f64> = days.iter().take(7).map(|d| d.energy).collect();
                assert_eq!(energy, [360.0, 360.0, 360.0, 360.0, 360.0, 0.0, 0.0]);
                let (weekday, weekend) = (fit.model.predict(5.0, false), fit.model.predict(5.0, true));
                assert!((weekday - 360.0).abs() < 1.0 && weekend.abs() < 1.0, "{weekday} {weekend}");
            }
        }
    }

    #[test]
    fn interpolation_is_linear_and_only_inside_short_gaps() {
        let mut t = vec![Some(0.0), None, None, Some(3.0), None];
        assert_eq!(interpolate(&mut t), 2);
        assert_eq!(t, vec![Some(0.0), Some(1.0), Some(2.0), Some(3.0), None], "a trailing gap stays missing");
    }
}
