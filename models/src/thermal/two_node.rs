//! The 3R2C zone model in state-space form: the air (observed) and the building's mass (not).
//!   dTi/dt = k_im·(Tm − Ti) + k_ia·(Ta − Ti) + g_s·solar + g_h·heating + g_0
//!   dTm/dt = k_mi·(Ti − Tm) + k_ma·(Ta − Tm) + m_s·solar + m_o·occupancy
//! The walls lose to outdoors themselves (`k_ma`): without that path the mass can cool only
//! through the air, and a night's fall comes out several times too slow. Sun and people warm
//! the walls too (`m_s`, `m_o`): with every gain on the air, the fit explains a warm afternoon
//! by a leaky zone and the night's fall again comes out slow. The mass temperature is
//! estimated by running the mass node on the measured air and outdoor temperatures (an
//! observer). Fitted on trajectories: for fixed rates the trajectory is linear in the gains, so
//! a search over the four rates (a coarse grid, then halving steps around the best) with least
//! squares for the gains minimises the error of `window`-step forecasts from measured states.

use super::{Inputs, ThermalError, ZoneForecast, ZoneStep};
use crate::wls::NormalEquations;
use serde::Serialize;

/// Blocks of the day with their own internal gains.
const BLOCKS: usize = 4;
/// Inputs with a gain of their own on the air: solar, heating, occupancy, and the ventilation
/// that runs while people are in (occupancy × (outdoor − air)).
const INPUTS: usize = 4;
/// Inputs with a gain on the mass: solar and occupancy.
const MASS_INPUTS: usize = 2;
const COLUMNS: usize = INPUTS + BLOCKS + MASS_INPUTS;
/// Columns whose gain cannot be negative: ventilation and the mass's.
const SIGNED: [usize; 3] = [3, INPUTS + BLOCKS, INPUTS + BLOCKS + 1];

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
    /// Rates, per hour: air ↔ mass, air ↔ outside, mass ↔ air, mass ↔ outside.
    pub k_im: f64,
    pub k_ia: f64,
    pub k_mi: f64,
    pub k_ma: f64,
    /// Gains on the air node, K per hour per unit of input.
    pub g_solar: f64,
    pub g_heating: f64,
    /// People's heat at full occupancy, K per hour (their ventilation is `k_ventilation`).
    pub g_occupancy: f64,
    /// Air change while occupied, per hour at full occupancy: ventilation's loss grows with
    /// the indoor–outdoor difference, which no constant gain can stand for.
    pub k_ventilation: f64,
    /// Internal gains for each block of the day (00–06, 06–12, 12–18, 18–24 h).
    pub g_day: [f64; BLOCKS],
    /// Gains on the mass node, K per hour per unit: sun and people.
    pub m_solar: f64,
    pub m_occupancy: f64,
    /// RMSE of the fitted trajectories, K.
    pub rmse_k: f64,
}

/// One time step as a linear map: x' = A·x + b_ta·Ta + b_air·(air input) + b_mass·(mass
/// input), x = (Ti, Tm).
#[derive(Debug, Clone, Copy)]
struct Discrete {
    a: [[f64; 2]; 2],
    b_ta: [f64; 2],
    b_air: [f64; 2],
    b_mass: [f64; 2],
}

/// The four rates, per hour: air ↔ mass, air ↔ outside, mass ↔ air, mass ↔ outside.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Rates {
    im: f64,
    ia: f64,
    mi: f64,
    ma: f64,
}

fn discretise(r: Rates, step_hours: f64) -> Discrete {
    let h = step_hours / SUBSTEPS as f64;
    let euler = |x: [f64; 2], ta: f64, air: f64, mass: f64| -> [f64; 2] {
        let mut x = x;
        for _ in 0..SUBSTEPS {
            let dti = r.im * (x[1] - x[0]) + r.ia * (ta - x[0]) + air;
            let dtm = r.mi * (x[0] - x[1]) + r.ma * (ta - x[1]) + mass;
            x = [x[0] + h * dti, x[1] + h * dtm];
        }
        x
    };
    let c0 = euler([1.0, 0.0], 0.0, 0.0, 0.0);
    let c1 = euler([0.0, 1.0], 0.0, 0.0, 0.0);
    Discrete {
        a: [[c0[0], c1[0]], [c0[1], c1[1]]],
        b_ta: euler([0.0, 0.0], 1.0, 0.0, 0.0),
        b_air: euler([0.0, 0.0], 0.0, 1.0, 0.0),
        b_mass: euler([0.0, 0.0], 0.0, 0.0, 1.0),
    }
}

