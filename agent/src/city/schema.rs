//! The reports' JSON Schemas, compiled in, and the subset of JSON Schema (draft 2020-12) they use:
//! `type` (a name or a list), `required`, `properties`, `additionalProperties` (false or a
//! schema), `items`, `enum`, `const`, `minimum`, `oneOf`, `format: date-time`, and `$ref` to a
//! sibling file where the caller resolves it. The agent's tests check real output with this same
//! checker (tests/e2e/support/schema.rs resolves `$ref` from config/schemas), so the sink holds a
//! report to exactly the contract the tests hold it to, without a heavy validator crate.

use serde_json::Value;
use std::sync::OnceLock;

/// The schemas a report may name, by their `$id`: what leaves a building on
/// `<prefix>/<site>/reports/<kind>`. A `$ref` is not used by any of them.
const REPORT_SCHEMAS: &[(&str, &str)] = &[
    ("sobre.savings/1", include_str!("../../../config/schemas/savings.json")),
    // Earlier agents report settled events only, as sobre.flex/1: a fleet upgrades site by site.
    ("sobre.flex/1", include_str!("../../../config/schemas/flex-1.json")),
    ("sobre.flex/2", include_str!("../../../config/schemas/flex.json")),
    ("sobre.health/1", include_str!("../../../config/schemas/health.json")),
    ("sobre.footprint/1", include_str!("../../../config/schemas/footprint.json")),
    ("sobre.register/1", include_str!("../../../config/schemas/register.json")),
];

/// The compiled-in schema named `id`, or None for a schema the sink does not know.
pub fn report_schema(id: &str) -> Option<&'static Value> {
    static PARSED: OnceLock<Vec<(&'static str, Value)>> = OnceLock::new();
    let parsed = PARSED.get_or_init(|| {
        REPORT_SCHEMAS
            .iter()
            // The files are the repository's own and a test parses each: an unparsable one
            // would be a build mistake, and it then names no schema (every report refused).
            .filter_map(|(id, text)| serde_json::from_str(text).ok().map(|v| (*id, v)))
            .collect()
    });
    parsed.iter().find(|(known, _)| *known == id).map(|(_, v)| v)
}

/// Ok, or where and how `value` breaks `schema` (the first breach found). The reports' schemas
/// use no `$ref`: one is refused.
pub fn check(schema: &Value, value: &Value) -> Result<(), String> {
    check_resolving(schema, value, &|file| Err(format!("$ref {file} is not supported by the sink's checker")))
}

/// As [`check`], with `resolve` giving the schema a `$ref` names (a sibling file's name).
pub fn check_resolving(
    schema: &Value,
    value: &Value,
    resolve: &dyn Fn(&str) -> Result<Value, String>,
) -> Result<(), String> {
    check_at("$", schema, value, resolve)
}

