//! Counters shared by the stages, read by the status message, the demo and tests.

use std::sync::atomic::{AtomicU64, Ordering};

#[derive(Debug, Default)]
pub struct Stats {
    /// MQTT messages that reached ingest.
    pub messages: AtomicU64,
    /// Readings that passed validation.
    pub accepted: AtomicU64,
    /// Readings refused by ingest (not counting interval-energy flags).
    pub rejected: AtomicU64,
    /// Readings committed to the store.
    pub stored: AtomicU64,
    /// Readings the store already held.
    pub duplicates: AtomicU64,
    /// Readings lost because the store could not write them (disk full, broken card).
    pub lost: AtomicU64,
    pub commits: AtomicU64,
    pub devices_offline: AtomicU64,
    pub connections: AtomicU64,
    /// Subscription acknowledgements: readings published before the first one are not seen.
    pub subscribed: AtomicU64,
    /// Reports queued in the outbox, handed to the central broker (resends included) and
    /// acknowledged by it.
    pub reports_queued: AtomicU64,
    /// The newest reading committed to the store (ms): reports look no further in event time.
    pub stored_through_ms: AtomicU64,
    /// Event time (ms) up to which every due report is queued.
    pub reports_through_ms: AtomicU64,
    pub reports_sent: AtomicU64,
    pub reports_acked: AtomicU64,
    pub uplink_connections: AtomicU64,
    /// Readings control wanted but did not take in time (its queue was full).
    pub tap_dropped: AtomicU64,
    /// Setpoint commands sent to thermostats, and flex requests refused.
    pub commands_sent: AtomicU64,
    pub flex_refused: AtomicU64,
    /// The last control step decided and carried out (event time, ms).
    pub control_through_ms: AtomicU64,
}

/// A consistent-enough copy for reporting.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct Snapshot {
    pub messages: u64,
    pub accepted: u64,
    pub rejected: u64,
    pub stored: u64,
    pub duplicates: u64,
    pub lost: u64,
    pub commits: u64,
    pub devices_offline: u64,
    pub connections: u64,
    pub subscribed: u64,
    pub reports_queued: u64,
    pub stored_through_ms: u64,
    pub reports_through_ms: u64,
    pub reports_sent: u64,
    pub reports_acked: u64,
    pub uplink_connections: u64,
}

impl Stats {
    pub fn add(counter: &AtomicU64, n: u64) {
        counter.fetch_add(n, Ordering::Relaxed);
    }

    pub fn snapshot(&self) -> Snapshot {
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        Snapshot {
            messages: get(&self.messages),
            accepted: get(&self.accepted),
            rejected: get(&self.rejected),
            stored: get(&self.stored),
            duplicates: get(&self.duplicates),
            lost: get(&self.lost),
            commits: get(&self.commits),
            devices_offline: get(&self.devices_offline),
            connections: get(&self.connections),
            subscribed: get(&self.subscribed),
            reports_queued: get(&self.reports_queued),
            stored_through_ms: get(&self.stored_through_ms),
            reports_through_ms: get(&self.reports_through_ms),
            reports_sent: get(&self.reports_sent),
            reports_acked: get(&self.reports_acked),
            uplink_connections: get(&self.uplink_connections),
        }
    }
}
