//! The heating programme the building actually runs and the hours it is actually used, read
//! from the setpoints and each zone's occupancy: the facts every rule compares.

use super::history::History;
use chrono::{Datelike, NaiveDate, NaiveTime, Timelike, Weekday};
use serde::Serialize;
use std::collections::BTreeMap;

/// Setpoints closer than this are the same programme level.
const SAME_LEVEL: f64 = 0.25;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DayKind {
    /// Someone came in.
    Occupied,
    /// A Saturday or Sunday nobody came in.
    Weekend,
    /// A weekday nobody came in: a holiday or a closure.
    Closure,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Day {
    pub kind: DayKind,
    /// Any zone was held above the night level.
    pub heated: bool,
    /// The day's mean outdoor temperature, when the day is nearly whole.
    pub mean_outdoor_c: Option<f64>,
}

/// The programme as a facility manager would describe it.
#[derive(Debug, Clone, PartialEq)]
pub struct Programme {
    /// The setpoint most held between midnight and 03:00.
    pub night_c: f64,
    /// The setpoint most held while people are in.
    pub occupied_c: f64,
    /// When the day level starts and ends (median over heated days).
    pub start: NaiveTime,
    pub stop: NaiveTime,
    /// When people arrive and leave (median over occupied days).
    pub arrive: NaiveTime,
    pub leave: NaiveTime,
    pub days: BTreeMap<NaiveDate, Day>,
}

fn mode(values: impl Iterator<Item = f64>) -> Option<f64> {
    let mut counts: BTreeMap<i64, usize> = BTreeMap::new();
    for v in values {
        *counts.entry((v * 10.0).round() as i64).or_default() += 1;
    }
    counts.into_iter().max_by_key(|(_, n)| *n).map(|(v, _)| v as f64 / 10.0)
}

fn median_minutes(mut minutes: Vec<i64>) -> Option<NaiveTime> {
    minutes.sort_unstable();
    let m = u32::try_from(*minutes.get(minutes.len() / 2)?).ok()?;
    // A programme that heats until midnight stops at minute 1440; wrapping it to 00:00 would
    // put the stop before the start. 23:59 keeps the order.
    let m = m.min(24 * 60 - 1);
    NaiveTime::from_hms_opt(m / 60, m % 60, 0)
}

/// Minutes since local midnight.
pub fn minutes(t: NaiveTime) -> i64 {
    i64::from(t.hour() * 60 + t.minute())
}

impl Programme {
    /// `None` when the store shows no setpoints, no one ever coming in, or no day level above
    /// the night level; `Blocker::why_no_programme` says which.
    pub fn read(h: &History) -> Option<Self> {
        let night_c = mode(h.zones.iter().flat_map(|z| {
            z.setpoint.iter().enumerate().filter(|(i, _)| h.local(*i).hour() < 3).filter_map(|(_, s)| *s)
        }))?;
        let occupied_c = mode(h.zones.iter().flat_map(|z| {
            z.setpoint.iter().zip(&z.occupancy).filter(|(_, o)| o.is_some_and(|o| o > 0.0)).filter_map(|(s, _)| *s)
        }))?;
        let above_night = |s: Option<f64>| s.is_some_and(|s| s > night_c + SAME_LEVEL);
        let mut days: BTreeMap<NaiveDate, Day> = BTreeMap::new();
        let (mut starts, mut stops) = (BTreeMap::<NaiveDate, i64>::new(), BTreeMap::<NaiveDate, i64>::new());
        // Per day, each zone's first and last occupied quarter-hour.
        let mut zone_days: BTreeMap<(NaiveDate, usize), (i64, i64)> = BTreeMap::new();
        for i in 0..h.len() {
            let local = h.local(i);
            let (date, minute) = (local.date(), minutes(local.time()));
            let weekend = matches!(date.weekday(), Weekday::Sat | Weekday::Sun);
            let day = days.entry(date).or_insert(Day {
                kind: if weekend { DayKind::Weekend } else { DayKind::Closure },
                heated: false,
                mean_outdoor_c: None,
            });
            if h.building_occupied(i) {
                day.kind = DayKind::Occupied;
                for (z, zone) in h.zones.iter().enumerate() {
                    if zone.occupancy[i].is_some_and(|o| o > 0.0) {
                        zone_days.entry((date, z)).or_insert((minute, minute + 15)).1 = minute + 15;
                    }
                }
            }
            if h.zones.iter().any(|z| above_night(z.setpoint[i])) {
                day.heated = true;
                starts.entry(date).or_insert(minute);
                stops.insert(date, minute + 15);
            }
        }
        // A day's arrival and departure are its zones' median: one zone's sensor (a CO₂
        // detector's early edge, a cleaner in at dawn) does not move the building's day.
        let (mut arrivals, mut departures) = (Vec::new(), Vec::new());
        let mut per_day: BTreeMap<NaiveDate, Vec<(i64, i64)>> = BTreeMap::new();
        for ((date, _), times) in zone_days {
            per_day.entry(date).or_default().push(times);
        }
        for times in per_day.into_values() {
            let (mut first, mut last): (Vec<i64>, Vec<i64>) = times.into_iter().unzip();
            first.sort_unstable();
            last.sort_unstable();
            arrivals.push(first[first.len() / 2]);
            departures.push(last[last.len() / 2]);
        }
        for (date, outdoor) in h.whole_days(&h.outdoor) {
            if let Some(day) = days.get_mut(&date) {
                day.mean_outdoor_c = Some(outdoor.sum / outdoor.readings as f64);
            }
        }
        Some(Self {
            night_c,
            occupied_c,
            start: median_minutes(starts.into_values().collect())?,
            stop: median_minutes(stops.into_values().collect())?,
            arrive: median_minutes(arrivals)?,
            leave: median_minutes(departures)?,
            days,
        })
    }

    pub fn is_night_level(&self, setpoint: f64) -> bool {
        (setpoint - self.night_c).abs() <= SAME_LEVEL
    }

    pub fn is_day_level(&self, setpoint: f64) -> bool {
        setpoint > self.night_c + SAME_LEVEL
    }

    pub fn count(&self, kind: DayKind, heated: bool) -> usize {
        self.days.values().filter(|d| d.kind == kind && d.heated == heated).count()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_median_of_day_times_keeps_a_stop_at_midnight_after_the_start() {
        let table = [
            // Given minutes after local midnight, Then the median time of day
            (vec![270, 270, 300], Some((4, 30))),
            (vec![1200, 1440, 1440], Some((23, 59))),
            (vec![], None),
        ];
        for (minutes, expected) in table {
            let found = median_minutes(minutes.clone()).map(|t| (t.hour(), t.minute()));
            assert_eq!(found, expected, "{minutes:?}");
        }
    }
}
