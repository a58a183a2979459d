//! The CSV `sobre fit` reads, in either shape: wide, a row per time with a column per series;
//! or the store's own export of `rollups_view` (`sqlite3 -csv -header sobre.db "SELECT * FROM
//! rollups_view"`), a row per point and bucket, where the energy and temperature columns name
//! points and the hourly rows (`resolution = '1h'`) are taken.

use anyhow::{bail, Context};
use std::collections::BTreeMap;
use std::path::Path;

/// One time of the file: its cell as written, and the energy and temperature at it.
#[derive(Debug, Clone, PartialEq)]
pub struct Cells {
    /// The file's line (the header is line 1), for messages about this row.
    pub line: u64,
    pub time: String,
    pub energy: Option<f64>,
    pub temp: Option<f64>,
}

/// The columns of `rollups_view` a long export has.
const VIEW_COLUMNS: [&str; 5] = ["point", "resolution", "label", "mean", "energy_kwh"];

/// Why a cell is not a reading.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CellError {
    #[error("row {line}, column {column:?}: {value:?} is not a number (leave the cell empty for a missing reading)")]
    NotANumber { line: u64, column: String, value: String },
}

/// An empty cell is a missing reading; anything else must be a finite number (`NaN`, `inf` or
/// text would otherwise become a gap without anyone knowing).
fn number(cell: Option<&str>, line: u64, column: &str) -> Result<Option<f64>, CellError> {
    let text = cell.unwrap_or_default().trim();
    if text.is_empty() {
        return Ok(None);
    }
    match text.parse::<f64>() {
        Ok(v) if v.is_finite() => Ok(Some(v)),
        _ => Err(CellError::NotANumber { line, column: column.to_string(), value: text.to_string() }),
    }
}

/// The line of the file a record starts on (1 is the header).
fn line_of(record: &csv::StringRecord) -> u64 {
    record.position().map_or(0, csv::Position::line)
}

/// The rows, in file order (wide) or in label order (a `rollups_view` export).
pub fn read(path: &Path, time: &str, energy: &str, temperature: &str) -> anyhow::Result<Vec<Cells>> {
    let mut reader = csv::ReaderBuilder::new()
        .trim(csv::Trim::All)
        .from_path(path)
        .with_context(|| format!("cannot read {}", path.display()))?;
    let header: Vec<String> = reader.headers()?.iter().map(str::to_string).collect();
    let position = |name: &str| header.iter().position(|h| h == name);
    let is_export = VIEW_COLUMNS.iter().all(|c| position(c).is_some()) && position(energy).is_none();
    if is_export {
        return from_export(reader, &header, energy, temperature, path);
    }
    let column = |name: &str| {
        position(name).with_context(|| format!("no column {name:?} in {}; it has {header:?}", path.display()))
    };
    let (t, e, temp) = (column(time)?, column(energy)?, column(temperature)?);
    let mut rows = Vec::new();
    for record in reader.records() {
        let record = record?;
        let line = line_of(&record);
        rows.push(Cells {
            line,
            time: record.get(t).unwrap_or_default().to_string(),
            energy: number(record.get(e), line, energy)?,
            temp: number(record.get(temp), line, temperature)?,
        });
    }
    Ok(rows)
}

/// A `rollups_view` export: the energy point's `energy_kwh` and the thermometer's `mean`, hour
/// by hour, joined on the label.
fn from_export(
    mut reader: csv::Reader<std::fs::File>,
    header: &[String],
    energy: &str,
    temperature: &str,
    path: &Path,
) -> anyhow::Result<Vec<Cells>> {
    let at = |name: &str| header.iter().position(|h| h == name).unwrap_or(usize::MAX);
    let (point, resolution, label, mean, kwh) =
        (at("point"), at("resolution"), at("label"), at("mean"), at("energy_kwh"));
    let mut hours: BTreeMap<String, Cells> = BTreeMap::new();
    let (mut points, mut resolutions) = (BTreeMap::<String, usize>::new(), BTreeMap::<String, usize>::new());
    for record in reader.records() {
        let record = record?;
        let (p, r) = (record.get(point).unwrap_or_default(), record.get(resolution).unwrap_or_default());
        *points.entry(p.to_string()).or_default() += 1;
        *resolutions.entry(r.to_string()).or_default() += 1;
        if r != "1h" || (p != energy && p != temperature) {
            continue;
        }
        let time = record.get(label).unwrap_or_default().to_string();
        let line = line_of(&record);
        let cells = hours.entry(time.clone()).or_insert(Cells { line, time, energy: None, temp: None });
        if p == energy {
            cells.energy = number(record.get(kwh), line, "energy_kwh")?;
        } else {
            cells.temp = number(record.get(mean), line, "mean")?;
        }
    }
    for (name, flag) in [(energy, "--energy-column"), (temperature, "--temperature-column")] {
        if !points.contains_key(name) {
            bail!(
                "{} is the store's rollups_view export, and no point {name:?} ({flag}) is in it; its points: {:?}",
                path.display(),
                points.keys().collect::<Vec<_>>()
            );
        }
    }
    if hours.is_empty() {
        bail!(
            "{} is the store's rollups_view export, and has no hourly rows (resolution '1h'); its resolutions: {:?}",
            path.display(),
            resolutions.keys().collect::<Vec<_>>()
        );
    }
    // Hour labels are UTC and of one width: their order is time order.
    Ok(hours.into_values().collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_empty_cell_is_missing_and_any_other_cell_not_a_finite_number_is_refused_by_row_and_column() {
        let table: [(&str, Result<Option<f64>, &str>); 8] = [
            // Given a cell, Then its reading, or the refusal naming it
            ("12.5", Ok(Some(12.5))),
            ("-3", Ok(Some(-3.0))),
            ("", Ok(None)),
            ("   ", Ok(None)),
            ("abc", Err("row 7, column \"kwh\": \"abc\" is not a number")),
            ("NaN", Err("\"NaN\" is not a number")),
            ("inf", Err("\"inf\" is not a number")),
            ("warm", Err("\"warm\" is not a number")),
        ];
        for (cell, expected) in table {
            // When it is read as row 7's kwh
            let found = number(Some(cell), 7, "kwh");
            match (found, expected) {
                (Ok(v), Ok(want)) => assert_eq!(v, want, "{cell:?}"),
                (Err(e), Err(why)) => assert!(e.to_string().contains(why), "{cell:?}: {e}"),
                (found, expected) => panic!("{cell:?}: found {found:?}, expected {expected:?}"),
            }
        }
    }

    #[test]
    fn a_text_cell_in_a_file_is_refused_with_its_line() {
        // Given a wide CSV whose third data row (line 4) reads "warm" for its temperature
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("m.csv");
        std::fs::write(&path, "t,kwh,temp\n2019-01-01T00:00Z,1,5\n2019-01-01T01:00Z,,5\n2019-01-01T02:00Z,1,warm\n")
            .expect("csv");
        // When it is read, Then the error names the line, the column and the value
        let err = read(&path, "t", "kwh", "temp").expect_err("refused").to_string();
        assert!(err.contains("row 4, column \"temp\": \"warm\""), "{err}");
    }
}
