//! Target `requests`: what people send, by the first byte: an override on
//! `<prefix>/override/<zone>`, the stop switch on `<prefix>/control/set`, or a decision on
//! `<prefix>/recommendations/<id>/set`. An override taken holds a finite setpoint within
//! 5–30 °C (or hands off) from now to within a week, and survives the control log; a mode is
//! one of three; a decision reads back the same as the local page re-sends it.

use super::input::Input;
use crate::advisor::decision::{parse_decision, Verdict};
use crate::control::controller::{Hold, Override, Source};
use crate::control::request::{parse_mode, parse_override, OverrideAsk, LONGEST_OVERRIDE_MS, OVERRIDE_RANGE_C};

/// 2026-01-12 08:00 UTC.
const NOW_MS: i64 = 1_768_204_800_000;

pub fn run(data: &[u8]) {
    let mut input = Input::new(data);
    match input.byte() % 3 {
        0 => {
            // The schedule's next change, as the controller would say: now (refused) to beyond a week.
            let next_change_ms = NOW_MS + i64::from(input.byte()) * 3_600_000;
            override_request(input.rest(), next_change_ms);
        }
        1 => {
            if let Ok(r) = parse_mode(input.rest()) {
                let name = serde_json::to_value(r.mode).unwrap_or_default();
                assert!(matches!(name.as_str(), Some("advise" | "shadow" | "auto")), "{name}");
            }
        }
        _ => decision(input.rest()),
    }
}

fn override_request(payload: &[u8], next_change_ms: i64) {
    let mut asked_default = false;
    let parsed = parse_override(payload, NOW_MS, |_| {
        asked_default = true;
        next_change_ms
    });
    let (hold, until_ms) = match parsed {
        Ok(OverrideAsk::Hold { hold, until_ms }) => (hold, until_ms),
        Ok(OverrideAsk::Cancel { .. }) => return,
        Err(e) => {
            assert!(!e.to_string().is_empty());
            return;
        }
    };
    if let Hold::Setpoint { setpoint_c } = hold {
        assert!(setpoint_c.is_finite() && OVERRIDE_RANGE_C.contains(&setpoint_c), "setpoint {setpoint_c}");
    }
    assert!(until_ms > NOW_MS && until_ms <= NOW_MS + LONGEST_OVERRIDE_MS, "until {until_ms}");
    assert!(!asked_default || until_ms == next_change_ms);
    // The control log keeps overrides as JSON and restores those in force after a restart.
    let over = Override { hold, since_ms: NOW_MS, until_ms, source: Source::Topic };
    let back: Option<Override> = serde_json::to_value(over).ok().and_then(|v| serde_json::from_value(v).ok());
    assert_eq!(back, Some(over));
}

fn decision(payload: &[u8]) {
    let Ok(d) = parse_decision(payload) else { return };
    let verdict = match d.decision {
        Verdict::Accept => "accept",
        Verdict::Reject => "reject",
    };
    let again = serde_json::json!({ "decision": verdict, "by": d.by, "note": d.note }).to_string();
    assert_eq!(parse_decision(again.as_bytes()).ok(), Some(d), "{again}");
}
