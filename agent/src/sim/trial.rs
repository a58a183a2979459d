//! The control trials `sobre demo` runs and the tests check, on the emulated building in closed
//! loop: a winter month under the accepted recommendations against the building's own
//! programme, and a two-hour shed against the same control without the event. The emulator's
//! ground truth measures both.

use super::closed_loop::{self, LoopOutcome, Request};
use super::{SimSettings, Truth};
use crate::advisor::estimate::ZoneDynamics;
use crate::config::control::ControlConfig;
use crate::config::control::Mode;
use crate::control::forecast::Forecast;
use crate::control::kpi::Kpis;
use crate::control::schedule::Schedule;
use crate::control::settle::{settle, Settlement};
use chrono::{NaiveDate, TimeZone};
use serde::Serialize;
use sobre_models::emulator::EmulatorError;

#[derive(Debug, Clone, Serialize)]
pub struct MonthTrial {
    pub first_day: NaiveDate,
    pub days: u32,
    /// Heating energy (the plant's input), kWh.
    pub baseline_kwh: f64,
    pub controlled_kwh: f64,
    pub saving_percent: f64,
    /// K·h below or above the band while occupied, per zone and week: the mean and the worst
    /// zone, under control and under the building's own programme.
    pub discomfort_kh_per_zone_week: f64,
    pub worst_zone_kh_per_week: f64,
    pub baseline_worst_zone_kh_per_week: f64,
    pub commands: u64,
    pub occupant_overrides: u64,
    pub kpis: Kpis,
    /// Shadow mode's day-ahead predictions against the meter.
    pub predicted: Prediction,
}

/// Shadow mode over the trial's whole days: what the controller said each midnight the day
/// would use, on the building's programme and on the schedule, and what the meter then showed
/// under each (kWh).
#[derive(Debug, Clone, Default, Serialize)]
pub struct Prediction {
    pub days: usize,
    pub programme_kwh: f64,
    pub schedule_kwh: f64,
    pub metered_programme_kwh: f64,
    pub metered_schedule_kwh: f64,
}

#[derive(Debug, Clone, Serialize)]
pub struct ShedTrial {
    pub start: String,
    pub end: String,
    /// Mean plant power during the event without it (the baseline) and with it, kW.
    pub baseline_kw: f64,
    pub event_kw: f64,
    pub shed_percent: f64,
    /// The highest 15-minute power in the three hours after the event, with it and without it.
    pub rebound_peak_kw: f64,
    pub baseline_peak_kw: f64,
    /// Heating energy over the trial's three days with the event less without it, kWh: what
    /// the pre-heat adds beyond what the event saves.
    pub added_kwh: f64,
    /// The worst zone's K·h outside the band over the trial, and the budget a week allows.
    pub worst_zone_kh: f64,
    pub budget_kh: f64,
    pub compute_ratio: f64,
    /// What the controller expected when it took the request, twelve hours ahead.
    pub forecast: Option<Forecast>,
    /// How the agent settles it from the meter alone (no counterfactual run).
    pub settlement: Option<Settlement>,
}

/// The agent in `auto` on a building against the building left alone: what it costs, whether
/// it read the building's own programme as a person, and whether it left anything held.
#[derive(Debug, Clone, Serialize)]
pub struct AutoTrial {
    pub baseline_kwh: f64,
    pub controlled_kwh: f64,
    /// K·h outside the band while occupied, the worst zone over the trial, each run.
    pub baseline_worst_zone_kh: f64,
    pub controlled_worst_zone_kh: f64,
    pub commands: u64,
    pub releases: u64,
    /// Zones whose device still held a command of the agent's once it stopped.
    pub held_at_end: usize,
    /// Readbacks the agent could not explain (each a reason to stay off a zone), as recorded.
    pub unexplained: Vec<String>,
    pub watchdog_trips: u64,
}

#[derive(Debug, thiserror::Error)]
pub enum TrialError {
    #[error(transparent)]
    Physics(#[from] EmulatorError),
    #[error("{0} is not a day of the weather year")]
    Day(NaiveDate),
}

fn starting(school: &SimSettings, first_day: NaiveDate, days: u32) -> Result<SimSettings, TrialError> {
    let mut s = school.clone();
    let midnight = first_day.and_hms_opt(0, 0, 0).ok_or(TrialError::Day(first_day))?;
    s.start_ms =
        s.timezone.from_local_datetime(&midnight).earliest().ok_or(TrialError::Day(first_day))?.timestamp_millis();
    s.steps = u64::from(days) * (86_400.0 / s.step_s) as u64;
    s.weather.covers(s.start_ms, s.start_ms + i64::from(days) * 86_400_000).map_err(|_| TrialError::Day(first_day))?;
    Ok(s)
}

/// What the agent learned that forecasts rest on: each zone's model and the meter's kW per
/// percent of heating demand.
#[derive(Debug, Clone, Copy, Default)]
pub struct Learned<'a> {
    pub zone_models: &'a [(String, ZoneDynamics)],
    pub kw_per_demand: Option<f64>,
}

