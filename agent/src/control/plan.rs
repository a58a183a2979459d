//! What a flexibility event does to a zone's scheduled setpoint: a pre-heat before it (the
//! walls store heat), a shed during it, and a recovery after it that the zones take in turn and
//! a step at a time, so they do not all call for full heat at once (the rebound peak).

use super::event::{Depth, FlexEvent, FlexKind};
use super::schedule::Slot;
use crate::config::control::FlexSettings;
use serde::Serialize;

impl FlexSettings {
    /// How long after an event its recovery may last: the spread and the longest ramp.
    pub fn recovery_ms(&self, step_ms: i64) -> i64 {
        let steps = (self.shed_k + self.preheat_k) / self.recovery_k_per_step.max(0.01);
        let ramp_ms = (steps.ceil() as i64 * step_ms).max(self.recovery.as_millis() as i64);
        self.recovery_spread.as_millis() as i64 + ramp_ms + step_ms
    }

    /// How much a zone `depth_k` below its schedule climbs a step: back in `recovery`, and never
    /// faster than `recovery_k_per_step`.
    fn recovery_step_k(&self, depth_k: f64, step_ms: i64) -> f64 {
        let steps = (self.recovery.as_millis() as i64 / step_ms.max(1)).max(1) as f64;
        self.recovery_k_per_step.min(depth_k.max(0.0) / steps)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Phase {
    PreHeat,
    Shed,
    Recover,
}

impl Phase {
    pub fn name(self) -> &'static str {
        match self {
            Phase::PreHeat => "pre_heat",
            Phase::Shed => "shed",
            Phase::Recover => "recover",
        }
    }
}

/// One zone under one event.
#[derive(Debug, Clone, Copy)]
pub struct ZoneEvent<'a> {
    pub event: &'a FlexEvent,
    /// The zone's turn in the recovery, of `zones`.
    pub turn: usize,
    pub zones: usize,
    /// The lowest setpoint a shed may ask while people are in.
    pub comfort_floor_c: f64,
    /// What the schedule asks of the zone when the event starts: a pre-heat warms towards
    /// its level even while the programme still holds the night's setback (an event at the
    /// start of the day), so the walls store heat at the level the event will draw on.
    pub at_start: Slot,
    /// The zone's range top: the most a pre-heat asks (what the safety chain would clamp it
    /// to anyway, said here so the forecast follows what is sent).
    pub ceiling_c: f64,
    /// The pre-heat starts earlier and warms deeper where the comfort floor takes part of the
    /// shed (the controller chose it from the forecast).
    pub deep_preheat: bool,
    pub step_ms: i64,
}

/// How deep the event asks: a level as given; a power target asks the most the zones can give
/// (the agent reports what it expects against the target).
pub(super) fn level(depth: Depth) -> f64 {
    match depth {
        Depth::Level(l) => l,
        Depth::TargetKw(_) => 1.0,
    }
}

