//! Reconnect delays: exponential from `min` to `max`, with "equal jitter" (a random half of
//! the delay) so that a building's gateways do not reconnect in lockstep after a broker restart.

use std::time::Duration;

#[derive(Debug, Clone)]
pub struct Backoff {
    min: Duration,
    max: Duration,
    attempt: u32,
}

impl Backoff {
    pub fn new(min: Duration, max: Duration) -> Self {
        Self { min, max: max.max(min), attempt: 0 }
    }

    /// The next delay; `unit` is a random number in [0, 1).
    pub fn next_delay(&mut self, unit: f64) -> Duration {
        let factor = 2u32.saturating_pow(self.attempt.min(20));
        let ceiling = self.min.saturating_mul(factor).min(self.max);
        self.attempt = self.attempt.saturating_add(1);
        ceiling.mul_f64(0.5 + 0.5 * unit.clamp(0.0, 1.0))
    }

    pub fn reset(&mut self) {
        self.attempt = 0;
    }

    pub fn attempt(&self) -> u32 {
        self.attempt
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn doubles_up_to_the_cap_with_jitter_and_resets() {
        let mut b = Backoff::new(Duration::from_millis(250), Duration::from_secs(2));
        let ceilings: Vec<_> = (0..6).map(|_| b.next_delay(1.0)).collect();
        let ms: Vec<_> = ceilings.iter().map(|d| d.as_millis()).collect();
        assert_eq!(ms, [250, 500, 1000, 2000, 2000, 2000]);
        let low = b.next_delay(0.0);
        assert_eq!(low, Duration::from_secs(1), "jitter keeps at least half the delay");
        b.reset();
        assert_eq!(b.next_delay(1.0), Duration::from_millis(250));
        for _ in 0..100 {
            assert!(b.next_delay(0.999) <= Duration::from_secs(2), "never above the cap");
        }
    }
}
