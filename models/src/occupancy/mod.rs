//! Occupancy from a zone's CO₂: whether anyone is in, quarter-hour by quarter-hour, read from
//! the CO₂ that people breathe out, without knowing how the room is ventilated.
//!
//! # The detector
//!
//! A well-mixed room obeys V·dC/dt = G·n − Q·(C − C₀): people (n, each breathing out G) raise
//! the concentration C, ventilation Q pulls it back towards the background C₀. Inverted, it
//! gives the generation people cause, per volume:
//!
//! ĝ = dC/dt + k·(C − C₀), with k = Q/V,
//!
//! which stays near 0 while the room is empty, whatever its level (a room emptying decays as
//! dC/dt = −k·(C − C₀)), and is clearly positive while people are in, whether the CO₂ is
//! climbing (rise) or held up by the ventilation (level). The detector:
//!
//! 1. drops impossible readings (not finite, ≤ 0 or above 20 000 ppm), bridges gaps of up to
//!    an hour by straight lines and leaves longer ones unknown;
//! 2. measures the sensor's noise σ from the second differences of the readings (robust: a
//!    median), and smooths them over five steps;
//! 3. takes the background C₀ as the 5th percentile of two-hour means (the room at rest over
//!    nights and weekends, outdoors plus whatever the building adds; means, because noise
//!    would pull a low percentile of single readings below it), and counts an excess within
//!    the smoothed noise of it as none;
//! 4. learns k from the falls after people leave: each stretch where the smoothed excess falls
//!    step after step from well above noise, read over its first 1.5 e-folds (before a
//!    ventilation that stops in the evening slows it) and past its first half e-fold (people
//!    leaving one by one slow its start), gives a decay rate ln(e_start/e_end)/duration; per
//!    day the largest fall (in ln e) is the departure's; k is the median over days. Without
//!    three such falls it keeps a slow default (0.3 /h): a k too low only makes an empty room
//!    decaying look emptier, one too high would make it look occupied for hours;
//! 5. computes ĝ from the slope across two steps either side, and decides with hysteresis:
//!    in when ĝ rises above 3 σ_ĝ, out when it drops below 1 σ_ĝ but not below −2 σ_ĝ (a fall
//!    clearly faster than the empty room's decay is air renewed faster than at rest: a
//!    ventilation that runs with people, on presence or on demand, so people still in; the
//!    state holds until the fall slows to the empty room's rate), where σ_ĝ is the larger of
//!    the noise σ implies and the spread ĝ shows (its median absolute deviation: most steps
//!    are empty), grown with the level by a 15 % uncertainty of k (a room held thousands of
//!    ppm up turns a small error of k into a large ĝ); a single step between two of the other
//!    state takes theirs;
//! 6. sharpens each occupied stretch's edges on the readings themselves, which the smoothing
//!    spread: its first steps are dropped while the reading did not rise into them, its last
//!    while the next reading falls as an empty room does (one-step ĝ within its noise and the
//!    level's share of k's uncertainty, not 1.5 times that faster); where none was dropped,
//!    the steps after it are added while the next reading falls faster than the empty room's
//!    (up to four steps each way).
//!
//! Its confidence is the share of steps it could decide (not in a long gap) times the share
//! decided with a margin (ĝ more than σ_ĝ from the threshold that would flip it), lowered by
//! a quarter when k is the default rather than learned.
//!
//! # Measured error
//!
//! On the bench of [`synthetic`]: three runs of six weeks each of an office (10 m² a person,
//! gradual arrivals and departures, a lunch dip, absent days), a classroom (2 m² a person,
//! empty at lunch, Wednesday mornings) and a sporadically used meeting room, each under
//! natural, scheduled and demand-controlled ventilation, with sensor noise of 10 and 30 ppm,
//! 1 ppm quantisation and gaps (the test `co2_gives_occupancy_within_the_stated_error_under_
//! every_ventilation` prints each run):
//!
//! - 94.2–99.0 % of quarter-hours right (asserted ≥ 93 % in every run). The worst is an
//!   office under scheduled ventilation: once the ventilation stops at 19:00, the CO₂ left
//!   decays far slower than the k it learned while it ran, and some evenings read occupied;
//! - arrivals found within a median 12 min, departures 15 min over all runs (asserted
//!   ≤ 30 min); per run the medians stay within 35 and 38 min (asserted ≤ 40 min); 77 % of
//!   arrivals and 77 % of departures within 30 min, 97 % and 91 % within an hour;
//! - the worst day is hours off (a few in six weeks, from a burst of noise at night or a gap);
//! - the first and last one or two people in a large office breathe out too little to show at
//!   once: its arrivals and departures come out up to half an hour late and early.
//!
//! A room that thins out under a ventilation sized for all its people and running while any
//! of them is in (the emulated office's last hour: 60 % of the day's staff) is where it is
//! weakest. When the first leave, the level falls faster than the empty room decays, which
//! holds the zone occupied; but it then settles towards the lower level so fast that after
//! half an hour its fall is within a few ppm of an empty room's, and the ventilation stopping
//! with the last person changes the fall by less than the noise. Its departures come out a
//! median 30 min early there (`sim::detector_check`), and no rule on the readings alone can do
//! better: the last half hour leaves no trace in them.

