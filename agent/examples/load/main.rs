//! Load runs of the whole binary: a mosquitto of their own, `sobre run` as a child process,
//! and in this process a publisher and a bare subscriber that only counts messages. Both
//! subscribers receive the same stream in the same run, so their rates compare; "stored" is
//! counted in SQLite, after commit; CPU and memory are the agent's, from `/proc`. The agent
//! runs with the environment `deploy/sobre.service` gives it on the box (its `Environment=`
//! lines: glibc's malloc arenas), `RUST_LOG` aside.
//!
//!   cargo build --release && cargo run --release --example load -- <mode> [options]
//!
//! Modes (each prints Markdown table rows; `scripts/bench` runs them all):
//! - `throughput --points N --messages M`: as fast as the broker takes them, QoS 0 then 1,
//!   each on a mosquitto, store and agent of its own; rates, ratio, and the agent's CPU per
//!   stored reading.
//! - `paced --points N --every 10 --seconds S [--history H]`: every point reports once per
//!   `every` seconds, spread evenly, for `S` seconds; the agent's CPU (share of one core), RSS
//!   and disk writes per stored reading; `--history` first gives the store H readings of each
//!   point and a week of its rollups (a store that has run for a while, not an empty one).
//! - `idle --points N`: start-up time (process start to the broker connection: the retained
//!   `online` status) and RSS once idle.
//!
//! `--sobre PATH` runs another build (the gateway's); by default the `sobre` next to this example.

mod agent;
mod broker;
mod clients;

use agent::Agent;
use broker::Broker;
use clap::{Parser, Subcommand};
use clients::{BareSubscriber, Publisher};
use rumqttc::QoS;
use std::path::PathBuf;
use std::time::{Duration, Instant};

#[derive(Parser)]
struct Args {
    #[command(subcommand)]
    mode: Mode,
    /// The agent binary; by default `sobre` of the same build as this example.
    #[arg(long, global = true)]
    sobre: Option<PathBuf>,
}

#[derive(Subcommand)]
enum Mode {
    Throughput {
        #[arg(long, default_value_t = 50)]
        points: u64,
        #[arg(long, default_value_t = 100_000)]
        messages: u64,
    },
    Paced {
        #[arg(long, default_value_t = 1000)]
        points: u64,
        /// Seconds between two readings of a point.
        #[arg(long, default_value_t = 10)]
        every: u64,
        /// How long the measure lasts, after one warm-up period of `every`.
        #[arg(long, default_value_t = 180)]
        seconds: u64,
        /// Readings of each point already in the store when the run starts, one every
        /// `every` seconds ending a day before.
        #[arg(long, default_value_t = 0)]
        history: u64,
    },
    Idle {
        #[arg(long, default_value_t = 20)]
        points: u64,
        /// How long the agent idles before its RSS is read.
        #[arg(long, default_value_t = 10)]
        seconds: u64,
    },
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args = Args::parse();
    let sobre = match args.sobre {
        Some(path) => path,
        None => std::env::current_exe()?
            .parent()
            .and_then(|d| d.parent())
            .map(|d| d.join("sobre"))
            .ok_or("no sobre binary")?,
    };
    let dir = tempfile::tempdir()?;
    match args.mode {
        Mode::Throughput { points, messages } => throughput(&sobre, dir.path(), points, messages),
        Mode::Paced { points, every, seconds, history } => {
            let run = Paced { points, every, seconds, history };
            paced(&sobre, dir.path(), &Broker::start(dir.path())?, &run)
        }
        Mode::Idle { points, seconds } => idle(&sobre, dir.path(), &Broker::start(dir.path())?, points, seconds),
    }
}

/// Starts the agent and waits until it is subscribed (its retained status says online).
fn start(
    sobre: &std::path::Path,
    dir: &std::path::Path,
    broker: &Broker,
    points: u64,
) -> Result<(Agent, BareSubscriber), Box<dyn std::error::Error>> {
    let bare = BareSubscriber::start(broker.port);
    let agent = Agent::start(sobre, dir, broker.port, points)?;
    wait("agent online", || bare.online());
    Ok((agent, bare))
}

