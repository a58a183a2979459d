//! What an event is expected to do, said before it starts: each zone's air-and-mass model
//! follows the schedule and the plan from the zone's temperature now, the heating duty it
//! needs becomes plant power through the meter's kW per percent of demand, and the comfort
//! cost is the K·h the plan takes below the comfort floor while people are in.

use crate::advisor::estimate::ZoneDynamics;
use serde::{Deserialize, Serialize};
use sobre_models::thermal::Inputs;

/// A zone's two setpoint programmes over the forecast's steps, with what it starts from.
#[derive(Debug, Clone)]
pub struct ZoneRun<'a> {
    pub model: &'a ZoneDynamics,
    pub start_c: f64,
    /// Per step: (scheduled setpoint, planned setpoint, occupied).
    pub steps: Vec<(f64, f64, bool)>,
}

/// The forecast, over the event and the hours after it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Forecast {
    pub event: String,
    /// The event's start and end, epoch ms.
    pub window: (i64, i64),
    /// Mean plant power during the event, kW: on schedule (the baseline) and under the plan.
    pub baseline_kw: f64,
    pub planned_kw: f64,
    pub shed_kw: f64,
    /// Highest step of the recovery window: under the plan, and on schedule.
    pub rebound_peak_kw: f64,
    pub baseline_peak_kw: f64,
    /// K·h below the comfort floor while occupied the plan adds, summed over the zones.
    pub discomfort_kh: f64,
    /// Energy the pre-heat moves ahead of the event, kWh.
    pub preheat_kwh: f64,
    /// Zones with a model; the others are left out.
    pub zones: usize,
    /// Per step (its end, epoch ms): the power on schedule and under the plan, kW.
    pub series: Vec<(i64, f64, f64)>,
    /// The plan pre-heats deep (the comfort floor would leave the event under half its shed):
    /// in the ledger, so that after a restart the event is planned as it was accepted.
    #[serde(default)]
    pub deep_preheat: bool,
}

/// The steps: where the pre-heat, the event and the recovery fall, in the forecast's steps.
#[derive(Debug, Clone, Copy)]
pub struct Windows {
    pub event: (usize, usize),
    pub recovery_end: usize,
    pub step_h: f64,
    /// Local hour of each step's start, from the forecast's first step.
    pub first_hour: u8,
    pub steps_per_hour: usize,
    /// When the first step ends, and the step, ms.
    pub first_end_ms: i64,
    pub step_ms: i64,
}

pub fn forecast(
    event: (&str, (i64, i64)),
    zones: &[ZoneRun],
    w: Windows,
    outdoor_c: f64,
    kw_per_demand: f64,
    comfort_min_c: f64,
) -> Forecast {
    let n = zones.iter().map(|z| z.steps.len()).max().unwrap_or(0);
    let (mut baseline, mut planned) = (vec![0.0; n], vec![0.0; n]);
    let mut discomfort_kh = 0.0;
    for z in zones {
        let inputs = |k: usize, occupied: bool| Inputs {
            outdoor: outdoor_c,
            solar: 0.0,
            heating: 0.0,
            hour: ((usize::from(w.first_hour) + k / w.steps_per_hour.max(1)) % 24) as u8,
            occupancy: f64::from(u8::from(occupied)),
        };
        let run = |pick: fn(&(f64, f64, bool)) -> f64| {
            let steps = z.steps.iter().enumerate().map(|(k, s)| (pick(s), inputs(k, s.2)));
            z.model.model.follow_duty(z.start_c, steps, z.model.max_heating)
        };
        let (on_schedule, on_plan) = (run(|s| s.0), run(|s| s.1));
        for (k, ((base, plan), step)) in on_schedule.iter().zip(&on_plan).zip(&z.steps).enumerate() {
            let kw = |duty: f64| duty * z.model.max_heating * kw_per_demand;
            baseline[k] += kw(base.1);
            planned[k] += kw(plan.1);
            if step.2 {
                let below = |air: f64| (comfort_min_c - air).max(0.0);
                discomfort_kh += (below(plan.0) - below(base.0)).max(0.0) * w.step_h;
            }
        }
    }
    let mean = |v: &[f64], (a, b): (usize, usize)| {
        v[a.min(n)..b.min(n)].iter().sum::<f64>() / (b.min(n) - a.min(n)).max(1) as f64
    };
    let peak = |v: &[f64]| v[w.event.1.min(n)..w.recovery_end.min(n)].iter().copied().fold(0.0, f64::max);
    let (baseline_kw, planned_kw) = (mean(&baseline, w.event), mean(&planned, w.event));
    let before = w.event.0.min(n);
    let preheat_kwh = (0..before).map(|k| (planned[k] - baseline[k]) * w.step_h).sum::<f64>().max(0.0);
    Forecast {
        event: event.0.to_string(),
        window: event.1,
        baseline_kw,
        planned_kw,
        shed_kw: baseline_kw - planned_kw,
        rebound_peak_kw: peak(&planned),
        baseline_peak_kw: peak(&baseline),
        discomfort_kh,
        preheat_kwh,
        zones: zones.len(),
        series: (0..n).map(|k| (w.first_end_ms + k as i64 * w.step_ms, baseline[k], planned[k])).collect(),
        deep_preheat: false,
    }
}
