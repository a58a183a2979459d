//! The agent as an attacker and a power cut would test it: floods on every topic it reads,
//! SIGKILLs during QoS 1 ingest, oversize and retained poison, a second agent on its store,
//! a disk that refuses commits, and systemd's watchdog. A test binary of its own, so that its
//! floods do not starve the end-to-end tests' deadlines; the heaviest take turns (`HEAVY`).

// Shared with the end-to-end tests, each binary using part of it.
#[path = "../e2e/support/mod.rs"]
#[allow(dead_code)]
mod support;

use rumqttc::{Client, Event, MqttOptions, Packet, QoS};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use support::*;

const PREFIX: &str = "sobre/test-site";

/// Taken by the tests that load both cores (floods, the SIGKILL loop), one at a time.
static HEAVY: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn heavy() -> std::sync::MutexGuard<'static, ()> {
    HEAVY.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// The `i`-th payload of a flood.
type Payloads = Box<dyn Fn(u64) -> Vec<u8>>;

/// A zone the agent may command: its temperature, and the thermostat's command topic.
fn controlled_zone() -> String {
    json_point("temp", "zone_temperature", "°C", "zone = \"z1\"")
        + &json_point("setpoint", "setpoint", "°C", "zone = \"z1\"")
        + "[[control.zones]]\nzone = \"z1\"\ncommand_topic = \"test/z1/set\"\n"
}

/// A reading stamped `i` seconds after a base five days ago: up to 400,000 of them are neither
/// late (beyond the 7-day window) nor in the future.
fn reading_at(i: u64) -> Vec<u8> {
    let base = chrono::Utc::now().timestamp() - 5 * 86_400;
    let ts = chrono::DateTime::from_timestamp(base + i as i64, 0).expect("ts").to_rfc3339();
    json_reading(&ts, 20.0 + (i % 10) as f64 / 10.0)
}

