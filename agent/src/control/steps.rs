//! The step clock, in event time: a control step closes once every zone point has reported for
//! it, so the controller decides on a whole picture of the building; a point fallen silent
//! holds nobody back past the next step (data running a step beyond closes it without it).

/// Per waited-for point, the newest reading's time, and the next boundary to close.
#[derive(Debug)]
pub(crate) struct StepClock {
    step_ms: i64,
    /// By point index; `None` until a waited-for point reports; points not waited for are
    /// always in.
    seen: Vec<Option<i64>>,
    waited_for: Vec<bool>,
    next_ms: Option<i64>,
}

impl StepClock {
    /// Steps of `step_ms`, waiting for the points `waited_for` marks (by point index).
    pub(crate) fn new(step_ms: i64, waited_for: Vec<bool>) -> Self {
        let seen = waited_for.iter().map(|&w| if w { None } else { Some(i64::MAX) }).collect();
        Self { step_ms, seen, waited_for, next_ms: None }
    }

    /// The step boundary a reading of `point` at `ts_ms` closes, if any (at most one; a gap
    /// skips ahead). Points not waited for close nothing.
    pub(crate) fn close(&mut self, point: usize, ts_ms: i64) -> Option<i64> {
        if !self.waited_for.get(point).copied().unwrap_or(false) {
            return None;
        }
        if let Some(seen) = self.seen.get_mut(point) {
            *seen = Some(seen.map_or(ts_ms, |s| s.max(ts_ms)));
        }
        let boundary = ts_ms - ts_ms.rem_euclid(self.step_ms);
        let next = *self.next_ms.get_or_insert(boundary);
        let all_in = self.seen.iter().all(|s| s.is_some_and(|s| s >= next));
        let late = ts_ms >= next + self.step_ms;
        if !(all_in || late) {
            return None;
        }
        let closed = if late { boundary.max(next) } else { next };
        self.next_ms = Some(closed + self.step_ms);
        Some(closed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const Q: i64 = 900_000;

    #[test]
    fn a_step_closes_once_every_point_has_reported_for_it_or_when_data_runs_past_it() {
        // Given three zone points and 15-minute steps
        let mut s = StepClock::new(Q, vec![true; 3]);
        // When the first two report for 08:00 (step 32), Then nothing closes
        assert_eq!(s.close(0, 32 * Q), None);
        assert_eq!(s.close(1, 32 * Q), None);
        // When the third does, Then the step closes
        assert_eq!(s.close(2, 32 * Q), Some(32 * Q));
        // When one point falls silent and the others report two steps on, Then the step closes
        // without it, once
        assert_eq!(s.close(0, 33 * Q), None);
        assert_eq!(s.close(1, 34 * Q), Some(34 * Q));
        assert_eq!(s.close(0, 34 * Q), None);
    }

    #[test]
    fn points_not_waited_for_neither_hold_a_step_back_nor_close_one() {
        // Given a zone point and an outdoor point
        let mut s = StepClock::new(Q, vec![true, false]);
        // When only the outdoor point reports, even far ahead, Then nothing closes
        assert_eq!(s.close(1, 32 * Q), None);
        assert_eq!(s.close(1, 40 * Q), None);
        // When the zone point reports, Then its step closes without waiting for the outdoor one
        assert_eq!(s.close(0, 32 * Q), Some(32 * Q));
        // And a point the site does not have closes nothing
        assert_eq!(s.close(9, 50 * Q), None);
    }
}
