//! The agent's retained status: online with health while it runs; offline when it stops,
//! whether it stops cleanly or dies (the last will).

use crate::support::*;

#[test]
fn status_is_online_then_offline_on_stop_and_on_crash() {
    let broker = Mosquitto::start();
    let mut agent = Agent::start(broker.port, &json_point("temp", "zone_temperature", "°C", ""), "");
    let mqtt = Mqtt::connect(broker.port, &["sobre/test-site/status"]);

    let online = mqtt.expect("sobre/test-site/status", |s| s["state"] == "online");
    assert_eq!(online["schema"], "sobre.status/1");
    assert_eq!(online["site"], "test-site");
    assert_eq!(online["version"], env!("CARGO_PKG_VERSION"));
    assert_eq!(online["points"], 1);
    check_against_schema(&online);

    // A clean stop (SIGTERM) publishes offline itself
    assert!(agent.terminate().success(), "a clean stop exits 0");
    let offline = mqtt.expect("sobre/test-site/status", |s| s["state"] == "offline");
    check_against_schema(&offline);

    // A crash leaves it to the broker's last will
    agent.launch();
    mqtt.expect("sobre/test-site/status", |s| s["state"] == "online");
    agent.kill();
    mqtt.expect("sobre/test-site/status", |s| s["state"] == "offline");

    // The status is retained: a newcomer learns it at once
    let late = Mqtt::connect(broker.port, &["sobre/test-site/status"]);
    late.expect("sobre/test-site/status", |s| s["state"] == "offline");
}

/// Checks the message against config/schemas/status.json: required keys, types, enums.
fn check_against_schema(message: &serde_json::Value) {
    let schema: serde_json::Value =
        serde_json::from_str(include_str!("../../config/schemas/status.json")).expect("status schema is JSON");
    crate::support::schema::check(&schema, message).unwrap_or_else(|e| panic!("{e}: {message}"));
}

#[test]
fn rust_log_lets_through_the_lines_its_targets_and_levels_name() {
    // RUST_LOG is read as `target=level` directives (tracing's `Targets`): a target is a module
    // path prefix, the most specific directive wins.
    for (filter, daemon_info, link_info) in
        [("warn,sobre_agent=info", true, true), ("error,sobre_agent::daemon=info", true, false), ("warn", false, false)]
    {
        // Given an agent started with this RUST_LOG
        let broker = Mosquitto::start();
        let mqtt = Mqtt::connect(broker.port, &["sobre/test-site/status"]);
        let point = json_point("temp", "zone_temperature", "°C", "");
        let mut agent = Agent::start_logged(broker.port, &point, "", &[("RUST_LOG", filter)]);
        // When it has connected to the broker and stopped
        mqtt.expect("sobre/test-site/status", |s| s["state"] == "online");
        assert!(agent.terminate().success(), "a clean stop exits 0");
        // Then its log holds the daemon's and the MQTT link's INFO lines where a directive
        // lets them through, and not elsewhere
        let log = agent.log();
        assert_eq!(log.contains("INFO sobre_agent::daemon"), daemon_info, "RUST_LOG={filter}:\n{log}");
        assert_eq!(log.contains("INFO sobre_agent::mqtt::link"), link_info, "RUST_LOG={filter}:\n{log}");
    }
}

#[test]
fn a_connection_closed_right_after_a_burst_loses_none_of_it() {
    // The agent's way to end a connection (`mqtt::closing`), as its link, its city sink and its
    // stop use it: what it published just before, and the broker acknowledged or not yet read,
    // must all reach the subscribers (the control's releases, the offline status).
    use rumqttc::v5::{mqttbytes::QoS, AsyncClient, MqttOptions};
    const BURST: usize = 400;
    // Given a subscriber and a client with a burst of QoS 1 messages queued, then a DISCONNECT
    let broker = Mosquitto::start();
    let mqtt = Mqtt::connect(broker.port, &["test/burst"]);
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
    let closed = runtime.block_on(async {
        let mut opts = MqttOptions::new("burst", "127.0.0.1", broker.port);
        opts.set_outgoing_inflight_upper_limit(100);
        let (client, mut eventloop) = AsyncClient::new(opts, BURST + 1);
        for i in 0..BURST {
            client.try_publish("test/burst", QoS::AtLeastOnce, false, i.to_string()).expect("room in the queue");
        }
        client.try_disconnect().expect("room in the queue");
        // When the connection is ended that way
        sobre_agent::closing::until_closed(&mut eventloop, DEADLINE).await
    });
    // Then the broker closed it after the DISCONNECT, and every message reached the subscriber
    assert!(closed, "the broker closed the connection after the DISCONNECT");
    for i in 0..BURST {
        mqtt.expect("test/burst", |m| m.as_u64() == Some(i as u64));
    }
}
