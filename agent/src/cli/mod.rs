//! Subcommands. Each returns `anyhow::Result`: this is the binary's edge.

mod check;
#[cfg(feature = "demo")]
mod demo;
mod fit;
#[cfg(feature = "demo")]
mod trials;

use anyhow::Context;
use clap::{Parser, Subcommand};
use sobre_agent::clock::Clock;
use sobre_agent::config::Settings;
use sobre_agent::replay::{self, ReplayOptions, Speed};
#[cfg(feature = "sim")]
use sobre_agent::sim::{self, SimSettings};
use sobre_agent::stats::Stats;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

#[derive(Debug, Parser)]
#[command(name = "sobre", version, about = "A frugal building-energy agent for the gateway inside a building.")]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the agent: ingest from the building's broker into the local store.
    Run {
        /// The configuration file (see config/example.toml).
        #[arg(short, long)]
        config: PathBuf,
    },
    /// Validate a configuration file and print what it describes.
    Check { config: PathBuf },
    /// Publish a CSV of timestamped columns to a broker as readings (`<prefix>/<column>`).
    Replay {
        csv: PathBuf,
        #[arg(long, default_value = "127.0.0.1")]
        host: String,
        #[arg(long, default_value_t = 1883)]
        port: u16,
        /// Topic prefix; each column goes to `<prefix>/<column>`.
        #[arg(long)]
        prefix: String,
        #[arg(long, default_value = "timestamp_utc")]
        time_column: String,
        /// Comma-separated columns to publish (default: all but the time column).
        #[arg(long, value_delimiter = ',')]
        columns: Vec<String>,
        /// Zone of timestamps written without an offset.
        #[arg(long, default_value = "UTC")]
        timezone: String,
        /// "max", or a factor of the data's pace (3600: an hour of data per second).
        #[arg(long, default_value = "max")]
        speed: Speed,
        /// MQTT QoS: 0 or 1.
        #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u8).range(0..=1))]
        qos: u8,
    },
    /// Fit a weather-normalised baseline to a CSV and, for a reporting period, measure savings.
    Fit(fit::FitArgs),
    /// Run an emulated building on a broker: its devices publish, its thermostats obey commands.
    #[cfg(feature = "sim")]
    Sim {
        /// The building (see config/sim-school.toml, config/sim-office.toml); a bundled one when absent.
        #[arg(short, long, conflicts_with = "building")]
        config: Option<PathBuf>,
        /// Which bundled building: the school (heat pump, TRVs, presence) or the office (gas boiler, BMS, CO₂).
        #[arg(long, value_enum, default_value = "school")]
        building: sim::Bundled,
        #[arg(long, default_value = "127.0.0.1")]
        host: String,
        #[arg(long, default_value_t = 1883)]
        port: u16,
        /// "max", "stepped" (steps when asked on `<prefix>/step`), or a factor of real time.
        #[arg(long, default_value = "max")]
        pace: sobre_agent::sim::Pace,
        /// Print the `[[points]]` an agent needs to read this building, and exit.
        #[arg(long)]
        points: bool,
    },
    /// The whole story on bundled data: an embedded broker, an emulated building, the agent.
    #[cfg(feature = "demo")]
    Demo {
        /// Which bundled building: the school (heat pump, TRVs, presence) or the office (gas boiler, BMS, CO₂).
        #[arg(long, value_enum, default_value = "school")]
        building: sim::Bundled,
        /// Keep the store here instead of a temporary folder.
        #[arg(long)]
        store: Option<PathBuf>,
        /// "max", or a factor of real time.
        #[arg(long, default_value = "max")]
        pace: sim::Pace,
        /// Send the reports to a broker on this loopback port instead of the embedded one.
        #[arg(long)]
        uplink_port: Option<u16>,
        /// Then serve the local page on this address until Ctrl-C (127.0.0.1:8080 if none given).
        #[arg(long, num_args = 0..=1, default_missing_value = "127.0.0.1:8080")]
        serve: Option<std::net::SocketAddr>,
    },
    /// The city's side: take every building's reports off the city's broker (a shared
    /// subscription) into PostgreSQL, each acknowledged once committed.
    #[cfg(feature = "city")]
    City {
        /// The sink's configuration file (see config/city.toml).
        #[arg(short, long)]
        config: PathBuf,
    },
}