pub mod synthetic;

use crate::stats::percentile;

/// Gaps up to this long are bridged by a straight line.
const BRIDGE_HOURS: f64 = 1.0;
/// Background: this low percentile of the smoothed readings.
const BACKGROUND_PERCENTILE: f64 = 0.05;
/// …of means over this many steps.
const BACKGROUND_WINDOW_STEPS: usize = 8;
/// ĝ is read from means over this many steps either side, and its slope across them.
const SMOOTH_STEPS: usize = 2;
/// A fall counts from an excess this many σ above the background, down to 2 σ.
const FALL_START_SIGMAS: f64 = 5.0;
const FALL_END_SIGMAS: f64 = 2.0;
/// …and this much excess at least, ppm: a room with ten quiet ppm of noise still needs a clear
/// fall.
const FALL_START_PPM: f64 = 100.0;
/// A fall is read over at most this drop in ln(excess), past the first half e-fold.
const FALL_LN_DROP: f64 = 1.5;
const FALL_SKIP_LN_DROP: f64 = 0.5;
/// Falls needed to trust the learned decay rate.
const FALLS_NEEDED: usize = 3;
/// Decay rate, per hour, when too few falls were seen: infiltration of a closed room.
const DEFAULT_DECAY_PER_HOUR: f64 = 0.3;
/// In above this many σ of ĝ, out below that many.
const ON_SIGMAS: f64 = 3.0;
const OFF_SIGMAS: f64 = 1.0;
/// ĝ below minus this many σ is a fall faster than the empty room's: the state holds.
const FASTER_SIGMAS: f64 = 2.0;
/// How well k is known, relatively.
const DECAY_RELATIVE_ERROR: f64 = 0.15;
/// A last step whose next reading falls faster than the empty room's by this many of the
/// one-step ĝ's σ stays occupied when the edges are sharpened (1.5: clear of the noise of a
/// single reading, which one σ is not).
const FASTER_MARGINS: f64 = 1.5;
/// Steps an edge may move when sharpened.
const EDGE_STEPS: usize = 2 * SMOOTH_STEPS;
/// The least generation that counts as people, ppm/h: one person in a large meeting room.
const MIN_GENERATION_PPM_PER_HOUR: f64 = 30.0;
/// Readings outside (0, this] ppm are impossible and dropped.
const MAX_PPM: f64 = 20_000.0;

/// How early the detector may find a day's last departure, minutes: the 90th percentile over
/// the emulated office's zone-days, whose last hour thins out under a ventilation sized for all
/// its people (see the module's doc; `sim::detector_check` holds it). A programme end moved by
/// no more than this is within what the CO₂ can tell.
pub const DEPARTURE_EARLY_MIN: f64 = 60.0;

/// Whether a zone was occupied, per step, and how sure the detector is.
#[derive(Debug, Clone, PartialEq)]
pub struct Detection {
    /// Per step of the input: `None` where the CO₂ was unknown for over an hour.
    pub occupied: Vec<Option<bool>>,
    /// 0–1: the share of steps decided, and decided with a margin (see the module's doc).
    pub confidence: f64,
    /// The background C₀ the excess is counted from, ppm.
    pub background_ppm: f64,
    /// k, per hour: learned from the falls after people leave, or the default.
    pub decay_per_hour: f64,
    pub decay_learned: bool,
    /// The sensor's noise σ as measured, ppm.
    pub noise_ppm: f64,
    /// ĝ above which a zone at its background counts as occupied, ppm/h (higher at higher levels).
    pub threshold_ppm_per_hour: f64,
    /// Readings dropped as impossible (not finite, ≤ 0 or above 20 000 ppm).
    pub rejected: usize,
}

