//! The daily model's normal equations at any balance points without a pass over the days: the
//! grid search asks for thousands of them. Within each day type, the days sorted by temperature
//! carry prefix sums of 1, t, t², y and t·y, from which the sums of the degree-day columns
//! follow in closed form: with the a days colder than the balance point b,
//! Σ hdd = a·b − Σt, Σ hdd² = a·b² − 2b·Σt + Σt², Σ hdd·y = b·Σy − Σt·y (and alike above the
//! cooling balance point). Heating and cooling degree days never meet on a day (the cooling
//! balance point is at or above the heating one). The recovery column lives on the few open days
//! after closed ones and is summed over them directly.

use super::{regressors, Day, DayTypes, Shape, MAX_P};
#[cfg(test)]
use crate::wls::NormalEquations;
use crate::wls::{solve_small, SmallSolution, SolveError};

/// The degree-day sums of one day type at one balance point: Σ dd, Σ dd², Σ dd·y.
type Part = [f64; 3];

/// The days of one type sorted by temperature, with prefix sums, and the degree-day sums at
/// every point of the search's grid computed once.
#[derive(Debug, Clone, Default)]
struct Sorted {
    temps: Vec<f64>,
    /// Σ over the first i days of (1, t, t², y, t·y); index 0 is all zeros.
    prefix: Vec<[f64; 5]>,
    yy: f64,
    /// At each grid point: the heating part, the cooling part.
    heating: Vec<Part>,
    cooling: Vec<Part>,
}

impl Sorted {
    fn new(mut days: Vec<(f64, f64)>, grid: &[f64]) -> Self {
        days.sort_by(|a, b| a.0.total_cmp(&b.0));
        let mut prefix = Vec::with_capacity(days.len() + 1);
        let mut running = [0.0; 5];
        prefix.push(running);
        for &(t, y) in &days {
            running = [running[0] + 1.0, running[1] + t, running[2] + t * t, running[3] + y, running[4] + t * y];
            prefix.push(running);
        }
        let yy = days.iter().map(|(_, y)| y * y).sum();
        let mut sorted = Self {
            temps: days.into_iter().map(|(t, _)| t).collect(),
            prefix,
            yy,
            heating: Vec::new(),
            cooling: Vec::new(),
        };
        sorted.heating = grid.iter().map(|&b| sorted.heating_at(b)).collect();
        sorted.cooling = grid.iter().map(|&b| sorted.cooling_at(b)).collect();
        sorted
    }

    fn total(&self) -> [f64; 5] {
        self.prefix.last().copied().unwrap_or_default()
    }

    fn heating_at(&self, b: f64) -> Part {
        // Days strictly colder than b: at b itself the degree days are 0 either way.
        let p = self.prefix[self.temps.partition_point(|t| *t < b)];
        [p[0] * b - p[1], p[0] * b * b - 2.0 * b * p[1] + p[2], b * p[3] - p[4]]
    }

    fn cooling_at(&self, b: f64) -> Part {
        let (all, below) = (self.total(), self.prefix[self.temps.partition_point(|t| *t <= b)]);
        let p: [f64; 5] = std::array::from_fn(|k| all[k] - below[k]);
        [p[1] - p[0] * b, p[2] - 2.0 * b * p[1] + p[0] * b * b, p[4] - b * p[3]]
    }

