//! The figures README.md gives, held to what the tests compute: a test that computes a figure
//! the README states asserts the README says it, written as the README writes it. Read when
//! the test runs, so that editing the README rebuilds nothing.

/// README.md as it is now.
pub fn text() -> String {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../README.md");
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// Asserts the README says `fragment`, whatever the line breaks and spaces between its words;
/// names the lines that begin like it when it does not.
pub fn says(fragment: &str) {
    let text = text();
    let words = |t: &str| t.split_whitespace().collect::<Vec<_>>().join(" ");
    if words(&text).contains(&words(fragment)) {
        return;
    }
    let start: String = fragment.chars().take(12).collect();
    let near: Vec<&str> = text.lines().filter(|l| l.contains(start.trim())).collect();
    panic!("README.md does not say {fragment:?}, which this run computes; lines with its start: {near:#?}");
}

/// The README's one line that starts with `start` (after leading spaces).
pub fn line(start: &str) -> String {
    let text = text();
    let lines: Vec<&str> = text.lines().filter(|l| l.trim_start().starts_with(start)).collect();
    assert_eq!(lines.len(), 1, "README.md: one line starts with {start:?}: {lines:#?}");
    lines[0].to_string()
}

/// A number of kWh as the README writes it: whole, with a space between thousands ("3 041").
pub fn thousands(x: f64) -> String {
    let whole = format!("{:.0}", x.abs());
    let mut out = String::new();
    for (i, c) in whole.chars().enumerate() {
        if i > 0 && (whole.len() - i) % 3 == 0 {
            out.push(' ');
        }
        out.push(c);
    }
    if x.round() < 0.0 {
        format!("−{out}")
    } else {
        out
    }
}

#[path = "../../data/eemeter.rs"]
mod eemeter_figures;
// The adversarial tests share this module and compare nothing with eemeter.
#[allow(unused_imports)]
pub use eemeter_figures::eemeter;

/// The README's JSON example (a ```json block) that starts with `start`.
pub fn json_example(start: &str) -> serde_json::Value {
    let text = text();
    let block = text
        .split("```")
        .filter_map(|b| b.strip_prefix("json\n"))
        .find(|b| b.starts_with(start))
        .unwrap_or_else(|| panic!("README.md has a JSON example starting {start:?}"));
    serde_json::from_str(block).unwrap_or_else(|e| panic!("README.md's example {start:?}: {e}"))
}

/// Whether `actual` is what the README's `shown` says, each number to the decimals the README
/// writes it with (4.92 holds 4.915 to 4.925; 840 holds 840).
pub fn shows(shown: &serde_json::Value, actual: &serde_json::Value, at: &str) -> Result<(), String> {
    use serde_json::Value;
    match (shown, actual) {
        (Value::Object(s), Value::Object(a)) => {
            s.iter().try_for_each(|(k, v)| shows(v, a.get(k).unwrap_or(&Value::Null), &format!("{at}.{k}")))
        }
        (Value::Array(s), Value::Array(a)) if s.len() == a.len() => {
            s.iter().zip(a).enumerate().try_for_each(|(i, (s, a))| shows(s, a, &format!("{at}[{i}]")))
        }
        (Value::Number(s), Value::Number(a)) => {
            let written = s.to_string();
            let decimals = written.split_once('.').map_or(0, |(_, d)| d.len() as i32);
            let (s, a) = (s.as_f64().unwrap_or(f64::NAN), a.as_f64().unwrap_or(f64::NAN));
            let half = 0.5 * 10f64.powi(-decimals) + 1e-9;
            if (s - a).abs() <= half {
                Ok(())
            } else {
                Err(format!("{at}: the README shows {written}, this run {a}"))
            }
        }
        (s, a) if s == a => Ok(()),
        (s, a) => Err(format!("{at}: the README shows {s}, this run {a}")),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn numbers_are_written_as_the_readme_writes_them() {
        let cases = [(3041.2, "3 041"), (724.0, "724"), (1_000_000.0, "1 000 000"), (-1536.4, "−1 536"), (0.4, "0")];
        for (x, written) in cases {
            assert_eq!(super::thousands(x), written, "{x}");
        }
    }
}
