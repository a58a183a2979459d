//! What a setpoint command looks like on an actuator's topic, by the device's dialect. The
//! fallback contract: a thermostat holds the agent's setpoint until its own programme's next
//! period, the command's `expires` (where the device reads it), or the agent's status turning
//! `offline` (its last will), whichever comes first; then it follows its own programme.

use crate::config::control::CommandFormat;
use serde_json::json;

/// A setpoint rounded to what thermostats take (a tenth of a degree).
pub fn payload(format: CommandFormat, setpoint_c: f64, expires_ms: i64) -> String {
    let setpoint = (setpoint_c * 10.0).round() / 10.0;
    match format {
        CommandFormat::Zigbee2mqtt => json!({ "occupied_heating_setpoint": setpoint }).to_string(),
        CommandFormat::Json => {
            json!({ "setpoint": setpoint, "expires": crate::clock::iso(expires_ms), "by": "sobre" }).to_string()
        }
        CommandFormat::Plain => setpoint.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_dialect_carries_the_setpoint_to_a_tenth() {
        let table = [
            (CommandFormat::Zigbee2mqtt, r#"{"occupied_heating_setpoint":19.5}"#),
            (CommandFormat::Json, r#"{"by":"sobre","expires":"2019-01-07T06:00:00Z","setpoint":19.5}"#),
            (CommandFormat::Plain, "19.5"),
        ];
        for (format, then) in table {
            assert_eq!(payload(format, 19.4999, 1_546_840_800_000), then, "{format:?}");
        }
    }
}
