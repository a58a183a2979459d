//! Avoided energy (baseline prediction − metered) with its uncertainty per ASHRAE Guideline 14
//! (Annex B): ΔE = t · 1.26 · RMSE · √(m · (n/n′) · (1 + 2/n′)), where RMSE and n come from the
//! baseline fit, m is the number of reporting points, and n′ = n (1 − ρ)/(1 + ρ) is the effective
//! number of independent baseline points given the lag-1 autocorrelation ρ of the residuals.

use crate::metrics::{metrics, Metrics};
use crate::stats::t_two_sided;
use serde::Serialize;

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
    Savings {
        metered_kwh,
        baseline_kwh,
        savings_kwh,
        savings_pct: if baseline_kwh != 0.0 { savings_kwh / baseline_kwh } else { 0.0 },
        interval68_kwh: t_two_sided(0.68, dof) * spread,
        interval90_kwh: t_two_sided(0.90, dof) * spread,
        m,
        n_effective,
        reporting: metrics(metered, predicted, 0),
    }
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
