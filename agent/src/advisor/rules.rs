//! The rules: each compares the programme the building runs with the hours it is used (or with
//! a configured limit) and, where they disagree, proposes one setting with its reasons.

use super::estimate::{Estimate, Models};
use super::history::{History, ZoneHistory, STEP_HOURS};
use super::programme::{minutes, DayKind, Programme};
use super::setting::Setting;
use super::{Factor, Reason, RuleKind};
use crate::config::AdvisorSettings;
use chrono::{Datelike, NaiveTime, Weekday};
use sobre_models::daily::{fit_daily, DailyOptions, Day as MeterDay, Fuel};

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

/// What a setting would do over the window (the replay), for rules that choose their value by it.
pub type WhatIf<'a> = &'a dyn Fn(&Setting) -> Estimate;

/// The findings, and in `dismissed` what a rule looked at and chose not to propose, with why.
pub fn findings(
    h: &History,
    p: &Programme,
    models: &Models,
    cfg: &AdvisorSettings,
    what_if: WhatIf,
    dismissed: &mut Vec<String>,
) -> Vec<Finding> {
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
    // Optimal start: the slowest zone's climb to the day level, plus a quarter-hour of margin,
    // before people arrive. It climbs from where it stands when the day level starts: the night
    // level where the heating holds it there, lower where the plant is off at night and the
    // zone falls freely (a BMS's 12 °C low limit is not where its zones are at dawn).
    let climb = h
        .zones
        .iter()
        .zip(&models.responses)
        .filter_map(|(zone, r)| Some((zone, r.as_ref().ok()?)))
        .map(|(zone, r)| {
            let from = temperature_at_start(h, zone, p).unwrap_or(p.night_c);
            (p.occupied_c - from).max(0.0) / r.warming_k_per_h
        })
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
    let shift = minutes(p.stop) - minutes(stop_at);
    // A departure read from CO₂ may come up to an hour early (a room that thins out under a
    // ventilation sized for all of it): a shorter shift is within what the sensors can tell.
    let unsure = h
        .occupancy_sources
        .iter()
        .map(|z| z.source)
        .max_by(|a, b| a.departure_error_min().total_cmp(&b.departure_error_min()));
    let resolution = unsure.map_or(0.0, |s| s.departure_error_min());
    if shift >= MIN_SHIFT_MIN && shift as f64 <= resolution {
        let sensor = unsure.map_or("", |s| s.sensor());
        dismissed.push(format!(
            "day programme end: people seem to leave at {}, {shift} min before the programme ends at {}, but a {sensor} may see the last person leave up to {resolution:.0} min early (a room that thins out under a ventilation sized for all of it): not proposed",
            hm(p.leave),
            hm(p.stop)
        ));
    } else if shift >= MIN_SHIFT_MIN {
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
    match cut_off(h, p, what_if) {
        Some(Ok(f)) => out.push(f),
        Some(Err(why)) => dismissed.push(why),
        None => {}
    }
    out.extend(simultaneous(h));
    out.extend(baseload(h, cfg));
    out
}

/// A zone's median temperature on occupied days at the quarter-hour its day level starts.
fn temperature_at_start(h: &History, zone: &ZoneHistory, p: &Programme) -> Option<f64> {
    let mut at_start: Vec<f64> = (0..h.len())
        .filter(|&i| {
            let local = h.local(i);
            minutes(local.time()) == minutes(p.start)
                && p.days.get(&local.date()).is_some_and(|d| d.kind == DayKind::Occupied)
        })
        .filter_map(|i| zone.temperature[i])
        .collect();
    at_start.sort_by(f64::total_cmp);
    at_start.get(at_start.len() / 2).copied()
}

/// What heating and cooling running at once in the same zone cost.
#[derive(Debug, Clone, PartialEq)]
pub struct Overlap {
    /// Per zone that had both at once: its name and the hours.
    pub zones: Vec<(String, f64)>,
    /// The heating meter's energy in those quarter-hours, shared out over the zones by their
    /// heating demand, for the zones that were cooled at once.
    pub kwh: f64,
}

pub fn heating_while_cooling(h: &History) -> Overlap {
    let both =
        |z: &ZoneHistory, i: usize| z.demand[i].is_some_and(|d| d > 0.0) && z.cooling[i].is_some_and(|c| c > 0.0);
    let zones = h
        .zones
        .iter()
        .map(|z| (z.zone.clone(), (0..h.len()).filter(|&i| both(z, i)).count() as f64 * STEP_HOURS))
        .filter(|(_, hours)| *hours > 0.0)
        .collect();
    let kwh = (0..h.len())
        .filter_map(|i| {
            let kwh = h.heating_kwh[i]?;
            let all: f64 = h.zones.iter().filter_map(|z| z.demand[i]).sum();
            let fought: f64 = h.zones.iter().filter(|z| both(z, i)).filter_map(|z| z.demand[i]).sum();
            (all > 0.0).then(|| kwh * fought / all)
        })
        .sum();
    Overlap { zones, kwh }
}

/// Hours of heating and cooling at once, over the window, below which a zone is left alone: a
/// changeover hour or a valve's slow closing.
const OVERLAP_HOURS: f64 = 2.0;
/// The gap between heating and cooling setpoints that keeps them apart (EN 16798-1's
/// categories sit 4–5 K apart; 2 K is the least a controller should hold).
const HEATING_COOLING_GAP_K: f64 = 2.0;

/// Heating and cooling fighting in the same zone.
fn simultaneous(h: &History) -> Option<Finding> {
    let overlap = heating_while_cooling(h);
    let zones: Vec<&(String, f64)> = overlap.zones.iter().filter(|(_, hours)| *hours >= OVERLAP_HOURS).collect();
    if zones.is_empty() {
        return None;
    }
    let hours: f64 = zones.iter().map(|(_, hours)| hours).sum();
    let names: Vec<String> = zones.iter().map(|(zone, _)| zone.clone()).collect();
    let mut evidence: Vec<Factor> =
        zones.iter().map(|(zone, hours)| factor(&format!("{zone}_hours_both"), *hours, "h")).collect();
    evidence.push(factor("heating_while_cooling", overlap.kwh, "kWh"));
    Some(Finding {
        kind: RuleKind::HeatingWhileCooling,
        setting: Setting::HeatingCoolingGap { zones: names.clone(), gap_k: HEATING_COOLING_GAP_K },
        reasons: vec![reason(
            "heating_while_cooling",
            format!(
                "Heating and cooling ran at the same time for {hours:.1} h in {}: the heating drew {:.0} kWh that the cooling then removed. Keep the cooling setpoint at least {HEATING_COOLING_GAP_K:.0} K above the heating setpoint, and check that each valve closes.",
                names.join(", "),
                overlap.kwh
            ),
        )],
        evidence,
    })
}

/// A warm day whose heating used less than this share of an average day's was not heated.
const HEATED_DAY_SHARE: f64 = 0.05;

/// A cut-off that leaves the worst zone more than this below comfort while occupied is not
/// saving heating nobody needs (the discomfort BOPTEST's KPI counts, per zone and week).
pub const CUT_OFF_DISCOMFORT_KH_PER_WEEK: f64 = 0.5;

/// Heating on days warmer than the balance point of the heating meter's daily model: above it
/// the meter no longer follows the weather, so what it still draws there follows the programme.
/// A statistical balance point can sit below the building's own (a winter's data, a building
/// held warm behind poor walls), so the cut-off is the lowest, from it up by half degrees, under
/// which the zone models keep every zone in comfort while occupied. `Err` says why none is.
fn cut_off(h: &History, p: &Programme, what_if: WhatIf) -> Option<Result<Finding, String>> {
    let days = metered_days(h, p);
    let fit = fit_daily(&days, &DailyOptions { cooling: false, ..DailyOptions::new(Fuel::Electricity) }).ok()?;
    let balance = fit.model.heating_balance_c?;
    let mean = days.iter().map(|d| d.energy).sum::<f64>() / days.len().max(1) as f64;
    let heated_above = |above: f64| -> Vec<&MeterDay> {
        days.iter().filter(|d| d.temp > above && d.energy > HEATED_DAY_SHARE * mean).collect()
    };
    // Up to the half degree a controller's switch takes.
    let lowest = (balance * 2.0).ceil() / 2.0;
    if heated_above(lowest).len() < 2 {
        return None;
    }
    let mut above = lowest;
    let mut worst = 0.0;
    while heated_above(above).len() >= 2 {
        worst = what_if(&Setting::HeatingCutOff { outdoor_above_c: above }).worst_discomfort_kh_per_week;
        if worst <= CUT_OFF_DISCOMFORT_KH_PER_WEEK {
            break;
        }
        above += 0.5;
    }
    let warm = heated_above(above);
    if warm.len() < 2 {
        return Some(Err(format!(
            "heating off on warm days: the heating meter follows the weather only below {balance:.1} °C of daily mean outdoor temperature, yet a cut-off at any temperature the window shows heated days above would leave a zone below comfort while occupied ({worst:.1} K·h a week in the worst zone): the heating on those days is needed"
        )));
    }
    let kwh = sum_above(&days, above);
    let raised = if above > lowest {
        format!(" (from {lowest:.1} °C up, the zone models leave a zone below comfort on the warm days' mornings)")
    } else {
        String::new()
    };
    Some(Ok(Finding {
        kind: RuleKind::HeatingCutOff,
        setting: Setting::HeatingCutOff { outdoor_above_c: above },
        reasons: vec![reason(
            "heated_above_balance_point",
            format!(
                "The heating meter follows the weather only below a daily mean outdoor temperature of {balance:.1} °C (the balance point of its daily model); on {} days warmer than {above:.1} °C the heating still ran, {kwh:.0} kWh on the days above it, and above {above:.1} °C the zones stay in comfort without it{raised}. Switch the heating off on such days, keeping frost protection.",
                warm.len()
            ),
        )],
        evidence: vec![
            factor("balance_point", balance, "°C"),
            factor("warm_days_heated", warm.len() as f64, "d"),
            factor("warm_days_metered", kwh, "kWh"),
        ],
    }))
}

/// The heating metered on the whole days warmer than `above`: what a cut-off there avoids.
pub fn metered_above(h: &History, p: &Programme, above: f64) -> f64 {
    sum_above(&metered_days(h, p), above)
}

fn sum_above(days: &[MeterDay], above: f64) -> f64 {
    days.iter().filter(|d| d.temp > above).map(|d| d.energy).sum()
}

/// Each whole day's metered heating against its mean outdoor temperature.
fn metered_days(h: &History, p: &Programme) -> Vec<MeterDay> {
    h.whole_days(&h.heating_kwh)
        .into_iter()
        .filter_map(|(date, heating)| {
            Some(MeterDay::new(
                i64::from(date.num_days_from_ce()),
                heating.sum * heating.quarters as f64 / heating.readings as f64,
                p.days.get(&date)?.mean_outdoor_c?,
                matches!(date.weekday(), Weekday::Sat | Weekday::Sun),
            ))
        })
        .collect()
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::advisor::history::{Column, ZoneHistory};

    /// Eight weeks of one zone held at 21 °C from 08:00 to 17:00 on weekdays (occupied) and
    /// 19 °C otherwise, each day at its own outdoor temperature, the heating meter drawing
    /// `heating(outdoor)` kWh a quarter-hour.
    fn history(heating: impl Fn(f64) -> f64) -> History {
        let days = 56;
        // 2019-01-07, a Monday, at midnight UTC.
        let start_ms = 1_546_819_200_000;
        let n = days * 96;
        let day_outdoor = |d: usize| 2.0 + (d * 7 % 19) as f64;
        let outdoor: Column = (0..n).map(|i| Some(day_outdoor(i / 96))).collect();
        let occupied = |i: usize| (i / 96) % 7 < 5 && (32..68).contains(&(i % 96));
        let heating_kwh =
            (0..n).map(|i| Some(heating(day_outdoor(i / 96)) + 0.002 * ((i * 7919) % 13) as f64)).collect();
        History {
            outdoor,
            heating_meter: Some("heating".into()),
            heating_kwh,
            zones: vec![ZoneHistory {
                temperature: vec![Some(20.0); n],
                setpoint: (0..n).map(|i| Some(if occupied(i) { 21.0 } else { 19.0 })).collect(),
                demand: vec![Some(50.0); n],
                occupancy: (0..n).map(|i| Some(if occupied(i) { 1.0 } else { 0.0 })).collect(),
                presence_point: Some("pir".into()),
                ..ZoneHistory::blank("class", n)
            }],
            ..History::blank(chrono_tz::UTC, start_ms, n)
        }
    }

    #[test]
    fn heating_on_days_above_the_balance_point_is_cut_off_where_the_zones_stay_warm_without_it() {
        // Given a heating meter that follows the weather below 15 °C, and either keeps drawing
        // above it (a programme that heats whatever the weather) or stops; and zone models under
        // which a cut-off below some temperature leaves a zone cold
        #[derive(Debug, PartialEq)]
        enum Expect {
            CutOffWithin(f64, f64),
            Dismissed,
            Nothing,
        }
        let heats: fn(f64) -> f64 = |t| 0.1 * (15.0 - t).max(0.0) + 0.05;
        let stops: fn(f64) -> f64 = |t| 0.1 * (15.0 - t).max(0.0);
        let cases = [
            ("heats on warm days, warm without it", heats, f64::NEG_INFINITY, Expect::CutOffWithin(15.0, 15.5)),
            ("heats on warm days, cold below 17.5 °C", heats, 17.5, Expect::CutOffWithin(17.5, 17.5)),
            ("heats on warm days, always needed", heats, f64::INFINITY, Expect::Dismissed),
            ("stops on warm days", stops, f64::NEG_INFINITY, Expect::Nothing),
        ];
        for (name, heating, cold_below_c, expected) in cases {
            let h = history(heating);
            let p = Programme::read(&h).expect("programme");
            let what_if = |s: &Setting| {
                let Setting::HeatingCutOff { outdoor_above_c } = *s else { panic!("{s:?}") };
                let worst = if outdoor_above_c < cold_below_c { 2.0 } else { 0.0 };
                Estimate {
                    kwh: 0.0,
                    se_kwh: 0.0,
                    lowered_kh: 0.0,
                    discomfort_kh_per_week: worst,
                    worst_discomfort_kh_per_week: worst,
                }
            };
            // When the cut-off rule reads them
            let found = cut_off(&h, &p, &what_if);
            // Then it proposes the lowest cut-off from the balance point up under which the zones
            // stay warm, counting the warm days heated above it; or says the heating is needed;
            // or, where warm days were not heated, nothing
            let Some(Ok(f)) = found else {
                let got = if found.is_some() { Expect::Dismissed } else { Expect::Nothing };
                assert_eq!(got, expected, "{name}: {found:?}");
                continue;
            };
            let Setting::HeatingCutOff { outdoor_above_c } = f.setting else { panic!("{name}: {:?}", f.setting) };
            let Expect::CutOffWithin(low, high) = expected else { panic!("{name}: {f:?}") };
            assert!((low..=high).contains(&outdoor_above_c), "{name}: cut off above {outdoor_above_c}");
            let warm = (0..56).filter(|d| 2.0 + (d * 7 % 19) as f64 > outdoor_above_c).count() as f64;
            let counted = f.evidence.iter().find(|e| e.name == "warm_days_heated").map(|e| e.value);
            assert_eq!(counted, Some(warm), "{name}");
        }
    }

    #[test]
    fn heating_and_cooling_at_once_in_a_zone_is_found_with_the_heating_it_cost() {
        // Given the zone's cooling running from 14:00 to 17:00 every Monday, its heating either
        // working at the same time or not
        for (name, heating_meanwhile, expected) in [("both at once", 50.0, true), ("one after the other", 0.0, false)] {
            let mut h = history(|t| 0.1 * (15.0 - t).max(0.0) + 0.05);
            let afternoons: Vec<usize> =
                (0..h.len()).filter(|i| (i / 96) % 7 == 0 && (56..68).contains(&(i % 96))).collect();
            for &i in &afternoons {
                h.zones[0].cooling[i] = Some(40.0);
                h.zones[0].demand[i] = Some(heating_meanwhile);
            }
            // When the rule reads the window
            let found = simultaneous(&h);
            // Then it names the zone, its 24 hours (eight Mondays of three) and the heating
            // drawn meanwhile, all of it for the one zone
            assert_eq!(found.is_some(), expected, "{name}: {found:?}");
            let Some(f) = found else { continue };
            assert_eq!(
                f.setting,
                Setting::HeatingCoolingGap { zones: vec!["class".into()], gap_k: HEATING_COOLING_GAP_K }
            );
            let value = |n: &str| f.evidence.iter().find(|e| e.name == n).map(|e| e.value);
            assert_eq!(value("class_hours_both"), Some(24.0), "{name}");
            let drawn: f64 = afternoons.iter().filter_map(|&i| h.heating_kwh[i]).sum();
            assert!(value("heating_while_cooling").is_some_and(|v| (v - drawn).abs() < 1e-9), "{name}: {drawn}");
        }
    }
}
