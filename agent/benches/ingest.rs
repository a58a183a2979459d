//! Micro-benchmarks of the ingest hot path: decoding a payload, validating a reading, and
//! committing a batch with its rollups. `cargo bench -p sobre-agent --bench ingest`.

use sobre_agent::config::Decoder;
use sobre_agent::config::Settings;
use sobre_agent::ingest::validate::Validator;
use sobre_agent::reading::{EnergySpan, Reading};
use sobre_agent::store::{Record, Store};

fn main() {
    divan::main();
}

const CONFIG: &str = r#"
[site]
id = "bench"
timezone = "Europe/Paris"
[storage.retention]
raw = "20y"
quarter_hour = "20y"
hourly = "20y"
daily = "20y"
monthly = "20y"
[[points]]
id = "temp"
kind = "zone_temperature"
unit = "°C"
topic = "t"
[[points]]
id = "elec"
kind = "energy"
unit = "kWh"
topic = "e"
cumulative = false
interval = "1h"
"#;

fn settings() -> Settings {
    Settings::parse(CONFIG, "bench").expect("bench config")
}

#[divan::bench(args = ["json", "zigbee2mqtt", "tasmota", "plain"])]
fn decode(bencher: divan::Bencher, format: &str) {
    let (decoder, payload): (Decoder, &[u8]) = match format {
        "json" => (Decoder::Json { pointer: "/value".into(), timestamp: Some("/ts".into()) }, br#"{"ts":"2024-01-15T10:00:00Z","value":21.5}"#),
        "zigbee2mqtt" => (Decoder::zigbee2mqtt("local_temperature"), br#"{"battery":87,"local_temperature":20.5,"occupied_heating_setpoint":19,"linkquality":120}"#),
        "tasmota" => (Decoder::tasmota("ENERGY.Total"), br#"{"Time":"2024-01-15T10:00:00","ENERGY":{"TotalStartTime":"2023-01-01T00:00:00","Total":1234.567,"Yesterday":3.2,"Today":1.1,"Power":450}}"#),
        _ => (Decoder::Plain, b"21.5"),
    };
    bencher.bench(|| decoder.decode(divan::black_box(payload), chrono_tz::Europe::Paris));
}

#[divan::bench]
fn validate(bencher: divan::Bencher) {
    let s = settings();
    let mut validator = Validator::new(&s.points, &s.ingest);
    let now = 1_800_000_000_000i64;
    let mut ts = now - 86_400_000;
    bencher.bench_local(|| {
        ts += 60_000;
        validator.check(0, divan::black_box(ts), 21.0, now)
    });
}

/// One committed batch of `n` readings (half temperatures, half hourly energy), rollups included.
#[divan::bench(args = [100, 1000, 5000])]
fn store_batch(bencher: divan::Bencher, n: i64) {
    let s = settings();
    let dir = tempfile::tempdir().expect("tempdir");
    let mut store = Store::open(&dir.path().join("bench.db"), &s.points, s.site.timezone).expect("store");
    let mut next = 1_700_000_000_000i64;
    bencher
        .counter(divan::counter::ItemsCount::new(n as usize))
        .with_inputs(|| {
            let batch: Vec<Record> = (0..n)
                .map(|i| {
                    let ts = next + (i / 2) * 3_600_000;
                    let energy = (i % 2 == 1).then_some(EnergySpan { start_ms: ts, end_ms: ts + 3_600_000, kwh: 12.5 });
                    Record::Reading(Reading {
                        point: (i % 2) as usize,
                        ts_ms: ts,
                        value: if energy.is_some() { 12.5 } else { 21.0 },
                        energy,
                    })
                })
                .collect();
            next += n * 3_600_000;
            batch
        })
        .bench_local_values(|batch| store.write(&batch).expect("write"));
}
