//! What the emulated building's devices publish and accept, in the style the configuration
//! chooses, and the agent configuration that reads them.

use super::config::{MeterStyle, SimSettings, ZoneStyle};
use chrono::{DateTime, SecondsFormat, TimeZone, Utc};
use serde_json::{json, Value};
use std::fmt::Write as _;

/// Topics of one zone's devices.
#[derive(Debug, Clone)]
pub struct ZoneTopics {
    /// Temperature, setpoint and heating demand (a TRV, or the generic state message); a BMS's
    /// temperature point.
    pub thermostat: String,
    /// The presence sensor (Zigbee2MQTT only; the generic state carries occupancy).
    pub presence: Option<String>,
    /// The CO₂ sensor (a BMS's point, or a Zigbee2MQTT air-quality sensor).
    pub co2: Option<String>,
    /// A BMS's setpoint readback: the setpoint in force.
    pub setpoint: Option<String>,
    /// Where the thermostat takes setpoint commands.
    pub command: String,
    /// Where a BMS relinquishes a written setpoint.
    pub release: Option<String>,
    /// Where the emulator takes an occupant's hand on the thermostat.
    pub occupant: String,
}

#[derive(Debug, Clone)]
pub struct Topics {
    pub zones: Vec<ZoneTopics>,
    pub heating_meter: String,
    /// The HVAC's own electricity (a BMS's meter of the boiler's pumps and burner).
    pub hvac_meter: Option<String>,
    pub building_meter: String,
    pub weather: String,
    /// The emulator's clock and ground truth, after every step it is asked for.
    pub clock: String,
    /// A test asks for steps here (stepped pace).
    pub step: String,
}

impl Topics {
    pub fn new(s: &SimSettings) -> Self {
        let p = &s.prefix;
        let zones = s
            .zones
            .iter()
            .zip(&s.holds)
            .map(|(z, holds)| {
                let occupant = format!("{p}/occupant/{}", z.name);
                // A device that holds a command takes its release here (a BMS: next to its
                // setpoint's write).
                let release = holds.then(|| match s.zone_style {
                    ZoneStyle::Bms => format!("bms/{}/{}/setpoint/release", s.id, z.name),
                    ZoneStyle::Zigbee2mqtt | ZoneStyle::Generic => format!("{p}/release/{}", z.name),
                });
                match s.zone_style {
                    ZoneStyle::Zigbee2mqtt => ZoneTopics {
                        thermostat: format!("zigbee2mqtt/trv-{}", z.name),
                        presence: s.presence.then(|| format!("zigbee2mqtt/pir-{}", z.name)),
                        co2: s.co2_sensors.then(|| format!("zigbee2mqtt/co2-{}", z.name)),
                        setpoint: None,
                        command: format!("zigbee2mqtt/trv-{}/set", z.name),
                        release,
                        occupant,
                    },
                    ZoneStyle::Generic => ZoneTopics {
                        thermostat: format!("{p}/zones/{}", z.name),
                        presence: None,
                        co2: None,
                        setpoint: None,
                        command: format!("{p}/zones/{}/setpoint/set", z.name),
                        release,
                        occupant,
                    },
                    ZoneStyle::Bms => {
                        let point = format!("bms/{}/{}", s.id, z.name);
                        ZoneTopics {
                            thermostat: format!("{point}/temperature"),
                            presence: None,
                            co2: Some(format!("{point}/co2")),
                            setpoint: Some(format!("{point}/setpoint")),
                            command: format!("{point}/setpoint/write"),
                            release,
                            occupant,
                        }
                    }
                }
            })
            .collect();
        let (heating_meter, building_meter) = match (s.meter_style, s.plant.is_electric()) {
            (MeterStyle::Tasmota, true) => {
                (format!("tele/{}-heating/SENSOR", s.id), format!("tele/{}-building/SENSOR", s.id))
            }
            // Tasmota meters electricity; a boiler's gas goes through a generic pulse logger.
            (MeterStyle::Tasmota, false) => (format!("{p}/meters/heating"), format!("tele/{}-building/SENSOR", s.id)),
            (MeterStyle::Generic, _) => (format!("{p}/meters/heating"), format!("{p}/meters/building")),
            (MeterStyle::Bms, electric) => {
                let heating = if electric { "heating" } else { "gas" };
                (format!("bms/{}/meters/{heating}", s.id), format!("bms/{}/meters/building", s.id))
            }
        };
        let hvac_meter =
            (s.meter_style == MeterStyle::Bms && s.auxiliaries.is_some()).then(|| format!("bms/{}/meters/hvac", s.id));
        Self {
            zones,
            heating_meter,
            hvac_meter,
            building_meter,
            weather: format!("{p}/weather"),
            clock: format!("{p}/clock"),
            step: format!("{p}/step"),
        }
    }

