//! The building's week: when people are in, and what its own controls ask of each thermostat.

use super::config::{ControlFile, ControlSystem, Tuning};
use chrono::{Datelike, NaiveDate, NaiveDateTime, NaiveTime, TimeZone, Timelike, Weekday};
use chrono_tz::Tz;

/// When the building is occupied.
#[derive(Debug, Clone)]
pub struct Calendar {
    pub timezone: Tz,
    pub days: Vec<Weekday>,
    pub from: NaiveTime,
    pub until: NaiveTime,
    pub holidays: Vec<(NaiveDate, NaiveDate)>,
}

impl Calendar {
    pub fn local(&self, ts_ms: i64) -> NaiveDateTime {
        self.timezone.timestamp_millis_opt(ts_ms).single().map(|t| t.naive_local()).unwrap_or_default()
    }

    pub fn is_holiday(&self, date: NaiveDate) -> bool {
        self.holidays.iter().any(|(first, last)| (*first..=*last).contains(&date))
    }

    pub fn is_school_day(&self, date: NaiveDate) -> bool {
        self.days.contains(&date.weekday()) && !self.is_holiday(date)
    }

    /// Occupancy in [0, 1] at a local time: full during lessons, half over lunch.
    pub fn occupancy(&self, local: NaiveDateTime) -> f64 {
        let t = local.time();
        if !self.is_school_day(local.date()) || t < self.from || t >= self.until {
            return 0.0;
        }
        if (12..13).contains(&t.hour()) {
            0.5
        } else {
            1.0
        }
    }

    /// The end of today's occupied hours, as epoch ms (for an occupant's override).
    pub fn end_of_day_ms(&self, local: NaiveDateTime) -> i64 {
        let end = local.date().and_time(self.until);
        let end = if end > local { end } else { local.date().and_hms_opt(23, 59, 59).unwrap_or(local) };
        self.timezone.from_local_datetime(&end).earliest().map_or(i64::MAX, |t| t.timestamp_millis())
    }
}

/// The thermostat programme of the building's own controls.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ControlProgramme {
    pub system: ControlSystem,
    pub occupied_c: f64,
    pub unoccupied_c: f64,
    pub start: NaiveTime,
    pub stop: NaiveTime,
    pub weekends: bool,
    pub holidays_c: Option<f64>,
    pub cut_off_above_c: Option<f64>,
    /// The heated period starts as late as still reaches `occupied_c` at the arrival of the
    /// occupants (the emulator judges it); `start` is then unused.
    pub optimum_start: bool,
    /// How early optimum start may begin before the occupants arrive, s.
    pub max_preheat_s: i64,
}

fn at(h: u32, m: u32) -> NaiveTime {
    NaiveTime::from_hms_opt(h, m, 0).unwrap_or_default()
}

impl ControlProgramme {
    pub fn preset(system: ControlSystem, tuning: Tuning) -> Self {
        match (system, tuning) {
            (ControlSystem::Thermostats, Tuning::Poor) => Self {
                system,
                occupied_c: 21.0,
                unoccupied_c: 19.0,
                start: at(4, 30),
                stop: at(20, 0),
                weekends: true,
                holidays_c: None,
                cut_off_above_c: None,
                optimum_start: false,
                max_preheat_s: 0,
            },
            (ControlSystem::Thermostats, Tuning::Good) => Self {
                system,
                occupied_c: 19.5,
                unoccupied_c: 16.0,
                start: at(6, 30),
                stop: at(17, 0),
                weekends: false,
                holidays_c: Some(12.0),
                cut_off_above_c: None,
                optimum_start: false,
                max_preheat_s: 0,
            },
            // Outside its heated period a BMS switches the plant off: the zones' setpoint is the
            // low limit, the frost protection.
            (ControlSystem::Bms, Tuning::Poor) => Self {
                system,
                occupied_c: 22.0,
                unoccupied_c: BMS_LOW_LIMIT_C,
                start: at(4, 0),
                stop: at(18, 0),
                weekends: true,
                holidays_c: Some(BMS_LOW_LIMIT_C),
                cut_off_above_c: None,
                optimum_start: false,
                max_preheat_s: 3 * 3600,
            },
            (ControlSystem::Bms, Tuning::Good) => Self {
                system,
                occupied_c: 21.0,
                unoccupied_c: BMS_LOW_LIMIT_C,
                start: at(5, 0),
                stop: at(18, 0),
                weekends: false,
                holidays_c: Some(BMS_LOW_LIMIT_C),
                cut_off_above_c: None,
                optimum_start: true,
                max_preheat_s: 3 * 3600,
            },
        }
    }

