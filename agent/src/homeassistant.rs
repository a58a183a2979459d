//! Home Assistant over MQTT: the agent announces itself with MQTT discovery (one device
//! message, or one message per entity for Home Assistant before 2024.11) and keeps a retained
//! summary (`<prefix>/summary`, schema `sobre.summary/1`) its entities read: savings to date,
//! open recommendations and the top one. The agent's status is the availability, so the last
//! will marks every entity unavailable. Discovery is sent again on every connection and when
//! Home Assistant says `online` on `<discovery prefix>/status` (it restarted and forgot).
//! Each zone the agent may command gets a person's override: a number (the setpoint to hold)
//! and a button (hand the zone back), both publishing on `<prefix>/override/<zone>`, the same
//! typed path as MQTT, so a person in Home Assistant outranks the agent as at the thermostat.

use crate::config::{Discovery, HomeAssistantSettings, Settings};
use crate::control::controller::ZoneState;
use crate::glance::{kwh_per_year, Glance, GlanceError, Reader};
use crate::mqtt::mailbox::Requests;
use crate::mqtt::Publisher;
use crate::shared::Shared;
use serde_json::{json, Map, Value};
use std::sync::Arc;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

pub const SUMMARY_SCHEMA: &str = "sobre.summary/1";

/// Home Assistant's own status topic, where it says `online` after a start.
pub fn birth_topic(ha: &HomeAssistantSettings) -> String {
    format!("{}/status", ha.discovery_prefix)
}

pub fn summary_topic(settings: &Settings) -> String {
    format!("{}/summary", settings.agent.topic_prefix)
}

fn node_id(settings: &Settings) -> String {
    format!("sobre_{}", slug(&settings.site.id))
}

/// Letters, digits, `_` and `-` only: what discovery topics and unique ids allow.
fn slug(text: &str) -> String {
    text.chars().map(|c| if c.is_ascii_alphanumeric() || c == '-' { c } else { '_' }).collect()
}

/// `(object id, component)` for each entity; the component names its `platform`.
fn entities(settings: &Settings) -> Vec<(String, Map<String, Value>)> {
    let node = node_id(settings);
    let status = crate::status::topic(settings);
    let summary = summary_topic(settings);
    // A sensor unless `fields` name another platform.
    let entity = |object: &str, fields: Value| -> Map<String, Value> {
        let mut c = Map::new();
        c.insert("platform".into(), json!("sensor"));
        c.insert("unique_id".into(), json!(format!("{node}_{object}")));
        c.insert("object_id".into(), json!(format!("{node}_{object}")));
        if let Value::Object(f) = fields {
            c.extend(f);
        }
        c
    };
    let fixed = [
        (
            "status",
            entity(
                "status",
                json!({
                    "name": "Status",
                    "state_topic": status,
                    "value_template": "{{ value_json.state }}",
                    "json_attributes_topic": status,
                    "entity_category": "diagnostic",
                    "icon": "mdi:robot-outline",
                }),
            ),
        ),
        (
            "savings_to_date",
            entity(
                "savings_to_date",
                json!({
                    "name": "Energy avoided since baseline",
                    "state_topic": summary,
                    // `None` makes the state unknown: no claim before the baseline passes its gate.
                    "value_template": "{{ value_json.savings_to_date_kwh | round(0) if value_json.savings_to_date_kwh is not none else None }}",
                    "unit_of_measurement": "kWh",
                    "device_class": "energy",
                    "state_class": "total",
                    "icon": "mdi:leaf",
                }),
            ),
        ),
        (
            "recommendations",
            entity(
                "recommendations",
                json!({
                    "name": "Open recommendations",
                    "state_topic": summary,
                    "value_template": "{{ value_json.recommendations }}",
                    "state_class": "measurement",
                    "icon": "mdi:lightbulb-on-outline",
                }),
            ),
        ),
        (
            "top_recommendation",
            entity(
                "top_recommendation",
                json!({
                    "name": "Top recommendation",
                    "state_topic": summary,
                    // A sensor's state holds at most 255 characters; the whole of it is an attribute.
                    "value_template": "{{ (value_json.top_recommendation.title if value_json.top_recommendation else 'none') | truncate(250) }}",
                    "json_attributes_topic": summary,
                    "json_attributes_template": "{{ (value_json.top_recommendation or {}) | tojson }}",
                    "icon": "mdi:clipboard-text-outline",
                }),
            ),
        ),
    ];
    let mut all: Vec<(String, Map<String, Value>)> = fixed.into_iter().map(|(o, c)| (o.to_string(), c)).collect();
    for zone in &settings.control.zones {
        let name = &zone.zone;
        let object = slug(name);
        let command_topic = format!("{}/override/{name}", settings.agent.topic_prefix);
        // The zone's entry of the summary's control states, as Jinja.
        let state = format!(
            "(value_json.control | selectattr('zone', 'equalto', {}) | list | first)",
            Value::String(name.clone())
        );
        let number = entity(
            &format!("override_{object}"),
            json!({
                "platform": "number",
                "name": format!("Override {name}"),
                "command_topic": command_topic,
                "command_template": "{\"setpoint_c\": {{ value }}, \"by\": \"home_assistant\"}",
                "state_topic": summary,
                // The setpoint the agent holds there, unknown while the building's programme does.
                "value_template": format!("{{% set z = {state} %}}{{{{ z.command_c if z and z.command_c is not none else None }}}}"),
                "min": zone.bounds.min_c(),
                "max": zone.bounds.max_c(),
                "step": 0.5,
                "mode": "box",
                "unit_of_measurement": "°C",
                "icon": "mdi:thermostat",
            }),
        );
        let button = entity(
            &format!("hand_back_{object}"),
            json!({
                "platform": "button",
                "name": format!("Hand {name} back"),
                "command_topic": command_topic,
                "payload_press": r#"{"cancel": true, "by": "home_assistant"}"#,
                "icon": "mdi:hand-back-left-outline",
            }),
        );
        all.push((format!("override_{object}"), number));
        all.push((format!("hand_back_{object}"), button));
    }
    all
}

