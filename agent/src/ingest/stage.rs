//! The ingest task: routes each MQTT message to the points on its topic, decodes, normalises
//! units, validates, and sends readings and rejections to the writer in arrival order, each
//! message's acknowledgement after its records (the writer sends it once they are committed).

use super::decode::{availability, Decoded};
use super::rejections::RejectionLog;
use super::validate::{Rejected, Validator};
use crate::clock::Clock;
use crate::config::{Point, Settings};
use crate::mqtt::Inbound;
use crate::point::Unit;
use crate::reading::{Reading, Reason};
use crate::stats::Stats;
use crate::store::writer::Item;
use crate::store::Record;
use crate::watchdog::Pulse;
use std::collections::HashMap;
use std::sync::Arc;
use tokio::sync::mpsc;

#[derive(Debug)]
pub struct Ingest {
    settings: Arc<Settings>,
    /// Topic → indices of the points it carries (shared, so routing a message copies nothing).
    routes: HashMap<String, Arc<[usize]>>,
    /// Availability topic → last known state (None until first heard).
    devices: HashMap<String, Option<bool>>,
    validator: Validator,
    rejections: RejectionLog,
    clock: Clock,
    stats: Arc<Stats>,
    tap: Option<Tap>,
    pulse: Pulse,
}

/// Readings of some points copied to another stage (control reads its zones' here). Ingest
/// never waits for it: when the stage falls behind, copies are dropped and counted.
#[derive(Debug)]
pub struct Tap {
    /// By point index: whether the stage wants it.
    pub points: Vec<bool>,
    pub to: mpsc::Sender<Reading>,
}

impl Ingest {
    pub fn new(settings: Arc<Settings>, validator: Validator, clock: Clock, stats: Arc<Stats>) -> Self {
        let mut routes: HashMap<String, Vec<usize>> = HashMap::new();
        let mut devices = HashMap::new();
        for (i, point) in settings.points.iter().enumerate() {
            routes.entry(point.topic.clone()).or_default().push(i);
            if let Some(topic) = &point.availability_topic {
                devices.insert(topic.clone(), None);
            }
        }
        let routes = routes.into_iter().map(|(topic, points)| (topic, Arc::from(points))).collect();
        let rejections = RejectionLog::new(settings.ingest.rejection_log_interval.as_millis_i64());
        Self {
            settings,
            routes,
            devices,
            validator,
            rejections,
            clock,
            stats,
            tap: None,
            pulse: Pulse::unwatched("ingest"),
        }
    }

    /// The watchdog's mark of this loop.
    pub fn with_pulse(mut self, pulse: Pulse) -> Self {
        self.pulse = pulse;
        self
    }

    pub fn with_tap(mut self, tap: Tap) -> Self {
        self.tap = Some(tap);
        self
    }

    /// Every topic to subscribe to: data and availability.
    pub fn topics(&self) -> Vec<String> {
        let mut topics: Vec<String> = self.routes.keys().chain(self.devices.keys()).cloned().collect();
        topics.sort();
        topics.dedup();
        topics
    }

    /// Runs until the link closes `inbound`, then drains it; the writer's channel closes when
    /// this returns, which is how the writer learns to stop.
    pub async fn run(mut self, mut inbound: mpsc::Receiver<Inbound>, records: mpsc::Sender<Item>) {
        let interval = self.settings.ingest.rejection_log_interval.0.max(std::time::Duration::from_secs(1));
        let mut summary = tokio::time::interval(interval);
        loop {
            tokio::select! {
                message = inbound.recv() => match message {
                    Some(message) => {
                        let _busy = self.pulse.busy();
                        let ack = message.ack;
                        let handled = self.handle(message, &records).await;
                        let acked = match ack {
                            Some(ack) if handled.is_ok() => records.send(Item::Ack(ack)).await,
                            _ => handled,
                        };
                        if acked.is_err() {
                            tracing::error!("the writer stopped; ingest stops");
                            break;
                        }
                    }
                    None => break,
                },
                _ = summary.tick() => { self.rejections.summarise_if_due(self.clock.now_ms()); }
            }
        }
        self.rejections.summarise();
    }

