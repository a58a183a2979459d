//! The daily model's normal equations at any balance points without a pass over the days: the
//! grid search asks for thousands of them. Within each day type, the days sorted by temperature
//! carry prefix sums of 1, t, t², y and t·y, from which the sums of the degree-day columns
//! follow in closed form: with the a days colder than the balance point b,
//! Σ hdd = a·b − Σt, Σ hdd² = a·b² − 2b·Σt + Σt², Σ hdd·y = b·Σy − Σt·y (and alike above the
//! cooling balance point). Heating and cooling degree days never meet on a day (the cooling
//! balance point is at or above the heating one). The recovery column lives on the few open days
//! after closed ones and is summed over them directly.

use super::{regressors, Day, DayTypes, Shape, MAX_P};
use crate::wls::{sse_small, NormalEquations, SolveError};

/// The days of one type sorted by temperature, with prefix sums.
#[derive(Debug, Clone, Default)]
struct Sorted {
    temps: Vec<f64>,
    /// Σ over the first i days of (1, t, t², y, t·y); index 0 is all zeros.
    prefix: Vec<[f64; 5]>,
    yy: f64,
}

impl Sorted {
    fn new(mut days: Vec<(f64, f64)>) -> Self {
        days.sort_by(|a, b| a.0.total_cmp(&b.0));
        let mut prefix = Vec::with_capacity(days.len() + 1);
        let mut running = [0.0; 5];
        prefix.push(running);
        for &(t, y) in &days {
            running = [running[0] + 1.0, running[1] + t, running[2] + t * t, running[3] + y, running[4] + t * y];
            prefix.push(running);
        }
        let yy = days.iter().map(|(_, y)| y * y).sum();
        Self { temps: days.into_iter().map(|(t, _)| t).collect(), prefix, yy }
    }

    fn total(&self) -> [f64; 5] {
        self.prefix.last().copied().unwrap_or_default()
    }

    /// The sums over this type's days of the products of (1, hdd, cdd) with each other and
    /// with y.
    fn sums(&self, heat: Option<f64>, cool: Option<f64>) -> Sums {
        let all = self.total();
        let mut s = Sums { one: all[0], y: all[3], yy: self.yy, ..Sums::default() };
        if let Some(b) = heat {
            // Days strictly colder than b: at b itself the degree days are 0 either way.
            let p = self.prefix[self.temps.partition_point(|t| *t < b)];
            s.hdd = p[0] * b - p[1];
            s.hdd2 = p[0] * b * b - 2.0 * b * p[1] + p[2];
            s.hdd_y = b * p[3] - p[4];
        }
        if let Some(b) = cool {
            let below = self.prefix[self.temps.partition_point(|t| *t <= b)];
            let p: [f64; 5] = std::array::from_fn(|k| all[k] - below[k]);
            s.cdd = p[1] - p[0] * b;
            s.cdd2 = p[2] - 2.0 * b * p[1] + p[0] * b * b;
            s.cdd_y = p[4] - b * p[3];
        }
        s
    }
}

/// Sums over one day type.
#[derive(Debug, Clone, Copy, Default)]
struct Sums {
    one: f64,
    hdd: f64,
    hdd2: f64,
    cdd: f64,
    cdd2: f64,
    y: f64,
    hdd_y: f64,
    cdd_y: f64,
    yy: f64,
}

/// What a column holds: a base feature on the days of some types.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Feature {
    One,
    Hdd,
    Cdd,
    Recovery,
}

/// The days of a fit, ready for any balance points.
#[derive(Debug, Clone)]
pub(super) struct Gram<'a> {
    open: Sorted,
    closed: Sorted,
    all: Sorted,
    /// Open days after closed ones: the recovery column's only nonzero rows.
    recovering: Vec<&'a Day>,
    rows: usize,
}

