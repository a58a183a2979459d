//! The `sobre` binary: argument parsing, logging, the runtime, and `anyhow` at the edge.

mod cli;

use clap::Parser;
use std::process::ExitCode;
use tracing_subscriber::filter::Targets;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

fn main() -> ExitCode {
    let args = cli::Cli::parse();
    // RUST_LOG as `target=level` directives (`warn,sobre_agent=info`), read by `Targets`: the
    // span and field filters of `EnvFilter` would bring a regex engine into the gateway binary.
    // A RUST_LOG that does not parse leaves the default, as it always has.
    let filter: Targets = std::env::var("RUST_LOG")
        .ok()
        .filter(|directives| !directives.trim().is_empty())
        .and_then(|directives| directives.parse().ok())
        .unwrap_or_else(|| args.default_log_filter().parse().unwrap_or_default());
    // Colours only on a terminal: the journal and log files get plain text. The gateway build
    // has none (feature `color`): 10 kB its journal never shows.
    let ansi = cfg!(feature = "color") && std::io::IsTerminal::is_terminal(&std::io::stderr());
    tracing_subscriber::registry()
        .with(filter)
        .with(tracing_subscriber::fmt::layer().with_writer(std::io::stderr).with_ansi(ansi))
        .init();
    // ring is the only provider compiled in; make it the process default for TLS.
    let _ = rustls::crypto::ring::default_provider().install_default();

    let runtime = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(cli::dispatch(args)) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
