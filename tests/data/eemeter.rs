//! eemeter's reference figures as `tests/data/README.md` lists them, for the models' tests and
//! the end-to-end tests alike (each includes this file with `#[path]`).

/// What eemeter 4.1.1 (CalTRACK, baseline 2018) gives for `series` on the bundled Cambridge
/// data, as tests/data/README.md lists it: baseline CV(RMSE), baseline NMBE, 2019 NMBE and 2020
/// savings, as fractions.
pub fn eemeter(series: &str) -> [f64; 4] {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../tests/data/README.md");
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{path}: {e}"));
    let row = text
        .lines()
        .find(|l| l.starts_with(&format!("| {series} |")))
        .unwrap_or_else(|| panic!("{path} lists eemeter's figures for {series}"));
    let cells: Vec<f64> = row
        .split('|')
        .skip(2)
        .filter_map(|c| c.trim().strip_suffix(" %"))
        .map(|c| c.replace('−', "-").parse::<f64>().map(|pct| pct / 100.0))
        .collect::<Result<_, _>>()
        .unwrap_or_else(|e| panic!("{row}: {e}"));
    cells.try_into().unwrap_or_else(|c: Vec<f64>| panic!("four figures in {row}: {c:?}"))
}