/// Occupancy from one zone's CO₂ (ppm), one value per step of `step_hours` (0.25 for
/// quarter-hours). A step that is not positive and finite gives nothing known.
pub fn detect(co2: &[Option<f64>], step_hours: f64) -> Detection {
    let mut rejected = 0;
    let readings: Vec<Option<f64>> = co2
        .iter()
        .map(|v| {
            let ok = v.filter(|c| c.is_finite() && *c > 0.0 && *c <= MAX_PPM);
            rejected += usize::from(v.is_some() && ok.is_none());
            ok
        })
        .collect();
    let nothing = Detection {
        occupied: vec![None; co2.len()],
        confidence: 0.0,
        background_ppm: f64::NAN,
        decay_per_hour: DEFAULT_DECAY_PER_HOUR,
        decay_learned: false,
        noise_ppm: f64::NAN,
        threshold_ppm_per_hour: f64::NAN,
        rejected,
    };
    if !(step_hours.is_finite() && step_hours > 0.0) {
        return nothing;
    }
    let filled = bridge(&readings, (BRIDGE_HOURS / step_hours).round() as usize);
    let smooth = smoothed(&filled, SMOOTH_STEPS);
    // The background from two-hour means: the noise would pull a low percentile of single
    // readings below the room at rest.
    let calm = smoothed(&filled, BACKGROUND_WINDOW_STEPS.div_ceil(2));
    let Some(background) = percentile(calm.iter().flatten().copied().collect(), BACKGROUND_PERCENTILE) else {
        return nothing;
    };
    // Quantisation alone leaves about a third of a ppm.
    let noise = noise_sigma(&filled).unwrap_or(0.0).max(0.3);
    // Excess within the smoothed readings' noise of the background is none: at rest it would
    // otherwise read as a little generation, k times the noise.
    let width = (2 * SMOOTH_STEPS + 1) as f64;
    let dead_band = noise / width.sqrt();
    let excess: Vec<Option<f64>> = smooth
        .iter()
        .map(|s| s.map(|s| (s - background).signum() * ((s - background).abs() - dead_band).max(0.0)))
        .collect();
    let steps_per_day = (24.0 / step_hours).round().max(1.0) as usize;
    let learned = decay_rate(&excess, noise, step_hours, steps_per_day);
    let k = learned.unwrap_or(DEFAULT_DECAY_PER_HOUR);
    let generation: Vec<Option<f64>> =
        (0..smooth.len()).map(|i| Some(derivative(&smooth, i, SMOOTH_STEPS, step_hours)? + k * excess[i]?)).collect();
    // ĝ's noise: the central difference of means over 2m + 1 steps taken m steps either side
    // (2m readings in, 2m out: σ·√(4m)/(2m + 1) over 2m steps), and k times the smoothed
    // level's; or, if larger, the spread ĝ shows (most steps are empty: its median absolute
    // deviation is the empty room's).
    let m = SMOOTH_STEPS as f64;
    let analytic = (noise * (4.0 * m).sqrt() / width / (2.0 * m * step_hours)).hypot(k * noise / width.sqrt());
    let sigma_g = spread(&generation).map_or(analytic, |s| s.max(analytic));
    // k is known to some 15 %: in a room held thousands of ppm up, that error alone is a large
    // ĝ, so the thresholds grow with the level.
    let sigmas: Vec<f64> =
        excess.iter().map(|e| sigma_g.hypot(DECAY_RELATIVE_ERROR * k * e.unwrap_or(0.0).abs())).collect();
    let on = |i: usize| (ON_SIGMAS * sigmas[i]).max(MIN_GENERATION_PPM_PER_HOUR);
    let off = |i: usize| (OFF_SIGMAS * sigmas[i]).max(MIN_GENERATION_PPM_PER_HOUR / 3.0);
    // A fall clearly faster than the empty room's decay is air renewed faster than at rest: a
    // ventilation that runs with people (on presence, on demand) and so people still in.
    let faster = |i: usize| -(FASTER_SIGMAS * sigmas[i]).max(MIN_GENERATION_PPM_PER_HOUR / 3.0);
    let mut occupied = hysteresis(&generation, on, off, faster);
    settle_lone_steps(&mut occupied);
    // The smoothing spreads a sharp arrival or departure over the steps next to it: the edges
    // of each occupied stretch are checked on the readings themselves.
    let raw_sigma = std::f64::consts::SQRT_2 * noise / step_hours;
    sharpen_edges(&mut occupied, &filled, &excess, k, step_hours, raw_sigma);
    let decided = occupied.iter().filter(|o| o.is_some()).count();
    // Clear: ĝ more than σ_ĝ from the threshold that would flip the state.
    let clear = (0..occupied.len())
        .filter(|&i| match (occupied[i], generation[i]) {
            (Some(true), Some(g)) => g > off(i) + sigmas[i],
            (Some(false), Some(g)) => g < on(i) - sigmas[i],
            _ => false,
        })
        .count();
    let confidence = if co2.is_empty() || decided == 0 {
        0.0
    } else {
        let penalty = if learned.is_some() { 1.0 } else { 0.75 };
        decided as f64 / co2.len() as f64 * clear as f64 / decided as f64 * penalty
    };
    Detection {
        occupied,
        confidence,
        background_ppm: background,
        decay_per_hour: k,
        decay_learned: learned.is_some(),
        noise_ppm: noise,
        threshold_ppm_per_hour: (ON_SIGMAS * sigma_g).max(MIN_GENERATION_PPM_PER_HOUR),
        rejected,
    }
}

