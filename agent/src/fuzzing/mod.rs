//! The bodies of the fuzz targets (`fuzz/`, cargo-fuzz): each takes arbitrary bytes, hands them
//! to a parser of untrusted input (the building's MQTT messages, the config file) and asserts
//! what a user relies on of what it accepts; a broken invariant panics, which is what libFuzzer
//! reports. Built for tests and for the `fuzzing` feature only: the smoke test runs every body
//! over the kept corpus on stable, so CI replays what the fuzzer found without nightly.
//!
//! Layer: tools, at the top (see `crate::layers`): may use every layer below.

pub mod config;
pub mod flex;
pub mod ingest;
pub mod price;
pub mod requests;

mod input;
#[cfg(test)]
mod smoke;

/// A target's body: panics when the input breaks an invariant.
pub type Target = fn(&[u8]);

/// Every target by the name of its folder in `fuzz/corpus/` and `fuzz/fuzz_targets/`.
pub const TARGETS: [(&str, Target); 5] = [
    ("ingest", ingest::run),
    ("config", config::run),
    ("flex", flex::run),
    ("price", price::run),
    ("requests", requests::run),
];
