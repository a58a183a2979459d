//! Published messages held to their schemas in config/schemas, by the agent's own checker
//! (`sobre_agent::city::schema`: the subset of JSON Schema our schemas use).

use serde_json::Value;

/// `config/schemas/<name>.json`.
pub fn load(name: &str) -> Value {
    let path = format!("{}/../config/schemas/{name}.json", env!("CARGO_MANIFEST_DIR"));
    serde_json::from_str(&std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))).expect("JSON")
}

/// The agent's own checker (the city's sink holds reports to it too), with `$ref` read from a
/// sibling file of config/schemas.
pub fn check(schema: &Value, value: &Value) -> Result<(), String> {
    sobre_agent::city::schema::check_resolving(schema, value, &|file| {
        let path = format!("{}/../config/schemas/{file}", env!("CARGO_MANIFEST_DIR"));
        let text = std::fs::read_to_string(&path).map_err(|e| format!("$ref {file}: {e}"))?;
        serde_json::from_str(&text).map_err(|e| format!("$ref {file}: {e}"))
    })
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
