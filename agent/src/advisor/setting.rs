//! The exact change a recommendation asks for, in the terms of a thermostat programme, and what
//! it does to each quarter-hour's setpoint (how the advisor replays the past under it).

use super::programme::{Day, DayKind, Programme};
use chrono::{NaiveDateTime, NaiveTime};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "parameter", rename_all = "snake_case")]
pub enum Setting {
    /// The level held outside the heated day.
    NightSetpoint { from_c: f64, to_c: f64 },
    /// Saturdays and Sundays nobody comes in: hold `to_c` all day instead of the day level.
    WeekendSetpoint { from_c: f64, to_c: f64 },
    /// Weekdays nobody comes in (holidays, closures): hold `to_c` all day.
    ClosureSetpoint { from_c: f64, to_c: f64 },
    /// When the day level starts.
    HeatingStart { from: NaiveTime, to: NaiveTime },
    /// When the day level ends.
    HeatingStop { from: NaiveTime, to: NaiveTime },
    /// The day level itself.
    OccupiedSetpoint { from_c: f64, to_c: f64 },
    /// No heating on days warmer than this, whatever the programme says.
    HeatingCutOff { outdoor_above_c: f64 },
    /// In these zones heating and cooling ran at once: keep the cooling setpoint at least
    /// `gap_k` above the heating one (and check the valves).
    HeatingCoolingGap { zones: Vec<String>, gap_k: f64 },
    /// The electric load left on when nobody is in.
    Baseload { from_kw: f64, to_kw: f64 },
}

/// What a heating cut-off leaves on: frost protection.
pub const FROST_PROTECTION_C: f64 = 7.0;

impl Setting {
    /// The setpoint a zone would have held at `local` under this change, given what it held.
    pub fn apply(&self, p: &Programme, day: Day, local: NaiveDateTime, held: f64) -> f64 {
        let t = local.time();
        match *self {
            Setting::NightSetpoint { to_c, .. } if p.is_night_level(held) => to_c,
            Setting::WeekendSetpoint { to_c, .. } if day.kind == DayKind::Weekend && p.is_day_level(held) => to_c,
            Setting::ClosureSetpoint { to_c, .. } if day.kind == DayKind::Closure && p.is_day_level(held) => to_c,
            Setting::HeatingStart { to, .. } if t < to && p.is_day_level(held) => p.night_c,
            Setting::HeatingStop { to, .. } if t >= to && p.is_day_level(held) => p.night_c,
            Setting::OccupiedSetpoint { from_c, to_c } if (held - from_c).abs() <= 0.25 => to_c,
            Setting::HeatingCutOff { outdoor_above_c } if day.mean_outdoor_c.is_some_and(|t| t > outdoor_above_c) => {
                held.min(FROST_PROTECTION_C)
            }
            _ => held,
        }
    }

    /// Whether it holds days of this kind at a setback instead of the day level.
    pub fn sets_back(&self, kind: DayKind) -> bool {
        matches!(
            (self, kind),
            (Setting::WeekendSetpoint { .. }, DayKind::Weekend) | (Setting::ClosureSetpoint { .. }, DayKind::Closure)
        )
    }

    /// Whether it holds on a day after `previous`, among changes of which `set_back` tells
    /// whether any holds days of a kind at a setback. A later start does not hold the morning
    /// after a day a change set back (a Monday after weekends newly left cold): the start was
    /// judged on mornings after heated days, and from a colder building only the programme's
    /// own start warms it by the arrival.
    pub fn holds_after(&self, previous: DayKind, set_back: impl Fn(DayKind) -> bool) -> bool {
        !(matches!(self, Setting::HeatingStart { .. }) && set_back(previous))
    }

    /// What a slot that the programme held at `held` holds under `settings` accepted together,
    /// on a day after one of kind `previous` (unknown: none). The programme's hours are
    /// reshaped first (a later start, weekends at a setback), each change on what the one before
    /// left; then its levels, each judged on the reshaped hours alone, so that a day level
    /// lowered to the night's is never taken for a night and lowered again. What is no setpoint
    /// schedule (a cut-off) comes last.
    pub fn apply_together<'a, I>(
        settings: I,
        p: &Programme,
        day: Day,
        previous: Option<DayKind>,
        local: NaiveDateTime,
        held: f64,
    ) -> f64
    where
        I: IntoIterator<Item = &'a Setting> + Clone,
    {
        let set_back = |kind| settings.clone().into_iter().any(|s| s.sets_back(kind));
        let stage = |s: &Setting| match s.order() {
            Some(0 | 1) => 0,
            Some(_) => 1,
            None => 2,
        };
        let holds = |s: &&Setting| previous.is_none_or(|k| s.holds_after(k, set_back));
        let in_stage = |n| settings.clone().into_iter().filter(move |s| stage(s) == n).filter(holds);
        let reshaped = in_stage(0).fold(held, |h, s| s.apply(p, day, local, h));
        let levelled =
            in_stage(1).map(|s| s.apply(p, day, local, reshaped)).find(|v| *v != reshaped).unwrap_or(reshaped);
        in_stage(2).fold(levelled, |h, s| s.apply(p, day, local, h))
    }

    /// Where it comes among changes that reshape one programme together: its hours before its
    /// levels, since a later start turns early day hours into night hours, which a night
    /// setback then lowers. `None` for what is no setpoint schedule (a cut-off needs the day's
    /// outdoor temperature ahead of it, a forecast control does not have).
    pub fn order(&self) -> Option<u8> {
        match self {
            Setting::HeatingStart { .. } | Setting::HeatingStop { .. } => Some(0),
            Setting::WeekendSetpoint { .. } | Setting::ClosureSetpoint { .. } => Some(1),
            Setting::NightSetpoint { .. } | Setting::OccupiedSetpoint { .. } => Some(2),
            Setting::HeatingCutOff { .. } | Setting::HeatingCoolingGap { .. } | Setting::Baseload { .. } => None,
        }
    }

    /// What a facility manager types into the programme, in one line.
    pub fn describe(&self) -> String {
        let hm = |t: NaiveTime| t.format("%H:%M").to_string();
        match self {
            Setting::NightSetpoint { from_c, to_c } => format!("night setpoint {from_c:.1} → {to_c:.1} °C"),
            Setting::WeekendSetpoint { from_c, to_c } => {
                format!("unoccupied Saturdays and Sundays: hold {to_c:.1} °C instead of {from_c:.1} °C")
            }
            Setting::ClosureSetpoint { from_c, to_c } => {
                format!("closure days (holidays): hold {to_c:.1} °C instead of {from_c:.1} °C")
            }
            Setting::HeatingStart { from, to } => format!("day programme start {} → {}", hm(*from), hm(*to)),
            Setting::HeatingStop { from, to } => format!("day programme end {} → {}", hm(*from), hm(*to)),
            Setting::OccupiedSetpoint { from_c, to_c } => format!("occupied setpoint {from_c:.1} → {to_c:.1} °C"),
            Setting::HeatingCutOff { outdoor_above_c } => {
                format!("heating off when the day's mean outdoor temperature is above {outdoor_above_c:.1} °C")
            }
            Setting::HeatingCoolingGap { zones, gap_k } => {
                format!("{}: cooling setpoint at least {gap_k:.1} K above the heating setpoint", zones.join(", "))
            }
            Setting::Baseload { from_kw, to_kw } => {
                format!("switch off what stays on when nobody is in: {from_kw:.2} → {to_kw:.2} kW")
            }
        }
    }
}