fn device(settings: &Settings) -> Value {
    json!({
        "identifiers": [node_id(settings)],
        "name": format!("sobre · {}", settings.site.name),
        "manufacturer": "sobre",
        "model": "building-energy agent",
        "sw_version": env!("CARGO_PKG_VERSION"),
    })
}

fn availability(settings: &Settings) -> Value {
    json!([{
        "topic": crate::status::topic(settings),
        "value_template": "{{ value_json.state }}",
        "payload_available": "online",
        "payload_not_available": "offline",
    }])
}

fn origin() -> Value {
    json!({ "name": "sobre", "sw_version": env!("CARGO_PKG_VERSION") })
}

/// `(topic, payload)` of every discovery message.
pub fn discovery(settings: &Settings, ha: &HomeAssistantSettings) -> Vec<(String, Value)> {
    let node = node_id(settings);
    let prefix = &ha.discovery_prefix;
    match ha.discovery {
        Discovery::Device => {
            let components: Map<String, Value> =
                entities(settings).into_iter().map(|(object, c)| (object, Value::Object(c))).collect();
            vec![(
                format!("{prefix}/device/{node}/config"),
                json!({
                    "device": device(settings),
                    "origin": origin(),
                    "availability": availability(settings),
                    "qos": 1,
                    "components": components,
                }),
            )]
        }
        Discovery::Entity => entities(settings)
            .into_iter()
            .map(|(object, mut c)| {
                let platform = c.remove("platform").and_then(|p| p.as_str().map(str::to_string));
                let platform = platform.unwrap_or_else(|| "sensor".into());
                c.insert("device".into(), device(settings));
                c.insert("origin".into(), origin());
                c.insert("availability".into(), availability(settings));
                c.insert("qos".into(), json!(1));
                (format!("{prefix}/{platform}/{node}/{object}/config"), Value::Object(c))
            })
            .collect(),
    }
}

/// The retained summary Home Assistant's entities read.
pub fn summary(reader: &mut Reader, settings: &Settings, control: Vec<ZoneState>) -> Result<Value, GlanceError> {
    let mut g = reader.glance(settings)?;
    g.control = control;
    Ok(summary_of(&g, settings))
}

