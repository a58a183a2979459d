//! The 2R2C zone model in state-space form: the air (observed) and the building's mass (not).
//!   dTi/dt = k_im·(Tm − Ti) + k_ia·(Ta − Ti) + g_s·solar + g_h·heating + g_0
//!   dTm/dt = k_mi·(Ti − Tm)
//! The mass temperature is estimated by running the mass node on the measured air temperature
//! (an observer). Fitted on trajectories: for fixed rates the trajectory is linear in the gains,
//! so a grid over the three rates with least squares for the gains minimises the error of
//! `window`-step forecasts started from measured states.

use super::{Inputs, ThermalError, ZoneForecast, ZoneStep};
use crate::wls::NormalEquations;
use serde::Serialize;

/// Blocks of the day with their own internal gains.
const BLOCKS: usize = 4;
/// Inputs with a gain of their own: solar, heating, occupancy.
const INPUTS: usize = 3;

fn block(hour: u8) -> usize {
    (usize::from(hour) * BLOCKS / 24).min(BLOCKS - 1)
}

/// Euler substeps per time step: rates up to a few per hour stay stable and accurate.
const SUBSTEPS: usize = 10;
/// Hours of measured history the mass observer needs to settle.
const OBSERVER_HOURS: f64 = 48.0;

#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct TwoNodeModel {
    pub step_hours: f64,
    /// Rates, per hour: air ↔ mass, air ↔ outside, mass ↔ air.
    pub k_im: f64,
    pub k_ia: f64,
    pub k_mi: f64,
    /// Gains on the air node, K per hour per unit of input.
    pub g_solar: f64,
    pub g_heating: f64,
    /// Net effect of full occupancy (people's heat less the ventilation they need), K per hour.
    pub g_occupancy: f64,
    /// Internal gains for each block of the day (00–06, 06–12, 12–18, 18–24 h).
    pub g_day: [f64; BLOCKS],
    /// RMSE of the fitted trajectories, K.
    pub rmse_k: f64,
}

/// One time step as a linear map: x' = A·x + b_ta·Ta + b_air·(air-node input), x = (Ti, Tm).
#[derive(Debug, Clone, Copy)]
struct Discrete {
    a: [[f64; 2]; 2],
    b_ta: [f64; 2],
    b_air: [f64; 2],
}

fn discretise(k_im: f64, k_ia: f64, k_mi: f64, step_hours: f64) -> Discrete {
    let h = step_hours / SUBSTEPS as f64;
    let euler = |x: [f64; 2], ta: f64, air: f64| -> [f64; 2] {
        let mut x = x;
        for _ in 0..SUBSTEPS {
            let dti = k_im * (x[1] - x[0]) + k_ia * (ta - x[0]) + air;
            let dtm = k_mi * (x[0] - x[1]);
            x = [x[0] + h * dti, x[1] + h * dtm];
        }
        x
    };
    let c0 = euler([1.0, 0.0], 0.0, 0.0);
    let c1 = euler([0.0, 1.0], 0.0, 0.0);
    Discrete {
        a: [[c0[0], c1[0]], [c0[1], c1[1]]],
        b_ta: euler([0.0, 0.0], 1.0, 0.0),
        b_air: euler([0.0, 0.0], 0.0, 1.0),
    }
}

impl Discrete {
    fn step(&self, x: [f64; 2], ta: f64, air: f64) -> [f64; 2] {
        [
            self.a[0][0] * x[0] + self.a[0][1] * x[1] + self.b_ta[0] * ta + self.b_air[0] * air,
            self.a[1][0] * x[0] + self.a[1][1] * x[1] + self.b_ta[1] * ta + self.b_air[1] * air,
        ]
    }
}

/// The mass temperature after each step of `history`: the mass node driven by the measured
/// air temperature, from the first step on (a slow mass needs all the history there is).
fn observe_mass(k_mi: f64, step_hours: f64, history: &[ZoneStep]) -> Vec<f64> {
    let decay = (-k_mi * step_hours).exp();
    let mut tm = history.first().map_or(0.0, |s| s.indoor);
    history
        .iter()
        .map(|s| {
            tm = s.indoor + (tm - s.indoor) * decay;
            tm
        })
        .collect()
}

fn log_grid(low: f64, high: f64, points: usize) -> Vec<f64> {
    (0..points).map(|i| low * (high / low).powf(i as f64 / (points - 1) as f64)).collect()
}

