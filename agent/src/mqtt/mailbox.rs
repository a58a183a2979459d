//! Requests to the agent (overrides, flex events, decisions, Home Assistant's birth) wait here
//! between the link and the task that takes them. The link never waits: a request over its
//! topic's rate, a repeat of one still waiting, or one that finds the box full is dropped and
//! counted. So a flood on one topic costs that topic's requests, never the link, ingest, or the
//! other topics' requests beyond their share of the box.
//!
//! A mailbox carries what its task takes: the raw message, or a typed request parsed at routing
//! (a decision), so the local page offers the advisor the same type as a message on MQTT.

use super::Inbound;
use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, PoisonError};
use tokio::sync::Notify;
use tokio::time::Instant;

/// How many requests a topic may send: `burst` at once, then `per_second`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Rate {
    pub per_second: f64,
    pub burst: f64,
}

/// A person, an aggregator or Home Assistant sends a few requests a minute; a burst of ten is
/// a person clicking, more is a device gone mad or an attack.
pub const REQUESTS: Rate = Rate { per_second: 1.0, burst: 10.0 };
/// Requests waiting for their task, per mailbox.
pub const CAPACITY: usize = 64;
/// Topics whose rate is remembered; past it, idle ones are forgotten (a full bucket is the
/// same as a new one), and a flood spread over more topics shares one bucket.
const TOPICS: usize = 256;

/// A request as a mailbox sees it: where it came from (its rate's key) and whether it repeats
/// one already waiting.
pub trait Request {
    /// The topic it came on, or the page's own name.
    fn channel(&self) -> &str;
    fn repeats(&self, waiting: &Self) -> bool;
}

impl Request for Inbound {
    fn channel(&self) -> &str {
        &self.topic
    }

    fn repeats(&self, waiting: &Self) -> bool {
        self.topic == waiting.topic && self.payload == waiting.payload
    }
}

/// What became of an offered request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Offer {
    Queued,
    /// The same payload on the same topic is already waiting.
    Repeated,
    OverRate,
    Full,
    /// The task that takes them has stopped.
    Closed,
    /// It does not parse as what the task takes.
    Malformed,
}

#[derive(Debug)]
struct Shared<T> {
    state: Mutex<State<T>>,
    ready: Notify,
}

#[derive(Debug)]
struct State<T> {
    waiting: VecDeque<T>,
    buckets: HashMap<String, Bucket>,
    /// The bucket of topics beyond `TOPICS`.
    overflow: Bucket,
    capacity: usize,
    rate: Rate,
    closed: bool,
}

#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: f64,
    at: Instant,
}

impl Bucket {
    fn full(rate: Rate, at: Instant) -> Self {
        Bucket { tokens: rate.burst, at }
    }

    fn refill(&mut self, rate: Rate, now: Instant) {
        let elapsed = now.saturating_duration_since(self.at).as_secs_f64();
        self.tokens = (self.tokens + elapsed * rate.per_second).min(rate.burst);
        self.at = now;
    }

