//! Fit time and allocations of each model on a year (2018) of building 33's real data.
//! `cargo bench -p sobre-models --bench fit`. Peak memory: `cargo run --release -p sobre-models
//! --example fit_memory`; eemeter on the same data: `benches/eemeter_reference.py`.

#[path = "../tests/support/mod.rs"]
mod support;

use sobre_models::daily::{fit_daily, DailyOptions, Fuel};
use sobre_models::hourly::fit_hourly;

#[global_allocator]
static ALLOC: divan::AllocProfiler = divan::AllocProfiler::system();

fn main() {
    divan::main();
}

#[divan::bench(sample_count = 20)]
fn daily_change_point_365_days(bencher: divan::Bencher) {
    let all = support::hours("ucam_b33_hourly.csv", 1);
    let days = support::year(&all, 2018, Fuel::Electricity);
    let options = DailyOptions::new(Fuel::Electricity);
    bencher.bench(|| fit_daily(divan::black_box(&days), &options).map(|f| f.metrics.cv_rmse));
}

#[divan::bench(sample_count = 20)]
fn hourly_towt_8760_hours(bencher: divan::Bencher) {
    let obs: Vec<_> = support::hourly_obs("ucam_b33_hourly.csv", 1, Fuel::Electricity)
        .into_iter()
        .filter(|(y, _)| *y == 2018)
        .map(|(_, o)| o)
        .collect();
    bencher.bench(|| fit_hourly(divan::black_box(&obs)).map(|f| f.metrics.cv_rmse));
}
