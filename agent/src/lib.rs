//! sobre-agent: everything with I/O. Data flows mqtt → ingest → store; see DESIGN.md.

pub mod advisor;
pub mod baseline;
pub mod clock;
pub mod config;
pub mod control;
pub mod daemon;
#[cfg(any(test, feature = "fuzzing"))]
pub mod fuzzing;
pub mod glance;
pub mod homeassistant;
pub mod ingest;
pub mod mqtt;
pub mod overview;
pub mod point;
pub mod quiet;
pub mod replay;
pub mod report;
pub mod shared;
pub mod sim;
pub mod stats;
pub mod status;
pub mod store;
pub mod uplink;
pub mod watchdog;
pub mod web;
