//! Which rollup buckets a reading falls in. 15-minute and hourly buckets follow UTC; days and
//! months follow the site's local calendar, as a facility manager reads them.

use chrono::{DateTime, Datelike, Days, Months, NaiveDate, TimeZone, Utc};
use chrono_tz::Tz;
use std::fmt::Write;

pub const QUARTER_MS: i64 = 15 * 60_000;
const HOUR_MS: i64 = 3_600_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Resolution {
    QuarterHour,
    Hour,
    Day,
    Month,
}

impl Resolution {
    pub const ALL: [Resolution; 4] = [Resolution::QuarterHour, Resolution::Hour, Resolution::Day, Resolution::Month];

    pub fn name(self) -> &'static str {
        match self {
            Resolution::QuarterHour => "15m",
            Resolution::Hour => "1h",
            Resolution::Day => "1d",
            Resolution::Month => "1mo",
        }
    }

    pub fn named(name: &str) -> Option<Resolution> {
        Resolution::ALL.into_iter().find(|r| r.name() == name)
    }
}

#[derive(Debug, Clone, Copy)]
pub struct Calendar {
    pub tz: Tz,
}

impl Calendar {
    /// The start of the bucket `ts_ms` falls in: 15 minutes and hours on UTC, days and months on
    /// the local calendar. Days and months are looked up in `spans`, the last ones found: the
    /// readings of a batch share a few, and working out a local day costs a time-zone conversion.
    pub fn start(&self, resolution: Resolution, ts_ms: i64, spans: &mut Spans) -> i64 {
        match resolution {
            Resolution::QuarterHour => ts_ms.div_euclid(QUARTER_MS) * QUARTER_MS,
            Resolution::Hour => ts_ms.div_euclid(HOUR_MS) * HOUR_MS,
            Resolution::Day => spans.day.start_of(ts_ms, || {
                let date = self.local_date(ts_ms);
                (self.local_midnight(date), self.local_midnight(self.next_day(date)))
            }),
            Resolution::Month => spans.month.start_of(ts_ms, || {
                let date = self.local_date(ts_ms);
                let first = date.with_day(1).unwrap_or(date);
                (self.local_midnight(first), self.local_midnight(self.next_month(first)))
            }),
        }
    }

    /// The end (exclusive) of the bucket starting at `start_ms` (a start [`Calendar::start`] gave).
    pub fn end(&self, resolution: Resolution, start_ms: i64) -> i64 {
        match resolution {
            Resolution::QuarterHour => start_ms + QUARTER_MS,
            Resolution::Hour => start_ms + HOUR_MS,
            Resolution::Day => self.local_midnight(self.next_day(self.local_date(start_ms))),
            Resolution::Month => self.local_midnight(self.next_month(self.local_date(start_ms))),
        }
    }

    /// Writes the label of the bucket starting at `start_ms` (a start [`Calendar::start`]
    /// gave) into `out`, replacing what it held: `2024-01-15T10:30Z`, `2024-01-16`, `2024-04`.
    pub fn write_label(&self, resolution: Resolution, start_ms: i64, out: &mut String) {
        out.clear();
        let written = match resolution {
            Resolution::QuarterHour | Resolution::Hour => {
                let utc = DateTime::<Utc>::from_timestamp_millis(start_ms).unwrap_or_default();
                write!(out, "{}", utc.format("%Y-%m-%dT%H:%MZ"))
            }
            Resolution::Day => write!(out, "{}", self.local_date(start_ms).format("%Y-%m-%d")),
            Resolution::Month => write!(out, "{}", self.local_date(start_ms).format("%Y-%m")),
        };
        // Writing into a String cannot fail; chrono's formats here are all valid.
        debug_assert!(written.is_ok());
    }

    pub fn local_date(&self, ts_ms: i64) -> NaiveDate {
        let utc = DateTime::<Utc>::from_timestamp_millis(ts_ms).unwrap_or_default();
        utc.with_timezone(&self.tz).date_naive()
    }

    /// The first instant of a local day. Where midnight does not exist (a DST jump at 00:00,
    /// as in some American zones) the day starts at the first instant that does.
    pub fn local_midnight(&self, date: NaiveDate) -> i64 {
        let mut time = date.and_hms_opt(0, 0, 0).unwrap_or_default();
        for _ in 0..4 {
            if let Some(t) = self.tz.from_local_datetime(&time).earliest() {
                return t.with_timezone(&Utc).timestamp_millis();
            }
            time += chrono::Duration::minutes(30);
        }
        date.and_hms_opt(0, 0, 0).unwrap_or_default().and_utc().timestamp_millis()
    }

    pub fn next_day(&self, date: NaiveDate) -> NaiveDate {
        date.checked_add_days(Days::new(1)).unwrap_or(date)
    }

    pub fn next_month(&self, date: NaiveDate) -> NaiveDate {
        date.checked_add_months(Months::new(1)).unwrap_or(date)
    }
}

/// The local day and month last looked up, `[start, end)` in ms UTC.
#[derive(Debug, Default, Clone, Copy)]
pub struct Spans {
    day: Span,
    month: Span,
}

#[derive(Debug, Default, Clone, Copy)]
struct Span {
    start_ms: i64,
    end_ms: i64,
}

impl Span {
    fn start_of(&mut self, ts_ms: i64, find: impl FnOnce() -> (i64, i64)) -> i64 {
        if !(self.start_ms..self.end_ms).contains(&ts_ms) {
            let (start_ms, end_ms) = find();
            *self = Span { start_ms, end_ms };
        }
        self.start_ms
    }
}