impl Discrete {
    fn step(&self, x: [f64; 2], ta: f64, air: f64, mass: f64) -> [f64; 2] {
        let row = |i: usize| {
            self.a[i][0] * x[0] + self.a[i][1] * x[1] + self.b_ta[i] * ta + self.b_air[i] * air + self.b_mass[i] * mass
        };
        [row(0), row(1)]
    }
}

/// The mass node alone, run on measured air: each step it relaxes towards where `drive` (its
/// inflow, K/h, given the step and the air's mean over it) would hold it, starting from
/// `start`. Gives the mass at the start of each step, where the measured air is too. From the
/// first step on: a slow mass needs all the history there is.
fn observe(
    r: Rates,
    step_hours: f64,
    history: &[ZoneStep],
    start: f64,
    drive: impl Fn(&ZoneStep, f64) -> f64,
) -> Vec<f64> {
    let decay = (-(r.mi + r.ma) * step_hours).exp();
    let mut tm = start;
    history
        .iter()
        .enumerate()
        .map(|(k, s)| {
            let at_start = tm;
            let air = history.get(k + 1).map_or(s.indoor, |next| 0.5 * (s.indoor + next.indoor));
            let towards = drive(s, air) / (r.mi + r.ma);
            tm = towards + (tm - towards) * decay;
            at_start
        })
        .collect()
}

/// The mass temperature at the start of each step of `history`, without its own gains: the
/// mass node driven by the measured air and outdoor temperatures.
fn observe_mass(r: Rates, step_hours: f64, history: &[ZoneStep]) -> Vec<f64> {
    let start = history.first().map_or(0.0, |s| s.indoor);
    observe(r, step_hours, history, start, |s, air| r.mi * air + r.ma * s.outdoor)
}

fn log_grid(low: f64, high: f64, points: usize) -> Vec<f64> {
    (0..points).map(|i| low * (high / low).powf(i as f64 / (points - 1) as f64)).collect()
}

/// Ranges searched, per hour. The mass's own loss may be nil (a zone inside a bigger building).
const AIR_OUTSIDE: (f64, f64) = (0.0005, 0.5);
const AIR_MASS: (f64, f64) = (0.02, 4.0);
const MASS_AIR: (f64, f64) = (0.005, 1.0);
const MASS_OUTSIDE: [f64; 5] = [0.0, 0.003, 0.01, 0.03, 0.1];
/// Points per rate on the coarse grid, and halvings of the step around its best.
const GRID: usize = 4;
const REFINEMENTS: usize = 5;

