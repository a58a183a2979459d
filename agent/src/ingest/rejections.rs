//! Rejection counts per point and reason, logged as one summary line per interval so a flood
//! of bad messages cannot flood the log.

use crate::reading::Reason;
use std::collections::BTreeMap;

#[derive(Debug, Default, Clone, PartialEq)]
pub struct Tally {
    pub total: u64,
    pub since_log: u64,
    pub last_detail: String,
}

#[derive(Debug)]
pub struct RejectionLog {
    tallies: BTreeMap<(String, Reason), Tally>,
    interval_ms: i64,
    last_log_ms: Option<i64>,
}

impl RejectionLog {
    pub fn new(interval_ms: i64) -> Self {
        Self { tallies: BTreeMap::new(), interval_ms, last_log_ms: None }
    }

    /// Counts one rejection. The very first of a kind is logged at once, so an operator who
    /// just wired a device sees the problem without waiting for the summary.
    pub fn record(&mut self, point: &str, reason: Reason, detail: &str) {
        let tally = self.tallies.entry((point.to_string(), reason)).or_default();
        tally.total += 1;
        tally.last_detail.clear();
        tally.last_detail.push_str(detail);
        if tally.total == 1 {
            tracing::warn!(point, %reason, detail, "first rejection of this kind; further ones are summarised");
        } else {
            tally.since_log += 1;
        }
    }

    /// Logs a summary line per point and reason with rejections since the last summary, at most
    /// once per interval. Returns the number of lines logged.
    pub fn summarise_if_due(&mut self, now_ms: i64) -> usize {
        let due = self.last_log_ms.is_none_or(|last| now_ms >= last.saturating_add(self.interval_ms));
        if !due {
            return 0;
        }
        self.last_log_ms = Some(now_ms);
        self.summarise()
    }

    /// Logs what has not been logged yet, whatever the time (at shutdown).
    pub fn summarise(&mut self) -> usize {
        let mut lines = 0;
        for ((point, reason), tally) in self.tallies.iter_mut().filter(|(_, t)| t.since_log > 0) {
            tracing::warn!(point, %reason, count = tally.since_log, total = tally.total, last = %tally.last_detail, "readings rejected");
            tally.since_log = 0;
            lines += 1;
        }
        lines
    }

    #[cfg(test)]
    fn total(&self, point: &str, reason: Reason) -> u64 {
        self.tallies.get(&(point.to_string(), reason)).map_or(0, |t| t.total)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_flood_is_one_line_per_interval() {
        // Given a 5-minute summary interval
        let mut log = RejectionLog::new(300_000);
        log.summarise_if_due(0);
        // When 10 000 malformed messages and 3 late ones arrive within the interval
        for _ in 0..10_000 {
            log.record("meter", Reason::Malformed, "not JSON");
        }
        for _ in 0..3 {
            log.record("temp", Reason::Late, "2 days late");
        }
        // Then nothing more is logged before the interval ends, two lines after it
        assert_eq!(log.summarise_if_due(299_999), 0);
        assert_eq!(log.summarise_if_due(300_000), 2);
        assert_eq!(log.summarise_if_due(900_000), 0, "nothing new, nothing logged");
        assert_eq!(log.total("meter", Reason::Malformed), 10_000);
        assert_eq!(log.total("temp", Reason::Late), 3);
    }
}
