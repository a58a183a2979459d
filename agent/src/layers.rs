//! The agent's layers, and the test that keeps them: data flows one way, from the vocabulary
//! every part shares up to the daemon that wires the parts together. A module may use the
//! modules of the layers below its own and those listed before it in its own layer; never one
//! above. So there is no import cycle, and each layer can be read knowing only those below.
//!
//! ```text
//!  daemon · replay · sim · fuzzing · city       wiring, tools, the emulator, the city's sink (cli/ is the binary's)
//!  web · homeassistant                          the local page, Home Assistant
//!  glance · overview · inventory                views of the store, the ledger and the settings
//!  status · uplink · report                     what leaves the building
//!  control                                      setpoints, flexibility
//!  baseline · advisor                           models and advice
//!  ingest                                       messages → readings
//!  mqtt · store                                 the broker link, the SQLite file
//!  config                                       data and validation only
//!  point · clock · reading · shared · stats ·   the vocabulary, and the runtime's small parts
//!  quiet · watchdog
//! ```

/// Lowest first; within a layer, a module may use the ones listed before it.
#[cfg(test)]
const LAYERS: &[&[&str]] = &[
    &["point", "clock", "reading", "shared", "stats", "quiet", "watchdog"],
    &["config"],
    &["mqtt", "store"],
    &["ingest"],
    &["baseline", "advisor"],
    &["control"],
    &["status", "uplink", "report"],
    &["glance", "overview", "inventory"],
    &["web", "homeassistant"],
    &["daemon", "replay", "sim", "fuzzing", "city"],
];

#[cfg(test)]
mod tests {
    use super::LAYERS;
    use std::collections::BTreeSet;
    use std::path::{Path, PathBuf};

    /// The top-level modules a source file names through `crate::`, including inside
    /// `use crate::{a::X, b::{Y, Z}}` groups; comments (prose that mentions a module) aside.
    fn used_modules(source: &str) -> BTreeSet<String> {
        let code: String =
            source.lines().map(|line| line.split("//").next().unwrap_or_default()).collect::<Vec<_>>().join("\n");
        let source = code.as_str();
        let mut used = BTreeSet::new();
        for (at, _) in source.match_indices("crate::") {
            // `sobre_crate::` or `my_crate::` are not the crate root.
            let before = source[..at].chars().next_back();
            if before.is_some_and(|c| c.is_alphanumeric() || c == '_') {
                continue;
            }
            let rest = &source[at + "crate::".len()..];
            if let Some(group) = rest.strip_prefix('{') {
                let mut depth = 0;
                let mut item_start = true;
                for (i, c) in group.char_indices() {
                    match c {
                        '{' => depth += 1,
                        '}' if depth == 0 => break,
                        '}' => depth -= 1,
                        ',' if depth == 0 => item_start = true,
                        c if item_start && (c.is_alphanumeric() || c == '_') => {
                            used.insert(identifier(&group[i..]));
                            item_start = false;
                        }
                        _ => {}
                    }
                }
            } else {
                used.insert(identifier(rest));
            }
        }
        used
    }

    fn identifier(text: &str) -> String {
        text.chars().take_while(|c| c.is_alphanumeric() || *c == '_').collect()
    }

    fn sources(dir: &Path, found: &mut Vec<PathBuf>) {
        let entries = std::fs::read_dir(dir).unwrap_or_else(|e| panic!("cannot list {}: {e}", dir.display()));
        for entry in entries {
            let path = entry.expect("a directory entry").path();
            if path.is_dir() {
                sources(&path, found);
            } else if path.extension().is_some_and(|e| e == "rs") {
                found.push(path);
            }
        }
    }

    /// The layer order flattened: a module's rank.
    fn rank(module: &str) -> Option<usize> {
        LAYERS.iter().flat_map(|layer| layer.iter()).position(|m| *m == module)
    }

    #[test]
    fn every_import_goes_down_the_layers() {
        let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
        let mut files = Vec::new();
        sources(&src, &mut files);
        let mut wrong = Vec::new();
        let mut unplaced = BTreeSet::new();
        for file in &files {
            let relative = file.strip_prefix(&src).expect("under src");
            let top = relative.components().next().expect("a path").as_os_str().to_string_lossy();
            let module = top.trim_end_matches(".rs");
            // The binary's own files and the crate root are above every layer.
            if matches!(module, "main" | "cli" | "lib" | "layers") {
                continue;
            }
            let Some(own) = rank(module) else {
                unplaced.insert(module.to_string());
                continue;
            };
            let source = std::fs::read_to_string(file).expect("readable source");
            for used in used_modules(&source) {
                if used == module {
                    continue;
                }
                match rank(&used) {
                    Some(theirs) if theirs < own => {}
                    Some(_) => wrong.push(format!("{} uses crate::{used}", relative.display())),
                    None => {
                        unplaced.insert(used);
                    }
                }
            }
        }
        assert!(unplaced.is_empty(), "modules in no layer (add them to LAYERS): {unplaced:?}");
        assert!(wrong.is_empty(), "imports against the layers:\n  {}", wrong.join("\n  "));
    }

    #[test]
    fn the_parser_sees_grouped_and_nested_imports() {
        let table = [
            ("use crate::config::Settings;", vec!["config"]),
            ("use crate::{clock::iso, store::{Store, StoreError}};", vec!["clock", "store"]),
            ("let x = crate::point::Unit::Kwh;", vec!["point"]),
            ("use sobre_crate::foo;", vec![]),
            ("//! see `crate::layers`\nuse crate::stats::Stats; // not crate::web", vec!["stats"]),
        ];
        for (source, expected) in table {
            let found: Vec<String> = used_modules(source).into_iter().collect();
            assert_eq!(found, expected, "{source}");
        }
    }
}