impl<'a> Gram<'a> {
    pub(super) fn new(days: &'a [Day]) -> Self {
        let of = |closed: Option<bool>| {
            Sorted::new(
                days.iter().filter(|d| closed.is_none_or(|c| d.weekend == c)).map(|d| (d.temp, d.energy)).collect(),
            )
        };
        Self {
            open: of(Some(false)),
            closed: of(Some(true)),
            all: of(None),
            recovering: days.iter().filter(|d| !d.weekend && d.closed_before.iter().any(Option::is_some)).collect(),
            rows: days.len(),
        }
    }

    /// The normal equations of `shape` at these balance points, as if every day were added.
    pub(super) fn equations(&self, shape: Shape, heat: Option<f64>, cool: Option<f64>) -> NormalEquations {
        let s = self.sums(shape, heat, cool);
        NormalEquations::from_sums(s.p, s.xtx[..s.p * s.p].to_vec(), s.xty[..s.p].to_vec(), s.yy, self.rows)
    }

    /// The residual sum of squares of `shape` at these balance points, with no allocation.
    pub(super) fn sse(&self, shape: Shape, heat: Option<f64>, cool: Option<f64>) -> Result<f64, SolveError> {
        let s = self.sums(shape, heat, cool);
        sse_small(s.p, &s.xtx[..s.p * s.p], &s.xty[..s.p], s.yy, self.rows)
    }

    fn sums(&self, shape: Shape, heat: Option<f64>, cool: Option<f64>) -> System {
        // Each column: its feature, and whether it is on closed days only (a weekend column).
        let mut columns = [(Feature::One, false); MAX_P];
        let mut p = 1;
        let split = shape.types != DayTypes::Same;
        let mut push = |column: (Feature, bool)| {
            columns[p] = column;
            p += 1;
        };
        if split {
            push((Feature::One, true));
        }
        let mut term = |f: Feature| {
            push((f, false));
            if shape.types == DayTypes::Split {
                push((f, true));
            }
        };
        if heat.is_some() {
            term(Feature::Hdd);
        }
        if cool.is_some() {
            term(Feature::Cdd);
        }
        if shape.recovery {
            push((Feature::Recovery, false));
        }
        let columns = &columns[..p];
        // Closed-only columns sum over closed days; the others over every day, which for the
        // products of two plain columns is the sums of all days.
        let (open, closed) = (self.open.sums(heat, cool), self.closed.sums(heat, cool));
        let all = if split { add(open, closed) } else { self.all.sums(heat, cool) };
        let plain = |a: Feature, b: Feature, s: &Sums| -> f64 {
            use Feature::{Cdd, Hdd, One};
            match (a, b) {
                (One, One) => s.one,
                (One, Hdd) | (Hdd, One) => s.hdd,
                (Hdd, Hdd) => s.hdd2,
                (One, Cdd) | (Cdd, One) => s.cdd,
                (Cdd, Cdd) => s.cdd2,
                // A day is either colder than the heating or warmer than the cooling point.
                _ => 0.0,
            }
        };
        let with_y = |f: Feature, s: &Sums| match f {
            Feature::One => s.y,
            Feature::Hdd => s.hdd_y,
            Feature::Cdd => s.cdd_y,
            Feature::Recovery => 0.0,
        };
        // The recovery column, on open days only, summed over the days it is nonzero on.
        let mut recovery_x = [0.0; MAX_P];
        let mut recovery_y = 0.0;
        if shape.recovery {
            for d in &self.recovering {
                let x = regressors(shape, heat, cool, d);
                let r = x.values()[p - 1];
                for (k, v) in x.values().iter().enumerate() {
                    recovery_x[k] += r * v;
                }
                recovery_y += r * d.energy;
            }
        }
        let mut xtx = [0.0; MAX_P * MAX_P];
        let mut xty = [0.0; MAX_P];
        for (i, &(fi, ci)) in columns.iter().enumerate() {
            xty[i] = match (fi, ci) {
                (Feature::Recovery, _) => recovery_y,
                (f, true) => with_y(f, &closed),
                (f, false) => with_y(f, &all),
            };
            for (j, &(fj, cj)) in columns.iter().enumerate().skip(i) {
                xtx[i * p + j] = if fi == Feature::Recovery || fj == Feature::Recovery {
                    recovery_x[if fi == Feature::Recovery { j } else { i }]
                } else if ci || cj {
                    plain(fi, fj, &closed)
                } else {
                    plain(fi, fj, &all)
                };
            }
        }
        System { p, xtx, xty, yy: all.yy }
    }
}

