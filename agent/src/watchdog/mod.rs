//! Whether the agent's loops are alive. Each loop that matters (the MQTT link, ingest, the
//! writer, control) marks itself busy while it handles something and idle when done; a loop
//! waiting for input is idle, a loop stuck mid-way (a deadlock, a hung disk) stays busy. While
//! no loop has been busy longer than the limit, the watchdog pings systemd (`WatchdogSec=`);
//! when one has, it stops pinging and says which, and systemd restarts the agent: a hang is a
//! restart, not a silence.
//!
//! Layer: the runtime's small parts, beside the vocabulary (see `crate::layers`): uses nothing of
//! the agent's own.

pub mod systemd;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;
use systemd::Notifier;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

/// Without systemd, a loop busy this long is still reported in the log.
const DEFAULT_LIMIT: Duration = Duration::from_secs(60);

/// One loop's mark: milliseconds since the watchdog's start at which it became busy, plus one
/// (0: idle).
#[derive(Debug, Clone)]
pub struct Pulse {
    name: &'static str,
    busy_since: Arc<AtomicU64>,
    base: Instant,
}

/// Marks the loop idle again when dropped, whichever way the handling ends.
#[derive(Debug)]
pub struct Busy {
    busy_since: Arc<AtomicU64>,
}

impl Pulse {
    /// A pulse that no watchdog reads (tests, tools).
    pub fn unwatched(name: &'static str) -> Self {
        Self { name, busy_since: Arc::new(AtomicU64::new(0)), base: Instant::now() }
    }

    pub fn busy(&self) -> Busy {
        let since = self.base.elapsed().as_millis() as u64 + 1;
        self.busy_since.store(since, Ordering::Relaxed);
        Busy { busy_since: self.busy_since.clone() }
    }
}

impl Drop for Busy {
    fn drop(&mut self) {
        self.busy_since.store(0, Ordering::Relaxed);
    }
}

#[derive(Debug)]
pub struct Watchdog {
    base: Instant,
    pulses: Vec<Pulse>,
    limit: Duration,
    /// How often the loops are looked at (and systemd pinged).
    every: Duration,
    notifier: Option<Arc<Notifier>>,
}

impl Watchdog {
    /// Under systemd's watchdog, loops may be busy for less than its period and systemd is
    /// pinged at half of it; otherwise they may be busy for a minute and nobody is pinged.
    pub fn new(notifier: Option<Arc<Notifier>>, period: Option<Duration>) -> Self {
        let limit = period.unwrap_or(DEFAULT_LIMIT);
        Self { base: Instant::now(), pulses: Vec::new(), limit, every: limit / 2, notifier }
    }

    pub fn pulse(&mut self, name: &'static str) -> Pulse {
        let pulse = Pulse { name, busy_since: Arc::new(AtomicU64::new(0)), base: self.base };
        self.pulses.push(pulse.clone());
        pulse
    }

    /// The loop busy for longest, if that is longer than the limit.
    pub fn stuck(&self) -> Option<(&'static str, Duration)> {
        let now_ms = self.base.elapsed().as_millis() as u64 + 1;
        self.pulses
            .iter()
            .filter_map(|p| {
                let since = p.busy_since.load(Ordering::Relaxed);
                (since > 0).then(|| (p.name, Duration::from_millis(now_ms.saturating_sub(since))))
            })
            .filter(|(_, busy)| *busy > self.limit)
            .max_by_key(|(_, busy)| *busy)
    }

    pub fn notify(&self, state: &str) {
        if let Some(n) = &self.notifier {
            n.notify(state);
        }
    }

    pub async fn run(self, cancel: CancellationToken) {
        let mut tick = tokio::time::interval(self.every.max(Duration::from_millis(100)));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut reported = false;
        loop {
            tokio::select! {
                _ = cancel.cancelled() => break,
                _ = tick.tick() => {}
            }
            match self.stuck() {
                None => {
                    reported = false;
                    self.notify("WATCHDOG=1");
                }
                Some((name, busy)) if !reported => {
                    reported = true;
                    tracing::error!(
                        loop_name = name,
                        busy_for = ?busy,
                        limit = ?self.limit,
                        "a loop is stuck; the watchdog stops answering systemd, which restarts the agent"
                    );
                }
                Some(_) => {}
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn a_loop_busy_past_the_limit_is_stuck_and_an_idle_one_never_is() {
        // Given a watchdog with a 30 s period and two loops
        let mut watchdog = Watchdog::new(None, Some(Duration::from_secs(30)));
        let (link, ingest) = (watchdog.pulse("link"), watchdog.pulse("ingest"));
        // When the link waits for input for an hour, Then nothing is stuck
        tokio::time::advance(Duration::from_secs(3600)).await;
        assert_eq!(watchdog.stuck(), None);
        // When ingest handles a message for 20 s, Then it is not stuck yet
        let busy = ingest.busy();
        tokio::time::advance(Duration::from_secs(20)).await;
        assert_eq!(watchdog.stuck(), None);
        // When it stays busy past 30 s, Then it is stuck, by name
        tokio::time::advance(Duration::from_secs(11)).await;
        assert_eq!(watchdog.stuck().map(|(name, _)| name), Some("ingest"));
        // When it finishes, Then nothing is stuck again
        drop(busy);
        assert_eq!(watchdog.stuck(), None);
        let _link_busy = link.busy();
        assert_eq!(watchdog.stuck(), None);
    }
}
