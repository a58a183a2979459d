//! How a point's payload is spelled (plain number, JSON, Zigbee2MQTT, Tasmota): configuration
//! data. Decoding itself is ingest's (`ingest::decode`).

#[derive(Debug, Clone, PartialEq)]
pub enum Decoder {
    Plain,
    Json {
        pointer: String,
        timestamp: Option<String>,
    },
    /// Zigbee2MQTT device JSON: the property sits at the top level; `last_seen` (Zigbee2MQTT's
    /// `advanced.last_seen` option, ISO 8601 or epoch ms) stamps the reading when present.
    Zigbee2mqtt {
        pointer: String,
    },
    /// Tasmota SENSOR JSON: a dotted path below the root; `Time` is the device's local time.
    Tasmota {
        pointer: String,
    },
}

impl Decoder {
    /// Tasmota's and Zigbee2MQTT's documented field spelling → a JSON pointer.
    pub fn tasmota(field: &str) -> Self {
        Decoder::Tasmota { pointer: dotted_to_pointer(field) }
    }

    pub fn zigbee2mqtt(field: &str) -> Self {
        Decoder::Zigbee2mqtt { pointer: dotted_to_pointer(field) }
    }
}

fn dotted_to_pointer(field: &str) -> String {
    if field.starts_with('/') {
        return field.to_string();
    }
    field.split('.').fold(String::new(), |mut pointer, part| {
        pointer.push('/');
        pointer.push_str(&part.replace('~', "~0").replace('/', "~1"));
        pointer
    })
}