/// A publisher that keeps up to 1000 QoS 1 messages in flight and counts what the broker
/// acknowledged: what the broker has taken, and so what the agent owes.
struct Firehose {
    client: Client,
    acked: Arc<AtomicU64>,
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Firehose {
    fn connect(port: u16) -> Self {
        let mut opts = MqttOptions::new(format!("firehose-{}", fastrand::u32(..)), "127.0.0.1", port);
        opts.set_max_packet_size(4 << 20, 4 << 20);
        opts.set_inflight(1000);
        let (client, mut connection) = Client::new(opts, 10_000);
        let (acked, stop) = (Arc::new(AtomicU64::new(0)), Arc::new(AtomicBool::new(false)));
        let (ready_tx, ready) = std::sync::mpsc::channel();
        let (count, done) = (acked.clone(), stop.clone());
        let thread = std::thread::spawn(move || {
            for event in connection.iter() {
                match event {
                    Ok(Event::Incoming(Packet::ConnAck(_))) => {
                        let _ = ready_tx.send(());
                    }
                    Ok(Event::Incoming(Packet::PubAck(_))) => {
                        count.fetch_add(1, Ordering::Relaxed);
                    }
                    Ok(_) => {}
                    Err(_) if done.load(Ordering::Relaxed) => break,
                    Err(_) => std::thread::sleep(Duration::from_millis(50)),
                }
            }
        });
        ready.recv_timeout(DEADLINE).expect("the firehose connected");
        Firehose { client, acked, stop, thread: Some(thread) }
    }

    /// Publishes `n` messages on `topic` as fast as the broker takes them, and waits until it
    /// has acknowledged every one.
    fn flood(&self, topic: &str, n: u64, payload: impl Fn(u64) -> Vec<u8>) {
        let before = self.acked.load(Ordering::Relaxed);
        for i in 0..n {
            self.client.publish(topic, QoS::AtLeastOnce, false, payload(i)).expect("queue a publish");
        }
        let deadline = Duration::from_secs(120);
        let start = Instant::now();
        while self.acked.load(Ordering::Relaxed) < before + n {
            assert!(start.elapsed() < deadline, "the broker did not take {n} messages on {topic} in {deadline:?}");
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    fn acked(&self) -> u64 {
        self.acked.load(Ordering::Relaxed)
    }
}

impl Drop for Firehose {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        let _ = self.client.disconnect();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Waits until the agent is online: its subscriptions are then in place (the broker takes its
/// SUBSCRIBE before the status it publishes right after).
fn online(port: u16) {
    let watcher = Mqtt::connect(port, &[&format!("{PREFIX}/status")]);
    watcher.expect(&format!("{PREFIX}/status"), |s| s["state"] == "online");
}

/// The agent's retained status, as the broker holds it now.
fn status(port: u16) -> serde_json::Value {
    let mqtt = Mqtt::connect(port, &[&format!("{PREFIX}/status")]);
    mqtt.expect(&format!("{PREFIX}/status"), |_| true)
}

#[test]
fn a_flood_on_every_topic_the_agent_reads_leaves_it_responsive_online_and_connected() {
    let _turn = heavy();
    let broker = Mosquitto::start();
    let points = controlled_zone() + &json_point("probe", "zone_temperature", "°C", "");
    let agent = Agent::start(broker.port, &points, "[agent]\nstatus_interval = \"1s\"\n");
    let db = agent.db();
    let watcher = Mqtt::connect(broker.port, &[&format!("{PREFIX}/status")]);
    watcher.expect(&format!("{PREFIX}/status"), |s| s["state"] == "online");
    let firehose = Firehose::connect(broker.port);
    const N: u64 = 100_000;

    // Every topic the agent subscribes to, with what an attacker (or a device gone mad) sends
    let floods: Vec<(String, Payloads)> = vec![
        (format!("{PREFIX}/override/z1"), Box::new(|i| format!(r#"{{"setpoint_c": {}}}"#, 15 + i % 10).into_bytes())),
        (format!("{PREFIX}/override/nowhere"), Box::new(|_| b"{\"hands_off\": true}".to_vec())),
        (format!("{PREFIX}/flex/event"), Box::new(|i| format!("{{\"id\":\"e{i}\",\"kind\":\"shed\"}}").into_bytes())),
        (format!("{PREFIX}/flex/price"), Box::new(|_| b"[1, 2, \"x\"]".to_vec())),
        (format!("{PREFIX}/control/set"), Box::new(|_| b"{\"mode\": \"chaos\"}".to_vec())),
        (format!("{PREFIX}/recommendations/r{}/set", 1), Box::new(|_| b"{\"decision\": \"maybe\"}".to_vec())),
        ("homeassistant/status".to_string(), Box::new(|_| b"online".to_vec())),
        ("test/temp".to_string(), Box::new(|i| format!("{{\"ts\": {i}, \"value\": \"hot\"}}").into_bytes())),
        ("test/probe".to_string(), Box::new(|i| reading_at(1000 + i))),
    ];
    let (mut probes, mut expected) = (0, 0);
    let mut latencies = Vec::new();
    for (topic, payload) in &floods {
        // When the topic gets 100,000 messages as fast as mosquitto takes them
        firehose.flood(topic, N, payload);
        if topic == "test/probe" {
            expected += N;
        }
        // Then a reading published afterwards is stored
        let sent = Instant::now();
        probes += 1;
        expected += 1;
        firehose.flood("test/probe", 1, |_| reading_at(probes));
        // (after a flood of readings, once they are stored: a debug build takes a minute or so)
        let what = format!("the probe after the flood on {topic}");
        wait_until_within(Duration::from_secs(300), &what, || db.readings("probe") >= expected);
        latencies.push((topic.clone(), sent.elapsed()));
    }
    for (topic, latency) in &latencies {
        println!("after 100,000 messages on {topic}: the next reading stored in {latency:?}");
    }

    // And the agent never went offline nor lost its connection (but to have the broker send
    // again what it sent past the agent's window, see mqtt::link), and it counted what it dropped
    let last = status(broker.port);
    assert_eq!(last["state"], "online", "{last}");
    let resyncs = last["health"]["resyncs"].as_u64().expect("resyncs");
    assert_eq!(last["health"]["connections"].as_u64(), Some(1 + resyncs), "no other reconnect: {last}");
    while let Ok((_, payload)) = watcher.messages.try_recv() {
        let s: serde_json::Value = serde_json::from_slice(&payload).expect("status json");
        assert_ne!(s["state"], "offline", "the agent went offline during the floods");
    }
    // Seven request topics, each allowed a burst of ten then one a second
    let dropped = last["health"]["requests_dropped"].as_u64().expect("requests_dropped");
    assert!(dropped >= 7 * (N - 1000), "requests dropped: {dropped}");
    // And the flooded readings are all there: a flood of data is data
    assert_eq!(db.readings("probe"), N + probes);
    // And a person's override on the flooded zone is still heard
    let mqtt = Mqtt::connect(broker.port, &[&format!("{PREFIX}/decisions")]);
    mqtt.publish(&format!("{PREFIX}/override/z1"), r#"{"setpoint_c": 22.5, "by": "the caretaker"}"#);
    mqtt.expect(&format!("{PREFIX}/decisions"), |r| r["kind"] == "override" && r.to_string().contains("22.5"));
}

#[test]
fn twenty_sigkills_during_qos1_ingest_lose_nothing_the_broker_accepted() {
    let _turn = heavy();
    let broker = Mosquitto::start();
    let mut agent = Agent::start(broker.port, &json_point("temp", "zone_temperature", "°C", ""), "");
    let db = agent.db();
    online(broker.port);
    let firehose = Arc::new(Firehose::connect(broker.port));

    // Given a device publishing 2,000 readings a second with QoS 1
    let (published, stop) = (Arc::new(AtomicU64::new(0)), Arc::new(AtomicBool::new(false)));
    let publisher = {
        let (firehose, published, stop) = (firehose.clone(), published.clone(), stop.clone());
        std::thread::spawn(move || {
            let start = Instant::now();
            let mut i = 0u64;
            while !stop.load(Ordering::Relaxed) {
                // 20 every 10 ms of the clock, so the rate holds whatever each batch costs
                let due = start.elapsed().as_millis() as u64 / 10 * 20;
                while i < due {
                    firehose.client.publish("test/temp", QoS::AtLeastOnce, false, reading_at(i)).expect("publish");
                    i += 1;
                }
                published.store(i, Ordering::Relaxed);
                std::thread::sleep(Duration::from_millis(2));
            }
        })
    };

    // When the agent is killed 20 times, each time once it has stored more since its start
    for kill in 0..20 {
        let stored = db.readings("temp");
        wait_until(&format!("ingest before kill {kill}"), || db.readings("temp") >= stored + 200);
        agent.kill();
        agent.launch();
    }
    stop.store(true, Ordering::Relaxed);
    publisher.join().expect("the publisher");
    let published = published.load(Ordering::Relaxed);
    wait_until("the broker acknowledged every reading", || firehose.acked() >= published);

    // Then every reading the broker accepted is in the store
    let accepted = firehose.acked();
    let deadline = Instant::now() + Duration::from_secs(120);
    while db.readings("temp") < accepted && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    let stored = db.readings("temp");
    println!(
        "20 SIGKILLs: {published} published, {accepted} accepted by the broker, {stored} stored, {} lost",
        accepted.saturating_sub(stored)
    );
    assert_eq!(stored, accepted, "lost {} readings the broker had accepted", accepted.saturating_sub(stored));
    assert_eq!(
        db.count("SELECT count(*) FROM rejections WHERE reason != 'duplicate'"),
        0,
        "{:?}",
        db.rows("SELECT * FROM rejections")
    );
}

#[test]
fn three_broker_restarts_during_qos1_ingest_lose_nothing_the_broker_accepted() {
    let _turn = heavy();
    // Given a broker that keeps sessions and queued messages across its restarts
    let mut broker = Mosquitto::start_persistent();
    let agent = Agent::start(broker.port, &json_point("temp", "zone_temperature", "°C", ""), "");
    let db = agent.db();
    online(broker.port);
    let (published, acked, stop) =
        (Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0)), Arc::new(AtomicBool::new(false)));
    // And a device publishing 1,000 readings a second with QoS 1, through the restarts
    let publisher = {
        let (port, published, acked, stop) = (broker.port, published.clone(), acked.clone(), stop.clone());
        std::thread::spawn(move || {
            let firehose = Firehose::connect(port);
            let start = Instant::now();
            let mut i = 0u64;
            while !stop.load(Ordering::Relaxed) {
                let due = start.elapsed().as_millis() as u64;
                while i < due {
                    // Queued by the client while the broker is away; what it never acknowledged
                    // is not counted as accepted
                    let _ = firehose.client.try_publish("test/temp", QoS::AtLeastOnce, false, reading_at(i));
                    i += 1;
                }
                published.store(i, Ordering::Relaxed);
                acked.store(firehose.acked(), Ordering::Relaxed);
                std::thread::sleep(Duration::from_millis(5));
            }
            let settle = Instant::now();
            while settle.elapsed() < Duration::from_secs(2) {
                acked.store(firehose.acked(), Ordering::Relaxed);
                std::thread::sleep(Duration::from_millis(50));
            }
        })
    };
    // When the broker is stopped and started three times while readings flow
    for restart in 0..3 {
        let stored = db.readings("temp");
        wait_until(&format!("ingest before restart {restart}"), || db.readings("temp") >= stored + 500);
        broker.restart();
    }
    let stored = db.readings("temp");
    wait_until("ingest after the restarts", || db.readings("temp") >= stored + 500);
    stop.store(true, Ordering::Relaxed);
    publisher.join().expect("the publisher");

    // Then every reading the broker acknowledged to the device is in the store
    let accepted = acked.load(Ordering::Relaxed);
    wait_until_within(Duration::from_secs(120), "every accepted reading stored", || db.readings("temp") >= accepted);
    println!(
        "3 broker restarts: {} published, {accepted} accepted by the broker, {} stored",
        published.load(Ordering::Relaxed),
        db.readings("temp")
    );
    assert_eq!(db.count("SELECT count(*) FROM rejections WHERE reason NOT IN ('duplicate')"), 0);
}

#[test]
fn oversize_and_retained_poison_cost_neither_the_connection_nor_the_readings_behind_them() {
    let broker = Mosquitto::start();
    let firehose = Firehose::connect(broker.port);
    // Given a 2 MiB message retained on a topic the agent subscribes to, before it starts
    firehose.client.publish("test/temp", QoS::AtLeastOnce, true, vec![b'x'; 2 << 20]).expect("publish");
    wait_until("the broker took the poison", || firehose.acked() == 1);
    let agent = Agent::start(broker.port, &json_point("temp", "zone_temperature", "°C", ""), "");
    let db = agent.db();
    online(broker.port);

    // When a 2 MiB and a 100 KiB message come, then 80 good readings
    firehose.flood("test/temp", 1, |_| vec![b'y'; 2 << 20]);
    firehose.flood("test/temp", 1, |_| vec![b'z'; 100 << 10]);
    firehose.flood("test/temp", 80, reading_at);

    // Then the 80 are stored, the 100 KiB one is counted as oversize (the 2 MiB ones the broker
    // never sent: it knows the agent's limit), and the agent never reconnected
    wait_until("80 good readings", || db.readings("temp") == 80);
    wait_until("the oversize rejection", || db.rejections("temp", "oversize") == 1);
    let s = status(broker.port);
    assert_eq!(s["health"]["connections"], 1, "{s}");
}

#[test]
fn a_second_agent_on_the_same_store_exits_saying_who_holds_it() {
    let broker = Mosquitto::start();
    let agent = Agent::start(broker.port, &json_point("temp", "zone_temperature", "°C", ""), "");
    let db = agent.db();
    online(broker.port);

    // When another agent is started on the same config
    let second = output(
        std::process::Command::new(env!("CARGO_BIN_EXE_sobre")).args(["run", "-c"]).arg(&agent.config),
        "a second agent",
    );

    // Then it exits at once with a message naming the store and the first one's pid
    assert!(!second.status.success());
    let said = String::from_utf8_lossy(&second.stderr);
    assert!(said.contains("another agent (pid ") && said.contains("sobre.db"), "{said}");
    // And the first one still stores
    Mqtt::connect(broker.port, &[]).publish("test/temp", reading_at(1));
    wait_until("the first agent stores", || db.readings("temp") == 1);
}

#[test]
fn while_the_disk_refuses_commits_the_status_says_degraded_and_nothing_acknowledged_is_lost() {
    let _turn = heavy();
    let broker = Mosquitto::start();
    // Given a store allowed 1 MiB
    let mut agent = Agent::start(
        broker.port,
        &json_point("temp", "zone_temperature", "°C", ""),
        "[agent]\nstatus_interval = \"1s\"\n",
    );
    agent.kill();
    agent.reconfigure(|text| text.replace("[storage]\n", "[storage]\nmax_bytes = 1048576\n"));
    agent.launch();
    let db = agent.db();
    let watcher = Mqtt::connect(broker.port, &[&format!("{PREFIX}/status")]);
    watcher.expect(&format!("{PREFIX}/status"), |s| s["state"] == "online");

    // When readings keep coming past it
    let firehose = Firehose::connect(broker.port);
    firehose.flood("test/temp", 60_000, reading_at);

    // Then the status says degraded, and the store holds less than what came
    watcher.expect(&format!("{PREFIX}/status"), |s| s["state"] == "degraded" && s["health"]["store_failing"] == true);
    assert!(db.readings("temp") < 60_000);

    // When the agent is stopped, given room, and started again
    agent.terminate();
    agent.reconfigure(|text| text.replace("max_bytes = 1048576", ""));
    agent.launch();

    // Then every reading the broker accepted is stored, and it is online again
    wait_until("all 60,000 readings", || db.readings("temp") == 60_000);
    watcher.expect(&format!("{PREFIX}/status"), |s| s["state"] == "online");
    assert_eq!(db.count("SELECT count(*) FROM rejections WHERE reason != 'duplicate'"), 0);
}

#[test]
fn the_store_is_private_to_the_agents_user() {
    use std::os::unix::fs::PermissionsExt;
    let broker = Mosquitto::start();
    let agent = Agent::start(broker.port, &json_point("temp", "zone_temperature", "°C", ""), "");
    let db = agent.db();
    online(broker.port);
    Mqtt::connect(broker.port, &[]).publish("test/temp", reading_at(1));
    wait_until("a reading", || db.readings("temp") == 1);
    for suffix in ["", "-wal"] {
        let path = format!("{}{suffix}", agent.db.display());
        let mode = std::fs::metadata(&path).expect("store file").permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "{path} is {mode:o}");
    }
}

#[test]
fn under_systemd_the_agent_says_ready_pings_its_watchdog_and_says_stopping() {
    use std::os::unix::net::UnixDatagram;
    let broker = Mosquitto::start();
    let dir = tempfile::tempdir().expect("tempdir");
    let socket_path = dir.path().join("notify.sock");
    let socket = UnixDatagram::bind(&socket_path).expect("a notify socket");
    socket.set_read_timeout(Some(DEADLINE)).expect("timeout");
    let socket_env = socket_path.display().to_string();
    // Given systemd's watchdog at 2 s
    let mut agent = Agent::start_logged(
        broker.port,
        &json_point("temp", "zone_temperature", "°C", ""),
        "",
        &[("NOTIFY_SOCKET", &socket_env), ("WATCHDOG_USEC", "2000000")],
    );
    let mut heard = Vec::new();
    let mut buf = [0u8; 256];
    // Then it says READY=1 once running, and pings WATCHDOG=1 (every second)
    while heard.iter().filter(|m: &&String| m.as_str() == "WATCHDOG=1").count() < 3 {
        let n = socket.recv(&mut buf).expect("a notification");
        heard.push(String::from_utf8_lossy(&buf[..n]).into_owned());
    }
    assert_eq!(heard.first().map(String::as_str), Some("READY=1"), "{heard:?}");
    // When it is stopped, Then it says STOPPING=1
    agent.terminate();
    loop {
        let n = socket.recv(&mut buf).expect("a notification");
        if &buf[..n] == b"STOPPING=1" {
            break;
        }
    }
}

#[test]
fn a_flood_of_refused_requests_writes_a_few_log_lines_not_one_each() {
    let _turn = heavy();
    let broker = Mosquitto::start();
    let agent = Agent::start_logged(broker.port, &controlled_zone(), "", &[]);
    let watcher = Mqtt::connect(broker.port, &[&format!("{PREFIX}/status")]);
    watcher.expect(&format!("{PREFIX}/status"), |s| s["state"] == "online");
    // When 100,000 refused decisions and overrides arrive
    let firehose = Firehose::connect(broker.port);
    firehose.flood(&format!("{PREFIX}/recommendations/r1/set"), 50_000, |_| b"{\"decision\": 1}".to_vec());
    firehose.flood(&format!("{PREFIX}/override/nowhere"), 50_000, |i| format!("{{\"setpoint_c\": {i}}}").into_bytes());
    // And a reading shows the agent has worked through them
    let db = agent.db();
    firehose.flood("test/temp", 1, reading_at);
    wait_until("the reading after the flood", || db.readings("temp") == 1);
    // Then the log holds a few lines, not 100,000
    let lines = agent.log().lines().filter(|l| l.contains("WARN") || l.contains("ERROR")).count();
    assert!(lines < 100, "{lines} warning lines");
}
