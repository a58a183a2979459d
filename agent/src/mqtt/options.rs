//! What the agent asks of the building's broker when it connects (MQTT 5).

use super::Retained;
use crate::config::{BrokerSettings, TlsSettings};
use rumqttc::v5::mqttbytes::v5::LastWill;
use rumqttc::v5::mqttbytes::QoS;
use rumqttc::v5::{AsyncClient, EventLoop, MqttOptions};
use rumqttc::{TlsConfiguration, Transport};
use std::time::Duration;

/// Requests (publishes, acknowledgements, subscriptions) waiting for the event loop. Nothing
/// waits for room here: publishers drop and count, and the link retries its own acks.
pub const REQUEST_CAPACITY: usize = 1024;
/// Status, ledger records and commands in flight at once (mosquitto allows 20 by default).
const OUTGOING_IN_FLIGHT: u16 = 100;

pub fn local(broker: &BrokerSettings, will: &Retained) -> MqttOptions {
    let mut opts = MqttOptions::new(&broker.client_id, &broker.host, broker.port);
    opts.set_keep_alive(broker.keep_alive.0.max(Duration::from_secs(1)));
    // A persistent session under a stable client id: while the agent is down (a restart, a
    // power cut) the broker keeps its subscriptions and queues what devices publish.
    opts.set_clean_start(false);
    opts.set_session_expiry_interval(Some(broker.session_expiry_s));
    // Acknowledged by the writer once committed; the broker sends at most this many before.
    opts.set_manual_acks(true);
    opts.set_receive_maximum(Some(broker.receive_maximum));
    // Advertised, so the broker drops a larger packet (MQTT 5, §3.1.2.11.4) instead of
    // sending it and costing the connection, and a retained one cannot make a reconnect loop.
    let max = u32::try_from(broker.max_packet_bytes).unwrap_or(u32::MAX);
    opts.set_max_packet_size(Some(max));
    opts.set_request_channel_capacity(REQUEST_CAPACITY);
    // The agent's own QoS 1 publishes awaiting the broker's acknowledgement. rumqttc keeps a
    // slot for each possible one: its default (65,535) alone took 16 MiB of resident memory.
    opts.set_outgoing_inflight_upper_limit(OUTGOING_IN_FLIGHT);
    opts.set_last_will(LastWill::new(&will.topic, will.payload.clone(), QoS::AtLeastOnce, true, None));
    if let Some((user, pass)) = &broker.credentials {
        opts.set_credentials(user, pass);
    }
    if let Some(tls) = &broker.tls {
        opts.set_transport(transport(tls));
    }
    opts
}

/// TLS to a broker (the building's or the city's), with its CA and maybe a client certificate.
pub fn transport(tls: &TlsSettings) -> Transport {
    Transport::tls_with_config(TlsConfiguration::Simple {
        ca: tls.ca_pem.clone(),
        alpn: None,
        client_auth: tls.client_auth.clone(),
    })
}

pub fn client(broker: &BrokerSettings, will: &Retained) -> (AsyncClient, EventLoop) {
    AsyncClient::new(local(broker, will), REQUEST_CAPACITY)
}
