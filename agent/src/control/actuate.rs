//! What a setpoint command and a release look like on an actuator's topics, by the zone's
//! contract. A device that drops commands keeps the agent's setpoint until its own programme's
//! next period, the command's `expires` (where the device reads it), or the agent's status
//! turning `offline` (its last will); one that holds keeps it until released, so the agent
//! hands it back with its release, never with a value.

use crate::config::control::{CommandFormat, ControlZone, Release};
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
        CommandFormat::Value => json!({ "value": setpoint }).to_string(),
    }
}

/// What hands `zone` back to its own programme, whose value now is `programme_c`: its release
/// where it has one, else (a device that drops commands by itself) the programme's value.
/// `None` when neither is known.
pub fn release(zone: &ControlZone, programme_c: Option<f64>, expires_ms: i64) -> Option<(String, String)> {
    match &zone.release {
        Release::Publish { topic, payload } => Some((topic.clone(), payload.clone())),
        Release::ProgrammeValue => {
            programme_c.map(|p| (zone.command_topic.clone(), payload(zone.format, p, expires_ms)))
        }
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
            (CommandFormat::Value, r#"{"value":19.5}"#),
        ];
        for (format, then) in table {
            assert_eq!(payload(format, 19.4999, 1_546_840_800_000), then, "{format:?}");
        }
    }

    #[test]
    fn a_zone_is_released_by_its_own_release_and_only_a_dropping_device_by_a_value() {
        let bounds = crate::config::control::Bounds::new(12.0, 24.0, 4.0, 0).expect("bounds");
        let zone = |format, release| ControlZone {
            zone: "a".into(),
            command_topic: "bms/a/setpoint/write".into(),
            format,
            release,
            holds: false,
            bounds,
        };
        let on = |topic: &str, payload: &str| Release::Publish { topic: topic.into(), payload: payload.into() };
        let table = [
            (
                "a release topic",
                zone(CommandFormat::Plain, on("bms/a/setpoint/release", "")),
                Some(18.0),
                Some(("bms/a/setpoint/release", "")),
            ),
            (
                "BACnet's relinquish on the command topic, programme unknown",
                zone(CommandFormat::Value, on("bms/a/setpoint/write", r#"{"value":null}"#)),
                None,
                Some(("bms/a/setpoint/write", r#"{"value":null}"#)),
            ),
            (
                "a TRV that drops commands",
                zone(CommandFormat::Plain, Release::ProgrammeValue),
                Some(18.0),
                Some(("bms/a/setpoint/write", "18")),
            ),
            ("a TRV, programme unknown", zone(CommandFormat::Plain, Release::ProgrammeValue), None, None),
        ];
        for (name, z, programme_c, then) in table {
            let got = release(&z, programme_c, 0);
            assert_eq!(got.as_ref().map(|(t, p)| (t.as_str(), p.as_str())), then, "{name}");
        }
    }
}
