//! One weighted least-squares core for every model: accumulate XᵀWX and XᵀWy row by row (no
//! design matrix is held), then solve by Cholesky with an optional ridge term. OLS is W = I,
//! ridge adds λI to XᵀWX (the intercept, column 0, is not penalised).

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum SolveError {
    #[error("the normal equations are singular at column {column} (a constant or duplicated regressor?)")]
    Singular { column: usize },
    #[error("{rows} weighted rows cannot determine {parameters} parameters")]
    TooFewRows { rows: usize, parameters: usize },
}

/// The normal equations of a weighted least-squares problem with `p` parameters.
#[derive(Debug, Clone, PartialEq)]
pub struct NormalEquations {
    p: usize,
    /// Upper and lower triangle, row-major p × p.
    xtwx: Vec<f64>,
    xtwy: Vec<f64>,
    ytwy: f64,
    rows: usize,
    weight: f64,
}

/// A solved system: the coefficients, and the weighted residual sum of squares.
#[derive(Debug, Clone, PartialEq)]
pub struct Solution {
    pub beta: Vec<f64>,
    /// Σ w (y − xβ)², computed from the accumulated sums.
    pub sse: f64,
    /// The Cholesky factor of XᵀWX (+ ridge), kept for standard errors.
    chol: Vec<f64>,
}

impl NormalEquations {
    pub fn new(p: usize) -> Self {
        Self { p, xtwx: vec![0.0; p * p], xtwy: vec![0.0; p], ytwy: 0.0, rows: 0, weight: 0.0 }
    }

    /// The equations of `rows` unweighted observations from their sums: XᵀX (row-major p × p,
    /// its upper triangle read), Xᵀy and yᵀy. For a caller that gets the sums cheaper than row
    /// by row (the daily model's balance-point grid, from prefix sums).
    pub fn from_sums(p: usize, xtx: Vec<f64>, xty: Vec<f64>, yty: f64, rows: usize) -> Self {
        debug_assert!(xtx.len() == p * p && xty.len() == p);
        Self { p, xtwx: xtx, xtwy: xty, ytwy: yty, rows, weight: rows as f64 }
    }

    pub fn parameters(&self) -> usize {
        self.p
    }

    pub fn rows(&self) -> usize {
        self.rows
    }

    /// Adds one observation `y` with regressors `x` (length p) and weight `w` ≥ 0.
    pub fn add(&mut self, x: &[f64], y: f64, w: f64) {
        debug_assert_eq!(x.len(), self.p);
        if w <= 0.0 {
            return;
        }
        for i in 0..self.p {
            let wxi = w * x[i];
            if wxi == 0.0 {
                continue;
            }
            self.xtwy[i] += wxi * y;
            for (j, xj) in x.iter().enumerate().skip(i) {
                self.xtwx[i * self.p + j] += wxi * xj;
            }
        }
        self.ytwy += w * y * y;
        self.rows += 1;
        self.weight += w;
    }

    /// Adds one observation given by its nonzero regressors: `columns` ascending, `values` alike.
    /// A time-of-week model has 180 columns and 8 nonzeros a row: this is what keeps it fast.
    pub fn add_sparse(&mut self, columns: &[usize], values: &[f64], y: f64, w: f64) {
        debug_assert!(columns.windows(2).all(|c| c[0] < c[1]));
        if w <= 0.0 {
            return;
        }
        for (a, (&i, &vi)) in columns.iter().zip(values).enumerate() {
            let wvi = w * vi;
            self.xtwy[i] += wvi * y;
            for (&j, &vj) in columns[a..].iter().zip(&values[a..]) {
                self.xtwx[i * self.p + j] += wvi * vj;
            }
        }
        self.ytwy += w * y * y;
        self.rows += 1;
        self.weight += w;
    }

    /// Adds another set of sums (same p), e.g. a neighbouring month at its own weight.
    pub fn merge(&mut self, other: &NormalEquations, scale: f64) {
        for (a, b) in self.xtwx.iter_mut().zip(&other.xtwx) {
            *a += scale * b;
        }
        for (a, b) in self.xtwy.iter_mut().zip(&other.xtwy) {
            *a += scale * b;
        }
        self.ytwy += scale * other.ytwy;
        self.rows += other.rows;
        self.weight += scale * other.weight;
    }

    /// Takes column `i` out of the fit: its coefficient comes out nil as long as the solve has a
    /// ridge on it (`solve_regularised`), which keeps the system solvable.
    pub fn drop_column(&mut self, i: usize) {
        for j in 0..self.p {
            self.xtwx[i * self.p + j] = 0.0;
            self.xtwx[j * self.p + i] = 0.0;
        }
        self.xtwy[i] = 0.0;
    }

