//! Ingest: MQTT messages → decoded, normalised, validated readings for the store.
//!
//! Layer: ingest (see `crate::layers`): uses the vocabulary, config, mqtt (its messages and acks)
//! and the store's writer.

pub mod decode;
pub mod pick;
pub(crate) mod rejections;
pub(crate) mod stage;
pub mod validate;

pub use stage::Ingest;