/// The forecast error of one set of rates with its best gains, or `None` if heating does not
/// warm the zone under them.
fn evaluate(
    r: Rates,
    steps: &[ZoneStep],
    starts: &[usize],
    step_hours: f64,
    window: usize,
) -> Option<(f64, TwoNodeModel)> {
    let d = discretise(r, step_hours);
    let mass = observe_mass(r, step_hours, steps);
    // The mass gains warm the observed mass too, so each window starts from a mass that is
    // linear in them as well.
    let mass_solar = observe(r, step_hours, steps, 0.0, |s, _| s.solar);
    let mass_occupancy = observe(r, step_hours, steps, 0.0, |s, _| s.occupancy);
    let mut ne = NormalEquations::new(COLUMNS);
    for &s in starts {
        let mut free = [steps[s].indoor, mass[s]];
        // Unit responses to: on the air, solar, heating, occupancy, ventilation and the gain of
        // each block of the day; on the mass, solar and occupancy.
        let mut unit = [[0.0; 2]; COLUMNS];
        unit[INPUTS + BLOCKS] = [0.0, mass_solar[s]];
        unit[INPUTS + BLOCKS + 1] = [0.0, mass_occupancy[s]];
        for j in 0..window {
            let u = steps[s + j];
            free = d.step(free, u.outdoor, 0.0, 0.0);
            let mut inputs = [0.0; COLUMNS];
            inputs[0] = u.solar;
            inputs[1] = u.heating;
            inputs[2] = u.occupancy;
            // The measured air stands in for the forecast one: it keeps the fit linear.
            inputs[3] = u.occupancy * (u.outdoor - u.indoor);
            inputs[INPUTS + block(u.hour)] = 1.0;
            inputs[INPUTS + BLOCKS] = u.solar;
            inputs[INPUTS + BLOCKS + 1] = u.occupancy;
            for (k, (unit, input)) in unit.iter_mut().zip(inputs).enumerate() {
                *unit =
                    if k < INPUTS + BLOCKS { d.step(*unit, 0.0, input, 0.0) } else { d.step(*unit, 0.0, 0.0, input) };
            }
            let x: Vec<f64> = unit.iter().map(|r| r[0]).collect();
            ne.add(&x, steps[s + j + 1].indoor - free[0], 1.0);
        }
    }
    // Ventilation cannot warm a zone, nor sun or people cool its walls: a gain that comes out
    // negative leaves the fit, and the rest is solved again.
    let mut solution = ne.solve_regularised(1e-11).ok()?;
    for _ in 0..SIGNED.len() {
        let negative: Vec<usize> = SIGNED.iter().copied().filter(|&c| solution.beta[c] < 0.0).collect();
        if negative.is_empty() {
            break;
        }
        negative.iter().for_each(|&c| ne.drop_column(c));
        solution = ne.solve_regularised(1e-11).ok()?;
    }
    let (g_solar, g_heating, g_occupancy, k_ventilation) =
        (solution.beta[0], solution.beta[1], solution.beta[2], solution.beta[3]);
    if g_heating <= 0.0 {
        return None;
    }
    let mut g_day = [0.0; BLOCKS];
    g_day.copy_from_slice(&solution.beta[INPUTS..INPUTS + BLOCKS]);
    let rmse_k = (solution.sse / ne.rows().max(1) as f64).sqrt();
    let model = TwoNodeModel {
        step_hours,
        k_im: r.im,
        k_ia: r.ia,
        k_mi: r.mi,
        k_ma: r.ma,
        g_solar,
        g_heating,
        g_occupancy,
        k_ventilation,
        g_day,
        m_solar: solution.beta[INPUTS + BLOCKS],
        m_occupancy: solution.beta[INPUTS + BLOCKS + 1],
        rmse_k,
    };
    Some((solution.sse, model))
}

pub fn fit_two_node(steps: &[ZoneStep], step_hours: f64, window: usize) -> Result<TwoNodeModel, ThermalError> {
    let warm = (OBSERVER_HOURS / step_hours) as usize;
    let needed = warm + 4 * window;
    if steps.len() < needed {
        return Err(ThermalError::TooFewSteps { steps: steps.len(), needed });
    }
    let stride = (window / 4).max(1);
    let starts: Vec<usize> = (warm..steps.len() - window).step_by(stride).collect();
    let eval = |r: Rates| evaluate(r, steps, &starts, step_hours, window);
    let better = |candidate: Option<(f64, TwoNodeModel)>, best: &mut Option<(f64, TwoNodeModel)>| {
        if let Some(c) = candidate {
            if best.as_ref().is_none_or(|(sse, _)| c.0 < *sse) {
                *best = Some(c);
            }
        }
    };
    let mut best = None;
    for &ia in &log_grid(AIR_OUTSIDE.0, AIR_OUTSIDE.1, GRID) {
        for &im in &log_grid(AIR_MASS.0, AIR_MASS.1, GRID) {
            for &mi in &log_grid(MASS_AIR.0, MASS_AIR.1, GRID) {
                for &ma in &MASS_OUTSIDE {
                    better(eval(Rates { im, ia, mi, ma }), &mut best);
                }
            }
        }
    }
    // Around the best point of the grid: each rate a factor up and down, the factor halved (in
    // log) every round. A nil mass loss tries the grid's smallest.
    let mut factor = (AIR_OUTSIDE.1 / AIR_OUTSIDE.0).powf(0.5 / (GRID - 1) as f64);
    for _ in 0..REFINEMENTS {
        while let Some((sse, m)) = best {
            let at = Rates { im: m.k_im, ia: m.k_ia, mi: m.k_mi, ma: m.k_ma };
            let ma_up = if at.ma > 0.0 { at.ma * factor } else { MASS_OUTSIDE[1] };
            for r in [
                Rates { ia: at.ia * factor, ..at },
                Rates { ia: at.ia / factor, ..at },
                Rates { im: at.im * factor, ..at },
                Rates { im: at.im / factor, ..at },
                Rates { mi: at.mi * factor, ..at },
                Rates { mi: at.mi / factor, ..at },
                Rates { ma: ma_up, ..at },
                Rates { ma: at.ma / factor, ..at },
            ] {
                // A nil mass loss divided is the same point: no need to weigh it again.
                if r != at {
                    better(eval(r), &mut best);
                }
            }
            if best.as_ref().is_none_or(|(s, _)| *s >= sse) {
                break;
            }
        }
        factor = factor.sqrt();
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
        let d = discretise(self.rates(), self.step_hours);
        let last = history[history.len() - 1];
        let r = self.rates();
        let mass = observe(r, self.step_hours, history, history[0].indoor, |s, air| {
            r.mi * air + r.ma * s.outdoor + self.mass_input(s.solar, s.occupancy)
        });
        let mut x = [last.indoor, mass.last().copied().unwrap_or(last.indoor)];
        inputs
            .iter()
            .map(|u| {
                x = d.step(x, u.outdoor, self.air_input(u, u.heating, x[0]), self.mass_input(u.solar, u.occupancy));
                x[0]
            })
            .collect()
    }
}

