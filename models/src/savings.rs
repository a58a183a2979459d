//! Avoided energy (baseline prediction − metered) with its uncertainty per ASHRAE Guideline 14
//! (Annex B): ΔE = t · 1.26 · RMSE · √(m · (n/n′) · (1 + 2/n′)), where RMSE and n come from the
//! baseline fit, m is the number of reporting points, and n′ = n (1 − ρ)/(1 + ρ) is the effective
//! number of independent baseline points given the lag-1 autocorrelation ρ of the residuals.

use crate::metrics::{metrics, Metrics};
use crate::stats::t_two_sided;
use serde::Serialize;

/// Where the interval comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum IntervalMethod {
    /// ASHRAE Guideline 14 with the lag-1 autocorrelation correction: the model's random error.
    Gl14,
    /// The errors of the same model fitted on the year before the baseline, over every window of
    /// the reporting period's length in the baseline year: random error and year-to-year drift.
    Backtest,
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Savings {
    pub metered_kwh: f64,
    pub baseline_kwh: f64,
    pub savings_kwh: f64,
    /// Savings as a fraction of the baseline prediction.
    pub savings_pct: f64,
    /// Half-widths: the savings lie within ± this at 68 % and 90 % confidence.
    pub interval68_kwh: f64,
    pub interval90_kwh: f64,
    pub interval_method: IntervalMethod,
    /// The Guideline 14 half-widths, always given.
    pub gl14_interval68_kwh: f64,
    pub gl14_interval90_kwh: f64,
    /// Reporting points.
    pub m: usize,
    /// Effective independent points of the baseline.
    pub n_effective: f64,
    /// The baseline model on the reporting period (p = 0: it was not fitted there).
    pub reporting: Metrics,
}

/// The Guideline 14 factor approximating the model's prediction error on new data.
const GL14_FACTOR: f64 = 1.26;

pub fn savings(baseline: &Metrics, rho: f64, predicted: &[f64], metered: &[f64]) -> Savings {
    let m = predicted.len().min(metered.len());
    let baseline_kwh: f64 = predicted.iter().take(m).sum();
    let metered_kwh: f64 = metered.iter().take(m).sum();
    let savings_kwh = baseline_kwh - metered_kwh;
    let n = baseline.n as f64;
    let n_effective = (n * (1.0 - rho) / (1.0 + rho)).clamp(1.0, n);
    let spread = GL14_FACTOR * baseline.rmse * (m as f64 * (n / n_effective) * (1.0 + 2.0 / n_effective)).sqrt();
    let dof = (n_effective - baseline.p as f64).max(1.0);
    let (gl14_68, gl14_90) = (t_two_sided(0.68, dof) * spread, t_two_sided(0.90, dof) * spread);
    Savings {
        metered_kwh,
        baseline_kwh,
        savings_kwh,
        savings_pct: if baseline_kwh != 0.0 { savings_kwh / baseline_kwh } else { 0.0 },
        interval68_kwh: gl14_68,
        interval90_kwh: gl14_90,
        interval_method: IntervalMethod::Gl14,
        gl14_interval68_kwh: gl14_68,
        gl14_interval90_kwh: gl14_90,
        m,
        n_effective,
        reporting: metrics(metered, predicted, 0),
    }
}

impl Savings {
    /// Uses a backtest's half-widths (see [`backtest_interval`]) instead of Guideline 14's.
    pub fn with_backtest(self, (half68, half90): (f64, f64)) -> Savings {
        Savings { interval68_kwh: half68, interval90_kwh: half90, interval_method: IntervalMethod::Backtest, ..self }
    }
}

/// A year-ahead drift beyond this share of the baseline is a non-routine change (a retrofit,
/// another meter), not an uncertainty: such a year cannot calibrate the interval.
pub const BACKTEST_MAX_BIAS: f64 = 0.10;
const BACKTEST_MIN_POINTS: usize = 60;

/// Why a backtest cannot give the interval.
#[derive(Debug, Clone, Copy, PartialEq, thiserror::Error)]
pub enum BacktestRefusal {
    #[error("{points} backtest points; at least {BACKTEST_MIN_POINTS} are needed")]
    TooShort { points: usize },
    #[error("the year before the baseline differs from it by {:.0} % (a non-routine change?)", .bias * 100.0)]
    NonRoutine { bias: f64 },
}

/// The interval from a year-ahead backtest: `errors` are predicted − actual of the same model
/// fitted on the year before the baseline, over the baseline in time order; `baseline_kwh` is
/// the baseline's metered total. Refused when that year is not comparable (see
/// [`BACKTEST_MAX_BIAS`]) or too short.
pub fn backtest(errors: &[f64], baseline_kwh: f64, m: usize) -> Result<(f64, f64), BacktestRefusal> {
    let bias = -errors.iter().sum::<f64>() / baseline_kwh;
    // NaN (an empty baseline) is refused too.
    if bias.is_nan() || bias.abs() > BACKTEST_MAX_BIAS {
        return Err(BacktestRefusal::NonRoutine { bias });
    }
    backtest_interval(errors, m).ok_or(BacktestRefusal::TooShort { points: errors.len() })
}

