//! Where in the file a TOML error is, as the key a user would look for: toml's error carries
//! the byte span it is about and the line, but not which table it is in, and a file with twenty
//! `[[points]]` has twenty `kind = …` lines. This reads the table headers above the span.

/// The dotted key at byte `offset` of `text`: the table it is in (an array of tables with its
/// index, `points[3]`) and the key of the line, or the header itself when the span is on one.
/// `None` before any key (an empty file, a comment).
pub fn key_at(text: &str, offset: usize) -> Option<String> {
    let offset = offset.min(text.len());
    let mut table: Option<String> = None;
    let mut arrays: std::collections::BTreeMap<String, usize> = Default::default();
    let mut start = 0;
    for line in text.split_inclusive('\n') {
        let end = start + line.len();
        let trimmed = line.trim();
        let here = offset < end || end == text.len();
        if let Some(name) = trimmed.strip_prefix("[[").and_then(|h| h.split("]]").next()) {
            let name = unquoted(name);
            let index = arrays.entry(name.clone()).and_modify(|n| *n += 1).or_insert(0);
            table = Some(format!("{name}[{index}]"));
        } else if let Some(name) = trimmed.strip_prefix('[').and_then(|h| h.split(']').next()) {
            table = Some(unquoted(name));
        } else if here {
            let key =
                trimmed.split_once('=').map(|(k, _)| unquoted(k)).filter(|k| !k.is_empty() && !k.starts_with('#'));
            return match (table, key) {
                (Some(t), Some(k)) => Some(format!("{t}.{k}")),
                (None, Some(k)) => Some(k),
                (t, None) => t,
            };
        }
        if here {
            return table;
        }
        start = end;
    }
    table
}

/// A key as written, without its quotes or the spaces around its dots.
fn unquoted(key: &str) -> String {
    key.split('.').map(|part| part.trim().trim_matches(|c| c == '"' || c == '\'')).collect::<Vec<_>>().join(".")
}

#[cfg(test)]
mod tests {
    use super::key_at;

    const FILE: &str = "[site]\nid = \"s\"\n\n[[points]]\nid = \"a\"\nkind = \"zone_temperature\"\n\n[[points]]\nid = \"b\"\n\"kind\" = \"vibes\"\n[storage]\npaht = \"x.db\"\n";

    #[test]
    fn a_span_is_named_by_its_table_and_key() {
        // Given a span on a line, Then the dotted key a user would look for
        let at = |needle: &str| FILE.find(needle).expect("in the file");
        let table = [
            ("\"s\"", Some("site.id")),
            ("\"zone_temperature\"", Some("points[0].kind")),
            ("\"vibes\"", Some("points[1].kind")),
            ("paht", Some("storage.paht")),
            ("[storage]", Some("storage")),
        ];
        for (needle, key) in table {
            assert_eq!(key_at(FILE, at(needle)).as_deref(), key, "{needle}");
        }
        assert_eq!(key_at("", 0), None);
        assert_eq!(key_at("# nothing\n", 3), None);
        assert_eq!(key_at(FILE, usize::MAX).as_deref(), Some("storage.paht"), "past the end: the last line");
    }
}