impl TwoNodeModel {
    fn rates(&self) -> Rates {
        Rates { im: self.k_im, ia: self.k_ia, mi: self.k_mi, ma: self.k_ma }
    }

    /// What drives the air node during a step, K/h, with the air at `air` when it starts.
    fn air_input(&self, u: &Inputs, heating: f64, air: f64) -> f64 {
        self.g_solar * u.solar
            + self.g_heating * heating
            + self.g_occupancy * u.occupancy
            + self.k_ventilation * u.occupancy * (u.outdoor - air)
            + self.g_day[block(u.hour)]
    }

    /// What drives the mass node during a step, K/h.
    fn mass_input(&self, solar: f64, occupancy: f64) -> f64 {
        self.m_solar * solar + self.m_occupancy * occupancy
    }

    /// Follows a setpoint programme from air and mass at `start`, with a thermostat that gives
    /// each step just the heating that brings the air to its setpoint, at most `max_heating`
    /// (an on/off thermostat's duty cycle over the step). `steps` carry each step's setpoint
    /// and inputs (their `heating` is ignored). Returns the air temperature after each step.
    pub fn follow(&self, start: f64, steps: impl IntoIterator<Item = (f64, Inputs)>, max_heating: f64) -> Vec<f64> {
        self.follow_duty(start, steps, max_heating).into_iter().map(|(air, _)| air).collect()
    }

    /// [`follow`](Self::follow), with each step's duty (0–1 of `max_heating`) beside its air
    /// temperature: what the heating would draw.
    pub fn follow_duty(
        &self,
        start: f64,
        steps: impl IntoIterator<Item = (f64, Inputs)>,
        max_heating: f64,
    ) -> Vec<(f64, f64)> {
        let d = discretise(self.rates(), self.step_hours);
        let full = [d.b_air[0] * self.g_heating * max_heating, d.b_air[1] * self.g_heating * max_heating];
        let mut x = [start, start];
        steps
            .into_iter()
            .map(|(setpoint, u)| {
                let free = d.step(x, u.outdoor, self.air_input(&u, 0.0, x[0]), self.mass_input(u.solar, u.occupancy));
                let duty = if full[0] > 0.0 { ((setpoint - free[0]) / full[0]).clamp(0.0, 1.0) } else { 0.0 };
                x = [free[0] + duty * full[0], free[1] + duty * full[1]];
                (x[0], duty)
            })
            .collect()
    }

