//! Replays the analysed period under a proposed setting: each zone's trajectory under the
//! programme it had and under the changed one (the same zone model draws both, so its errors
//! cancel), the kelvin-hours between them, and the energy those kelvin-hours cost.

use super::blocker::Blocker;
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
                "no heating demand was reported for it, and the heating meter never read above zero".into()
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

/// Fits the models, or says what stops them.
pub fn fit(h: &History) -> Result<Models, Blocker> {
    if h.heating_meter.is_none() {
        return Err(Blocker::no_heating_meter());
    }
    let days = heat_days(h);
    let heat_loss = HeatLoss::fit(&days).map_err(|e| match e {
        SetbackError::TooFewDays { found, needed } => Blocker::too_few_days(found, needed),
        other => Blocker::heat_loss_model(other),
    })?;
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
    estimate_together(h, p, models, replay, &[setting], comfort_min_c)
}

/// As [`estimate`], with `settings` applied together in their order (see [`Setting::order`]):
/// where they overlap (a later start and a lower day level) each kelvin-hour is saved once.
pub fn estimate_together(
    h: &History,
    p: &Programme,
    models: &Models,
    replay: &Replay,
    settings: &[&Setting],
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
                Some(day) => {
                    let previous = local.date().pred_opt().and_then(|d| p.days.get(&d)).map(|d| d.kind);
                    Setting::apply_together(settings.iter().copied(), p, *day, previous, local, s)
                }
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::advisor::history::{Column, ZoneHistory};
    use sobre_models::emulator::{Building, Envelope, Plant, StepOutcome, Use, ZoneDrive, ZoneSpec};

    const DAYS: usize = 21;

    /// Three weeks of a two-zone office whose BMS runs a gas boiler 06:00–18:00 on weekdays
    /// (21 °C, 12 °C otherwise), under weather that changes from day to day; each zone with a
    /// TRV's heating demand, or none.
    fn office(with_demand: bool) -> History {
        let zones = vec![
            ZoneSpec::from_archetype("ground", 400.0, Use::Office, Envelope::Poor),
            ZoneSpec::from_archetype("first", 400.0, Use::Office, Envelope::Average),
        ];
        let boiler = Plant::Boiler { rated_w: zones.iter().map(|z| z.emitter).sum(), efficiency: 0.9 };
        let mut building = Building::new(zones, vec![(0, 1, 200.0)], boiler, 16.0).expect("valid office");
        let n = DAYS * 96;
        let (mut outdoor, mut heating_kwh) = (Vec::new(), Vec::new());
        let mut columns = vec![(Vec::new(), Vec::new(), Vec::new(), Vec::new()); 2];
        let mut out = StepOutcome::default();
        for i in 0..n {
            let (day, quarter) = (i / 96, i % 96);
            let weekday = day % 7 < 5;
            let t = 2.0 + (day * 7 % 9) as f64 - 3.0 * (quarter as f64 / 96.0 * std::f64::consts::TAU).cos();
            let on = weekday && (24..72).contains(&quarter);
            let occupancy = if weekday && (32..72).contains(&quarter) { 0.8 } else { 0.0 };
            let drive = ZoneDrive { setpoint: if on { 21.0 } else { 12.0 }, occupancy };
            building.step(900.0, t, 0.0, &[drive, drive], &mut out).expect("two drives");
            outdoor.push(Some(t));
            heating_kwh.push(Some(out.plant_wh / 1000.0));
            for (c, z) in columns.iter_mut().zip(&out.zones) {
                c.0.push(Some(z.mean_air));
                c.1.push(Some(drive.setpoint));
                c.2.push(with_demand.then_some(100.0 * z.duty));
                c.3.push(Some(occupancy));
            }
        }
        let zones = columns
            .into_iter()
            .zip(["ground", "first"])
            .map(|((temperature, setpoint, demand, occupancy), zone): ((Column, Column, Column, Column), _)| {
                ZoneHistory {
                    temperature,
                    setpoint,
                    demand,
                    occupancy,
                    presence_point: Some(format!("{zone}_occupancy")),
                    ..ZoneHistory::blank(zone, n)
                }
            })
            .collect();
        History {
            outdoor,
            heating_meter: Some("gas".into()),
            heating_kwh,
            zones,
            // 2019-01-07, a Monday, at midnight UTC.
            ..History::blank(chrono_tz::UTC, 1_546_819_200_000, n)
        }
    }

    #[test]
    fn a_zone_without_a_demand_point_is_modelled_on_the_buildings_heating_power() {
        // (each zone has a TRV's demand, the input its models are driven by)
        let table = [(true, HeatingInput::ZoneDemand), (false, HeatingInput::BuildingPower)];
        for (with_demand, input) in table {
            // Given the office's three weeks, with or without a heating-demand point per zone
            let h = office(with_demand);
            for z in 0..h.zones.len() {
                // When the zone's air-and-mass model and its response are fitted
                let dynamics = zone_dynamics(&h, z);
                let response = ZoneResponse::fit(&zone_quarters(&h, z), STEP_HOURS);
                // Then both fit, on that input, and the model follows the zone to within half a
                // kelvin; the response sees the evening's fall and the morning's climb
                let d = dynamics.unwrap_or_else(|e| panic!("demand {with_demand}, zone {z}: {e}"));
                assert_eq!(d.input, input);
                assert!(d.model.rmse_k < 0.5, "demand {with_demand}, zone {z}: {:?}", d.model);
                let r = response.unwrap_or_else(|e| panic!("demand {with_demand}, zone {z}: {e}"));
                assert!(
                    r.cooling_per_h > 0.0 && r.warming_k_per_h.is_finite(),
                    "demand {with_demand}, zone {z}: {r:?}"
                );
            }
            // And without demand points, each zone takes the whole building's power: summed
            // over the zones, a forecast counts the plant once
            let per_input = crate::advisor::kw_per_demand(&h).expect("heating seen");
            if input == HeatingInput::BuildingPower {
                assert!((per_input - 0.5).abs() < 1e-12, "{per_input}");
            }
        }
    }
}
