//! Load run of the whole binary: a local mosquitto, `sobre run` (release build, next to this
//! example), and in this process a publisher and a bare subscriber that only counts messages.
//! Both subscribers receive the same stream in the same run, so their rates compare.
//!
//!   cargo build --release && cargo run --release --example load -- [messages] [points]
//!
//! Prints a Markdown table for the README's performance section.

use rumqttc::{Client, Event, MqttOptions, Packet, QoS};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let messages: u64 = args.get(1).and_then(|a| a.parse().ok()).unwrap_or(100_000);
    let points: u64 = args.get(2).and_then(|a| a.parse().ok()).unwrap_or(50);
    let dir = tempfile::tempdir()?;
    let port = std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();

    let conf = dir.path().join("mosquitto.conf");
    std::fs::write(
        &conf,
        format!("listener {port} 127.0.0.1\nallow_anonymous true\npersistence false\nlog_dest none\nmax_queued_messages 10000000\n"),
    )?;
    let mosquitto =
        if std::path::Path::new("/usr/sbin/mosquitto").exists() { "/usr/sbin/mosquitto" } else { "mosquitto" };
    let mut broker =
        Command::new(mosquitto).arg("-c").arg(&conf).stdout(Stdio::null()).stderr(Stdio::null()).spawn()?;
    wait("mosquitto", || std::net::TcpStream::connect(("127.0.0.1", port)).is_ok());

    let db = dir.path().join("load.db");
    let mut config =
        format!("[site]\nid = \"load\"\ntimezone = \"UTC\"\n[broker]\nport = {port}\n[storage]\npath = {db:?}\n");
    for p in 0..points {
        config.push_str(&format!(
            "[[points]]\nid = \"p{p}\"\nkind = \"zone_temperature\"\nunit = \"°C\"\ntopic = \"load/p{p}\"\ndecode = {{ format = \"json\", pointer = \"/value\", timestamp = \"/ts\" }}\n"
        ));
    }
    let config_path = dir.path().join("load.toml");
    std::fs::write(&config_path, config)?;
    let sobre =
        std::env::current_exe()?.parent().and_then(|d| d.parent()).map(|d| d.join("sobre")).ok_or("no sobre binary")?;
    let mut agent = Command::new(&sobre)
        .args(["run", "-c"])
        .arg(&config_path)
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .spawn()
        .map_err(|e| format!("cannot start {}: {e} (cargo build --release first)", sobre.display()))?;
    let pid = agent.id();
    let stored = || -> u64 {
        rusqlite::Connection::open_with_flags(&db, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
            .and_then(|c| c.query_row("SELECT count(*) FROM readings", [], |r| r.get(0)))
            .unwrap_or(0)
    };
    let bare = BareSubscriber::start(port);
    // The agent is subscribed once its retained status says online.
    wait("agent online", || bare.status_online.load(Ordering::Relaxed) > 0);
    std::thread::sleep(Duration::from_millis(500));
    let idle_kib = rss_kib(pid, "VmRSS");

    println!("| QoS | messages | bare subscriber (msg/s) | sobre, stored (readings/s) | ratio | stored / published |");
    println!("|---|---|---|---|---|---|");
    let now_s = chrono::Utc::now().timestamp();
    let span = (messages / points) as i64 + 1;
    for (round, qos) in [QoS::AtMostOnce, QoS::AtLeastOnce].into_iter().enumerate() {
        let base = now_s - 3 * span + round as i64 * span;
        let before_bare = bare.received.load(Ordering::Relaxed);
        let before_stored = stored();
        let publisher = Publisher::connect(port);
        let start = Instant::now();
        for k in 0..messages {
            let ts = chrono::DateTime::from_timestamp(base + (k / points) as i64, 0).unwrap_or_default().to_rfc3339();
            let payload = format!("{{\"ts\":\"{ts}\",\"value\":{}}}", 20.0 + (k % 7) as f64 / 10.0);
            publisher.client.publish(format!("load/p{}", k % points), qos, false, payload)?;
        }
        let mut bare_done = None;
        let mut agent_done = None;
        let deadline = Instant::now() + Duration::from_secs(300);
        while (bare_done.is_none() || agent_done.is_none()) && Instant::now() < deadline {
            if bare_done.is_none() && bare.received.load(Ordering::Relaxed) - before_bare >= messages {
                bare_done = Some(start.elapsed());
            }
            if agent_done.is_none() && stored() - before_stored >= messages {
                agent_done = Some(start.elapsed());
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        let rate = |d: Option<Duration>| d.map_or(0.0, |d| messages as f64 / d.as_secs_f64());
        let (b, a) = (rate(bare_done), rate(agent_done));
        println!(
            "| {} | {messages} | {b:.0} | {a:.0} | {:.2} | {}/{messages} |",
            qos as u8,
            if b > 0.0 { a / b } else { 0.0 },
            stored() - before_stored
        );
    }
    let loaded_kib = rss_kib(pid, "VmRSS");
    let peak_kib = rss_kib(pid, "VmHWM");
    println!("\nsobre RSS: idle {idle_kib} KiB, after load {loaded_kib} KiB, peak {peak_kib} KiB ({points} points)");
    let _ = Command::new("kill").args(["-TERM", &pid.to_string()]).status();
    let _ = agent.wait();
    let _ = broker.kill();
    Ok(())
}

fn rss_kib(pid: u32, field: &str) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| s.lines().find(|l| l.starts_with(field)).and_then(|l| l.split_whitespace().nth(1)?.parse().ok()))
        .unwrap_or(0)
}

fn wait(what: &str, mut ready: impl FnMut() -> bool) {
    let start = Instant::now();
    while !ready() {
        assert!(start.elapsed() < Duration::from_secs(30), "{what} not ready");
        std::thread::sleep(Duration::from_millis(20));
    }
}

struct Publisher {
    client: Client,
}

impl Publisher {
    fn connect(port: u16) -> Self {
        let mut opts = MqttOptions::new(format!("load-pub-{}", fastrand::u32(..)), "127.0.0.1", port);
        opts.set_inflight(1000);
        let (client, mut connection) = Client::new(opts, 10_000);
        std::thread::spawn(move || for _ in connection.iter() {});
        Publisher { client }
    }
}

/// Subscribes to everything the agent gets and only counts.
struct BareSubscriber {
    received: Arc<AtomicU64>,
    status_online: Arc<AtomicU64>,
}

impl BareSubscriber {
    fn start(port: u16) -> Self {
        let received = Arc::new(AtomicU64::new(0));
        let status_online = Arc::new(AtomicU64::new(0));
        let (r, s) = (received.clone(), status_online.clone());
        let mut opts = MqttOptions::new("load-bare", "127.0.0.1", port);
        opts.set_max_packet_size(1 << 20, 1 << 20);
        let (client, mut connection) = Client::new(opts, 100);
        std::thread::spawn(move || {
            for event in connection.iter() {
                match event {
                    Ok(Event::Incoming(Packet::ConnAck(_))) => {
                        let _ = client.try_subscribe("load/#", QoS::AtLeastOnce);
                        let _ = client.try_subscribe("sobre/load/status", QoS::AtLeastOnce);
                    }
                    Ok(Event::Incoming(Packet::Publish(p))) if p.topic.starts_with("load/") => {
                        r.fetch_add(1, Ordering::Relaxed);
                    }
                    Ok(Event::Incoming(Packet::Publish(p))) if p.payload.windows(8).any(|w| w == b"\"online\"") => {
                        s.fetch_add(1, Ordering::Relaxed);
                    }
                    _ => {}
                }
            }
        });
        BareSubscriber { received, status_online }
    }
}