/// Gaps of up to `max_steps` between two readings bridged by a straight line.
fn bridge(readings: &[Option<f64>], max_steps: usize) -> Vec<Option<f64>> {
    let mut out = readings.to_vec();
    let mut last: Option<(usize, f64)> = None;
    for (i, v) in readings.iter().enumerate() {
        let Some(v) = *v else { continue };
        if let Some((j, u)) = last {
            let gap = i - j - 1;
            if gap > 0 && gap <= max_steps {
                for (n, slot) in out[j + 1..i].iter_mut().enumerate() {
                    *slot = Some(u + (v - u) * (n + 1) as f64 / (i - j) as f64);
                }
            }
        }
        last = Some((i, v));
    }
    out
}

/// Each known step as the mean of itself and its known neighbours up to `half` steps away.
fn smoothed(x: &[Option<f64>], half: usize) -> Vec<Option<f64>> {
    (0..x.len())
        .map(|i| {
            x[i]?;
            let window = &x[i.saturating_sub(half)..(i + half + 1).min(x.len())];
            let known: Vec<f64> = window.iter().flatten().copied().collect();
            Some(known.iter().sum::<f64>() / known.len() as f64)
        })
        .collect()
}

/// The sensor's σ from the median absolute second difference (a straight or gently curved
/// series has none; a step changes only a few of them).
fn noise_sigma(x: &[Option<f64>]) -> Option<f64> {
    let d2: Vec<f64> = x.windows(3).filter_map(|w| Some((w[2]? - 2.0 * w[1]? + w[0]?).abs())).collect();
    // For Gaussian noise, median |d2| = 0.6745 · √6 · σ.
    percentile(d2, 0.5).map(|m| m / (0.6745 * 6f64.sqrt()))
}

/// The slope at step `i` between the steps `m` before and after it (one side only at an edge
/// of the known readings).
fn derivative(s: &[Option<f64>], i: usize, m: usize, h: f64) -> Option<f64> {
    let before = i.checked_sub(m).and_then(|j| s[j]);
    let after = s.get(i + m).copied().flatten();
    let span = m as f64 * h;
    match (before, s[i], after) {
        (Some(b), _, Some(a)) => Some((a - b) / (2.0 * span)),
        (Some(b), Some(c), None) => Some((c - b) / span),
        (None, Some(c), Some(a)) => Some((a - c) / span),
        _ => None,
    }
}

/// The room's decay rate per hour, learned from each day's largest fall; `None` without
/// enough falls.
fn decay_rate(excess: &[Option<f64>], noise: f64, h: f64, steps_per_day: usize) -> Option<f64> {
    let start_floor = (FALL_START_SIGMAS * noise).max(FALL_START_PPM);
    let end_floor = FALL_END_SIGMAS * noise;
    // Per day: (fall in ln e, rate).
    let mut largest: std::collections::BTreeMap<usize, (f64, f64)> = Default::default();
    let mut i = 0;
    while i + 1 < excess.len() {
        let Some(top) = excess[i].filter(|e| *e >= start_floor) else {
            i += 1;
            continue;
        };
        let mut j = i;
        while let (Some(now), Some(next)) = (excess[j], excess.get(j + 1).copied().flatten()) {
            // The first e-folds of a fall are the room's own decay; below, a ventilation that
            // stopped meanwhile would slow it.
            if next >= now || next <= end_floor.max(top * (-FALL_LN_DROP).exp()) {
                break;
            }
            j += 1;
        }
        // The rate past the fall's first half e-fold: people leaving one by one slow its start.
        let a = (i..=j).find(|&a| excess[a].is_some_and(|e| e <= top * (-FALL_SKIP_LN_DROP).exp())).unwrap_or(i);
        // (a fall too fast to leave two steps past it is read whole)
        let a = if j >= a + 2 { a } else { i };
        if let (true, Some(start), Some(bottom)) = (j >= i + 2, excess[a], excess[j]) {
            let drop = (top / bottom).ln();
            let day = largest.entry(i / steps_per_day).or_insert((0.0, 0.0));
            if drop > day.0 {
                *day = (drop, (start / bottom).ln() / ((j - a) as f64 * h));
            }
        }
        i = j.max(i + 1);
    }
    if largest.len() < FALLS_NEEDED {
        return None;
    }
    percentile(largest.values().map(|(_, rate)| *rate).collect(), 0.5)
}

