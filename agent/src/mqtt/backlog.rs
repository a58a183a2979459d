//! Readings on their way from the link to ingest that ingest's queue has no room for yet. The
//! broker sends no more QoS 1 readings than its window before they are acknowledged, or should
//! (see `link`); the backlog holds that many and some slack, in arrival order.

use super::Inbound;
use std::collections::VecDeque;
use tokio::sync::mpsc;

/// Readings the backlog holds beyond the broker's window.
const SLACK: usize = 1024;

/// Readings on their way to ingest that its queue has no room for yet, in arrival order.
#[derive(Debug)]
pub struct Backlog {
    pub waiting: VecDeque<Inbound>,
    bound: usize,
    /// A QoS 1 reading found no room (the disk failing): every later one is skipped too, so
    /// that the broker sends them again in order.
    pub skipping: bool,
}

/// What became of a reading.
#[derive(Debug)]
pub enum Taken {
    Queued,
    /// Ingest has stopped.
    Closed,
    /// Left unacknowledged, for the broker to send again.
    Skipped,
    /// A QoS 0 reading with no room: gone (its topic).
    Dropped(String),
}

impl Backlog {
    /// A backlog for a broker whose in-flight window is `window` readings.
    pub fn new(window: usize) -> Self {
        Self { waiting: VecDeque::new(), bound: window + SLACK, skipping: false }
    }

    pub fn full(&self) -> bool {
        self.waiting.len() >= self.bound
    }

    pub fn take(&mut self, message: Inbound, inbound: &mpsc::Sender<Inbound>) -> Taken {
        let qos1 = message.ack.is_some();
        if (self.skipping && qos1) || self.full() {
            if qos1 {
                self.skipping = true;
                return Taken::Skipped;
            }
            return Taken::Dropped(message.topic);
        }
        if !self.waiting.is_empty() {
            self.waiting.push_back(message);
            return Taken::Queued;
        }
        match inbound.try_send(message) {
            Ok(()) => Taken::Queued,
            Err(mpsc::error::TrySendError::Full(message)) => {
                self.waiting.push_back(message);
                Taken::Queued
            }
            Err(mpsc::error::TrySendError::Closed(_)) => Taken::Closed,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reading(n: u16, qos1: bool) -> Inbound {
        let ack = qos1.then_some(crate::mqtt::Ack { pkid: n, connection: 1 });
        Inbound { topic: format!("t/{n}"), payload: n.to_string().into(), received_ms: 0, ack }
    }

    #[test]
    fn readings_wait_in_order_behind_a_full_ingest_and_past_the_bound_are_skipped_or_dropped() {
        // Given ingest with room for two and a broker window of one (a bound of 1025)
        let (tx, mut rx) = mpsc::channel(2);
        let mut backlog = Backlog::new(1);
        // When 1,030 QoS 1 readings arrive
        let taken: Vec<Taken> = (0..1030).map(|n| backlog.take(reading(n, true), &tx)).collect();
        // Then two go to ingest, 1,025 wait in order, and the rest are left unacknowledged
        assert_eq!(rx.try_recv().map(|m| m.topic).ok(), Some("t/0".to_string()));
        assert_eq!(rx.try_recv().map(|m| m.topic).ok(), Some("t/1".to_string()));
        assert_eq!(backlog.waiting.front().map(|m| m.topic.as_str()), Some("t/2"));
        assert!(backlog.full());
        assert_eq!(taken.iter().filter(|t| matches!(t, Taken::Skipped)).count(), 3);
        // And a QoS 0 reading past the bound is dropped
        assert!(matches!(backlog.take(reading(2000, false), &tx), Taken::Dropped(t) if t == "t/2000"));
        // When room comes back, Then a QoS 1 reading is still skipped: it must not overtake
        // those the broker will send again
        backlog.waiting.clear();
        assert!(matches!(backlog.take(reading(3000, true), &tx), Taken::Skipped));
        // But a QoS 0 one goes through (at most once, in no particular order)
        assert!(matches!(backlog.take(reading(3001, false), &tx), Taken::Queued));
    }

    #[test]
    fn a_closed_ingest_is_said() {
        let (tx, rx) = mpsc::channel(1);
        drop(rx);
        assert!(matches!(Backlog::new(10).take(reading(1, true), &tx), Taken::Closed));
    }
}