    /// Slowest time constant, hours.
    pub fn time_constant_hours(&self) -> f64 {
        let d = discretise(self.rates(), self.step_hours);
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
        // Given a zone whose rates lie on the search grid, its walls losing to outdoors, heated
        // 8 hours a day, its walls warmed by people five days a week
        let rates = Rates {
            ia: log_grid(AIR_OUTSIDE.0, AIR_OUTSIDE.1, GRID)[GRID - 1],
            im: log_grid(AIR_MASS.0, AIR_MASS.1, GRID)[GRID - 1],
            mi: log_grid(MASS_AIR.0, MASS_AIR.1, GRID)[2],
            ma: MASS_OUTSIDE[2],
        };
        let d = discretise(rates, 0.25);
        let mut x = [18.0, 18.0];
        let steps: Vec<ZoneStep> = (0..4000)
            .map(|k| {
                let outdoor = 4.0 + 3.0 * (k as f64 / 96.0 * std::f64::consts::TAU).sin();
                let heating = if (k % 96) / 32 == 1 { 30.0 } else { 0.0 };
                let occupancy = f64::from(u8::from((k / 96) % 7 < 5 && (40..72).contains(&(k % 96))));
                let hour = ((k % 96) / 4) as u8;
                let step = ZoneStep { indoor: x[0], outdoor, solar: 0.0, heating, hour, occupancy };
                x = d.step(x, outdoor, 0.1 * heating + 0.2, 0.5 * occupancy);
                step
            })
            .collect();
        // When fitted on trajectories, Then the rates and gains come back and forecasts are close
        let m = fit_two_node(&steps[..3000], 0.25, 96).expect("fits");
        // (the search may stop a refinement step away from the grid point: within 20 %)
        let close = |a: f64, b: f64| (a / b - 1.0).abs() < 0.2;
        let found = m.rates();
        assert!(
            close(found.ia, rates.ia)
                && close(found.im, rates.im)
                && close(found.mi, rates.mi)
                && close(found.ma, rates.ma),
            "{found:?} for {rates:?}"
        );
        assert!((m.g_heating - 0.1).abs() < 1e-3 && m.g_day.iter().all(|g| (g - 0.2).abs() < 1e-2), "{m:?}");
        assert!((m.m_occupancy - 0.5).abs() < 0.02 && m.g_occupancy.abs() < 0.02, "{m:?}");
        // (not 24 h ahead: the days repeat, so yesterday is a perfect forecast of today)
        let errors = forecast_errors(&m, &steps[2000..], &[4, 48]);
        assert!(errors.iter().all(|(_, model, persistence)| *model < 0.1 * persistence), "{errors:?}");
    }

    #[test]
    fn a_thermostat_holds_the_setpoint_it_can_reach_and_a_setback_falls_with_the_mass() {
        // Given a zone with heavy walls that lose to outdoors too
        let m = TwoNodeModel {
            step_hours: 0.25,
            k_im: 2.0,
            k_ia: 0.2,
            k_mi: 0.2,
            k_ma: 0.02,
            g_solar: 0.0,
            g_heating: 0.2,
            g_occupancy: 0.0,
            k_ventilation: 0.0,
            g_day: [0.0; BLOCKS],
            m_solar: 0.0,
            m_occupancy: 0.0,
            rmse_k: 0.0,
        };
        let night = |setpoint: f64| {
            (0..96).map(move |k| {
                (
                    setpoint,
                    Inputs { outdoor: 5.0, solar: 0.0, heating: 0.0, hour: ((k / 4) % 24) as u8, occupancy: 0.0 },
                )
            })
        };
        // When it follows 19 °C all night, and 16 °C
        let held = m.follow(19.0, night(19.0), 100.0);
        let setback = m.follow(19.0, night(16.0), 100.0);
        // Then 19 °C is held to the step, and the setback falls step by step, fast at first
        // (air to walls) then with the walls, never below its setpoint
        assert!(held.iter().all(|t| (t - 19.0).abs() < 1e-9), "{held:?}");
        assert!(setback.windows(2).all(|w| w[1] <= w[0] + 1e-12) && setback.iter().all(|t| *t >= 16.0 - 1e-9));
        let (first_hour, second_hour) = (19.0 - setback[3], setback[3] - setback[7]);
        assert!(first_hour > 2.0 * second_hour && second_hour > 0.0, "{setback:?}");
        // And an emitter too small cannot hold a setpoint far above outdoors
        let weak = m.follow(19.0, night(19.0), 1.0);
        assert!(weak[95] < 18.0, "{:?}", &weak[90..]);
    }
}
