//! The safety chain every setpoint the agent would send passes through. In order of precedence,
//! and a later stage can only narrow what an earlier one allows, never undo it:
//!   1. the manual stop switch: the whole agent advises only;
//!   2. hard bounds from config: the zone's setpoint range, always; for the agent's own
//!      commands also the largest change per step and the shortest time between changes;
//!   3. a human override: it wins within the range (a person's hand is not a control loop, so
//!      the rate limits do not hold it back);
//!   4. the comfort budget: once a zone's week of K·h below comfort is spent, no curtailment
//!      below what its own programme holds;
//!   5. the model quality gate: no control from a model that fails it;
//!   6. the plan.
//!
//! "Release" hands the zone back to its own thermostat programme, the fallback that is always
//! safe. Pure logic: the caller keeps the state and records each decision in the ledger.

use crate::config::control::Bounds;
use serde::Serialize;

/// The setpoint in force in a zone and since when.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Sent {
    pub setpoint_c: f64,
    pub at_ms: i64,
}

/// What the chain knows of one zone at one step.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ZoneInput {
    pub bounds: Bounds,
    pub now_ms: i64,
    /// The setpoint in force: the agent's last command, or, when the agent takes a zone over,
    /// what its programme held (so that the first command is a step from it too).
    pub last: Option<Sent>,
    /// A person's setpoint, while their override lasts.
    pub override_c: Option<f64>,
    /// What the zone's own programme holds now: curtailment is anything below it.
    pub programme_c: f64,
    /// K·h below comfort the zone may still spend this week.
    pub budget_left_kh: f64,
    pub model_passes_gate: bool,
    pub stopped: bool,
    /// The plan's setpoint; `None` leaves the zone to its programme.
    pub plan_c: Option<f64>,
}

/// Why the chain released a zone or changed the plan's value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Limit {
    StopSwitch,
    Override,
    ModelGate,
    NoPlan,
    /// The plan's value was not a number.
    PlanNotFinite,
    ComfortBudget,
    /// Held at the last command: too soon after it.
    MinInterval,
    MaxStep,
    Range,
    /// A readback the agent did not send and cannot explain: it stays off the zone.
    Unexplained,
    /// The comfort watchdog: the zone was below comfort while occupied.
    Watchdog,
    /// The agent is stopping.
    Shutdown,
    /// No step closed for a command's lifetime (readings stopped): the agent cannot see the
    /// zone, so what it set goes back to the building rather than waiting for its last will.
    Silent,
    /// The command would be below comfort while people are in: the programme holds instead.
    ComfortFloor,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum Decision {
    /// Send this setpoint; `limits` are the stages that changed the plan's value.
    Command { setpoint_c: f64, limits: Vec<Limit> },
    /// Hand the zone back to its own programme.
    Release { because: Limit },
}

