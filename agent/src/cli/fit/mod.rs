//! `sobre fit`: a baseline from a CSV of metered energy and outdoor temperature, its Guideline 14
//! verdict, and when a reporting period is given the avoided energy with its uncertainty.

use anyhow::Context;
use chrono::{DateTime, Datelike, NaiveDate, Timelike, Utc, Weekday};
use chrono_tz::Tz;
use serde_json::{json, Value};
use sobre_models::daily::{fit_daily, mark_recoveries, DailyOptions, Day, Fuel, CLOSED_DAYS_RECOVERED};
use sobre_models::metrics::{gl14, metrics, Metrics, Resolution};
use sobre_models::savings::{level_shifts, savings, Savings};
use sobre_models::stats::lag1_autocorrelation;
use sobre_models::sufficiency::{daily_from_hours, Hour, Zeros};
use std::collections::BTreeMap;
use std::path::PathBuf;

mod hourly;
mod output;
mod readings;
mod table;
mod time;

use output::print;
use time::parse_time;

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ModelKind {
    Daily,
    Hourly,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum FuelArg {
    Electricity,
    Gas,
}

/// An inclusive range of local days, written `2018-01-01..2018-12-31`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Period {
    pub start: NaiveDate,
    pub end: NaiveDate,
}

impl std::str::FromStr for Period {
    type Err = String;
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let (a, b) =
            text.split_once("..").ok_or_else(|| format!("{text:?} is not START..END, e.g. 2018-01-01..2018-12-31"))?;
        let day = |s: &str| {
            NaiveDate::parse_from_str(s.trim(), "%Y-%m-%d").map_err(|_| format!("{s:?} is not an ISO day (YYYY-MM-DD)"))
        };
        let (start, end) = (day(a)?, day(b)?);
        if end < start {
            return Err(format!("{text:?} ends before it starts"));
        }
        Ok(Period { start, end })
    }
}

#[derive(Debug, clap::Args)]
pub struct FitArgs {
    #[arg(long)]
    csv: PathBuf,
    /// ISO 8601 times; without an offset, in --timezone. (A store's rollups_view export is read
    /// by its `label`.)
    #[arg(long, default_value = "timestamp_utc")]
    time_column: String,
    /// A column of kWh per hour, or in a rollups_view export the energy point's id.
    #[arg(long)]
    energy_column: String,
    /// A column of °C, or in a rollups_view export the outdoor thermometer's point id.
    #[arg(long)]
    temperature_column: String,
    /// Zone of the site: days are local days.
    #[arg(long, default_value = "UTC")]
    timezone: String,
    #[arg(long, value_enum, default_value = "daily")]
    model: ModelKind,
    #[arg(long)]
    baseline: Period,
    #[arg(long)]
    reporting: Option<Period>,
    #[arg(long, value_enum, default_value = "electricity")]
    fuel: FuelArg,
    /// Try cooling terms for gas too (electricity always tries them).
    #[arg(long)]
    cooling: bool,
    /// Days the building is closed besides weekends, START..END (repeatable): a day type of
    /// their own in the hourly model, a closed day like a weekend in the daily one.
    #[arg(long = "holiday")]
    holidays: Vec<Period>,
    /// The meter's zeros are readings, not gaps: its plant is switched off at times (CalTRACK
    /// drops electricity zeros as missing otherwise).
    #[arg(long)]
    zeros_are_readings: bool,
    /// The plant is off on closed days (weekends, holidays): try a daily model whose first
    /// open day after closed days pays back their heat loss (their heating degree days).
    #[arg(long)]
    recovery: bool,
    /// Print one JSON object instead of a table.
    #[arg(long)]
    json: bool,
}

/// The year before the baseline: where a backtest of the model finds its year-ahead error.
fn prior_year(baseline: Period) -> Period {
    let end = baseline.start.pred_opt().unwrap_or(baseline.start);
    Period { start: baseline.start - chrono::Days::new(365), end }
}

/// The interval from a year-ahead backtest when the history allows, Guideline 14's otherwise,
/// saying why. `backtest` is the prior-year model's errors over the baseline and the
/// baseline's metered total.
fn with_interval(s: Savings, backtest: Option<(&[f64], f64)>, warnings: &mut Vec<String>) -> Savings {
    let gl14_only =
        "the interval is Guideline 14's: the model's random error only, not the building's drift between years";
    let Some((errors, baseline_kwh)) = backtest else {
        warnings.push(format!("no year of data before the baseline to backtest the model; {gl14_only}"));
        return s;
    };
    match sobre_models::savings::backtest(errors, baseline_kwh, s.m) {
        Ok(halves) => s.with_backtest(halves),
        Err(refusal) => {
            warnings.push(format!("{refusal}: it cannot calibrate the interval; {gl14_only}"));
            s
        }
    }
}

