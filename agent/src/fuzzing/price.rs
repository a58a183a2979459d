//! Target `price`: a day-ahead price series read with a spike ratio the first byte picks
//! (within the 1–10 the config takes). The events it asks for are in time order, apart, each
//! as deep as a finite level in [0.25, 1], and each is a flex request the book takes as it was
//! meant (same times, same depth) when it lasts at most a day.

use super::input::Input;
use crate::control::event::{Change, Depth, FlexBook, FlexError, FlexKind};
use crate::control::price::events;

pub fn run(data: &[u8]) {
    let mut input = Input::new(data);
    let spike_ratio = 1.0 + f64::from(input.byte()) / 255.0 * 9.0;
    let Ok(found) = events(input.rest(), spike_ratio) else { return };
    for pair in found.windows(2) {
        assert!(pair[0].end_ms <= pair[1].start_ms, "events out of order or overlapping: {pair:?}");
    }
    for e in &found {
        assert!(e.start_ms < e.end_ms, "{e:?}");
        assert!(e.level.is_finite() && (0.25..=1.0).contains(&e.level), "level {} in {}", e.level, e.payload);
        let mut book = FlexBook::default();
        match book.apply(e.payload.as_bytes(), e.start_ms - 1) {
            Ok(Change::Added(taken)) => {
                assert_eq!((taken.kind, taken.start_ms, taken.end_ms), (FlexKind::Price, e.start_ms, e.end_ms));
                let Depth::Level(level) = taken.depth else { panic!("{taken:?}") };
                assert!((level - e.level).abs() <= 0.005 + 1e-12, "asked {} taken {level}", e.level);
            }
            Err(FlexError::Lasts { .. }) => assert!(e.end_ms - e.start_ms > 86_400_000),
            other => panic!("the book does not take {}: {other:?}", e.payload),
        }
    }
}