    /// When the heated period starts on a heated day: the fixed start, or with optimum start,
    /// the occupants' arrival (the emulator starts earlier when it must).
    pub fn start_time(&self, calendar: &Calendar) -> NaiveTime {
        if self.optimum_start {
            calendar.from
        } else {
            self.start
        }
    }

    /// The programme in a sentence, for the demo's reader.
    pub fn describe(&self, calendar: &Calendar) -> String {
        let hm = |t: NaiveTime| t.format("%H:%M").to_string();
        let days = if self.weekends { "every day" } else { "on working days" };
        let holidays = match self.holidays_c {
            Some(c) => format!("{c} °C in the holidays"),
            None => "holidays heated as any day".into(),
        };
        let start = if self.optimum_start {
            format!("optimum start (at most {} h before {})", self.max_preheat_s / 3600, hm(calendar.from))
        } else {
            hm(self.start)
        };
        match self.system {
            ControlSystem::Thermostats => format!(
                "its thermostats hold {} °C from {start} to {} {days}, {} °C otherwise, {holidays}",
                self.occupied_c,
                hm(self.stop),
                self.unoccupied_c
            ),
            ControlSystem::Bms => format!(
                "its BMS heats to {} °C from {start} to {} {days}; the plant is off otherwise (low limit {} °C)",
                self.occupied_c,
                hm(self.stop),
                self.unoccupied_c
            ),
        }
    }

    /// Whether the programme heats this day (a working day, or any day with `weekends`).
    pub fn heats_on(&self, calendar: &Calendar, date: NaiveDate) -> bool {
        let holiday = calendar.is_holiday(date) && self.holidays_c.is_some();
        !holiday && (self.weekends || calendar.days.contains(&date.weekday()))
    }

    pub fn from_file(file: &ControlFile) -> Self {
        let p = Self::preset(file.system, file.tuning);
        Self {
            system: file.system,
            occupied_c: file.occupied_c.unwrap_or(p.occupied_c),
            unoccupied_c: file.unoccupied_c.unwrap_or(p.unoccupied_c),
            start: file.start.unwrap_or(p.start),
            stop: file.stop.unwrap_or(p.stop),
            weekends: file.weekends.unwrap_or(p.weekends),
            holidays_c: file.holidays_c.or(p.holidays_c),
            cut_off_above_c: file.cut_off_above_c,
            optimum_start: file.optimum_start.unwrap_or(p.optimum_start),
            max_preheat_s: file.max_preheat.map_or(p.max_preheat_s, |s| s.as_millis_i64() / 1000),
        }
    }

    /// The programmed setpoint at a local time, and the programme period it belongs to: a
    /// command or an override holds until the period changes, as on a real thermostat.
    pub fn setpoint(&self, calendar: &Calendar, local: NaiveDateTime) -> (f64, Period) {
        let date = local.date();
        let day = i64::from(date.num_days_from_ce());
        if let (true, Some(frost)) = (calendar.is_holiday(date), self.holidays_c) {
            return (frost, Period(day * 3));
        }
        let heated_day = self.weekends || calendar.days.contains(&date.weekday());
        let t = local.time();
        match (heated_day, t < self.start_time(calendar), t < self.stop) {
            (true, false, true) => (self.occupied_c, Period(day * 3 + 1)),
            (_, true, _) => (self.unoccupied_c, Period(day * 3)),
            _ => (self.unoccupied_c, Period(day * 3 + 2)),
        }
    }
}

/// One stretch of a thermostat programme: before the day's start, the heated day, after it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Period(i64);

impl Period {
    /// The heated stretch of a day, from its start (or its optimum start) to its stop.
    pub fn heated(date: NaiveDate) -> Self {
        Period(i64::from(date.num_days_from_ce()) * 3 + 1)
    }