impl Cli {
    /// Logs when `RUST_LOG` is not set: the demo's reader wants its summary, not the daemon's log.
    pub fn default_log_filter(&self) -> &'static str {
        match self.command {
            #[cfg(feature = "demo")]
            Command::Demo { .. } => "warn,rumqttd=off",
            _ => "info,rumqttd=off",
        }
    }
}

pub async fn dispatch(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Run { config } => {
            let settings = Settings::load(&config)?;
            let clock = Clock::system(settings.agent.clock);
            sobre_agent::daemon::run(settings, clock, Arc::new(Stats::default()), terminate()).await?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Check { config } => match Settings::load(&config) {
            Ok(settings) => {
                print!("{}", check::summary(&config, &settings));
                Ok(ExitCode::SUCCESS)
            }
            Err(e) => {
                eprintln!("{e}");
                Ok(ExitCode::from(2))
            }
        },
        Command::Replay { csv, host, port, prefix, time_column, columns, timezone, speed, qos } => {
            let file = std::fs::File::open(&csv).with_context(|| format!("cannot open {}", csv.display()))?;
            let timezone = sobre_agent::config::zone::parse(&timezone)
                .map_err(|expected| anyhow::anyhow!("--timezone {timezone:?}: {expected}"))?;
            let qos = if qos == 0 { rumqttc::QoS::AtMostOnce } else { rumqttc::QoS::AtLeastOnce };
            let options = ReplayOptions {
                host,
                port,
                prefix,
                time_column,
                columns,
                timezone,
                speed,
                qos,
                stall_timeout: Duration::from_secs(30),
            };
            let started = std::time::Instant::now();
            let summary = replay::replay(std::io::BufReader::new(file), &options).await?;
            let secs = started.elapsed().as_secs_f64();
            println!(
                "published {} readings from {} rows ({} blank cells skipped) in {:.1} s ({:.0} readings/s)",
                summary.published,
                summary.rows,
                summary.blank,
                secs,
                summary.published as f64 / secs.max(1e-9)
            );
            Ok(ExitCode::SUCCESS)
        }
        #[cfg(feature = "sim")]
        Command::Sim { config, building, host, port, pace, points } => {
            let settings = match &config {
                Some(path) => SimSettings::load(path)?,
                None => building.settings()?,
            };
            let emulator = sim::Emulator::new(settings)?;
            if points {
                print!("{}", sim::devices::agent_points(emulator.settings(), emulator.topics()));
                return Ok(ExitCode::SUCCESS);
            }
            let target = sim::Target { host, port, stall_timeout: Duration::from_secs(30) };
            let started = std::time::Instant::now();
            let summary = sim::run(emulator, &target, pace, terminate()).await?;
            println!(
                "simulated {} steps, published {} device messages in {:.1} s; {} commands applied, {} refused",
                summary.steps,
                summary.published,
                started.elapsed().as_secs_f64(),
                summary.commands,
                summary.refused
            );
            Ok(ExitCode::SUCCESS)
        }
        Command::Fit(args) => fit::run(args).map(|()| ExitCode::SUCCESS),
        #[cfg(feature = "demo")]
        Command::Demo { building, store, pace, uplink_port, serve } => {
            demo::run(building, store, pace, uplink_port, serve).await.map(|()| ExitCode::SUCCESS)
        }
        #[cfg(feature = "city")]
        Command::City { config } => {
            let settings = sobre_agent::city::CitySettings::load(&config)?;
            let cancel = tokio_util::sync::CancellationToken::new();
            let stop = cancel.clone();
            tokio::spawn(async move {
                terminate().await;
                stop.cancel();
            });
            sobre_agent::city::run(settings, cancel).await?;
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// Completes on Ctrl-C or SIGTERM (systemd's stop).
pub(crate) async fn terminate() {
    let ctrl_c = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
}
