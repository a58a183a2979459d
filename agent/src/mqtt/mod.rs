//! The link to the building's broker, the only code that touches rumqttc's event loop.
//!
//! MQTT 5, so that the broker keeps what the agent has not acknowledged and tells it what it
//! refused: one task (`link`) polls the event loop and never waits on anything it feeds;
//! readings are acknowledged only once the store has committed them (`Ack`, sent back by the
//! writer); requests to the agent go through rate-limited, coalescing `mailbox`es; every other
//! task publishes through a `Publisher` that drops and counts rather than waits.
//!
//! Layer: mqtt, beside the store (see `crate::layers`): uses only the vocabulary and config.

pub mod backlog;
pub mod backoff;
pub mod closing;
pub mod link;
pub mod low_water;
pub mod mailbox;
pub mod options;
pub mod pace;
pub mod publisher;
pub mod route;

pub use link::Link;
pub use publisher::Publisher;
pub use route::Route;

use bytes::Bytes;

/// A message from the broker, stamped with the wall time it arrived.
#[derive(Debug, Clone)]
pub struct Inbound {
    pub topic: String,
    pub payload: Bytes,
    pub received_ms: i64,
    /// What to hand back to the link once the message's readings are committed (QoS 1); `None`
    /// when nobody has to (QoS 0, or a request the link acknowledged as it routed it).
    pub ack: Option<Ack>,
}

/// A QoS 1 delivery still owed an acknowledgement: its packet id within one connection.
/// An ack of an earlier connection whose session the broker did not keep is dropped by the
/// link: that packet id may name another message now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ack {
    pub pkid: u16,
    pub connection: u64,
}

/// A retained message the link publishes itself: the status on connect, the last will.
#[derive(Debug, Clone)]
pub struct Retained {
    pub topic: String,
    pub payload: Vec<u8>,
}
