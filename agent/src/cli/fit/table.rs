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
    pub time: String,
    pub energy: Option<f64>,
    pub temp: Option<f64>,
}

/// The columns of `rollups_view` a long export has.
const VIEW_COLUMNS: [&str; 5] = ["point", "resolution", "label", "mean", "energy_kwh"];

fn number(cell: Option<&str>) -> Option<f64> {
    cell.and_then(|s| s.parse::<f64>().ok()).filter(|v| v.is_finite())
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
        rows.push(Cells {
            time: record.get(t).unwrap_or_default().to_string(),
            energy: number(record.get(e)),
            temp: number(record.get(temp)),
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
        let cells = hours.entry(time.clone()).or_insert(Cells { time, energy: None, temp: None });
        if p == energy {
            cells.energy = number(record.get(kwh));
        } else {
            cells.temp = number(record.get(mean));
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
