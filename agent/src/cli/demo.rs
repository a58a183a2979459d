//! `sobre demo`: the whole story with nothing installed. An embedded broker (rumqttd; it and
//! this file are compiled in only with the `demo` feature) stands in for the building's; the
//! emulator plays a bundled building through it: by default a poorly tuned school (Zigbee2MQTT
//! TRVs and presence sensors, Tasmota meters, eight weeks of real 2019 weather), or the office
//! (a BMS over a gas boiler, CO₂ sensors, ten weeks of Dutch autumn); the agent ingests it in
//! event time into a temporary store; then the demo prints what the agent learned and what the
//! building did.

use anyhow::Context;
use sobre_agent::advisor;
use sobre_agent::advisor::ledger::Ledger;
use sobre_agent::clock::Clock;
use sobre_agent::glance::Reader;
use sobre_agent::overview;
use sobre_agent::shared::Shared;
use sobre_agent::sim::{self, Emulator, Pace, SimSettings, Target};
use sobre_agent::stats::Stats;
use sobre_agent::store::Store;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

pub async fn run(
    building: sim::Bundled,
    store: Option<PathBuf>,
    pace: Pace,
    uplink_port: Option<u16>,
    serve: Option<std::net::SocketAddr>,
) -> anyhow::Result<()> {
    let began = Instant::now();
    let broker::Ports { devices: port, agent: agent_port } = broker::start()?;
    let uplink_port = uplink_port.unwrap_or(port);
    let temp = tempdir()?;
    let path = store.unwrap_or_else(|| temp.join("sobre.db"));
    let school = building.settings().context("the embedded building")?;
    let emulator = Emulator::new(school)?;
    let mut settings =
        sim::demo_settings(&emulator, agent_port, uplink_port, &path).context("the embedded demo configuration")?;
    // rumqttd sends at most 100 unacknowledged messages whatever the agent asks (its router's
    // MAX_INFLIGHT): the agent commits at half of that, or it would wait out each interval.
    settings.broker.receive_maximum = 100;
    let s = emulator.settings();
    println!(
        "sobre demo: {}, {} zones, {} days in 15-minute steps (weather: {}, measured, MIT licence)",
        s.name,
        s.zones.len(),
        s.steps / 96,
        s.climate.label()
    );
    println!(
        "  broker  embedded, 127.0.0.1:{port} (the agent on MQTT 5: {agent_port}); reports to the city's broker at 127.0.0.1:{uplink_port}"
    );
    println!("  store   {}", path.display());
    println!("  {}\n", s.control.describe(&s.calendar));

    let dashboard = dashboard::Dashboard::connect(uplink_port, &settings.site.id).await?;
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
    let end_ms =
        emulator.settings().start_ms + (emulator.settings().steps as f64 * emulator.settings().step_s * 1000.0) as i64;
    let school = emulator.settings().clone();
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
    // The reporter catches up with the data, and the sender with the reporter.
    let waiting = Instant::now();
    loop {
        let s = stats.snapshot();
        if s.reports_through_ms >= end_ms.max(0) as u64 && s.reports_acked >= s.reports_queued {
            break;
        }
        anyhow::ensure!(waiting.elapsed() < Duration::from_secs(60), "the reports did not reach the city's broker");
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
    print!("{}", dashboard.render(settings.site.timezone, building));
    let window = settings.advisor.window.as_millis() as i64;
    let advice = advisor::advise(&store, &settings, &settings.advisor, (end_ms - window, end_ms))?;
    let mut ledger = Ledger::open(&path, &settings.site.id)?;
    advisor::task::record(&mut ledger, &advice, end_ms, settings.advisor.expiry.as_millis() as i64)?;
    print!("{}", render_advice(&advice, &school)?);
    println!(
        "\nModels fitted in {:.1} s; the whole demo took {:.0} s.",
        fitting.elapsed().as_secs_f64(),
        began.elapsed().as_secs_f64()
    );
    print!("{}", super::trials::render(&store, &settings, &school, &advice)?);
    println!("Inspect the store: sqlite3 <store> 'SELECT * FROM rollups_view WHERE resolution = \"1d\"'");
    match serve {
        Some(addr) => serve_page(addr, &settings, stats).await?,
        None => println!("See it all on the local page: sobre demo --serve"),
    }
    if std::fs::remove_dir_all(&temp).is_err() {
        tracing::debug!("temporary folder left behind");
    }
    Ok(())
}

/// The local page on the finished store, until Ctrl-C. Nobody decides here: no advisor runs.
async fn serve_page(
    addr: std::net::SocketAddr,
    settings: &sobre_agent::config::Settings,
    stats: Arc<Stats>,
) -> anyhow::Result<()> {
    let listener = tokio::net::TcpListener::bind(addr).await.with_context(|| format!("cannot listen on {addr}"))?;
    let web = sobre_agent::web::Web {
        settings: Arc::new(settings.clone()),
        reader: Shared::new(Reader::open(
            settings,
            Shared::new(Ledger::open(&settings.storage.path, &settings.site.id)?),
        )?),
        stats,
        decisions: None,
        control: None,
        overrides: None,
    };
    println!("\nThe local page: http://{}/ (Ctrl-C to stop)", listener.local_addr()?);
    let stop = tokio_util::sync::CancellationToken::new();
    let page = sobre_agent::config::WebSettings::on(addr);
    let serving = tokio::spawn(web.serve(listener, page, stop.clone()));
    super::terminate().await;
    stop.cancel();
    serving.await.context("the page")?;
    Ok(())
}

/// The recommendations, each checked against the emulator run with that change alone.
fn render_advice(advice: &advisor::Advice, school: &SimSettings) -> anyhow::Result<String> {
    use std::fmt::Write as _;
    let mut out = String::new();
    let sources: Vec<String> = advice
        .occupancy
        .iter()
        .map(|z| format!("{} from {} ({:.0} % sure)", z.zone, z.source.name(), 100.0 * z.confidence))
        .collect();
    let _ = writeln!(out, "\nOccupancy, as the advisor read it: {}", sources.join(", "));
    let dismissed = |out: &mut String| {
        for d in &advice.dismissed {
            let _ = writeln!(out, "  not recommended: {d}");
        }
    };
    let Some(first) = advice.recommendations.first() else {
        // Nothing missing and nothing proposed is a verdict: the rules found nothing worth a
        // change, and what they looked at and set aside still says why.
        let why = if advice.missing.is_empty() {
            "every rule ran and found nothing worth changing".to_string()
        } else {
            advice.missing.iter().map(ToString::to_string).collect::<Vec<_>>().join("; ")
        };
        let _ = writeln!(out, "\nNo recommendation: {why}");
        dismissed(&mut out);
        return Ok(out);
    };
    let m = &first.model;
    let _ = writeln!(
        out,
        "\nRecommendations: the advisor replays the {:.0} days under each change (heat-loss model over {} days,\n\
         CV(RMSE) {:.1} %, {:.2} kWh per K·h at 0 °C); \"emulator\" is the building rerun with that change alone",
        first.savings.period_days,
        m.days,
        100.0 * m.cv_rmse,
        m.kwh_per_kelvin_hour[0]
    );
    let base = sim::whatif::run(school.clone())?.plant_kwh;
    for (i, r) in advice.recommendations.iter().enumerate() {
        let s = &r.savings;
        let _ = writeln!(
            out,
            "  {}. {}\n     saves {:.0} ± {:.0} kWh over the period ({:.1} %); a year: {:.0} kWh, {:.0} €, {:.0} kg CO₂; confidence {}",
            i + 1,
            r.title,
            s.period_kwh,
            s.period_kwh_uncertainty,
            s.percent,
            s.kwh_per_year,
            s.eur_per_year,
            s.kg_co2_per_year,
            r.confidence.level.name()
        );
        for reason in &r.reasons {
            let _ = writeln!(out, "     why: {}", reason.text);
        }
        let _ = writeln!(out, "     comfort: {}", r.comfort.text);
        if let Some(changed) = sim::whatif::with_setting(school.clone(), &r.setting) {
            let truth = sim::whatif::run(changed)?;
            let _ = writeln!(out, "     emulator: {:.0} kWh saved", base - truth.plant_kwh);
        }
    }
    dismissed(&mut out);
    Ok(out)
}

mod dashboard {
    //! What the city's dashboard received: every report the agent sent upstream.

    use rumqttc::{AsyncClient, Event, MqttOptions, Packet, QoS};
    use serde_json::Value;
    use std::collections::BTreeMap;
    use std::sync::{Arc, Mutex};
    use std::time::Duration;

    #[derive(Debug)]
    pub struct Dashboard {
        reports: Arc<Mutex<Vec<Value>>>,
    }

    impl Dashboard {
        pub async fn connect(port: u16, site: &str) -> anyhow::Result<Self> {
            let mut options = MqttOptions::new(format!("demo-dashboard-{}", std::process::id()), "127.0.0.1", port);
            options.set_max_packet_size(1 << 20, 1 << 20);
            let (client, mut eventloop) = AsyncClient::new(options, 16);
            client.subscribe(format!("city/{site}/reports/#"), QoS::AtLeastOnce).await?;
            let reports = Arc::new(Mutex::new(Vec::new()));
            let (sink, (ready_tx, ready)) = (reports.clone(), tokio::sync::oneshot::channel());
            tokio::spawn(async move {
                let mut ready_tx = Some(ready_tx);
                while let Ok(event) = eventloop.poll().await {
                    match event {
                        Event::Incoming(Packet::SubAck(_)) => {
                            if let Some(tx) = ready_tx.take() {
                                let _ = tx.send(());
                            }
                        }
                        Event::Incoming(Packet::Publish(p)) => {
                            if let Ok(report) = serde_json::from_slice(&p.payload) {
                                sink.lock().unwrap_or_else(std::sync::PoisonError::into_inner).push(report);
                            }
                        }
                        _ => {}
                    }
                }
            });
            tokio::time::timeout(Duration::from_secs(10), ready).await??;
            Ok(Self { reports })
        }

        pub fn render(&self, tz: chrono_tz::Tz, building: sobre_agent::sim::Bundled) -> String {
            use std::fmt::Write as _;
            let reports = self.reports.lock().unwrap_or_else(std::sync::PoisonError::into_inner).clone();
            let mut kinds: BTreeMap<String, usize> = BTreeMap::new();
            for r in &reports {
                *kinds.entry(r["kind"].as_str().unwrap_or("?").to_string()).or_default() += 1;
            }
            let mut out = String::new();
            let counts: Vec<String> = kinds.iter().map(|(k, n)| format!("{n} {k}")).collect();
            let _ = writeln!(out, "\nReports the city's broker received: {}", counts.join(", "));
            let _ = writeln!(out, "Measured savings against the 5-week baseline (positive: energy avoided):");
            let day = |ts: &Value| {
                ts.as_str()
                    .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok())
                    .map_or("?".to_string(), |t| t.with_timezone(&tz).format("%d %b").to_string())
            };
            // Periods end at an exclusive midnight; people read the last day included.
            let last_day = |ts: &Value| {
                ts.as_str().and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok()).map_or("?".to_string(), |t| {
                    (t - chrono::Duration::seconds(1)).with_timezone(&tz).format("%d %b").to_string()
                })
            };
            for r in reports.iter().filter(|r| r["kind"] == "savings-monthly") {
                let f = |k: &str| r[k].as_f64().unwrap_or(f64::NAN);
                let point = r["point"].as_str().unwrap_or("?");
                let flagged = reports
                    .iter()
                    .filter(|d| d["kind"] == "savings-daily" && d["point"] == point)
                    .filter(|d| d["non_routine"].as_array().is_some_and(|a| !a.is_empty()))
                    .count();
                let (start, end) = (day(&r["period"]["start"]), last_day(&r["period"]["end"]));
                if r["claim"] != true {
                    // A baseline that fails its gate supports no number of avoided kWh.
                    let model = |k: &str| 100.0 * r["model"][k].as_f64().unwrap_or(f64::NAN);
                    let _ = writeln!(
                        out,
                        "  {point:<16} {start} – {end}: metered {:.0} kWh; no savings claimed: the baseline fails Guideline 14 (hourly CV(RMSE) {:.1} %, NMBE {:.1} %)",
                        f("metered_kwh"),
                        model("cv_rmse"),
                        model("nmbe")
                    );
                    continue;
                }
                let _ = writeln!(
                    out,
                    "  {point:<16} {start} – {end}: metered {:.0} kWh, baseline {:.0} kWh, avoided {:+.0} ± {:.0} kWh (90 %); {flagged} days flagged non-routine",
                    f("metered_kwh"),
                    f("baseline_kwh"),
                    f("avoided_kwh"),
                    f("interval90_kwh"),
                );
            }
            let savings = reports.iter().any(|r| r["kind"] == "savings-monthly");
            let note = match building {
                _ if !savings => "  none: no baseline could be fitted (see the warnings above)",
                sobre_agent::sim::Bundled::School => {
                    "  Nothing was changed in the school: the heating's \"saving\" is a five-week January baseline carried\n  \
                     into a milder February; the holidays from 23 February are a day type of their own (see the README)."
                }
                sobre_agent::sim::Bundled::Office => {
                    "  Nothing was changed in the office: what shows is the baselines' error. The gas is measured by the day\n  \
                     (the BMS switches the boiler off at night and at weekends: no hourly model passes Guideline 14, the daily\n  \
                     one with a Monday recovery does); the hourly building meter has no model for December, so no report."
                }
            };
            let _ = writeln!(out, "{note}");
            out
        }
    }
}

