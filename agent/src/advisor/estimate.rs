//! Replays the analysed period under a proposed setting: each zone's trajectory under the
//! programme it had and under the changed one (the same zone model draws both, so its errors
//! cancel), the kelvin-hours between them, and the energy those kelvin-hours cost.

use super::history::{whole_day, HeatingInput, History, STEP_HOURS};
use super::programme::Programme;
use super::setting::Setting;
use chrono::Timelike;
use serde::Serialize;
use sobre_models::metrics::{gl14, Resolution};
use sobre_models::setback::{HeatDay, HeatLoss, SetbackError, ZoneQuarter, ZoneResponse};
use sobre_models::thermal::{fit_two_node, Inputs, TwoNodeModel, ZoneStep};

/// The models every estimate rests on.
#[derive(Debug, Clone)]
pub struct Models {
    pub heat_loss: HeatLoss,
    pub gate_pass: bool,
    pub days: usize,
    /// Per zone, in the history's order: how fast it climbs (optimal start)…
    pub responses: Vec<Result<ZoneResponse, SetbackError>>,
    /// …and its air and mass, which the replays run on.
    pub dynamics: Vec<Result<ZoneDynamics, String>>,
}

/// A zone's air and mass with the most heating its emitters gave, in the units of the input it
/// was fitted on.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ZoneDynamics {
    pub model: TwoNodeModel,
    pub max_heating: f64,
    pub input: HeatingInput,
}

/// Forecast windows the zone model is fitted on: two days, so each spans a whole night's fall
/// and the climb after it.
const FIT_WINDOW: usize = 192;

