//! Flexibility requests as they arrive on `<prefix>/flex/event`, and the book of those in force:
//! each is checked on its own (times, kind, depth), then against the others (the same id
//! updates or cancels; two requests that overlap must agree on what they ask). A refused
//! request says why, with the values, so the ledger can record it.

use crate::clock::iso;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Longest event the agent takes: a day. A longer curtailment is a programme change, not flex.
const LONGEST_MS: i64 = 24 * 3_600_000;
/// Payloads longer than this are refused before parsing.
const MAX_PAYLOAD: usize = 4096;
/// The longest id an event may have: it names the event in the ledger and in reports.
pub(super) const MAX_ID: usize = 64;

/// An event id: 1–64 letters, digits, '-', '_', '.' (it goes into topics and file-safe names).
pub(super) fn is_id(id: &str) -> bool {
    let valid = |c: char| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.');
    !id.is_empty() && id.len() <= MAX_ID && id.chars().all(valid)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FlexKind {
    /// Use less during the event.
    Shed,
    /// Use the same energy, earlier (pre-heat), less during the event.
    Shift,
    /// A price signal: the depth follows the price.
    Price,
}

/// What a request looks like on the wire.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Request {
    id: String,
    #[serde(default)]
    cancel: bool,
    start: Option<DateTime<Utc>>,
    end: Option<DateTime<Utc>>,
    kind: Option<FlexKind>,
    /// Share of the flexible load to shed, 0–1.
    level: Option<f64>,
    /// Power the building should stay under, kW.
    target_kw: Option<f64>,
    /// When the requester announced it (the notice the building had); when received if absent.
    notice: Option<DateTime<Utc>>,
}