fn loop_run(
    s: &SimSettings,
    control: Option<(&ControlConfig, &Schedule, Mode)>,
    learned: Learned,
    requests: &[Request],
) -> Result<LoopOutcome, TrialError> {
    gated_run(s, control, true, learned, requests)
}

/// As `loop_run`, with the models passing their quality gate or not.
fn gated_run(
    s: &SimSettings,
    control: Option<(&ControlConfig, &Schedule, Mode)>,
    gate: bool,
    learned: Learned,
    requests: &[Request],
) -> Result<LoopOutcome, TrialError> {
    let controller = control.map(|(c, schedule, mode)| {
        let mut controller = c.controller(s.timezone, s.comfort.min_c);
        controller.set_models(learned.zone_models, learned.kw_per_demand);
        // A trial sets its own mode, whatever the site's.
        controller.set_mode(mode);
        controller.set_schedule(Some(schedule.clone()), gate);
        controller
    });
    Ok(closed_loop::run(super::Emulator::new(s.clone())?, controller, requests, s.steps)?)
}

/// `days` from `first_day` with the agent in `auto` under `schedule`, its models passing their
/// gate or not, against the building's own programme.
pub fn auto(
    building: &SimSettings,
    control: &ControlConfig,
    schedule: &Schedule,
    gate: bool,
    first_day: NaiveDate,
    days: u32,
) -> Result<AutoTrial, TrialError> {
    let s = starting(building, first_day, days)?;
    let baseline = gated_run(&s, None, gate, Learned::default(), &[])?;
    let controlled = gated_run(&s, Some((control, schedule, Mode::Auto)), gate, Learned::default(), &[])?;
    let worst = |t: &Truth| t.zones.iter().map(|z| z.discomfort_kh).fold(0.0, f64::max);
    Ok(AutoTrial {
        baseline_kwh: baseline.truth.plant_kwh,
        controlled_kwh: controlled.truth.plant_kwh,
        baseline_worst_zone_kh: worst(&baseline.truth),
        controlled_worst_zone_kh: worst(&controlled.truth),
        commands: controlled.commands,
        releases: controlled.releases,
        held_at_end: controlled.held_at_end,
        unexplained: controlled.unexplained.iter().map(|n| format!("{n:?}")).collect(),
        watchdog_trips: controlled.watchdog_trips,
    })
}

fn per_week(truth: &Truth, days: u32) -> (f64, f64) {
    let weeks = f64::from(days) / 7.0;
    let each: Vec<f64> = truth.zones.iter().map(|z| z.discomfort_kh / weeks).collect();
    (each.iter().sum::<f64>() / each.len().max(1) as f64, each.iter().copied().fold(0.0, f64::max))
}

/// The agent's settlement of the event in `event` (what it reports to the city), from the
/// metered power and the discomfort the event added over `baseline`.
fn settlement(control: &ControlConfig, event: &LoopOutcome, baseline: &LoopOutcome) -> Option<Settlement> {
    let forecast = event.forecasts.first()?;
    let (start_ms, end_ms) = forecast.window;
    let e = crate::control::event::FlexEvent {
        id: forecast.event.clone(),
        kind: crate::control::event::FlexKind::Shed,
        start_ms,
        end_ms,
        depth: crate::control::event::Depth::Level(1.0),
        notice_ms: start_ms,
    };
    let added = event.kpis.discomfort_kh.iter().sum::<f64>() - baseline.kpis.discomfort_kh.iter().sum::<f64>();
    let preheat_ms = control.flex.preheat.as_millis() as i64;
    Some(settle(&e, forecast, preheat_ms, &event.power_kw, added.max(0.0), 0))
}

