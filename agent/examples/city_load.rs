//! Load run of the city's side: a mosquitto of its own, `sobre city` sinks (the release build,
//! next to this example) sharing the subscription, PostgreSQL on 127.0.0.1:5432 (a database of
//! its own, dropped at the end), and in this process the fleet test's load generator.
//!
//!   cargo build --release && cargo run --release --example city_load -- [sites] [sinks]
//!
//! Two phases. Throughput: every report of `sites` generated sites published at once, the sinks
//! draining the backlog; reports/s written, and per CPU-second of the sinks, of PostgreSQL's
//! backends serving them and of mosquitto (from /proc). Lag: more sites' reports published at
//! half that rate; publish → committed for each report (the moment the stored count, polled
//! every 10 ms, covers it). Prints Markdown for the README's city section.

#[path = "../../tests/fleet/load.rs"]
mod load;

use rumqttc::{Client, Event, MqttOptions, Packet, QoS};
use std::fmt::Write as _;
use std::io::Write as _;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

type Failure = Box<dyn std::error::Error>;

/// What one site's agent sends in a day: health, footprint, a daily savings report per energy
/// point (two, as the demo's school), a monthly one per point every 30 days or so.
const REPORTS_PER_SITE_DAY: f64 = 1.0 + 1.0 + 2.0 + 2.0 / 30.0;

fn main() -> Result<(), Failure> {
    let args: Vec<String> = std::env::args().collect();
    let sites: u64 = args.get(1).and_then(|a| a.parse().ok()).unwrap_or(5000);
    let sinks: usize = args.get(2).and_then(|a| a.parse().ok()).unwrap_or(1);
    let dir = tempfile::tempdir()?;
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;

    let user = std::env::var("PGUSER").unwrap_or_else(|_| "postgres".to_string());
    let name = format!("sobre_city_load_{}", std::process::id());
    let admin = rt.block_on(connect(&format!("postgresql://{user}@127.0.0.1:5432/postgres")))?;
    rt.block_on(admin.batch_execute(&format!("CREATE DATABASE {name}")))?;
    let url = format!("postgresql://{user}@127.0.0.1:5432/{name}");
    // The release profile aborts on a panic: the run returns its failures instead, so that its
    // processes are stopped (their guards) and the database dropped whatever happened.
    let outcome = run(&rt, &dir, &url, sites, sinks);
    rt.block_on(admin.batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)")))?;
    // Printed once everything is cleaned up: a closed stdout cannot leave anything behind.
    let mut stdout = std::io::stdout().lock();
    stdout.write_all(outcome?.as_bytes())?;
    Ok(())
}