/// Days since 1970-01-01 → the calendar day.
fn date_of(index: i64) -> NaiveDate {
    NaiveDate::default() + chrono::Days::new(index.max(0) as u64)
}

fn index_of(date: NaiveDate) -> i64 {
    date.signed_duration_since(NaiveDate::default()).num_days()
}

/// One CSV row in the site's calendar.
#[derive(Debug, Clone, Copy)]
struct Row {
    hour: Hour,
    month: u8,
    /// Hour of the week, Monday 00:00 = 0.
    tow: u8,
    /// On one of `--holiday`'s days.
    holiday: bool,
}

/// Reads hourly rows in local time, in time order whatever the file's; with the warning about
/// the values refused as impossible, if any.
fn read_hours(args: &FitArgs, tz: Tz) -> anyhow::Result<(Vec<Row>, Option<String>)> {
    let cells = table::read(&args.csv, &args.time_column, &args.energy_column, &args.temperature_column)?;
    let mut timed = Vec::with_capacity(cells.len());
    for c in cells {
        let ms = parse_time(&c.time, tz).with_context(|| format!("row {}", c.line))?;
        timed.push((ms, c));
    }
    let mut timed = readings::in_time_order(timed)?;
    let refused = readings::refuse_impossible(timed.iter_mut().map(|(_, c)| c));
    let mut hours = Vec::with_capacity(timed.len());
    for (ms, c) in timed {
        let local = DateTime::<Utc>::from_timestamp_millis(ms).unwrap_or_default().with_timezone(&tz);
        let holiday = args.holidays.iter().any(|p| (p.start..=p.end).contains(&local.date_naive()));
        let hour = Hour {
            day: index_of(local.date_naive()),
            weekend: holiday || matches!(local.weekday(), Weekday::Sat | Weekday::Sun),
            energy: c.energy,
            temp: c.temp,
        };
        let tow = local.weekday().num_days_from_monday() * 24 + local.hour();
        hours.push(Row { hour, month: local.month() as u8, tow: tow as u8, holiday });
    }
    Ok((hours, refused))
}

/// A reporting period must lie outside the baseline: savings of the very days the model learned
/// from measure nothing.
fn check_periods(baseline: Period, reporting: Option<Period>) -> Result<(), PeriodError> {
    match reporting {
        Some(r) if r.start <= baseline.end && baseline.start <= r.end => {
            Err(PeriodError::Overlap { baseline, reporting: r })
        }
        _ => Ok(()),
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PeriodError {
    #[error("--reporting {reporting} overlaps --baseline {baseline}: savings are measured on days the model did not learn from")]
    Overlap { baseline: Period, reporting: Period },
    #[error("--reporting {period} holds no hours of the CSV (its hours run from {first} to {last})")]
    Empty { period: Period, first: NaiveDate, last: NaiveDate },
}

impl std::fmt::Display for Period {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}..{}", self.start, self.end)
    }
}

