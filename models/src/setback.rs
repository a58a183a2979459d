//! What a change of thermostat programme saves, from what the building already does.
//!
//! A building loses heat in proportion to how much warmer than outdoors it is kept, so the energy
//! a setback avoids is the energy per kelvin-hour of indoor–outdoor difference times the
//! kelvin-hours by which the setback lowers indoor temperature. That holds for the mass too:
//! over a day it follows the air, so the air's kelvin-hours carry the whole effect.
//!
//! Two small models, each fitted on data the programme already produces:
//! - [`ZoneResponse`]: how fast a zone falls when its setpoint drops (the evening transitions)
//!   and climbs when it rises (the morning boost), to draw the trajectory a proposed programme
//!   would give;
//! - [`HeatLoss`]: metered energy per kelvin-hour, day by day, with its efficiency varying with
//!   outdoor temperature (a heat pump's COP falls in the cold, so a kelvin-hour at night costs
//!   more electricity than one in the afternoon), and the heat the building stores or gives up
//!   over the day (a plant off at night and at weekends pays it back at the restart).

use crate::metrics::{metrics, Metrics};
use crate::wls::{NormalEquations, SolveError};

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum SetbackError {
    #[error("{found} quarter-hours of the zone cooling with its heating off, {needed} needed: it never fell towards a lower setpoint")]
    NoFreeFall { found: usize, needed: usize },
    #[error("{found} days with heating energy, indoor and outdoor temperatures, {needed} needed")]
    TooFewDays { found: usize, needed: usize },
    #[error("the heat-loss regression cannot be solved: {0}")]
    Solve(#[from] SolveError),
    #[error("energy per kelvin-hour came out {0:.3} kWh/K·h: the meter does not follow the heat loss")]
    NotHeating(f64),
}

/// Free-fall samples below this, the cooling rate is a guess.
pub const MIN_FREE_FALL: usize = 8;
/// Days below this, the heat-loss slope is not identified against the weather.
pub const MIN_DAYS: usize = 14;

/// One quarter-hour (or any fixed step) of one zone.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ZoneQuarter {
    pub indoor: f64,
    pub setpoint: f64,
    pub outdoor: f64,
    /// The emitter was on at some point in the step.
    pub heating: bool,
    pub occupied: bool,
}

/// How a zone follows its setpoint: a first-order fall towards outdoors with the heating off,
/// a constant climb with it on, and a hold at the setpoint in between.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ZoneResponse {
    /// Share of the indoor–outdoor difference lost per hour with the heating off, 1/h.
    pub cooling_per_h: f64,
    /// Climb at full heating, K/h; infinite when the data never shows a zone below its setpoint
    /// for a whole step (oversized emitters reach any setpoint within a step).
    pub warming_k_per_h: f64,
    pub free_fall_samples: usize,
    pub warm_up_samples: usize,
}

/// Differences smaller than this are sensor noise and quantisation, not a transition.
const CLEARLY: f64 = 0.3;
/// Cooling needs a real difference to outdoors to be measured.
const MIN_LIFT_K: f64 = 3.0;

fn median(mut v: Vec<f64>) -> Option<f64> {
    v.sort_by(f64::total_cmp);
    let n = v.len();
    (n > 0).then(|| if n % 2 == 1 { v[n / 2] } else { 0.5 * (v[n / 2 - 1] + v[n / 2]) })
}

