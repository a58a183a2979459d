//! Given real device payloads (Zigbee2MQTT, Tasmota, generic JSON, plain numbers), the agent
//! stores normalised readings and derives interval energy from counters.

use crate::support::*;

const POINTS: &str = r#"
[[points]]
id = "trv_temp"
kind = "zone_temperature"
zone = "class1"
topic = "zigbee2mqtt/trv-class1"
decode = { format = "zigbee2mqtt", field = "local_temperature" }

[[points]]
id = "trv_setpoint"
kind = "setpoint"
zone = "class1"
topic = "zigbee2mqtt/trv-class1"
decode = { format = "zigbee2mqtt", field = "occupied_heating_setpoint" }

[[points]]
id = "plug_energy"
kind = "energy"
topic = "zigbee2mqtt/plug-kitchen"
decode = { format = "zigbee2mqtt", field = "energy" }

[[points]]
id = "meter_total"
kind = "energy"
topic = "tele/main-meter/SENSOR"
decode = { format = "tasmota", field = "ENERGY.Total" }

[[points]]
id = "meter_power"
kind = "power"
topic = "tele/main-meter/SENSOR"
decode = { format = "tasmota", field = "ENERGY.Power" }

[[points]]
id = "gas"
kind = "energy"
fuel = "gas"
cumulative = false
interval = "15m"
unit = "Wh"
topic = "site/gas"
decode = { format = "json", pointer = "/energy/wh", timestamp = "/start" }

[[points]]
id = "roof_temp"
kind = "outdoor_temperature"
unit = "°F"
topic = "weather/roof/temperature"
availability_topic = "weather/roof/status"
"#;

#[test]
fn real_device_payloads_are_stored_in_normalised_units() {
    let broker = Mosquitto::start();
    let agent = Agent::start(broker.port, POINTS, "");
    let mqtt = Mqtt::connect(broker.port, &["sobre/test-site/status"]);
    mqtt.expect("sobre/test-site/status", |s| s["state"] == "online");

    // Given a Zigbee TRV, a Zigbee plug, a Tasmota meter, a gas logger and a plain °F sensor
    // When each publishes what it publishes in the field
    mqtt.publish_all([
        (
            "zigbee2mqtt/trv-class1".to_string(),
            br#"{"battery":87,"local_temperature":20.5,"occupied_heating_setpoint":19,"linkquality":120}"#.to_vec(),
        ),
        ("zigbee2mqtt/plug-kitchen".to_string(), br#"{"energy":12.5,"power":230,"state":"ON"}"#.to_vec()),
        (
            "tele/main-meter/SENSOR".to_string(),
            br#"{"Time":"2024-01-15T10:00:00","ENERGY":{"Total":1000.0,"Power":4500}}"#.to_vec(),
        ),
        (
            "tele/main-meter/SENSOR".to_string(),
            br#"{"Time":"2024-01-15T11:00:00","ENERGY":{"Total":1012.5,"Power":5200}}"#.to_vec(),
        ),
        ("site/gas".to_string(), br#"{"start":"2024-01-15T10:00:00Z","energy":{"wh":2500}}"#.to_vec()),
        ("weather/roof/status".to_string(), b"online".to_vec()),
        ("weather/roof/temperature".to_string(), b"50".to_vec()),
    ]);

    // Then every reading is stored once, in kWh, kW and °C
    let db = agent.db();
    wait_until("nine readings", || db.count("SELECT count(*) FROM readings") == 9);
    let value = |point: &str| {
        db.number(&format!("SELECT value FROM readings_view WHERE point = '{point}' ORDER BY time_utc DESC LIMIT 1"))
    };
    assert_eq!(value("trv_temp"), Some(20.5));
    assert_eq!(value("trv_setpoint"), Some(19.0));
    assert_eq!(value("plug_energy"), Some(12.5));
    assert_eq!(value("meter_power"), Some(5.2), "W → kW");
    assert_eq!(value("gas"), Some(2.5), "Wh → kWh");
    assert_eq!(value("roof_temp"), Some(10.0), "50 °F → 10 °C");

    // And the Tasmota counter's two readings, an hour apart in the device's London time,
    // become 12.5 kWh of interval energy in the 10:00 UTC hour
    let interval = db.rows("SELECT energy_kwh, energy_start, energy_end FROM readings r JOIN points p ON p.key = r.point WHERE p.id = 'meter_total' AND energy_kwh IS NOT NULL");
    assert_eq!(interval, vec![vec!["12.5".to_string(), "1705312800000".to_string(), "1705316400000".to_string()]]);
    let hour = db.number("SELECT energy_kwh FROM rollups_view WHERE point = 'meter_total' AND resolution = '1h' AND label = '2024-01-15T10:00Z'");
    assert_eq!(hour, Some(12.5));
    assert_eq!(db.number("SELECT energy_kwh FROM rollups_view WHERE point = 'gas' AND resolution = '1d'"), Some(2.5));
    // The first counter reading is an anchor: its energy is unknown, not zero
    assert_eq!(db.count("SELECT count(*) FROM readings_view WHERE point = 'meter_total' AND energy_kwh IS NULL"), 1);

    // And the device's availability is recorded
    wait_until("availability", || {
        db.count("SELECT count(*) FROM availability WHERE topic = 'weather/roof/status' AND online = 1") == 1
    });
}

#[test]
fn a_counter_survives_an_agent_restart() {
    let broker = Mosquitto::start();
    let point = json_point("meter", "energy", "kWh", "");
    let mut agent = Agent::start(broker.port, &point, "");
    let mqtt = Mqtt::connect(broker.port, &["sobre/test-site/status"]);
    mqtt.expect("sobre/test-site/status", |s| s["state"] == "online");
    mqtt.publish("test/meter", json_reading("2024-01-15T10:00:00Z", 500));
    mqtt.publish("test/meter", json_reading("2024-01-15T10:15:00Z", 502));
    let db = agent.db();
    wait_until("two counter readings", || db.readings("meter") == 2);

    // Given a clean stop, When the agent starts again and the meter reads on,
    assert!(agent.terminate().success());
    mqtt.expect("sobre/test-site/status", |s| s["state"] == "offline");
    agent.launch();
    mqtt.expect("sobre/test-site/status", |s| s["state"] == "online");
    mqtt.publish("test/meter", json_reading("2024-01-15T10:30:00Z", 505));

    // Then the interval across the restart has its energy
    wait_until("third reading", || db.readings("meter") == 3);
    assert_eq!(db.number("SELECT sum(energy_kwh) FROM readings_view WHERE point = 'meter'"), Some(5.0));
}
