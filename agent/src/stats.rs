//! Counters shared by the stages, read by the status message, the demo and tests.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Mutex;
use tokio::sync::Notify;

/// The answers a flexibility request can get (control::flex_status), in the order
/// `Stats::flex_answers` counts them: their /metrics labels.
pub const FLEX_ANSWERS: [&str; 5] = ["accepted", "refused", "cancelled", "updated", "ended"];

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
    /// Flex reports not queued for the city: refusals and cancellations over the day's
    /// allowance or while the report layer was behind.
    pub flex_reports_withheld: AtomicU64,
    /// Answers published on `<prefix>/flex/status`, by status (see `FLEX_ANSWERS`).
    pub flex_answers: [AtomicU64; 5],
    /// The last control step decided and carried out (event time, ms).
    pub control_through_ms: AtomicU64,
    /// Messages the agent meant to publish and dropped because the link was behind, and those
    /// the broker refused (its ACL).
    pub publish_dropped: AtomicU64,
    pub publish_refused: AtomicU64,
    /// Requests to the agent dropped: over their topic's rate, repeated, or their queue full.
    pub requests_dropped: AtomicU64,
    /// Readings dropped before ingest because it was behind (QoS 0 past the broker's window).
    pub readings_dropped: AtomicU64,
    /// Reconnections the link made so the broker sends again what it sent past its window.
    pub resyncs: AtomicU64,
    /// Stored ledger and control records this version cannot read (another version wrote
    /// them): skipped when restoring, each counted once.
    pub records_unreadable: AtomicU64,
    /// The disk refuses the store's commits right now: nothing is acknowledged meanwhile.
    pub store_failing: AtomicBool,
    /// Rung when the agent's health changes (the status is published again at once).
    pub health_changed: Notify,
    /// Control's actions on the building by (zone, kind): commands, releases, unexplained
    /// readbacks, watchdog trips. A handful of zones and kinds: a map behind a lock.
    pub control_actions: Mutex<BTreeMap<(String, &'static str), u64>>,
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
    pub publish_dropped: u64,
    pub publish_refused: u64,
    pub requests_dropped: u64,
    pub readings_dropped: u64,
    pub resyncs: u64,
    pub records_unreadable: u64,
    pub flex_answers: [u64; 5],
    pub flex_reports_withheld: u64,
    pub store_failing: bool,
}

impl Stats {
    pub fn add(counter: &AtomicU64, n: u64) {
        counter.fetch_add(n, Ordering::Relaxed);
    }

    /// Counts one control action of `kind` on `zone`.
    pub fn control_action(&self, zone: &str, kind: &'static str) {
        // A panic elsewhere while counting leaves the counts as they were: still worth reading.
        let mut map = self.control_actions.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        *map.entry((zone.to_string(), kind)).or_default() += 1;
    }

    /// Control's actions so far, by (zone, kind).
    pub fn control_actions(&self) -> Vec<(String, &'static str, u64)> {
        let map = self.control_actions.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        map.iter().map(|((zone, kind), n)| (zone.clone(), *kind, *n)).collect()
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
            publish_dropped: get(&self.publish_dropped),
            publish_refused: get(&self.publish_refused),
            requests_dropped: get(&self.requests_dropped),
            readings_dropped: get(&self.readings_dropped),
            resyncs: get(&self.resyncs),
            records_unreadable: get(&self.records_unreadable),
            flex_answers: self.flex_answers.each_ref().map(get),
            flex_reports_withheld: get(&self.flex_reports_withheld),
            store_failing: self.store_failing.load(Ordering::Relaxed),
        }
    }
}
