//! `sobre city`: the city's side. Reports from every building's agent arrive on the city's
//! broker (`<prefix>/<site>/reports/<kind>`); the sink takes them from a shared subscription
//! (several sinks split the load), checks each against its schema, and writes it to PostgreSQL
//! idempotently by report id, acknowledging a message only once it is committed. What it refuses
//! goes to a table with the reason. Behind the `city` feature: a gateway's build leaves it out.
//!
//! Layer: with the daemon (see `crate::layers`): a program of its own, using config and mqtt.

pub mod config;
pub mod db;
pub mod row;
pub mod schema;
pub mod sink;

pub use config::CitySettings;
pub use sink::run;