/// Each QoS on an empty store of its own: with 1,000 points the CPU per reading grows as the
/// store fills (three QoS 0 rounds of 100,000 into one store: 5.0, 8.7 and 10.0 µs, all of the
/// growth in the writer, most of it the kernel's page reads and writes), so a second round in
/// the same store measured the store, not the QoS. A finished round's broker and clients stay,
/// idle, until the end: a client whose broker is gone would retry in a loop beside the next
/// round.
fn throughput(
    sobre: &std::path::Path,
    dir: &std::path::Path,
    points: u64,
    messages: u64,
) -> Result<(), Box<dyn std::error::Error>> {
    let span = (messages / points) as i64 + 1;
    let mut finished = Vec::new();
    for qos in [QoS::AtMostOnce, QoS::AtLeastOnce] {
        let dir = dir.join(format!("qos{}", qos as u8));
        std::fs::create_dir(&dir)?;
        let broker = Broker::start(&dir)?;
        let (agent, bare) = start(sobre, &dir, &broker, points)?;
        std::thread::sleep(Duration::from_millis(500));
        let base = chrono::Utc::now().timestamp() - 2 * span;
        let (before_bare, before_stored, before_cpu) = (bare.received(), agent.stored(), agent.cpu_s());
        let publisher = Publisher::connect(broker.port);
        let start = Instant::now();
        for k in 0..messages {
            publisher.reading(k % points, base + (k / points) as i64, 20.0 + (k % 7) as f64 / 10.0, qos)?;
        }
        let (mut bare_done, mut agent_done) = (None, None);
        let deadline = Instant::now() + Duration::from_secs(300);
        while (bare_done.is_none() || agent_done.is_none()) && Instant::now() < deadline {
            if bare_done.is_none() && bare.received() - before_bare >= messages {
                bare_done = Some(start.elapsed());
            }
            if agent_done.is_none() && agent.stored() - before_stored >= messages {
                agent_done = Some(start.elapsed());
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        let stored = agent.stored() - before_stored;
        let cpu_us = (agent.cpu_s() - before_cpu) * 1e6 / stored.max(1) as f64;
        let rate = |d: Option<Duration>| d.map_or(0.0, |d| messages as f64 / d.as_secs_f64());
        let (b, a) = (rate(bare_done), rate(agent_done));
        println!(
            "| {points} | {} | {messages} | {b:.0} | {a:.0} | {:.2} | {stored} / {messages} | {cpu_us:.1} µs |",
            qos as u8,
            if b > 0.0 { a / b } else { 0.0 },
        );
        eprintln!(
            "sobre RSS after the QoS {} load: {} KiB, peak {} KiB ({points} points)",
            qos as u8,
            agent.kib("VmRSS"),
            agent.kib("VmHWM")
        );
        drop(agent);
        finished.push((broker, bare, publisher));
    }
    Ok(())
}

struct Paced {
    points: u64,
    every: u64,
    seconds: u64,
    history: u64,
}

fn paced(
    sobre: &std::path::Path,
    dir: &std::path::Path,
    broker: &Broker,
    run: &Paced,
) -> Result<(), Box<dyn std::error::Error>> {
    let Paced { points, every, seconds, history } = *run;
    let (agent, _bare) = start(sobre, dir, broker, points)?;
    if history > 0 {
        agent.fill_history(history, every)?;
    }
    let publisher = Publisher::connect(broker.port);
    // One reading every `gap`, point after point: devices report on their own clocks, so
    // their readings come spread over the period, not in a burst.
    let gap = Duration::from_secs(every).div_f64(points as f64);
    let begin = Instant::now();
    let warm_up = Duration::from_secs(every);
    let total = warm_up + Duration::from_secs(seconds);
    let mut measured_from = None;
    let mut k: u64 = 0;
    while begin.elapsed() < total {
        let due = begin + gap.mul_f64(k as f64);
        if let Some(wait) = due.checked_duration_since(Instant::now()) {
            std::thread::sleep(wait);
        }
        if measured_from.is_none() && begin.elapsed() >= warm_up {
            measured_from = Some((Instant::now(), agent.cpu_s(), agent.stored(), agent.disk_written()));
        }
        publisher.reading(
            k % points,
            chrono::Utc::now().timestamp(),
            20.0 + (k % 7) as f64 / 10.0,
            QoS::AtLeastOnce,
        )?;
        k += 1;
    }
    let (from, cpu_before, stored_before, written_before) = measured_from.ok_or("the run ended in its warm-up")?;
    // The last readings are committed within the commit interval.
    std::thread::sleep(Duration::from_millis(1500));
    let (wall, cpu) = (from.elapsed().as_secs_f64(), agent.cpu_s() - cpu_before);
    let written = agent.disk_written().saturating_sub(written_before);
    let stored = agent.stored() - stored_before;
    let past = match history {
        0 => "empty store".to_string(),
        h => format!("{h} readings and a week of rollups of each point stored before"),
    };
    println!(
        "| {points} points, one reading each every {every} s ({:.0} readings/s), {seconds} s, {past} | {:.2} % of a core | {:.1} µs | {:.0} bytes | {:.1} MiB (peak {:.1}; anonymous {:.1}) |",
        stored as f64 / wall,
        cpu / wall * 100.0,
        cpu * 1e6 / stored.max(1) as f64,
        written as f64 / stored.max(1) as f64,
        agent.kib("VmRSS") as f64 / 1024.0,
        agent.kib("VmHWM") as f64 / 1024.0,
        agent.kib("RssAnon") as f64 / 1024.0,
    );
    Ok(())
}

fn idle(
    sobre: &std::path::Path,
    dir: &std::path::Path,
    broker: &Broker,
    points: u64,
    seconds: u64,
) -> Result<(), Box<dyn std::error::Error>> {
    let bare = BareSubscriber::start(broker.port);
    // The bare subscriber is subscribed before the agent starts, so it sees the status at once.
    std::thread::sleep(Duration::from_millis(500));
    let agent = Agent::start(sobre, dir, broker.port, points)?;
    let mut connected = None;
    let deadline = Instant::now() + Duration::from_secs(30);
    while connected.is_none() && Instant::now() < deadline {
        if bare.online() {
            connected = Some(agent.started.elapsed());
        }
        std::thread::sleep(Duration::from_millis(1));
    }
    let connected = connected.ok_or("the agent did not connect within 30 s")?;
    std::thread::sleep(Duration::from_secs(seconds));
    let cpu = agent.cpu_s();
    println!(
        "| {points} points | {:.0} ms | {:.1} MiB (anonymous {:.1}, file-backed {:.1}) | {:.2} s CPU in {:.0} s |",
        connected.as_secs_f64() * 1000.0,
        agent.kib("VmRSS") as f64 / 1024.0,
        agent.kib("RssAnon") as f64 / 1024.0,
        agent.kib("RssFile") as f64 / 1024.0,
        cpu,
        agent.started.elapsed().as_secs_f64(),
    );
    Ok(())
}

fn wait(what: &str, mut ready: impl FnMut() -> bool) {
    let start = Instant::now();
    while !ready() {
        assert!(start.elapsed() < Duration::from_secs(30), "{what} not ready");
        std::thread::sleep(Duration::from_millis(20));
    }
}