    fn take(&mut self, rate: Rate, now: Instant) -> bool {
        self.refill(rate, now);
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

/// The link's end.
#[derive(Debug)]
pub struct Mailbox<T = Inbound> {
    shared: Arc<Shared<T>>,
}

/// The taking task's end.
#[derive(Debug)]
pub struct Requests<T = Inbound> {
    shared: Arc<Shared<T>>,
}

pub fn mailbox<T>(capacity: usize, rate: Rate) -> (Mailbox<T>, Requests<T>) {
    let state = State {
        waiting: VecDeque::with_capacity(capacity.min(CAPACITY)),
        buckets: HashMap::new(),
        overflow: Bucket::full(rate, Instant::now()),
        capacity,
        rate,
        closed: false,
    };
    let shared = Arc::new(Shared { state: Mutex::new(state), ready: Notify::new() });
    (Mailbox { shared: shared.clone() }, Requests { shared })
}

impl<T> Shared<T> {
    fn state(&self) -> std::sync::MutexGuard<'_, State<T>> {
        // Nothing panics while holding the lock; if something did, the queue is still whole.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl<T: Request> Mailbox<T> {
    pub fn offer(&self, message: T) -> Offer {
        let now = Instant::now();
        let mut s = self.shared.state();
        if s.closed {
            return Offer::Closed;
        }
        if s.waiting.iter().any(|w| message.repeats(w)) {
            return Offer::Repeated;
        }
        let rate = s.rate;
        let channel = message.channel();
        if !s.buckets.contains_key(channel) && s.buckets.len() >= TOPICS {
            s.buckets.retain(|_, b| {
                b.refill(rate, now);
                b.tokens < rate.burst
            });
        }
        let allowed = if s.buckets.len() < TOPICS || s.buckets.contains_key(channel) {
            s.buckets.entry(channel.to_string()).or_insert_with(|| Bucket::full(rate, now)).take(rate, now)
        } else {
            s.overflow.take(rate, now)
        };
        if !allowed {
            return Offer::OverRate;
        }
        if s.waiting.len() >= s.capacity {
            return Offer::Full;
        }
        s.waiting.push_back(message);
        drop(s);
        self.shared.ready.notify_one();
        Offer::Queued
    }
}

impl<T> Drop for Mailbox<T> {
    fn drop(&mut self) {
        self.shared.state().closed = true;
        self.shared.ready.notify_one();
    }
}

impl<T> Requests<T> {
    /// The next request; `None` once the link has gone and nothing waits. Cancel-safe.
    pub async fn recv(&mut self) -> Option<T> {
        loop {
            {
                let mut s = self.shared.state();
                if let Some(m) = s.waiting.pop_front() {
                    return Some(m);
                }
                if s.closed {
                    return None;
                }
            }
            // A notification sent before this wait is kept as a permit, so none is missed.
            self.shared.ready.notified().await;
        }
    }

    /// The next request if one waits now.
    pub fn try_recv(&mut self) -> Option<T> {
        self.shared.state().waiting.pop_front()
    }
}

impl<T> Drop for Requests<T> {
    fn drop(&mut self) {
        self.shared.state().closed = true;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn request(topic: &str, payload: &str) -> Inbound {
        Inbound { topic: topic.into(), payload: payload.to_string().into(), received_ms: 0, ack: None }
    }

    #[tokio::test(start_paused = true)]
    async fn a_flood_on_one_topic_costs_that_topic_not_the_others() {
        // Given a mailbox of 64 at 1 request/s with bursts of 10
        let (mailbox, mut requests) = mailbox(CAPACITY, REQUESTS);
        // When 100,000 distinct overrides arrive on one zone's topic at once
        let offers: Vec<Offer> = (0..100_000).map(|i| mailbox.offer(request("p/override/a", &i.to_string()))).collect();
        // Then the first ten are queued and every other one is dropped over the rate
        assert_eq!(offers.iter().filter(|o| **o == Offer::Queued).count(), 10);
        assert_eq!(offers.iter().filter(|o| **o == Offer::OverRate).count(), 99_990);
        // And a request on another topic still gets in
        assert_eq!(mailbox.offer(request("p/flex/event", "{}")), Offer::Queued);
        // And after five seconds the flooded topic has five more
        tokio::time::advance(Duration::from_secs(5)).await;
        let later = (0..100).filter(|i| mailbox.offer(request("p/override/a", &format!("x{i}"))) == Offer::Queued);
        assert_eq!(later.count(), 5);
        for _ in 0..16 {
            assert!(requests.recv().await.is_some());
        }
    }

    #[tokio::test(start_paused = true)]
    async fn a_repeat_of_a_waiting_request_is_dropped_and_a_full_box_refuses() {
        // Given a mailbox of two with no rate to speak of
        let (mailbox, mut requests) = mailbox(2, Rate { per_second: 1e9, burst: 1e9 });
        // When the same request comes twice while the first waits, Then the second is a repeat
        assert_eq!(mailbox.offer(request("t", "a")), Offer::Queued);
        assert_eq!(mailbox.offer(request("t", "a")), Offer::Repeated);
        assert_eq!(mailbox.offer(request("t", "b")), Offer::Queued);
        // When the box is full, Then the next one is refused
        assert_eq!(mailbox.offer(request("t", "c")), Offer::Full);
        // When the task takes the first, Then the same request is welcome again
        assert_eq!(requests.recv().await.map(|m| m.payload), Some("a".into()));
        assert_eq!(mailbox.offer(request("t", "a")), Offer::Queued);
    }

    #[tokio::test(start_paused = true)]
    async fn topics_past_the_remembered_ones_share_one_bucket() {
        // Given every remembered topic has just spent its burst
        let (mailbox, _requests) = mailbox(1 << 20, REQUESTS);
        for t in 0..TOPICS {
            for _ in 0..10 {
                mailbox.offer(request(&format!("p/override/{t}"), &fastrand::u64(..).to_string()));
            }
        }
        // When a flood comes on ever new topics, Then only the shared bucket's burst gets in
        let queued = (0..10_000)
            .filter(|i| mailbox.offer(request(&format!("p/override/new{i}"), "{}")) == Offer::Queued)
            .count();
        assert_eq!(queued, 10);
    }

    #[tokio::test(start_paused = true)]
    async fn the_task_learns_the_link_has_gone_once_the_box_is_empty() {
        let (mailbox, mut requests) = mailbox(4, REQUESTS);
        assert_eq!(mailbox.offer(request("t", "a")), Offer::Queued);
        drop(mailbox);
        assert!(requests.recv().await.is_some());
        assert!(requests.recv().await.is_none());
    }
}
