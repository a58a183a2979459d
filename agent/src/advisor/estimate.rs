//! Replays the analysed period under a proposed setting: each zone's trajectory under the
//! programme it had and under the changed one (the same zone model draws both, so its errors
//! cancel), the kelvin-hours between them, and the energy those kelvin-hours cost.

use super::history::{History, STEP_HOURS};
use super::programme::Programme;
use super::setting::Setting;
use serde::Serialize;
use sobre_models::metrics::{gl14, Resolution};
use sobre_models::setback::{HeatDay, HeatLoss, SetbackError, ZoneQuarter, ZoneResponse};

/// Days with less than this share of their quarter-hours do not enter the heat-loss fit.
const DAY_COVERAGE: f64 = 0.9;

/// The models every estimate rests on.
#[derive(Debug, Clone)]
pub struct Models {
    pub heat_loss: HeatLoss,
    pub gate_pass: bool,
    pub days: usize,
    /// Per zone, in the history's order.
    pub responses: Vec<Result<ZoneResponse, SetbackError>>,
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
        if total >= 92 && n as f64 >= DAY_COVERAGE * total as f64 {
            days.push(day.scaled(total as f64 / n as f64));
        }
    }
    days
}

fn zone_quarters(h: &History, z: usize) -> Vec<Option<ZoneQuarter>> {
    let zone = &h.zones[z];
    (0..h.len())
        .map(|i| {
            Some(ZoneQuarter {
                indoor: zone.temperature[i]?,
                setpoint: zone.setpoint[i]?,
                outdoor: h.outdoor[i]?,
                heating: zone.demand[i]? > 0.0,
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
    Ok(Models { gate_pass: gate.pass, days: days.len(), heat_loss, responses })
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
    response: ZoneResponse,
    start: f64,
    current: Vec<f64>,
    was: Vec<f64>,
}

impl Replay {
    pub fn new(h: &History, p: &Programme, models: &Models) -> Self {
        let outdoor = held(&h.outdoor, h.outdoor.iter().flatten().next().copied().unwrap_or(10.0));
        let zones = h
            .zones
            .iter()
            .zip(&models.responses)
            .map(|(zone, response)| {
                let response = response.as_ref().ok()?;
                let current = held(&zone.setpoint, p.night_c);
                let start = zone.temperature.iter().flatten().next().copied().unwrap_or(p.night_c);
                let was = response.simulate(start, &current, &outdoor, STEP_HOURS);
                Some(ZoneReplay { response: *response, start, current, was })
            })
            .collect();
        Self { local: (0..h.len()).map(|i| h.local(i)).collect(), outdoor, zones }
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
        let (was, would) = (&r.was, r.response.simulate(r.start, &proposed, outdoor, STEP_HOURS));
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