fn summary_of(g: &Glance, settings: &Settings) -> Value {
    let open = g.open_recommendations();
    let top = open.first().map(|c| {
        let r = &c.recommendation;
        json!({
            "id": c.subject,
            "title": r["title"],
            "status": c.status.name(),
            "kwh_per_year": kwh_per_year(c),
            "kwh_per_year_uncertainty": r["savings"]["kwh_per_year_uncertainty"],
            "eur_per_year": r["savings"]["eur_per_year"],
            "confidence": r["confidence"]["level"],
        })
    });
    let to_date = g.savings_to_date();
    let not_claimed: Vec<Value> = g
        .energy
        .iter()
        .filter_map(|e| e.baseline.as_ref().ok().filter(|b| !b.gate_pass).map(|b| (e, b)))
        .map(|(e, b)| json!({ "point": e.point, "why": crate::glance::no_claim(b) }))
        .collect();
    json!({
        "schema": SUMMARY_SCHEMA,
        "site": settings.site.id,
        "data_through": g.data_through_ms.map(crate::clock::iso),
        "savings_to_date_kwh": to_date.map(|s| s.0),
        "savings_to_date_uncertainty_kwh": to_date.map(|s| s.1),
        "recommendations": open.len(),
        "top_recommendation": top,
        "savings_not_claimed": not_claimed,
        "blocked": g.blocked,
        "control": g.control,
    })
}

#[derive(Debug)]
pub struct HomeAssistant {
    pub settings: Arc<Settings>,
    pub ha: HomeAssistantSettings,
    pub reader: Shared<Reader>,
    pub publisher: Publisher,
    /// Each commanded zone's control state, as control last said; `None` without control.
    pub control: Option<watch::Receiver<Vec<ZoneState>>>,
}

impl HomeAssistant {
    /// Announces on every connection and every birth message on `births`; refreshes the
    /// summary every `summary_interval`.
    pub async fn run(self, mut births: Requests, mut connected: watch::Receiver<u64>, cancel: CancellationToken) {
        let mut refresh = tokio::time::interval(self.ha.summary_interval.0);
        loop {
            tokio::select! {
                _ = cancel.cancelled() => break,
                changed = connected.changed() => match changed {
                    Ok(()) => self.announce().await,
                    Err(_) => break,
                },
                birth = births.recv() => match birth {
                    Some(m) if m.payload.as_ref() == b"online" => self.announce().await,
                    Some(_) => {}
                    None => break,
                },
                _ = refresh.tick() => if *connected.borrow() > 0 { self.publish_summary().await },
            }
        }
    }

    async fn announce(&self) {
        for (topic, payload) in discovery(&self.settings, &self.ha) {
            // Not retained, as Home Assistant advises: it asks again with its birth message.
            self.publisher.publish(topic, false, payload.to_string());
        }
        self.publish_summary().await;
    }

