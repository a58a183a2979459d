//! Grey-box zone thermal models identified by regression. The 1R1C model is the exact
//! discretisation of C·dT/dt = (Ta − T)/R + gains:
//!   T[k+1] = a·T[k] + b·Ta[k] + c·solar[k] + d·heating[k] + e,
//! with a = exp(−Δt/RC) and b ≈ 1 − a. The 2R2C model (air and mass, only the air observed) has
//! the same inputs with two lags: its input–output equivalent, ARX(2, 2). Both are fitted by
//! least squares on one-step transitions and used by simulation: multi-step trajectories for a
//! given heating or setpoint schedule, the time to reach comfort, the heating a setback saves.

use crate::wls::NormalEquations;
use serde::Serialize;

mod two_node;
pub use two_node::{fit_two_node, TwoNodeModel};

/// What a forecast needs of a zone model.
pub trait ZoneForecast {
    /// Steps of measured history needed before predicting.
    fn warm_up(&self) -> usize;
    /// The indoor temperatures after each of `inputs`, starting from the end of `history`.
    fn simulate(&self, history: &[ZoneStep], inputs: &[Inputs]) -> Vec<f64>;
}

impl ZoneForecast for ZoneModel {
    fn warm_up(&self) -> usize {
        ZoneModel::warm_up(self)
    }

    fn simulate(&self, history: &[ZoneStep], inputs: &[Inputs]) -> Vec<f64> {
        ZoneModel::simulate(self, history, inputs)
    }
}

/// One time step of a zone: the measured indoor temperature and the inputs during the step.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ZoneStep {
    pub indoor: f64,
    pub outdoor: f64,
    pub solar: f64,
    /// Heating input (kW, a valve signal or a supply temperature: the model is linear in it).
    pub heating: f64,
    /// Local hour of day (0–23): internal gains follow the occupants' day.
    pub hour: u8,
    /// Share of the step the zone was occupied (0 when unknown): people bring heat and
    /// ventilation. Only the 2R2C model uses it.
    pub occupancy: f64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Order {
    /// One state (air): 1R1C.
    R1C1,
    /// Two states (air and mass): 2R2C.
    R2C2,
}

impl Order {
    fn lags(self) -> usize {
        match self {
            Order::R1C1 => 1,
            Order::R2C2 => 2,
        }
    }

