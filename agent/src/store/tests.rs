use super::*;
use crate::config::Settings;
use crate::reading::{EnergySpan, Reading};

const H: i64 = 3_600_000;
// 2024-01-15T00:00:00Z
const DAY0: i64 = 1_705_276_800_000;

fn settings() -> Settings {
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
id = "elec"
kind = "energy"
unit = "kWh"
topic = "e"
cumulative = false
interval = "1h"
"#;
    Settings::parse(text, "test").expect("valid test config")
}

fn open(dir: &tempfile::TempDir) -> Store {
    let s = settings();
    Store::open(&dir.path().join("sobre.db"), &s.points, s.site.timezone).expect("store opens")
}

fn temp(ts_ms: i64, value: f64) -> Record {
    Record::Reading(Reading { point: 0, ts_ms, value, energy: None })
}

fn elec(ts_ms: i64, kwh: f64) -> Record {
    Record::Reading(Reading {
        point: 1,
        ts_ms,
        value: kwh,
        energy: Some(EnergySpan { start_ms: ts_ms, end_ms: ts_ms + H, kwh }),
    })
}

#[test]
fn rollups_sum_energy_and_average_temperatures() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut store = open(&dir);
    // 48 hours from midnight UTC: in Paris the local day starts at 23:00 UTC the day before.
    let batch: Vec<Record> =
        (0..48).flat_map(|h| [elec(DAY0 + h * H, 1.0 + h as f64), temp(DAY0 + h * H, 20.0 + (h % 2) as f64)]).collect();
    let written = store.write(&batch).expect("write");
    assert_eq!(written, Written { readings: 96, duplicates: 0, rejections: 0 });

    let days = store.series("elec", Resolution::Day).expect("daily");
    // Local 2024-01-15 holds UTC hours 0..22 (h = 0..=22); 2024-01-16 holds h = 23..=46; h = 47 is on the 17th.
    let expected_15: f64 = (0..23).map(|h| 1.0 + h as f64).sum();
    let expected_16: f64 = (23..47).map(|h| 1.0 + h as f64).sum();
    assert_eq!(days.iter().map(|(l, _)| l.as_str()).collect::<Vec<_>>(), ["2024-01-15", "2024-01-16", "2024-01-17"]);
    assert!((days[0].1 - expected_15).abs() < 1e-9 && (days[1].1 - expected_16).abs() < 1e-9, "{days:?}");
    let total: f64 = store.series("elec", Resolution::QuarterHour).expect("15m").iter().map(|(_, v)| v).sum();
    assert!((total - (1..=48).sum::<i64>() as f64).abs() < 1e-9);

    let hours = store.series("temp", Resolution::Day).expect("temp daily");
    assert!((hours[1].1 - 20.5).abs() < 1e-12, "24 alternating hours average 20.5: {hours:?}");
}

#[test]
fn a_stored_reading_is_never_overwritten() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut store = open(&dir);
    store.write(&[temp(DAY0, 20.0), elec(DAY0, 5.0)]).expect("first");
    let again = store.write(&[temp(DAY0, 20.0), temp(DAY0, 25.0), elec(DAY0, 5.0)]).expect("again");
    assert_eq!((again.readings, again.duplicates), (0, 3));
    assert_eq!(store.series("temp", Resolution::Hour).expect("hourly"), vec![("2024-01-15T00:00Z".to_string(), 20.0)]);
    assert_eq!(store.series("elec", Resolution::Day).expect("daily"), vec![("2024-01-15".to_string(), 5.0)]);
    let rejections = store.rejections().expect("rejections");
    assert_eq!(
        rejections,
        vec![
            ("elec".into(), "duplicate".into(), 1),
            ("temp".into(), "conflict".into(), 1),
            ("temp".into(), "duplicate".into(), 1)
        ]
    );
}

#[test]
fn retention_keeps_each_resolution_for_its_own_span() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut store = open(&dir);
    store.write(&[elec(DAY0, 5.0), elec(DAY0 + 40 * 24 * H, 7.0)]).expect("write");
    let mut retention = settings().storage.retention;
    retention.raw = crate::config::Span::days(35);
    store.apply_retention(DAY0 + 41 * 24 * H, DAY0, &retention).expect("retention");
    assert_eq!(store.reading_count("elec").expect("count"), 1, "raw older than 35 days is gone");
    assert_eq!(store.series("elec", Resolution::Day).expect("daily").len(), 2, "daily rollups stay");
}