    /// The sums over this type's days of the products of (1, hdd, cdd) with each other and
    /// with y; from the grid's table when a balance point is on the grid (`grid` as at `new`).
    fn sums(&self, heat: Option<f64>, cool: Option<f64>, grid: &[f64]) -> Sums {
        let on_grid = |b: f64| grid.binary_search_by(|g| g.total_cmp(&b)).ok();
        let all = self.total();
        let mut s = Sums { one: all[0], y: all[3], yy: self.yy, ..Sums::default() };
        if let Some(b) = heat {
            [s.hdd, s.hdd2, s.hdd_y] = on_grid(b).map_or_else(|| self.heating_at(b), |i| self.heating[i]);
        }
        if let Some(b) = cool {
            [s.cdd, s.cdd2, s.cdd_y] = on_grid(b).map_or_else(|| self.cooling_at(b), |i| self.cooling[i]);
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
    /// The balance points whose degree-day sums are tabled (ascending).
    grid: Vec<f64>,
}

impl<'a> Gram<'a> {
    pub(super) fn new(days: &'a [Day], grid: &[f64]) -> Self {
        let of = |closed: Option<bool>| {
            Sorted::new(
                days.iter().filter(|d| closed.is_none_or(|c| d.weekend == c)).map(|d| (d.temp, d.energy)).collect(),
                grid,
            )
        };
        Self {
            open: of(Some(false)),
            closed: of(Some(true)),
            all: of(None),
            recovering: days.iter().filter(|d| !d.weekend && d.closed_before.iter().any(Option::is_some)).collect(),
            rows: days.len(),
            grid: grid.to_vec(),
        }
    }

    /// The days with degree days at balance point `b` (heating or cooling), and their degree
    /// days in all (from the prefix sums: to the last bits).
    pub(super) fn degree_days(&self, b: f64, heating: bool) -> (usize, f64) {
        let all = &self.all;
        if heating {
            (all.temps.partition_point(|t| *t < b), all.sums(Some(b), None, &self.grid).hdd)
        } else {
            (all.temps.len() - all.temps.partition_point(|t| *t <= b), all.sums(None, Some(b), &self.grid).cdd)
        }
    }

    /// The normal equations of `shape` at these balance points, as if every day were added.
    #[cfg(test)]
    fn equations(&self, shape: Shape, heat: Option<f64>, cool: Option<f64>) -> NormalEquations {
        let s = self.sums(shape, heat, cool);
        NormalEquations::from_sums(s.p, s.xtx[..s.p * s.p].to_vec(), s.xty[..s.p].to_vec(), s.yy, self.rows)
    }

    /// The least-squares fit of `shape` at these balance points, with no allocation.
    pub(super) fn solve(
        &self,
        shape: Shape,
        heat: Option<f64>,
        cool: Option<f64>,
    ) -> Result<SmallSolution, SolveError> {
        let s = self.sums(shape, heat, cool);
        solve_small(s.p, &s.xtx[..s.p * s.p], &s.xty[..s.p], s.yy, self.rows)
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
        // One model for every day has no closed-only column: the closed days' sums go unread.
        let grid = &self.grid;
        let (all, closed) = if split {
            let closed = self.closed.sums(heat, cool, grid);
            (add(self.open.sums(heat, cool, grid), closed), closed)
        } else {
            (self.all.sums(heat, cool, grid), Sums::default())
        };
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
    fn degree_days_from_sorted_days_are_the_days_own() {
        // Given days whose temperatures fall on, between and beyond the balance points tried
        let days: Vec<Day> =
            (0..60).map(|i: i64| Day::new(i, 1.0, (i * 17 % 31) as f64 * 0.5 - 2.0, i % 7 >= 5)).collect();
        let gram = Gram::new(&days, &[0.0, 5.5, 12.0]);
        for (b, heating) in [(0.0, true), (5.5, true), (5.55, true), (12.0, false), (3.0, false), (20.0, false)] {
            // When the days with degree days are counted and summed from the sorted days
            let (count, total) = gram.degree_days(b, heating);
            // Then they are the days' own count and total (a day at the balance point has none)
            let own: Vec<f64> = days
                .iter()
                .map(|d| if heating { b - d.temp } else { d.temp - b }.max(0.0))
                .filter(|v| *v > 0.0)
                .collect();
            assert_eq!(count, own.len(), "{b} {heating}");
            assert!((total - own.iter().sum::<f64>()).abs() < 1e-9, "{b} {heating}: {total}");
        }
    }

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
        let gram = Gram::new(&days, &[8.0, 12.0, 15.5]);
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
                        // (and the search's stack-only solve is that solve to the last bit)
                        let small = gram.solve(shape, heat, cool);
                        match (&fast, &small) {
                            (Ok(f), Ok(s)) => {
                                assert_eq!((f.beta.as_slice(), f.sse), (s.beta(), s.sse), "{shape:?}");
                                let inverse: Vec<f64> = (0..f.beta.len()).map(|i| s.inverse_diagonal_at(i)).collect();
                                assert_eq!(f.inverse_diagonal(), inverse, "{shape:?}");
                            }
                            (Err(f), Err(s)) => assert_eq!(f, s),
                            other => panic!("{shape:?}: {other:?}"),
                        }
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