/// The sums of one candidate's normal equations, on the stack: p parameters, XᵀX row-major
/// p × p (upper triangle), Xᵀy, yᵀy.
struct System {
    p: usize,
    xtx: [f64; MAX_P * MAX_P],
    xty: [f64; MAX_P],
    yy: f64,
}

fn add(a: Sums, b: Sums) -> Sums {
    Sums {
        one: a.one + b.one,
        hdd: a.hdd + b.hdd,
        hdd2: a.hdd2 + b.hdd2,
        cdd: a.cdd + b.cdd,
        cdd2: a.cdd2 + b.cdd2,
        y: a.y + b.y,
        hdd_y: a.hdd_y + b.hdd_y,
        cdd_y: a.cdd_y + b.cdd_y,
        yy: a.yy + b.yy,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::daily::{mark_recoveries, Form};

    #[test]
    fn the_sums_from_sorted_days_are_the_sums_row_by_row() {
        // Given three months of days: weekends, a holiday week, temperatures on both sides of
        // every balance point tried, energy that follows none of the candidates exactly
        let mut days: Vec<Day> = (0..92)
            .map(|i: i64| {
                let temp = 12.0 + 9.0 * ((i * 37 % 23) as f64 / 23.0 - 0.5) + 0.1 * i as f64;
                let closed = i % 7 >= 5 || (40..45).contains(&i);
                Day::new(i, 50.0 + 3.0 * (15.0 - temp).max(0.0) + (i * 13 % 7) as f64, temp, closed)
            })
            .collect();
        mark_recoveries(&mut days);
        let gram = Gram::new(&days);
        for form in [Form::Intercept, Form::Heating, Form::Cooling, Form::HeatingCooling] {
            for types in [DayTypes::Same, DayTypes::Intercepts, DayTypes::Split] {
                for recovery in [false, true] {
                    let shape = Shape { form, types, recovery };
                    for (h, c) in [(8.0, 18.0), (15.5, 15.5), (12.0, 24.0), (-1.0, 32.0)] {
                        let heats = matches!(form, Form::Heating | Form::HeatingCooling);
                        let cools = matches!(form, Form::Cooling | Form::HeatingCooling);
                        let (heat, cool) = (heats.then_some(h), cools.then_some(c));
                        // When the equations come from the sorted sums and row by row
                        let fast = gram.equations(shape, heat, cool).solve(0.0);
                        let probe = regressors(shape, heat, cool, &days[0]);
                        let mut slow = NormalEquations::new(probe.len);
                        for d in &days {
                            slow.add(regressors(shape, heat, cool, d).values(), d.energy, 1.0);
                        }
                        let slow = slow.solve(0.0);
                        // Then they solve to the same coefficients and residuals
                        let what = format!("{shape:?} at {heat:?}, {cool:?}");
                        match (fast, slow) {
                            (Ok(f), Ok(s)) => {
                                assert!(
                                    (f.sse - s.sse).abs() <= 1e-9 * s.sse.max(1.0),
                                    "{what}: {} vs {}",
                                    f.sse,
                                    s.sse
                                );
                                for (a, b) in f.beta.iter().zip(&s.beta) {
                                    assert!(
                                        (a - b).abs() <= 1e-7 * b.abs().max(1.0),
                                        "{what}: {:?} vs {:?}",
                                        f.beta,
                                        s.beta
                                    );
                                }
                            }
                            (Err(_), Err(_)) => {}
                            other => panic!("{what}: {other:?}"),
                        }
                    }
                }
            }
        }
    }
}
