//! The `[occupancy]` section: the hours the building is open, for a building with no presence
//! sensor, no CO₂ sensor and no BMS occupancy point in a zone. The advisor takes it as the
//! zone's occupancy, last of its sources; the site's holidays close it.

use super::validate::Check;
use chrono::{Datelike, NaiveDate, NaiveDateTime, NaiveTime, Weekday};
use serde::Deserialize;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OccupancyFile {
    /// Days it opens: "Mon", "Tue", … (or "Monday", …).
    pub days: Vec<Weekday>,
    /// Local time it opens and closes, "HH:MM".
    pub from: String,
    pub until: String,
}

/// When the building is open, local time, closed on the site's holidays.
#[derive(Debug, Clone, PartialEq)]
pub struct Timetable {
    pub days: Vec<Weekday>,
    pub from: NaiveTime,
    pub until: NaiveTime,
    /// The site's holidays, `(first, last)` both included.
    pub holidays: Vec<(NaiveDate, NaiveDate)>,
}

impl Timetable {
    /// Whether the building is open at a local time.
    pub fn is_open(&self, at: NaiveDateTime) -> bool {
        let date = at.date();
        self.days.contains(&date.weekday())
            && (self.from..self.until).contains(&at.time())
            && !self.holidays.iter().any(|(first, last)| (*first..=*last).contains(&date))
    }
}

pub(super) fn validate(
    file: Option<OccupancyFile>,
    holidays: &[(NaiveDate, NaiveDate)],
    check: &mut Check,
) -> Option<Timetable> {
    let file = file?;
    let time = |key: &str, text: &str, check: &mut Check| {
        NaiveTime::parse_from_str(text, "%H:%M").ok().or_else(|| {
            check.fail(format!("occupancy.{key}"), text, "use a local time \"HH:MM\", e.g. \"08:00\"");
            None
        })
    };
    let (from, until) = (time("from", &file.from, check), time("until", &file.until, check));
    if file.days.is_empty() {
        check.fail(
            "occupancy.days",
            "[]",
            "list the days it opens, e.g. [\"Mon\", \"Tue\", \"Wed\", \"Thu\", \"Fri\"]",
        );
    }
    let (from, until) = (from?, until?);
    if until <= from {
        check.fail(
            "occupancy.until",
            &file.until,
            format!("use a time after occupancy.from ({}): the building closes after it opens", file.from),
        );
        return None;
    }
    Some(Timetable { days: file.days, from, until, holidays: holidays.to_vec() })
}
