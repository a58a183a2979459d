//! Small statistics the models need: normal and Student-t quantiles, lag-1 autocorrelation,
//! empirical percentiles.

/// The standard normal quantile (Acklam's rational approximation, |error| < 1.2e-9).
pub fn normal_quantile(p: f64) -> f64 {
    const A: [f64; 6] = [
        -3.969683028665376e1,
        2.209460984245205e2,
        -2.759285104469687e2,
        1.38357751867269e2,
        -3.066479806614716e1,
        2.506628277459239,
    ];
    const B: [f64; 5] =
        [-5.447609879822406e1, 1.615858368580409e2, -1.556989798598866e2, 6.680131188771972e1, -1.328068155288572e1];
    const C: [f64; 6] = [
        -7.784894002430293e-3,
        -3.223964580411365e-1,
        -2.400758277161838,
        -2.549732539343734,
        4.374664141464968,
        2.938163982698783,
    ];
    const D: [f64; 4] = [7.784695709041462e-3, 3.224671290700398e-1, 2.445134137142996, 3.754408661907416];
    let p = p.clamp(1e-300, 1.0 - 1e-16);
    let tail = |q: f64| {
        (((((C[0] * q + C[1]) * q + C[2]) * q + C[3]) * q + C[4]) * q + C[5])
            / ((((D[0] * q + D[1]) * q + D[2]) * q + D[3]) * q + 1.0)
    };
    if p < 0.02425 {
        tail((-2.0 * p.ln()).sqrt())
    } else if p > 1.0 - 0.02425 {
        -tail((-2.0 * (1.0 - p).ln()).sqrt())
    } else {
        let q = p - 0.5;
        let r = q * q;
        (((((A[0] * r + A[1]) * r + A[2]) * r + A[3]) * r + A[4]) * r + A[5]) * q
            / (((((B[0] * r + B[1]) * r + B[2]) * r + B[3]) * r + B[4]) * r + 1.0)
    }
}

/// Student's t quantile with `df` degrees of freedom (Cornish–Fisher expansion about the
/// normal; within 0.1 % for df ≥ 5, which every model here has).
pub fn t_quantile(p: f64, df: f64) -> f64 {
    let z = normal_quantile(p);
    let v = df.max(1.0);
    let z3 = z * z * z;
    let z5 = z3 * z * z;
    let z7 = z5 * z * z;
    z + (z3 + z) / (4.0 * v)
        + (5.0 * z5 + 16.0 * z3 + 3.0 * z) / (96.0 * v * v)
        + (3.0 * z7 + 19.0 * z5 + 17.0 * z3 - 15.0 * z) / (384.0 * v * v * v)
}

/// The t value of a two-sided interval of confidence `level` (0.68, 0.90).
pub fn t_two_sided(level: f64, df: f64) -> f64 {
    t_quantile(0.5 + level / 2.0, df)
}

/// Lag-1 autocorrelation of a series in time order; `None` entries break the chain (a gap is
/// not a neighbour).
pub fn lag1_autocorrelation(series: &[Option<f64>]) -> f64 {
    let values: Vec<f64> = series.iter().flatten().copied().collect();
    if values.len() < 3 {
        return 0.0;
    }
    let mean = values.iter().sum::<f64>() / values.len() as f64;
    let var: f64 = values.iter().map(|v| (v - mean).powi(2)).sum();
    if var <= 0.0 {
        return 0.0;
    }
    let cov: f64 = series
        .windows(2)
        .filter_map(|w| match (w[0], w[1]) {
            (Some(a), Some(b)) => Some((a - mean) * (b - mean)),
            _ => None,
        })
        .sum();
    (cov / var).clamp(-0.99, 0.99)
}

/// The `p` quantile (0–1) of the finite values by the nearest rank (the median of an even
/// count is its upper middle); `None` for no finite value.
pub fn percentile(mut values: Vec<f64>, p: f64) -> Option<f64> {
    values.retain(|v| v.is_finite());
    if values.is_empty() {
        return None;
    }
    values.sort_by(f64::total_cmp);
    let rank = ((values.len() - 1) as f64 * p.clamp(0.0, 1.0)).round() as usize;
    values.get(rank).copied()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantiles_match_the_tables() {
        let table = [
            (normal_quantile(0.975), 1.959964),
            (normal_quantile(0.95), 1.644854),
            (normal_quantile(0.84), 0.994458),
            (t_quantile(0.95, 10.0), 1.812461),
            (t_quantile(0.975, 30.0), 2.042272),
            (t_quantile(0.95, 300.0), 1.649949),
            (t_two_sided(0.68, 20.0), 1.020),
        ];
        for (got, table_value) in table {
            assert!((got - table_value).abs() / table_value < 2e-3, "{got} vs {table_value}");
        }
    }

    #[test]
    fn autocorrelation_of_known_series() {
        let alternating: Vec<Option<f64>> = (0..100).map(|i| Some(if i % 2 == 0 { 1.0 } else { -1.0 })).collect();
        assert!(lag1_autocorrelation(&alternating) < -0.9);
        let smooth: Vec<Option<f64>> = (0..100).map(|i| Some((i as f64 / 20.0).sin())).collect();
        assert!(lag1_autocorrelation(&smooth) > 0.9);
        let gaps = [Some(1.0), None, Some(-1.0), None, Some(1.0), None, Some(-1.0)];
        assert_eq!(lag1_autocorrelation(&gaps), 0.0, "no adjacent pairs, no correlation");
    }
}