pub fn fit_two_node(steps: &[ZoneStep], step_hours: f64, window: usize) -> Result<TwoNodeModel, ThermalError> {
    let warm = (OBSERVER_HOURS / step_hours) as usize;
    let needed = warm + 4 * window;
    if steps.len() < needed {
        return Err(ThermalError::TooFewSteps { steps: steps.len(), needed });
    }
    let stride = (window / 4).max(1);
    let starts: Vec<usize> = (warm..steps.len() - window).step_by(stride).collect();
    let mass_rates = log_grid(0.005, 1.0, 10);
    let observed: Vec<Vec<f64>> = mass_rates.iter().map(|k| observe_mass(*k, step_hours, steps)).collect();
    let mut best: Option<(f64, TwoNodeModel)> = None;
    for &k_ia in &log_grid(0.0005, 0.5, 10) {
        for &k_im in &log_grid(0.02, 4.0, 10) {
            for (&k_mi, mass) in mass_rates.iter().zip(&observed) {
                let d = discretise(k_im, k_ia, k_mi, step_hours);
                let mut ne = NormalEquations::new(INPUTS + BLOCKS);
                for &s in &starts {
                    let tm0 = mass[s];
                    let mut free = [steps[s].indoor, tm0];
                    // Unit responses to: solar, heating, occupancy and the gain of each block of
                    // the day.
                    let mut unit = [[0.0; 2]; INPUTS + BLOCKS];
                    for j in 0..window {
                        let u = steps[s + j];
                        free = d.step(free, u.outdoor, 0.0);
                        let mut inputs = [0.0; INPUTS + BLOCKS];
                        inputs[0] = u.solar;
                        inputs[1] = u.heating;
                        inputs[2] = u.occupancy;
                        inputs[INPUTS + block(u.hour)] = 1.0;
                        for (r, input) in unit.iter_mut().zip(inputs) {
                            *r = d.step(*r, 0.0, input);
                        }
                        let x: Vec<f64> = unit.iter().map(|r| r[0]).collect();
                        ne.add(&x, steps[s + j + 1].indoor - free[0], 1.0);
                    }
                }
                let Ok(solution) = ne.solve_regularised(1e-11) else { continue };
                let (g_solar, g_heating, g_occupancy) = (solution.beta[0], solution.beta[1], solution.beta[2]);
                let mut g_day = [0.0; BLOCKS];
                g_day.copy_from_slice(&solution.beta[INPUTS..]);
                if g_heating <= 0.0 {
                    continue;
                }
                if best.as_ref().is_none_or(|(sse, _)| solution.sse < *sse) {
                    let rmse_k = (solution.sse / ne.rows().max(1) as f64).sqrt();
                    best = Some((
                        solution.sse,
                        TwoNodeModel { step_hours, k_im, k_ia, k_mi, g_solar, g_heating, g_occupancy, g_day, rmse_k },
                    ));
                }
            }
        }
    }
    best.map(|(_, m)| m).ok_or_else(|| ThermalError::NotPhysical("no rates give heating that warms the zone".into()))
}

impl ZoneForecast for TwoNodeModel {
    /// The mass observer's settling time.
    fn warm_up(&self) -> usize {
        (OBSERVER_HOURS / self.step_hours) as usize
    }

    /// Indoor temperatures after each of `inputs`, from the state estimated on `history`.
    fn simulate(&self, history: &[ZoneStep], inputs: &[Inputs]) -> Vec<f64> {
        let d = discretise(self.k_im, self.k_ia, self.k_mi, self.step_hours);
        let last = history[history.len() - 1];
        let mass = observe_mass(self.k_mi, self.step_hours, history);
        let mut x = [last.indoor, mass.last().copied().unwrap_or(last.indoor)];
        inputs
            .iter()
            .map(|u| {
                let air = self.g_solar * u.solar
                    + self.g_heating * u.heating
                    + self.g_occupancy * u.occupancy
                    + self.g_day[block(u.hour)];
                x = d.step(x, u.outdoor, air);
                x[0]
            })
            .collect()
    }
}

impl TwoNodeModel {
    /// Slowest time constant, hours.
    pub fn time_constant_hours(&self) -> f64 {
        let d = discretise(self.k_im, self.k_ia, self.k_mi, self.step_hours);
        let (tr, det) = (d.a[0][0] + d.a[1][1], d.a[0][0] * d.a[1][1] - d.a[0][1] * d.a[1][0]);
        let slowest = (tr + (tr * tr - 4.0 * det).max(0.0).sqrt()) / 2.0;
        -self.step_hours / slowest.ln()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::thermal::forecast_errors;

    #[test]
    fn recovers_a_known_two_node_zone_and_forecasts_it_exactly() {
        // Given a zone whose rates lie on the search grid, heated 8 hours a day
        let (k_ia, k_im, k_mi) =
            (log_grid(0.0005, 0.5, 10)[5], log_grid(0.02, 4.0, 10)[6], log_grid(0.005, 1.0, 10)[3]);
        let d = discretise(k_im, k_ia, k_mi, 0.25);
        let mut x = [18.0, 17.0];
        let steps: Vec<ZoneStep> = (0..4000)
            .map(|k| {
                let outdoor = 4.0 + 3.0 * (k as f64 / 96.0 * std::f64::consts::TAU).sin();
                let heating = if (k % 96) / 32 == 1 { 30.0 } else { 0.0 };
                let step =
                    ZoneStep { indoor: x[0], outdoor, solar: 0.0, heating, hour: ((k % 96) / 4) as u8, occupancy: 0.0 };
                x = d.step(x, outdoor, 0.1 * heating + 0.2);
                step
            })
            .collect();
        // When fitted on trajectories, Then the rates and gains come back and forecasts are close
        let m = fit_two_node(&steps[..3000], 0.25, 96).expect("fits");
        assert_eq!((m.k_ia, m.k_im, m.k_mi), (k_ia, k_im, k_mi));
        assert!((m.g_heating - 0.1).abs() < 1e-3 && m.g_day.iter().all(|g| (g - 0.2).abs() < 1e-2), "{m:?}");
        let errors = forecast_errors(&m, &steps[2000..], &[4, 96]);
        assert!(errors.iter().all(|(_, model, persistence)| *model < 0.1 * persistence), "{errors:?}");
    }
}
