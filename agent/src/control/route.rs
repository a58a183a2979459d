//! The topics control takes and what each asks: flex requests and day-ahead prices on
//! `<prefix>/flex/…`, people's overrides on `<prefix>/override/<zone>`, the stop switch on
//! `<prefix>/control/set`. The link routes them into control's mailbox as typed requests, so
//! nothing past this file compares topics.

use super::request::{Ask, Request};
use crate::config::Settings;
use crate::mqtt::mailbox::Mailbox;
use crate::mqtt::route::{Deliver, Parsed};
use crate::mqtt::{Inbound, Route};
use std::sync::Arc;

/// The routes of control's topics into `mailbox`: a message on a topic under them that asks
/// nothing (`<prefix>/control/other`) is refused as it is routed.
pub(crate) fn routes(settings: &Settings, mailbox: Arc<Mailbox<Request>>) -> Vec<Route> {
    let topics = Topics::new(settings);
    let parse = move |m: &Inbound| topics.request(m).ok_or_else(|| format!("{} asks control nothing", m.topic));
    let to: Arc<dyn Deliver> = Arc::new(Parsed::new(mailbox, parse));
    let p = &settings.agent.topic_prefix;
    [format!("{p}/flex/"), format!("{p}/override/"), format!("{p}/control/")]
        .into_iter()
        .map(|topics| Route { topics, to: to.clone() })
        .collect()
}

/// The topics as subscriptions.
pub(crate) fn subscriptions(settings: &Settings) -> Vec<String> {
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
        let ask = if topic == self.flex {
            Ask::Flex(payload)
        } else if topic == self.prices {
            Ask::Prices(payload)
        } else if let Some(zone) = topic.strip_prefix(&self.override_prefix) {
            Ask::Override { zone: zone.to_string(), payload }
        } else if topic == self.mode {
            Ask::Mode(payload)
        } else {
            return None;
        };
        Some(Request { ask, via: message.topic.clone() })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mqtt::mailbox::{mailbox, Offer, Rate};

    fn message(topic: &str) -> Inbound {
        Inbound { topic: topic.into(), payload: "x".into(), received_ms: 0, ack: None }
    }

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
            ("sobre/s/flex/event", Some(Ask::Flex("x".into()))),
            ("sobre/s/flex/price", Some(Ask::Prices("x".into()))),
            ("sobre/s/override/class-1", Some(Ask::Override { zone: "class-1".into(), payload: "x".into() })),
            ("sobre/s/control/set", Some(Ask::Mode("x".into()))),
            ("sobre/s/control/other", None),
            ("sobre/s/flex/else", None),
        ];
        for (topic, then) in cases {
            // When a message arrives on the topic
            let request = topics.request(&message(topic));
            // Then it is the request the topic names, from there, or none
            assert_eq!(request.as_ref().map(|r| &r.ask), then.as_ref(), "{topic}");
            assert!(request.is_none_or(|r| r.via == topic), "{topic}");
        }
    }

    #[tokio::test(start_paused = true)]
    async fn the_routes_queue_what_asks_control_something_and_refuse_the_rest() {
        // Given control's routes into its mailbox, on a site whose prefix is `sobre/s`
        let text = "[site]\nid = \"s\"\ntimezone = \"UTC\"\n\n[[points]]\nid = \"t\"\nkind = \"zone_temperature\"\nunit = \"°C\"\ntopic = \"t\"\n";
        let settings = Settings::parse(text, "test").expect("settings");
        let (mailbox, mut requests) = mailbox::<Request>(8, Rate { per_second: 1e9, burst: 1e9 });
        let routes = routes(&settings, Arc::new(mailbox));
        let route = |topic: &str| routes.iter().find(|r| topic.starts_with(&r.topics)).expect("a route");
        // When an override, the same override again, and a message asking nothing arrive
        let offers = ["sobre/s/override/a", "sobre/s/override/a", "sobre/s/control/other"]
            .map(|topic| route(topic).to.deliver(message(topic)));
        // Then the override is queued as a request, its repeat is not, the other is refused
        assert_eq!(offers, [Offer::Queued, Offer::Repeated, Offer::Malformed]);
        let queued = requests.try_recv().map(|r| r.ask);
        assert_eq!(queued, Some(Ask::Override { zone: "a".into(), payload: "x".into() }));
        assert_eq!(subscriptions(&settings)[2], "sobre/s/override/+");
    }
}
