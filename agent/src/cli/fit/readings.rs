//! What `sobre fit` takes of the CSV's rows: in time order whatever the file's order, one row per
//! time, and only values a meter or a thermometer can give (the ranges the agent applies to live
//! readings), so that a stray row or an absurd cell cannot change the result unseen.

use super::table::Cells;
use sobre_agent::point::PointKind;

/// How many refused values a warning names; the rest are counted.
const LISTED: usize = 5;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReadingsError {
    #[error("rows {first} and {second} are both for {time}: keep one (sobre fit reads one row per hour)")]
    Duplicate { first: u64, second: u64, time: String },
}

/// Rows sorted by their instant (`ms`), refusing two rows for one instant.
pub fn in_time_order(mut rows: Vec<(i64, Cells)>) -> Result<Vec<(i64, Cells)>, ReadingsError> {
    rows.sort_by_key(|(ms, c)| (*ms, c.line));
    if let Some(pair) = rows.windows(2).find(|w| w[0].0 == w[1].0) {
        let (a, b) = (&pair[0].1, &pair[1].1);
        return Err(ReadingsError::Duplicate { first: a.line, second: b.line, time: b.time.clone() });
    }
    Ok(rows)
}

/// Empties every cell outside its kind's physical range; the warning counting them and naming
/// the first few, if any.
pub fn refuse_impossible<'a>(rows: impl IntoIterator<Item = &'a mut Cells>) -> Option<String> {
    let mut refused = Vec::new();
    for c in rows {
        let line = c.line;
        let cells = [
            (&mut c.energy, PointKind::Energy, "energy", "kWh"),
            (&mut c.temp, PointKind::OutdoorTemperature, "temperature", "°C"),
        ];
        for (value, kind, what, unit) in cells {
            let (low, high) = kind.default_range();
            let Some(v) = *value else { continue };
            let why = if v < low {
                format!("below {} {unit}", shown(low))
            } else if v > high {
                format!("above {} {unit}", shown(high))
            } else {
                continue;
            };
            refused.push(format!("row {line} {what} {} {unit} {why}", shown(v)));
            *value = None;
        }
    }
    if refused.is_empty() {
        return None;
    }
    let more = if refused.len() > LISTED { format!("; first {LISTED} listed") } else { String::new() };
    Some(format!(
        "{} values refused as physically impossible and left out as missing: {}{more}",
        refused.len(),
        refused.iter().take(LISTED).cloned().collect::<Vec<_>>().join(", ")
    ))
}

/// A value as an operator reads it: 1e308, not three hundred digits.
fn shown(v: f64) -> String {
    if v.abs() >= 1e6 {
        format!("{v:e}")
    } else {
        format!("{v}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A row's energy and temperature.
    type Pair = (Option<f64>, Option<f64>);
    /// Rows as (instant, line).
    type Instants<'a> = &'a [(i64, u64)];

    fn cells(line: u64, time: &str, energy: Option<f64>, temp: Option<f64>) -> Cells {
        Cells { line, time: time.into(), energy, temp }
    }

    #[test]
    fn rows_are_taken_in_time_order_and_two_rows_for_one_time_are_refused_with_both_row_numbers() {
        let table: [(Instants, Result<&[u64], &str>); 3] = [
            // Given rows (instant, line), Then the lines in time order, or the refusal
            (&[(0, 2), (1, 3), (2, 4)], Ok(&[2, 3, 4])),
            // a June row among March rows goes to its place
            (&[(0, 2), (9, 3), (1, 4)], Ok(&[2, 4, 3])),
            (&[(0, 2), (1, 3), (0, 4)], Err("rows 2 and 4 are both for")),
        ];
        for (rows, expected) in table {
            let rows = rows.iter().map(|(ms, line)| (*ms, cells(*line, "t", Some(1.0), Some(5.0)))).collect();
            // When they are put in order
            match (in_time_order(rows), expected) {
                (Ok(found), Ok(lines)) => {
                    assert_eq!(found.iter().map(|(_, c)| c.line).collect::<Vec<_>>(), lines)
                }
                (Err(e), Err(why)) => assert!(e.to_string().contains(why), "{e}"),
                (found, expected) => panic!("found {found:?}, expected {expected:?}"),
            }
        }
    }

    #[test]
    fn impossible_values_are_left_out_counted_and_named_and_possible_ones_kept() {
        let table: [(Pair, Pair, Option<&str>); 5] = [
            // Given a row's energy and temperature, Then what is kept, and what the warning says
            ((Some(12.0), Some(-7.1)), (Some(12.0), Some(-7.1)), None),
            ((Some(0.0), Some(39.0)), (Some(0.0), Some(39.0)), None),
            ((Some(-5.0), Some(5.0)), (None, Some(5.0)), Some("1 values refused as physically impossible and left out as missing: row 17 energy -5 kWh below 0 kWh")),
            ((Some(1e308), Some(5.0)), (None, Some(5.0)), Some("row 17 energy 1e308 kWh above 1e10 kWh")),
            ((Some(3.0), Some(-300.0)), (Some(3.0), None), Some("row 17 temperature -300 °C below -60 °C")),
        ];
        for ((energy, temp), kept, warning) in table {
            let mut rows = [cells(17, "t", energy, temp)];
            // When impossible values are refused
            let found = refuse_impossible(rows.iter_mut());
            assert_eq!((rows[0].energy, rows[0].temp), kept, "{energy:?} {temp:?}");
            match (found, warning) {
                (None, None) => {}
                (Some(w), Some(why)) => assert!(w.contains(why), "{w}"),
                (found, expected) => panic!("found {found:?}, expected {expected:?}"),
            }
        }
    }

    #[test]
    fn many_refusals_are_counted_and_the_first_five_named() {
        // Given seven rows of negative energy
        let mut rows: Vec<Cells> = (2..9).map(|line| cells(line, "t", Some(-1.0), Some(5.0))).collect();
        // When refused, Then all seven are counted and five are named
        let w = refuse_impossible(rows.iter_mut()).unwrap_or_default();
        assert!(w.starts_with("7 values refused") && w.ends_with("first 5 listed"), "{w}");
        assert_eq!(w.matches("row ").count(), 5, "{w}");
    }
}
