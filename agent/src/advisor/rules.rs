//! The rules: each compares the programme the building runs with the hours it is used (or with
//! a configured limit) and, where they disagree, proposes one setting with its reasons.

use super::estimate::Models;
use super::history::{History, STEP_HOURS};
use super::programme::{minutes, DayKind, Programme};
use super::setting::Setting;
use super::{AdvisorSettings, Factor, Reason, RuleKind};
use chrono::NaiveTime;

/// A rule's finding before it is estimated.
#[derive(Debug, Clone)]
pub struct Finding {
    pub kind: RuleKind,
    pub setting: Setting,
    pub reasons: Vec<Reason>,
    pub evidence: Vec<Factor>,
}

fn hm(t: NaiveTime) -> String {
    t.format("%H:%M").to_string()
}

fn reason(code: &str, text: String) -> Reason {
    Reason { code: code.into(), text }
}

fn factor(name: &str, value: f64, unit: &str) -> Factor {
    Factor { name: name.into(), value, unit: unit.into() }
}

fn at_minutes(m: i64) -> NaiveTime {
    let m = m.clamp(0, 24 * 60 - 1) as u32;
    NaiveTime::from_hms_opt(m / 60, m % 60, 0).unwrap_or_default()
}

/// Schedule changes smaller than this are not worth a facility manager's visit.
const MIN_SHIFT_MIN: i64 = 30;

pub fn findings(h: &History, p: &Programme, models: &Models, cfg: &AdvisorSettings) -> Vec<Finding> {
    let mut out = Vec::new();
    let programme = |out: &mut Vec<Factor>| {
        out.push(factor("night_setpoint", p.night_c, "°C"));
        out.push(factor("occupied_setpoint", p.occupied_c, "°C"));
    };
    if p.night_c > cfg.setback_c + 0.5 {
        let mut evidence = Vec::new();
        programme(&mut evidence);
        evidence.push(factor("setback_target", cfg.setback_c, "°C"));
        out.push(Finding {
            kind: RuleKind::NightSetback,
            setting: Setting::NightSetpoint { from_c: p.night_c, to_c: cfg.setback_c },
            reasons: vec![reason(
                "night_setpoint_high",
                format!(
                    "Outside the heated day the zones are held at {:.1} °C although nobody is in; {:.1} °C is enough to protect the building and recover by morning.",
                    p.night_c, cfg.setback_c
                ),
            )],
            evidence,
        });
    }
    for (kind, days, rule) in [
        (DayKind::Weekend, "Saturdays and Sundays", RuleKind::WeekendHeating),
        (DayKind::Closure, "weekdays with nobody in (holidays)", RuleKind::ClosureHeating),
    ] {
        let heated = p.count(kind, true);
        if heated == 0 {
            continue;
        }
        let mut evidence = vec![
            factor("unoccupied_days_heated", heated as f64, "d"),
            factor("unoccupied_days_not_heated", p.count(kind, false) as f64, "d"),
        ];
        programme(&mut evidence);
        let setting = match kind {
            DayKind::Closure => Setting::ClosureSetpoint { from_c: p.occupied_c, to_c: p.night_c },
            _ => Setting::WeekendSetpoint { from_c: p.occupied_c, to_c: p.night_c },
        };
        out.push(Finding {
            kind: rule,
            setting,
            reasons: vec![reason(
                "heated_while_unoccupied",
                format!(
                    "On {heated} {days} the presence sensors saw nobody, yet the day programme heated to {:.1} °C; hold the night level ({:.1} °C) on such days.",
                    p.occupied_c, p.night_c
                ),
            )],
            evidence,
        });
    }
    // Optimal start: the slowest zone's climb from the night level to the day level, plus a
    // quarter-hour of margin, before people arrive.
    let climb = models
        .responses
        .iter()
        .flatten()
        .map(|r| (p.occupied_c - p.night_c).max(0.0) / r.warming_k_per_h)
        .fold(0.0, f64::max);
    let lead_min = ((climb * 60.0 / 15.0).ceil() as i64 + 1) * 15;
    let start_by = at_minutes((minutes(p.arrive) - lead_min).div_euclid(15) * 15);
    if minutes(start_by) - minutes(p.start) >= MIN_SHIFT_MIN {
        out.push(Finding {
            kind: RuleKind::OptimalStart,
            setting: Setting::HeatingStart { from: p.start, to: start_by },
            reasons: vec![reason(
                "early_start",
                format!(
                    "The day programme starts at {} but people arrive at {}; the slowest zone climbs from {:.1} to {:.1} °C in {:.0} min, so starting at {} is enough.",
                    hm(p.start),
                    hm(p.arrive),
                    p.night_c,
                    p.occupied_c,
                    climb * 60.0,
                    hm(start_by)
                ),
            )],
            evidence: vec![
                factor("programme_start_min", minutes(p.start) as f64, "min"),
                factor("arrival_min", minutes(p.arrive) as f64, "min"),
                factor("warm_up_min", climb * 60.0, "min"),
            ],
        });
    }
    let stop_at = at_minutes(minutes(p.leave).div_euclid(15) * 15);
    if minutes(p.stop) - minutes(stop_at) >= MIN_SHIFT_MIN {
        out.push(Finding {
            kind: RuleKind::LateStop,
            setting: Setting::HeatingStop { from: p.stop, to: stop_at },
            reasons: vec![reason(
                "heated_after_departure",
                format!(
                    "People leave at {} but the day programme holds {:.1} °C until {}.",
                    hm(p.leave),
                    p.occupied_c,
                    hm(p.stop)
                ),
            )],
            evidence: vec![
                factor("departure_min", minutes(p.leave) as f64, "min"),
                factor("programme_stop_min", minutes(p.stop) as f64, "min"),
            ],
        });
    }
    if p.occupied_c > cfg.comfort_limit_c + 0.25 {
        out.push(Finding {
            kind: RuleKind::SetpointAboveLimit,
            setting: Setting::OccupiedSetpoint { from_c: p.occupied_c, to_c: cfg.comfort_limit_c },
            reasons: vec![reason(
                "setpoint_above_limit",
                format!(
                    "Occupied zones are held at {:.1} °C, above the {:.1} °C limit for heating set for this site.",
                    p.occupied_c, cfg.comfort_limit_c
                ),
            )],
            evidence: vec![factor("occupied_setpoint", p.occupied_c, "°C"), factor("limit", cfg.comfort_limit_c, "°C")],
        });
    }
    out.extend(baseload(h, cfg));
    out
}