impl ZoneResponse {
    /// Fits on consecutive steps of one zone (`None` marks a gap). Free fall: two unheated,
    /// unoccupied steps (no gains) with the zone clearly above its setpoint. Warm-up: a heated
    /// step with the zone clearly below an unchanged setpoint.
    pub fn fit(steps: &[Option<ZoneQuarter>], step_hours: f64) -> Result<Self, SetbackError> {
        let mut cooling = Vec::new();
        let mut warming = Vec::new();
        for pair in steps.windows(2) {
            let [Some(a), Some(b)] = pair else { continue };
            let lift = a.indoor - a.outdoor;
            let free = !a.heating && !b.heating && !a.occupied && !b.occupied;
            if free && a.indoor > a.setpoint + CLEARLY && b.indoor > b.setpoint && lift > MIN_LIFT_K {
                cooling.push((a.indoor - b.indoor) / (lift * step_hours));
            }
            if a.heating && a.indoor < a.setpoint - CLEARLY && a.setpoint == b.setpoint {
                warming.push((b.indoor - a.indoor) / step_hours);
            }
        }
        let (free_fall_samples, warm_up_samples) = (cooling.len(), warming.len());
        if free_fall_samples < MIN_FREE_FALL {
            return Err(SetbackError::NoFreeFall { found: free_fall_samples, needed: MIN_FREE_FALL });
        }
        let cooling_per_h = median(cooling).unwrap_or(0.0).max(0.0);
        let warming_k_per_h = match median(warming) {
            Some(rate) if warm_up_samples >= 4 && rate > 0.0 => rate,
            _ => f64::INFINITY,
        };
        Ok(Self { cooling_per_h, warming_k_per_h, free_fall_samples, warm_up_samples })
    }

    /// The indoor temperature under a setpoint programme, from `start`, one value per step.
    pub fn simulate(&self, start: f64, setpoints: &[f64], outdoor: &[f64], step_hours: f64) -> Vec<f64> {
        let mut t = start;
        setpoints
            .iter()
            .zip(outdoor)
            .map(|(&s, &o)| {
                t = if t < s {
                    (t + self.warming_k_per_h * step_hours).min(s)
                } else {
                    let fallen = t - self.cooling_per_h * (t - o) * step_hours;
                    // Never below the setpoint: the thermostat holds it there.
                    fallen.max(s).min(t.max(s))
                };
                t
            })
            .collect()
    }
}

/// One day of the building: metered heating energy and its indoor–outdoor kelvin-hours,
/// weighted by each candidate efficiency form.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct HeatDay {
    pub energy_kwh: f64,
    /// Σ weight·(indoor − outdoor)·Δt for each form of [`SUPPLY_GRID`], K·h (indoor: the mean
    /// of the zones).
    pub weighted: [f64; SUPPLY_GRID.len()],
    /// The same, over the hours anyone was in: ventilation runs then, so a kelvin-hour costs
    /// more than at night.
    pub occupied_weighted: [f64; SUPPLY_GRID.len()],
    /// Hours anyone was in: people and equipment warm the building.
    pub occupied_hours: f64,
    /// Σ irradiance·Δt, kWh/m².
    pub solar_kwh_m2: f64,
    /// Indoor temperature of the day's first and last steps, °C: how much heat the building's
    /// mass took in or gave up over the day (see [`HeatLoss::beta`]).
    pub first_indoor: Option<f64>,
    pub last_indoor: f64,
}

/// Energy per kelvin-hour, fitted on days: `c·(supply − outdoor)` for a heat pump (its Carnot
/// efficiency falls as the lift from outdoors to its water grows), or a constant `c` for a
/// boiler or direct heating. The form that fits best is kept, so the advisor needs no plant
/// data sheet.
#[derive(Debug, Clone)]
pub struct HeatLoss {
    /// The heat pump's supply temperature that fits best; `None`: a constant efficiency.
    pub supply_c: Option<f64>,
    /// Kelvin-hours, occupied kelvin-hours (the extra), occupied hours, solar, and the day's
    /// rise of indoor temperature (kWh per K: the heat the building stores). No intercept:
    /// a day with no difference to outdoors needs no heating, and a free constant would take
    /// part of the slope with it (the winter's outdoor temperatures vary too little to tell a
    /// fixed daily amount from a price per kelvin-hour), pricing every saving too low.
    ///
    /// The storage term is the day's energy balance made whole: a plant switched off at night
    /// and at weekends meters nothing while the building cools, then pays the heat its mass
    /// gave up back at the restart. Without it a Saturday at 0 kWh and a Monday at twice a
    /// Friday's use look like noise around the heat loss; with it they are what the
    /// temperatures say. A building heated day and night ends each day about where it began,
    /// and the term is idle.
    pub beta: Vec<f64>,
    pub metrics: Metrics,
    sigma2: f64,
    solution: crate::wls::Solution,
}

