//! Warnings that a flood cannot turn into a flood of log lines: at most one line per interval,
//! saying how many were held back since the last.

use std::sync::Mutex;
use std::time::Duration;
use tokio::time::Instant;

#[derive(Debug)]
pub struct Quiet {
    every: Duration,
    state: Mutex<QuietState>,
}

#[derive(Debug, Default)]
struct QuietState {
    last: Option<Instant>,
    held: u64,
}

impl Quiet {
    pub fn new(every: Duration) -> Self {
        Self { every, state: Mutex::new(QuietState::default()) }
    }

    /// `Some(held back since the last line)` when a line may be written now; `None` when this
    /// one is held back (and counted).
    pub fn allow(&self) -> Option<u64> {
        let now = Instant::now();
        // A poisoned lock only means another thread panicked mid-count: the count is still usable.
        let mut s = self.state.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if s.last.is_some_and(|last| now.duration_since(last) < self.every) {
            s.held += 1;
            return None;
        }
        s.last = Some(now);
        Some(std::mem::take(&mut s.held))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn one_line_per_interval_with_the_count_held_back() {
        // Given a limit of one line a minute
        let quiet = Quiet::new(Duration::from_secs(60));
        // When 1000 warnings come at once, Then the first is written and the rest held back
        assert_eq!(quiet.allow(), Some(0));
        assert_eq!((0..999).filter_map(|_| quiet.allow()).count(), 0);
        // When a minute has passed, Then the next line says 999 were held back
        tokio::time::advance(Duration::from_secs(60)).await;
        assert_eq!(quiet.allow(), Some(999));
        assert_eq!(quiet.allow(), None);
    }
}