    fn parameters(self) -> usize {
        4 * self.lags() + 1
    }
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ThermalError {
    #[error("{steps} steps; a zone model needs at least {needed}")]
    TooFewSteps { steps: usize, needed: usize },
    #[error("the fit is not physical: {0}")]
    NotPhysical(String),
    #[error(transparent)]
    Solve(#[from] crate::wls::SolveError),
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ZoneModel {
    pub order: Order,
    /// Step length, hours.
    pub step_hours: f64,
    /// [indoor lags…, outdoor lags…, solar lags…, heating lags…, constant].
    pub coefficients: Vec<f64>,
    /// Time constant of the slowest mode, hours.
    pub time_constant_hours: f64,
    /// Steady-state indoor rise per unit of heating input, K.
    pub heating_gain_k: f64,
    /// One-step-ahead RMSE on the fitted data, K.
    pub rmse_one_step_k: f64,
    pub n: usize,
}

fn row(order: Order, steps: &[ZoneStep], k: usize) -> Vec<f64> {
    let lags = order.lags();
    let mut x = Vec::with_capacity(order.parameters());
    x.extend((0..lags).map(|l| steps[k - l].indoor));
    x.extend((0..lags).map(|l| steps[k - l].outdoor));
    x.extend((0..lags).map(|l| steps[k - l].solar));
    x.extend((0..lags).map(|l| steps[k - l].heating));
    x.push(1.0);
    x
}

/// Fits a zone model to a contiguous series of steps of `step_hours`.
pub fn fit_zone(steps: &[ZoneStep], step_hours: f64, order: Order) -> Result<ZoneModel, ThermalError> {
    let needed = 10 * order.parameters();
    if steps.len() < needed {
        return Err(ThermalError::TooFewSteps { steps: steps.len(), needed });
    }
    let lags = order.lags();
    let mut ne = NormalEquations::new(order.parameters());
    for k in lags - 1..steps.len() - 1 {
        ne.add(&row(order, steps, k), steps[k + 1].indoor, 1.0);
    }
    // A tiny ridge keeps an input that never varied (no sun sensor, heating never on) from making
    // the system singular; it is negligible next to thousands of steps.
    let solution = ne.solve_regularised(1e-11)?;
    let beta = solution.beta;
    let n = ne.rows();
    // The autoregressive part: poles of z² − a1·z − a2 (or z − a1) must lie inside the unit circle.
    let a1 = beta[0];
    let a2 = if lags == 2 { beta[1] } else { 0.0 };
    let slowest = slowest_pole(a1, a2).ok_or_else(|| {
        ThermalError::NotPhysical(format!("indoor lags {a1:.4}, {a2:.4} are not stable and non-oscillating"))
    })?;
    let sum_ar = a1 + a2;
    let heating_sum: f64 = beta[3 * lags..4 * lags].iter().sum();
    let outdoor_sum: f64 = beta[lags..2 * lags].iter().sum();
    if heating_sum <= 0.0 {
        return Err(ThermalError::NotPhysical(format!("heating lowers the temperature (gain {heating_sum:.4})")));
    }
    if outdoor_sum <= 0.0 {
        return Err(ThermalError::NotPhysical(format!("a warmer outside cools the zone (gain {outdoor_sum:.4})")));
    }
    Ok(ZoneModel {
        order,
        step_hours,
        time_constant_hours: -step_hours / slowest.ln(),
        heating_gain_k: heating_sum / (1.0 - sum_ar),
        rmse_one_step_k: (solution.sse / (n.saturating_sub(order.parameters()).max(1)) as f64).sqrt(),
        coefficients: beta,
        n,
    })
}

/// Fits a 1R1C model on what it will be used for: trajectories. For each candidate time
/// constant τ (pole a = exp(−Δt/τ)), every `window`-step trajectory started from a measured
/// temperature is linear in the remaining coefficients:
///   T[s+j] − aʲ·T[s] = Σᵢ aʲ⁻¹⁻ⁱ·(b·Ta + c·solar + d·heating + e)[s+i],
/// so least squares over all windows gives them; the τ with the smallest trajectory error wins.
/// Unlike one-step regression, sensor noise does not shrink τ.
pub fn fit_zone_trajectories(steps: &[ZoneStep], step_hours: f64, window: usize) -> Result<ZoneModel, ThermalError> {
    let needed = 2 * window.max(10);
    if steps.len() < needed {
        return Err(ThermalError::TooFewSteps { steps: steps.len(), needed });
    }
    let stride = (window / 4).max(1);
    let starts: Vec<usize> = (0..steps.len() - window).step_by(stride).collect();
    let fit_for = |a: f64| -> Option<(Vec<f64>, f64, usize)> {
        let mut ne = NormalEquations::new(4);
        for &s in &starts {
            let mut filtered = [0.0; 4];
            let mut decay = 1.0;
            for j in 1..=window {
                let u = steps[s + j - 1];
                for (f, x) in filtered.iter_mut().zip([u.outdoor, u.solar, u.heating, 1.0]) {
                    *f = a * *f + x;
                }
                decay *= a;
                ne.add(&filtered, steps[s + j].indoor - decay * steps[s].indoor, 1.0);
            }
        }
        let solution = ne.solve_regularised(1e-11).ok()?;
        Some((solution.beta, solution.sse, ne.rows()))
    };
    let mut best: Option<(f64, Vec<f64>, f64, usize)> = None;
    for i in 0..=80 {
        let tau = 0.5 * 1000f64.powf(f64::from(i) / 80.0); // 0.5 h … 500 h
        let a = (-step_hours / tau).exp();
        if let Some((beta, sse, n)) = fit_for(a) {
            if best.as_ref().is_none_or(|b| sse < b.2) {
                best = Some((a, beta, sse, n));
            }
        }
    }
    let (a, beta, sse, n) =
        best.ok_or_else(|| ThermalError::NotPhysical("no time constant gives a solvable fit".into()))?;
    if beta[2] <= 0.0 {
        return Err(ThermalError::NotPhysical(format!("heating lowers the temperature (gain {:.4})", beta[2])));
    }
    if beta[0] <= 0.0 {
        return Err(ThermalError::NotPhysical(format!("a warmer outside cools the zone (gain {:.4})", beta[0])));
    }
    Ok(ZoneModel {
        order: Order::R1C1,
        step_hours,
        time_constant_hours: -step_hours / a.ln(),
        heating_gain_k: beta[2] / (1.0 - a),
        rmse_one_step_k: (sse / n.max(1) as f64).sqrt(),
        coefficients: vec![a, beta[0], beta[1], beta[2], beta[3]],
        n,
    })
}

/// The larger real pole of z² − a1·z − a2, if both poles are real and in (0, 1).
fn slowest_pole(a1: f64, a2: f64) -> Option<f64> {
    let disc = a1 * a1 + 4.0 * a2;
    if disc < 0.0 {
        return None;
    }
    let (p1, p2) = ((a1 + disc.sqrt()) / 2.0, (a1 - disc.sqrt()) / 2.0);
    let inside = |p: f64| p.abs() < 1.0;
    (p1 > 0.0 && inside(p1) && inside(p2)).then_some(p1)
}

/// The inputs of a future step.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Inputs {
    pub outdoor: f64,
    pub solar: f64,
    pub heating: f64,
    pub hour: u8,
    pub occupancy: f64,
}

impl ZoneModel {
    fn next(&self, history: &[ZoneStep]) -> f64 {
        let k = history.len() - 1;
        row(self.order, history, k).iter().zip(&self.coefficients).map(|(x, b)| x * b).sum()
    }

    /// Steps of history the model needs before it can predict.
    pub fn warm_up(&self) -> usize {
        self.order.lags()
    }

    /// The indoor temperatures after each of `inputs`, starting from the last `warm_up()`
    /// measured steps of `history` (their inputs included).
    pub fn simulate(&self, history: &[ZoneStep], inputs: &[Inputs]) -> Vec<f64> {
        let mut window: Vec<ZoneStep> = history[history.len() - self.warm_up()..].to_vec();
        let mut out = Vec::with_capacity(inputs.len());
        for input in inputs {
            let last = window.len() - 1;
            window[last].outdoor = input.outdoor;
            window[last].solar = input.solar;
            window[last].heating = input.heating;
            window[last].hour = input.hour;
            let t = self.next(&window);
            out.push(t);
            // The new step's inputs are placeholders: the next iteration sets them.
            let latest = ZoneStep { indoor: t, ..window[last] };
            window.remove(0);
            window.push(latest);
        }
        out
    }

    /// Follows a setpoint schedule with a thermostat that heats at `max_heating` below the
    /// setpoint and not at all above it. Returns the temperatures and the heating used per step.
    pub fn follow(
        &self,
        history: &[ZoneStep],
        setpoints: &[f64],
        weather: &[(f64, f64)],
        max_heating: f64,
    ) -> (Vec<f64>, Vec<f64>) {
        let mut window: Vec<ZoneStep> = history[history.len() - self.warm_up()..].to_vec();
        let (mut temps, mut heat) = (Vec::new(), Vec::new());
        for (setpoint, (outdoor, solar)) in setpoints.iter().zip(weather) {
            let last = window.len() - 1;
            let current = window[last].indoor;
            let heating = if current < *setpoint { max_heating } else { 0.0 };
            window[last] =
                ZoneStep { indoor: current, outdoor: *outdoor, solar: *solar, heating, hour: 0, occupancy: 0.0 };
            let t = self.next(&window);
            temps.push(t);
            heat.push(heating);
            window.remove(0);
            window.push(ZoneStep { indoor: t, outdoor: *outdoor, solar: *solar, heating, hour: 0, occupancy: 0.0 });
        }
        (temps, heat)
    }

    /// Optimal start: steps of full heating from `history` until the zone reaches `comfort`,
    /// under constant weather; `None` if it does not within `max_steps`.
    pub fn time_to_comfort(
        &self,
        history: &[ZoneStep],
        comfort: f64,
        outdoor: f64,
        solar: f64,
        max_heating: f64,
        max_steps: usize,
    ) -> Option<usize> {
        let inputs = vec![Inputs { outdoor, solar, heating: max_heating, hour: 0, occupancy: 0.0 }; max_steps];
        self.simulate(history, &inputs).iter().position(|t| *t >= comfort).map(|k| k + 1)
    }
}

/// Forecast error at each horizon (steps) for forecasts started at every step of `test` with
/// the measured inputs: `(horizon, model RMSE, persistence RMSE)`, in K.
pub fn forecast_errors(model: &impl ZoneForecast, test: &[ZoneStep], horizons: &[usize]) -> Vec<(usize, f64, f64)> {
    let longest = horizons.iter().copied().max().unwrap_or(0);
    let warm = model.warm_up();
    let mut sums = vec![(0.0, 0.0, 0usize); horizons.len()];
    for start in warm..test.len().saturating_sub(longest) {
        let inputs: Vec<Inputs> = test[start - 1..start - 1 + longest]
            .iter()
            .map(|s| Inputs {
                outdoor: s.outdoor,
                solar: s.solar,
                heating: s.heating,
                hour: s.hour,
                occupancy: s.occupancy,
            })
            .collect();
        let path = model.simulate(&test[..start], &inputs);
        let now = test[start - 1].indoor;
        for (i, h) in horizons.iter().enumerate() {
            let truth = test[start - 1 + h].indoor;
            sums[i].0 += (path[h - 1] - truth).powi(2);
            sums[i].1 += (now - truth).powi(2);
            sums[i].2 += 1;
        }
    }
    horizons
        .iter()
        .zip(sums)
        .map(|(h, (m, p, n))| (*h, (m / n.max(1) as f64).sqrt(), (p / n.max(1) as f64).sqrt()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A zone with RC = 20 h, heated by 2 K per unit at steady state, with a 6-hour heating cycle.
    fn zone(steps: usize) -> Vec<ZoneStep> {
        let dt = 0.25;
        let a = (-dt / 20.0f64).exp();
        let mut t = 18.0;
        (0..steps)
            .map(|k| {
                let outdoor = 5.0 + 3.0 * (k as f64 * dt / 24.0 * std::f64::consts::TAU).sin();
                let heating = if (k / 24) % 2 == 0 { 6.0 } else { 0.0 };
                let step = ZoneStep { indoor: t, outdoor, solar: 0.0, heating, hour: 0, occupancy: 0.0 };
                t = a * t + (1.0 - a) * (outdoor + 2.0 * heating);
                step
            })
            .collect()
    }

    #[test]
    fn identifies_a_known_first_order_zone() {
        let m = fit_zone(&zone(2000), 0.25, Order::R1C1).expect("fits");
        assert!((m.time_constant_hours - 20.0).abs() < 0.01, "{}", m.time_constant_hours);
        assert!((m.heating_gain_k - 2.0).abs() < 1e-6, "{}", m.heating_gain_k);
        let errors = forecast_errors(&m, &zone(800), &[4, 96]);
        assert!(errors.iter().all(|(_, model, persistence)| *model < 1e-6 && *persistence > 0.1), "{errors:?}");
    }

    #[test]
    fn optimal_start_and_setback_follow_the_physics() {
        let history = zone(2000);
        let m = fit_zone(&history, 0.25, Order::R1C1).expect("fits");
        // Full heating of 12 units settles 24 K above 0 °C outside: from 15 °C it reaches 19 °C,
        // later from a colder start, never 30 °C.
        let cold = vec![ZoneStep { indoor: 15.0, outdoor: 0.0, solar: 0.0, heating: 0.0, hour: 0, occupancy: 0.0 }];
        let colder = vec![ZoneStep { indoor: 12.0, ..cold[0] }];
        let (t1, t2) = (
            m.time_to_comfort(&cold, 19.0, 0.0, 0.0, 12.0, 400),
            m.time_to_comfort(&colder, 19.0, 0.0, 0.0, 12.0, 400),
        );
        assert!(matches!((t1, t2), (Some(a), Some(b)) if a < b), "{t1:?} {t2:?}");
        assert_eq!(m.time_to_comfort(&cold, 30.0, 0.0, 0.0, 12.0, 400), None, "beyond what the heating can reach");
        // 1R1C: 15 → 19 towards 24 takes RC·ln(9/5) ≈ 11.8 h, i.e. 48 quarter-hours
        assert_eq!(t1, Some(48));
        // A night setback uses less heating than a constant setpoint.
        let weather = vec![(2.0, 0.0); 96 * 7];
        let constant = vec![20.0; 96 * 7];
        let setback: Vec<f64> = (0..96 * 7).map(|k| if (28..76).contains(&(k % 96)) { 20.0 } else { 16.0 }).collect();
        let start = vec![ZoneStep { indoor: 20.0, outdoor: 2.0, solar: 0.0, heating: 0.0, hour: 0, occupancy: 0.0 }];
        let (_, heat_constant) = m.follow(&start, &constant, &weather, 12.0);
        let (_, heat_setback) = m.follow(&start, &setback, &weather, 12.0);
        let (a, b): (f64, f64) = (heat_constant.iter().sum(), heat_setback.iter().sum());
        assert!(b < a && b > 0.5 * a, "setback {b} vs constant {a}");
    }

    #[test]
    fn an_unphysical_fit_is_refused() {
        let mut data = zone(2000);
        for s in &mut data {
            s.heating = -s.heating; // heating that cools
        }
        assert!(matches!(fit_zone(&data, 0.25, Order::R1C1), Err(ThermalError::NotPhysical(_))));
    }
}