/// The spread of ĝ around its median (1.4826 × the median absolute deviation).
fn spread(generation: &[Option<f64>]) -> Option<f64> {
    let values: Vec<f64> = generation.iter().flatten().copied().collect();
    let centre = percentile(values.clone(), 0.5)?;
    percentile(values.iter().map(|g| (g - centre).abs()).collect(), 0.5).map(|m| 1.4826 * m)
}

/// Moves each occupied stretch's first step out while the reading did not rise into it, and
/// its last step out while the next reading falls as an empty room does (ĝ from one-step
/// differences below one σ of them), at most [`EDGE_STEPS`] at each end.
fn sharpen_edges(occupied: &mut [Option<bool>], x: &[Option<f64>], excess: &[Option<f64>], k: f64, h: f64, sigma: f64) {
    // One σ of the one-step ĝ, and what k's own uncertainty makes of the level.
    let margin = |i: usize| sigma + DECAY_RELATIVE_ERROR * k * excess[i].unwrap_or(0.0).abs();
    let generation =
        |from: usize, to: usize, at: usize| -> Option<f64> { Some((x[to]? - x[from]?) / h + k * excess[at]?) };
    let runs: Vec<(usize, usize)> = {
        let mut runs = Vec::new();
        let mut start = None;
        for i in 0..=occupied.len() {
            let on = occupied.get(i).copied().flatten() == Some(true);
            match (on, start) {
                (true, None) => start = Some(i),
                (false, Some(a)) => {
                    runs.push((a, i - 1));
                    start = None;
                }
                _ => {}
            }
        }
        runs
    };
    for (mut a, mut b) in runs {
        for _ in 0..EDGE_STEPS {
            let rose = a.checked_sub(1).and_then(|before| generation(before, a, a));
            if a < b && rose.is_some_and(|g| g < margin(a)) {
                occupied[a] = Some(false);
                a += 1;
            }
        }
        let last = b;
        for _ in 0..EDGE_STEPS {
            let held = if b + 1 < x.len() { generation(b, b + 1, b) } else { None };
            // (a fall clearly faster than the empty room's is people still in: kept)
            if b > a && held.is_some_and(|g| g < margin(b) && g > -FASTER_MARGINS * margin(b)) {
                occupied[b] = Some(false);
                b -= 1;
            }
        }
        // …and, if none was, moves it past its last step while the next reading falls faster
        // than the empty room's: the ventilation still runs as it does with people in.
        for _ in 0..if b == last { EDGE_STEPS } else { 0 } {
            let next = b + 1;
            let faster = if next + 1 < x.len() { generation(next, next + 1, next) } else { None };
            if occupied.get(next).copied().flatten() == Some(false) && faster.is_some_and(|g| g < -margin(next)) {
                occupied[next] = Some(true);
                b = next;
            }
        }
    }
}

/// In above `on`, out below `off` down to `faster` (an empty room's decay), as before in
/// between and below `faster` (a fall the empty room cannot make); unknown where ĝ is.
fn hysteresis(
    generation: &[Option<f64>],
    on: impl Fn(usize) -> f64,
    off: impl Fn(usize) -> f64,
    faster: impl Fn(usize) -> f64,
) -> Vec<Option<bool>> {
    let mut state = false;
    generation
        .iter()
        .enumerate()
        .map(|(i, g)| {
            let g = (*g)?;
            if g > on(i) {
                state = true;
            } else if g < off(i) && g > faster(i) {
                state = false;
            }
            Some(state)
        })
        .collect()
}

/// A single step between two of the other state is noise: it takes theirs.
fn settle_lone_steps(occupied: &mut [Option<bool>]) {
    for i in 1..occupied.len().saturating_sub(1) {
        if let (Some(a), Some(b), Some(c)) = (occupied[i - 1], occupied[i], occupied[i + 1]) {
            if a == c && b != a {
                occupied[i] = Some(a);
            }
        }
    }
}

#[cfg(test)]
mod tests;
