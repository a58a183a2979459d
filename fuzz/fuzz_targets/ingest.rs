#![no_main]
//! See `sobre_agent::fuzzing::ingest` for what the target asserts.

libfuzzer_sys::fuzz_target!(|data: &[u8]| sobre_agent::fuzzing::ingest::run(data));
