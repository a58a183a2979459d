//! The setpoint each zone should hold, hour by hour: the building's own programme as the
//! advisor read it, with the changes a person accepted applied on top. What the programme holds
//! is also what "no curtailment" means to the safety chain and what a thermostat falls back to.

use crate::advisor::programme::{Day, DayKind, Programme};
use crate::advisor::Setting;
use crate::config::control::ControlConfig;
use chrono::{Datelike, NaiveDateTime, TimeZone, Weekday};
use chrono_tz::Tz;

/// Settings that reshape the programme's hours come before those that move its levels (the
/// advisor's estimate of several at once applies them in the same order).
fn order(s: &Setting) -> Option<u8> {
    s.order()
}

impl ControlConfig {
    /// The schedule from the programme the advisor read and the changes accepted at
    /// `accepted_ms`.
    pub fn schedule(
        &self,
        programme: Programme,
        accepted: impl IntoIterator<Item = Setting>,
        timezone: Tz,
        comfort_min_c: f64,
        accepted_ms: i64,
    ) -> Schedule {
        let ramp = (self.ramp_k_per_day > 0.0).then_some(Ramp { k_per_day: self.ramp_k_per_day, from_ms: accepted_ms });
        Schedule::new(programme, accepted, timezone, comfort_min_c + self.comfort_margin_k, ramp)
    }
}

/// Accepted changes applied a fraction of a degree per day, so occupants adapt.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Ramp {
    pub k_per_day: f64,
    pub from_ms: i64,
}

/// What a zone holds at one time.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Slot {
    /// What the building's own programme holds.
    pub programme_c: f64,
    /// What the schedule asks.
    pub target_c: f64,
    pub occupied: bool,
}

#[derive(Debug, Clone)]
pub struct Schedule {
    programme: Programme,
    settings: Vec<Setting>,
    timezone: Tz,
    /// While people are in, curtailment stops here: the comfort band's floor and a margin for
    /// the thermostat's swing around its setpoint.
    occupied_floor_c: f64,
    ramp: Option<Ramp>,
    heats_weekends: bool,
}

impl Schedule {
    /// `settings` in any order; those that are not setpoint schedules are left out (see
    /// [`Schedule::applied`]).
    pub fn new(
        programme: Programme,
        settings: impl IntoIterator<Item = Setting>,
        timezone: Tz,
        occupied_floor_c: f64,
        ramp: Option<Ramp>,
    ) -> Self {
        let mut settings: Vec<Setting> = settings
            .into_iter()
            .filter(|s| order(s).is_some())
            .map(|s| match s {
                // The day level is what people arrive to: never below the floor.
                Setting::OccupiedSetpoint { from_c, to_c } => {
                    Setting::OccupiedSetpoint { from_c, to_c: to_c.max(occupied_floor_c.min(from_c)) }
                }
                other => other,
            })
            .collect();
        settings.sort_by_key(order);
        let heats_weekends = programme.count(DayKind::Weekend, true) >= programme.count(DayKind::Weekend, false).max(1);
        Self { programme, settings, timezone, occupied_floor_c, ramp, heats_weekends }
    }

    /// Whether the schedule applies this setting (setpoint schedules only).
    pub fn applies(setting: &Setting) -> bool {
        order(setting).is_some()
    }

    pub fn applied(&self) -> &[Setting] {
        &self.settings
    }

    pub fn programme(&self) -> &Programme {
        &self.programme
    }

    /// The occupied floor and the programme's occupied level, when the floor is above it: then
    /// the building's own programme holds while people are in (the floor never raises it).
    pub fn floor_above_programme(&self) -> Option<(f64, f64)> {
        (self.occupied_floor_c > self.programme.occupied_c)
            .then_some((self.occupied_floor_c, self.programme.occupied_c))
    }

    fn local(&self, ts_ms: i64) -> NaiveDateTime {
        self.timezone.timestamp_millis_opt(ts_ms).single().map(|t| t.naive_local()).unwrap_or_default()
    }

    /// The programme read from the past, carried forward: its levels and hours on the days it
    /// heated. Holidays are not known ahead; such a day counts as a school day.
    fn day(&self, local: NaiveDateTime) -> Day {
        let weekend = matches!(local.weekday(), Weekday::Sat | Weekday::Sun);
        Day {
            kind: if weekend { DayKind::Weekend } else { DayKind::Occupied },
            heated: !weekend || self.heats_weekends,
            mean_outdoor_c: None,
        }
    }

