//! Every kind of bad input gets its counted rejection, and nothing already stored changes.

use crate::support::*;

/// `(case, what is published after a good reading of 20 at 10:00, expected reason)`.
/// Each case has its own point, so counts do not mix.
fn cases() -> Vec<(&'static str, Vec<u8>, &'static str)> {
    let future = (chrono::Utc::now() + chrono::Duration::days(2)).to_rfc3339();
    vec![
        ("malformed_json", br#"{"ts":"2024-01-15T11:00:00Z","value":2"#.to_vec(), "malformed"),
        ("missing_value", br#"{"ts":"2024-01-15T11:00:00Z","value":null}"#.to_vec(), "malformed"),
        ("text_value", br#"{"ts":"2024-01-15T11:00:00Z","value":"warm"}"#.to_vec(), "malformed"),
        ("not_json_at_all", vec![0xff, 0xfe, 0x00], "malformed"),
        ("nan_string", br#"{"ts":"2024-01-15T11:00:00Z","value":"NaN"}"#.to_vec(), "not_finite"),
        ("absurd_value", json_reading("2024-01-15T11:00:00Z", 6553.5), "out_of_range"),
        ("below_absolute_zero", json_reading("2024-01-15T11:00:00Z", -300), "out_of_range"),
        ("future_timestamp", json_reading(&future, 21), "future"),
        ("too_late", json_reading("2024-01-01T10:00:00Z", 19), "late"),
        ("redelivered", json_reading("2024-01-15T10:00:00Z", 20), "duplicate"),
        ("same_time_other_value", json_reading("2024-01-15T10:00:00Z", 25), "conflict"),
        ("bad_timestamp", br#"{"ts":"yesterday","value":21}"#.to_vec(), "malformed"),
        // An on/off state is an occupancy's, never 1 °C
        ("boolean_temperature", br#"{"ts":"2024-01-15T11:00:00Z","value":true}"#.to_vec(), "malformed"),
        (
            "oversize",
            format!("{{\"ts\":\"2024-01-15T11:00:00Z\",\"value\":21,\"pad\":\"{}\"}}", "x".repeat(5000)).into_bytes(),
            "oversize",
        ),
    ]
}

#[test]
fn each_bad_input_is_counted_and_stored_data_stays() {
    let broker = Mosquitto::start();
    let cases = cases();
    let mut points: String = cases.iter().map(|(id, _, _)| json_point(id, "zone_temperature", "°C", "")).collect();
    points.push_str(&json_point("sentinel", "zone_temperature", "°C", ""));
    let agent = Agent::start(broker.port, &points, "[ingest]\nmax_payload_bytes = 4096\nlate_window = \"7d\"\n");
    let mqtt = Mqtt::connect(broker.port, &["sobre/test-site/status"]);
    mqtt.expect("sobre/test-site/status", |s| s["state"] == "online");
    let db = agent.db();

    // Given a good reading on every point
    mqtt.publish_all(cases.iter().map(|(id, _, _)| (format!("test/{id}"), json_reading("2024-01-15T10:00:00Z", 20))));
    wait_until("the good readings", || db.count("SELECT count(*) FROM readings") == cases.len() as u64);
    // and a sentinel past their hour: the writer holds the rows of buckets still open, and
    // writes a quarter-hour's and an hour's once the newest reading is past them
    mqtt.publish("test/sentinel", json_reading("2024-01-15T11:00:00Z", 20));
    wait_until("the first sentinel", || db.readings("sentinel") == 1);
    let over = "SELECT * FROM rollups WHERE resolution IN ('15m', '1h')
                AND point != (SELECT key FROM points WHERE id = 'sentinel') ORDER BY point, resolution, bucket";
    let before = db.rows(over);
    assert_eq!(before.len(), 2 * cases.len(), "a quarter-hour and an hour per good reading: {before:?}");

    // When each point gets its bad input, followed by a sentinel that shows all were processed
    mqtt.publish_all(cases.iter().map(|(id, payload, _)| (format!("test/{id}"), payload.clone())));
    mqtt.publish("test/sentinel", json_reading("2024-01-15T12:00:00Z", 20));
    wait_until("the sentinel", || db.readings("sentinel") == 2);

    // Then each bad input has exactly its counted rejection, and the good reading is as it was
    for (id, _, reason) in &cases {
        assert_eq!(
            db.rejections(id, reason),
            1,
            "{id}: expected one {reason} rejection; all: {:?}",
            db.rows("SELECT * FROM rejections")
        );
        assert_eq!(
            db.count(&format!("SELECT count(*) FROM rejections WHERE point = '{id}'")),
            1,
            "{id}: one reason only"
        );
        assert_eq!(db.readings(id), 1, "{id}: nothing added");
        assert_eq!(
            db.number(&format!("SELECT value FROM readings_view WHERE point = '{id}'")),
            Some(20.0),
            "{id}: unchanged"
        );
    }
    assert_eq!(before, db.rows(over), "rollups of the good readings are untouched");
}

#[test]
fn counter_resets_and_glitches_never_make_negative_or_huge_energy() {
    let broker = Mosquitto::start();
    let point = json_point("meter", "energy", "kWh", "max_kw = 100.0");
    let agent = Agent::start(broker.port, &point, "");
    let mqtt = Mqtt::connect(broker.port, &["sobre/test-site/status"]);
    mqtt.expect("sobre/test-site/status", |s| s["state"] == "online");

    // Given a counter that climbs, resets to zero, glitches by 1 GWh and climbs again
    let readings = [
        ("10:00", 5000.0),
        ("10:15", 5010.0),
        ("10:30", 3.0),
        ("10:45", 8.0),
        ("11:00", 1_000_008.0),
        ("11:15", 1_000_020.0),
    ];
    mqtt.publish_all(
        readings.iter().map(|(t, v)| ("test/meter".to_string(), json_reading(&format!("2024-01-15T{t}:00Z"), v))),
    );

    // Then every reading is stored, the reset and the jump are counted, and the energy is
    // only the three plausible steps (10 + 5 + 12 kWh)
    let db = agent.db();
    wait_until("six readings", || db.readings("meter") == 6);
    wait_until("flags", || db.rejections("meter", "counter_jump") == 1);
    assert_eq!(db.rejections("meter", "counter_reset"), 1);
    assert_eq!(db.number("SELECT min(energy_kwh) FROM readings_view WHERE point = 'meter'"), Some(5.0));
    assert_eq!(
        db.number("SELECT sum(energy_kwh) FROM rollups_view WHERE point = 'meter' AND resolution = '1d'"),
        Some(27.0)
    );
}