/// Supply temperatures tried for a heat pump, °C; `None` is a constant efficiency.
const SUPPLY_GRID: [Option<f64>; 9] =
    [Some(30.0), Some(35.0), Some(40.0), Some(45.0), Some(50.0), Some(55.0), Some(65.0), Some(80.0), None];
/// Columns of the daily regression (see [`HeatLoss::beta`]).
const COLUMNS: usize = 5;
/// The column of the day's rise of indoor temperature.
const STORAGE: usize = 4;
/// Scales the heat pump's lift so the coefficients stay of the order of a plain kWh/K·h.
const LIFT_SCALE: f64 = 40.0;

/// Efficiency weight of a kelvin-hour at `outdoor`.
fn weight(supply_c: Option<f64>, outdoor: f64) -> f64 {
    supply_c.map_or(1.0, |s| (s - outdoor).max(1.0) / LIFT_SCALE)
}

impl HeatLoss {
    /// `days` carry, per day, Σ weight·(indoor − outdoor)·Δt for every supply temperature of
    /// the grid (see [`HeatDay::weighted`]).
    pub fn fit(days: &[HeatDay]) -> Result<Self, SetbackError> {
        if days.len() < MIN_DAYS {
            return Err(SetbackError::TooFewDays { found: days.len(), needed: MIN_DAYS });
        }
        let mut best: Option<HeatLoss> = None;
        for (g, supply_c) in SUPPLY_GRID.iter().enumerate() {
            let model = Self::fit_form(days, g, *supply_c)?;
            if model.beta[0] > 0.0 && best.as_ref().is_none_or(|b| model.metrics.rmse < b.metrics.rmse) {
                best = Some(model);
            }
        }
        best.ok_or_else(|| {
            SetbackError::NotHeating(Self::fit_form(days, SUPPLY_GRID.len() - 1, None).map_or(0.0, |m| m.beta[0]))
        })
    }

    fn row(d: &HeatDay, g: usize) -> [f64; COLUMNS] {
        [d.weighted[g], d.occupied_weighted[g], d.occupied_hours, d.solar_kwh_m2, d.stored_k()]
    }

    fn fit_form(days: &[HeatDay], g: usize, supply_c: Option<f64>) -> Result<Self, SetbackError> {
        let mut ne = NormalEquations::new(COLUMNS);
        for d in days {
            ne.add(&Self::row(d, g), d.energy_kwh, 1.0);
        }
        // A column that never varies (no solar sensor) must not make it singular; a ridge
        // this small moves no coefficient the data determines.
        let scale: f64 = days.iter().map(|d| d.weighted[g] * d.weighted[g]).sum();
        let ridge = 1e-9 * scale.max(1.0);
        let mut solution = ne.solve_penalising(ridge, 0)?;
        // A building stores heat, it does not make it: a negative capacity is the fit taking
        // noise for physics, and it would bend the kelvin-hour's price to suit. The term leaves.
        if solution.beta[STORAGE] < 0.0 {
            ne.drop_column(STORAGE);
            solution = ne.solve_penalising(ridge, 0)?;
        }
        let predicted: Vec<f64> = days.iter().map(|d| solution.predict(&Self::row(d, g))).collect();
        let actual: Vec<f64> = days.iter().map(|d| d.energy_kwh).collect();
        let metrics = metrics(&actual, &predicted, COLUMNS);
        let sigma2 = solution.sse / days.len().saturating_sub(COLUMNS).max(1) as f64;
        Ok(Self { supply_c, beta: solution.beta.clone(), metrics, sigma2, solution })
    }

    /// kWh of metered energy per kelvin-hour of indoor–outdoor difference, at an outdoor
    /// temperature.
    pub fn per_kelvin_hour(&self, outdoor: f64) -> f64 {
        self.beta[0] * weight(self.supply_c, outdoor)
    }