pub fn run(args: FitArgs) -> anyhow::Result<()> {
    let tz: Tz = sobre_agent::config::zone::parse(&args.timezone)
        .map_err(|expected| anyhow::anyhow!("--timezone {:?}: {expected}", args.timezone))?;
    let fuel = match args.fuel {
        FuelArg::Electricity => Fuel::Electricity,
        FuelArg::Gas => Fuel::Gas,
    };
    let zeros = Zeros::of(fuel, args.zeros_are_readings);
    check_periods(args.baseline, args.reporting)?;
    let (rows, refused) = read_hours(&args, tz)?;
    let within = |p: Period| -> Vec<Row> {
        let (a, b) = (index_of(p.start), index_of(p.end));
        rows.iter().filter(|r| r.hour.day >= a && r.hour.day <= b).copied().collect()
    };
    if let Some(period) = args.reporting {
        if within(period).is_empty() {
            let day = |r: Option<&Row>| r.map_or(period.start, |r| date_of(r.hour.day));
            Err(PeriodError::Empty { period, first: day(rows.first()), last: day(rows.last()) })?;
        }
    }
    let read_warnings: Vec<String> = refused.into_iter().collect();
    if args.model == ModelKind::Hourly {
        return hourly::run(&args, zeros, within, read_warnings);
    }
    let hours_of = |rows: Vec<Row>| -> Vec<Hour> { rows.into_iter().map(|r| r.hour).collect() };
    // The days of a period, each open one with the closed days just before it (read from before
    // the period), and the period's sufficiency report.
    let days_of = |p: Period| {
        let (_, report) = daily_from_hours(&hours_of(within(p)), zeros);
        let lookback = Period { start: p.start - chrono::Days::new(CLOSED_DAYS_RECOVERED as u64), ..p };
        let (mut days, _) = daily_from_hours(&hours_of(within(lookback)), zeros);
        mark_recoveries(&mut days);
        days.retain(|d| d.index >= index_of(p.start));
        (days, report)
    };
    let (baseline_days, baseline_report) = days_of(args.baseline);
    let options = DailyOptions {
        cooling: args.cooling || fuel == Fuel::Electricity,
        recovery: args.recovery,
        ..DailyOptions::new(fuel)
    };
    let fit = fit_daily(&baseline_days, &options).context("fitting the baseline")?;
    let model = &fit.model;
    let predict = |days: &[Day]| -> Vec<f64> { days.iter().map(|d| model.predict_day(d)).collect() };
    let energy = |days: &[Day]| -> Vec<f64> { days.iter().map(|d| d.energy).collect() };
    let predicted = predict(&baseline_days);
    let rho = lag1_autocorrelation(
        &baseline_days.iter().zip(&predicted).map(|(d, p)| Some(d.energy - p)).collect::<Vec<_>>(),
    );

    // The verdict: daily residuals at the hourly/daily limits, monthly totals at the monthly ones.
    let daily_gate = gl14(Resolution::Daily, &fit.metrics);
    let mut months: BTreeMap<(i32, u32), (f64, f64)> = BTreeMap::new();
    for (d, p) in baseline_days.iter().zip(&predicted) {
        let date = date_of(d.index);
        let m = months.entry((date.year(), date.month())).or_default();
        m.0 += d.energy;
        m.1 += p;
    }
    let (ma, mp): (Vec<f64>, Vec<f64>) = months.values().copied().unzip();
    let monthly = metrics(&ma, &mp, 0);
    let monthly_gate = gl14(Resolution::Monthly, &monthly);
    let mut warnings = read_warnings;
    warnings.extend(baseline_report.warnings.iter().cloned());
    let mut disqualifications = baseline_report.disqualifications.clone();
    if baseline_report.days_in_period < 365 {
        disqualifications.push(format!("baseline has {} days; CalTRACK asks for 365", baseline_report.days_in_period));
    }

    let mut out = json!({
        "model": {
            "kind": "daily",
            "form": model.form,
            "day_types": model.day_types,
            "heating_balance_c": model.heating_balance_c,
            "cooling_balance_c": model.cooling_balance_c,
            "recovery": model.recovery,
            "coefficients": model.coefficients.iter().map(|(n, v)| (n.clone(), json!(v))).collect::<serde_json::Map<_, _>>(),
            "adj_r2": model.adj_r2,
            "candidates": fit.candidates,
        },
    });
    out["baseline"] = baseline_json(args.baseline, &fit.metrics, rho, daily_gate.pass && monthly_gate.pass);
    out["baseline"]["days"] = json!(baseline_report.days_in_period);
    out["baseline"]["monthly_cv_rmse"] = json!(monthly.cv_rmse);
    out["baseline"]["monthly_nmbe"] = json!(monthly.nmbe);
    if let Some(period) = args.reporting {
        let (days, report) = days_of(period);
        warnings.extend(report.warnings.iter().map(|w| format!("reporting: {w}")));
        let (p, m) = (predict(&days), energy(&days));
        // A year-ahead backtest (only a reporting period needs it): the same model fitted on the
        // year before, over the baseline.
        let (prior_days, _) = days_of(prior_year(args.baseline));
        let backtest_errors: Option<Vec<f64>> = (prior_days.len() >= 300)
            .then(|| fit_daily(&prior_days, &options).ok())
            .flatten()
            .map(|prior| baseline_days.iter().map(|d| prior.model.predict_day(d) - d.energy).collect());
        let metered_baseline: f64 = baseline_days.iter().map(|d| d.energy).sum();
        let backtest = backtest_errors.as_deref().map(|e| (e, metered_baseline));
        let s = with_interval(savings(&fit.metrics, rho, &p, &m), backtest, &mut warnings);
        let shifts: Vec<Value> = level_shifts(&fit.metrics, rho, &p, &m, 28, 4.0)
            .into_iter()
            .map(|shift| {
                json!({
                    "from": date_of(days[shift.start].index).to_string(),
                    "days": shift.len,
                    "mean_residual_kwh": shift.mean_residual,
                    "z": shift.z,
                })
            })
            .collect();
        let points = days.iter().zip(p.iter().zip(&m)).map(|(d, (p, m))| (d.index, *p, *m));
        out["reporting"] = reporting_json(period, &s, "days", points, shifts, &mut warnings);
    }
    out["warnings"] = json!(warnings);
    out["disqualifications"] = json!(disqualifications);
    print(&out, args.json);
    Ok(())
}

