//! The emulated building over a real broker: a test steps it, sends setpoint commands and
//! occupant overrides, and reads what its devices publish; the agent reads it like a real one.

use crate::support::*;
use serde_json::Value;
use std::process::{Child, Command, Stdio};

/// A one-classroom building, poorly tuned; `style` goes in its `[devices]` (Zigbee2MQTT and
/// Tasmota when empty), `extra` after it.
fn building(id: &str, style: &str, extra: &str, days: u32) -> String {
    format!(
        r#"
[building]
id = "{id}"
timezone = "Europe/Paris"
start = "2019-01-07"
days = {days}
seed = 3

[devices]
{style}
agent_status = "sobre/{id}/status"

{extra}

[[zones]]
name = "class"
use = "classroom"
area_m2 = 60
"#
    )
}

const GENERIC: &str = "zones = \"generic\"\nmeters = \"generic\"";
/// Occupants who would turn a cooling room back up would hide what the command did.
const NOBODY_COMPLAINS: &str = "[occupants]\nenabled = false";

pub struct Sim {
    child: Child,
    _dir: tempfile::TempDir,
}

impl Sim {
    /// A stepped emulator is returned once it is listening for steps: its first clock message
    /// comes after its subscription, so a step the test sends from then on is not lost (on a
    /// loaded machine the agent may be up long before the emulator).
    pub fn start(port: u16, config: &str, pace: &str) -> Self {
        let clock = (pace == "stepped").then(|| Mqtt::connect(port, &["sim/+/clock"]));
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("sim.toml");
        std::fs::write(&path, config).expect("write sim config");
        let child = Command::new(env!("CARGO_BIN_EXE_sobre"))
            .args(["sim", "--port", &port.to_string(), "--pace", pace, "-c"])
            .arg(&path)
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start sobre sim");
        if let Some(clock) = clock {
            clock.messages.recv_timeout(DEADLINE).expect("the stepped emulator's first clock message");
        }
        Sim { child, _dir: dir }
    }

    pub fn points(config: &str) -> String {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("sim.toml");
        std::fs::write(&path, config).expect("write sim config");
        let out =
            output(Command::new(env!("CARGO_BIN_EXE_sobre")).args(["sim", "--points", "-c"]).arg(&path), "sobre sim");
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8(out.stdout).expect("UTF-8")
    }
}