#[test]
fn retention_covers_every_table_each_by_its_own_clock() {
    use super::journal::{Journal, CONTROL, DECISIONS};
    const DAY: i64 = 24 * H;
    // Given a store two years into event time, on a gateway whose wall clock says 2025
    let dir = tempfile::tempdir().expect("tempdir");
    let mut store = open(&dir);
    let (now, wall) = (DAY0 + 800 * DAY, 1_750_000_000_000);
    store.write(&[elec(DAY0, 5.0), elec(now - DAY, 7.0)]).expect("write");
    // with a recommendation proposed twice and accepted in the first year, a control log of
    // overrides and modes in both years,
    let path = dir.path().join("sobre.db");
    let mut journals = [Journal::open(&path, DECISIONS).expect("ledger"), Journal::open(&path, CONTROL).expect("log")];
    let records = [
        (0, DAY0, "proposed", Some("setback")),
        (0, DAY0 + DAY, "proposed", Some("setback")),
        (0, DAY0 + 2 * DAY, "accepted", Some("setback")),
        (1, DAY0, "override", Some("class-1")),
        (1, DAY0 + DAY, "override", Some("class-1")),
        (1, DAY0, "mode", None),
        (1, now - DAY, "override", Some("class-2")),
    ];
    for (journal, ts, kind, subject) in records {
        journals[journal].append(ts, kind, subject, |seq| seq).expect("append");
    }
    // and report ids the city acknowledged a year ago and yesterday (wall time)
    for (id, acked) in [("old", wall - 365 * DAY), ("new", wall - DAY)] {
        store
            .conn
            .execute("INSERT INTO outbox_delivered (id, acked_ms) VALUES (?1, ?2)", params![id, acked])
            .expect("id");
    }
    // When retention runs with a year for decisions, 400 days for the control log, 90 days
    // for delivered ids
    let mut retention = settings().storage.retention;
    (retention.decisions, retention.control_log, retention.delivered) =
        (crate::config::Span::days(365), crate::config::Span::days(400), crate::config::Span::days(90));
    let pruned = store.apply_retention(now, wall, &retention).expect("retention");
    // Then the old raw reading, the first proposal, the first override and the old id go;
    // the latest of each kind about each subject stays, however old
    assert_eq!(pruned.records, 2, "{pruned:?}");
    assert_eq!(pruned.delivered, 1, "{pruned:?}");
    assert_eq!(store.reading_count("elec").expect("count"), 1);
    let left = |table: &str| -> Vec<(String, Option<String>)> {
        let mut stmt = store.conn.prepare(&format!("SELECT kind, subject FROM {table} ORDER BY seq")).expect("prepare");
        let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?))).expect("query");
        rows.collect::<Result<_, _>>().expect("rows")
    };
    let some = |kind: &str, subject: Option<&str>| (kind.to_string(), subject.map(str::to_string));
    assert_eq!(left("decisions"), [some("proposed", Some("setback")), some("accepted", Some("setback"))]);
    assert_eq!(
        left("control_log"),
        [some("override", Some("class-1")), some("mode", None), some("override", Some("class-2"))]
    );
    let ids: Vec<String> = store
        .conn
        .prepare("SELECT id FROM outbox_delivered")
        .expect("prepare")
        .query_map([], |r| r.get(0))
        .expect("query")
        .collect::<Result<_, _>>()
        .expect("ids");
    assert_eq!(ids, ["new"]);
}

#[test]
fn reopening_resumes_and_refuses_a_newer_schema() {
    let dir = tempfile::tempdir().expect("tempdir");
    {
        let mut store = open(&dir);
        store.write(&[temp(DAY0, 20.0), temp(DAY0 + H, 21.0)]).expect("write");
    }
    let store = open(&dir);
    assert_eq!(store.newest().expect("newest"), vec![Newest { point: 0, ts_ms: DAY0 + H, value: 21.0 }]);
    store.conn.pragma_update(None, "user_version", 99).expect("bump");
    drop(store);
    let s = settings();
    let err = Store::open(&dir.path().join("sobre.db"), &s.points, s.site.timezone).expect_err("newer schema");
    assert!(err.to_string().contains("schema version 99"), "{err}");
}

