//! `sobre demo`: the whole story with nothing installed. An embedded broker (rumqttd, compiled
//! in only with the `demo` feature) stands in for the building's; the emulator plays a poorly
//! tuned school through it (Zigbee2MQTT TRVs and presence sensors, Tasmota meters, a weather
//! feed, eight weeks of real 2019 weather); the agent ingests it in event time into a temporary
//! store; then the demo prints what the agent learned and what the building did.

use anyhow::Context;
use sobre_agent::clock::Clock;
use sobre_agent::config::Settings;
use sobre_agent::overview;
use sobre_agent::sim::{self, devices, Emulator, Pace, SimSettings, Target};
use sobre_agent::stats::Stats;
use sobre_agent::store::Store;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

const CONFIG: &str = include_str!("../../../config/demo.toml");

pub async fn run(store: Option<PathBuf>, pace: Pace) -> anyhow::Result<()> {
    let began = Instant::now();
    let port = broker::start()?;
    let temp = tempdir()?;
    let path = store.unwrap_or_else(|| temp.join("sobre.db"));
    let school = SimSettings::parse(sim::SCHOOL, "config/sim-school.toml").context("the embedded school")?;
    let emulator = Emulator::new(school)?;
    let text =
        CONFIG.replace("{port}", &port.to_string()).replace("{path}", &path.display().to_string().replace('\\', "/"))
            + &devices::agent_points(emulator.settings(), emulator.topics());
    let settings = Settings::parse(&text, "config/demo.toml").context("the embedded demo configuration")?;
    let s = emulator.settings();
    println!(
        "sobre demo: {}, {} zones, {} days of winter 2019 in 15-minute steps (weather: Cambridge, MIT licence)",
        s.name,
        s.zones.len(),
        s.steps / 96
    );
    println!("  broker  embedded, 127.0.0.1:{port}");
    println!("  store   {}", path.display());
    println!("  the school heats 04:30–20:00 every day, weekends and holidays included: a poorly tuned building\n");

    let stats = Arc::new(Stats::default());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let agent = tokio::spawn(sobre_agent::daemon::run(
        settings.clone(),
        Clock::system(settings.agent.clock),
        stats.clone(),
        async {
            let _ = stopped.await;
        },
    ));
    // Readings published before the agent's subscription is in place would never reach it.
    let waiting = Instant::now();
    while stats.snapshot().subscribed == 0 {
        anyhow::ensure!(
            waiting.elapsed() < Duration::from_secs(10),
            "the agent did not subscribe to the embedded broker"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }

    let started = Instant::now();
    let target = Target { host: "127.0.0.1".into(), port, stall_timeout: Duration::from_secs(30) };
    let summary = sim::run(emulator, &target, pace, std::future::pending()).await?;
    // Every device message reaches ingest; stopping the agent then drains ingest and the store.
    let mut last_progress = (Instant::now(), 0);
    loop {
        let seen = stats.snapshot().messages;
        if seen >= summary.published {
            break;
        }
        if seen != last_progress.1 {
            last_progress = (Instant::now(), seen);
        } else if last_progress.0.elapsed() > Duration::from_secs(30) {
            anyhow::bail!("the agent stopped making progress at {seen} of {} messages", summary.published);
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let _ = stop.send(());
    agent.await.context("the agent task")??;
    let elapsed = started.elapsed().as_secs_f64();
    let st = stats.snapshot();
    println!(
        "simulated {} steps: {} device messages, {} readings stored ({} rejected) in {elapsed:.1} s\n",
        summary.steps, summary.published, st.stored, st.rejected
    );

    let store = Store::open(&path, &settings.points, settings.site.timezone)?;
    let fitting = Instant::now();
    let overview = overview::compute(&store, &settings)?;
    print!("{}", overview.render());
    println!(
        "\nModels fitted in {:.1} s; the whole demo took {:.0} s.",
        fitting.elapsed().as_secs_f64(),
        began.elapsed().as_secs_f64()
    );
    println!("Inspect the store: sqlite3 <store> 'SELECT * FROM rollups_view WHERE resolution = \"1d\"'");
    if std::fs::remove_dir_all(&temp).is_err() {
        tracing::debug!("temporary folder left behind");
    }
    Ok(())
}

fn tempdir() -> anyhow::Result<PathBuf> {
    let dir = std::env::temp_dir().join(format!("sobre-demo-{}", std::process::id()));
    std::fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
    Ok(dir)
}

#[cfg(feature = "demo")]
mod broker {
    use anyhow::Context;
    use std::time::Duration;

    /// Starts rumqttd on a free loopback port in its own thread; it lives as long as the process.
    pub fn start() -> anyhow::Result<u16> {
        let port = std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
        let text = format!(
            r#"
id = 0
[router]
max_connections = 64
max_outgoing_packet_count = 1000
max_segment_size = 104857600
max_segment_count = 10
[v4.1]
name = "demo"
listen = "127.0.0.1:{port}"
next_connection_delay_ms = 1
[v4.1.connections]
connection_timeout_ms = 60000
max_payload_size = 1048576
max_inflight_count = 500
dynamic_filters = true
"#
        );
        let config: rumqttd::Config = toml::from_str(&text).context("embedded broker configuration")?;
        let mut broker = rumqttd::Broker::new(config);
        std::thread::Builder::new().name("demo-broker".into()).spawn(move || {
            if let Err(e) = broker.start() {
                tracing::error!(error = %e, "embedded broker stopped");
            }
        })?;
        for _ in 0..200 {
            if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
                return Ok(port);
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        anyhow::bail!("the embedded broker did not listen on 127.0.0.1:{port}")
    }
}

#[cfg(not(feature = "demo"))]
mod broker {
    pub fn start() -> anyhow::Result<u16> {
        anyhow::bail!("this build has no embedded broker (built without the `demo` feature); use `sobre run`")
    }
}