    fn is_tasmota(topic: &str) -> bool {
        topic.starts_with("tele/")
    }
}

/// What one zone's devices report at the end of a step.
#[derive(Debug, Clone, Copy)]
pub struct ZoneReport {
    pub temperature: f64,
    pub setpoint: f64,
    /// 0–100 %.
    pub demand: f64,
    pub occupied: bool,
    pub co2_ppm: f64,
}

/// What the whole building reports at the end of a step.
#[derive(Debug, Clone)]
pub struct Report<'a> {
    pub ts_ms: i64,
    pub zones: &'a [ZoneReport],
    pub outdoor: f64,
    pub ghi: f64,
    pub heating_kwh: f64,
    pub heating_w: f64,
    pub building_kwh: f64,
    pub building_w: f64,
    pub hvac_kwh: f64,
    pub hvac_w: f64,
}

/// Renders every device message of a step into `out` as (topic, payload).
pub fn render(s: &SimSettings, topics: &Topics, r: &Report, out: &mut Vec<(String, String)>) {
    let utc = DateTime::<Utc>::from_timestamp_millis(r.ts_ms).unwrap_or_default();
    let iso = utc.to_rfc3339_opts(SecondsFormat::Secs, true);
    let local = s.timezone.from_utc_datetime(&utc.naive_utc());
    // Zigbee2MQTT's `last_seen: ISO_8601_local` and Tasmota's `Time` are the device's local time.
    let last_seen = local.to_rfc3339_opts(SecondsFormat::Millis, false);
    let tasmota_time = local.naive_local().format("%Y-%m-%dT%H:%M:%S").to_string();
    for (z, t) in r.zones.iter().zip(&topics.zones) {
        match s.zone_style {
            ZoneStyle::Zigbee2mqtt => {
                let trv = json!({
                    "local_temperature": z.temperature,
                    "occupied_heating_setpoint": z.setpoint,
                    "pi_heating_demand": z.demand.round(),
                    "running_state": if z.demand > 0.0 { "heat" } else { "idle" },
                    "system_mode": "heat",
                    "battery": 87,
                    "linkquality": 120,
                    "last_seen": last_seen,
                });
                out.push((t.thermostat.clone(), trv.to_string()));
                if let Some(presence) = &t.presence {
                    let pir = json!({ "occupancy": z.occupied, "battery": 92, "last_seen": last_seen });
                    out.push((presence.clone(), pir.to_string()));
                }
                if let Some(co2) = &t.co2 {
                    let air = json!({ "co2": z.co2_ppm, "linkquality": 110, "last_seen": last_seen });
                    out.push((co2.clone(), air.to_string()));
                }
            }
            ZoneStyle::Bms => {
                let points = [
                    (Some(&t.thermostat), z.temperature),
                    (t.co2.as_ref(), z.co2_ppm),
                    (t.setpoint.as_ref(), z.setpoint),
                ];
                for (topic, value) in points {
                    if let Some(topic) = topic {
                        out.push((topic.clone(), json!({ "ts": iso, "value": value }).to_string()));
                    }
                }
            }
            ZoneStyle::Generic => {
                let state = json!({
                    "ts": iso,
                    "temperature": z.temperature,
                    "setpoint": z.setpoint,
                    "heating_demand": z.demand.round(),
                    "occupancy": u8::from(z.occupied),
                });
                out.push((t.thermostat.clone(), state.to_string()));
            }
        }
    }
    // A BMS's gas meter counts energy only (a pulse counter); the others give power too.
    let gas_power = (s.meter_style != MeterStyle::Bms).then_some(r.heating_w);
    let meters = [
        Some((&topics.heating_meter, r.heating_kwh, gas_power)),
        topics.hvac_meter.as_ref().map(|t| (t, r.hvac_kwh, Some(r.hvac_w))),
        Some((&topics.building_meter, r.building_kwh, Some(r.building_w))),
    ];
    for (topic, kwh, w) in meters.into_iter().flatten() {
        let kwh = (kwh * 1000.0).round() / 1000.0;
        let payload = match w {
            Some(w) if Topics::is_tasmota(topic) => {
                json!({ "Time": tasmota_time, "ENERGY": { "Total": kwh, "Power": w.round() } })
            }
            Some(w) => json!({ "ts": iso, "total_kwh": kwh, "power_w": w.round() }),
            None => json!({ "ts": iso, "total_kwh": kwh }),
        };
        out.push((topic.clone(), payload.to_string()));
    }
    let weather = json!({ "ts": iso, "temperature": r.outdoor, "ghi": r.ghi.round() });
    out.push((topics.weather.clone(), weather.to_string()));
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum CommandError {
    #[error("payload is not a setpoint: {0}")]
    NotASetpoint(String),
    #[error("setpoint {0} °C is outside what the thermostat takes (5–30 °C)")]
    OutOfRange(f64),
    #[error("{0:?} is not a number of steps")]
    NotSteps(String),
}

/// What a write to a BMS's setpoint asks: a value held until released, or the release itself
/// (`null`, or `{"value": null}`, BACnet's relinquish).
pub fn parse_write(payload: &[u8]) -> Result<Option<f64>, CommandError> {
    match serde_json::from_slice::<Value>(payload) {
        Ok(Value::Null) => Ok(None),
        Ok(Value::Object(o)) if o.get("value").is_some_and(Value::is_null) => Ok(None),
        _ => parse_setpoint(payload).map(Some),
    }
}

/// A setpoint from a command payload: Zigbee2MQTT's `occupied_heating_setpoint` or
/// `current_heating_setpoint`, a generic `{"setpoint": …}`, a BMS's `{"value": …}`, or a plain
/// number.
pub fn parse_setpoint(payload: &[u8]) -> Result<f64, CommandError> {
    let text = String::from_utf8_lossy(payload);
    let text = text.trim();
    let value = match serde_json::from_str::<Value>(text) {
        Ok(Value::Number(n)) => n.as_f64(),
        Ok(Value::Object(o)) => ["occupied_heating_setpoint", "current_heating_setpoint", "setpoint", "value"]
            .iter()
            .find_map(|k| o.get(*k))
            .and_then(|v| v.as_f64().or_else(|| v.as_str().and_then(|s| s.parse().ok()))),
        _ => None,
    }
    .filter(|v| v.is_finite())
    .ok_or_else(|| CommandError::NotASetpoint(text.chars().take(64).collect()))?;
    if !(5.0..=30.0).contains(&value) {
        return Err(CommandError::OutOfRange(value));
    }
    Ok(value)
}

/// The `[[points]]` of an agent configuration that reads this building.
pub fn agent_points(s: &SimSettings, topics: &Topics) -> String {
    let mut out = String::new();
    let point =
        |out: &mut String, id: &str, kind: &str, zone: Option<&str>, topic: &str, decode: String, extra: &str| {
            let _ = writeln!(out, "[[points]]\nid = \"{id}\"\nkind = \"{kind}\"");
            if let Some(zone) = zone {
                let _ = writeln!(out, "zone = \"{zone}\"");
            }
            let _ = writeln!(out, "topic = \"{topic}\"\ndecode = {decode}{extra}\n");
        };
    let z2m = |field: &str| format!("{{ format = \"zigbee2mqtt\", field = \"{field}\" }}");
    let json = |pointer: &str, unit: &str| {
        format!("{{ format = \"json\", pointer = \"{pointer}\", timestamp = \"/ts\" }}\nunit = \"{unit}\"")
    };
    let tasmota = |field: &str| format!("{{ format = \"tasmota\", field = \"{field}\" }}");
    for (z, t) in s.zones.iter().zip(&topics.zones) {
        let name = z.name.as_str();
        let _ = writeln!(out, "# {name}: setpoint commands go to {}", t.command);
        if s.zone_style == ZoneStyle::Bms {
            // A BMS's points: no presence and no heating demand per zone.
            let value = |unit: &str| json("/value", unit);
            let readback = t.setpoint.as_deref().unwrap_or(&t.thermostat);
            let co2 = t.co2.as_deref().unwrap_or(&t.thermostat);
            point(&mut out, &format!("{name}_temp"), "zone_temperature", Some(name), &t.thermostat, value("°C"), "");
            point(&mut out, &format!("{name}_setpoint"), "setpoint", Some(name), readback, value("°C"), "");
            point(&mut out, &format!("{name}_co2"), "co2", Some(name), co2, value("ppm"), "");
            continue;
        }
        let (temp, setpoint, demand, occupancy) = match s.zone_style {
            ZoneStyle::Zigbee2mqtt | ZoneStyle::Bms => {
                (z2m("local_temperature"), z2m("occupied_heating_setpoint"), z2m("pi_heating_demand"), z2m("occupancy"))
            }
            ZoneStyle::Generic => (
                json("/temperature", "°C"),
                json("/setpoint", "°C"),
                json("/heating_demand", "%"),
                json("/occupancy", "bool"),
            ),
        };
        point(&mut out, &format!("{name}_temp"), "zone_temperature", Some(name), &t.thermostat, temp, "");
        point(&mut out, &format!("{name}_setpoint"), "setpoint", Some(name), &t.thermostat, setpoint, "");
        point(&mut out, &format!("{name}_demand"), "heating_demand", Some(name), &t.thermostat, demand, "");
        // The generic state carries occupancy; a school whose presence sensors are gone has none.
        let presence = match s.zone_style {
            ZoneStyle::Generic => Some(t.presence.as_deref().unwrap_or(&t.thermostat)),
            _ => t.presence.as_deref(),
        };
        if let Some(presence) = presence {
            point(&mut out, &format!("{name}_occupancy"), "occupancy", Some(name), presence, occupancy, "");
        }
        if let Some(co2) = &t.co2 {
            point(&mut out, &format!("{name}_co2"), "co2", Some(name), co2, z2m("co2"), "");
        }
    }
    let fuel = if s.plant.is_electric() { "electricity" } else { "gas" };
    let meters = [
        Some(("heating", &topics.heating_meter, "plant")),
        topics.hvac_meter.as_ref().map(|t| ("hvac", t, "plant")),
        Some(("building", &topics.building_meter, "building")),
    ];
    for (id, topic, zone) in meters.into_iter().flatten() {
        // The advisor finds the heating by its tag; the HVAC's meter reads a real 0 while the
        // BMS has the plant off.
        let (fuel, extra) = match id {
            "heating" => (fuel, "\ntags = [\"heating\"]"),
            "hvac" => ("electricity", "\nzeros_are_readings = true"),
            _ => ("electricity", ""),
        };
        let (energy, power) = if Topics::is_tasmota(topic) {
            (tasmota("ENERGY.Total"), Some(tasmota("ENERGY.Power")))
        } else {
            // A BMS's gas meter counts energy only.
            let counts_only = id == "heating" && s.meter_style == MeterStyle::Bms;
            (json("/total_kwh", "kWh"), (!counts_only).then(|| json("/power_w", "W")))
        };
        point(
            &mut out,
            &format!("{id}_energy"),
            "energy",
            Some(zone),
            topic,
            energy,
            &format!("\nfuel = \"{fuel}\"{extra}"),
        );
        if let Some(power) = power {
            let extra = if id == "hvac" { "\nzeros_are_readings = true" } else { "" };
            point(&mut out, &format!("{id}_power"), "power", Some(zone), topic, power, extra);
        }
    }
    point(&mut out, "outdoor_temp", "outdoor_temperature", None, &topics.weather, json("/temperature", "°C"), "");
    point(&mut out, "solar", "solar_irradiance", None, &topics.weather, json("/ghi", "W/m²"), "");
    // A BMS takes a plain number and holds it until released on its release topic; the
    // thermostats drop a command at their programme's next period.
    let format = match s.zone_style {
        ZoneStyle::Zigbee2mqtt => "zigbee2mqtt",
        ZoneStyle::Generic => "json",
        ZoneStyle::Bms => "plain",
    };
    for (z, t) in s.zones.iter().zip(&topics.zones) {
        let _ = writeln!(
            out,
            "[[control.zones]]\nzone = \"{}\"\ncommand_topic = \"{}\"\nformat = \"{format}\"",
            z.name, t.command
        );
        let _ = match &t.release {
            Some(release) => writeln!(out, "release_topic = \"{release}\"\nholds = true\n"),
            None => writeln!(out, "holds = false\n"),
        };
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Settings;
    use crate::point::{Fuel, PointKind};

    #[test]
    fn every_device_style_yields_points_the_agent_accepts() {
        use PointKind::{Co2, HeatingDemand, Occupancy, Setpoint, ZoneTemperature};
        // (building, its devices, where the heating is metered, the points each zone has)
        let school = |zones: &str, meters: &str, plant: &str, extra: &str| {
            super::super::SCHOOL
                .replace("zones = \"zigbee2mqtt\"", &format!("zones = \"{zones}\"{extra}"))
                .replace("meters = \"tasmota\"", &format!("meters = \"{meters}\""))
                .replace("kind = \"heat_pump\"", plant)
                .replace("supply_c = 45.0", "")
                .replace(
                    "temperature_quantum = 0.1",
                    if extra.is_empty() {
                        "temperature_quantum = 0.1"
                    } else {
                        "temperature_quantum = 0.1\nco2 = true"
                    },
                )
        };
        let heat_pump = "kind = \"heat_pump\"";
        let per_zone: &[PointKind] = &[ZoneTemperature, Setpoint, HeatingDemand, Occupancy];
        let table: [(&str, String, &str, Fuel, &[PointKind]); 5] = [
            (
                "zigbee2mqtt, tasmota",
                school("zigbee2mqtt", "tasmota", heat_pump, ""),
                "tele/ecole-demo-heating/SENSOR",
                Fuel::Electricity,
                per_zone,
            ),
            (
                "generic",
                school("generic", "generic", heat_pump, ""),
                "sim/ecole-demo/meters/heating",
                Fuel::Electricity,
                per_zone,
            ),
            // Tasmota meters electricity: a boiler's gas comes through a generic pulse logger.
            (
                "boiler",
                school("zigbee2mqtt", "tasmota", "kind = \"boiler\"", ""),
                "sim/ecole-demo/meters/heating",
                Fuel::Gas,
                per_zone,
            ),
            (
                "school without presence, with CO₂",
                school("zigbee2mqtt", "tasmota", heat_pump, "\npresence = false"),
                "tele/ecole-demo-heating/SENSOR",
                Fuel::Electricity,
                &[ZoneTemperature, Setpoint, HeatingDemand, Co2],
            ),
            (
                "office (BMS)",
                super::super::OFFICE.to_string(),
                "bms/mairie-demo/meters/gas",
                Fuel::Gas,
                &[ZoneTemperature, Setpoint, Co2],
            ),
        ];
        for (building, text, heating_topic, fuel, kinds) in table {
            let sim = SimSettings::parse(&text, building).unwrap_or_else(|e| panic!("{building}: {e}"));
            let topics = Topics::new(&sim);
            let agent = format!("[site]\nid = \"s\"\ntimezone = \"Europe/Paris\"\n{}", agent_points(&sim, &topics));
            let settings = Settings::parse(&agent, "generated").unwrap_or_else(|e| panic!("{building}: {e}"));
            let heating = &settings.points[settings.point_index("heating_energy").expect("heating meter")];
            assert_eq!((heating.topic.as_str(), heating.fuel), (heating_topic, Some(fuel)), "{building}");
            let count = |kind| settings.points.iter().filter(|p| p.kind == kind).count();
            for kind in [ZoneTemperature, Setpoint, HeatingDemand, Occupancy, Co2] {
                let expected = if kinds.contains(&kind) { sim.zones.len() } else { 0 };
                assert_eq!(count(kind), expected, "{kind} per zone, {building}");
            }
            assert_eq!(settings.control.zones.len(), sim.zones.len(), "{building}: a write topic per zone");
        }
    }

    #[test]
    fn the_office_meters_its_hvac_whose_zeros_are_readings_and_writes_a_plain_number() {
        // Given the office's generated points
        let sim = SimSettings::parse(super::super::OFFICE, "office").expect("valid office");
        let topics = Topics::new(&sim);
        let agent = format!("[site]\nid = \"s\"\ntimezone = \"Europe/Amsterdam\"\n{}", agent_points(&sim, &topics));
        let settings = Settings::parse(&agent, "generated").expect("valid agent configuration");
        // Then the HVAC meter's energy and power say its zeros are readings, and no other does
        let zeros: Vec<&str> = settings.points.iter().filter(|p| p.zeros_are_readings).map(|p| p.id.as_str()).collect();
        assert_eq!(zeros, ["hvac_energy", "hvac_power"]);
        let gas = &settings.points[settings.point_index("heating_energy").expect("gas")];
        assert!(gas.tags.iter().any(|t| t == "heating"), "the gas meter is the heating's");
        assert!(settings.point_index("heating_power").is_none(), "the gas meter counts energy only");
        // And the BMS's write topic is where the emulator takes a plain number
        let zone = &settings.control.zones[0];
        assert_eq!(zone.command_topic, "bms/mairie-demo/open-plan/setpoint/write");
        assert!(zone.holds, "the BMS holds what it is written");
        assert_eq!(
            zone.release,
            crate::config::control::Release::Publish {
                topic: "bms/mairie-demo/open-plan/setpoint/release".into(),
                payload: String::new()
            }
        );
    }

    #[test]
    fn what_the_office_and_the_co2_school_publish_is_read_by_their_points_with_no_rejection() {
        use crate::ingest::validate::Validator;
        let school = super::super::SCHOOL
            .replace("agent_status = \"sobre/ecole-demo/status\"", "agent_status = \"s\"\npresence = false")
            .replace("temperature_quantum = 0.1", "temperature_quantum = 0.1\nco2 = true");
        for (building, text) in [("office", super::super::OFFICE.to_string()), ("school with CO₂ only", school)] {
            // Given two days of everything the building's devices publish
            let sim = SimSettings::parse(&text, building).expect("valid building");
            let mut e = super::super::Emulator::new(sim).expect("valid physics");
            let agent =
                format!("[site]\nid = \"s\"\ntimezone = \"Europe/Paris\"\n{}", agent_points(e.settings(), e.topics()));
            let settings = Settings::parse(&agent, "generated").expect("valid agent configuration");
            let mut validator = Validator::new(&settings.points, &settings.ingest);
            let mut read = vec![0u32; settings.points.len()];
            let mut messages = Vec::new();
            for _ in 0..2 * 96 {
                e.step().expect("steps");
                messages.clear();
                e.messages(&mut messages);
                // When each message is decoded and validated by every point on its topic
                for (topic, payload) in &messages {
                    for (i, p) in settings.points.iter().enumerate().filter(|(_, p)| &p.topic == topic) {
                        let decoded = p
                            .decoder
                            .decode(payload.as_bytes(), settings.site.timezone)
                            .unwrap_or_else(|err| panic!("{building}: {} from {payload}: {err}", p.id));
                        let ts = decoded.ts_ms.unwrap_or(e.now_ms());
                        validator
                            .check(i, ts, decoded.value, e.now_ms() + 60_000)
                            .unwrap_or_else(|r| panic!("{building}: {} rejected {payload}: {r:?}", p.id));
                        read[i] += 1;
                    }
                }
            }
            // Then every point reads every step, and none is rejected
            for (p, n) in settings.points.iter().zip(&read) {
                assert_eq!(*n, 2 * 96, "{building}: {} read {n} times", p.id);
            }
        }
    }

    #[test]
    fn a_bms_write_of_null_releases_and_anything_else_is_a_setpoint() {
        type Written = Result<Option<f64>, CommandError>;
        let table: [(&[u8], Written); 5] = [
            (b"null", Ok(None)),
            (br#"{"value": null}"#, Ok(None)),
            (br#"{"value": 19.5}"#, Ok(Some(19.5))),
            (b"18", Ok(Some(18.0))),
            (br#"{"value": "warm"}"#, Err(CommandError::NotASetpoint(r#"{"value": "warm"}"#.into()))),
        ];
        for (payload, then) in table {
            assert_eq!(parse_write(payload), then, "{}", String::from_utf8_lossy(payload));
        }
    }

    #[test]
    fn setpoint_commands_are_read_from_every_style_and_nonsense_is_refused() {
        let table: [(&[u8], Result<f64, CommandError>); 7] = [
            (br#"{"occupied_heating_setpoint": 18.5}"#, Ok(18.5)),
            (br#"{"current_heating_setpoint": "17"}"#, Ok(17.0)),
            (br#"{"setpoint": 20}"#, Ok(20.0)),
            (b" 19.5 ", Ok(19.5)),
            (br#"{"setpoint": 85}"#, Err(CommandError::OutOfRange(85.0))),
            (b"warmer please", Err(CommandError::NotASetpoint("warmer please".into()))),
            (br#"{"system_mode": "off"}"#, Err(CommandError::NotASetpoint(r#"{"system_mode": "off"}"#.into()))),
        ];
        for (payload, then) in table {
            assert_eq!(parse_setpoint(payload), then, "{}", String::from_utf8_lossy(payload));
        }
    }
}