pub fn decide(z: &ZoneInput) -> Decision {
    let b = z.bounds;
    if z.stopped {
        return Decision::Release { because: Limit::StopSwitch };
    }
    if let Some(person) = z.override_c.filter(|v| v.is_finite()) {
        let setpoint_c = b.clamp(person);
        let mut limits = vec![Limit::Override];
        if setpoint_c != person {
            limits.push(Limit::Range);
        }
        return Decision::Command { setpoint_c, limits };
    }
    if !z.model_passes_gate {
        return Decision::Release { because: Limit::ModelGate };
    }
    let Some(plan) = z.plan_c else { return Decision::Release { because: Limit::NoPlan } };
    if !plan.is_finite() {
        return Decision::Release { because: Limit::PlanNotFinite };
    }
    // From the plan outwards: each stage may move the value, the next ones may move it back
    // only in their own favour, and the range has the last word.
    let mut limits = Vec::new();
    let mut value = plan;
    let mut moved = |limit: Limit, to: f64, value: &mut f64| {
        if to != *value {
            *value = to;
            limits.push(limit);
        }
    };
    if z.budget_left_kh <= 0.0 {
        moved(Limit::ComfortBudget, value.max(z.programme_c), &mut value);
    }
    if let Some(last) = z.last {
        if z.now_ms - last.at_ms < b.min_interval_ms() {
            moved(Limit::MinInterval, last.setpoint_c, &mut value);
        }
        let (low, high) = (last.setpoint_c - b.max_step_k(), last.setpoint_c + b.max_step_k());
        moved(Limit::MaxStep, value.clamp(low, high), &mut value);
    }
    moved(Limit::Range, b.clamp(value), &mut value);
    Decision::Command { setpoint_c: value, limits }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn zone(plan_c: Option<f64>) -> ZoneInput {
        ZoneInput {
            bounds: Bounds::new(15.0, 23.0, 1.0, 30 * 60_000).expect("bounds"),
            now_ms: 3_600_000,
            last: Some(Sent { setpoint_c: 20.0, at_ms: 0 }),
            override_c: None,
            programme_c: 20.0,
            budget_left_kh: 2.0,
            model_passes_gate: true,
            stopped: false,
            plan_c,
        }
    }

    fn command(setpoint_c: f64, limits: &[Limit]) -> Decision {
        Decision::Command { setpoint_c, limits: limits.to_vec() }
    }

    #[test]
    fn each_stage_of_the_chain_outranks_the_ones_after_it() {
        // Given a zone bounded to 15–23 °C, 1 K a step, 30 min between changes, last commanded
        // to 20 °C an hour ago, its programme at 20 °C
        let cases: Vec<(&str, ZoneInput, Decision)> = vec![
            ("a plan within every bound goes through", zone(Some(19.5)), command(19.5, &[])),
            ("a deep shed is taken a step at a time", zone(Some(16.0)), command(19.0, &[Limit::MaxStep])),
            (
                "too soon after the last change, the zone holds",
                ZoneInput { last: Some(Sent { setpoint_c: 20.0, at_ms: 3_000_000 }), ..zone(Some(19.5)) },
                command(20.0, &[Limit::MinInterval]),
            ),
            (
                "a spent comfort budget stops curtailment below the programme",
                ZoneInput { budget_left_kh: 0.0, ..zone(Some(19.0)) },
                command(20.0, &[Limit::ComfortBudget]),
            ),
            (
                "the budget does not undo the step limit",
                ZoneInput { budget_left_kh: 0.0, programme_c: 22.5, ..zone(Some(19.0)) },
                command(21.0, &[Limit::ComfortBudget, Limit::MaxStep]),
            ),
            (
                "pre-heating stops at the top of the range",
                ZoneInput { last: Some(Sent { setpoint_c: 22.8, at_ms: 0 }), ..zone(Some(24.0)) },
                command(23.0, &[Limit::MaxStep, Limit::Range]),
            ),
            (
                "no control from a model that fails its gate",
                ZoneInput { model_passes_gate: false, ..zone(Some(19.0)) },
                Decision::Release { because: Limit::ModelGate },
            ),
            (
                "a person's override wins at once, whatever the step limit and the gate",
                ZoneInput { override_c: Some(22.5), model_passes_gate: false, ..zone(Some(16.0)) },
                command(22.5, &[Limit::Override]),
            ),
            (
                "an override is held to the range",
                ZoneInput { override_c: Some(30.0), ..zone(Some(16.0)) },
                command(23.0, &[Limit::Override, Limit::Range]),
            ),
            (
                "the stop switch outranks even an override",
                ZoneInput { stopped: true, override_c: Some(22.0), ..zone(Some(19.0)) },
                Decision::Release { because: Limit::StopSwitch },
            ),
            ("no plan, no command", zone(None), Decision::Release { because: Limit::NoPlan }),
            ("a plan that is not a number", zone(Some(f64::NAN)), Decision::Release { because: Limit::PlanNotFinite }),
        ];
        for (name, input, expected) in cases {
            // When the chain decides, Then it decides as the stage that outranks the rest says
            assert_eq!(decide(&input), expected, "{name}");
        }
    }

    #[test]
    fn no_input_sequence_yields_a_command_outside_the_bounds() {
        // Given random bounds, and random sequences of plans (absurd and non-finite ones too),
        // overrides, budgets, gate verdicts and step times, the agent keeping its last command
        let mut rng = fastrand::Rng::with_seed(7);
        let any = |rng: &mut fastrand::Rng| match rng.u8(..10) {
            0 => f64::NAN,
            1 => f64::INFINITY,
            2 => -1e9,
            _ => rng.f64() * 60.0 - 10.0,
        };
        for _ in 0..2_000 {
            let min_c = 5.0 + rng.f64() * 15.0;
            let bounds =
                Bounds::new(min_c, min_c + 0.5 + rng.f64() * 10.0, 0.1 + rng.f64() * 2.0, rng.i64(0..3_600_000))
                    .expect("bounds");
            let (mut now_ms, mut last): (i64, Option<Sent>) = (0, None);
            for _ in 0..100 {
                now_ms += rng.i64(0..1_800_000);
                let input = ZoneInput {
                    bounds,
                    now_ms,
                    last,
                    override_c: (rng.u8(..8) == 0).then(|| any(&mut rng)),
                    programme_c: any(&mut rng),
                    budget_left_kh: rng.f64() * 4.0 - 1.0,
                    model_passes_gate: rng.u8(..10) != 0,
                    stopped: rng.u8(..50) == 0,
                    plan_c: (rng.u8(..10) != 0).then(|| any(&mut rng)),
                };
                // When the chain decides each step
                let decision = decide(&input);
                // Then every command is within the range; the agent's own commands move at most
                // one step from the last, and never sooner than the shortest interval allows
                match decision {
                    Decision::Command { setpoint_c, ref limits } => {
                        assert!(
                            (bounds.min_c()..=bounds.max_c()).contains(&setpoint_c),
                            "{setpoint_c} outside {bounds:?} for {input:?}"
                        );
                        if let (Some(l), false) = (last, limits.contains(&Limit::Override)) {
                            assert!((setpoint_c - l.setpoint_c).abs() <= bounds.max_step_k() + 1e-9, "{input:?}");
                            if now_ms - l.at_ms < bounds.min_interval_ms() {
                                assert_eq!(setpoint_c, l.setpoint_c, "{input:?}");
                            }
                        }
                        if last.is_none_or(|l| l.setpoint_c != setpoint_c) {
                            last = Some(Sent { setpoint_c, at_ms: now_ms });
                        }
                    }
                    // (back on its programme: the next command steps from what that holds)
                    Decision::Release { .. } => {
                        last = input
                            .programme_c
                            .is_finite()
                            .then(|| Sent { setpoint_c: bounds.clamp(input.programme_c), at_ms: now_ms });
                    }
                }
            }
        }
    }
}
