//! A day-ahead price series on `<prefix>/flex/price`, turned into price events: the runs of
//! slots whose price stands well above the day's median become events as deep as the run is
//! dear, and go through the same book, checks and ledger as any flex request.

use super::event::FlexKind;
use chrono::{DateTime, Utc};
use serde::Deserialize;

/// Payloads longer than this are refused before parsing (96 quarter-hours fit well within).
const MAX_PAYLOAD: usize = 16 * 1024;
/// The longest series id whose events' ids (`price-<id>-<n>`, n up to 96) are still event ids.
const MAX_ID: usize = super::event::MAX_ID - "price--96".len();

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Series {
    /// Names the events made from it: `price-<id>-<n>`.
    id: String,
    /// Informative (e.g. "EUR/kWh"); the rule works on ratios.
    #[serde(default, rename = "unit")]
    _unit: Option<String>,
    prices: Vec<Slot>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Slot {
    start: DateTime<Utc>,
    price: f64,
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum PriceError {
    #[error("payload of {bytes} bytes; at most {MAX_PAYLOAD}")]
    TooLong { bytes: usize },
    #[error("not a price series: {0}")]
    Malformed(String),
    #[error("series id {0:?}: 1–{MAX_ID} characters of letters, digits, '-', '_', '.' (it names the events)")]
    Id(String),
    #[error("series {id}: {n} prices; give 2 to 96, in time order, all of them finite")]
    Prices { id: String, n: usize },
    #[error("series {id}: slots of unequal length (the first is {first_min} min, one is {other_min} min)")]
    Uneven { id: String, first_min: i64, other_min: i64 },
}

/// One event the series asks for, as a flex request payload.
#[derive(Debug, Clone, PartialEq)]
pub struct PriceEvent {
    pub payload: String,
    pub start_ms: i64,
    pub end_ms: i64,
    pub level: f64,
}

/// The events a series asks for: each run of slots priced at least `spike_ratio` times the
/// median, as deep as its dearest slot is between the median and the day's dearest.
pub fn events(payload: &[u8], spike_ratio: f64) -> Result<Vec<PriceEvent>, PriceError> {
    if payload.len() > MAX_PAYLOAD {
        return Err(PriceError::TooLong { bytes: payload.len() });
    }
    let s: Series = serde_json::from_slice(payload).map_err(|e| PriceError::Malformed(e.to_string()))?;
    // Checked here, not only by the book: otherwise every event of the day would be refused
    // one by one for an id the series gave them.
    if !super::event::is_id(&s.id) || s.id.len() > MAX_ID {
        return Err(PriceError::Id(s.id));
    }
    let n = s.prices.len();
    let ordered = s.prices.windows(2).all(|w| w[0].start < w[1].start);
    if !(2..=96).contains(&n) || !ordered || s.prices.iter().any(|p| !p.price.is_finite()) {
        return Err(PriceError::Prices { id: s.id, n });
    }
    let starts: Vec<i64> = s.prices.iter().map(|p| p.start.timestamp_millis()).collect();
    let slot_ms = starts[1] - starts[0];
    if let Some(w) = starts.windows(2).find(|w| w[1] - w[0] != slot_ms) {
        return Err(PriceError::Uneven { id: s.id, first_min: slot_ms / 60_000, other_min: (w[1] - w[0]) / 60_000 });
    }
    let mut sorted: Vec<f64> = s.prices.iter().map(|p| p.price).collect();
    sorted.sort_by(f64::total_cmp);
    let median = sorted[n / 2];
    let dearest = sorted[n - 1];
    let dear = |p: f64| p > median && p >= spike_ratio * median.max(0.0) && dearest > median;
    let mut out = Vec::new();
    let mut i = 0;
    while i < n {
        if !dear(s.prices[i].price) {
            i += 1;
            continue;
        }
        let first = i;
        while i < n && dear(s.prices[i].price) {
            i += 1;
        }
        let peak = s.prices[first..i].iter().map(|p| p.price).fold(f64::MIN, f64::max);
        let level = depth(peak, median, dearest);
        let (start_ms, end_ms) = (starts[first], starts[i - 1] + slot_ms);
        let payload = serde_json::json!({
            "id": format!("price-{}-{}", s.id, out.len() + 1),
            "kind": FlexKind::Price,
            "start": crate::clock::iso(start_ms),
            "end": crate::clock::iso(end_ms),
            "level": (level * 100.0).round() / 100.0,
        })
        .to_string();
        out.push(PriceEvent { payload, start_ms, end_ms, level });
    }
    Ok(out)
}

/// How far `peak` stands from the median towards the day's dearest, within [0.25, 1]. Finite for
/// any finite prices: a spread wider than a float holds (−1e308 to 1e308) is taken in halves,
/// which is exact there, rather than becoming ∞/∞.
fn depth(peak: f64, median: f64, dearest: f64) -> f64 {
    let spread = dearest - median;
    let share = if spread.is_finite() {
        (peak - median) / spread
    } else {
        (peak / 2.0 - median / 2.0) / (dearest / 2.0 - median / 2.0)
    };
    share.clamp(0.25, 1.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn series(prices: &[f64]) -> String {
        let slots: Vec<String> = prices
            .iter()
            .enumerate()
            .map(|(h, p)| format!(r#"{{"start":"2019-12-03T{h:02}:00:00Z","price":{p}}}"#))
            .collect();
        format!(r#"{{"id":"d1","unit":"EUR/kWh","prices":[{}]}}"#, slots.join(","))
    }

    #[test]
    fn the_dear_hours_become_price_events_as_deep_as_they_are_dear() {
        // Given a day at 0.10 €/kWh with a morning bump to 0.14 and an evening spike to 0.30
        let mut prices = vec![0.10; 24];
        prices[7] = 0.14;
        prices[17] = 0.22;
        prices[18] = 0.30;
        // When the agent reads it with spikes at 1.25 times the median
        let found = events(series(&prices).as_bytes(), 1.25).expect("a valid series");
        // Then 07:00–08:00 is a shallow event and 17:00–19:00 a full one
        let spans: Vec<(String, f64)> = found.iter().map(|e| (crate::clock::iso(e.start_ms), e.level)).collect();
        assert_eq!(spans, [("2019-12-03T07:00:00Z".to_string(), 0.25), ("2019-12-03T17:00:00Z".to_string(), 1.0)]);
        assert_eq!(found[1].end_ms - found[1].start_ms, 2 * 3_600_000);
        assert!(found[1].payload.contains(r#""id":"price-d1-2""#), "{}", found[1].payload);
    }

    #[test]
    fn prices_at_the_limits_of_a_float_still_make_an_event_of_finite_depth() {
        // Given a series whose spread is wider than a float holds (the price target's invariant
        // found it: the level was ∞/∞, sent as null, and the book refused the event)
        let payload = series(&[-1e308, -1e308, 1e308]);
        // When the agent reads it
        let found = events(payload.as_bytes(), 1.25).expect("a valid series");
        // Then the dear hour is a full event, and a request the book takes
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].level, 1.0);
        let mut book = super::super::event::FlexBook::default();
        assert!(book.apply(found[0].payload.as_bytes(), found[0].start_ms - 1).is_ok(), "{}", found[0].payload);
    }

    #[test]
    fn a_series_whose_id_cannot_name_its_events_is_refused_whole() {
        // Given a dear evening in series whose ids are a flex id's characters or not (found by
        // the fuzz target `price`: "d1?" made events the book refused one by one)
        let mut prices = vec![0.10; 24];
        prices[18] = 0.30;
        for (id, taken) in [("d1?", false), ("", false), (&"x".repeat(56), false), (&"x".repeat(55), true)] {
            // When the agent reads it
            let payload = series(&prices).replace(r#""id":"d1""#, &format!(r#""id":"{id}""#));
            let found = events(payload.as_bytes(), 1.25);
            // Then a series with a usable id asks for the evening, as a request the book takes,
            // and any other is refused as a whole, naming its id
            match found {
                Ok(found) => {
                    assert!(taken, "{id:?} taken");
                    let mut book = super::super::event::FlexBook::default();
                    assert!(book.apply(found[0].payload.as_bytes(), found[0].start_ms - 1).is_ok(), "{id:?}");
                }
                Err(e) => assert!(!taken && matches!(e, PriceError::Id(ref refused) if refused == id), "{id:?}: {e}"),
            }
        }
    }

    #[test]
    fn a_flat_day_asks_nothing_and_a_broken_series_says_why() {
        assert_eq!(events(series(&[0.1; 24]).as_bytes(), 1.25), Ok(Vec::new()));
        let table: [(&str, String, &str); 4] = [
            ("not JSON", "cheap".into(), "not a price series"),
            ("one price", series(&[0.1]), "1 prices"),
            ("a NaN", series(&[0.1, 0.2]).replace("0.2", "NaN"), "not a price series"),
            (
                "a gap",
                series(&[0.1, 0.2, 0.3]).replace("T02:00", "T05:00"),
                "unequal length (the first is 60 min, one is 240 min)",
            ),
        ];
        for (name, payload, why) in table {
            let e = events(payload.as_bytes(), 1.25).expect_err(name);
            assert!(e.to_string().contains(why), "{name}: {e}");
        }
    }
}
