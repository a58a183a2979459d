//! A batch's rollups, summed in memory before they are written. A reading is added once, to
//! its point's quarter-hour; the hours, days and months are summed from the quarter-hours when
//! the batch is written. Every zone's offset is a multiple of 15 minutes, so a quarter-hour
//! lies in one hour, day and month, except in the local-mean-time offsets of zones before
//! 1900: the quarter-hour is therefore kept with the local day its readings fall in.
//!
//! Each point's quarter-hours are a list, not a map: a reading adds to the list's last entry
//! when it falls in the same quarter-hour (a device's readings come in order), else it opens
//! an entry, and a quarter-hour met again out of order only opens another. Writing the batch
//! sorts each point's list, so a bucket's quarter-hours lie together, whatever the order of
//! arrival: every step is constant or a sort, so a catch-up whose batch holds 2,000
//! quarter-hours of one point costs no more per reading than live ingest. Four bucket keys
//! hashed per reading had cost about 1,500 instructions more per reading at 1,000 points
//! (callgrind, README "Less work per reading").

use super::rollup::{quarter_pieces, Calendar, Resolution, Spans};
use crate::reading::Reading;

/// Sums of a bucket's readings (or of what the batch adds to it).
#[derive(Debug, Default, Clone, Copy, PartialEq)]
pub(crate) struct Acc {
    pub n: i64,
    pub sum: f64,
    pub min: f64,
    pub max: f64,
    pub kwh: f64,
    pub covered_s: f64,
}

impl Acc {
    /// Nothing yet: the identity of every field's sum, min and max.
    pub const EMPTY: Acc = Acc { n: 0, sum: 0.0, min: f64::INFINITY, max: f64::NEG_INFINITY, kwh: 0.0, covered_s: 0.0 };

    pub fn merge(&mut self, other: &Acc) {
        self.n += other.n;
        self.sum += other.sum;
        self.min = self.min.min(other.min);
        self.max = self.max.max(other.max);
        self.kwh += other.kwh;
        self.covered_s += other.covered_s;
    }

    fn of(contribution: &Acc) -> Acc {
        let mut acc = Acc::EMPTY;
        acc.merge(contribution);
        acc
    }
}

/// The quarter-hour a reading falls in, and the local day.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Quarter {
    start_ms: i64,
    day_ms: i64,
}

#[derive(Debug, Default)]
pub(super) struct Rollups {
    /// By point index: the batch's quarter-hours of that point, in the order first added.
    quarters: Vec<Vec<(Quarter, Acc)>>,
    /// The points with quarter-hours, in the order first added.
    touched: Vec<usize>,
    /// One point's buckets while they are summed (room reused from batch to batch).
    buckets: Vec<((Resolution, i64), Acc)>,
    spans: Spans,
}

impl Rollups {
    /// Adds a stored reading of a point (an energy point when `energy`).
    pub fn add(&mut self, calendar: &Calendar, energy: bool, r: &Reading) {
        match r.energy {
            Some(span) if span.end_ms > span.start_ms => {
                let total_ms = (span.end_ms - span.start_ms) as f64;
                for (i, (from, to)) in quarter_pieces(span.start_ms, span.end_ms).enumerate() {
                    let share = (to - from) as f64 / total_ms;
                    // The reading counts once, in the bucket where its interval starts.
                    let n = i64::from(i == 0);
                    let covered_s = (to - from) as f64 / 1000.0;
                    self.add_at(calendar, r.point, from, Acc { n, kwh: span.kwh * share, covered_s, ..Acc::EMPTY });
                }
            }
            Some(_) => {}
            None if energy => {}
            None => self.add_at(
                calendar,
                r.point,
                r.ts_ms,
                Acc { n: 1, sum: r.value, min: r.value, max: r.value, ..Acc::EMPTY },
            ),
        }
    }

    fn add_at(&mut self, calendar: &Calendar, point: usize, ts_ms: i64, contribution: Acc) {
        let quarter = Quarter {
            start_ms: calendar.start(Resolution::QuarterHour, ts_ms, &mut self.spans),
            day_ms: calendar.start(Resolution::Day, ts_ms, &mut self.spans),
        };
        if point >= self.quarters.len() {
            self.quarters.resize_with(point + 1, Vec::new);
        }
        let quarters = &mut self.quarters[point];
        if quarters.is_empty() {
            self.touched.push(point);
        }
        match quarters.last_mut() {
            Some((last, sums)) if *last == quarter => sums.merge(&contribution),
            _ => quarters.push((quarter, Acc::of(&contribution))),
        }
    }

