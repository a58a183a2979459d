//! The building's broker as `deploy/` ships it: mosquitto on `deploy/mosquitto-local.conf` and
//! `deploy/mosquitto.acl`, read from the repository (only the port, the persistence folder and
//! where the password and ACL files are differ), an account each made with `mosquitto_passwd`,
//! and the agent logged in as `sobre`, allowed to command one classroom's Zigbee thermostat.
//! Devices publish as themselves, people and the grid ask the agent, and only the agent writes
//! a command topic. Everything here is what a client sees of the broker, so it holds whatever
//! MQTT version the agent speaks.

use crate::control::record;
use crate::support::{spawn_mosquitto, wait_until, Agent, Mqtt, DEADLINE};
use rumqttc::{Client, ConnectReturnCode, ConnectionError, Event, MqttOptions, Packet};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Child, Command};

const DEPLOY: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../deploy");
const PREFIX: &str = "sobre/test-site";

/// The accounts of the site: the agent, the Zigbee2MQTT bridge (the classroom's radiator
/// valve), a Tasmota plug metering the heat pump, a facility manager, Home Assistant and the
/// aggregator.
const ACCOUNTS: [&str; 6] = ["sobre", "zigbee2mqtt", "heating-meter", "facility", "homeassistant", "aggregator"];

/// Each account's password: a test's own, never a default a real broker would accept.
fn password(user: &str) -> String {
    format!("{user}-{}", std::process::id())
}

/// mosquitto on the shipped configuration, stopped on drop.
struct Broker {
    port: u16,
    dir: tempfile::TempDir,
    child: Child,
}

impl Broker {
    fn start() -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        // The password file, as deploy/README.md makes it: -c creates it with the first account.
        let passwd = dir.path().join("passwd");
        for (i, user) in ACCOUNTS.iter().enumerate() {
            let mut cmd = Command::new("mosquitto_passwd");
            cmd.arg("-b");
            if i == 0 {
                cmd.arg("-c");
            }
            let status = cmd
                .arg(&passwd)
                .arg(user)
                .arg(password(user))
                .status()
                .expect("mosquitto_passwd (comes with mosquitto)");
            assert!(status.success(), "mosquitto_passwd for {user}");
        }
        let port = crate::support::free_port();
        let conf = dir.path().join("mosquitto.conf");
        std::fs::write(&conf, shipped_config(port, dir.path())).expect("write mosquitto.conf");
        let child = spawn_mosquitto(&conf, port);
        Broker { port, dir, child }
    }

    /// The file holding `user`'s password, as the agent reads it (`broker.password_file`).
    fn password_file(&self, user: &str) -> PathBuf {
        let path = self.dir.path().join(format!("{user}.password"));
        std::fs::write(&path, format!("{}\n", password(user))).expect("write the password file");
        path
    }

    fn connect(&self, user: &str, subscriptions: &[&str]) -> Mqtt {
        Mqtt::connect_user(self.port, user, &password(user), subscriptions)
    }
}