    /// Solves with `ridge` on every column but the first (the intercept).
    pub fn solve(&self, ridge: f64) -> Result<Solution, SolveError> {
        self.solve_penalising(ridge, 1)
    }

    /// Solves with a ridge of `relative` × the largest diagonal entry on every column: enough to
    /// keep a column that never varied (a missing sensor) from making the system singular, too
    /// small to move any coefficient the data determines.
    pub fn solve_regularised(&self, relative: f64) -> Result<Solution, SolveError> {
        let scale = (0..self.p).map(|i| self.xtwx[i * self.p + i]).fold(0.0f64, f64::max).max(1.0);
        self.solve_penalising(relative * scale, 0)
    }

    /// Solves with `ridge` on the columns from `first_penalised` on.
    pub fn solve_penalising(&self, ridge: f64, first_penalised: usize) -> Result<Solution, SolveError> {
        let p = self.p;
        if self.rows < p {
            return Err(SolveError::TooFewRows { rows: self.rows, parameters: p });
        }
        let penalty = |i: usize| if i >= first_penalised { ridge } else { 0.0 };
        let mut l = vec![0.0; p * p];
        factor(p, &self.xtwx, penalty, &mut l)?;
        let mut z = vec![0.0; p];
        let mut beta = vec![0.0; p];
        cholesky_solve_into(&l, p, &self.xtwy, &mut z, &mut beta);
        let sse = residual_sum(p, &self.xtwx, &self.xtwy, self.ytwy, &beta);
        Ok(Solution { beta, sse, chol: l })
    }
}

/// The most parameters [`solve_small`] takes.
pub const SMALL_P: usize = 8;

/// A small unweighted least-squares problem solved on the stack: for a search that solves
/// thousands of candidates and must not allocate for each.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SmallSolution {
    p: usize,
    beta: [f64; SMALL_P],
    /// Σ (y − xβ)².
    pub sse: f64,
    chol: [f64; SMALL_P * SMALL_P],
}

/// Solves the unweighted least-squares problem given by its sums (as
/// [`NormalEquations::from_sums`]) with no allocation. The same arithmetic as `solve(0.0)`, so
/// the same coefficients and SSE to the last bit.
pub fn solve_small(p: usize, xtx: &[f64], xty: &[f64], yty: f64, rows: usize) -> Result<SmallSolution, SolveError> {
    debug_assert!(p <= SMALL_P && xtx.len() >= p * p && xty.len() >= p);
    if rows < p {
        return Err(SolveError::TooFewRows { rows, parameters: p });
    }
    let mut chol = [0.0; SMALL_P * SMALL_P];
    factor(p, xtx, |_| 0.0, &mut chol[..p * p])?;
    let (mut z, mut beta) = ([0.0; SMALL_P], [0.0; SMALL_P]);
    cholesky_solve_into(&chol[..p * p], p, &xty[..p], &mut z[..p], &mut beta[..p]);
    let sse = residual_sum(p, xtx, xty, yty, &beta[..p]);
    Ok(SmallSolution { p, beta, sse, chol })
}

impl SmallSolution {
    pub fn beta(&self) -> &[f64] {
        &self.beta[..self.p]
    }

    /// Entry `i` of the diagonal of (XᵀX)⁻¹, as [`Solution::inverse_diagonal`] computes it.
    pub fn inverse_diagonal_at(&self, i: usize) -> f64 {
        let p = self.p;
        let (mut e, mut z, mut x) = ([0.0; SMALL_P], [0.0; SMALL_P], [0.0; SMALL_P]);
        e[i] = 1.0;
        cholesky_solve_into(&self.chol[..p * p], p, &e[..p], &mut z[..p], &mut x[..p]);
        x[i]
    }
}

/// Cholesky of the symmetric p × p matrix `a` from its upper triangle, plus `penalty(i)` on the
/// diagonal: A = L Lᵀ into `l`, row-major.
fn factor(p: usize, a: &[f64], penalty: impl Fn(usize) -> f64, l: &mut [f64]) -> Result<(), SolveError> {
    let scale = (0..p).map(|i| a[i * p + i]).fold(0.0f64, f64::max).max(1.0);
    for i in 0..p {
        for j in 0..=i {
            let aij = a[j * p + i] + if i == j { penalty(i) } else { 0.0 };
            let sum: f64 = (0..j).map(|k| l[i * p + k] * l[j * p + k]).sum();
            if i == j {
                let d = aij - sum;
                if d <= 1e-12 * scale {
                    return Err(SolveError::Singular { column: i });
                }
                l[i * p + i] = d.sqrt();
            } else {
                l[i * p + j] = (aij - sum) / l[j * p + j];
            }
        }
    }
    Ok(())
}

