//! The uplink to the city's broker: a durable outbox (the source of truth) and a sender that
//! drains it over a second MQTT connection, separate from the building's broker.

pub mod connect;
pub mod outbox;
pub mod sender;