impl Drop for Broker {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `deploy/mosquitto-local.conf` with the lines a test machine must change, each found exactly
/// once; the ACL is the shipped file itself.
fn shipped_config(port: u16, dir: &Path) -> String {
    let text = std::fs::read_to_string(format!("{DEPLOY}/mosquitto-local.conf")).expect("deploy/mosquitto-local.conf");
    let substitutions = [
        ("listener 1883", format!("listener {port}")),
        ("password_file /etc/mosquitto/passwd", format!("password_file {}", dir.join("passwd").display())),
        ("acl_file /etc/mosquitto/acl", format!("acl_file {DEPLOY}/mosquitto.acl")),
        ("persistence_location /var/lib/mosquitto/", format!("persistence_location {}/", dir.display())),
    ];
    let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
    for (shipped, here) in substitutions {
        let found: Vec<usize> = (0..lines.len()).filter(|&i| lines[i].trim() == shipped).collect();
        assert_eq!(found.len(), 1, "deploy/mosquitto-local.conf should have the line {shipped:?} once");
        lines[found[0]] = here;
    }
    // Started as root (as the tests are), mosquitto would become its own user, which cannot
    // read the test's folder; as anyone else the line does nothing. It grants no client
    // anything.
    lines.push("user root".into());
    lines.join("\n") + "\n"
}

/// The classroom's radiator valve behind Zigbee2MQTT, and the heat pump's Tasmota meter.
const POINTS: &str = r#"
[[points]]
id = "class_temp"
kind = "zone_temperature"
zone = "class"
topic = "zigbee2mqtt/trv-class"
decode = { format = "zigbee2mqtt", field = "local_temperature" }

[[points]]
id = "class_setpoint"
kind = "setpoint"
zone = "class"
topic = "zigbee2mqtt/trv-class"
decode = { format = "zigbee2mqtt", field = "occupied_heating_setpoint" }

[[points]]
id = "heating_energy"
kind = "energy"
fuel = "electricity"
zone = "plant"
topic = "tele/heating-meter/SENSOR"
decode = { format = "tasmota", field = "ENERGY.Total" }
tags = ["heating"]
"#;

/// The agent pilots the classroom's valve.
const CONTROL: &str = r#"
[control]
mode = "auto"

[[control.zones]]
zone = "class"
command_topic = "zigbee2mqtt/trv-class/set"
format = "zigbee2mqtt"
"#;

const VALVE: &str = "zigbee2mqtt/trv-class";
const VALVE_SET: &str = "zigbee2mqtt/trv-class/set";

/// The broker, the agent logged in as `sobre` (its password from a file, as the systemd
/// credential gives it), and the facility manager, who reads the agent's status and ledger.
fn site() -> (Broker, Agent, Mqtt) {
    let broker = Broker::start();
    let facility = broker.connect("facility", &[&format!("{PREFIX}/status"), &format!("{PREFIX}/decisions")]);
    let credentials = format!("username = \"sobre\"\npassword_file = {:?}", broker.password_file("sobre"));
    let agent = Agent::start_with_broker(broker.port, &credentials, POINTS, CONTROL);
    facility.expect(&format!("{PREFIX}/status"), |s| s["state"] == "online");
    (broker, agent, facility)
}

/// What the valve says in a Zigbee2MQTT state message.
fn valve_state(temperature_c: f64, setpoint_c: f64) -> String {
    format!(
        r#"{{"local_temperature":{temperature_c},"occupied_heating_setpoint":{setpoint_c},"pi_heating_demand":30}}"#
    )
}

/// The meter's SENSOR telemetry, stamped now in the site's local time as Tasmota does.
fn meter_sensor(total_kwh: f64) -> String {
    let local = chrono::Utc::now().with_timezone(&chrono_tz::Europe::London).format("%Y-%m-%dT%H:%M:%S");
    format!(r#"{{"Time":"{local}","ENERGY":{{"Total":{total_kwh},"Power":1500}}}}"#)
}

/// The control ledger's records of `kind`, from the store.
fn ledger(agent: &Agent, kind: &str) -> Vec<Value> {
    let rows = agent.db().rows(&format!("SELECT record FROM control_log WHERE kind = '{kind}' ORDER BY seq"));
    rows.iter().map(|r| serde_json::from_str(&r[0]).expect("a JSON record")).collect()
}

#[test]
fn devices_readings_are_stored_and_only_the_agents_command_reaches_the_thermostat() {
    // Given the broker on the shipped configuration, the agent logged in as sobre with the
    // classroom's valve to command, and Home Assistant waiting for the agent's discovery
    let (broker, agent, facility) = site();
    let homeassistant = broker.connect("homeassistant", &["homeassistant/device/sobre_test-site/config"]);
    // And the valve's bridge logged in as zigbee2mqtt, listening to its command topic
    let zigbee = broker.connect("zigbee2mqtt", &[VALVE_SET]);
    let meter = broker.connect("heating-meter", &[]);
    // When the valve and the meter publish their readings, each under its own account
    zigbee.publish(VALVE, valve_state(20.5, 19.0));
    meter.publish("tele/heating-meter/SENSOR", meter_sensor(1234.5));
    // Then the agent stores them
    let db = agent.db();
    wait_until("the valve's and the meter's readings stored", || {
        db.readings("class_temp") >= 1 && db.readings("class_setpoint") >= 1 && db.readings("heating_energy") >= 1
    });
    // When Home Assistant comes online (its birth message)
    homeassistant.publish("homeassistant/status", "online");
    // Then the agent announces itself to it again
    homeassistant.expect("homeassistant/device/sobre_test-site/config", |_| true);
    // When every account but the agent's writes the valve's command topic (the bridge included:
    // its own account may report for the valve, not command it)
    let intruders = ["heating-meter", "facility", "homeassistant", "aggregator", "zigbee2mqtt"];
    for user in intruders {
        let other;
        let client = if user == "zigbee2mqtt" {
            &zigbee
        } else {
            other = broker.connect(user, &[]);
            &other
        };
        client.publish(VALVE_SET, r#"{"occupied_heating_setpoint": 30}"#);
    }
    // And then the facility manager asks the agent for 23 °C in the classroom
    facility.publish(&format!("{PREFIX}/override/class"), r#"{"setpoint_c": 23.0, "by": "facility manager"}"#);
    // Then the first command the valve's account receives is the agent's 23 °C: the broker
    // handles one message at a time, so any of the others let through would have come first
    let (topic, payload) = zigbee.messages.recv_timeout(DEADLINE).expect("a command for the valve");
    let command: Value = serde_json::from_slice(&payload).expect("JSON");
    assert_eq!((topic.as_str(), &command), (VALVE_SET, &serde_json::json!({"occupied_heating_setpoint": 23.0})));
    // And the agent's ledger has it
    record(&facility, PREFIX, |r| r["kind"] == "command" && r["detail"]["setpoint_c"] == 23.0);
}

#[test]
fn an_override_from_a_device_account_is_refused_by_the_broker_and_the_facility_managers_is_taken() {
    // Given the agent reading the classroom's valve, and beside it a client logged in as the
    // agent (the account every request must reach it through) listening to the override topic
    let (broker, agent, facility) = site();
    let zigbee = broker.connect("zigbee2mqtt", &[]);
    zigbee.publish(VALVE, valve_state(20.5, 19.0));
    wait_until("the valve's setpoint stored", || agent.db().readings("class_setpoint") >= 1);
    let overrides = format!("{PREFIX}/override/class");
    let as_the_agent = broker.connect("sobre", &[&overrides]);
    // When the meter's account (a hijacked smart plug, say) and the valve's bridge ask for
    // 28 °C and 27 °C on the override topic (mosquitto acknowledges them: an MQTT 3.1.1 client
    // is not told)
    broker.connect("heating-meter", &[]).publish(&overrides, r#"{"setpoint_c": 28.0, "by": "plug"}"#);
    zigbee.publish(&overrides, r#"{"setpoint_c": 27.0, "by": "bridge"}"#);
    // And then the facility manager asks for 23 °C
    facility.publish(&overrides, r#"{"setpoint_c": 23.0, "by": "facility manager"}"#);
    // Then the first override the agent's account receives is the facility manager's
    let (_, payload) = as_the_agent.messages.recv_timeout(DEADLINE).expect("an override");
    let first: Value = serde_json::from_slice(&payload).expect("JSON");
    assert_eq!(first["by"], "facility manager", "{first}");
    // And the agent takes it: recorded, and the valve commanded to 23 °C
    let taken = record(&facility, PREFIX, |r| r["kind"] == "override" && r["zone"] == "class");
    assert_eq!(taken["detail"]["source"], "topic", "{taken}");
    record(&facility, PREFIX, |r| r["kind"] == "command" && r["detail"]["setpoint_c"] == 23.0);
    // And the ledger holds that override alone: the devices' never reached the agent, not even
    // to be refused, and nothing was ever commanded at 28 or 27 °C
    wait_until("the override in the store", || ledger(&agent, "override").len() == 1);
    assert!(ledger(&agent, "override_refused").is_empty(), "{:?}", ledger(&agent, "override_refused"));
    let commanded: Vec<f64> =
        ledger(&agent, "command").iter().filter_map(|r| r["detail"]["setpoint_c"].as_f64()).collect();
    assert_eq!(commanded, [23.0]);
}

/// How the broker answers a connection with these credentials: the code it refuses it with,
/// or `None` when it lets it in.
fn refusal(port: u16, credentials: Option<(&str, &str)>) -> Option<ConnectReturnCode> {
    let mut opts = MqttOptions::new(format!("probe-{}", fastrand::u32(..)), "127.0.0.1", port);
    if let Some((user, password)) = credentials {
        opts.set_credentials(user, password);
    }
    let (_client, mut connection) = Client::new(opts, 10);
    loop {
        match connection.recv_timeout(DEADLINE).expect("the broker answers") {
            Ok(Event::Incoming(Packet::ConnAck(_))) => return None,
            Ok(_) => {}
            Err(ConnectionError::ConnectionRefused(code)) => return Some(code),
            Err(e) => panic!("the connection failed before the broker answered: {e}"),
        }
    }
}

#[test]
fn an_anonymous_client_or_a_wrong_password_cannot_connect() {
    // Given the broker on the shipped configuration
    let broker = Broker::start();
    // When a client comes without credentials, with an unknown account, or with another
    // account's password, Then the broker refuses it
    let other = password("facility");
    for (who, credentials) in [
        ("anonymous", None),
        ("an unknown account", Some(("intruder", "intruder"))),
        ("the agent's account with another's password", Some(("sobre", other.as_str()))),
    ] {
        let code = refusal(broker.port, credentials);
        assert!(code.is_some(), "{who} was let in");
        println!("{who}: refused ({code:?})");
    }
    // And every account with its own password is let in
    for user in ACCOUNTS {
        let p = password(user);
        assert_eq!(refusal(broker.port, Some((user, &p))), None, "{user}");
    }
}

#[test]
fn a_flex_event_from_the_aggregator_is_answered_and_nothing_else_it_sends_is_taken() {
    // Given the agent reading the classroom's valve, and the aggregator reading the agent's
    // ledger
    let (broker, agent, facility) = site();
    broker.connect("zigbee2mqtt", &[]).publish(VALVE, valve_state(20.5, 19.0));
    wait_until("the valve's setpoint stored", || agent.db().readings("class_setpoint") >= 1);
    let aggregator = broker.connect("aggregator", &[&format!("{PREFIX}/decisions"), &format!("{PREFIX}/flex/status")]);
    // When it asks for the stop switch and an override, which are not its to ask
    aggregator.publish(&format!("{PREFIX}/control/set"), r#"{"mode": "advise", "by": "aggregator"}"#);
    aggregator.publish(&format!("{PREFIX}/override/class"), r#"{"setpoint_c": 12.0}"#);
    // And then for a half shed from two to four hours from now
    let at = |h| (chrono::Utc::now() + chrono::Duration::hours(h)).format("%Y-%m-%dT%H:%M:%SZ").to_string();
    let event = format!(r#"{{"id":"peak-1","kind":"shed","start":"{}","end":"{}","level":0.5}}"#, at(2), at(4));
    aggregator.publish(&format!("{PREFIX}/flex/event"), event);
    // Then the agent answers it, in the ledger and on the status topic the aggregator reads
    // (refused: the agent has learned no zone models to forecast it with)
    let refused = record(&aggregator, PREFIX, |r| r["kind"] == "flex_refused");
    assert_eq!(refused["detail"]["id"], "peak-1", "{refused}");
    let answer = aggregator.expect(&format!("{PREFIX}/flex/status"), |a| a["id"] == "peak-1");
    assert_eq!(answer["status"], "refused", "{answer}");
    // And the facility manager sees the same answer, the first record since the agent started:
    // neither the mode nor the override reached it
    let first = record(&facility, PREFIX, |_| true);
    assert_eq!(first["kind"], "flex_refused", "{first}");
    assert!(ledger(&agent, "mode").is_empty() && ledger(&agent, "override").is_empty());
}

#[test]
fn a_command_the_broker_refuses_is_counted_and_said_not_lost_in_silence() {
    // Given the agent allowed (by the shipped ACL) to command the classroom's valve, and set,
    // by mistake, to command the hall through a BMS topic the ACL does not give it
    let broker = Broker::start();
    let facility = broker.connect("facility", &[&format!("{PREFIX}/status"), &format!("{PREFIX}/decisions")]);
    let credentials = format!("username = \"sobre\"\npassword_file = {:?}", broker.password_file("sobre"));
    let hall = r#"
[[points]]
id = "hall_temp"
kind = "zone_temperature"
zone = "hall"
topic = "zigbee2mqtt/trv-hall"
decode = { format = "zigbee2mqtt", field = "local_temperature" }

[[control.zones]]
zone = "hall"
command_topic = "bms/hall/set"
format = "plain"
"#;
    let agent = Agent::start_with_broker(
        broker.port,
        &credentials,
        POINTS,
        &format!("[agent]\nstatus_interval = \"1s\"\n{CONTROL}{hall}"),
    );
    facility.expect(&format!("{PREFIX}/status"), |s| s["state"] == "online");
    // When the facility manager asks for 22 °C in the hall
    facility.publish(&format!("{PREFIX}/override/hall"), r#"{"setpoint_c": 22.0, "by": "facility manager"}"#);
    // Then the agent sends the command, and the broker's refusal (MQTT 5 PUBACK, not
    // authorised) is counted in its status rather than lost in silence
    record(&facility, PREFIX, |r| r["kind"] == "command" && r["zone"] == "hall");
    let status = facility.expect(&format!("{PREFIX}/status"), |s| s["health"]["publish_refused"].as_u64() >= Some(1));
    assert_eq!(status["state"], "online", "{status}");
    drop(agent);
}
