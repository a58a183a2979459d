//! Ingest: MQTT messages → decoded, normalised, validated readings for the store.

pub mod decode;
pub mod rejections;
pub mod stage;
pub mod validate;

pub use stage::Ingest;
