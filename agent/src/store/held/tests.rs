use super::super::{Record, Store};
use crate::config::Settings;
use crate::reading::{EnergySpan, Reading, Reason};
use std::time::Duration;

const MIN: i64 = 60_000;
const H: i64 = 60 * MIN;
// 2024-01-31T20:00:00Z: Paris's day and month change at 23:00 UTC, three hours in.
const START: i64 = 1_706_731_200_000;
/// Long enough that only buckets that are over, or replaced, are written before `write_held`.
const LONG: Duration = Duration::from_secs(3600);

fn open(dir: &tempfile::TempDir) -> Store {
    let text = r#"
[site]
id = "s"
timezone = "Europe/Paris"
[[points]]
id = "temp"
kind = "zone_temperature"
unit = "°C"
topic = "t"
[[points]]
id = "co2"
kind = "co2"
unit = "ppm"
topic = "c"
[[points]]
id = "elec"
kind = "energy"
unit = "kWh"
topic = "e"
cumulative = false
interval = "1h"
"#;
    let s = Settings::parse(text, "test").expect("valid test config");
    Store::open(&dir.path().join("sobre.db"), &s.points, s.site.timezone).expect("store opens")
}

/// Batches as ingest hands them over: two points every few minutes for six hours, across a
/// local midnight that is also a month's end, some readings late (an earlier bucket), some
/// twice; an hourly meter. Values are quarters, so sums are exact in any order.
fn batches() -> Vec<Vec<Record>> {
    let mut seed = 7u64;
    let mut next = move |n: u64| {
        seed = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
        (seed >> 33) % n
    };
    let mut batches = Vec::new();
    let mut sent: Vec<Record> = Vec::new();
    for b in 0..40 {
        let mut batch = Vec::new();
        for i in 0..6 {
            let ts = START + (b * 6 + i) * 3 * MIN / 2 + next(60) as i64 * 1000;
            let point = next(2) as usize;
            let value = 18.0 + next(40) as f64 / 4.0;
            batch.push(Record::Reading(Reading { point, ts_ms: ts, value, energy: None }));
        }
        if next(4) == 0 {
            // Late: a reading from up to two hours before.
            let ts = START + (b * 9 * MIN) - next(120) as i64 * MIN + 17;
            batch.push(Record::Reading(Reading { point: 0, ts_ms: ts.max(START), value: 21.25, energy: None }));
        }
        if next(5) == 0 && !sent.is_empty() {
            batch.push(sent[next(sent.len() as u64) as usize].clone());
        }
        if b % 5 == 0 {
            let ts = START + b / 5 * H;
            let kwh = 1.0 + next(8) as f64 / 4.0;
            let energy = Some(EnergySpan { start_ms: ts, end_ms: ts + H, kwh });
            batch.push(Record::Reading(Reading { point: 2, ts_ms: ts, value: kwh, energy }));
        }
        sent.extend(batch.iter().cloned());
        batches.push(batch);
    }
    batches
}

type Row = (i64, String, i64, String, i64, Option<f64>, Option<f64>, Option<f64>, Option<f64>, Option<f64>);

fn rollups(store: &Store) -> Vec<Row> {
    let mut stmt = store.conn.prepare("SELECT * FROM rollups ORDER BY point, resolution, bucket").expect("prepare");
    let rows = stmt
        .query_map([], |r| {
            Ok((
                r.get(0)?,
                r.get(1)?,
                r.get(2)?,
                r.get(3)?,
                r.get(4)?,
                r.get(5)?,
                r.get(6)?,
                r.get(7)?,
                r.get(8)?,
                r.get(9)?,
            ))
        })
        .expect("query");
    rows.collect::<Result<_, _>>().expect("rows")
}

/// The rollups of every batch written row by row at its commit, as a store that holds nothing.
fn plain(batches: &[Vec<Record>]) -> Vec<Row> {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut store = open(&dir);
    for batch in batches {
        store.write(batch).expect("write");
    }
    rollups(&store)
}