    /// The energy a lower indoor temperature avoids: `(outdoor, kelvin-hours lower, occupied)`
    /// per step. Returns the kWh and its standard error from the fit. The heat stored is not
    /// counted: over a period that starts and ends the same under both programmes, what the
    /// mass gives up at night it takes back in the morning.
    pub fn avoided(&self, steps: impl IntoIterator<Item = (f64, f64, bool)>) -> (f64, f64) {
        let (mut kh, mut occupied_kh) = (0.0, 0.0);
        for (outdoor, lower, occupied) in steps {
            let w = weight(self.supply_c, outdoor) * lower;
            kh += w;
            occupied_kh += if occupied { w } else { 0.0 };
        }
        let v = [kh, occupied_kh, 0.0, 0.0, 0.0];
        (self.solution.predict(&v), (self.sigma2 * self.solution.quadratic_form(&v)).max(0.0).sqrt())
    }
}

/// Accumulates a [`HeatDay`] step by step.
impl HeatDay {
    pub fn new() -> Self {
        Self {
            energy_kwh: 0.0,
            weighted: [0.0; SUPPLY_GRID.len()],
            occupied_weighted: [0.0; SUPPLY_GRID.len()],
            occupied_hours: 0.0,
            solar_kwh_m2: 0.0,
            first_indoor: None,
            last_indoor: 0.0,
        }
    }

    /// How much warmer the building ended the day than it began it, K.
    pub fn stored_k(&self) -> f64 {
        self.first_indoor.map_or(0.0, |first| self.last_indoor - first)
    }

    pub fn add(&mut self, energy_kwh: f64, indoor: f64, outdoor: f64, occupied: bool, solar_w_m2: f64, hours: f64) {
        self.energy_kwh += energy_kwh;
        for ((w, o), supply_c) in self.weighted.iter_mut().zip(&mut self.occupied_weighted).zip(SUPPLY_GRID) {
            let kh = weight(supply_c, outdoor) * (indoor - outdoor) * hours;
            *w += kh;
            *o += if occupied { kh } else { 0.0 };
        }
        self.occupied_hours += if occupied { hours } else { 0.0 };
        self.solar_kwh_m2 += solar_w_m2 * hours / 1000.0;
        self.first_indoor = self.first_indoor.or(Some(indoor));
        self.last_indoor = indoor;
    }

    pub fn scaled(&self, factor: f64) -> Self {
        Self {
            energy_kwh: self.energy_kwh * factor,
            weighted: self.weighted.map(|w| w * factor),
            occupied_weighted: self.occupied_weighted.map(|w| w * factor),
            occupied_hours: self.occupied_hours * factor,
            solar_kwh_m2: self.solar_kwh_m2 * factor,
            // The heat stored depends on where the day began and ended, not on how much of it
            // was read.
            first_indoor: self.first_indoor,
            last_indoor: self.last_indoor,
        }
    }
}

impl Default for HeatDay {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn quarter(indoor: f64, setpoint: f64, heating: bool) -> Option<ZoneQuarter> {
        Some(ZoneQuarter { indoor, setpoint, outdoor: 5.0, heating, occupied: false })
    }

    #[test]
    fn a_zone_that_cools_exponentially_gives_back_its_rate() {
        // Given a zone falling from 21 °C towards 5 °C at 10 % of the difference per hour
        let mut steps = Vec::new();
        for _night in 0..5 {
            let mut t = 21.0;
            for _ in 0..8 {
                steps.push(quarter(t, 16.0, false));
                t -= 0.1 * (t - 5.0) * 0.25;
            }
            steps.push(None);
        }
        // When it is fitted
        let r = ZoneResponse::fit(&steps, 0.25).expect("fits");
        // Then the rate is recovered, and no warm-up means an instant climb
        assert!((r.cooling_per_h - 0.1).abs() < 1e-9, "{r:?}");
        assert!(r.warming_k_per_h.is_infinite());
        // And a simulated setback falls the same way and stops at the setpoint
        let sim = r.simulate(21.0, &[16.0; 40], &[5.0; 40], 0.25);
        assert!((sim[0] - (21.0 - 0.1 * 16.0 * 0.25)).abs() < 1e-9);
        assert_eq!(sim[39], 16.0);
    }