    pub fn is_heated(self) -> bool {
        self.0.rem_euclid(3) == 1
    }
}

/// A BMS's low limit: with the plant off, a zone colder than this restarts it.
pub const BMS_LOW_LIMIT_C: f64 = 12.0;

#[cfg(test)]
mod tests {
    use super::*;

    fn school() -> Calendar {
        Calendar {
            timezone: chrono_tz::Europe::Paris,
            days: vec![Weekday::Mon, Weekday::Tue, Weekday::Wed, Weekday::Thu, Weekday::Fri],
            from: at(8, 0),
            until: at(17, 0),
            holidays: vec![(d(2019, 2, 23), d(2019, 3, 10))],
        }
    }

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).expect("valid date")
    }

    fn local(date: NaiveDate, h: u32, m: u32) -> NaiveDateTime {
        date.and_time(at(h, m))
    }

    #[test]
    fn occupancy_follows_school_days_hours_and_holidays() {
        let c = school();
        let monday = d(2019, 1, 7);
        let table = [
            ("Monday 10:00", local(monday, 10, 0), 1.0),
            ("Monday lunch", local(monday, 12, 30), 0.5),
            ("Monday 07:59", local(monday, 7, 59), 0.0),
            ("Monday 17:00", local(monday, 17, 0), 0.0),
            ("Saturday 10:00", local(d(2019, 1, 12), 10, 0), 0.0),
            ("holiday Monday 10:00", local(d(2019, 2, 25), 10, 0), 0.0),
        ];
        for (when, at, then) in table {
            assert_eq!(c.occupancy(at), then, "{when}");
        }
    }

    #[test]
    fn the_demo_describes_each_building_s_own_programme() {
        let c = school();
        let table = [
            (
                ControlSystem::Thermostats,
                Tuning::Poor,
                "its thermostats hold 21 °C from 04:30 to 20:00 every day, 19 °C otherwise, holidays heated as any day",
            ),
            (
                ControlSystem::Bms,
                Tuning::Good,
                "its BMS heats to 21 °C from optimum start (at most 3 h before 08:00) to 18:00 on working days; \
                 the plant is off otherwise (low limit 12 °C)",
            ),
            (
                ControlSystem::Bms,
                Tuning::Poor,
                "its BMS heats to 22 °C from 04:00 to 18:00 every day; the plant is off otherwise (low limit 12 °C)",
            ),
        ];
        for (system, tuning, then) in table {
            assert_eq!(ControlProgramme::preset(system, tuning).describe(&c), then, "{system:?} {tuning:?}");
        }
    }

    #[test]
    fn poor_tuning_heats_every_day_and_good_tuning_sets_back() {
        let c = school();
        let poor = ControlProgramme::preset(ControlSystem::Thermostats, Tuning::Poor);
        let good = ControlProgramme::preset(ControlSystem::Thermostats, Tuning::Good);
        let saturday = local(d(2019, 1, 12), 10, 0);
        let holiday = local(d(2019, 2, 26), 10, 0);
        let dawn = local(d(2019, 1, 7), 5, 0);
        assert_eq!(poor.setpoint(&c, saturday).0, 21.0, "poor heats on Saturdays");
        assert_eq!(good.setpoint(&c, saturday).0, 16.0, "good sets back on Saturdays");
        assert_eq!(poor.setpoint(&c, holiday).0, 21.0, "poor heats in the holidays");
        assert_eq!(good.setpoint(&c, holiday).0, 12.0, "good protects from frost only");
        assert_eq!(poor.setpoint(&c, dawn).0, 21.0, "poor starts at 04:30");
        assert_eq!(good.setpoint(&c, dawn).0, 16.0);
        // A period ends when the programme changes.
        let (_, morning) = good.setpoint(&c, local(d(2019, 1, 7), 9, 0));
        assert_eq!(good.setpoint(&c, local(d(2019, 1, 7), 16, 45)).1, morning);
        assert_ne!(good.setpoint(&c, local(d(2019, 1, 7), 17, 0)).1, morning);
    }
}