/// `days` from `first_day` under `schedule`, against the building's own programme.
pub fn month(
    school: &SimSettings,
    control: &ControlConfig,
    schedule: &Schedule,
    learned: Learned,
    first_day: NaiveDate,
    days: u32,
) -> Result<MonthTrial, TrialError> {
    let s = starting(school, first_day, days)?;
    let baseline = loop_run(&s, None, Learned::default(), &[])?;
    let controlled = loop_run(&s, Some((control, schedule, Mode::Auto)), Learned::default(), &[])?;
    // The same month with the controller only watching (shadow): what it says each midnight the
    // day will use on the programme and on the schedule, against what each run metered.
    let shadow = loop_run(&s, Some((control, schedule, Mode::Shadow)), learned, &[])?;
    let step_h = s.step_s / 3600.0;
    let metered = |o: &LoopOutcome, from: i64| -> f64 {
        o.power_kw.iter().filter(|(t, _)| *t > from && *t <= from + 86_400_000).map(|p| p.1 * step_h).sum()
    };
    let last = shadow.power_kw.last().map_or(0, |p| p.0);
    let whole: Vec<&(i64, Forecast)> = shadow.days.iter().filter(|(from, _)| last >= from + 86_400_000).collect();
    let predicted = Prediction {
        days: whole.len(),
        programme_kwh: whole.iter().map(|(_, f)| 24.0 * f.baseline_kw).sum(),
        schedule_kwh: whole.iter().map(|(_, f)| 24.0 * f.planned_kw).sum(),
        metered_programme_kwh: whole.iter().map(|(from, _)| metered(&baseline, *from)).sum(),
        metered_schedule_kwh: whole.iter().map(|(from, _)| metered(&controlled, *from)).sum(),
    };
    let (mean, worst) = per_week(&controlled.truth, days);
    let (base, ctl) = (baseline.truth.plant_kwh, controlled.truth.plant_kwh);
    Ok(MonthTrial {
        first_day,
        days,
        baseline_kwh: base,
        controlled_kwh: ctl,
        saving_percent: 100.0 * (1.0 - ctl / base.max(1e-9)),
        discomfort_kh_per_zone_week: mean,
        worst_zone_kh_per_week: worst,
        baseline_worst_zone_kh_per_week: per_week(&baseline.truth, days).1,
        commands: controlled.commands,
        occupant_overrides: controlled.truth.occupant_overrides,
        kpis: controlled.kpis,
        predicted,
    })
}

/// A full-depth shed from `start_ms` to `end_ms` on the day `first_day` begins, under
/// `schedule`, against the same control without it.
pub fn shed(
    school: &SimSettings,
    control: &ControlConfig,
    schedule: &Schedule,
    learned: Learned,
    first_day: NaiveDate,
    (start_ms, end_ms): (i64, i64),
) -> Result<ShedTrial, TrialError> {
    let s = starting(school, first_day, 3)?;
    let (start, end) = (crate::clock::iso(start_ms), crate::clock::iso(end_ms));
    let request = Request {
        at_ms: start_ms - 12 * 3_600_000,
        payload: format!(r#"{{"id":"trial","kind":"shed","start":"{start}","end":"{end}","level":1.0}}"#),
    };
    let baseline = loop_run(&s, Some((control, schedule, Mode::Auto)), learned, &[])?;
    let event = loop_run(&s, Some((control, schedule, Mode::Auto)), learned, &[request])?;
    let window = |o: &LoopOutcome, from: i64, to: i64| -> Vec<f64> {
        o.power_kw.iter().filter(|(t, _)| *t > from && *t <= to).map(|p| p.1).collect()
    };
    let mean = |v: Vec<f64>| v.iter().sum::<f64>() / v.len().max(1) as f64;
    let peak = |v: Vec<f64>| v.into_iter().fold(0.0, f64::max);
    let after = end_ms + 3 * 3_600_000;
    let (baseline_kw, event_kw) = (mean(window(&baseline, start_ms, end_ms)), mean(window(&event, start_ms, end_ms)));
    Ok(ShedTrial {
        start,
        end,
        baseline_kw,
        event_kw,
        shed_percent: 100.0 * (1.0 - event_kw / baseline_kw.max(1e-9)),
        rebound_peak_kw: peak(window(&event, end_ms, after)),
        baseline_peak_kw: peak(window(&baseline, end_ms, after)),
        added_kwh: event.truth.plant_kwh - baseline.truth.plant_kwh,
        worst_zone_kh: event.truth.zones.iter().map(|z| z.discomfort_kh).fold(0.0, f64::max),
        budget_kh: control.budget_kh_per_week,
        compute_ratio: event.kpis.compute_ratio,
        settlement: settlement(control, &event, &baseline),
        forecast: event.forecasts.first().cloned(),
    })
}
