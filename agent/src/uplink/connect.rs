//! What the agent asks of the city's broker when it connects: MQTT 3.1.1, a clean session
//! (the outbox, not the broker, keeps what is unsent), its status as last will.

use crate::config::BrokerSettings;
use crate::mqtt::Retained;
use rumqttc::{LastWill, MqttOptions, QoS};
use std::time::Duration;

pub fn options(broker: &BrokerSettings, will: &Retained) -> MqttOptions {
    let mut opts = MqttOptions::new(&broker.client_id, &broker.host, broker.port);
    opts.set_keep_alive(broker.keep_alive.0.max(Duration::from_secs(1)));
    opts.set_clean_session(true);
    opts.set_max_packet_size(broker.max_packet_bytes, broker.max_packet_bytes);
    opts.set_last_will(LastWill::new(&will.topic, will.payload.clone(), QoS::AtLeastOnce, true));
    if let Some((user, pass)) = &broker.credentials {
        opts.set_credentials(user, pass);
    }
    if let Some(tls) = &broker.tls {
        opts.set_transport(crate::mqtt::options::transport(tls));
    }
    opts
}