/// The baseline's fit, as both models report it.
fn baseline_json(period: Period, m: &Metrics, autocorrelation: f64, gl14_pass: bool) -> Value {
    json!({
        "start": period.start.to_string(),
        "end": period.end.to_string(),
        "n": m.n,
        "p": m.p,
        "cv_rmse": m.cv_rmse,
        "nmbe": m.nmbe,
        "r2": m.r2,
        "autocorrelation": autocorrelation,
        "gl14_pass": gl14_pass,
    })
}

/// Avoided energy per day and per month: `(local day index, baseline prediction, metered)`.
fn breakdown(points: impl IntoIterator<Item = (i64, f64, f64)>) -> (Vec<Value>, Vec<Value>) {
    let mut days: BTreeMap<i64, (f64, f64)> = BTreeMap::new();
    for (day, predicted, metered) in points {
        let d = days.entry(day).or_default();
        d.0 += predicted;
        d.1 += metered;
    }
    let mut months: BTreeMap<(i32, u32), (f64, f64)> = BTreeMap::new();
    let daily = days
        .iter()
        .map(|(day, (p, m))| {
            let date = date_of(*day);
            let month = months.entry((date.year(), date.month())).or_default();
            month.0 += p;
            month.1 += m;
            json!({ "date": date.to_string(), "baseline_kwh": p, "metered_kwh": m, "savings_kwh": p - m })
        })
        .collect();
    let monthly = months
        .iter()
        .map(|((y, mo), (p, m))| json!({ "month": format!("{y}-{mo:02}"), "baseline_kwh": p, "metered_kwh": m, "savings_kwh": p - m }))
        .collect();
    (daily, monthly)
}

/// The reporting period's figures; `unit` names what `m` counts (days or hours); `points` are
/// `(local day, baseline prediction, metered)` for the per-day and per-month breakdown.
fn reporting_json(
    period: Period,
    s: &Savings,
    unit: &str,
    points: impl IntoIterator<Item = (i64, f64, f64)>,
    non_routine: Vec<Value>,
    warnings: &mut Vec<String>,
) -> Value {
    let (daily, monthly) = breakdown(points);
    if !non_routine.is_empty() {
        warnings.push(format!(
            "{} four-week blocks show a level shift the model cannot explain (non-routine event?)",
            non_routine.len()
        ));
    }
    json!({
        "start": period.start.to_string(),
        "end": period.end.to_string(),
        unit: s.m,
        "metered_kwh": s.metered_kwh,
        "baseline_kwh": s.baseline_kwh,
        "savings_kwh": s.savings_kwh,
        "savings_pct": s.savings_pct,
        "interval68_kwh": s.interval68_kwh,
        "interval90_kwh": s.interval90_kwh,
        "interval_method": s.interval_method,
        "gl14_interval68_kwh": s.gl14_interval68_kwh,
        "gl14_interval90_kwh": s.gl14_interval90_kwh,
        "cv_rmse": s.reporting.cv_rmse,
        "nmbe": s.reporting.nmbe,
        "non_routine": non_routine,
        "daily": daily,
        "monthly": monthly,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_reporting_period_overlapping_the_baseline_is_refused() {
        let period = |text: &str| text.parse::<Period>().expect("a period");
        let baseline = period("2018-01-01..2018-12-31");
        let table = [
            // Given a reporting period, Then accepted or refused
            (None, true),
            (Some("2019-01-01..2019-12-31"), true),
            (Some("2017-01-01..2017-12-31"), true),
            (Some("2018-12-31..2019-12-31"), false),
            (Some("2018-03-01..2018-03-31"), false),
            (Some("2017-06-01..2019-06-01"), false),
        ];
        for (reporting, accepted) in table {
            // When the periods are checked
            let found = check_periods(baseline, reporting.map(period));
            assert_eq!(found.is_ok(), accepted, "{reporting:?}: {found:?}");
            if let Err(e) = found {
                assert!(e.to_string().contains("overlaps --baseline 2018-01-01..2018-12-31"), "{e}");
            }
        }
    }
}
