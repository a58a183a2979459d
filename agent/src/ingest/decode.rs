//! Payload → number (and maybe a timestamp). One decoder per point; several points may share
//! a topic (a Tasmota SENSOR message carries energy and power).

use super::pick::pick;
use crate::config::Decoder;
use crate::point::Unit;
use chrono::{DateTime, NaiveDateTime, TimeZone, Utc};
use chrono_tz::Tz;
use serde_json::Value;

/// One decoded reading, in the device's unit unless the payload named another.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Decoded {
    pub value: f64,
    /// Milliseconds since the epoch, when the payload carries its own timestamp.
    pub ts_ms: Option<i64>,
    /// A unit stated inside the payload (Tasmota's `TempUnit`), which wins over the config.
    pub unit: Option<Unit>,
    /// The payload said on/off (`true`, `ON`, `occupied`…) rather than a number: a state,
    /// which only a binary point may take (never 1 °C).
    pub boolean: bool,
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum DecodeError {
    #[error("payload is not UTF-8")]
    NotUtf8,
    #[error("payload is not JSON: {0}")]
    NotJson(String),
    #[error("no value at {pointer}")]
    Missing { pointer: String },
    #[error("value {found} at {pointer} is not a number")]
    NotNumber { pointer: String, found: String },
    #[error("payload {found:?} is not a number")]
    PlainNotNumber { found: String },
    #[error("timestamp {found} at {pointer} is neither ISO 8601 nor epoch seconds/milliseconds")]
    BadTimestamp { pointer: String, found: String },
}

impl Decoder {
    pub fn decode(&self, payload: &[u8], tz: Tz) -> Result<Decoded, DecodeError> {
        let text = std::str::from_utf8(payload).map_err(|_| DecodeError::NotUtf8)?.trim();
        match self {
            Decoder::Plain => {
                let (value, boolean) = plain_number(text)?;
                Ok(Decoded { value, ts_ms: None, unit: None, boolean })
            }
            Decoder::Json { pointer, timestamp } => {
                let [value, ts] = pick(text, [Some(pointer), timestamp.as_deref()]).map_err(not_json)?;
                let (value, boolean) = number_at(value, pointer)?;
                let ts_ms = match timestamp {
                    Some(ts_pointer) => Some(timestamp_at(ts, ts_pointer, tz)?),
                    None => None,
                };
                Ok(Decoded { value, ts_ms, unit: None, boolean })
            }
            Decoder::Zigbee2mqtt { pointer } => {
                let [value, last_seen] = pick(text, [Some(pointer), Some(LAST_SEEN)]).map_err(not_json)?;
                let (value, boolean) = number_at(value, pointer)?;
                let ts_ms = match last_seen {
                    Some(seen) => Some(timestamp_at(Some(seen), LAST_SEEN, tz)?),
                    None => None,
                };
                Ok(Decoded { value, ts_ms, unit: None, boolean })
            }
            Decoder::Tasmota { pointer } => {
                let [value, time, temp_unit] =
                    pick(text, [Some(pointer), Some(TIME), Some("/TempUnit")]).map_err(not_json)?;
                let (value, boolean) = number_at(value, pointer)?;
                // Tasmota stamps `Time` in the device's local time, without an offset.
                let ts_ms = match time {
                    Some(time) => Some(timestamp_at(Some(time), TIME, tz)?),
                    None => None,
                };
                let unit = match temp_unit.as_ref().and_then(Value::as_str) {
                    Some("F") if pointer.contains("Temperature") => Some(Unit::Fahrenheit),
                    _ => None,
                };
                Ok(Decoded { value, ts_ms, unit, boolean })
            }
        }
    }
}

/// Where Zigbee2MQTT's `advanced.last_seen` and Tasmota's `Time` stamp a message.
const LAST_SEEN: &str = "/last_seen";
const TIME: &str = "/Time";

fn not_json(e: serde_json::Error) -> DecodeError {
    DecodeError::NotJson(e.to_string())
}

/// Numbers, numeric strings and the on/off words devices use for binary states; `true` when
/// it was such a word.
fn plain_number(text: &str) -> Result<(f64, bool), DecodeError> {
    match text.to_ascii_lowercase().as_str() {
        "on" | "true" | "occupied" => Ok((1.0, true)),
        "off" | "false" | "unoccupied" => Ok((0.0, true)),
        lower => {
            lower.parse::<f64>().map(|v| (v, false)).map_err(|_| DecodeError::PlainNotNumber { found: shorten(text) })
        }
    }
}

