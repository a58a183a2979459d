//! Target `flex`: a sequence of flex requests into one book, received at a time the first byte
//! picks. A request the book takes is whole (starts before it ends, lasts at most a day, not
//! over, announced before it starts, one finite depth within its range) and survives the control
//! log (JSON) unchanged; a refused one leaves the book as it was; two events in force never
//! overlap asking different things.

use super::input::Input;
use crate::control::event::{Change, Depth, FlexBook, FlexEvent};

/// 2026-01-12 08:00 UTC.
const NOW_MS: i64 = 1_768_204_800_000;
const DAY_MS: i64 = 86_400_000;

pub fn run(data: &[u8]) {
    let mut input = Input::new(data);
    let now_ms = NOW_MS + i64::from(input.byte()) * 900_000;
    let mut book = FlexBook::default();
    for payload in input.payloads(16) {
        let before = snapshot(&book);
        match book.apply(payload, now_ms) {
            Ok(Change::Added(e)) => {
                whole(&e, now_ms);
                assert_eq!(snapshot(&book).len(), before.len() + 1);
                assert!(!before.iter().any(|b| b.id == e.id), "{} added twice", e.id);
            }
            Ok(Change::Updated { was, now }) => {
                whole(&now, now_ms);
                assert_eq!(was.id, now.id);
                assert!(before.contains(&was));
                assert_eq!(snapshot(&book).len(), before.len());
            }
            Ok(Change::Cancelled(e)) => {
                assert!(before.contains(&e));
                assert!(!snapshot(&book).contains(&e));
                assert_eq!(snapshot(&book).len() + 1, before.len());
            }
            Err(e) => {
                assert!(!e.to_string().is_empty());
                assert_eq!(snapshot(&book), before, "refused ({e}) yet the book changed");
            }
        }
        agree(&book);
    }
    // Events end when they say: a day on, those over are gone and the others stay; none outlives its end.
    let day_on = now_ms + DAY_MS;
    let staying: Vec<FlexEvent> = snapshot(&book).into_iter().filter(|e| e.end_ms > day_on).collect();
    for e in book.expire(day_on) {
        assert!(e.end_ms <= day_on, "{e:?} expired early");
    }
    assert_eq!(snapshot(&book), staying);
    let last_end = staying.iter().map(|e| e.end_ms).max().unwrap_or(day_on);
    book.expire(last_end);
    assert_eq!(book.events().count(), 0, "an event outlived its end");
}

fn snapshot(book: &FlexBook) -> Vec<FlexEvent> {
    book.events().cloned().collect()
}

fn whole(e: &FlexEvent, now_ms: i64) {
    assert!(e.start_ms < e.end_ms && e.end_ms - e.start_ms <= DAY_MS, "{e:?}");
    assert!(e.end_ms > now_ms && e.notice_ms <= e.start_ms, "{e:?}");
    assert!(!e.id.is_empty() && e.id.len() <= 64, "{e:?}");
    match e.depth {
        Depth::Level(l) => assert!(l.is_finite() && l > 0.0 && l <= 1.0, "{e:?}"),
        Depth::TargetKw(kw) => assert!(kw.is_finite() && kw >= 0.0, "{e:?}"),
    }
    // The control log keeps events as JSON and restores them after a restart.
    let json = serde_json::to_string(e).unwrap_or_default();
    let back: Option<FlexEvent> = serde_json::from_str(&json).ok();
    assert_eq!(back.as_ref(), Some(e), "does not survive the log: {json}");
}

/// No two events in force overlap while asking different things.
fn agree(book: &FlexBook) {
    let events = snapshot(book);
    for (i, a) in events.iter().enumerate() {
        for b in &events[i + 1..] {
            let overlap = a.start_ms < b.end_ms && b.start_ms < a.end_ms;
            assert!(!overlap || a.kind == b.kind, "{a:?} contradicts {b:?}");
        }
    }
}
