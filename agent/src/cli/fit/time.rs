//! The times a CSV of meter data carries: ISO 8601 as tools write it (an offset or `Z`, a
//! fraction of a second, a space instead of `T`, minutes without seconds) and the store's own
//! rollup labels (`2019-03-01T10:15Z`). A time without an offset is the site's local time.

use chrono::{DateTime, NaiveDateTime, TimeZone, Utc};
use chrono_tz::Tz;

/// Why a cell is not a time, in words for the operator.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TimeError {
    #[error("{0:?} is a day, not a time: sobre fit reads hours (export the store's rollups at resolution '1h')")]
    Day(String),
    #[error("{0:?} is a month, not a time: sobre fit reads hours (export the store's rollups at resolution '1h')")]
    Month(String),
    #[error("{0:?} is not an ISO 8601 time (e.g. 2019-03-01T10:00:00Z, 2019-03-01 10:00+01:00)")]
    NotIso(String),
    #[error("{0:?} falls in the hour the clocks skip in spring: no such local time")]
    Skipped(String),
}

/// Milliseconds since the epoch of an ISO 8601 time; a time without an offset is in `tz`.
pub fn parse_time(text: &str, tz: Tz) -> Result<i64, TimeError> {
    let text = text.trim();
    let not_iso = || TimeError::NotIso(text.to_string());
    let Some((date, time)) = text.split_once(['T', 't', ' ']) else {
        return Err(match text.len() {
            10 if chrono::NaiveDate::parse_from_str(text, "%Y-%m-%d").is_ok() => TimeError::Day(text.into()),
            7 if chrono::NaiveDate::parse_from_str(&format!("{text}-01"), "%Y-%m-%d").is_ok() => {
                TimeError::Month(text.into())
            }
            _ => not_iso(),
        });
    };
    let (clock, offset) = split_offset(time.trim());
    let clock = with_seconds(&clock.replace(',', ".")).ok_or_else(not_iso)?;
    let naive =
        NaiveDateTime::parse_from_str(&format!("{date}T{clock}"), "%Y-%m-%dT%H:%M:%S%.f").map_err(|_| not_iso())?;
    match offset {
        Some(offset) => {
            let stamped = format!("{}{}", naive.format("%Y-%m-%dT%H:%M:%S%.f"), offset);
            DateTime::parse_from_rfc3339(&stamped).map(|t| t.timestamp_millis()).map_err(|_| not_iso())
        }
        // In the autumn's repeated hour the earlier instant is taken, as ingest does.
        None => tz
            .from_local_datetime(&naive)
            .earliest()
            .map(|t| t.with_timezone(&Utc).timestamp_millis())
            .ok_or_else(|| TimeError::Skipped(text.to_string())),
    }
}

/// The clock and its offset, written as RFC 3339 wants it (`Z` or `±HH:MM`).
fn split_offset(time: &str) -> (String, Option<String>) {
    if let Some(clock) = time.strip_suffix(['Z', 'z']) {
        return (clock.to_string(), Some("Z".into()));
    }
    let Some(at) = time.rfind(['+', '-']) else { return (time.to_string(), None) };
    let (clock, offset) = time.split_at(at);
    let (sign, digits) = offset.split_at(1);
    let digits = digits.replace(':', "");
    let offset = match digits.len() {
        2 => format!("{sign}{digits}:00"),
        4 => format!("{sign}{}:{}", &digits[..2], &digits[2..]),
        _ => offset.to_string(),
    };
    (clock.trim().to_string(), Some(offset))
}

/// `HH:MM` and `HH` as `HH:MM:SS`; a fraction stays.
fn with_seconds(clock: &str) -> Option<String> {
    let colons = clock.matches(':').count();
    match colons {
        0 if clock.len() == 2 => Some(format!("{clock}:00:00")),
        1 => Some(format!("{clock}:00")),
        2 => Some(clock.to_string()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_iso_8601_time_a_tool_or_the_store_writes_is_read_and_the_rest_is_refused_with_why() {
        let paris = chrono_tz::Europe::Paris;
        // 2019-03-01 10:00 UTC
        let ten_utc = 1_551_434_400_000;
        let table: [(&str, Result<i64, &str>); 17] = [
            // Given a cell, Then the instant it names, or why it is none
            ("2019-03-01T10:00:00Z", Ok(ten_utc)),
            ("2019-03-01T10:00:00.000Z", Ok(ten_utc)),
            ("2019-03-01T10:00:00.25Z", Ok(ten_utc + 250)),
            ("2019-03-01T10:00:00,25Z", Ok(ten_utc + 250)),
            ("2019-03-01T11:00:00+01:00", Ok(ten_utc)),
            ("2019-03-01T11:00+0100", Ok(ten_utc)),
            ("2019-03-01T05:00-05", Ok(ten_utc)),
            ("2019-03-01 10:00:00Z", Ok(ten_utc)),
            ("2019-03-01 10:00:00+00:00", Ok(ten_utc)),
            // The store's rollup label of that hour
            ("2019-03-01T10:00Z", Ok(ten_utc)),
            // No offset: the site's local time (Paris is UTC+1 in March)
            ("2019-03-01T11:00:00", Ok(ten_utc)),
            ("2019-03-01 11:00", Ok(ten_utc)),
            ("  2019-03-01 11:00:00.0  ", Ok(ten_utc)),
            ("2019-03-01", Err("is a day")),
            ("2019-03", Err("is a month")),
            ("2019-03-31T02:30:00", Err("clocks skip")),
            ("yesterday at ten", Err("not an ISO 8601 time")),
        ];
        for (cell, expected) in table {
            // When it is read
            let found = parse_time(cell, paris);
            match (found, expected) {
                (Ok(ms), Ok(want)) => assert_eq!(ms, want, "{cell:?}"),
                (Err(e), Err(why)) => assert!(e.to_string().contains(why), "{cell:?}: {e}"),
                (found, expected) => panic!("{cell:?}: found {found:?}, expected {expected:?}"),
            }
        }
    }
}
