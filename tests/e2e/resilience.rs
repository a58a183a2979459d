//! The broker goes away mid-stream and comes back: the agent reconnects, resubscribes and
//! keeps storing.

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