impl ZoneEvent<'_> {
    /// The setpoint the event asks of the zone at `ts_ms` given its scheduled slot, and the
    /// phase; `None` outside the event's reach.
    pub fn shape(&self, s: &FlexSettings, ts_ms: i64, slot: Slot) -> Option<(f64, Phase)> {
        let e = self.event;
        let depth = level(e.depth);
        // A shift moves the energy ahead of the event; a shed or a price spike mostly cuts it.
        let preheat_k = match e.kind {
            FlexKind::Shift => s.preheat_k * depth * 1.5,
            FlexKind::Shed | FlexKind::Price => s.preheat_k * depth,
        };
        let floor = if slot.occupied { self.comfort_floor_c.min(slot.target_c) } else { f64::NEG_INFINITY };
        let shed_c = (slot.target_c - s.shed_k * depth).max(floor);
        // Where people are in when the event starts, the comfort floor takes part of the shed
        // away: the walls then store the heat the floor would have cost, warmed longer and
        // deeper beforehand, so the zones coast down to the floor through the event.
        let start = self.at_start;
        let taken_k = if self.deep_preheat && start.occupied {
            (s.shed_k * depth - (start.target_c - self.comfort_floor_c.min(start.target_c))).max(0.0)
        } else {
            0.0
        };
        let (preheat, makeup_k) = if taken_k > 0.0 {
            (s.preheat.max(s.floor_preheat), taken_k.min(s.floor_preheat_k))
        } else {
            (s.preheat, 0.0)
        };
        let preheat_ms = preheat.as_millis() as i64;
        if ts_ms >= e.start_ms - preheat_ms && ts_ms < e.start_ms {
            let warm_c = slot.target_c.max(start.target_c) + preheat_k + makeup_k;
            return Some((warm_c.min(self.ceiling_c.max(slot.target_c)), Phase::PreHeat));
        }
        if ts_ms >= e.start_ms && ts_ms < e.end_ms {
            return Some((shed_c, Phase::Shed));
        }
        let spread = s.recovery_spread.as_millis() as i64;
        let own_start = e.end_ms + spread * self.turn as i64 / self.zones.max(1) as i64;
        if ts_ms < e.end_ms || ts_ms >= e.end_ms + s.recovery_ms(self.step_ms) {
            return None;
        }
        let steps = ((ts_ms - own_start).max(-self.step_ms) / self.step_ms.max(1) + 1).max(0) as f64;
        let setpoint = shed_c + s.recovery_step_k(slot.target_c - shed_c, self.step_ms) * steps;
        (setpoint < slot.target_c).then_some((setpoint, Phase::Recover))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const H: i64 = 3_600_000;
    const STEP: i64 = 900_000;

    fn event(kind: FlexKind, level: f64) -> FlexEvent {
        FlexEvent { id: "e1".into(), kind, start_ms: 10 * H, end_ms: 12 * H, depth: Depth::Level(level), notice_ms: 0 }
    }

    fn slot(target_c: f64, occupied: bool) -> Slot {
        Slot { programme_c: 21.0, target_c, occupied }
    }

    #[test]
    fn an_event_preheats_sheds_down_to_the_comfort_floor_and_recovers_in_turns() {
        // Given a full-depth shed from 10:00 to 12:00, zones scheduled at 21 °C, 19 °C the floor
        // while people are in, and the defaults (2 h and 1 K of pre-heat, 4 K of shed, zones
        // starting their recovery over an hour, each back in 2 h and by at most 0.5 K a step)
        let s = FlexSettings::default();
        let shed = event(FlexKind::Shed, 1.0);
        let zone = |turn| ZoneEvent {
            event: &shed,
            turn,
            zones: 4,
            comfort_floor_c: 19.0,
            at_start: slot(21.0, true),
            ceiling_c: 24.0,
            deep_preheat: false,
            step_ms: STEP,
        };
        let table = [
            ("07:45, before the pre-heat", zone(0), 7 * H + 45 * 60_000, slot(21.0, true), None),
            ("08:00, pre-heat", zone(0), 8 * H, slot(21.0, true), Some((22.0, Phase::PreHeat))),
            ("10:00, occupied: shed to the floor", zone(0), 10 * H, slot(21.0, true), Some((19.0, Phase::Shed))),
            (
                "11:45, unoccupied: the whole 4 K",
                zone(0),
                11 * H + 45 * 60_000,
                slot(21.0, false),
                Some((17.0, Phase::Shed)),
            ),
            ("12:00, first zone's first step", zone(0), 12 * H, slot(21.0, true), Some((19.25, Phase::Recover))),
            ("12:15, first zone's second step", zone(0), 12 * H + STEP, slot(21.0, true), Some((19.5, Phase::Recover))),
            ("12:00, third zone waits its turn", zone(2), 12 * H, slot(21.0, true), Some((19.0, Phase::Recover))),
            (
                "12:45, third zone's second step",
                zone(2),
                12 * H + 3 * STEP,
                slot(21.0, true),
                Some((19.5, Phase::Recover)),
            ),
            (
                "12:00, unoccupied 4 K down: 0.5 K a step, the most",
                zone(0),
                12 * H,
                slot(21.0, false),
                Some((17.5, Phase::Recover)),
            ),
            (
                "13:30, first zone's last step",
                zone(0),
                13 * H + 30 * 60_000,
                slot(21.0, true),
                Some((20.75, Phase::Recover)),
            ),
            ("13:45, first zone back on schedule", zone(0), 13 * H + 45 * 60_000, slot(21.0, true), None),
        ];
        for (when, z, ts, slot, then) in table {
            assert_eq!(z.shape(&s, ts, slot), then, "{when}");
        }
    }

    #[test]
    fn where_the_floor_takes_the_shed_a_deep_preheat_starts_earlier_and_warms_more_up_to_the_range() {
        // Given an office zone at 21 °C with a 20 °C floor (1 K of the 4 asked is left to shed),
        // a full shed from 10:00 to 12:00, and a deep pre-heat of 6 h and up to 3 K more
        let s = FlexSettings {
            floor_preheat: std::time::Duration::from_secs(6 * 3600),
            floor_preheat_k: 3.0,
            ..FlexSettings::default()
        };
        let shed = event(FlexKind::Shed, 1.0);
        let zone = |deep_preheat, at_start, ceiling_c| ZoneEvent {
            event: &shed,
            turn: 0,
            zones: 1,
            comfort_floor_c: 20.0,
            at_start,
            ceiling_c,
            deep_preheat,
            step_ms: STEP,
        };
        let (night, day) = (slot(12.0, false), slot(21.0, true));
        let table = [
            ("ordinary, 04:00: not yet", zone(false, day, 26.0), 4 * H, night, None),
            ("ordinary, 08:00: 1 K above the day", zone(false, day, 26.0), 8 * H, day, Some((22.0, Phase::PreHeat))),
            ("deep, 03:45: not yet", zone(true, day, 26.0), 3 * H + 45 * 60_000, night, None),
            (
                "deep, 04:00 in the night's setback: the day's level, 1 K, and the 3 K the floor takes",
                zone(true, day, 26.0),
                4 * H,
                night,
                Some((25.0, Phase::PreHeat)),
            ),
            (
                "deep, 09:45, the range's top",
                zone(true, day, 24.0),
                9 * H + 45 * 60_000,
                day,
                Some((24.0, Phase::PreHeat)),
            ),
            ("deep, the shed is still the floor", zone(true, day, 24.0), 10 * H, day, Some((20.0, Phase::Shed))),
            (
                "deep, but nobody in at the start: the floor takes nothing",
                zone(true, slot(21.0, false), 26.0),
                4 * H,
                night,
                None,
            ),
        ];
        for (when, z, ts, slot, then) in table {
            assert_eq!(z.shape(&s, ts, slot), then, "{when}");
        }
    }

    #[test]
    fn a_half_level_sheds_half_as_deep_and_a_shift_preheats_more() {
        let s = FlexSettings::default();
        let (half, shift) = (event(FlexKind::Shed, 0.5), event(FlexKind::Shift, 1.0));
        let zone = |e| ZoneEvent {
            event: e,
            turn: 0,
            zones: 1,
            comfort_floor_c: 19.0,
            at_start: slot(20.0, false),
            ceiling_c: 24.0,
            deep_preheat: false,
            step_ms: STEP,
        };
        assert_eq!(zone(&half).shape(&s, 11 * H, slot(21.0, false)), Some((19.0, Phase::Shed)));
        assert_eq!(zone(&shift).shape(&s, 9 * H, slot(20.0, false)), Some((21.5, Phase::PreHeat)));
    }
}