fn check_at(
    path: &str,
    schema: &Value,
    value: &Value,
    resolve: &dyn Fn(&str) -> Result<Value, String>,
) -> Result<(), String> {
    if let Some(file) = schema.get("$ref").and_then(Value::as_str) {
        let referenced = resolve(file).map_err(|e| format!("{path}: {e}"))?;
        return check_at(path, &referenced, value, resolve);
    }
    if let Some(one_of) = schema.get("oneOf").and_then(Value::as_array) {
        let passing = one_of.iter().filter(|s| check_at(path, s, value, resolve).is_ok()).count();
        if passing != 1 {
            return Err(format!("{path}: matches {passing} of the oneOf alternatives, not exactly one"));
        }
    }
    let types: Vec<&str> = match schema.get("type") {
        Some(Value::String(t)) => vec![t.as_str()],
        Some(Value::Array(ts)) => ts.iter().filter_map(Value::as_str).collect(),
        _ => Vec::new(),
    };
    if !types.is_empty() {
        let mut ok = false;
        for expected in &types {
            ok |= match *expected {
                "object" => value.is_object(),
                "string" => value.is_string(),
                "integer" => value.is_u64() || value.is_i64(),
                "number" => value.is_number(),
                "boolean" => value.is_boolean(),
                "array" => value.is_array(),
                "null" => value.is_null(),
                other => return Err(format!("{path}: schema type {other} is not supported by this checker")),
            };
        }
        if !ok {
            return Err(format!("{path}: expected {types:?}, found {}", brief(value)));
        }
    }
    if let (Some(items), Some(array)) = (schema.get("items"), value.as_array()) {
        for (i, item) in array.iter().enumerate() {
            check_at(&format!("{path}[{i}]"), items, item, resolve)?;
        }
    }
    if let Some(constant) = schema.get("const") {
        if constant != value {
            return Err(format!("{path}: expected {constant}, found {}", brief(value)));
        }
    }
    if let Some(options) = schema.get("enum").and_then(Value::as_array) {
        if !options.contains(value) {
            return Err(format!("{path}: {} is not one of {options:?}", brief(value)));
        }
    }
    if let (Some(min), Some(n)) = (schema.get("minimum").and_then(Value::as_f64), value.as_f64()) {
        if n < min {
            return Err(format!("{path}: {n} is below {min}"));
        }
    }
    if schema.get("format").and_then(Value::as_str) == Some("date-time") {
        let text = value.as_str().unwrap_or_default();
        chrono::DateTime::parse_from_rfc3339(text)
            .map_err(|e| format!("{path}: {:?} is not a date-time ({e})", clip(text)))?;
    }
    if let Some(object) = value.as_object() {
        for key in schema.get("required").and_then(Value::as_array).into_iter().flatten() {
            let key = key.as_str().unwrap_or_default();
            if !object.contains_key(key) {
                return Err(format!("{path}: missing required {key:?}"));
            }
        }
        let properties = schema.get("properties").and_then(Value::as_object);
        for (key, item) in object {
            match (properties.and_then(|p| p.get(key)), schema.get("additionalProperties")) {
                (Some(sub), _) => check_at(&format!("{path}.{key}"), sub, item, resolve)?,
                (None, Some(Value::Bool(false))) => {
                    return Err(format!("{path}: {:?} is not in the schema", clip(key)))
                }
                (None, Some(sub @ Value::Object(_))) => check_at(&format!("{path}.{key}"), sub, item, resolve)?,
                (None, _) => {}
            }
        }
    }
    Ok(())
}

/// A value as the refusal reason quotes it: short, whatever a hostile payload holds.
fn brief(value: &Value) -> String {
    clip(&value.to_string()).to_string()
}

fn clip(text: &str) -> &str {
    const MAX: usize = 80;
    match text.char_indices().nth(MAX) {
        Some((at, _)) => &text[..at],
        None => text,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn every_report_schema_compiles_in_and_names_itself() {
        for (id, _) in REPORT_SCHEMAS {
            let schema = report_schema(id).unwrap_or_else(|| panic!("{id} parses"));
            assert_eq!(schema["$id"], *id);
            assert_eq!(schema["properties"]["schema"]["const"], *id);
        }
        assert!(report_schema("sobre.status/1").is_none(), "a status is not a report");
    }

    #[test]
    fn the_checker_refuses_what_it_should() {
        let schema = json!({
            "type": "object", "required": ["a"], "additionalProperties": false,
            "properties": { "a": { "enum": ["x", "y"] }, "n": { "type": "integer", "minimum": 0 },
                            "t": { "type": "string", "format": "date-time" } }
        });
        assert!(check(&schema, &json!({"a": "x", "n": 3, "t": "2019-02-10T23:00:00Z"})).is_ok());
        for (bad, says) in [
            (json!({"n": 1}), "missing required \"a\""),
            (json!({"a": "z"}), "is not one of"),
            (json!({"a": "x", "n": -1}), "below 0"),
            (json!({"a": "x", "b": 1}), "\"b\" is not in the schema"),
            (json!({"a": "x", "t": "yesterday"}), "not a date-time"),
        ] {
            let error = check(&schema, &bad).expect_err("refused");
            assert!(error.contains(says), "{bad}: {error}");
        }
    }
}
