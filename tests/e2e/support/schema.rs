//! The subset of JSON Schema (draft 2020-12) our published schemas use: `type` (a name or a
//! list), `required`, `properties`, `additionalProperties` (false or a schema), `items`,
//! `enum`, `const`, `minimum`, `$ref` to a sibling file, `pattern`-free strings, `format: date-time`. Enough to hold real output to the contract, without a heavy
//! validator crate in the build.

use serde_json::Value;

/// `config/schemas/<name>.json`.
pub fn load(name: &str) -> Value {
    let path = format!("{}/../config/schemas/{name}.json", env!("CARGO_MANIFEST_DIR"));
    serde_json::from_str(&std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))).expect("JSON")
}

pub fn check(schema: &Value, value: &Value) -> Result<(), String> {
    check_at("$", schema, value)
}

fn check_at(path: &str, schema: &Value, value: &Value) -> Result<(), String> {
    // A `$ref` names a sibling file of config/schemas: one definition shared by two messages.
    if let Some(file) = schema.get("$ref").and_then(Value::as_str) {
        let text = std::fs::read_to_string(format!("{}/../config/schemas/{file}", env!("CARGO_MANIFEST_DIR")))
            .map_err(|e| format!("{path}: $ref {file}: {e}"))?;
        let referenced: Value = serde_json::from_str(&text).map_err(|e| format!("{path}: $ref {file}: {e}"))?;
        return check_at(path, &referenced, value);
    }
    if let Some(one_of) = schema.get("oneOf").and_then(Value::as_array) {
        let passing = one_of.iter().filter(|s| check_at(path, s, value).is_ok()).count();
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
            return Err(format!("{path}: expected {types:?}, found {value}"));
        }
    }
    if let (Some(items), Some(array)) = (schema.get("items"), value.as_array()) {
        for (i, item) in array.iter().enumerate() {
            check_at(&format!("{path}[{i}]"), items, item)?;
        }
    }
    if let Some(constant) = schema.get("const") {
        if constant != value {
            return Err(format!("{path}: expected {constant}, found {value}"));
        }
    }
    if let Some(options) = schema.get("enum").and_then(Value::as_array) {
        if !options.contains(value) {
            return Err(format!("{path}: {value} is not one of {options:?}"));
        }
    }
    if let (Some(min), Some(n)) = (schema.get("minimum").and_then(Value::as_f64), value.as_f64()) {
        if n < min {
            return Err(format!("{path}: {n} is below {min}"));
        }
    }
    if schema.get("format").and_then(Value::as_str) == Some("date-time") {
        let text = value.as_str().unwrap_or_default();
        chrono::DateTime::parse_from_rfc3339(text).map_err(|e| format!("{path}: {text:?} is not a date-time ({e})"))?;
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
                (Some(sub), _) => check_at(&format!("{path}.{key}"), sub, item)?,
                (None, Some(Value::Bool(false))) => return Err(format!("{path}: {key:?} is not in the schema")),
                (None, Some(sub @ Value::Object(_))) => check_at(&format!("{path}.{key}"), sub, item)?,
                (None, _) => {}
            }
        }
    }
    Ok(())
}

#[test]
fn the_checker_refuses_what_it_should() {
    let schema = serde_json::json!({
        "type": "object", "required": ["a"], "additionalProperties": false,
        "properties": { "a": { "enum": ["x", "y"] }, "n": { "type": "integer", "minimum": 0 } }
    });
    assert!(check(&schema, &serde_json::json!({"a": "x", "n": 3})).is_ok());
    for bad in [
        serde_json::json!({"n": 1}),
        serde_json::json!({"a": "z"}),
        serde_json::json!({"a": "x", "n": -1}),
        serde_json::json!({"a": "x", "b": 1}),
    ] {
        assert!(check(&schema, &bad).is_err(), "{bad}");
    }
}