    async fn handle(
        &mut self,
        message: Inbound,
        records: &mpsc::Sender<Item>,
    ) -> Result<(), mpsc::error::SendError<Item>> {
        Stats::add(&self.stats.messages, 1);
        let now_ms = self.clock.now_ms();
        if let Some(known) = self.devices.get_mut(&message.topic) {
            let Some(online) = availability(&message.payload) else {
                tracing::debug!(topic = message.topic, "availability message not understood");
                return Ok(());
            };
            if *known != Some(online) {
                match (*known, online) {
                    (Some(true) | None, false) => Stats::add(&self.stats.devices_offline, 1),
                    (Some(false), true) => {
                        self.stats.devices_offline.fetch_sub(1, std::sync::atomic::Ordering::Relaxed);
                    }
                    _ => {}
                }
                tracing::info!(topic = message.topic, online, "device availability");
                *known = Some(online);
                let at_ms = message.received_ms;
                records
                    .send(Item::Record(Record::Availability { topic: message.topic.clone(), at_ms, online }))
                    .await?;
            }
            // A topic may carry both availability and data only by misconfiguration; data wins below.
        }
        let Some(points) = self.routes.get(&message.topic).cloned() else { return Ok(()) };

        let oversize = message.payload.len() > self.settings.ingest.max_payload_bytes;
        for &point in points.iter() {
            let verdict = if oversize {
                Err(Rejected {
                    reason: Reason::Oversize,
                    detail: format!(
                        "{} bytes, limit {}",
                        message.payload.len(),
                        self.settings.ingest.max_payload_bytes
                    ),
                })
            } else {
                self.check(point, &message)
            };
            match verdict {
                Ok(accepted) => {
                    Stats::add(&self.stats.accepted, 1);
                    self.clock.observe(accepted.reading.ts_ms);
                    if let Some(tap) = self.tap.as_ref().filter(|t| t.points.get(point).copied().unwrap_or(false)) {
                        if tap.to.try_send(accepted.reading).is_err() {
                            Stats::add(&self.stats.tap_dropped, 1);
                        }
                    }
                    records.send(Item::Record(Record::Reading(accepted.reading))).await?;
                    if let Some(flag) = accepted.flag {
                        self.reject(point, flag, now_ms, records).await?;
                    }
                }
                Err(rejected) => {
                    Stats::add(&self.stats.rejected, 1);
                    self.reject(point, rejected, now_ms, records).await?;
                }
            }
        }
        self.rejections.summarise_if_due(now_ms);
        Ok(())
    }

    fn check(&mut self, point: usize, message: &Inbound) -> Result<super::validate::Accepted, Rejected> {
        let spec = &self.settings.points[point];
        let decoded = spec
            .decoder
            .decode(&message.payload, self.settings.site.timezone)
            .map_err(|e| Rejected { reason: Reason::Malformed, detail: e.to_string() })?;
        if decoded.boolean && spec.kind.stored_unit() != Unit::Boolean {
            return Err(Rejected {
                reason: Reason::Malformed,
                detail: format!("an on/off state where a {} point expects a number", spec.kind.name()),
            });
        }
        let (ts_ms, value) = stamped(spec, decoded, message.received_ms);
        self.validator.check(point, ts_ms, value, self.clock.wall_ms())
    }

    async fn reject(
        &mut self,
        point: usize,
        rejected: Rejected,
        at_ms: i64,
        records: &mpsc::Sender<Item>,
    ) -> Result<(), mpsc::error::SendError<Item>> {
        self.rejections.record(&self.settings.points[point].id, rejected.reason, &rejected.detail);
        let rejection = Record::Rejection { point, reason: rejected.reason, at_ms, detail: rejected.detail };
        records.send(Item::Record(rejection)).await
    }
}

/// A decoded reading as the validator takes it: stamped (by the device, else on arrival) and in
/// the stored unit of its point's kind.
pub(crate) fn stamped(point: &Point, decoded: Decoded, received_ms: i64) -> (i64, f64) {
    // A unit the payload names (Tasmota's TempUnit) wins only for what the point measures: a
    // power point read from a field named like a temperature stays in its configured unit.
    let named = decoded.unit.filter(|unit| point.kind.accepted_units().contains(unit));
    let value = named.unwrap_or(point.unit).normalise(decoded.value);
    (decoded.ts_ms.unwrap_or(received_ms), value)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Settings;

    #[test]
    fn a_unit_named_in_the_payload_counts_only_for_what_the_point_measures() {
        // Given a thermometer and a power point in kW both read from a Tasmota field named
        // Temperature (the fuzz target ingest found the power converted from °F)
        let text = r#"
[site]
id = "s"
timezone = "UTC"
[[points]]
id = "temp"
kind = "zone_temperature"
topic = "tele/t/SENSOR"
decode = { format = "tasmota", field = "DS18B20.Temperature" }
[[points]]
id = "power"
kind = "power"
unit = "kW"
topic = "tele/t/SENSOR"
decode = { format = "tasmota", field = "DS18B20.Temperature" }
"#;
        let settings = Settings::parse(text, "test").expect("valid test config");
        let payload = br#"{"DS18B20":{"Temperature":68.0},"TempUnit":"F"}"#;
        // When the same message is read for each
        let read = |point: &Point| {
            let decoded = point.decoder.decode(payload, settings.site.timezone).expect("decodes");
            stamped(point, decoded, 0).1
        };
        // Then the thermometer follows TempUnit and the power point keeps its kW
        assert!((read(&settings.points[0]) - 20.0).abs() < 1e-9);
        assert_eq!(read(&settings.points[1]), 68.0);
    }
}