    /// Calls `write` once with every bucket of every resolution the batch added to, and its
    /// sums: point after point, each point's buckets in time order within a resolution.
    pub fn each_bucket<E>(
        &mut self,
        calendar: &Calendar,
        mut write: impl FnMut((usize, Resolution, i64), &Acc) -> Result<(), E>,
    ) -> Result<(), E> {
        for &point in &self.touched {
            let quarters = &mut self.quarters[point];
            // In time order, the quarter-hours of one bucket of any resolution lie together.
            quarters.sort_unstable_by_key(|(quarter, _)| (quarter.start_ms, quarter.day_ms));
            self.buckets.clear();
            // By resolution: where its newest bucket sits in `buckets`.
            let mut newest: [Option<usize>; Resolution::ALL.len()] = [None; Resolution::ALL.len()];
            for (quarter, acc) in quarters.iter() {
                let month_ms = calendar.start(Resolution::Month, quarter.day_ms, &mut self.spans);
                let hour_ms = calendar.start(Resolution::Hour, quarter.start_ms, &mut self.spans);
                for key in [
                    (Resolution::QuarterHour, quarter.start_ms),
                    (Resolution::Hour, hour_ms),
                    (Resolution::Day, quarter.day_ms),
                    (Resolution::Month, month_ms),
                ] {
                    let slot = &mut newest[key.0 as usize];
                    match slot.map(|at| &mut self.buckets[at]) {
                        Some((newest_key, sums)) if *newest_key == key => sums.merge(acc),
                        _ => {
                            *slot = Some(self.buckets.len());
                            self.buckets.push((key, Acc::of(acc)));
                        }
                    }
                }
            }
            for &((resolution, start_ms), acc) in &self.buckets {
                write((point, resolution, start_ms), &acc)?;
            }
        }
        Ok(())
    }

    /// Empties the batch; the room is kept for the next.
    pub fn clear(&mut self) {
        for &point in &self.touched {
            self.quarters[point].clear();
        }
        self.touched.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{DateTime, Datelike};
    use std::collections::BTreeMap;

    fn ms(iso: &str) -> i64 {
        DateTime::parse_from_rfc3339(iso).map(|t| t.timestamp_millis()).expect("test timestamp")
    }

    /// The bucket a reading at `ts_ms` falls in, worked out on its own from the calendar.
    fn plain_start(calendar: &Calendar, resolution: Resolution, ts_ms: i64) -> i64 {
        let date = calendar.local_date(ts_ms);
        match resolution {
            Resolution::QuarterHour => ts_ms.div_euclid(15 * 60_000) * 15 * 60_000,
            Resolution::Hour => ts_ms.div_euclid(3_600_000) * 3_600_000,
            Resolution::Day => calendar.local_midnight(date),
            Resolution::Month => calendar.local_midnight(date.with_day(1).expect("a month's first day")),
        }
    }

    #[test]
    fn every_bucket_sums_the_readings_that_fall_in_it() {
        // Given two points' readings interleaved, every 7 minutes across a month's end and
        // Paris's spring DST change, and a few in Paris's local mean time of 1890 (+0:09:21),
        // where a quarter-hour starts on the local day before its readings
        let calendar = Calendar { tz: chrono_tz::Europe::Paris };
        let minute = 60_000;
        let instants: Vec<i64> = [ms("2024-03-31T00:31:00Z"), ms("2024-03-30T21:40:00Z")]
            .iter()
            .flat_map(|&from| (0..80).map(move |i| from + i * 7 * minute))
            .chain([ms("1889-12-31T23:50:00Z"), ms("1889-12-31T23:52:00Z"), ms("1889-12-31T23:58:00Z")])
            .collect();
        let readings: Vec<Reading> = instants
            .iter()
            .enumerate()
            .map(|(i, &ts_ms)| Reading { point: i % 2, ts_ms, value: (i % 11) as f64 - 3.5, energy: None })
            .collect();
        // When they are added to one batch and its buckets read
        let mut rollups = Rollups::default();
        for r in &readings {
            rollups.add(&calendar, false, r);
        }
        let mut summed = BTreeMap::new();
        rollups
            .each_bucket(&calendar, |bucket, acc| {
                assert!(summed.insert(bucket, *acc).is_none(), "{bucket:?} given twice");
                Ok::<_, ()>(())
            })
            .expect("nothing fails");
        // Then each bucket holds exactly the readings that fall in it, whichever way it is summed
        let mut plain: BTreeMap<(usize, Resolution, i64), Acc> = BTreeMap::new();
        for r in &readings {
            for resolution in Resolution::ALL {
                let acc = Acc { n: 1, sum: r.value, min: r.value, max: r.value, ..Acc::EMPTY };
                plain
                    .entry((r.point, resolution, plain_start(&calendar, resolution, r.ts_ms)))
                    .or_insert(Acc::EMPTY)
                    .merge(&acc);
            }
        }
        assert_eq!(summed.keys().collect::<Vec<_>>(), plain.keys().collect::<Vec<_>>());
        for (bucket, acc) in &plain {
            let got = summed[bucket];
            assert_eq!((got.n, got.min, got.max), (acc.n, acc.min, acc.max), "{bucket:?}");
            assert!((got.sum - acc.sum).abs() < 1e-9, "{bucket:?}: {} against {}", got.sum, acc.sum);
        }
        // And an emptied batch gives nothing
        rollups.clear();
        let mut after = 0;
        rollups
            .each_bucket(&calendar, |_, _| {
                after += 1;
                Ok::<_, ()>(())
            })
            .expect("nothing fails");
        assert_eq!(after, 0);
    }
}
