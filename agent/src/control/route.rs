//! The topics control takes and what each asks: flex requests and day-ahead prices on
//! `<prefix>/flex/…`, people's overrides on `<prefix>/override/<zone>`, the stop switch on
//! `<prefix>/control/set`. The link routes by prefix into control's mailbox; here a message's
//! topic becomes a typed request, so nothing past this file compares topics.

use super::request::Request;
use crate::config::Settings;
use crate::mqtt::Inbound;

/// The topics the task takes, as route prefixes.
pub fn routes(settings: &Settings) -> Vec<String> {
    let p = &settings.agent.topic_prefix;
    vec![format!("{p}/flex/"), format!("{p}/override/"), format!("{p}/control/")]
}

/// The same topics as subscriptions.
pub fn subscriptions(settings: &Settings) -> Vec<String> {
    let p = &settings.agent.topic_prefix;
    vec![format!("{p}/flex/event"), format!("{p}/flex/price"), format!("{p}/override/+"), format!("{p}/control/set")]
}

/// The topics of one site, by what arrives on them.
#[derive(Debug, Clone)]
pub(crate) struct Topics {
    flex: String,
    prices: String,
    override_prefix: String,
    mode: String,
}

impl Topics {
    pub(crate) fn new(settings: &Settings) -> Self {
        let p = &settings.agent.topic_prefix;
        Self {
            flex: format!("{p}/flex/event"),
            prices: format!("{p}/flex/price"),
            override_prefix: format!("{p}/override/"),
            mode: format!("{p}/control/set"),
        }
    }

    /// What `message` asks, or `None` on a topic under the routes that asks nothing (the
    /// link routes by prefix, so `<prefix>/control/other` ends here).
    pub(crate) fn request(&self, message: &Inbound) -> Option<Request> {
        let payload = message.payload.clone();
        let topic = message.topic.as_str();
        if topic == self.flex {
            Some(Request::Flex(payload))
        } else if topic == self.prices {
            Some(Request::Prices(payload))
        } else if let Some(zone) = topic.strip_prefix(&self.override_prefix) {
            Some(Request::Override { zone: zone.to_string(), payload })
        } else if topic == self.mode {
            Some(Request::Mode(payload))
        } else {
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_topic_under_the_routes_is_one_kind_of_request_or_none() {
        // Given the site `sobre/s`
        let topics = Topics {
            flex: "sobre/s/flex/event".into(),
            prices: "sobre/s/flex/price".into(),
            override_prefix: "sobre/s/override/".into(),
            mode: "sobre/s/control/set".into(),
        };
        let cases = [
            ("sobre/s/flex/event", Some(Request::Flex("x".into()))),
            ("sobre/s/flex/price", Some(Request::Prices("x".into()))),
            ("sobre/s/override/class-1", Some(Request::Override { zone: "class-1".into(), payload: "x".into() })),
            ("sobre/s/control/set", Some(Request::Mode("x".into()))),
            ("sobre/s/control/other", None),
            ("sobre/s/flex/else", None),
        ];
        for (topic, then) in cases {
            // When a message arrives on the topic
            let message = Inbound { topic: topic.into(), payload: "x".into(), received_ms: 0, ack: None };
            // Then it is the request the topic names, or none
            assert_eq!(topics.request(&message), then, "{topic}");
        }
    }
}