#[test]
fn retention_the_oldest_reading_and_a_periods_activity_go_by_time() {
    // Given two points with readings every hour over ten days, the temperature's from hour 30
    let dir = tempfile::tempdir().expect("tempdir");
    let mut store = open(&dir);
    let batch: Vec<Record> = (0..240)
        .flat_map(|h| {
            let temperature = (h >= 30).then(|| temp(DAY0 + h * H, 20.0));
            [Some(elec(DAY0 + h * H, 1.0)), temperature].into_iter().flatten()
        })
        .collect();
    store.write(&batch).expect("write");
    // When the oldest reading and a period's activity are asked for
    // Then they count the points and readings of that period
    assert_eq!(store.oldest_ms().expect("oldest"), Some(DAY0));
    let table = [
        // (period, points heard from, readings)
        ((DAY0, DAY0 + 24 * H), 1, 24),
        ((DAY0 + 24 * H, DAY0 + 48 * H), 2, 24 + 18),
        ((DAY0 + 300 * H, DAY0 + 400 * H), 0, 0),
    ];
    for ((from, to), points, readings) in table {
        let activity = store.activity(from, to).expect("activity");
        assert_eq!((activity.points_seen, activity.readings), (points, readings), "[{from}, {to})");
    }
    // When retention keeps 5 days of raw readings, 9 days after the first
    let mut retention = settings().storage.retention;
    retention.raw = crate::config::Span::days(5);
    let now = DAY0 + 9 * 24 * H;
    store.apply_retention(now, now, &retention).expect("retention");
    // Then every reading older than that is gone, of both points, and nothing younger
    assert_eq!(store.oldest_ms().expect("oldest"), Some(now - 5 * 24 * H));
    assert_eq!(store.reading_count("elec").expect("count"), 240 - 4 * 24);
    assert_eq!(store.reading_count("temp").expect("count"), 240 - 4 * 24);
    // And when retention later removes every reading, no point has a newest one left
    store.apply_retention(now + 10 * 24 * H, now, &retention).expect("retention");
    assert_eq!(store.newest().expect("newest"), []);
}

#[test]
fn each_points_newest_reading_is_the_latest_stored_whatever_the_order_of_arrival() {
    // Given readings of two points arriving out of order, a late one in a later batch, and a
    // duplicate of the newest with another value
    let dir = tempfile::tempdir().expect("tempdir");
    let mut store = open(&dir);
    store
        .write(&[temp(DAY0 + 2 * H, 22.0), elec(DAY0 + H, 5.0), temp(DAY0 + 3 * H, 23.0), temp(DAY0, 20.0)])
        .expect("write");
    store.write(&[temp(DAY0 + H, 21.0), elec(DAY0, 4.0), temp(DAY0 + 3 * H, 99.0)]).expect("write");
    // When the newest readings are asked for, also after a restart
    // Then each point's is its latest reading as first stored
    let expected =
        [Newest { point: 0, ts_ms: DAY0 + 3 * H, value: 23.0 }, Newest { point: 1, ts_ms: DAY0 + H, value: 5.0 }];
    let mut newest = store.newest().expect("newest");
    newest.sort_by_key(|n| n.point);
    assert_eq!(newest, expected);
    drop(store);
    let mut newest = open(&dir).newest().expect("newest");
    newest.sort_by_key(|n| n.point);
    assert_eq!(newest, expected);
}

#[test]
fn every_row_written_names_a_registered_point() {
    // Given a store that held rollups, wrote readings of both kinds, a duplicate, a
    // conflict, rejections and availability, then stopped and was rebuilt at a restart
    let dir = tempfile::tempdir().expect("tempdir");
    let mut store = open(&dir);
    store.hold_rollups(std::time::Duration::from_secs(900)).expect("holds");
    let rejection = Record::Rejection { point: 0, reason: Reason::OutOfRange, at_ms: DAY0, detail: "99 °C".into() };
    let online = Record::Availability { topic: "t/avail".into(), at_ms: DAY0, online: true };
    store.write(&[temp(DAY0, 20.0), elec(DAY0, 4.0), rejection, online]).expect("write");
    store.write(&[temp(DAY0, 20.0), temp(DAY0, 21.0), temp(DAY0 + H, 22.0), elec(DAY0 + H, 5.0)]).expect("write");
    drop(store);
    let mut store = open(&dir);
    store.hold_rollups(std::time::Duration::from_secs(900)).expect("rebuilds what was held");
    store.write(&[temp(DAY0 + 2 * H, 23.0)]).expect("write");
    store.write_held().expect("writes what is held");
    // When SQLite checks every foreign key of the file (the writer does not check as it writes)
    let orphans: Vec<(String, i64)> = store
        .conn
        .prepare("PRAGMA foreign_key_check")
        .and_then(|mut s| s.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?.collect())
        .expect("check runs");
    // Then no row names a point that is not registered
    assert_eq!(orphans, vec![]);
    let readings: i64 = store.conn.query_row("SELECT count(*) FROM readings", [], |r| r.get(0)).expect("count");
    assert_eq!(readings, 5);
}
