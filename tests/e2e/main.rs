//! End-to-end tests of the `sobre` binary against a real mosquitto and a real SQLite file.

mod advisor;
mod bad_input;
mod broker_acl;
#[cfg(feature = "city")]
mod city;
mod cli;
mod control;
mod demo;
mod devices;
mod harm;
mod local;
mod office;
mod resilience;
mod sim;
mod status;
mod store_upgrade;
// Shared with the adversarial tests, each binary using part of it.
#[allow(dead_code)]
mod support;
mod systemd_unit;
mod tls;
mod uplink;
mod year_replay;