fn tempdir() -> anyhow::Result<PathBuf> {
    let dir = std::env::temp_dir().join(format!("sobre-demo-{}", std::process::id()));
    std::fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
    Ok(dir)
}

/// Where the embedded broker listens: rumqttd takes MQTT 3.1.1 and MQTT 5 on separate ports,
/// one broker behind both.
#[derive(Debug, Clone, Copy)]
pub struct Ports {
    /// The emulated devices and the city's dashboard (MQTT 3.1.1).
    pub devices: u16,
    /// The agent (MQTT 5).
    pub agent: u16,
}

mod broker {
    pub use super::Ports;
    use anyhow::Context;
    use std::time::Duration;

    fn free_port() -> anyhow::Result<u16> {
        Ok(std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
    }

    /// Starts rumqttd on free loopback ports in its own thread; it lives as long as the process.
    pub fn start() -> anyhow::Result<Ports> {
        let (port, v5) = (free_port()?, free_port()?);
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
[v5.1]
name = "agent"
listen = "127.0.0.1:{v5}"
next_connection_delay_ms = 1
[v5.1.connections]
connection_timeout_ms = 60000
max_payload_size = 1048576
max_inflight_count = 500
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
            let listening = |p| std::net::TcpStream::connect(("127.0.0.1", p)).is_ok();
            if listening(port) && listening(v5) {
                return Ok(Ports { devices: port, agent: v5 });
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        anyhow::bail!("the embedded broker did not listen on 127.0.0.1:{port} and {v5}")
    }
}