/// The measurements, as Markdown.
fn run(
    rt: &tokio::runtime::Runtime,
    dir: &tempfile::TempDir,
    url: &str,
    sites: u64,
    sinks: usize,
) -> Result<String, Failure> {
    let port = std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
    let conf = dir.path().join("mosquitto.conf");
    std::fs::write(
        &conf,
        format!("listener {port} 127.0.0.1\nallow_anonymous true\npersistence false\nlog_dest none\nmax_queued_messages 10000000\n"),
    )?;
    let mosquitto =
        if std::path::Path::new("/usr/sbin/mosquitto").exists() { "/usr/sbin/mosquitto" } else { "mosquitto" };
    let broker =
        Guard(Command::new(mosquitto).arg("-c").arg(&conf).stdout(Stdio::null()).stderr(Stdio::null()).spawn()?);
    wait("mosquitto", || std::net::TcpStream::connect(("127.0.0.1", port)).is_ok())?;

    let sobre =
        std::env::current_exe()?.parent().and_then(|d| d.parent()).map(|d| d.join("sobre")).ok_or("no sobre binary")?;
    let mut sink_children = Vec::new();
    for i in 0..sinks {
        let config = dir.path().join(format!("city-{i}.toml"));
        std::fs::write(
            &config,
            format!("[broker]\nport = {port}\nclient_id = \"load-sink-{i}\"\n\n[database]\nurl = {url:?}\n"),
        )?;
        let child = Command::new(&sobre)
            .args(["city", "--config"])
            .arg(&config)
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .spawn()
            .map_err(|e| format!("cannot start {}: {e} (cargo build --release first)", sobre.display()))?;
        sink_children.push(Guard(child));
    }
    let db = rt.block_on(connect(url))?;
    let count = |sql: &str| -> i64 { rt.block_on(db.query_one(sql, &[])).map(|r| r.get(0)).unwrap_or(-1) };
    wait("the sinks' sessions", || {
        count("SELECT count(*) FROM pg_stat_activity WHERE application_name = 'sobre-city'") == sinks as i64
            && count("SELECT count(*) FROM sites") == 0
    })?;
    // Every site of both phases enrolled.
    rt.block_on(db.execute(
        "INSERT INTO sites (site) SELECT 'load-' || n FROM generate_series(0, $1::bigint * 2) n",
        &[&(sites as i64)],
    ))?;
    // A sink is subscribed once a probe report is stored (mosquitto does not say who is).
    let probe = Publisher::connect(port)?;
    let (topic, report) = load::site_reports("city", &format!("load-{}", 2 * sites), 0).remove(0);
    probe.client.publish(topic, QoS::AtLeastOnce, false, report.to_string().into_bytes())?;
    wait("a sink subscribed", || count("SELECT count(*) FROM reports") == 1)?;
    // The other sinks connected at the same time.
    std::thread::sleep(Duration::from_secs(1));
    let backends: Vec<u32> = rt
        .block_on(db.query("SELECT pid FROM pg_stat_activity WHERE application_name = 'sobre-city'", &[]))?
        .iter()
        .map(|r| r.get::<_, i32>(0) as u32)
        .collect();
    let sink_pids: Vec<u32> = sink_children.iter().map(|c| c.0.id()).collect();
    let cpu = |pids: &[u32]| pids.iter().map(|p| cpu_seconds(*p)).sum::<f64>();
    let stored = || count("SELECT count(*) FROM reports") - 1;

    // Throughput: a backlog drained.
    let reports: Vec<(String, Vec<u8>)> = (0..sites)
        .flat_map(|n| load::site_reports("city", &format!("load-{n}"), n))
        .map(|(t, r)| (t, r.to_string().into_bytes()))
        .collect();
    let total = reports.len() as i64;
    let publisher = Publisher::connect(port)?;
    let (sink_cpu, pg_cpu, mq_cpu) = (cpu(&sink_pids), cpu(&backends), cpu_seconds(broker.0.id()));
    let start = Instant::now();
    for (topic, payload) in reports {
        publisher.client.publish(topic, QoS::AtLeastOnce, false, payload)?;
    }
    let published = start.elapsed();
    wait_long("the backlog stored", || stored() >= total)?;
    let drained = start.elapsed();
    let (sink_cpu, pg_cpu, mq_cpu) =
        (cpu(&sink_pids) - sink_cpu, cpu(&backends) - pg_cpu, cpu_seconds(broker.0.id()) - mq_cpu);
    let rate = total as f64 / drained.as_secs_f64();

    // Lag: half that rate, paced.
    let paced: Vec<(String, Vec<u8>)> = (sites..2 * sites)
        .flat_map(|n| load::site_reports("city", &format!("load-{n}"), n))
        .map(|(t, r)| (t, r.to_string().into_bytes()))
        .take((rate * 10.0) as usize)
        .collect();
    let pace = rate / 2.0;
    let base = stored();
    let sent_at: Arc<std::sync::Mutex<Vec<Instant>>> = Arc::default();
    let pacing = std::thread::spawn({
        let sent_at = Arc::clone(&sent_at);
        let client = publisher.client.clone();
        move || {
            let start = Instant::now();
            for (i, (topic, payload)) in paced.into_iter().enumerate() {
                let due = start + Duration::from_secs_f64(i as f64 / pace);
                if let Some(wait) = due.checked_duration_since(Instant::now()) {
                    std::thread::sleep(wait);
                }
                if let Ok(mut s) = sent_at.lock() {
                    s.push(Instant::now());
                }
                let _ = client.publish(topic, QoS::AtLeastOnce, false, payload);
            }
        }
    });
    let mut lags = Vec::new();
    let mut covered = 0_usize;
    loop {
        std::thread::sleep(Duration::from_millis(10));
        let now = Instant::now();
        let n = (stored() - base).max(0) as usize;
        let sent = sent_at.lock().map(|s| s.clone()).unwrap_or_default();
        while covered < n.min(sent.len()) {
            lags.push(now.duration_since(sent[covered]).as_secs_f64() * 1000.0);
            covered += 1;
        }
        if pacing.is_finished() && covered >= sent.len() {
            break;
        }
    }
    let _ = pacing.join();
    lags.sort_by(f64::total_cmp);
    let at = |q: f64| lags.get(((lags.len() as f64 - 1.0) * q) as usize).copied().unwrap_or(0.0);

    let per_core = total as f64 / sink_cpu.max(1e-9);
    let mut out = String::new();
    writeln!(out, "| sinks | reports | published in | stored in | reports/s | per sink CPU-second | PostgreSQL backends' CPU-s | mosquitto CPU-s |")?;
    writeln!(out, "|---|---|---|---|---|---|---|---|")?;
    writeln!(
        out,
        "| {sinks} | {total} | {:.1} s | {:.1} s | {rate:.0} | {per_core:.0} | {pg_cpu:.1} | {mq_cpu:.1} |",
        published.as_secs_f64(),
        drained.as_secs_f64()
    )?;
    writeln!(
        out,
        "\nlag publish → committed at {pace:.0} reports/s ({} reports): p50 {:.0} ms, p99 {:.0} ms, max {:.0} ms",
        lags.len(),
        at(0.5),
        at(0.99),
        at(1.0)
    )?;
    writeln!(
        out,
        "sites at {REPORTS_PER_SITE_DAY:.2} reports a day each, at {rate:.0} reports/s: {:.0} (one day's reports of 10 000 sites: {:.0} s)",
        rate * 86_400.0 / REPORTS_PER_SITE_DAY,
        10_000.0 * REPORTS_PER_SITE_DAY / rate
    )?;
    // What a dashboard refresh costs: the views are computed on read, over every row.
    let mut timings = Vec::new();
    for view in [
        "savings_by_site_month",
        "portfolio_totals",
        "fleet_health",
        "footprint_vs_savings",
        "register_current",
        "flex_events",
    ] {
        let start = Instant::now();
        let rows = count(&format!("SELECT count(*) FROM (SELECT * FROM {view}) v"));
        timings.push(format!("{view} {:.0} ms ({rows} rows)", start.elapsed().as_secs_f64() * 1000.0));
    }
    writeln!(out, "views read in full: {}", timings.join(", "))?;
    let size = count("SELECT pg_database_size(current_database())");
    writeln!(
        out,
        "database: {:.1} MiB for {} reports ({:.0} bytes a report, indexes included)",
        size as f64 / 1048576.0,
        stored(),
        size as f64 / stored().max(1) as f64
    )?;
    Ok(out)
}

