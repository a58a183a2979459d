//! The models as linfa estimators: `Fit` on a `Dataset` of `Array2` records and `Array1`
//! targets, and `Predict` (through `PredictInplace`). Records are
//! - `LeastSquares`: any regressors (an intercept is added); dataset weights are honoured;
//! - `DailyParams`: columns [mean temperature °C, weekend 0/1], targets kWh per day;
//! - `HourlyParams`: columns [month 1–12, hour of week 0–167, temperature °C], targets kWh.

use crate::daily::{fit_daily, DailyModel, DailyOptions, Day, FitError};
use crate::hourly::{fit_hourly, HourObs, HourlyFitError, HourlyModel};
use crate::wls::{NormalEquations, SolveError};
use linfa::dataset::DatasetBase;
use linfa::traits::{Fit, PredictInplace};
use ndarray::{Array1, ArrayBase, Data, Ix1, Ix2};

#[derive(Debug, thiserror::Error)]
pub enum EstimatorError {
    #[error(transparent)]
    Linfa(#[from] linfa::Error),
    #[error(transparent)]
    Solve(#[from] SolveError),
    #[error(transparent)]
    Daily(#[from] FitError),
    #[error(transparent)]
    Hourly(#[from] HourlyFitError),
    #[error("expected {expected} record columns, found {found}")]
    Columns { expected: usize, found: usize },
}

/// Weighted least squares with an intercept and an optional ridge term.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct LeastSquares {
    pub ridge: f64,
}

#[derive(Debug, Clone, PartialEq)]
pub struct LinearFit {
    pub intercept: f64,
    pub coefficients: Array1<f64>,
}

impl<D: Data<Elem = f64>, T: AsTargets1> Fit<ArrayBase<D, Ix2>, T, EstimatorError> for LeastSquares {
    type Object = LinearFit;

    fn fit(&self, dataset: &DatasetBase<ArrayBase<D, Ix2>, T>) -> Result<LinearFit, EstimatorError> {
        let records = dataset.records();
        let targets = dataset.targets().as_targets1();
        let weights = dataset.weights();
        let p = records.ncols() + 1;
        let mut ne = NormalEquations::new(p);
        let mut x = vec![1.0; p];
        for (i, (row, y)) in records.rows().into_iter().zip(targets.iter()).enumerate() {
            for (slot, v) in x[1..].iter_mut().zip(row.iter()) {
                *slot = *v;
            }
            let w = weights.and_then(|w| w.get(i)).map_or(1.0, |w| f64::from(*w));
            ne.add(&x, *y, w);
        }
        let solution = ne.solve(self.ridge)?;
        Ok(LinearFit { intercept: solution.beta[0], coefficients: Array1::from(solution.beta[1..].to_vec()) })
    }
}

impl<D: Data<Elem = f64>> PredictInplace<ArrayBase<D, Ix2>, Array1<f64>> for LinearFit {
    fn predict_inplace(&self, x: &ArrayBase<D, Ix2>, y: &mut Array1<f64>) {
        for (out, row) in y.iter_mut().zip(x.rows()) {
            *out = self.intercept + row.dot(&self.coefficients);
        }
    }

    fn default_target(&self, x: &ArrayBase<D, Ix2>) -> Array1<f64> {
        Array1::zeros(x.nrows())
    }
}

/// The daily change-point model's options as linfa parameters.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DailyParams(pub DailyOptions);

impl<D: Data<Elem = f64>, T: AsTargets1> Fit<ArrayBase<D, Ix2>, T, EstimatorError> for DailyParams {
    type Object = DailyModel;

    fn fit(&self, dataset: &DatasetBase<ArrayBase<D, Ix2>, T>) -> Result<DailyModel, EstimatorError> {
        let records = dataset.records();
        columns(records, 2)?;
        let days: Vec<Day> = records
            .rows()
            .into_iter()
            .zip(dataset.targets().as_targets1().iter())
            .enumerate()
            .map(|(i, (r, y))| Day::new(i as i64, *y, r[0], r[1] >= 0.5))
            .collect();
        Ok(fit_daily(&days, &self.0)?.model)
    }
}

impl<D: Data<Elem = f64>> PredictInplace<ArrayBase<D, Ix2>, Array1<f64>> for DailyModel {
    fn predict_inplace(&self, x: &ArrayBase<D, Ix2>, y: &mut Array1<f64>) {
        for (out, r) in y.iter_mut().zip(x.rows()) {
            *out = self.predict(r[0], r[1] >= 0.5);
        }
    }

    fn default_target(&self, x: &ArrayBase<D, Ix2>) -> Array1<f64> {
        Array1::zeros(x.nrows())
    }
}

/// The hourly time-of-week-and-temperature model as linfa parameters.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct HourlyParams;

fn hour_obs(r: ndarray::ArrayView1<f64>, energy: f64) -> HourObs {
    HourObs {
        month: r[0].clamp(1.0, 12.0) as u8,
        tow: r[1].clamp(0.0, 167.0) as u8,
        temp: r[2],
        energy,
        holiday: false,
    }
}

impl<D: Data<Elem = f64>, T: AsTargets1> Fit<ArrayBase<D, Ix2>, T, EstimatorError> for HourlyParams {
    type Object = HourlyModel;

    fn fit(&self, dataset: &DatasetBase<ArrayBase<D, Ix2>, T>) -> Result<HourlyModel, EstimatorError> {
        let records = dataset.records();
        columns(records, 3)?;
        let hours: Vec<HourObs> = records
            .rows()
            .into_iter()
            .zip(dataset.targets().as_targets1().iter())
            .map(|(r, y)| hour_obs(r, *y))
            .collect();
        Ok(fit_hourly(&hours)?.model)
    }
}

impl<D: Data<Elem = f64>> PredictInplace<ArrayBase<D, Ix2>, Array1<f64>> for HourlyModel {
    /// Hours of a month the baseline did not cover are predicted as NaN: unknown, not zero.
    fn predict_inplace(&self, x: &ArrayBase<D, Ix2>, y: &mut Array1<f64>) {
        for (out, r) in y.iter_mut().zip(x.rows()) {
            *out = self.predict(&hour_obs(r, 0.0)).unwrap_or(f64::NAN);
        }
    }

    fn default_target(&self, x: &ArrayBase<D, Ix2>) -> Array1<f64> {
        Array1::zeros(x.nrows())
    }
}

fn columns<D: Data<Elem = f64>>(records: &ArrayBase<D, Ix2>, expected: usize) -> Result<(), EstimatorError> {
    if records.ncols() == expected {
        Ok(())
    } else {
        Err(EstimatorError::Columns { expected, found: records.ncols() })
    }
}

/// Targets as one column of f64, whatever array type the dataset holds them in.
pub trait AsTargets1 {
    fn as_targets1(&self) -> ndarray::ArrayView1<'_, f64>;
}

impl<S: Data<Elem = f64>> AsTargets1 for ArrayBase<S, Ix1> {
    fn as_targets1(&self) -> ndarray::ArrayView1<'_, f64> {
        self.view()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use linfa::traits::Predict;
    use linfa::Dataset;
    use ndarray::{array, Array2};

    #[test]
    fn ordinary_least_squares_agrees_with_linfa_linear() {
        // Given a noisy plane, When both estimators fit it, Then they agree to 1e-9.
        let mut rng = fastrand::Rng::with_seed(42);
        let x = Array2::from_shape_fn((200, 3), |_| rng.f64() * 10.0);
        let y = x
            .rows()
            .into_iter()
            .map(|r| 4.0 + 2.0 * r[0] - 0.5 * r[1] + 0.1 * r[2] + rng.f64() - 0.5)
            .collect::<Array1<f64>>();
        let dataset = Dataset::new(x.clone(), y);
        let ours = LeastSquares::default().fit(&dataset).expect("ours");
        let theirs = linfa_linear::LinearRegression::new().fit(&dataset).expect("linfa-linear");
        assert!((ours.intercept - theirs.intercept()).abs() < 1e-9, "{} vs {}", ours.intercept, theirs.intercept());
        for (a, b) in ours.coefficients.iter().zip(theirs.params().iter()) {
            assert!((a - b).abs() < 1e-9, "{a} vs {b}");
        }
        let (p1, p2): (Array1<f64>, Array1<f64>) = (ours.predict(&x), theirs.predict(&x));
        assert!(p1.iter().zip(p2.iter()).all(|(a, b)| (a - b).abs() < 1e-8));
    }

    #[test]
    fn the_daily_model_is_a_linfa_estimator() {
        let temps: Vec<f64> = (0..120).map(|i| -2.0 + 20.0 * f64::from(i % 40) / 40.0).collect();
        let records =
            Array2::from_shape_fn((120, 2), |(i, c)| if c == 0 { temps[i] } else { f64::from(u8::from(i % 7 >= 5)) });
        let targets: Array1<f64> =
            (0..120).map(|i| 100.0 + 5.0 * (12.0 - temps[i]).max(0.0) + f64::from((i * 7 % 5) as u8)).collect();
        let model = DailyParams(DailyOptions::new(crate::daily::Fuel::Gas))
            .fit(&Dataset::new(records.clone(), targets.clone()))
            .expect("fit");
        let predicted: Array1<f64> = Predict::predict(&model, &records);
        let worst = predicted.iter().zip(targets.iter()).map(|(p, t)| (p - t).abs()).fold(0.0, f64::max);
        assert!(worst < 5.0, "{worst}");
        assert!(DailyParams(DailyOptions::new(crate::daily::Fuel::Gas))
            .fit(&Dataset::new(array![[1.0]], array![1.0]))
            .is_err());
    }
}