    pub fn at(&self, ts_ms: i64) -> Slot {
        let p = &self.programme;
        let local = self.local(ts_ms);
        let day = self.day(local);
        let t = local.time();
        let programme_c = if day.heated && t >= p.start && t < p.stop { p.occupied_c } else { p.night_c };
        let occupied = day.kind == DayKind::Occupied && t >= p.arrive && t < p.leave;
        let previous = self.day(local - chrono::Duration::days(1)).kind;
        let mut target_c = Setting::apply_together(&self.settings, p, day, Some(previous), local, programme_c);
        if occupied && target_c < programme_c {
            target_c = target_c.max(self.occupied_floor_c.min(programme_c));
        }
        if let Some(ramp) = self.ramp {
            let days = (ts_ms - ramp.from_ms).max(0) as f64 / 86_400_000.0;
            let most = ramp.k_per_day * days;
            target_c = programme_c + (target_c - programme_c).clamp(-most, most);
        }
        Slot { programme_c, target_c, occupied }
    }

    /// When the slot in force at `ts_ms` next changes (what an override lasts until), looking a
    /// day ahead in `step_ms` steps; a day on when nothing changes.
    pub fn next_change_ms(&self, ts_ms: i64, step_ms: i64) -> i64 {
        let now = self.at(ts_ms);
        let step_ms = step_ms.max(60_000);
        let start = ts_ms - ts_ms.rem_euclid(step_ms);
        (1..=86_400_000 / step_ms)
            .map(|k| start + k * step_ms)
            .find(|&t| {
                let s = self.at(t);
                s.programme_c != now.programme_c || s.target_c != now.target_c
            })
            .unwrap_or(ts_ms + 86_400_000)
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use chrono::{NaiveDate, NaiveTime};
    use std::collections::BTreeMap;

    pub(crate) fn hm(h: u32, m: u32) -> NaiveTime {
        NaiveTime::from_hms_opt(h, m, 0).expect("time")
    }

    /// What a randomised test accepts of `programme`: a night setback of up to 4 K, a day level
    /// up to 2 K lower, each or neither.
    pub(crate) fn random_accepted(rng: &mut fastrand::Rng, programme: &Programme) -> Vec<Setting> {
        let mut accepted = Vec::new();
        if rng.bool() {
            accepted
                .push(Setting::NightSetpoint { from_c: programme.night_c, to_c: programme.night_c - rng.f64() * 4.0 });
        }
        if rng.bool() {
            let from_c = programme.occupied_c;
            accepted.push(Setting::OccupiedSetpoint { from_c, to_c: from_c - rng.f64() * 2.0 });
        }
        accepted
    }

    /// The poorly tuned school as the advisor reads it: 21 °C from 04:30 to 20:00 every day,
    /// 19 °C at night, pupils 08:00–17:00 on weekdays.
    pub(crate) fn poor_school() -> Programme {
        let mut days = BTreeMap::new();
        for d in 7..=20 {
            let date = NaiveDate::from_ymd_opt(2019, 1, d).expect("date");
            let weekend = matches!(date.weekday(), Weekday::Sat | Weekday::Sun);
            let kind = if weekend { DayKind::Weekend } else { DayKind::Occupied };
            days.insert(date, Day { kind, heated: true, mean_outdoor_c: Some(5.0) });
        }
        Programme {
            night_c: 19.0,
            occupied_c: 21.0,
            start: hm(4, 30),
            stop: hm(20, 0),
            arrive: hm(8, 0),
            leave: hm(17, 0),
            days,
        }
    }

    fn at(date: (i32, u32, u32), h: u32, m: u32) -> i64 {
        let local = NaiveDate::from_ymd_opt(date.0, date.1, date.2).expect("date").and_time(hm(h, m));
        chrono_tz::Europe::Paris.from_local_datetime(&local).single().expect("local time").timestamp_millis()
    }

    fn accepted() -> Vec<Setting> {
        vec![
            Setting::OccupiedSetpoint { from_c: 21.0, to_c: 19.0 },
            Setting::NightSetpoint { from_c: 19.0, to_c: 16.0 },
            Setting::WeekendSetpoint { from_c: 21.0, to_c: 16.0 },
            Setting::HeatingStart { from: hm(4, 30), to: hm(6, 15) },
            Setting::HeatingStop { from: hm(20, 0), to: hm(17, 0) },
            Setting::Baseload { from_kw: 2.0, to_kw: 1.0 },
        ]
    }

    #[test]
    fn accepted_changes_reshape_the_programme_and_occupied_hours_keep_a_margin_above_comfort() {
        // Given the poor school's programme and every change the advisor proposed accepted,
        // with 19.5 °C as the floor while pupils are in
        let s = Schedule::new(poor_school(), accepted(), chrono_tz::Europe::Paris, 19.5, None);
        let (monday, tuesday) = ((2019, 1, 21), (2019, 1, 22));
        let saturday = (2019, 1, 26);
        let table = [
            ("Monday 03:00: night setback", at(monday, 3, 0), 19.0, 16.0),
            // (after a weekend newly left at the setback, the programme's own start holds)
            ("Monday 05:00: warming after the cold weekend", at(monday, 5, 0), 21.0, 19.5),
            ("Tuesday 05:00: before the later start", at(tuesday, 5, 0), 21.0, 16.0),
            ("Monday 07:00: heated ahead of the pupils", at(monday, 7, 0), 21.0, 19.5),
            ("Monday 10:00: the lower day level, held above the floor", at(monday, 10, 0), 21.0, 19.5),
            ("Monday 18:00: after the earlier stop", at(monday, 18, 0), 21.0, 16.0),
            ("Saturday 11:00: nobody in", at(saturday, 11, 0), 21.0, 16.0),
        ];
        for (when, ts, programme_c, target_c) in table {
            let slot = s.at(ts);
            assert_eq!((slot.programme_c, slot.target_c), (programme_c, target_c), "{when}");
        }
        // And the baseload is not a setpoint: the schedule leaves it to a person
        assert_eq!(s.applied().len(), 5);
    }

    #[test]
    fn a_day_level_lowered_to_the_nights_is_not_lowered_again_as_a_night() {
        // Given the poor school's day level lowered to its night level and its night set back,
        // with a floor below both
        let accepted = vec![
            Setting::OccupiedSetpoint { from_c: 21.0, to_c: 19.0 },
            Setting::NightSetpoint { from_c: 19.0, to_c: 16.0 },
        ];
        let s = Schedule::new(poor_school(), accepted, chrono_tz::Europe::Paris, 18.0, None);
        // Then the day holds 19 °C before and while the pupils are in, and the night 16 °C
        let tuesday = (2019, 1, 22);
        let table = [("07:00", 7, 19.0), ("10:00", 10, 19.0), ("03:00", 3, 16.0), ("21:00", 21, 16.0)];
        for (when, h, target_c) in table {
            assert_eq!(s.at(at(tuesday, h, 0)).target_c, target_c, "Tuesday {when}");
        }
    }

    #[test]
    fn a_floor_above_the_buildings_own_programme_never_raises_it() {
        // Given an office held at 21 °C while occupied whose comfort floor was raised to 21 °C,
        // so min + margin is 21.5 °C, and a lower day level accepted
        let mut office = poor_school();
        office.night_c = 16.0;
        let lower = vec![Setting::OccupiedSetpoint { from_c: 21.0, to_c: 19.0 }];
        let s = Schedule::new(office, lower, chrono_tz::Europe::Paris, 21.5, None);
        // Then the schedule says the floor is capped at the programme's level
        assert_eq!(s.floor_above_programme(), Some((21.5, 21.0)));
        let monday = (2019, 1, 21);
        let table = [
            // When, Then what the programme holds and what the schedule asks
            ("Monday 10:00, occupied", at(monday, 10, 0), 21.0, 21.0),
            ("Monday 03:00, empty", at(monday, 3, 0), 16.0, 16.0),
        ];
        for (when, ts, programme_c, target_c) in table {
            let slot = s.at(ts);
            assert_eq!((slot.programme_c, slot.target_c), (programme_c, target_c), "{when}");
        }
        // And a floor below the programme is no cap
        assert_eq!(
            Schedule::new(poor_school(), [], chrono_tz::Europe::Paris, 19.5, None).floor_above_programme(),
            None
        );
    }

    #[test]
    fn a_ramp_applies_the_change_a_fraction_of_a_degree_per_day() {
        // Given the night setback accepted on Monday 21 January at midnight, 0.5 K a day
        let ramp = Ramp { k_per_day: 0.5, from_ms: at((2019, 1, 21), 0, 0) };
        let night = vec![Setting::NightSetpoint { from_c: 19.0, to_c: 16.0 }];
        let s = Schedule::new(poor_school(), night, chrono_tz::Europe::Paris, 19.5, Some(ramp));
        // Then the night level goes down half a degree a day until it reaches 16 °C
        let table = [((2019, 1, 22), 18.5), ((2019, 1, 24), 17.5), ((2019, 1, 31), 16.0)];
        for (date, then) in table {
            assert!((s.at(at(date, 0, 0)).target_c - then).abs() < 1e-9, "{date:?}");
        }
    }

    #[test]
    fn an_override_lasts_until_the_schedule_next_changes() {
        // Given the accepted changes, When someone overrides at 10:00 on a Monday
        let s = Schedule::new(poor_school(), accepted(), chrono_tz::Europe::Paris, 19.5, None);
        // Then it lasts until the pupils leave at 17:00 (the stop moved there)
        assert_eq!(s.next_change_ms(at((2019, 1, 21), 10, 7), 900_000), at((2019, 1, 21), 17, 0));
    }
}