/// How deep an event asks the building to go.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Depth {
    Level(f64),
    TargetKw(f64),
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FlexEvent {
    pub id: String,
    pub kind: FlexKind,
    pub start_ms: i64,
    pub end_ms: i64,
    pub depth: Depth,
    pub notice_ms: i64,
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum FlexError {
    #[error("payload of {bytes} bytes; at most {MAX_PAYLOAD}")]
    TooLong { bytes: usize },
    #[error("not a flex request: {0}")]
    Malformed(String),
    #[error("id {0:?}: 1–64 characters of letters, digits, '-', '_', '.'")]
    Id(String),
    #[error("event {id}: {field} is missing")]
    Missing { id: String, field: &'static str },
    #[error("event {id}: ends at {end} before it starts at {start}")]
    EndsBeforeStart { id: String, start: String, end: String },
    #[error("event {id}: lasts {hours:.1} h; at most 24 h")]
    Lasts { id: String, hours: f64 },
    #[error("event {id}: already over (ended {end})")]
    Over { id: String, end: String },
    #[error("event {id}: give either level (0–1) or target_kw, not {given}")]
    Depth { id: String, given: &'static str },
    #[error("event {id}: level {level} is not within (0, 1]")]
    Level { id: String, level: f64 },
    #[error("event {id}: target_kw {target_kw} must be a power of 0 or more")]
    Target { id: String, target_kw: f64 },
    #[error("event {id}: target_kw {target_kw} is above what the controlled loads draw at most ({capacity_kw} kW): it asks nothing")]
    AboveCapacity { id: String, target_kw: f64, capacity_kw: f64 },
    #[error("event {id}: announced at {notice}, after it starts")]
    Notice { id: String, notice: String },
    #[error("event {id} ({kind:?}) overlaps event {other} ({other_kind:?}): two requests at once must ask the same")]
    Contradicts { id: String, kind: FlexKind, other: String, other_kind: FlexKind },
    #[error("no event {0} to cancel")]
    NoSuchEvent(String),
}

/// What a request did to the book.
#[derive(Debug, Clone, PartialEq)]
pub enum Change {
    Added(FlexEvent),
    Updated { was: FlexEvent, now: FlexEvent },
    Cancelled(FlexEvent),
}

/// The events in force, by id.
#[derive(Debug, Clone)]
pub struct FlexBook {
    events: BTreeMap<String, FlexEvent>,
    capacity_kw: f64,
}

impl Default for FlexBook {
    fn default() -> Self {
        Self::new(crate::config::control::FlexSettings::default().capacity_kw)
    }
}

impl FlexBook {
    /// A book for loads that draw at most `capacity_kw`.
    pub fn new(capacity_kw: f64) -> Self {
        Self { events: BTreeMap::new(), capacity_kw }
    }

    pub fn events(&self) -> impl Iterator<Item = &FlexEvent> {
        self.events.values()
    }

    /// Puts back an event taken before a restart.
    pub fn restore(&mut self, event: FlexEvent) {
        self.events.insert(event.id.clone(), event);
    }

    /// Takes event `id` out, as if cancelled.
    pub fn withdraw(&mut self, id: &str) -> Option<FlexEvent> {
        self.events.remove(id)
    }

    /// Drops the events that ended by `now_ms`.
    pub fn expire(&mut self, now_ms: i64) -> Vec<FlexEvent> {
        let over: Vec<String> = self.events.values().filter(|e| e.end_ms <= now_ms).map(|e| e.id.clone()).collect();
        over.iter().filter_map(|id| self.events.remove(id)).collect()
    }

    /// Takes a request received at `now_ms`; a refused one leaves the book as it was.
    pub fn apply(&mut self, payload: &[u8], now_ms: i64) -> Result<Change, FlexError> {
        if payload.len() > MAX_PAYLOAD {
            return Err(FlexError::TooLong { bytes: payload.len() });
        }
        let r: Request = serde_json::from_slice(payload).map_err(|e| FlexError::Malformed(e.to_string()))?;
        if !is_id(&r.id) {
            return Err(FlexError::Id(r.id));
        }
        if r.cancel {
            return self.events.remove(&r.id).map(Change::Cancelled).ok_or(FlexError::NoSuchEvent(r.id));
        }
        let event = check(r, now_ms, self.capacity_kw)?;
        if let Some(other) = self.events.values().find(|o| {
            o.id != event.id && o.kind != event.kind && o.start_ms < event.end_ms && event.start_ms < o.end_ms
        }) {
            return Err(FlexError::Contradicts {
                id: event.id,
                kind: event.kind,
                other: other.id.clone(),
                other_kind: other.kind,
            });
        }
        Ok(match self.events.insert(event.id.clone(), event.clone()) {
            Some(was) => Change::Updated { was, now: event },
            None => Change::Added(event),
        })
    }
}

/// A request on its own: complete, in order, not over, one depth within its range.
fn check(r: Request, now_ms: i64, capacity_kw: f64) -> Result<FlexEvent, FlexError> {
    let id = r.id;
    let missing = |field| FlexError::Missing { id: id.clone(), field };
    let start_ms = r.start.ok_or_else(|| missing("start"))?.timestamp_millis();
    let end_ms = r.end.ok_or_else(|| missing("end"))?.timestamp_millis();
    let kind = r.kind.ok_or_else(|| missing("kind"))?;
    if end_ms <= start_ms {
        return Err(FlexError::EndsBeforeStart { id, start: iso(start_ms), end: iso(end_ms) });
    }
    if end_ms - start_ms > LONGEST_MS {
        return Err(FlexError::Lasts { id, hours: (end_ms - start_ms) as f64 / 3_600_000.0 });
    }
    if end_ms <= now_ms {
        return Err(FlexError::Over { id, end: iso(end_ms) });
    }
    let depth = match (r.level, r.target_kw) {
        (Some(level), None) if level > 0.0 && level <= 1.0 => Depth::Level(level),
        (Some(level), None) => return Err(FlexError::Level { id, level }),
        (None, Some(target_kw)) if target_kw.is_finite() && target_kw >= 0.0 && target_kw <= capacity_kw => {
            Depth::TargetKw(target_kw)
        }
        (None, Some(target_kw)) if target_kw > capacity_kw => {
            return Err(FlexError::AboveCapacity { id, target_kw, capacity_kw })
        }
        (None, Some(target_kw)) => return Err(FlexError::Target { id, target_kw }),
        (None, None) => return Err(FlexError::Depth { id, given: "neither" }),
        (Some(_), Some(_)) => return Err(FlexError::Depth { id, given: "both" }),
    };
    let notice_ms = r.notice.map_or(now_ms, |n| n.timestamp_millis());
    if notice_ms > start_ms {
        return Err(FlexError::Notice { id, notice: iso(notice_ms) });
    }
    Ok(FlexEvent { id, kind, start_ms, end_ms, depth, notice_ms })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 2026-01-12 08:00 UTC.
    const NOW: i64 = 1_768_204_800_000;

    fn shed(id: &str, start: &str, end: &str) -> String {
        format!(r#"{{"id":"{id}","kind":"shed","start":"{start}","end":"{end}","level":0.5}}"#)
    }

    #[test]
    fn a_request_is_taken_only_when_it_is_whole_in_order_and_not_over() {
        // Given requests received at 08:00
        let cases: Vec<(&str, String, Result<(), &str>)> = vec![
            ("a two-hour shed", shed("e1", "2026-01-12T17:00:00Z", "2026-01-12T19:00:00Z"), Ok(())),
            (
                "a target in kW, with notice",
                r#"{"id":"e2","kind":"shift","start":"2026-01-12T17:00:00Z","end":"2026-01-12T19:00:00Z","target_kw":12.5,"notice":"2026-01-12T07:30:00Z"}"#.into(),
                Ok(()),
            ),
            ("not JSON", "shed now".into(), Err("not a flex request")),
            ("too long a payload", format!(r#"{{"id":"{}"}}"#, "x".repeat(5000)), Err("bytes")),
            ("an id with a slash", shed("a/b", "2026-01-12T17:00:00Z", "2026-01-12T19:00:00Z"), Err("id \"a/b\"")),
            ("no end", r#"{"id":"e3","kind":"shed","start":"2026-01-12T17:00:00Z","level":0.5}"#.into(), Err("end is missing")),
            ("ends before it starts", shed("e4", "2026-01-12T19:00:00Z", "2026-01-12T17:00:00Z"), Err("before it starts")),
            ("lasts two days", shed("e5", "2026-01-12T17:00:00Z", "2026-01-14T17:00:00Z"), Err("lasts 48.0 h")),
            ("already over", shed("e6", "2026-01-12T05:00:00Z", "2026-01-12T07:00:00Z"), Err("already over")),
            (
                "a target no building can draw",
                r#"{"id":"e11","kind":"shed","start":"2026-01-12T17:00:00Z","end":"2026-01-12T19:00:00Z","target_kw":1e308}"#.into(),
                Err("above what the controlled loads draw"),
            ),
            (
                "a level of 150 %",
                r#"{"id":"e7","kind":"shed","start":"2026-01-12T17:00:00Z","end":"2026-01-12T19:00:00Z","level":1.5}"#.into(),
                Err("level 1.5"),
            ),
            (
                "both a level and a target",
                r#"{"id":"e8","kind":"shed","start":"2026-01-12T17:00:00Z","end":"2026-01-12T19:00:00Z","level":0.5,"target_kw":3}"#.into(),
                Err("not both"),
            ),
            (
                "announced after it starts",
                r#"{"id":"e9","kind":"shed","start":"2026-01-12T17:00:00Z","end":"2026-01-12T19:00:00Z","level":0.5,"notice":"2026-01-12T18:00:00Z"}"#.into(),
                Err("after it starts"),
            ),
            (
                "an unknown field",
                r#"{"id":"e10","kind":"shed","start":"2026-01-12T17:00:00Z","end":"2026-01-12T19:00:00Z","level":0.5,"urgent":true}"#.into(),
                Err("unknown field"),
            ),
        ];
        for (name, payload, expected) in cases {
            let mut book = FlexBook::default();
            // When the book takes it
            let result = book.apply(payload.as_bytes(), NOW);
            // Then a whole request is added, and a refused one says why and leaves the book empty
            match (result, expected) {
                (Ok(Change::Added(e)), Ok(())) => assert_eq!(book.events().count(), 1, "{name}: {e:?}"),
                (Err(e), Err(why)) => {
                    assert!(e.to_string().contains(why), "{name}: {e}");
                    assert_eq!(book.events().count(), 0, "{name}");
                }
                (got, _) => panic!("{name}: {got:?}"),
            }
        }
    }

    #[test]
    fn an_event_reads_back_from_the_control_log_to_the_same_bits() {
        // Given an event whose target has 17 significant digits (the fuzz target flex found
        // 1.2888888888888889e23 read back one bit lower: serde_json's default float parsing)
        let payload = r#"{"id":"e2","kind":"shift","start":"2026-01-12T17:00:00Z","end":"2026-01-12T19:00:00Z","target_kw":128.88888888888889}"#;
        let mut book = FlexBook::default();
        let Ok(Change::Added(event)) = book.apply(payload.as_bytes(), NOW) else { panic!("taken") };
        for kw in [1.2888888888888889e23, 1234.5678901234567, 0.30000000000000004] {
            let event = FlexEvent { depth: Depth::TargetKw(kw), ..event.clone() };
            // When it is written to the log and read back after a restart
            let json = serde_json::to_string(&event).expect("serialises");
            let back: FlexEvent = serde_json::from_str(&json).expect("reads back");
            // Then it is the same event, to the bit
            assert_eq!(back, event, "{json}");
        }
    }

    #[test]
    fn the_same_id_updates_or_cancels_and_overlapping_requests_must_agree() {
        // Given a shed from 17:00 to 19:00 in the book
        let mut book = FlexBook::default();
        book.apply(shed("e1", "2026-01-12T17:00:00Z", "2026-01-12T19:00:00Z").as_bytes(), NOW).expect("added");
        // When the same id comes again with new times, Then the event is updated
        let moved = book.apply(shed("e1", "2026-01-12T18:00:00Z", "2026-01-12T20:00:00Z").as_bytes(), NOW);
        assert!(matches!(moved, Ok(Change::Updated { ref was, ref now }) if was.start_ms + 3_600_000 == now.start_ms));
        // When another shed overlaps it, Then both stand (they ask the same)
        book.apply(shed("e2", "2026-01-12T19:30:00Z", "2026-01-12T21:00:00Z").as_bytes(), NOW).expect("agrees");
        // When a price event overlaps them, Then it is refused, naming the one it contradicts
        let price =
            r#"{"id":"p1","kind":"price","start":"2026-01-12T19:00:00Z","end":"2026-01-12T22:00:00Z","level":0.3}"#;
        let refused = book.apply(price.as_bytes(), NOW).expect_err("contradicts");
        assert!(refused.to_string().contains("overlaps event e1"), "{refused}");
        // When e1 is cancelled, Then it leaves the book, and cancelling it again is refused
        let cancel = br#"{"id":"e1","cancel":true}"#;
        assert!(matches!(book.apply(cancel, NOW), Ok(Change::Cancelled(e)) if e.id == "e1"));
        assert_eq!(book.apply(cancel, NOW), Err(FlexError::NoSuchEvent("e1".into())));
        // And once its end has passed, an event expires
        let ids: Vec<String> = book.expire(NOW + 14 * 3_600_000).into_iter().map(|e| e.id).collect();
        assert_eq!(ids, ["e2"]);
        assert_eq!(book.events().count(), 0);
    }
}