impl Drop for Sim {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// What a test sees of a building after asking it for steps.
struct Seen {
    clock: Value,
    /// The heating meter's counter, kWh.
    meter_kwh: f64,
    /// The zone temperature its sensor published last.
    temperature: f64,
}

/// Asks building `id` for `n` more steps and reads what it publishes until its clock says
/// step `until`.
fn step(mqtt: &Mqtt, id: &str, n: u64, until: u64) -> Seen {
    mqtt.publish(&format!("sim/{id}/step"), n.to_string());
    let (mut meter_kwh, mut temperature) = (f64::NAN, f64::NAN);
    loop {
        let (topic, payload) = mqtt.messages.recv_timeout(DEADLINE).expect("the emulator answers");
        let json: Value = serde_json::from_slice(&payload).expect("JSON");
        if topic == format!("sim/{id}/meters/heating") {
            meter_kwh = json["total_kwh"].as_f64().expect("a counter");
        } else if topic == format!("sim/{id}/zones/class") {
            temperature = json["temperature"].as_f64().expect("a temperature");
        } else if topic == format!("sim/{id}/clock") && json["step"] == until {
            return Seen { clock: json, meter_kwh, temperature };
        }
    }
}

#[test]
fn a_setpoint_command_cools_the_zone_and_cuts_the_metered_energy_by_a_plausible_amount() {
    // Given two identical classrooms heated to 21 °C from 04:30, stepped to Wednesday 05:15
    let broker = Mosquitto::start();
    let mqtt = Mqtt::connect(broker.port, &["sim/+/clock", "sim/+/meters/heating", "sim/+/zones/class"]);
    let _a = Sim::start(broker.port, &building("ref", GENERIC, NOBODY_COMPLAINS, 7), "stepped");
    let _b = Sim::start(broker.port, &building("cut", GENERIC, NOBODY_COMPLAINS, 7), "stepped");
    let mut ready = std::collections::HashSet::new();
    while ready.len() < 2 {
        let (topic, _) = mqtt.messages.recv_timeout(DEADLINE).expect("both emulators start");
        ready.insert(topic);
    }
    let warm = 2 * 96 + 21;
    let before: Vec<f64> = ["ref", "cut"].iter().map(|id| step(&mqtt, id, warm, warm).meter_kwh).collect();
    assert!((before[0] - before[1]).abs() < 1e-9, "identical so far: {before:?}");

    // When the agent tells one of them to hold 17 °C for the next 8 hours
    mqtt.publish("sim/cut/zones/class/setpoint/set", r#"{"setpoint": 17}"#);
    let window: u32 = 32;
    let seen: Vec<Seen> =
        ["ref", "cut"].iter().map(|id| step(&mqtt, id, u64::from(window), warm + u64::from(window))).collect();
    let truth: Vec<&Value> = seen.iter().map(|s| &s.clock).collect();
    let after: Vec<f64> = seen.iter().map(|s| s.meter_kwh).collect();

    // Then the commanded zone cooled towards 17 °C while the other held 21 °C
    let air = |t: &Value| t["zones"][0]["air_c"].as_f64().expect("air");
    let truth = [truth[0], truth[1]];
    assert_eq!(truth[1]["zones"][0]["setpoint_c"], 17.0);
    assert!(truth[1]["zones"][0]["commanded"] == true && truth[1]["commands_applied"] == 1);
    assert!((air(truth[0]) - 21.0).abs() < 0.6, "reference at {}", air(truth[0]));
    assert!(air(truth[1]) < air(truth[0]) - 2.0 && air(truth[1]) > 16.4, "commanded at {}", air(truth[1]));
    // And the meter ran slower: the reference draws what a 60 m² uninsulated classroom loses at
    // about 20 K through a heat pump (0.2–2 kW), the cooling one far less
    let used: Vec<f64> = before.iter().zip(&after).map(|(b, a)| a - b).collect();
    let hours = f64::from(window) / 4.0;
    assert!((0.2..2.0).contains(&(used[0] / hours)), "reference drew {:.2} kW", used[0] / hours);
    assert!(used[1] < 0.5 * used[0], "commanded {:.2} kWh vs reference {:.2} kWh", used[1], used[0]);
    // And what the thermostat sensor publishes agrees with the truth within its noise
    assert!(
        (seen[1].temperature - air(truth[1])).abs() < 0.5,
        "sensor {} vs truth {}",
        seen[1].temperature,
        air(truth[1])
    );
}

#[test]
fn an_occupant_override_wins_over_commands_and_a_silent_agent_hands_back_to_the_programme() {
    let broker = Mosquitto::start();
    let mqtt = Mqtt::connect(broker.port, &["sim/+/clock"]);
    let _sim = Sim::start(broker.port, &building("occ", "", "", 7), "stepped");
    mqtt.expect("sim/occ/clock", |c| c["step"] == 0);
    // Given Monday 09:00 in a poorly tuned school (programme: 21 °C)
    step(&mqtt, "occ", 36, 36);
    let zone = |c: &Value| c["zones"][0].clone();

    // When the agent commands 19 °C, the thermostat holds it
    mqtt.publish("zigbee2mqtt/trv-class/set", r#"{"occupied_heating_setpoint": 19}"#);
    let c = step(&mqtt, "occ", 1, 37).clock;
    assert_eq!(zone(&c)["setpoint_c"], 19.0);

    // When an occupant turns it up to 23 °C, then the agent insists on 18 °C
    mqtt.publish("sim/occ/occupant/class", "23");
    mqtt.publish("zigbee2mqtt/trv-class/set", r#"{"occupied_heating_setpoint": 18}"#);
    let c = step(&mqtt, "occ", 1, 38).clock;
    // Then the occupant wins within one step
    assert_eq!(zone(&c)["setpoint_c"], 23.0);
    assert_eq!(zone(&c)["overridden"], true);

    // When the day ends, the override lapses; and when the agent goes offline (its last will),
    // its command lapses too and the building's own programme resumes
    let c = step(&mqtt, "occ", 36, 74).clock;
    assert_eq!(zone(&c)["overridden"], false, "the override lasts until the end of the day");
    mqtt.publish("zigbee2mqtt/trv-class/set", "16");
    let c = step(&mqtt, "occ", 1, 75).clock;
    assert_eq!(zone(&c)["setpoint_c"], 16.0);
    mqtt.publish("sobre/occ/status", r#"{"state":"offline"}"#);
    let c = step(&mqtt, "occ", 1, 76).clock;
    assert_eq!(zone(&c)["setpoint_c"], 21.0, "18:45 on a Monday: the programme says 21 °C");
    assert_eq!(zone(&c)["commanded"], false);

    // And a command that is not a setpoint is refused and counted, never applied
    mqtt.publish("zigbee2mqtt/trv-class/set", r#"{"occupied_heating_setpoint": 95}"#);
    let c = step(&mqtt, "occ", 1, 77).clock;
    assert_eq!(c["commands_refused"], 1);
    assert_eq!(zone(&c)["setpoint_c"], 21.0);
}

#[test]
fn the_agent_stores_what_the_emulated_zigbee_and_tasmota_devices_publish() {
    // Given a day of the classroom with Zigbee2MQTT TRVs and Tasmota meters
    let broker = Mosquitto::start();
    let config = building("read", "", "", 1);
    let agent = Agent::start(broker.port, &Sim::points(&config), "[agent]\nclock = \"event\"\n");
    let mqtt = Mqtt::connect(broker.port, &["sobre/test-site/status", "sim/read/clock"]);
    mqtt.expect("sobre/test-site/status", |s| s["state"] == "online");

    // When it runs as fast as it can
    let _sim = Sim::start(broker.port, &config, "max");
    let truth = mqtt.expect("sim/read/clock", |c| c["done"] == true);

    // Then the agent holds every quarter-hour of every point, and the heat pump's metered
    // energy equals what the plant drew (to the counter's 1 Wh resolution)
    let db = agent.db();
    for point in ["class_temp", "class_setpoint", "class_demand", "class_occupancy", "heating_energy", "outdoor_temp"] {
        wait_until(&format!("96 readings of {point}"), || db.readings(point) == 96);
    }
    wait_until("the day's energy rolled up", || {
        db.number("SELECT sum(energy_kwh) FROM rollups_view WHERE point = 'heating_energy' AND resolution = '15m'")
            .is_some_and(|kwh| {
                // The first reading starts the counter: its own quarter-hour is not metered.
                let first = truth["plant_kwh"].as_f64().expect("kwh") / 96.0;
                (kwh - truth["plant_kwh"].as_f64().expect("kwh")).abs() < first * 3.0
            })
    });
    let mean = db.number("SELECT avg(value) FROM readings_view WHERE point = 'class_temp'").expect("temps");
    assert!((15.0..23.0).contains(&mean), "mean zone temperature {mean}");
    assert_eq!(db.count("SELECT count(*) FROM rejections"), 0, "nothing the devices sent was refused");
}

/// Asks the office for `n` more steps and returns its clock once it reaches step `until`.
fn office_step(mqtt: &Mqtt, n: u64, until: u64) -> Value {
    mqtt.publish("sim/mairie-demo/step", n.to_string());
    mqtt.expect("sim/mairie-demo/clock", |c| c["step"] == until)
}

#[test]
fn the_agent_stores_what_the_emulated_bms_publishes_and_the_bms_holds_a_write_until_it_is_released() {
    // Given the bundled office (a BMS over a gas boiler), two days of it, stepped, read by an agent
    let config = include_str!("../../config/sim-office.toml").replace("days = 70", "days = 2");
    let broker = Mosquitto::start();
    let agent = Agent::start(broker.port, &Sim::points(&config), "[agent]\nclock = \"event\"\n");
    let mqtt = Mqtt::connect(broker.port, &["sobre/test-site/status", "sim/mairie-demo/clock"]);
    // Subscribed before the office publishes (its messages are not retained): on a loaded
    // machine the agent may start after the emulator's first quarter-hours.
    mqtt.expect("sobre/test-site/status", |s| s["state"] == "online");
    let _sim = Sim::start(broker.port, &config, "stepped");

    // When it runs to Tuesday 10:00, 18 °C is written to the open-plan office's setpoint, and
    // the day ends
    office_step(&mqtt, 34 * 4, 34 * 4);
    mqtt.publish("bms/mairie-demo/open-plan/setpoint/write", r#"{"value": 18}"#);
    let night = office_step(&mqtt, 12 * 4, 46 * 4);

    // Then at 22:00, the BMS's programme long off, the write still holds
    let zone = &night["zones"][0];
    assert_eq!((zone["setpoint_c"].as_f64(), zone["commanded"].as_bool()), (Some(18.0), Some(true)), "{zone}");
    // And once released, the low limit is back
    mqtt.publish("bms/mairie-demo/open-plan/setpoint/release", "");
    let released = office_step(&mqtt, 2 * 4, 48 * 4);
    let zone = &released["zones"][0];
    assert_eq!((zone["setpoint_c"].as_f64(), zone["commanded"].as_bool()), (Some(12.0), Some(false)), "{zone}");

    // And the agent holds every quarter-hour of every point (no presence, no heating demand), the
    // HVAC meter's zeros among them, with nothing refused
    let db = agent.db();
    for point in ["open-plan_temp", "open-plan_setpoint", "open-plan_co2", "heating_energy", "hvac_power"] {
        wait_until(&format!("192 readings of {point}"), || db.readings(point) == 192);
    }
    let zeros = db.count("SELECT count(*) FROM readings_view WHERE point = 'hvac_power' AND value = 0");
    assert!(zeros > 48, "{zeros} quarter-hours of the plant off, where its nights hold more than 12 h");
    assert_eq!(db.count("SELECT count(*) FROM rejections"), 0, "nothing the BMS sent was refused");
}

#[test]
fn sobre_sim_takes_a_bundled_building_by_name_or_a_file_not_both() {
    // (arguments, whether it runs, what its points or its error say)
    let table: [(&[&str], bool, &str); 3] = [
        (&["sim", "--points"], true, "zigbee2mqtt/trv-class-1/set"),
        (&["sim", "--points", "--building", "office"], true, "bms/mairie-demo/open-plan/setpoint/write"),
        (&["sim", "--points", "--building", "office", "-c", "x.toml"], false, "cannot be used with"),
    ];
    for (args, runs, says) in table {
        let out = output(Command::new(env!("CARGO_BIN_EXE_sobre")).args(args), "sobre sim");
        let text = String::from_utf8_lossy(if runs { &out.stdout } else { &out.stderr }).to_string();
        assert_eq!(out.status.success(), runs, "{args:?}: {text}");
        assert!(text.contains(says), "{args:?}: {text}");
    }
}
