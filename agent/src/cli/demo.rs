//! `sobre demo`: the main job on a real building with nothing installed. An embedded broker
//! (rumqttd, compiled in only with the `demo` feature) stands in for the building's; the agent
//! runs on a temporary store in event time; a year of building 33 of the Cambridge estate is
//! replayed through the broker; then the demo prints what the store holds.

use anyhow::Context;
use sobre_agent::clock::Clock;
use sobre_agent::config::Settings;
use sobre_agent::replay::{self, ReplayOptions, Speed};
use sobre_agent::stats::Stats;
use sobre_agent::store::rollup::Resolution;
use sobre_agent::store::Store;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

const CONFIG: &str = include_str!("../../../config/demo.toml");
const DATA: &[u8] = include_bytes!("../../../tests/data/cambridge_estates/ucam_b33_2019.csv");

pub async fn run(store: Option<PathBuf>, speed: Speed) -> anyhow::Result<()> {
    let port = broker::start()?;
    let temp = tempdir()?;
    let path = store.unwrap_or_else(|| temp.join("sobre.db"));
    let text =
        CONFIG.replace("{port}", &port.to_string()).replace("{path}", &path.display().to_string().replace('\\', "/"));
    let settings = Settings::parse(&text, "config/demo.toml").context("the embedded demo configuration")?;
    println!("sobre demo: building 33, University of Cambridge, 2019, hourly (MIT licence, see tests/data/README.md)");
    println!("  broker  embedded, 127.0.0.1:{port}");
    println!("  store   {}", path.display());

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
    let options = ReplayOptions {
        host: "127.0.0.1".into(),
        port,
        prefix: "replay/ucam-b33".into(),
        time_column: "timestamp_utc".into(),
        columns: Vec::new(),
        timezone: chrono_tz::UTC,
        speed,
        qos: rumqttc::QoS::AtLeastOnce,
        stall_timeout: Duration::from_secs(30),
    };
    let summary = replay::replay(DATA, &options).await?;
    // Every published reading ends stored, rejected or recognised as a duplicate.
    let mut last_progress = (Instant::now(), 0);
    loop {
        let s = stats.snapshot();
        let done = s.stored + s.rejected + s.duplicates;
        if done >= summary.published {
            break;
        }
        if done != last_progress.1 {
            last_progress = (Instant::now(), done);
        } else if last_progress.0.elapsed() > Duration::from_secs(30) {
            anyhow::bail!("the agent stopped making progress at {done} of {} readings", summary.published);
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let elapsed = started.elapsed().as_secs_f64();
    let _ = stop.send(());
    agent.await.context("the agent task")??;

    let s = stats.snapshot();
    println!(
        "\nreplayed {} hours, {} readings in {elapsed:.1} s ({:.0} readings/s through MQTT QoS 1 into SQLite)",
        summary.rows,
        summary.published,
        summary.published as f64 / elapsed.max(1e-9)
    );
    println!("stored {} readings, rejected {}, duplicates {}\n", s.stored, s.rejected, s.duplicates);
    print_months(&Store::open(&path, &settings.points, settings.site.timezone)?)?;
    if std::fs::remove_dir_all(&temp).is_err() {
        tracing::debug!("temporary folder left behind");
    }
    Ok(())
}

fn print_months(store: &Store) -> anyhow::Result<()> {
    let elec = store.series("elec", Resolution::Month)?;
    let gas = store.series("gas", Resolution::Month)?;
    let temp = store.series("outdoor_temp", Resolution::Month)?;
    let solar = store.series("solar", Resolution::Month)?;
    println!("month     electricity kWh   gas kWh   outdoor °C   solar W/m²");
    let find = |rows: &[(String, f64)], label: &str| rows.iter().find(|(l, _)| l == label).map(|(_, v)| *v);
    let cell = |v: Option<f64>, decimals: usize| v.map_or("-".to_string(), |v| format!("{v:.decimals$}"));
    for (label, kwh) in &elec {
        println!(
            "{label}   {kwh:>15.0}   {:>7}   {:>10}   {:>10}",
            cell(find(&gas, label), 0),
            cell(find(&temp, label), 1),
            cell(find(&solar, label), 0)
        );
    }
    let total: f64 = elec.iter().map(|(_, v)| v).sum();
    let gas_total: f64 = gas.iter().map(|(_, v)| v).sum();
    println!("year      {total:>15.0}   {gas_total:>7.0}");
    println!("\nInspect it: sqlite3 <store> 'SELECT * FROM rollups_view WHERE resolution = \"1mo\"'");
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
