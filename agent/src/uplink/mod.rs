//! The uplink to the city's broker: a durable outbox (the source of truth) and a sender that
//! drains it over a second MQTT connection, separate from the building's broker.
//!
//! Layer: what leaves the building (see `crate::layers`): uses the vocabulary, config, mqtt's
//! transport, the store's file and the status; the reporter fills its outbox.

pub mod connect;
pub mod outbox;
pub mod sender;
