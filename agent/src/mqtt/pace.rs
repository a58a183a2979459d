//! When the link reads the broker: as messages come, or, while they trickle in, a pace's worth
//! at a time.
//!
//! A building's devices report one by one: 1,000 points every 10 s is a message every 10 ms,
//! and waking the agent for each cost more than storing it (the kernel's wake-up, the runtime's
//! turn, ingest's and the writer's). Readings wait for the writer's commit (a second by
//! default) anyway, so once the socket runs dry and the last second brought at least two
//! messages per `PACE`, the link asks the kernel to wake it only once a `PACE`'s worth of bytes
//! waits (`low_water`), or, if the stream slows, after four times as long as that should take.
//! A fast stream (a replay, a backlog after a restart) crosses its mark (at most 16 KiB) in
//! milliseconds; a lone message is read as it comes. A command or an acknowledgement from the
//! broker waits at most `PACE * HOLD_FILLS` (200 ms) more.
//!
//! Only the kernel's mark, never a pause in polling: the event loop is polled as before, so its
//! requests (acknowledgements, the agent's publishes) and keep-alive never wait for a pace.
//! The hold's deadline is only a bound: a tokio timer that fires crossing one of the wheel's
//! 64 ms slots wakes the runtime twice, at the slot and at the deadline, so the mark, not a
//! timer, ends each pace.

use std::time::Duration;
use tokio::time::Instant;

/// The time's worth of bytes a read waits for while messages trickle in.
pub const PACE: Duration = Duration::from_millis(50);
/// How long a hold lasts at most, in the times the mark takes to fill at the last second's
/// rate (at most `PACE`): long enough that the mark, not the timer, ends it; short enough that
/// the tail of a fast stream waits milliseconds, not a pace.
const HOLD_FILLS: u32 = 4;
/// Over how long the rate is measured.
const WINDOW: Duration = Duration::from_secs(1);
/// Messages per `PACE` under which holding gains nothing: the timer would wake the link as
/// often as the messages do.
const TRICKLE: f64 = 2.0;
/// The most bytes the link waits for: a burst bigger than this is read as it comes.
const MARK_MOST: usize = 16 * 1024;

#[derive(Debug)]
pub struct Pace {
    window: Instant,
    messages: usize,
    bytes: usize,
    /// Messages and bytes per second over the last whole window.
    rate: (f64, f64),
    read_since_dry: bool,
    until: Option<Instant>,
}

impl Pace {
    pub fn new(now: Instant) -> Self {
        Pace { window: now, messages: 0, bytes: 0, rate: (0.0, 0.0), read_since_dry: false, until: None }
    }

    /// A message of about `bytes` on the wire was read.
    pub fn read(&mut self, bytes: usize) {
        self.messages += 1;
        self.bytes += bytes;
        self.read_since_dry = true;
    }

    /// Nothing is ready at `now`. After a read, the low-water mark the socket should have
    /// (1: wake for anything); `None` leaves it as it is (nothing read since the last time:
    /// raising the mark again before the runtime has seen the data a lowered one signalled
    /// would hide it until the next pace).
    pub fn dry(&mut self, now: Instant) -> Option<usize> {
        let elapsed = now.saturating_duration_since(self.window);
        if elapsed >= WINDOW {
            let s = elapsed.as_secs_f64();
            self.rate = (self.messages as f64 / s, self.bytes as f64 / s);
            (self.window, self.messages, self.bytes) = (now, 0, 0);
        }
        if !std::mem::take(&mut self.read_since_dry) {
            return None;
        }
        let (messages, bytes) = self.rate;
        if messages * PACE.as_secs_f64() < TRICKLE {
            self.until = None;
            return Some(1);
        }
        let mark = ((bytes * PACE.as_secs_f64()) as usize).clamp(1, MARK_MOST);
        // Integer nanoseconds: from_secs_f64's panic and its message are bytes on the box.
        let fill = Duration::from_nanos((mark as f64 / bytes * 1e9) as u64).min(PACE);
        self.until = Some(now + fill * HOLD_FILLS);
        Some(mark)
    }

    /// Until when reads are held, if they are.
    pub fn until(&self) -> Option<Instant> {
        self.until
    }

    /// The hold is over (its time ran out, or the link stops): read as messages come.
    pub fn release(&mut self) {
        self.until = None;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A steady stream of `per_s` messages of `size` bytes for two seconds, read one at a time
    /// and the socket running dry after each; the mark asked for after the last one.
    fn steady(per_s: u32, size: usize) -> (Pace, Option<usize>, Instant) {
        let start = Instant::now();
        let mut pace = Pace::new(start);
        let gap = Duration::from_secs(1) / per_s;
        let mut mark = None;
        for k in 0..2 * per_s {
            pace.read(size);
            mark = pace.dry(start + gap * (k + 1));
        }
        (pace, mark, start + gap * 2 * per_s)
    }

    #[test]
    fn the_mark_follows_the_rate_a_pace_at_a_time() {
        struct Case {
            per_s: u32,
            size: usize,
            mark: usize,
            hold: Option<Duration>,
        }
        let cases = [
            // One message a second, or ten: one wake-up per message is no more than a pace's.
            Case { per_s: 1, size: 60, mark: 1, hold: None },
            Case { per_s: 10, size: 60, mark: 1, hold: None },
            // 1,000 points every 10 s: five messages per pace, read at once.
            Case { per_s: 100, size: 60, mark: 300, hold: Some(PACE * HOLD_FILLS) },
            // A replay: the mark stops at 16 KiB, crossed in under 3 ms; so is the hold's end.
            Case { per_s: 20_000, size: 300, mark: MARK_MOST, hold: Some(Duration::from_micros(2731 * 4)) },
        ];
        for Case { per_s, size, mark, hold } in cases {
            // Given a steady stream, When the socket runs dry
            let (pace, asked, end) = steady(per_s, size);
            // Then the mark is a pace's worth of bytes, and a hold ends after a few times
            // the mark takes to fill
            let asked = asked.expect("a mark after a read");
            assert!(asked.abs_diff(mark) <= mark / 50, "{per_s}/s of {size} B: mark {asked}, want {mark}");
            let held = pace.until().map(|until| until - end);
            match (held, hold) {
                (Some(held), Some(hold)) => {
                    assert!(held.abs_diff(hold) < hold / 50, "{per_s}/s: held {held:?}, want {hold:?}")
                }
                _ => assert_eq!(held, hold, "{per_s}/s"),
            }
        }
    }

    #[test]
    fn nothing_read_since_the_last_dry_leaves_the_mark_alone() {
        // Given a trickle held at its mark, released when its time ran out
        let (mut pace, _, end) = steady(100, 60);
        pace.release();
        // When the socket is found dry again with nothing read (the lowered mark's data not
        // seen by the runtime yet)
        // Then the mark stays at 1 until something is read
        assert_eq!(pace.dry(end + Duration::from_millis(1)), None);
        assert_eq!(pace.until(), None);
        pace.read(60);
        assert_eq!(pace.dry(end + Duration::from_millis(2)), Some(300));
    }

    #[test]
    fn a_stream_that_stops_goes_back_to_reading_as_messages_come() {
        // Given a trickle held at its mark
        let (mut pace, _, end) = steady(100, 60);
        // When a second goes by with one message
        pace.read(60);
        // Then the rate of that window says a lone message: wake for anything
        assert_eq!(pace.dry(end + WINDOW + Duration::from_millis(10)), Some(1));
        assert_eq!(pace.until(), None);
    }
}