    async fn publish_summary(&self) {
        let settings = self.settings.clone();
        let control = self.control.as_ref().map(|c| c.borrow().clone()).unwrap_or_default();
        match self.reader.try_with(move |r| summary(r, &settings, control)).await {
            Ok(body) => {
                let topic = summary_topic(&self.settings);
                self.publisher.publish(topic, true, body.to_string());
            }
            Err(e) => tracing::warn!(error = %e, "cannot compute the summary"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::glance::EnergyGlance;

    fn settings() -> Settings {
        let text = "[site]\nid = \"s\"\ntimezone = \"Europe/Paris\"\n[[points]]\nid = \"gas\"\nkind = \"energy\"\nunit = \"kWh\"\ntopic = \"m\"\n";
        Settings::parse(text, "test.toml").expect("settings")
    }

    #[test]
    fn the_summary_claims_nothing_on_a_failing_baseline_and_says_why_and_what_stops_the_advisor() {
        // Given a gas meter whose baseline fails Guideline 14, and an advisor stopped by its gate
        let baseline = crate::baseline::with_scatter(200.0);
        assert!(!baseline.gate_pass);
        let g = Glance {
            site: "s".into(),
            name: "s".into(),
            data_through_ms: Some(0),
            energy: vec![EnergyGlance {
                point: "gas".into(),
                fuel: crate::point::Fuel::Gas,
                days: Vec::new(),
                week: None,
                to_date: None,
                baseline: Ok(baseline),
            }],
            recommendations: Vec::new(),
            ledger: Vec::new(),
            blocked: vec![crate::advisor::Blocker::no_occupancy_source()],
            occupancy: Vec::new(),
            points: Vec::new(),
            control: vec![ZoneState {
                zone: "hall".into(),
                mode: crate::config::control::Mode::Auto,
                holder: crate::control::controller::Holder::Agent,
                command_c: Some(19.5),
                stood_down: None,
                budget_left_kh: 0.75,
            }],
        };
        // When the summary is built
        let summary = summary_of(&g, &settings());
        // Then no saving is claimed, the point says why with its figures, and the blocker is there
        assert!(summary["savings_to_date_kwh"].is_null(), "{summary}");
        // And it says each commanded zone's control state
        let hall = &summary["control"][0];
        assert_eq!((hall["zone"].as_str(), hall["holder"].as_str()), (Some("hall"), Some("agent")), "{summary}");
        assert_eq!((hall["mode"].as_str(), hall["command_c"].as_f64()), (Some("auto"), Some(19.5)), "{summary}");
        assert_eq!(summary["savings_not_claimed"][0]["point"], "gas");
        let why = summary["savings_not_claimed"][0]["why"].as_str().unwrap_or_default();
        assert!(why.starts_with("no savings claimed: the baseline fails Guideline 14 (hourly CV(RMSE)"), "{why}");
        assert_eq!(summary["blocked"][0]["code"], "no_occupancy_source");
    }
}

#[cfg(test)]
mod override_tests {
    use super::*;
    use crate::control::request::{parse_override, OverrideAsk};

    #[test]
    fn each_commanded_zone_gets_an_override_and_a_hand_back_that_speak_the_override_topic() {
        // Given a site whose zone "class" the agent may command, within its configured range
        let dir = tempfile::tempdir().expect("tempdir");
        let settings = crate::control::fixture::site(&dir.path().join("sobre.db"), "auto");
        let topic = format!("{}/override/class", settings.agent.topic_prefix);
        for discovery in [Discovery::Device, Discovery::Entity] {
            let ha = HomeAssistantSettings {
                discovery_prefix: "homeassistant".into(),
                discovery,
                summary_interval: crate::config::duration::Span::secs(3600),
            };
            // When the agent announces itself
            let messages = discovery_messages(&settings, &ha);
            // Then the zone has a number and a button on its override topic
            let find =
                |object: &str| messages.iter().find(|(_, c)| c["unique_id"] == format!("sobre_s_{object}")).cloned();
            let (number_topic, number) = find("override_class").unwrap_or_else(|| panic!("{messages:?}"));
            let (button_topic, button) = find("hand_back_class").unwrap_or_else(|| panic!("{messages:?}"));
            assert_eq!(
                (number["command_topic"].as_str(), button["command_topic"].as_str()),
                (Some(topic.as_str()), Some(topic.as_str()))
            );
            let bounds = settings.control.zones[0].bounds;
            assert_eq!((number["min"].as_f64(), number["max"].as_f64()), (Some(bounds.min_c()), Some(bounds.max_c())));
            if discovery == Discovery::Entity {
                assert!(
                    number_topic.starts_with("homeassistant/number/")
                        && button_topic.starts_with("homeassistant/button/")
                );
            } else {
                assert_eq!(
                    (number["platform"].as_str(), button["platform"].as_str()),
                    (Some("number"), Some("button"))
                );
            }
            // And what Home Assistant sends is an override the agent takes: a setpoint to hold,
            // and a cancellation
            let template = number["command_template"].as_str().unwrap_or_default();
            let sent = template.replace("{{ value }}", "21.5");
            let until = |now: i64| now + 3_600_000;
            let held = parse_override(sent.as_bytes(), 0, until);
            assert!(
                matches!(held, Ok(OverrideAsk::Hold { hold: crate::control::controller::Hold::Setpoint { setpoint_c }, .. }) if setpoint_c == 21.5),
                "{sent}: {held:?}"
            );
            let press = button["payload_press"].as_str().unwrap_or_default();
            assert!(matches!(parse_override(press.as_bytes(), 0, until), Ok(OverrideAsk::Cancel { .. })), "{press}");
        }
    }

    /// Every entity of the discovery, with the topic its config came on (a device's components
    /// under its one topic, with their platform).
    fn discovery_messages(settings: &Settings, ha: &HomeAssistantSettings) -> Vec<(String, Value)> {
        discovery(settings, ha)
            .into_iter()
            .flat_map(|(topic, config)| match config["components"].as_object() {
                Some(components) => components.values().map(|c| (topic.clone(), c.clone())).collect::<Vec<_>>(),
                None => vec![(topic, config)],
            })
            .collect()
    }
}
