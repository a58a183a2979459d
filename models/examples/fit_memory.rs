//! Wall time and peak resident memory of each fit, in one process, for the README's
//! side-by-side with eemeter: `cargo run --release -p sobre-models --example fit_memory`.
//! Each fit runs in a child process of its own so the peaks do not mask each other.

#[path = "../tests/support/mod.rs"]
mod support;

use sobre_models::daily::{fit_daily, DailyOptions, Fuel};
use sobre_models::hourly::fit_hourly;
use std::time::Instant;

fn peak_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines().find(|l| l.starts_with("VmHWM")).and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or(0)
}

fn main() {
    let which = std::env::args().nth(1);
    let Some(which) = which else {
        for model in ["daily", "hourly"] {
            let exe = std::env::current_exe().expect("own path");
            let status = std::process::Command::new(exe).arg(model).status().expect("child");
            assert!(status.success());
        }
        return;
    };
    let loaded = peak_kib();
    let started = Instant::now();
    let cv = match which.as_str() {
        "daily" => {
            let all = support::hours("ucam_b33_hourly.csv", 1);
            let days = support::year(&all, 2018, Fuel::Electricity);
            let t = Instant::now();
            let fit = fit_daily(&days, &DailyOptions::new(Fuel::Electricity)).expect("daily");
            println!("daily  fit {:>8.1} ms", t.elapsed().as_secs_f64() * 1000.0);
            fit.metrics.cv_rmse
        }
        _ => {
            let obs: Vec<_> = support::hourly_obs("ucam_b33_hourly.csv", 1, Fuel::Electricity)
                .into_iter()
                .filter(|(y, _)| *y == 2018)
                .map(|(_, o)| o)
                .collect();
            let t = Instant::now();
            let fit = fit_hourly(&obs).expect("hourly");
            println!("hourly fit {:>8.1} ms", t.elapsed().as_secs_f64() * 1000.0);
            fit.metrics.cv_rmse
        }
    };
    println!(
        "{which:<6} load+fit {:>6.1} ms, CV(RMSE) {:.4}, peak RSS {} KiB (process start {loaded} KiB)",
        started.elapsed().as_secs_f64() * 1000.0,
        cv,
        peak_kib()
    );
}
