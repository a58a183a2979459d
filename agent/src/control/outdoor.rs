//! The last day of outdoor readings: the newest holds a flex event's forecast, their mean
//! stands in for a forecast of the next day (the agent has no weather forecast).

use std::collections::VecDeque;

const DAY_MS: i64 = 86_400_000;

#[derive(Debug, Default)]
pub(crate) struct OutdoorDay(VecDeque<(i64, f64)>);

impl OutdoorDay {
    pub(crate) fn observe(&mut self, ts_ms: i64, value: f64) {
        self.0.push_back((ts_ms, value));
        while self.0.front().is_some_and(|(t, _)| *t <= ts_ms - DAY_MS) {
            self.0.pop_front();
        }
    }

    pub(crate) fn latest(&self) -> Option<f64> {
        self.0.back().map(|(_, v)| *v)
    }

    /// The mean of the day's readings; `None` before any.
    pub(crate) fn mean(&self) -> Option<f64> {
        (!self.0.is_empty()).then(|| self.0.iter().map(|(_, v)| v).sum::<f64>() / self.0.len() as f64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_day_of_readings_is_kept_the_newest_and_their_mean_read_from_it() {
        // Given no reading, Then neither a latest nor a mean
        let mut day = OutdoorDay::default();
        assert_eq!((day.latest(), day.mean()), (None, None));
        // When it read 2 °C, then 4 °C twelve hours later, Then the mean is 3 °C
        day.observe(0, 2.0);
        day.observe(DAY_MS / 2, 4.0);
        assert_eq!((day.latest(), day.mean()), (Some(4.0), Some(3.0)));
        // When a reading comes a day after the first, Then the first is forgotten
        day.observe(DAY_MS, 8.0);
        assert_eq!((day.latest(), day.mean()), (Some(8.0), Some(6.0)));
    }
}
