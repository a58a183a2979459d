//! The comfort watchdog: a zone the agent holds at or below its programme that is below the
//! comfort floor while people are in, or that its model expects to be within the look-ahead
//! under what the agent plans, is released at once and left to its programme.

use super::{Controller, Notice, StandDown, StepResult, SAME_C};
use crate::control::schedule::Slot;
use chrono::{TimeZone, Timelike};
use sobre_models::thermal::Inputs;

/// The watchdog trips this far below the comfort floor once the zone's week of comfort budget
/// is spent (a sensor's noise and a thermostat's swing are not a cold zone)…
pub(super) const WATCHDOG_SLACK_K: f64 = 0.25;
/// …and this far below it while budget is left: a flex shed or a setback may spend the budget
/// (the safety chain bounds it), never take a zone this cold.
pub(super) const WATCHDOG_BUDGETED_K: f64 = 1.0;
/// How far ahead the zone's model looks: a setback held too close to people's arrival, or a
/// shed the heating cannot climb back from in time, is seen while the programme can still warm
/// the zone.
const LOOK_AHEAD_MS: i64 = 2 * 3_600_000;

impl Controller {
    /// A command above the programme (a person's, a pre-heat) is warming the zone: left.
    pub(super) fn watch_comfort(&mut self, i: usize, now_ms: i64, programme_c: Option<f64>, out: &mut StepResult) {
        let floor_c = self.settings.comfort_min_c;
        let z = &self.zones[i];
        let Some((sent, _)) = z.sent else { return };
        if programme_c.is_some_and(|p| sent.setpoint_c > p + SAME_C) {
            return;
        }
        let budget_left = z.spent_kh < self.settings.budget_kh_per_week;
        let limit_c = floor_c - if budget_left { WATCHDOG_BUDGETED_K } else { WATCHDOG_SLACK_K };
        let cold_now = z.reading.temperature_c.filter(|t| *t < limit_c && z.reading.occupied);
        let cold = match cold_now {
            Some(t) => (t, None),
            None => match self.cold_ahead(i, now_ms, limit_c) {
                Some((t, at_ms)) => (t, Some(at_ms)),
                None => return,
            },
        };
        let until_ms = self.default_until(now_ms);
        let z = &mut self.zones[i];
        z.stood_down = Some((StandDown::Watchdog, until_ms));
        out.notices.push(Notice::WatchdogTripped {
            zone: z.name.clone(),
            temperature_c: cold.0,
            floor_c,
            expected_at_ms: cold.1,
            until_ms,
        });
    }

    /// By zone `i`'s model, from its temperature now and with the outdoor temperature held, the
    /// first step of the look-ahead in which people are in and the air is below `limit_c` under
    /// what the agent plans (its schedule, shaped by any event), with that temperature. `None`
    /// without a model, an outdoor reading or a schedule.
    fn cold_ahead(&self, i: usize, now_ms: i64, limit_c: f64) -> Option<(f64, i64)> {
        let (model, outdoor_c, schedule) = (self.models[i].as_ref()?, self.outdoor_c?, self.schedule.as_ref()?);
        let start_c = self.zones[i].reading.temperature_c?;
        let step = self.settings.step_ms.max(1);
        let times: Vec<(i64, Slot)> =
            (1..=LOOK_AHEAD_MS / step).map(|k| now_ms + k * step).map(|t| (t, schedule.at(t))).collect();
        let tz = self.settings.timezone;
        let steps = times.iter().map(|&(t, slot)| {
            // While people are in, a plan below comfort is not sent: the programme holds. (Ahead,
            // only the schedule says who will be in.)
            let planned_c = self.planned_c(i, t, slot);
            let planned_c = if self.below_floor(slot, false, planned_c) { slot.programme_c } else { planned_c };
            let hour = tz.timestamp_millis_opt(t).single().map_or(0, |l| l.hour() as u8);
            let occupancy = f64::from(u8::from(slot.occupied));
            (planned_c, Inputs { outdoor: outdoor_c, solar: 0.0, heating: 0.0, hour, occupancy })
        });
        let air = model.model.follow(start_c, steps, model.max_heating);
        times.iter().zip(air).find(|((_, slot), air)| slot.occupied && *air < limit_c).map(|((t, _), air)| (air, *t))
    }
}