#[test]
fn held_rows_once_written_are_the_rows_written_at_every_commit() {
    let batches = batches();
    // Given a store that holds its open buckets' rows, and one that does not
    let dir = tempfile::tempdir().expect("tempdir");
    let mut store = open(&dir);
    store.hold_rollups(LONG).expect("hold");
    let plain_dir = tempfile::tempdir().expect("tempdir");
    let mut plain_store = open(&plain_dir);
    let mut newest = i64::MIN;
    for (i, batch) in batches.iter().enumerate() {
        // When each batch is committed
        store.write(batch).expect("write");
        plain_store.write(batch).expect("write");
        let stamps = batch.iter().filter_map(|r| if let Record::Reading(r) = r { Some(r.ts_ms) } else { None });
        newest = newest.max(stamps.max().unwrap_or(i64::MIN));
        // Then every quarter-hour and hour that is over (the newest reading is past its end)
        // has the row it would have had without holding
        let over = |rows: Vec<Row>| -> Vec<Row> {
            rows.into_iter()
                .filter(|r| match r.1.as_str() {
                    "15m" => r.2 + 15 * MIN <= newest,
                    "1h" => r.2 + H <= newest,
                    _ => false,
                })
                .collect()
        };
        assert_eq!(over(rollups(&store)), over(rollups(&plain_store)), "batch {i}");
    }
    let expected = rollups(&plain_store);
    assert_ne!(rollups(&store), expected, "something is held before the writer stops");
    // And once the held rows are written, the rollups are those written at every commit
    store.write_held().expect("write held");
    assert_eq!(rollups(&store), expected);
}

#[test]
fn rollups_after_a_crash_are_what_the_readings_say() {
    let batches = batches();
    for crash_after in [1, 2, 7, 13, 25, 40] {
        // Given a writer holding rows that stops after `crash_after` commits without writing them
        let dir = tempfile::tempdir().expect("tempdir");
        {
            let mut store = open(&dir);
            store.hold_rollups(LONG).expect("hold");
            for batch in &batches[..crash_after] {
                store.write(batch).expect("write");
            }
        }
        // When the next writer starts
        let mut store = open(&dir);
        let rebuilt = store.hold_rollups(LONG).expect("hold again");
        assert!(rebuilt > 0, "after {crash_after}: the held rows are named in the store");
        // Then the rollups are those of every commit, and the next batches add to them as usual
        assert_eq!(rollups(&store), plain(&batches[..crash_after]), "after {crash_after}");
        for batch in &batches[crash_after..] {
            store.write(batch).expect("write");
        }
        store.write_held().expect("write held");
        assert_eq!(rollups(&store), plain(&batches), "after {crash_after}, then the rest");
        // And a clean stop leaves nothing to rebuild
        drop(store);
        assert_eq!(open(&dir).hold_rollups(LONG).expect("hold"), 0);
    }
}

/// The batch and a rejection, which the store writes after the rollups.
fn with_rejection(batch: &[Record]) -> Vec<Record> {
    let rejection =
        Record::Rejection { point: 0, reason: Reason::Malformed, at_ms: START, detail: "not a number".into() };
    batch.iter().cloned().chain([rejection]).collect()
}

#[test]
fn a_batch_whose_commit_fails_is_held_once_when_it_is_written_again() {
    let batches = batches();
    let dir = tempfile::tempdir().expect("tempdir");
    let mut store = open(&dir);
    store.hold_rollups(LONG).expect("hold");
    let other = rusqlite::Connection::open(dir.path().join("sobre.db")).expect("a second connection");
    for (i, batch) in batches.iter().enumerate() {
        if i % 3 == 1 {
            // Given a batch that fails after its rollups were worked out (the rejections'
            // table, written last, is gone for a moment)
            other.execute("ALTER TABLE rejections RENAME TO rejections_away", []).expect("rename");
            assert!(store.write(&with_rejection(batch)).is_err(), "batch {i} fails");
            other.execute("ALTER TABLE rejections_away RENAME TO rejections", []).expect("rename back");
        }
        // When it is written again
        store.write(&with_rejection(batch)).expect("write");
    }
    // Then it counts once
    store.write_held().expect("write held");
    assert_eq!(rollups(&store), plain(&batches));
}

#[test]
fn a_store_that_holds_nothing_writes_every_row_at_its_commit() {
    let batches = batches();
    let dir = tempfile::tempdir().expect("tempdir");
    let mut store = open(&dir);
    // Given a writer that holds for no time at all
    store.hold_rollups(Duration::ZERO).expect("hold");
    for (i, batch) in batches.iter().enumerate() {
        store.write(batch).expect("write");
        // Then after each commit the rollups are those of a store that never holds
        assert_eq!(rollups(&store), plain(&batches[..=i]), "batch {i}");
    }
}
