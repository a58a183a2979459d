//! Durations written the way an operator writes them: `"90s"`, `"15m"`, `"36h"`, `"400d"`, `"5y"`.

use serde::{Deserialize, Deserializer};
use std::fmt;
use std::time::Duration;

/// A duration read from the config file. A year is 365 days: retention is about calendar
/// order of magnitude, not leap seconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Span(pub Duration);

pub const ACCEPTED: &str = "a number and a unit: ms, s, m, h, d or y (e.g. \"90s\", \"15m\", \"400d\")";

/// The longest duration the config takes. Every span is added to a timestamp somewhere (an
/// interval's end, the next advisor run, a retention cut-off), in i64 milliseconds: a thousand
/// years keeps any such sum far from overflowing, and no setting needs more.
pub const LONGEST: Span = Span::days(1000 * 365);

impl Span {
    pub const fn secs(s: u64) -> Self {
        Self(Duration::from_secs(s))
    }
    pub const fn days(d: u64) -> Self {
        Self(Duration::from_secs(d * 86_400))
    }
    pub fn as_millis_i64(self) -> i64 {
        i64::try_from(self.0.as_millis()).unwrap_or(i64::MAX)
    }
}

impl std::str::FromStr for Span {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let text = text.trim();
        let split = text
            .find(|c: char| !c.is_ascii_digit())
            .ok_or_else(|| format!("{text:?} has no unit; write {ACCEPTED}"))?;
        let (number, unit) = text.split_at(split);
        let n: u64 =
            number.parse().map_err(|_| format!("{text:?} does not start with a whole number; write {ACCEPTED}"))?;
        let unit_ms: u64 = match unit.trim() {
            "ms" => 1,
            "s" => 1_000,
            "m" | "min" => 60_000,
            "h" => 3_600_000,
            "d" => 86_400_000,
            "y" => 365 * 86_400_000,
            other => return Err(format!("{text:?} has unknown unit {other:?}; write {ACCEPTED}")),
        };
        n.checked_mul(unit_ms)
            .map(|ms| Span(Duration::from_millis(ms)))
            .filter(|span| *span <= LONGEST)
            .ok_or_else(|| format!("{text:?} is too long a duration: at most {LONGEST}"))
    }
}

impl fmt::Display for Span {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ms = self.0.as_millis();
        let units = [(365 * 86_400_000, "y"), (86_400_000, "d"), (3_600_000, "h"), (60_000, "m"), (1_000, "s")];
        for (size, unit) in units {
            if ms >= size && ms.is_multiple_of(size) {
                return write!(f, "{}{unit}", ms / size);
            }
        }
        write!(f, "{ms}ms")
    }
}

impl<'de> Deserialize<'de> for Span {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_every_unit_and_rejects_the_rest() {
        let table = [
            ("250ms", Ok(Duration::from_millis(250))),
            ("90s", Ok(Duration::from_secs(90))),
            ("15m", Ok(Duration::from_secs(900))),
            ("36h", Ok(Duration::from_secs(36 * 3600))),
            ("400d", Ok(Duration::from_secs(400 * 86_400))),
            ("5y", Ok(Duration::from_secs(5 * 365 * 86_400))),
            ("15", Err("has no unit")),
            ("m", Err("whole number")),
            ("3 fortnights", Err("unknown unit")),
            ("-5m", Err("whole number")),
            ("1000y", Ok(Duration::from_secs(1000 * 365 * 86_400))),
            ("1001y", Err("at most 1000y")),
            ("18446744073709551615ms", Err("at most 1000y")),
            ("18446744073709551615y", Err("too long")),
        ];
        for (given, then) in table {
            let got = given.parse::<Span>();
            match (got, then) {
                (Ok(span), Ok(expected)) => assert_eq!(span.0, expected, "{given}"),
                (Err(message), Err(fragment)) => assert!(message.contains(fragment), "{given}: {message}"),
                (got, then) => panic!("{given}: got {got:?}, expected {then:?}"),
            }
        }
    }

    #[test]
    fn a_span_too_long_to_add_to_a_timestamp_is_refused() {
        // Given an interval meter declared with an interval of u64::MAX ms (the fuzz target
        // ingest found the validator's interval end overflowing i64, a panic in release builds)
        let text = "[site]\nid = \"s\"\ntimezone = \"UTC\"\n[[points]]\nid = \"i\"\nkind = \"energy\"\nunit = \"kWh\"\ntopic = \"i\"\ncumulative = false\ninterval = \"18446744073709551615ms\"\n";
        // When the config is read
        let refused = crate::config::Settings::parse(text, "test.toml").expect_err("refused");
        // Then it is refused, saying how long a span may be
        assert!(refused.to_string().contains("too long a duration: at most 1000y"), "{refused}");
    }

    #[test]
    fn displays_in_the_largest_whole_unit() {
        assert_eq!(Span::days(730).to_string(), "2y");
        assert_eq!(Span::secs(5400).to_string(), "90m");
        assert_eq!(Span(Duration::from_millis(1500)).to_string(), "1500ms");
    }
}
