//! The routing table: which topics are the agent's requests rather than readings, and the
//! mailbox each goes to. The most specific filter wins whatever the order routes are given in
//! (the link sorts them), and a request is parsed into its task's type here, at routing, so a
//! task never sees a payload it cannot take and the page can hand it the same type directly.

use super::mailbox::{Mailbox, Offer, Request};
use super::Inbound;
use crate::quiet::Quiet;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

/// Where the link sends the messages of some topics instead of ingest.
#[derive(Debug)]
pub struct Route {
    /// A topic, or a prefix when it ends with `/`.
    pub topics: String,
    pub to: Arc<dyn Deliver>,
}

impl Route {
    pub(super) fn takes(&self, topic: &str) -> bool {
        if self.topics.ends_with('/') {
            topic.starts_with(self.topics.as_str())
        } else {
            topic == self.topics
        }
    }

    /// How specific its filter is: the link tries longer ones first.
    pub(super) fn specificity(&self) -> usize {
        self.topics.len()
    }
}

/// A mailbox as the link sees it: it takes a message and says what became of it, never waits.
pub trait Deliver: fmt::Debug + Send + Sync {
    fn deliver(&self, message: Inbound) -> Offer;
}

/// The raw message, for tasks that read the topic themselves.
impl Deliver for Mailbox<Inbound> {
    fn deliver(&self, message: Inbound) -> Offer {
        self.offer(message)
    }
}

type Parse<T> = dyn Fn(&Inbound) -> Result<T, String> + Send + Sync;

/// A mailbox of typed requests: the message is parsed as it is routed; what does not parse is
/// refused with its reason logged (at most once a minute) and counted by the link as dropped.
pub struct Parsed<T> {
    parse: Box<Parse<T>>,
    mailbox: Arc<Mailbox<T>>,
    quiet: Quiet,
}

impl<T> Parsed<T> {
    pub fn new(
        mailbox: Arc<Mailbox<T>>,
        parse: impl Fn(&Inbound) -> Result<T, String> + Send + Sync + 'static,
    ) -> Self {
        Self { parse: Box::new(parse), mailbox, quiet: Quiet::new(Duration::from_secs(60)) }
    }
}

impl<T> fmt::Debug for Parsed<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Parsed").finish_non_exhaustive()
    }
}

impl<T: Request + Send + 'static> Deliver for Parsed<T> {
    fn deliver(&self, message: Inbound) -> Offer {
        match (self.parse)(&message) {
            Ok(request) => self.mailbox.offer(request),
            Err(why) => {
                if let Some(held) = self.quiet.allow() {
                    tracing::warn!(topic = message.topic, why, also_refused_since_last_line = held, "request refused");
                }
                Offer::Malformed
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mqtt::mailbox::{mailbox, Rate};

    #[derive(Debug, PartialEq)]
    struct Setpoint {
        zone: String,
        c: f64,
    }

    impl Request for Setpoint {
        fn channel(&self) -> &str {
            &self.zone
        }

        fn repeats(&self, waiting: &Self) -> bool {
            self == waiting
        }
    }

    fn message(topic: &str, payload: &str) -> Inbound {
        Inbound { topic: topic.into(), payload: payload.to_string().into(), received_ms: 0, ack: None }
    }

    #[tokio::test(start_paused = true)]
    async fn a_typed_route_queues_what_parses_and_refuses_the_rest() {
        // Given a route that parses a zone's setpoint from its topic and a plain number
        let (mailbox, mut requests) = mailbox(8, Rate { per_second: 1e9, burst: 1e9 });
        let route = Parsed::new(Arc::new(mailbox), |m: &Inbound| {
            let zone = m.topic.strip_prefix("site/override/").ok_or("not an override")?;
            let c = std::str::from_utf8(&m.payload).ok().and_then(|t| t.parse().ok()).ok_or("not a number")?;
            Ok(Setpoint { zone: zone.into(), c })
        });
        // When a good request, garbage, and a request on a foreign topic arrive
        let offers = [
            route.deliver(message("site/override/a", "20.5")),
            route.deliver(message("site/override/a", "warm")),
            route.deliver(message("elsewhere/a", "20")),
        ];
        // Then the first is queued as its type, the others are refused as malformed
        assert_eq!(offers, [Offer::Queued, Offer::Malformed, Offer::Malformed]);
        assert_eq!(requests.try_recv(), Some(Setpoint { zone: "a".into(), c: 20.5 }));
        assert_eq!(requests.try_recv(), None);
    }

    #[test]
    fn a_longer_filter_is_more_specific() {
        let (mailbox, _requests) = mailbox::<Inbound>(1, Rate { per_second: 1.0, burst: 1.0 });
        let mailbox = Arc::new(mailbox);
        let all = Route { topics: "site/".into(), to: mailbox.clone() };
        let overrides = Route { topics: "site/override/".into(), to: mailbox };
        assert!(all.takes("site/override/a") && overrides.takes("site/override/a"));
        assert!(overrides.specificity() > all.specificity());
        assert!(!overrides.takes("site/flex"));
    }
}