/// The number at `pointer`, from what [`pick`] found there.
fn number_at(found: Option<Value>, pointer: &str) -> Result<(f64, bool), DecodeError> {
    let missing = || DecodeError::Missing { pointer: pointer.to_string() };
    match found.ok_or_else(missing)? {
        Value::Number(n) => n.as_f64().map(|v| (v, false)).ok_or_else(missing),
        Value::Bool(b) => Ok((if b { 1.0 } else { 0.0 }, true)),
        // A device that has no reading yet says null: that is missing, never zero.
        Value::Null => Err(missing()),
        Value::String(s) => {
            plain_number(&s).map_err(|_| DecodeError::NotNumber { pointer: pointer.to_string(), found: shorten(&s) })
        }
        other => Err(DecodeError::NotNumber { pointer: pointer.to_string(), found: shorten(&other.to_string()) }),
    }
}

fn timestamp_at(found: Option<Value>, pointer: &str, tz: Tz) -> Result<i64, DecodeError> {
    let bad = |found: String| DecodeError::BadTimestamp { pointer: pointer.to_string(), found: shorten(&found) };
    match found {
        Some(Value::String(s)) => parse_timestamp(&s, tz).ok_or_else(|| bad(s)),
        Some(Value::Number(n)) => n.as_f64().and_then(epoch_to_ms).ok_or_else(|| bad(n.to_string())),
        Some(other) => Err(bad(other.to_string())),
        None => Err(DecodeError::Missing { pointer: pointer.to_string() }),
    }
}

/// ISO 8601 with an offset, or naive local time in the site's zone.
pub fn parse_timestamp(text: &str, tz: Tz) -> Option<i64> {
    if let Ok(t) = DateTime::parse_from_rfc3339(text) {
        return Some(t.timestamp_millis());
    }
    let naive = NaiveDateTime::parse_from_str(text, "%Y-%m-%dT%H:%M:%S%.f")
        .or_else(|_| NaiveDateTime::parse_from_str(text, "%Y-%m-%d %H:%M:%S%.f"))
        .ok()?;
    // In the autumn's repeated hour the earlier instant is taken; in the spring's missing hour
    // the clock cannot have read that time, so the reading is refused.
    tz.from_local_datetime(&naive).earliest().map(|t| t.with_timezone(&Utc).timestamp_millis())
}

/// Epoch seconds or milliseconds: anything above 10^11 is milliseconds (seconds would be year 5138).
fn epoch_to_ms(n: f64) -> Option<i64> {
    if !n.is_finite() || n < 0.0 {
        return None;
    }
    let ms = if n > 1.0e11 { n } else { n * 1000.0 };
    (ms < 1.0e15).then_some(ms as i64)
}

fn shorten(text: &str) -> String {
    text.chars().take(40).collect()
}

