//! The broker goes away mid-stream and comes back: the agent reconnects, resubscribes and
//! keeps storing. The agent is killed mid-stream: its rollups are what its readings say.

use crate::support::*;

fn batch(from: u32, to: u32) -> Vec<(String, Vec<u8>)> {
    (from..to)
        .map(|i| {
            let ts = chrono::DateTime::from_timestamp(1_705_312_800 + i64::from(i) * 60, 0).expect("ts").to_rfc3339();
            ("test/temp".to_string(), json_reading(&ts, 20.0 + f64::from(i % 10) / 10.0))
        })
        .collect()
}

#[test]
fn the_agent_reconnects_resubscribes_and_keeps_storing() {
    let mut broker = Mosquitto::start();
    let agent = Agent::start(broker.port, &json_point("temp", "zone_temperature", "°C", ""), "");
    let db = agent.db();
    {
        let mqtt = Mqtt::connect(broker.port, &["sobre/test-site/status"]);
        mqtt.expect("sobre/test-site/status", |s| s["state"] == "online" && s["health"]["connections"] == 1);
        mqtt.publish_all(batch(0, 100));
        wait_until("the first 100 readings", || db.readings("temp") == 100);
    }

    // Given the broker dies mid-stream and comes back on the same port with no memory
    broker.restart();

    // When the agent is back (its retained status says online on its second connection)
    let mqtt = Mqtt::connect(broker.port, &["sobre/test-site/status"]);
    mqtt.expect("sobre/test-site/status", |s| s["state"] == "online" && s["health"]["connections"] == 2);
    mqtt.publish_all(batch(100, 200));

    // Then it stored the new stream too: its subscription was renewed
    wait_until("all 200 readings", || db.readings("temp") == 200);
    assert_eq!(db.count("SELECT count(*) FROM rejections"), 0);
}

type Rows = Vec<Vec<String>>;

/// Each rollup resolution of `temp` as the readings say it, and as the store has it: bucket,
/// count, sum, min and max (London is on UTC in January, so days and months are UTC ones).
fn rollups_and_readings(db: &Db) -> Vec<(Rows, Rows)> {
    [("15m", "ts - ts % 900000"), ("1h", "ts - ts % 3600000"), ("1d", "ts - ts % 86400000"), ("1mo", "1704067200000")]
        .into_iter()
        .map(|(resolution, bucket)| {
            let held = db.rows(&format!(
                "SELECT bucket, n, round(sum, 6), min, max FROM rollups WHERE resolution = '{resolution}' ORDER BY bucket"
            ));
            let said = db.rows(&format!(
                "SELECT {bucket} AS b, count(*), round(sum(value), 6), min(value), max(value) FROM readings GROUP BY b ORDER BY b"
            ));
            (held, said)
        })
        .collect()
}

#[test]
fn rollups_after_a_power_cut_are_what_the_readings_say() {
    let broker = Mosquitto::start();
    let mut agent = Agent::start(broker.port, &json_point("temp", "zone_temperature", "°C", ""), "");
    let db = agent.db();
    let mqtt = Mqtt::connect(broker.port, &["sobre/test-site/status"]);
    mqtt.expect("sobre/test-site/status", |s| s["state"] == "online");

    // Given readings for 100 minutes, stored, with the rows of the buckets still open held
    mqtt.publish_all(batch(0, 100));
    wait_until("the readings", || db.readings("temp") == 100);
    assert!(db.count("SELECT count(*) FROM rollups_held") > 0, "the open buckets are held");

    // When the agent is killed without warning and started again
    agent.kill();
    agent.launch();
    mqtt.expect("sobre/test-site/status", |s| s["state"] == "online");
    mqtt.publish_all(batch(100, 130));
    wait_until("the next readings", || db.readings("temp") == 130);
    agent.terminate();

    // Then every rollup is what the readings say, and nothing is left held
    for (held, said) in rollups_and_readings(&db) {
        assert_eq!(held, said);
    }
    assert_eq!(db.count("SELECT count(*) FROM rollups_held"), 0);
}

#[test]
fn an_agent_stopped_while_it_catches_up_is_sent_again_only_what_it_had_not_stored() {
    // Given 20,000 QoS 1 readings that the broker queued for the agent while it was down
    let broker = Mosquitto::start();
    let mut agent = Agent::start(broker.port, &json_point("temp", "zone_temperature", "°C", ""), "");
    let db = agent.db();
    let mqtt = Mqtt::connect(broker.port, &["sobre/test-site/status"]);
    mqtt.expect("sobre/test-site/status", |s| s["state"] == "online");
    assert!(agent.terminate().success(), "a clean stop exits 0");
    mqtt.publish_all(batch(0, 20_000));
    // When it is started, and stopped as systemd stops it while it catches up
    agent.launch();
    wait_until("part of the backlog", || db.readings("temp") > 0);
    assert!(agent.terminate().success(), "a clean stop exits 0");
    let stored_at_stop = db.readings("temp");
    // And started again
    agent.launch();
    // Then every reading is stored once, and the broker sent again none of what the store
    // held already: whatever the agent stored, it acknowledged before it went
    wait_until("the whole backlog", || db.readings("temp") == 20_000);
    assert_eq!(
        db.count("SELECT count(*) FROM rejections WHERE reason = 'duplicate'"),
        0,
        "{stored_at_stop} stored at the stop; {:?}",
        db.rows("SELECT * FROM rejections")
    );
}