/// Splits `[start_ms, end_ms)` at 15-minute boundaries. Every zone's offset is a multiple of
/// 15 minutes, so each piece lies inside one bucket of every resolution.
pub fn quarter_pieces(start_ms: i64, end_ms: i64) -> impl Iterator<Item = (i64, i64)> {
    let mut at = start_ms;
    std::iter::from_fn(move || {
        if at >= end_ms {
            return None;
        }
        let next = ((at.div_euclid(QUARTER_MS) + 1) * QUARTER_MS).min(end_ms);
        let piece = (at, next);
        at = next;
        Some(piece)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(iso: &str) -> i64 {
        DateTime::parse_from_rfc3339(iso).map(|t| t.timestamp_millis()).expect("test timestamp")
    }

    /// The bucket `ts_ms` falls in, worked out the plain way (a local date and its midnight for
    /// every reading): what the cheap way must give.
    fn bucket(calendar: &Calendar, resolution: Resolution, ts_ms: i64) -> (i64, String) {
        let utc = |size_ms: i64| {
            let start_ms = ts_ms.div_euclid(size_ms) * size_ms;
            let at = DateTime::<Utc>::from_timestamp_millis(start_ms).expect("in range");
            (start_ms, at.format("%Y-%m-%dT%H:%MZ").to_string())
        };
        let date = calendar.local_date(ts_ms);
        match resolution {
            Resolution::QuarterHour => utc(QUARTER_MS),
            Resolution::Hour => utc(HOUR_MS),
            Resolution::Day => (calendar.local_midnight(date), date.format("%Y-%m-%d").to_string()),
            Resolution::Month => {
                let first = date.with_day(1).expect("a month's first day");
                (calendar.local_midnight(first), first.format("%Y-%m").to_string())
            }
        }
    }

    #[test]
    fn buckets_follow_utc_for_hours_and_the_local_calendar_for_days() {
        let paris = Calendar { tz: chrono_tz::Europe::Paris };
        let table = [
            (Resolution::QuarterHour, "2024-01-15T10:44:59Z", "2024-01-15T10:30:00Z", "2024-01-15T10:30Z"),
            (Resolution::Hour, "2024-01-15T10:44:59Z", "2024-01-15T10:00:00Z", "2024-01-15T10:00Z"),
            // 23:30 UTC on the 15th is 00:30 on the 16th in Paris.
            (Resolution::Day, "2024-01-15T23:30:00Z", "2024-01-15T23:00:00Z", "2024-01-16"),
            (Resolution::Day, "2024-07-15T21:59:00Z", "2024-07-14T22:00:00Z", "2024-07-15"),
            (Resolution::Month, "2024-03-31T22:30:00Z", "2024-03-31T22:00:00Z", "2024-04"),
            (Resolution::Month, "2024-03-31T21:30:00Z", "2024-02-29T23:00:00Z", "2024-03"),
        ];
        let (mut spans, mut written) = (Spans::default(), String::new());
        for (resolution, at, start, label) in table {
            let start_ms = paris.start(resolution, ms(at), &mut spans);
            paris.write_label(resolution, start_ms, &mut written);
            assert_eq!((start_ms, written.as_str()), (ms(start), label), "{resolution:?} {at}");
            assert_eq!(bucket(&paris, resolution, ms(at)), (ms(start), label.to_string()), "{resolution:?} {at}");
        }
    }

    #[test]
    fn a_start_and_its_label_are_the_bucket_whatever_was_looked_up_before() {
        // Given instants around Paris's DST changes and month ends, in an order that jumps
        // back and forth, and one Spans reused throughout (as a batch does)
        let paris = Calendar { tz: chrono_tz::Europe::Paris };
        let mut spans = Spans::default();
        let mut label = String::new();
        let hour = 3_600_000;
        let instants: Vec<i64> = ["2024-03-30T22:59:00Z", "2024-10-27T00:30:00Z", "2024-03-31T01:30:00Z"]
            .iter()
            .flat_map(|at| (-30..30).map(move |h| ms(at) + h * hour + 7 * 60_000))
            .chain([ms("2024-01-31T23:00:00Z"), ms("2024-01-31T22:59:59Z"), ms("1969-12-31T23:59:59Z")])
            .collect();
        for at in instants {
            for resolution in Resolution::ALL {
                // When the start and the label are worked out the cheap way
                let start_ms = paris.start(resolution, at, &mut spans);
                paris.write_label(resolution, start_ms, &mut label);
                // Then they are the bucket's, worked out the plain way
                let (plain_start_ms, plain_label) = bucket(&paris, resolution, at);
                assert_eq!((start_ms, label.as_str()), (plain_start_ms, plain_label.as_str()), "{resolution:?} {at}");
                // And the bucket ends where the next one starts, its last millisecond still in it
                let end_ms = paris.end(resolution, start_ms);
                assert_eq!(bucket(&paris, resolution, end_ms - 1).0, start_ms, "{resolution:?} {at}");
                assert_eq!(bucket(&paris, resolution, end_ms).0, end_ms, "{resolution:?} {at}");
            }
        }
    }

    #[test]
    fn pieces_cover_the_span_exactly() {
        let pieces: Vec<_> = quarter_pieces(ms("2024-01-15T10:10:00Z"), ms("2024-01-15T10:50:00Z")).collect();
        assert_eq!(
            pieces,
            vec![
                (ms("2024-01-15T10:10:00Z"), ms("2024-01-15T10:15:00Z")),
                (ms("2024-01-15T10:15:00Z"), ms("2024-01-15T10:30:00Z")),
                (ms("2024-01-15T10:30:00Z"), ms("2024-01-15T10:45:00Z")),
                (ms("2024-01-15T10:45:00Z"), ms("2024-01-15T10:50:00Z")),
            ]
        );
        assert_eq!(quarter_pieces(5, 5).count(), 0);
    }
}