/// A device's availability message: `online`/`offline` as plain text (Tasmota LWT: `Online`),
/// or Zigbee2MQTT's `{"state":"online"}`.
pub fn availability(payload: &[u8]) -> Option<bool> {
    let text = std::str::from_utf8(payload).ok()?.trim();
    let state = match serde_json::from_str::<Value>(text) {
        Ok(Value::Object(map)) => map.get("state")?.as_str()?.to_ascii_lowercase(),
        _ => text.trim_matches('"').to_ascii_lowercase(),
    };
    match state.as_str() {
        "online" => Some(true),
        "offline" => Some(false),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PARIS: Tz = chrono_tz::Europe::Paris;

    fn ms(iso: &str) -> i64 {
        DateTime::parse_from_rfc3339(iso).map(|t| t.timestamp_millis()).expect("test timestamp")
    }

    #[test]
    fn decodes_what_real_devices_publish() {
        let z2m_trv = br#"{"battery":87,"local_temperature":20.5,"occupied_heating_setpoint":19,"linkquality":120}"#;
        let z2m_plug = br#"{"energy":12.34,"power":230,"state":"ON"}"#;
        let tasmota = br#"{"Time":"2024-01-15T10:00:00","ENERGY":{"TotalStartTime":"2023-01-01T00:00:00","Total":1234.567,"Yesterday":3.2,"Today":1.1,"Power":450,"Voltage":231},"TempUnit":"C"}"#;
        let tasmota_f = br#"{"Time":"2024-01-15T10:00:00","DS18B20":{"Id":"0316","Temperature":68.0},"TempUnit":"F"}"#;
        let table: [(&str, Decoder, &[u8], Decoded); 9] = [
            ("plain", Decoder::Plain, b" 21.5\n", Decoded { value: 21.5, ts_ms: None, unit: None, boolean: false }),
            ("plain on", Decoder::Plain, b"ON", Decoded { value: 1.0, ts_ms: None, unit: None, boolean: true }),
            (
                "json with timestamp",
                Decoder::Json { pointer: "/value".into(), timestamp: Some("/ts".into()) },
                br#"{"ts":"2024-01-15T09:00:00Z","value":3.5}"#,
                Decoded { value: 3.5, ts_ms: Some(ms("2024-01-15T09:00:00Z")), unit: None, boolean: false },
            ),
            (
                "json epoch seconds",
                Decoder::Json { pointer: "/m/v".into(), timestamp: Some("/t".into()) },
                br#"{"t":1705309200,"m":{"v":"7.25"}}"#,
                Decoded { value: 7.25, ts_ms: Some(ms("2024-01-15T09:00:00Z")), unit: None, boolean: false },
            ),
            (
                "z2m thermostat",
                Decoder::zigbee2mqtt("local_temperature"),
                z2m_trv,
                Decoded { value: 20.5, ts_ms: None, unit: None, boolean: false },
            ),
            (
                "z2m with last_seen (advanced.last_seen: ISO_8601)",
                Decoder::zigbee2mqtt("pi_heating_demand"),
                br#"{"pi_heating_demand":35,"last_seen":"2024-01-15T10:00:00+01:00"}"#,
                Decoded { value: 35.0, ts_ms: Some(ms("2024-01-15T09:00:00Z")), unit: None, boolean: false },
            ),
            (
                "z2m plug energy",
                Decoder::zigbee2mqtt("energy"),
                z2m_plug,
                Decoded { value: 12.34, ts_ms: None, unit: None, boolean: false },
            ),
            (
                "tasmota energy, device local time",
                Decoder::tasmota("ENERGY.Total"),
                tasmota,
                Decoded { value: 1234.567, ts_ms: Some(ms("2024-01-15T09:00:00Z")), unit: None, boolean: false },
            ),
            (
                "tasmota fahrenheit",
                Decoder::tasmota("DS18B20.Temperature"),
                tasmota_f,
                Decoded {
                    value: 68.0,
                    ts_ms: Some(ms("2024-01-15T09:00:00Z")),
                    unit: Some(Unit::Fahrenheit),
                    boolean: false,
                },
            ),
        ];
        for (name, decoder, payload, then) in table {
            assert_eq!(decoder.decode(payload, PARIS), Ok(then), "{name}");
        }
    }

    #[test]
    fn malformed_payloads_are_errors_not_zeros() {
        let json = Decoder::Json { pointer: "/value".into(), timestamp: Some("/ts".into()) };
        let table: [(&str, &Decoder, &[u8], &str); 8] = [
            ("not json", &json, b"{\"value\": 3", "not JSON"),
            ("missing value", &json, br#"{"ts":"2024-01-01T00:00:00Z"}"#, "no value at /value"),
            ("null is missing", &json, br#"{"ts":"2024-01-01T00:00:00Z","value":null}"#, "no value"),
            ("object value", &json, br#"{"ts":"2024-01-01T00:00:00Z","value":{"a":1}}"#, "not a number"),
            ("bad timestamp", &json, br#"{"ts":"yesterday","value":1}"#, "timestamp"),
            ("negative epoch", &json, br#"{"ts":-5,"value":1}"#, "timestamp"),
            ("plain words", &Decoder::Plain, b"hello", "not a number"),
            ("not utf-8", &Decoder::Plain, &[0xff, 0xfe], "UTF-8"),
        ];
        for (name, decoder, payload, fragment) in table {
            let err = decoder.decode(payload, PARIS).expect_err(name);
            assert!(err.to_string().contains(fragment), "{name}: {err}");
        }
    }

    #[test]
    fn plain_nan_decodes_so_validation_can_count_it() {
        // "NaN" is a number to Rust's parser; the validator, not the decoder, refuses it.
        assert!(Decoder::Plain.decode(b"NaN", PARIS).map(|d| d.value.is_nan()).unwrap_or(false));
    }

    #[test]
    fn availability_messages() {
        let table: [(&[u8], Option<bool>); 6] = [
            (b"Online", Some(true)),
            (b"Offline", Some(false)),
            (br#"{"state":"online"}"#, Some(true)),
            (br#"{"state":"offline"}"#, Some(false)),
            (b"offline\n", Some(false)),
            (b"maybe", None),
        ];
        for (payload, then) in table {
            assert_eq!(availability(payload), then, "{}", String::from_utf8_lossy(payload));
        }
    }

    #[test]
    fn naive_local_times_follow_the_site_zone_across_dst() {
        // 2024-03-31 02:30 does not exist in Paris; 2024-10-27 02:30 happens twice.
        assert_eq!(parse_timestamp("2024-03-31T02:30:00", PARIS), None);
        assert_eq!(parse_timestamp("2024-10-27T02:30:00", PARIS), Some(ms("2024-10-27T00:30:00Z")));
        assert_eq!(parse_timestamp("2024-07-01 12:00:00", PARIS), Some(ms("2024-07-01T10:00:00Z")));
    }
}
