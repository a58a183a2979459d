//! sobre-agent: everything with I/O. Readings flow mqtt → ingest → store → models and advice →
//! control → reports; the layers, and the test that keeps imports going down them, are in
//! `layers`.

pub mod advisor;
pub mod baseline;
#[cfg(feature = "city")]
pub mod city;
pub mod clock;
pub mod config;
pub mod control;
pub mod daemon;
#[cfg(any(test, feature = "fuzzing"))]
pub mod fuzzing;
pub mod glance;
pub(crate) mod homeassistant;
pub mod ingest;
pub mod inventory;
mod layers;
pub(crate) mod mqtt;
/// How the agent ends an MQTT connection: the e2e tests check that it loses nothing sent before.
pub use mqtt::closing;
pub mod overview;
pub mod point;
pub(crate) mod quiet;
pub mod reading;
pub mod replay;
pub(crate) mod report;
pub mod shared;
#[cfg(feature = "sim")]
pub mod sim;
pub mod stats;
pub(crate) mod status;
pub mod store;
pub mod uplink;
pub(crate) mod watchdog;
pub mod web;
