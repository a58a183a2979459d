//! Time as the agent sees it. The wall clock judges whether a reading is from the future;
//! the agent's "now" (retention, summaries, status) is either the wall clock or, in event
//! mode, the newest accepted reading, so a replayed year behaves exactly as a lived one.

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ClockMode {
    /// "Now" is the wall clock: live operation.
    Wall,
    /// "Now" follows the newest accepted reading: replays run at the speed of the data.
    Event,
}

type WallFn = dyn Fn() -> i64 + Send + Sync;

/// Epoch milliseconds as the ISO 8601 UTC text every published message uses
/// (`2019-01-07T10:00:00Z`).
pub fn iso(ms: i64) -> String {
    chrono::DateTime::<chrono::Utc>::from_timestamp_millis(ms)
        .unwrap_or_default()
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

#[derive(Clone)]
pub struct Clock {
    mode: ClockMode,
    watermark: Arc<AtomicI64>,
    wall: Arc<WallFn>,
}

impl std::fmt::Debug for Clock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Clock").field("mode", &self.mode).field("watermark", &self.watermark).finish()
    }
}

const NO_DATA: i64 = i64::MIN;

impl Clock {
    pub fn system(mode: ClockMode) -> Self {
        Self::with_wall(mode, || chrono::Utc::now().timestamp_millis())
    }

    /// A clock whose wall time is given, for tests.
    pub fn with_wall(mode: ClockMode, wall: impl Fn() -> i64 + Send + Sync + 'static) -> Self {
        Self { mode, watermark: Arc::new(AtomicI64::new(NO_DATA)), wall: Arc::new(wall) }
    }

    pub fn mode(&self) -> ClockMode {
        self.mode
    }

    pub fn wall_ms(&self) -> i64 {
        (self.wall)()
    }

    /// The agent's now. In event mode, before any data, it is the wall clock.
    pub fn now_ms(&self) -> i64 {
        match (self.mode, self.watermark.load(Ordering::Relaxed)) {
            (ClockMode::Event, at) if at != NO_DATA => at,
            _ => self.wall_ms(),
        }
    }

    /// In event mode before any data: the agent has no "now" of its own yet.
    pub fn awaits_data(&self) -> bool {
        self.mode == ClockMode::Event && self.watermark.load(Ordering::Relaxed) == NO_DATA
    }

    /// Moves event time forward to `ts_ms` if it is newer. Event time never goes back.
    pub fn observe(&self, ts_ms: i64) {
        self.watermark.fetch_max(ts_ms, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn event_time_follows_the_newest_data_and_never_goes_back() {
        let clock = Clock::with_wall(ClockMode::Event, || 5_000);
        assert_eq!(clock.now_ms(), 5_000, "no data yet: wall time");
        clock.observe(1_000);
        clock.observe(3_000);
        clock.observe(2_000);
        assert_eq!(clock.now_ms(), 3_000);
        let wall = Clock::with_wall(ClockMode::Wall, || 5_000);
        wall.observe(9_000);
        assert_eq!(wall.now_ms(), 5_000, "wall mode ignores data");
    }
}