/// The electric load left on when nobody is in, against the load while people are in.
fn baseload(h: &History, cfg: &AdvisorSettings) -> Option<Finding> {
    let (mut empty, mut busy) = ((0.0, 0usize), (0.0, 0usize));
    for (i, kwh) in h.other_kwh.iter().enumerate() {
        let Some(kwh) = kwh else { continue };
        let slot = if h.building_occupied(i) { &mut busy } else { &mut empty };
        slot.0 += kwh / STEP_HOURS;
        slot.1 += 1;
    }
    if empty.1 < 96 || busy.1 < 96 {
        return None;
    }
    let (empty_kw, busy_kw) = (empty.0 / empty.1 as f64, busy.0 / busy.1 as f64);
    let target_kw = cfg.baseload_share * busy_kw;
    (empty_kw > target_kw).then(|| Finding {
        kind: RuleKind::Baseload,
        setting: Setting::Baseload { from_kw: empty_kw, to_kw: target_kw },
        reasons: vec![reason(
            "baseload_high",
            format!(
                "With nobody in the building still draws {empty_kw:.2} kW, {:.0} % of the {busy_kw:.2} kW it draws while occupied (expected at most {:.0} %).",
                100.0 * empty_kw / busy_kw,
                100.0 * cfg.baseload_share
            ),
        )],
        evidence: vec![
            factor("unoccupied_kw", empty_kw, "kW"),
            factor("occupied_kw", busy_kw, "kW"),
            factor("unoccupied_hours", empty.1 as f64 * STEP_HOURS, "h"),
        ],
    })
}
