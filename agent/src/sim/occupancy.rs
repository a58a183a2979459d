//! Who is in each zone when: a school's timetable (everyone in at the bell), or an office's
//! people, who drift in and out, lunch away from their desks, work from home on Fridays and book
//! the meeting room now and then. Deterministic from the building's seed, so a test that fails
//! fails again.

use super::programme::Calendar;
use chrono::{Datelike, NaiveDateTime, Timelike, Weekday};
use serde::Deserialize;
use sobre_models::emulator::{Noise, Use};

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Pattern {
    /// Everyone in from `from` to `until` on working days, half over lunch.
    #[default]
    Timetable,
    /// An office's day: see the module's documentation.
    Office,
}

/// Share of an office's staff in on a working day, before each day's own variation.
const IN_OFFICE: f64 = 0.85;
const IN_OFFICE_FRIDAY: f64 = 0.55;
/// How much one day differs from another, ± share.
const DAY_TO_DAY: f64 = 0.15;
/// Chance that the meeting room is booked in a given hour.
const BOOKED: f64 = 0.35;
const BOOKED_FRIDAY: f64 = 0.15;

#[derive(Debug, Clone)]
pub struct Occupancy {
    pattern: Pattern,
    seed: u64,
    /// Whether each zone is a meeting room.
    meeting: Vec<bool>,
}

impl Occupancy {
    pub fn new(pattern: Pattern, seed: u64, rooms: &[Use]) -> Self {
        Self { pattern, seed, meeting: rooms.iter().map(|r| *r == Use::Meeting).collect() }
    }

    /// Share (0–1) of zone `zone`'s people in it at a local time.
    pub fn at(&self, calendar: &Calendar, zone: usize, local: NaiveDateTime) -> f64 {
        let timetable = calendar.occupancy(local);
        if self.pattern == Pattern::Timetable || timetable == 0.0 {
            return timetable;
        }
        let date = local.date();
        let friday = date.weekday() == Weekday::Fri;
        let hour = local.hour();
        // One draw per zone and day, one per zone and hour: the same answer whenever asked.
        let day = i64::from(date.num_days_from_ce());
        let draw = |slot: i64| {
            let key = (zone as u64 + 1).wrapping_mul(0x9E37_79B9).wrapping_add((day * 25 + slot) as u64);
            Noise::new(self.seed ^ key.wrapping_mul(0xBF58_476D_1CE4_E5B9)).uniform()
        };
        if self.meeting.get(zone).copied().unwrap_or(false) {
            let chance = if friday { BOOKED_FRIDAY } else { BOOKED };
            let u = draw(i64::from(hour));
            return if u < chance { 0.5 + 0.5 * u / chance } else { 0.0 };
        }
        let staff = if friday { IN_OFFICE_FRIDAY } else { IN_OFFICE };
        let today = staff * (1.0 + DAY_TO_DAY * (2.0 * draw(24) - 1.0));
        let from = calendar.from.hour();
        let until = calendar.until.hour();
        let shape = match hour {
            h if h == from => 0.5,
            12 => 0.4,
            h if h + 1 == until => 0.6,
            _ => 1.0,
        };
        (today * shape).clamp(0.0, 1.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{NaiveDate, NaiveTime};

    fn calendar() -> Calendar {
        Calendar {
            timezone: chrono_tz::Europe::Amsterdam,
            days: vec![Weekday::Mon, Weekday::Tue, Weekday::Wed, Weekday::Thu, Weekday::Fri],
            from: NaiveTime::from_hms_opt(8, 0, 0).expect("valid"),
            until: NaiveTime::from_hms_opt(18, 0, 0).expect("valid"),
            holidays: vec![],
        }
    }

    /// Mean occupancy of `zone` over the working hours of the given weekdays, four weeks from
    /// Monday 1 November 2021.
    fn mean(o: &Occupancy, zone: usize, days: &[Weekday], hours: std::ops::Range<u32>) -> f64 {
        let c = calendar();
        let first = NaiveDate::from_ymd_opt(2021, 11, 1).expect("valid");
        let samples: Vec<f64> = (0..28)
            .map(|d| first + chrono::Duration::days(d))
            .filter(|d| days.contains(&d.weekday()))
            .flat_map(|d| hours.clone().map(move |h| d.and_hms_opt(h, 30, 0).expect("valid")))
            .map(|t| o.at(&c, zone, t))
            .collect();
        samples.iter().sum::<f64>() / samples.len().max(1) as f64
    }

    #[test]
    fn an_office_varies_by_zone_hour_and_weekday_and_is_the_same_on_every_run() {
        // Given an open-plan office and a meeting room, with the office pattern
        let o = Occupancy::new(Pattern::Office, 7, &[Use::Office, Use::Meeting]);
        let midweek = [Weekday::Mon, Weekday::Tue, Weekday::Wed, Weekday::Thu];
        let (desks, lunch) = (mean(&o, 0, &midweek, 9..12), mean(&o, 0, &midweek, 12..13));
        let friday = mean(&o, 0, &[Weekday::Fri], 9..12);
        let meeting = mean(&o, 1, &midweek, 8..18);
        // Then the desks are mostly in, emptier at lunch and on Fridays; the meeting room is
        // booked now and then; nobody is in at night or at the weekend
        assert!((0.7..0.95).contains(&desks), "desks {desks:.2}");
        assert!(lunch < 0.6 * desks, "lunch {lunch:.2} against {desks:.2}");
        assert!(friday < 0.8 * desks, "Friday {friday:.2} against {desks:.2}");
        assert!((0.1..0.5).contains(&meeting), "meeting room {meeting:.2}");
        let c = calendar();
        let night = NaiveDate::from_ymd_opt(2021, 11, 3).and_then(|d| d.and_hms_opt(22, 0, 0)).expect("valid");
        let saturday = NaiveDate::from_ymd_opt(2021, 11, 6).and_then(|d| d.and_hms_opt(10, 0, 0)).expect("valid");
        assert_eq!((o.at(&c, 0, night), o.at(&c, 0, saturday)), (0.0, 0.0));
        // And the same seed gives the same days, another seed other days
        let again = Occupancy::new(Pattern::Office, 7, &[Use::Office, Use::Meeting]);
        let other = Occupancy::new(Pattern::Office, 8, &[Use::Office, Use::Meeting]);
        assert_eq!(mean(&again, 1, &midweek, 8..18), meeting);
        assert_ne!(mean(&other, 1, &midweek, 8..18), meeting);
    }

    #[test]
    fn a_timetable_is_the_calendar_itself() {
        let o = Occupancy::new(Pattern::Timetable, 7, &[Use::Classroom]);
        let c = calendar();
        let day = NaiveDate::from_ymd_opt(2021, 11, 5).expect("valid");
        for h in 0..24 {
            let t = day.and_hms_opt(h, 15, 0).expect("valid");
            assert_eq!(o.at(&c, 0, t), c.occupancy(t), "{t}");
        }
    }
}