/// SSE = yᵀy − 2βᵀXᵀy + βᵀXᵀXβ, with the unpenalised XᵀX.
fn residual_sum(p: usize, xtx: &[f64], xty: &[f64], yty: f64, beta: &[f64]) -> f64 {
    let mut quad = 0.0;
    for i in 0..p {
        for j in 0..p {
            let a = if i <= j { xtx[i * p + j] } else { xtx[j * p + i] };
            quad += beta[i] * a * beta[j];
        }
    }
    let cross: f64 = beta.iter().zip(xty).map(|(b, v)| b * v).sum();
    (yty - 2.0 * cross + quad).max(0.0)
}

fn cholesky_solve(l: &[f64], p: usize, b: &[f64]) -> Vec<f64> {
    let (mut z, mut x) = (vec![0.0; p], vec![0.0; p]);
    cholesky_solve_into(l, p, b, &mut z, &mut x);
    x
}

/// Solves L Lᵀ x = b, with `z` for the forward pass.
fn cholesky_solve_into(l: &[f64], p: usize, b: &[f64], z: &mut [f64], x: &mut [f64]) {
    for i in 0..p {
        let sum: f64 = (0..i).map(|k| l[i * p + k] * z[k]).sum();
        z[i] = (b[i] - sum) / l[i * p + i];
    }
    for i in (0..p).rev() {
        let sum: f64 = (i + 1..p).map(|k| l[k * p + i] * x[k]).sum();
        x[i] = (z[i] - sum) / l[i * p + i];
    }
}

impl Solution {
    /// The diagonal of (XᵀWX)⁻¹: multiplied by σ² it gives the variances of the coefficients.
    pub fn inverse_diagonal(&self) -> Vec<f64> {
        let p = self.beta.len();
        (0..p)
            .map(|i| {
                let mut e = vec![0.0; p];
                e[i] = 1.0;
                cholesky_solve(&self.chol, p, &e)[i]
            })
            .collect()
    }

    pub fn predict(&self, x: &[f64]) -> f64 {
        self.beta.iter().zip(x).map(|(b, v)| b * v).sum()
    }

    /// vᵀ(XᵀWX)⁻¹v: multiplied by σ² it gives the variance of vᵀβ, a combination of the
    /// coefficients (a prediction summed over many rows, say).
    pub fn quadratic_form(&self, v: &[f64]) -> f64 {
        let p = self.beta.len();
        v.iter().zip(cholesky_solve(&self.chol, p, v)).map(|(a, b)| a * b).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recovers_an_exact_line_and_reports_zero_error() {
        let mut ne = NormalEquations::new(2);
        for i in 0..10 {
            let x = i as f64;
            ne.add(&[1.0, x], 3.0 + 2.0 * x, 1.0);
        }
        let s = ne.solve(0.0).expect("solvable");
        assert!((s.beta[0] - 3.0).abs() < 1e-9 && (s.beta[1] - 2.0).abs() < 1e-9, "{:?}", s.beta);
        assert!(s.sse < 1e-9);
    }

    #[test]
    fn weights_and_ridge_behave_as_their_definitions() {
        // Two clusters; weighting one heavily pulls the intercept-only fit to it.
        let mut ne = NormalEquations::new(1);
        ne.add(&[1.0], 10.0, 9.0);
        ne.add(&[1.0], 20.0, 1.0);
        assert!((ne.solve(0.0).expect("mean").beta[0] - 11.0).abs() < 1e-12);
        // Ridge shrinks a slope towards zero, never the intercept.
        let mut line = NormalEquations::new(2);
        for i in 0..5 {
            line.add(&[1.0, i as f64], 1.0 + i as f64, 1.0);
        }
        let plain = line.solve(0.0).expect("ols");
        let shrunk = line.solve(100.0).expect("ridge");
        assert!(shrunk.beta[1].abs() < plain.beta[1].abs());
    }

    #[test]
    fn sparse_rows_accumulate_like_dense_ones() {
        let (mut dense, mut sparse) = (NormalEquations::new(4), NormalEquations::new(4));
        for i in 0..20 {
            let x = i as f64;
            dense.add(&[0.0, 1.0, 0.0, x], 2.0 + 0.5 * x, 1.5);
            sparse.add_sparse(&[1, 3], &[1.0, x], 2.0 + 0.5 * x, 1.5);
        }
        assert_eq!(dense, sparse);
    }

    #[test]
    fn a_constant_regressor_is_singular_not_garbage() {
        let mut ne = NormalEquations::new(2);
        for _ in 0..5 {
            ne.add(&[1.0, 4.0], 2.0, 1.0);
        }
        assert_eq!(ne.solve(0.0).map(|s| s.beta), Err(SolveError::Singular { column: 1 }));
        assert!(matches!(NormalEquations::new(3).solve(0.0), Err(SolveError::TooFewRows { .. })));
    }
}