    #[test]
    fn a_zone_never_seen_cooling_has_no_response() {
        let held: Vec<_> = (0..100).map(|_| quarter(19.0, 19.0, true)).collect();
        assert_eq!(ZoneResponse::fit(&held, 0.25), Err(SetbackError::NoFreeFall { found: 0, needed: MIN_FREE_FALL }));
    }

    #[test]
    fn a_heat_pumps_efficiency_and_the_energy_avoided_come_back() {
        // Given days of a heat pump with 45 °C water: 0.4 kWh per K·h at 5 °C, less when milder
        let truth = |outdoor: f64| 0.4 * (45.0 - outdoor) / 40.0;
        let days: Vec<HeatDay> = (0..30)
            .map(|i| {
                let outdoor = (i % 10) as f64;
                let occupied = i % 7 < 5;
                let mut d = HeatDay::new();
                for _ in 0..24 {
                    let energy = truth(outdoor) * (20.0 - outdoor) - if occupied { 0.5 } else { 0.0 };
                    d.add(energy, 20.0, outdoor, occupied, 0.0, 1.0);
                }
                d
            })
            .collect();
        // When it is fitted
        let model = HeatLoss::fit(&days).expect("fits");
        // Then the supply temperature and the slope are found
        assert_eq!(model.supply_c, Some(45.0), "{model:?}");
        assert!((model.per_kelvin_hour(5.0) - 0.4).abs() < 1e-6, "{:?}", model.beta);
        // And a setback lowering indoor by 3 K for 10 h at 5 °C avoids 30 K·h × 0.4 kWh
        let (kwh, se) = model.avoided((0..10).map(|_| (5.0, 3.0, false)));
        assert!((kwh - 12.0).abs() < 1e-4 && se < 1e-3, "{kwh} ± {se}");
    }

    #[test]
    fn a_building_that_pays_its_mass_back_is_priced_per_kelvin_hour_and_a_negative_store_is_not_fitted() {
        // Given days of a boiler, 0.4 kWh per K·h, whose building ends each day up to 3 K warmer
        // or colder than it began (a plant off at weekends, a Monday's recovery)
        let days = |kwh_per_k: f64| -> Vec<HeatDay> {
            (0..28)
                .map(|i| {
                    let (outdoor, rise) = ((i % 10) as f64, ((i % 7) as f64 - 3.0));
                    let mut d = HeatDay::new();
                    for h in 0..24 {
                        let indoor = 18.0 + rise * h as f64 / 23.0;
                        let stored = if h == 0 { 0.0 } else { kwh_per_k * rise / 23.0 };
                        d.add(0.4 * (indoor - outdoor) + stored, indoor, outdoor, false, 0.0, 1.0);
                    }
                    d
                })
                .collect()
        };
        // (kWh per K the building stores, as fitted)
        let table = [(50.0, 50.0), (-50.0, 0.0)];
        for (truth, fitted) in table {
            // When it is fitted
            let model = HeatLoss::fit(&days(truth)).expect("fits");
            // Then a real store is found and the kelvin-hour keeps its price; a negative one is
            // left out of the fit
            assert!((model.beta[STORAGE] - fitted).abs() < 0.01, "{truth}: {:?}", model.beta);
            if truth > 0.0 {
                assert_eq!(model.supply_c, None, "{model:?}");
                assert!((model.per_kelvin_hour(5.0) - 0.4).abs() < 1e-6, "{:?}", model.beta);
            }
        }
    }

    #[test]
    fn too_few_days_are_refused() {
        assert!(matches!(
            HeatLoss::fit(&[HeatDay::new(); 3]),
            Err(SetbackError::TooFewDays { found: 3, needed: MIN_DAYS })
        ));
    }
}