fn zone_dynamics(h: &History, z: usize) -> Result<ZoneDynamics, String> {
    let zone = &h.zones[z];
    let input = h.heating_input(z);
    // A gap joins its two sides: a fit on day-long trajectories shrugs off a few such seams.
    let steps: Vec<ZoneStep> = (0..h.len())
        .filter_map(|i| {
            Some(ZoneStep {
                indoor: zone.temperature[i]?,
                outdoor: h.outdoor[i]?,
                solar: h.solar[i].unwrap_or(0.0),
                heating: h.heating(input, z, i)?,
                hour: h.local(i).hour() as u8,
                occupancy: zone.occupancy[i].unwrap_or(0.0),
            })
        })
        .collect();
    let max_heating = steps.iter().map(|s| s.heating).fold(0.0, f64::max);
    if max_heating <= 0.0 {
        return Err(match input {
            HeatingInput::ZoneDemand => "its heating demand was never above zero".into(),
            HeatingInput::BuildingPower => {
                "it has no heating-demand point and the heating meter never read above zero".into()
            }
        });
    }
    let model = fit_two_node(&steps, STEP_HOURS, FIT_WINDOW).map_err(|e| e.to_string())?;
    Ok(ZoneDynamics { model, max_heating, input })
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Estimate {
    /// Energy avoided over the analysed period, kWh, and its standard error.
    pub kwh: f64,
    pub se_kwh: f64,
    /// Mean over zones of the kelvin-hours the change lowers indoor temperature by.
    pub lowered_kh: f64,
    /// Extra kelvin-hours below comfort while occupied, per zone and week: mean and worst zone.
    pub discomfort_kh_per_week: f64,
    pub worst_discomfort_kh_per_week: f64,
}

fn heat_days(h: &History) -> Vec<HeatDay> {
    let mut days = Vec::new();
    let mut i = 0;
    while i < h.len() {
        let date = h.local(i).date();
        let (mut n, mut total) = (0usize, 0usize);
        let mut day = HeatDay::new();
        while i < h.len() && h.local(i).date() == date {
            total += 1;
            let indoor: Vec<f64> = h.zones.iter().filter_map(|z| z.temperature[i]).collect();
            if let (Some(kwh), Some(outdoor), false) =
                (h.heating_kwh[i], h.outdoor[i], indoor.len() * 2 < h.zones.len())
            {
                let mean = indoor.iter().sum::<f64>() / indoor.len().max(1) as f64;
                day.add(kwh, mean, outdoor, h.building_occupied(i), h.solar[i].unwrap_or(0.0), STEP_HOURS);
                n += 1;
            }
            i += 1;
        }
        // Whole days only: a part day's energy and kelvin-hours do not cover the same storage.
        if whole_day(n, total) {
            days.push(day.scaled(total as f64 / n as f64));
        }
    }
    days
}

/// A zone's quarter-hours for its response; heating on: its emitter, or without a demand
/// point, the plant drawing.
fn zone_quarters(h: &History, z: usize) -> Vec<Option<ZoneQuarter>> {
    let zone = &h.zones[z];
    let input = h.heating_input(z);
    (0..h.len())
        .map(|i| {
            Some(ZoneQuarter {
                indoor: zone.temperature[i]?,
                setpoint: zone.setpoint[i]?,
                outdoor: h.outdoor[i]?,
                heating: h.heating(input, z, i)? > 0.0,
                occupied: zone.occupancy[i].unwrap_or(0.0) > 0.0,
            })
        })
        .collect()
}

/// Fits the models, or says what is missing.
pub fn fit(h: &History) -> Result<Models, String> {
    if h.heating_meter.is_none() {
        return Err(
            "no energy point is tagged \"heating\": the advisor needs to know which meter carries the heating".into()
        );
    }
    let days = heat_days(h);
    let heat_loss = HeatLoss::fit(&days).map_err(|e| format!("heat-loss model: {e}"))?;
    let gate = gl14(Resolution::Daily, &heat_loss.metrics);
    let responses = (0..h.zones.len()).map(|z| ZoneResponse::fit(&zone_quarters(h, z), STEP_HOURS)).collect();
    let dynamics = (0..h.zones.len()).map(|z| zone_dynamics(h, z)).collect();
    Ok(Models { gate_pass: gate.pass, days: days.len(), heat_loss, responses, dynamics })
}

/// Fills gaps with the last value seen (a thermostat holds its setpoint between reports).
fn held(column: &[Option<f64>], first: f64) -> Vec<f64> {
    let mut last = first;
    column
        .iter()
        .map(|v| {
            last = v.unwrap_or(last);
            last
        })
        .collect()
}

/// The period as the building ran it, replayed once for every finding: the outdoor
/// temperature held over gaps, each quarter-hour's local time, and per zone (with a fitted
/// response) the setpoints it held and the trajectory the response draws under them.
#[derive(Debug, Clone)]
pub struct Replay {
    outdoor: Vec<f64>,
    local: Vec<chrono::NaiveDateTime>,
    zones: Vec<Option<ZoneReplay>>,
}

#[derive(Debug, Clone)]
struct ZoneReplay {
    dynamics: ZoneDynamics,
    start: f64,
    inputs: Vec<Inputs>,
    current: Vec<f64>,
    was: Vec<f64>,
}

impl ZoneReplay {
    fn follow(&self, setpoints: &[f64]) -> Vec<f64> {
        let steps = setpoints.iter().copied().zip(self.inputs.iter().copied());
        self.dynamics.model.follow(self.start, steps, self.dynamics.max_heating)
    }
}

impl Replay {
    pub fn new(h: &History, p: &Programme, models: &Models) -> Self {
        let outdoor = held(&h.outdoor, h.outdoor.iter().flatten().next().copied().unwrap_or(10.0));
        let local: Vec<chrono::NaiveDateTime> = (0..h.len()).map(|i| h.local(i)).collect();
        let zones = h
            .zones
            .iter()
            .zip(&models.dynamics)
            .map(|(zone, dynamics)| {
                let dynamics = *dynamics.as_ref().ok()?;
                let inputs = (0..h.len())
                    .map(|i| Inputs {
                        outdoor: outdoor[i],
                        solar: h.solar[i].unwrap_or(0.0),
                        heating: 0.0,
                        hour: local[i].hour() as u8,
                        occupancy: zone.occupancy[i].unwrap_or(0.0),
                    })
                    .collect();
                let current = held(&zone.setpoint, p.night_c);
                let start = zone.temperature.iter().flatten().next().copied().unwrap_or(p.night_c);
                let mut replay = ZoneReplay { dynamics, start, inputs, current, was: Vec::new() };
                replay.was = replay.follow(&replay.current);
                Some(replay)
            })
            .collect();
        Self { local, outdoor, zones }
    }
}

pub fn estimate(
    h: &History,
    p: &Programme,
    models: &Models,
    replay: &Replay,
    setting: &Setting,
    comfort_min_c: f64,
) -> Estimate {
    let outdoor = &replay.outdoor;
    let mut lowered = vec![0.0; h.len()];
    let mut zones = 0usize;
    let mut discomfort = Vec::new();
    for (zone, r) in h.zones.iter().zip(&replay.zones) {
        let Some(r) = r else { continue };
        let proposed: Vec<f64> = r
            .current
            .iter()
            .zip(&replay.local)
            .map(|(&s, &local)| match p.days.get(&local.date()) {
                Some(day) => setting.apply(p, *day, local, s),
                None => s,
            })
            .collect();
        let (was, would) = (&r.was, r.follow(&proposed));
        let mut extra = 0.0;
        for i in 0..h.len() {
            let lower = was[i] - would[i];
            lowered[i] += lower;
            // Measured temperature at the end of the quarter-hour, lowered by the change.
            if let (Some(t), true) =
                (zone.temperature.get(i + 1).copied().flatten(), zone.occupancy[i].unwrap_or(0.0) > 0.0)
            {
                extra += ((comfort_min_c - (t - lower)).max(0.0) - (comfort_min_c - t).max(0.0)) * STEP_HOURS;
            }
        }
        discomfort.push(extra);
        zones += 1;
    }
    let zones_f = zones.max(1) as f64;
    let (kwh, se_kwh) = models.heat_loss.avoided(
        lowered
            .iter()
            .zip(outdoor)
            .enumerate()
            .map(|(i, (l, o))| (*o, l / zones_f * STEP_HOURS, h.building_occupied(i))),
    );
    let weeks = (h.days() / 7.0).max(1.0 / 7.0);
    Estimate {
        kwh,
        se_kwh,
        lowered_kh: lowered.iter().sum::<f64>() / zones_f * STEP_HOURS,
        discomfort_kh_per_week: discomfort.iter().sum::<f64>() / zones_f / weeks,
        worst_discomfort_kh_per_week: discomfort.iter().copied().fold(0.0, f64::max) / weeks,
    }
}