/// The 68th and 90th percentiles of |Σ error| over every window of `m` consecutive points of
/// `errors`. Windows longer than half the series are scaled up from half-series windows in
/// proportion to their length: drift adds up, it does not average out. `None` when the series
/// is too short to say anything.
pub fn backtest_interval(errors: &[f64], m: usize) -> Option<(f64, f64)> {
    if errors.len() < BACKTEST_MIN_POINTS || m == 0 {
        return None;
    }
    let window = m.min(errors.len() / 2);
    let scale = m as f64 / window as f64;
    let mut sums = Vec::with_capacity(errors.len() - window + 1);
    let mut running: f64 = errors[..window].iter().sum();
    sums.push(running.abs());
    for i in window..errors.len() {
        running += errors[i] - errors[i - window];
        sums.push(running.abs());
    }
    sums.sort_by(f64::total_cmp);
    let quantile = |q: f64| sums[((sums.len() - 1) as f64 * q).round() as usize] * scale;
    Some((quantile(0.68), quantile(0.90)))
}

/// A level shift the model cannot explain: a block of reporting residuals whose mean is more
/// than `z` standard errors from zero. Flagged for a human; never absorbed into the baseline.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct LevelShift {
    /// Index of the block's first point in the reporting series.
    pub start: usize,
    pub len: usize,
    /// Mean of metered − predicted over the block.
    pub mean_residual: f64,
    pub z: f64,
}

pub fn level_shifts(
    baseline: &Metrics,
    rho: f64,
    predicted: &[f64],
    metered: &[f64],
    block: usize,
    z: f64,
) -> Vec<LevelShift> {
    let inflation = ((1.0 + rho) / (1.0 - rho)).max(1.0);
    let residuals: Vec<f64> = metered.iter().zip(predicted).map(|(a, f)| a - f).collect();
    residuals
        .chunks(block.max(1))
        .enumerate()
        .filter(|(_, c)| c.len() * 2 >= block)
        .filter_map(|(i, c)| {
            let mean = c.iter().sum::<f64>() / c.len() as f64;
            let se = baseline.rmse * (inflation / c.len() as f64).sqrt();
            let score = mean / se;
            (score.abs() > z).then_some(LevelShift { start: i * block, len: c.len(), mean_residual: mean, z: score })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn baseline(rmse: f64, n: usize) -> Metrics {
        Metrics { n, p: 3, mean: 100.0, rmse, cv_rmse: rmse / 100.0, nmbe: 0.0, r2: 0.9 }
    }

    #[test]
    fn the_interval_follows_guideline_14() {
        // Given a baseline of 365 points with RMSE 5, no autocorrelation, 365 reporting points
        let b = baseline(5.0, 365);
        let predicted = vec![100.0; 365];
        let metered = vec![90.0; 365];
        let s = savings(&b, 0.0, &predicted, &metered);
        assert!((s.savings_kwh - 3650.0).abs() < 1e-9 && (s.savings_pct - 0.1).abs() < 1e-12);
        let spread = 1.26 * 5.0 * (365.0f64 * (1.0 + 2.0 / 365.0)).sqrt();
        assert!((s.interval68_kwh / spread - 1.0).abs() < 0.01, "t(68 %, 362) ≈ 0.995");
        assert!((s.interval90_kwh / spread - 1.6497).abs() < 0.005);
        // Autocorrelation shrinks the effective sample and widens the interval
        let correlated = savings(&b, 0.6, &predicted, &metered);
        assert!((correlated.n_effective - 365.0 * 0.4 / 1.6).abs() < 1e-9);
        assert!(correlated.interval90_kwh > 1.9 * s.interval90_kwh);
    }

    #[test]
    fn a_backtest_interval_is_the_spread_of_window_errors() {
        // Given errors alternating ±1 with a drift of +0.1 a point over 100 points
        let errors: Vec<f64> = (0..100).map(|i| if i % 2 == 0 { 1.0 } else { -1.0 } + 0.1).collect();
        // When windows of 10 points are summed, Then every window sums to 1.0
        let (q68, q90) = backtest_interval(&errors, 10).expect("long enough");
        assert!((q68 - 1.0).abs() < 1e-9 && (q90 - 1.0).abs() < 1e-9, "{q68} {q90}");
        // And a reporting period longer than half the series scales the half-series windows
        let (_, long) = backtest_interval(&errors, 100).expect("scaled");
        assert!((long - 10.0).abs() < 1e-9, "{long}");
        assert_eq!(backtest_interval(&errors[..30], 10), None, "too short to tell");
        // And a prior year 20 % off is a non-routine change, not an uncertainty
        let off: Vec<f64> = vec![20.0; 100];
        assert!(matches!(backtest(&off, 10_000.0, 10), Err(BacktestRefusal::NonRoutine { .. })));
        assert!(backtest(&errors, 10_000.0, 10).is_ok());
    }

    #[test]
    fn a_level_shift_is_flagged_not_absorbed() {
        let b = baseline(5.0, 365);
        let predicted = vec![100.0; 120];
        let mut metered = predicted.clone();
        for (i, v) in metered.iter_mut().enumerate() {
            *v += if i >= 60 { -20.0 } else { 0.0 } + if i % 2 == 0 { 3.0 } else { -3.0 };
        }
        let shifts = level_shifts(&b, 0.0, &predicted, &metered, 30, 4.0);
        assert_eq!(shifts.iter().map(|s| s.start).collect::<Vec<_>>(), vec![60, 90]);
        assert!(shifts.iter().all(|s| (s.mean_residual + 20.0).abs() < 1e-9));
    }
}
