//! What people and the grid send to control: each request by what it asks (`Request`), and the
//! override on `<prefix>/override/<zone>` and the stop switch on `<prefix>/control/set` read
//! from the payload alone so the parsing can be tested and fuzzed without a broker or a
//! controller. (Flex requests and price series are read by `event` and `price`.)

use super::controller::Hold;
use crate::config::control::Mode;
use bytes::Bytes;
use chrono::{DateTime, Utc};
use serde::Deserialize;

/// A request to control: what it asks, and where it came from (its rate is its own). The link
/// routes it as this type (see `route`); its payload is read where the state it needs is (an
/// override's default end is the schedule's next change, a flex request goes into the book), so
/// that a malformed one is refused in the ledger with why.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Request {
    pub(crate) ask: Ask,
    /// The topic it came on.
    pub(crate) via: String,
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Ask {
    /// A flexibility request (`<prefix>/flex/event`).
    Flex(Bytes),
    /// A day-ahead price series (`<prefix>/flex/price`).
    Prices(Bytes),
    /// A person's override of one zone.
    Override { zone: String, payload: Bytes },
    /// The stop switch.
    Mode(Bytes),
}

impl crate::mqtt::mailbox::Request for Request {
    fn channel(&self) -> &str {
        &self.via
    }

    fn repeats(&self, waiting: &Self) -> bool {
        self.ask == waiting.ask
    }
}

/// An override lasts at most a week: longer is a change of programme, for the advisor.
pub(crate) const LONGEST_OVERRIDE_MS: i64 = 7 * 86_400_000;
/// The setpoints a person may hold a zone at, °C.
pub(crate) const OVERRIDE_RANGE_C: std::ops::RangeInclusive<f64> = 5.0..=30.0;

/// What a person sends on `<prefix>/override/<zone>`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct OverrideRequest {
    setpoint_c: Option<f64>,
    #[serde(default)]
    hands_off: bool,
    /// Ends the override in force.
    #[serde(default)]
    cancel: bool,
    /// Until the schedule's next change when absent.
    until: Option<DateTime<Utc>>,
    by: Option<String>,
}

/// What the stop switch on `<prefix>/control/set` takes.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ModeRequest {
    pub mode: Mode,
    pub by: Option<String>,
}

/// An override request that holds.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum OverrideAsk {
    /// End the override in force.
    Cancel {
        by: Option<String>,
    },
    Hold {
        hold: Hold,
        until_ms: i64,
    },
}

/// Why an override was refused; the texts are what the ledger records.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub(crate) enum OverrideError {
    #[error(
        r#"{0}; send {{"setpoint_c": 21.5}} or {{"hands_off": true}}, with "until" (RFC 3339) and "by" if you like, or {{"cancel": true}}"#
    )]
    Malformed(String),
    #[error("setpoint {0} °C is outside 5–30 °C")]
    Setpoint(f64),
    #[error("give either setpoint_c or hands_off")]
    Neither,
    #[error("until {0} must be after now and within a week")]
    Until(String),
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error(r#"{0}; send {{"mode": "advise" | "shadow" | "auto", "by": "…"}}"#)]
pub(crate) struct ModeError(String);

/// An override received at `now_ms`; `default_until` gives its end when it names none (the
/// schedule's next change), asked only then.
pub(crate) fn parse_override(
    payload: &[u8],
    now_ms: i64,
    default_until: impl FnOnce(i64) -> i64,
) -> Result<OverrideAsk, OverrideError> {
    let r: OverrideRequest = serde_json::from_slice(payload).map_err(|e| OverrideError::Malformed(e.to_string()))?;
    if r.cancel {
        return Ok(OverrideAsk::Cancel { by: r.by });
    }
    let hold = match (r.setpoint_c, r.hands_off) {
        (Some(v), false) if v.is_finite() && OVERRIDE_RANGE_C.contains(&v) => Hold::Setpoint { setpoint_c: v },
        (None, true) => Hold::HandsOff,
        (Some(v), false) => return Err(OverrideError::Setpoint(v)),
        _ => return Err(OverrideError::Neither),
    };
    let until_ms = r.until.map_or_else(|| default_until(now_ms), |u| u.timestamp_millis());
    if until_ms <= now_ms || until_ms > now_ms.saturating_add(LONGEST_OVERRIDE_MS) {
        return Err(OverrideError::Until(crate::clock::iso(until_ms)));
    }
    Ok(OverrideAsk::Hold { hold, until_ms })
}

pub(crate) fn parse_mode(payload: &[u8]) -> Result<ModeRequest, ModeError> {
    serde_json::from_slice(payload).map_err(|e| ModeError(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 2026-01-12 08:00 UTC.
    const NOW: i64 = 1_768_204_800_000;
    const HOUR: i64 = 3_600_000;

    #[test]
    fn an_override_holds_a_setpoint_in_range_until_a_time_within_the_week() {
        // Given overrides received at 08:00, the schedule changing next at 16:00
        let default_until = |now: i64| now + 8 * HOUR;
        let cases: [(&str, &str, Result<OverrideAsk, &str>); 8] = [
            (
                "a setpoint, no end",
                r#"{"setpoint_c": 21.5}"#,
                Ok(OverrideAsk::Hold { hold: Hold::Setpoint { setpoint_c: 21.5 }, until_ms: NOW + 8 * HOUR }),
            ),
            (
                "hands off until noon",
                r#"{"hands_off": true, "until": "2026-01-12T12:00:00Z", "by": "caretaker"}"#,
                Ok(OverrideAsk::Hold { hold: Hold::HandsOff, until_ms: NOW + 4 * HOUR }),
            ),
            (
                "a cancel",
                r#"{"cancel": true, "by": "caretaker"}"#,
                Ok(OverrideAsk::Cancel { by: Some("caretaker".into()) }),
            ),
            ("too warm", r#"{"setpoint_c": 35}"#, Err("setpoint 35 °C is outside 5–30 °C")),
            ("both", r#"{"setpoint_c": 20, "hands_off": true}"#, Err("give either setpoint_c or hands_off")),
            ("in the past", r#"{"setpoint_c": 20, "until": "2026-01-12T07:00:00Z"}"#, Err("must be after now")),
            ("for a month", r#"{"setpoint_c": 20, "until": "2026-02-12T07:00:00Z"}"#, Err("within a week")),
            ("an unknown field", r#"{"setpoint": 20}"#, Err("unknown field")),
        ];
        for (name, payload, expected) in cases {
            // When it is parsed
            let got = parse_override(payload.as_bytes(), NOW, default_until);
            // Then it holds as asked, or says why not
            match (got, expected) {
                (Ok(ask), Ok(then)) => assert_eq!(ask, then, "{name}"),
                (Err(e), Err(why)) => assert!(e.to_string().contains(why), "{name}: {e}"),
                (got, _) => panic!("{name}: {got:?}"),
            }
        }
    }

    #[test]
    fn the_stop_switch_takes_one_of_three_modes() {
        // Given the stop switch's payloads, When parsed, Then a mode is taken or the forms are named
        assert!(matches!(
            parse_mode(br#"{"mode": "advise", "by": "head"}"#),
            Ok(ModeRequest { mode: Mode::Advise, .. })
        ));
        let refused = parse_mode(br#"{"mode": "off"}"#).expect_err("no such mode");
        assert!(refused.to_string().contains(r#""advise" | "shadow" | "auto""#), "{refused}");
    }
}