/// Killed on drop.
struct Guard(Child);

impl Drop for Guard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

async fn connect(url: &str) -> Result<tokio_postgres::Client, tokio_postgres::Error> {
    let (client, connection) = tokio_postgres::connect(url, tokio_postgres::NoTls).await?;
    tokio::spawn(connection);
    Ok(client)
}

/// User and system CPU seconds of a process so far (clock ticks of 1/100 s), 0 if unreadable.
fn cpu_seconds(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // The fields after the command name, which is in parentheses and may hold spaces.
    let fields: Vec<&str> =
        stat.rsplit_once(')').map(|(_, rest)| rest.split_whitespace().collect()).unwrap_or_default();
    let tick = |i: usize| fields.get(i).and_then(|f| f.parse::<f64>().ok()).unwrap_or(0.0);
    (tick(11) + tick(12)) / 100.0
}

fn wait(what: &str, ready: impl FnMut() -> bool) -> Result<(), Failure> {
    wait_for(Duration::from_secs(30), what, ready)
}

fn wait_long(what: &str, ready: impl FnMut() -> bool) -> Result<(), Failure> {
    wait_for(Duration::from_secs(600), what, ready)
}

fn wait_for(limit: Duration, what: &str, mut ready: impl FnMut() -> bool) -> Result<(), Failure> {
    let start = Instant::now();
    eprintln!("waiting for {what}");
    while !ready() {
        if start.elapsed() > limit {
            return Err(format!("{what} not ready within {limit:?}").into());
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    Ok(())
}

/// A QoS 1 publisher whose event loop runs on a thread of its own.
struct Publisher {
    client: Client,
    _acked: Arc<AtomicU64>,
}

impl Publisher {
    fn connect(port: u16) -> Result<Self, Failure> {
        // Each its own id: a second connection under one id would take the session over.
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let id = format!("city-load-{}-{}", std::process::id(), NEXT.fetch_add(1, Ordering::Relaxed));
        let mut opts = MqttOptions::new(id, "127.0.0.1", port);
        opts.set_max_packet_size(4 << 20, 4 << 20);
        opts.set_inflight(1000);
        let (client, mut connection) = Client::new(opts, 10_000);
        let acked = Arc::new(AtomicU64::new(0));
        let counter = Arc::clone(&acked);
        std::thread::spawn(move || {
            for event in connection.iter() {
                match event {
                    Ok(Event::Incoming(Packet::PubAck(_))) => {
                        counter.fetch_add(1, Ordering::Relaxed);
                    }
                    Ok(_) => {}
                    Err(_) => std::thread::sleep(Duration::from_millis(50)),
                }
            }
        });
        Ok(Publisher { client, _acked: acked })
    }
}
