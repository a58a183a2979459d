//! Control as a task of the daemon. It reads its zones' temperatures, setpoints and presence
//! from ingest, and each step of event time (once every one of those points has reported for
//! it) lets the controller decide; it takes flex requests on `<prefix>/flex/event`, people's
//! overrides on `<prefix>/override/<zone>` and the stop switch on `<prefix>/control/set`; it
//! sends commands to the thermostats' topics and records every decision in the control log.

use super::actuate::payload;
use super::controller::{Command, Controller, Notice, Override, Source, StepResult, ZoneReading};
use super::event::Change;
use super::log::{ControlLog, Kind, LogError};
use super::request::{parse_mode, parse_override, OverrideAsk};
use super::watch::Watches;
use crate::advisor::Basis;
use crate::clock::Clock;
use crate::config::control::Mode;
use crate::config::Settings;
use crate::mqtt::mailbox::Requests;
use crate::mqtt::{Inbound, Publisher};
use crate::point::PointKind;
use crate::reading::Reading;
use crate::shared::Shared;
use crate::stats::Stats;
use crate::uplink::outbox::{Outbox, Priority, Report};
use crate::watchdog::Pulse;
use chrono::TimeZone;
use serde_json::json;
use std::sync::Arc;
use tokio::sync::{mpsc, watch, Notify};
use tokio_util::sync::CancellationToken;

/// Which zone and which reading a tapped point is.
#[derive(Debug, Clone, Copy)]
enum Field {
    Temperature,
    Setpoint,
    Occupancy,
}

/// A tapped point: a zone's reading, the outdoor temperature (forecasts hold it), or the
/// heating meter (events are settled on it).
#[derive(Debug, Clone, Copy)]
enum Tapped {
    Zone(usize, Field),
    Outdoor,
    Heating,
}

#[derive(Debug)]
pub struct ControlTask {
    pub settings: Arc<Settings>,
    pub publisher: Publisher,
    pub log: Shared<ControlLog>,
    pub clock: Clock,
    pub stats: Arc<Stats>,
    /// Where flex reports for the city go, when the site has an uplink.
    pub uplink: Option<Uplink>,
    pub pulse: Pulse,
}

/// The outbox the reporter shares, the bell that wakes its sender, and the city's prefix.
#[derive(Debug, Clone)]
pub struct Uplink {
    pub outbox: Shared<Outbox>,
    pub queued: Arc<Notify>,
    pub prefix: String,
}

/// The topics the task takes, as route prefixes and as subscriptions.
pub fn routes(settings: &Settings) -> Vec<String> {
    let p = &settings.agent.topic_prefix;
    vec![format!("{p}/flex/"), format!("{p}/override/"), format!("{p}/control/")]
}

pub fn subscriptions(settings: &Settings) -> Vec<String> {
    let p = &settings.agent.topic_prefix;
    vec![format!("{p}/flex/event"), format!("{p}/flex/price"), format!("{p}/override/+"), format!("{p}/control/set")]
}

/// By point index, the controlled zone and reading it carries, or the outdoor temperature.
fn fields(settings: &Settings) -> Vec<Option<Tapped>> {
    settings
        .points
        .iter()
        .map(|p| {
            if p.kind == PointKind::OutdoorTemperature {
                return Some(Tapped::Outdoor);
            }
            if p.is_heating_meter() {
                return Some(Tapped::Heating);
            }
            let zone = settings.control.zones.iter().position(|z| Some(&z.zone) == p.zone.as_ref())?;
            let field = match p.kind {
                PointKind::ZoneTemperature => Field::Temperature,
                PointKind::Setpoint => Field::Setpoint,
                PointKind::Occupancy => Field::Occupancy,
                _ => return None,
            };
            Some(Tapped::Zone(zone, field))
        })
        .collect()
}

/// The points the task reads, by index: what ingest's tap copies.
pub fn tapped(settings: &Settings) -> Vec<bool> {
    fields(settings).iter().map(Option::is_some).collect()
}

/// Per tapped point, the newest reading's time; a step closes when all have reached it.
#[derive(Debug)]
struct Steps {
    step_ms: i64,
    seen: Vec<Option<i64>>,
    next_ms: Option<i64>,
}

impl Steps {
    /// The step boundaries `ts_ms` closes, oldest first (at most one; a gap skips ahead).
    fn close(&mut self, point: usize, ts_ms: i64) -> Option<i64> {
        if let Some(seen) = self.seen.get_mut(point) {
            *seen = Some(seen.map_or(ts_ms, |s| s.max(ts_ms)));
        }
        let boundary = ts_ms - ts_ms.rem_euclid(self.step_ms);
        let next = *self.next_ms.get_or_insert(boundary);
        let all_in = self.seen.iter().all(|s| s.is_some_and(|s| s >= next));
        let late = ts_ms >= next + self.step_ms;
        if !(all_in || late) {
            return None;
        }
        let closed = if late { boundary.max(next) } else { next };
        self.next_ms = Some(closed + self.step_ms);
        Some(closed)
    }
}

impl ControlTask {
    pub async fn run(
        self,
        mut inbound: Requests,
        mut readings: mpsc::Receiver<Reading>,
        mut basis: watch::Receiver<Option<Basis>>,
        cancel: CancellationToken,
    ) {
        let s = &self.settings;
        let mut controller = s.control.controller(s.site.timezone, s.comfort.min_c);
        let mut watches = Watches::new(s.control.flex.preheat.as_millis() as i64, s.comfort.min_c);
        if let Err(e) = self.restore(&mut controller, &mut watches).await {
            tracing::error!(error = %e, "control: cannot read the control log back; overrides and events recorded before are not restored");
        }
        let step_h = s.control.step_ms as f64 / 3_600_000.0;
        let fields = fields(s);
        let tapped: Vec<usize> = (0..fields.len()).filter(|&i| fields[i].is_some()).collect();
        // A step waits for the zones' points only: the others are always "in".
        let seen = fields.iter().map(|f| if matches!(f, Some(Tapped::Zone(..))) { None } else { Some(i64::MAX) });
        let mut steps = Steps { step_ms: s.control.step_ms, seen: seen.collect(), next_ms: None };
        let mut days = Days::default();
        let mut zone_readings = vec![ZoneReading::default(); s.control.zones.len()];
        tracing::info!(zones = s.control.zones.len(), points = tapped.len(), mode = ?controller.mode(), "control running");
        self.rebuild(&mut controller, &basis);
        loop {
            tokio::select! {
                _ = cancel.cancelled() => break,
                message = inbound.recv() => match message {
                    Some(m) => {
                        let _busy = self.pulse.busy();
                        self.handle(&mut controller, &mut watches, &m, days.latest_outdoor()).await;
                    }
                    None => break,
                },
                reading = readings.recv() => match reading {
                    Some(r) => {
                        let _busy = self.pulse.busy();
                        let (zone, field) = match fields.get(r.point).copied().flatten() {
                            Some(Tapped::Zone(zone, field)) => (zone, field),
                            Some(Tapped::Outdoor) => {
                                days.outdoor(r.ts_ms, r.value);
                                continue;
                            }
                            Some(Tapped::Heating) => {
                                if let Some(e) = r.energy {
                                    watches.meter(e.start_ms, e.end_ms, e.kwh);
                                }
                                continue;
                            }
                            None => continue,
                        };
                        let z = &mut zone_readings[zone];
                        match field {
                            Field::Temperature => z.temperature_c = Some(r.value),
                            Field::Setpoint => {
                                z.setpoint_c = Some(r.value);
                                z.setpoint_at_ms = Some(r.ts_ms);
                            }
                            Field::Occupancy => z.occupied = r.value > 0.0,
                        }
                        controller.observe(zone, *z);
                        if let Some(at) = steps.close(r.point, r.ts_ms) {
                            let result = controller.step(at);
                            self.carry_out(&result, at).await;
                            watches.overrides(overrides_in(&result), at);
                            for settled in watches.step(at, step_h, &zone_readings) {
                                self.settled(&settled, at, controller.mode()).await;
                            }
                            days.step(&self, &controller, &watches, at).await;
                            self.stats.control_through_ms.fetch_max(at.max(0) as u64, std::sync::atomic::Ordering::Relaxed);
                        }
                    }
                    None => break,
                },
                changed = basis.changed() => {
                    if changed.is_err() {
                        continue;
                    }
                    let _busy = self.pulse.busy();
                    self.rebuild(&mut controller, &basis);
                    let now = self.clock.now_ms();
                    let result = controller.reconsider(now);
                    self.carry_out(&result, now).await;
                }
            }
        }
        tracing::info!("control stopped");
    }

    /// The stop switch and the overrides in force, as the log left them.
    async fn restore(&self, controller: &mut Controller, watches: &mut Watches) -> Result<(), LogError> {
        let now = self.clock.now_ms();
        let settle_window = super::settle::REBOUND_MS;
        let (mode, overrides, events) = self
            .log
            .try_with(move |l| {
                let mut events = Vec::new();
                for (event, forecast) in l.events_since(now - settle_window)? {
                    let overrides = l.overrides_between(event.start_ms, event.end_ms + settle_window)?;
                    events.push((event, forecast, overrides));
                }
                Ok::<_, LogError>((l.latest_mode()?, l.overrides_in_force(now)?, events))
            })
            .await?;
        for (event, forecast, overrides) in events {
            tracing::info!(id = event.id, "control: flex event restored");
            if let Some(f) = forecast {
                watches.watch(event.clone(), f, overrides);
            }
            controller.restore_event(event);
        }
        if let Some(mode) = mode {
            controller.set_mode(mode);
        }
        for (zone, over) in overrides {
            if let Some(i) = controller.zone_index(&zone) {
                tracing::info!(zone, until = crate::clock::iso(over.until_ms), "control: override restored");
                controller.restore_override(i, over);
            }
        }
        Ok(())
    }

    fn rebuild(&self, controller: &mut Controller, basis: &watch::Receiver<Option<Basis>>) {
        let Some(b) = basis.borrow().clone() else { return };
        let s = &self.settings;
        let since = b.accepted.iter().map(|(_, ts)| *ts).min().unwrap_or(0);
        let accepted = b.accepted.into_iter().map(|(setting, _)| setting);
        let schedule = s.control.schedule(b.programme, accepted, s.site.timezone, s.comfort.min_c, since);
        tracing::info!(applied = schedule.applied().len(), gate = b.models_pass_gate, "control: schedule rebuilt");
        controller.set_schedule(Some(schedule), b.models_pass_gate);
        controller.set_models(&b.zone_models, b.kw_per_demand);
    }

    async fn handle(&self, controller: &mut Controller, watches: &mut Watches, m: &Inbound, outdoor_c: Option<f64>) {
        let p = &self.settings.agent.topic_prefix;
        let now = self.clock.now_ms();
        if m.topic == format!("{p}/flex/price") {
            match super::price::events(&m.payload, self.settings.control.flex.price_spike_ratio) {
                Ok(events) => {
                    tracing::info!(events = events.len(), "control: day-ahead prices read");
                    for e in events {
                        self.flex(controller, watches, e.payload.as_bytes(), now, outdoor_c).await;
                    }
                }
                Err(e) => self.refuse_flex(&e.to_string(), &m.payload, now).await,
            }
        } else if m.topic == format!("{p}/flex/event") {
            self.flex(controller, watches, &m.payload, now, outdoor_c).await;
        } else if let Some(zone) = m.topic.strip_prefix(&format!("{p}/override/")) {
            let result = self.override_zone(controller, zone, &m.payload, now).await;
            watches.overrides(overrides_in(&result), now);
        } else if m.topic == format!("{p}/control/set") {
            match parse_mode(&m.payload) {
                Ok(r) => {
                    controller.set_mode(r.mode);
                    let why = format!("mode set to {:?}", r.mode).to_lowercase();
                    tracing::info!(mode = ?r.mode, by = r.by, "control: {why}");
                    self.record(Kind::Mode, None, now, &why, json!({ "mode": r.mode, "by": r.by })).await;
                    let result = controller.reconsider(now);
                    self.carry_out(&result, now).await;
                }
                Err(e) => tracing::warn!(error = %e, "control: mode refused"),
            }
        }
    }

    /// A flex request into the book, recorded whether taken or refused.
    async fn flex(
        &self,
        controller: &mut Controller,
        watches: &mut Watches,
        payload: &[u8],
        now: i64,
        outdoor_c: Option<f64>,
    ) {
        match controller.flex(payload, now) {
            Ok(change) => {
                let (kind, event, why) = match change {
                    Change::Added(e) => (Kind::FlexAccepted, e, "flex request taken"),
                    Change::Updated { now, .. } => (Kind::FlexAccepted, now, "flex request updated"),
                    Change::Cancelled(e) => (Kind::FlexCancelled, e, "flex request cancelled"),
                };
                tracing::info!(id = event.id, ?kind, "control: {why}");
                self.record(kind, None, now, why, &event).await;
                if kind != Kind::FlexAccepted {
                    watches.forget(&event.id);
                    return;
                }
                // Said before the event: what it should shed and what it should cost.
                match outdoor_c.and_then(|o| controller.forecast(&event.id, now, o)) {
                    Some(f) => {
                        let why = format!(
                            "expects {:.1} → {:.1} kW during the event (−{:.1} kW), {:.2} K·h below comfort, rebound {:.1} kW against {:.1} kW",
                            f.baseline_kw, f.planned_kw, f.shed_kw, f.discomfort_kh, f.rebound_peak_kw, f.baseline_peak_kw
                        );
                        self.record(Kind::FlexForecast, None, now, &why, &f).await;
                        watches.watch(event, f, 0);
                    }
                    None => tracing::info!(
                        id = event.id,
                        "control: no forecast yet (no zone models, temperatures or outdoor reading)"
                    ),
                }
            }
            Err(e) => self.refuse_flex(&e.to_string(), payload, now).await,
        }
    }

    /// A flex request or a price series refused: counted, logged, and in the ledger with why.
    async fn refuse_flex(&self, why: &str, payload: &[u8], now: i64) {
        Stats::add(&self.stats.flex_refused, 1);
        tracing::warn!(why, "control: flex request refused");
        self.record(Kind::FlexRefused, None, now, why, quoted(payload)).await;
    }

    /// A person's override from the topic; what it made the controller do.
    async fn override_zone(&self, controller: &mut Controller, zone: &str, payload: &[u8], now: i64) -> StepResult {
        let refuse = |why: String| async move {
            tracing::warn!(zone, why, "control: override refused");
            self.record(Kind::OverrideRefused, Some(zone), now, &why, quoted(payload)).await;
            StepResult::default()
        };
        let Some(i) = controller.zone_index(zone) else {
            let known: Vec<&str> = controller.zone_names().collect();
            return refuse(format!("no controlled zone {zone:?}; zones: {known:?}")).await;
        };
        let (hold, until_ms) = match parse_override(payload, now, |now| controller.default_until(now)) {
            Ok(OverrideAsk::Hold { hold, until_ms }) => (hold, until_ms),
            Ok(OverrideAsk::Cancel { by }) => {
                let result = controller.end_override(i, now);
                self.record(Kind::OverrideEnded, Some(zone), now, "override cancelled", json!({ "by": by })).await;
                self.carry_out(&result, now).await;
                return result;
            }
            Err(e) => return refuse(e.to_string()).await,
        };
        let over = Override { hold, since_ms: now, until_ms, source: Source::Topic };
        let result = controller.override_zone(i, over, now);
        self.carry_out(&result, now).await;
        result
    }

    /// Sends what the controller decided and records it with its reasons.
    async fn carry_out(&self, result: &StepResult, now: i64) {
        for n in &result.notices {
            let (kind, zone, why) = match n {
                Notice::OverrideBegan { zone, over } => (
                    Kind::Override,
                    zone,
                    format!(
                        "a person's override ({:?}) until {}; no curtailment there this week",
                        over.source,
                        crate::clock::iso(over.until_ms)
                    )
                    .to_lowercase(),
                ),
                Notice::OverrideEnded { zone } => (Kind::OverrideEnded, zone, "override over".into()),
                Notice::CommandLapsed { zone, setpoint_c, read_back_c } => (
                    Kind::CommandLapsed,
                    zone,
                    format!("the thermostat dropped {setpoint_c:.1} °C (reads back {read_back_c:.1} °C): sent again"),
                ),
                Notice::BudgetSpent { zone, spent_kh } => (
                    Kind::BudgetSpent,
                    zone,
                    format!("{spent_kh:.2} K·h below comfort this week: no more curtailment there until Monday"),
                ),
            };
            let detail = match n {
                Notice::OverrideBegan { over, .. } => serde_json::to_value(over).unwrap_or_default(),
                other => serde_json::to_value(other).unwrap_or_default(),
            };
            self.record(kind, Some(zone), now, &why, detail).await;
        }
        for c in &result.commands {
            let Some(z) = self.settings.control.zones.iter().find(|z| z.zone == c.zone) else { continue };
            if !c.shadow {
                let body = payload(z.format, c.setpoint_c, c.expires_ms);
                if self.publisher.publish(z.command_topic.as_str(), false, body) {
                    Stats::add(&self.stats.commands_sent, 1);
                }
            }
            let kind = if c.release { Kind::Release } else { Kind::Command };
            self.record(kind, Some(&c.zone), now, &why(c), c).await;
        }
    }

    /// A settled event: in the ledger, predicted against achieved, and to the city unless the
    /// agent only shadowed it (then the ledger compares the forecast with what the building did
    /// on its own, and the city is told of no flexibility).
    async fn settled(&self, s: &super::settle::Settlement, now: i64, mode: Mode) {
        let shadow = if mode == Mode::Auto { "" } else { "not commanded (shadow or advise): " };
        let why = format!(
            "{shadow}planned {:.1} kW of shed, achieved {:.1} kW ({:.1} → {:.1} kW against the forecast adjusted ×{:.2} on the day); rebound {:.1} kW against {:.1} kW; {:.2} K·h below comfort; {} overrides",
            s.planned_shed_kw, s.achieved_shed_kw, s.baseline_kw, s.measured_kw, s.adjustment, s.rebound_peak_kw, s.baseline_peak_kw, s.discomfort_kh, s.overrides
        );
        tracing::info!(id = s.event_id, "control: event settled: {why}");
        self.record(Kind::FlexSettled, None, now, &why, s).await;
        let Some(uplink) = self.uplink.as_ref().filter(|_| mode == Mode::Auto) else { return };
        let payload = super::settle::report(&self.settings.site.id, s);
        let report = Report {
            id: payload["id"].as_str().unwrap_or_default().to_string(),
            kind: "flex".into(),
            priority: Priority::Normal,
            topic: crate::report::topic(&self.settings, &uplink.prefix, "flex"),
            payload: payload.to_string().into_bytes(),
            created_ms: self.clock.wall_ms(),
        };
        match uplink.outbox.try_with(move |o| o.enqueue(&report)).await {
            Ok(_) => uplink.queued.notify_one(),
            Err(e) => tracing::error!(error = %e, "control: flex report not queued"),
        }
    }

    /// Appends to the log and publishes on `<prefix>/decisions`; a log that cannot be written
    /// costs the record, never the control.
    async fn record(&self, kind: Kind, zone: Option<&str>, ts_ms: i64, why: &str, detail: impl serde::Serialize) {
        let detail = match serde_json::to_value(detail) {
            Ok(d) => d,
            Err(e) => return tracing::error!(error = %e, "control: cannot serialise a record"),
        };
        let (zone_owned, why_owned) = (zone.map(str::to_string), why.to_string());
        let appended =
            self.log.try_with(move |l| l.append(kind, zone_owned.as_deref(), ts_ms, &why_owned, detail)).await;
        match appended {
            Ok(record) => {
                let topic = format!("{}/decisions", self.settings.agent.topic_prefix);
                self.publisher.publish(topic, false, record.to_string());
            }
            Err(e) => tracing::error!(error = %e, "control: record not written"),
        }
    }
}

/// Each local day, in shadow and auto modes: at midnight what the controller says the day will
/// use on the programme and on the schedule; at the next, what the meter showed, in the ledger.
#[derive(Debug, Default)]
struct Days {
    /// The last day's outdoor readings: their mean stands in for a forecast of the next.
    outdoor: std::collections::VecDeque<(i64, f64)>,
    pending: Option<(i64, super::forecast::Forecast)>,
    day: Option<chrono::NaiveDate>,
}

impl Days {
    fn latest_outdoor(&self) -> Option<f64> {
        self.outdoor.back().map(|(_, v)| *v)
    }

    fn outdoor(&mut self, ts_ms: i64, value: f64) {
        self.outdoor.push_back((ts_ms, value));
        while self.outdoor.front().is_some_and(|(t, _)| *t <= ts_ms - 86_400_000) {
            self.outdoor.pop_front();
        }
    }

    async fn step(&mut self, task: &ControlTask, controller: &Controller, watches: &Watches, at: i64) {
        let tz = task.settings.site.timezone;
        let Some(date) = tz.timestamp_millis_opt(at).single().map(|t| t.date_naive()) else { return };
        if self.day == Some(date) {
            return;
        }
        let first = self.day.is_none();
        self.day = Some(date);
        let step_ms = task.settings.control.step_ms;
        if let Some((from, f)) = self.pending.take() {
            let (metered, coverage) = watches.metered_kwh(from, at, step_ms);
            let hours = (at - from) as f64 / 3_600_000.0;
            let (programme, schedule) = (f.baseline_kw * hours, f.planned_kw * hours);
            let ran = if controller.mode() == Mode::Auto { "the schedule" } else { "its programme" };
            let why = format!(
                "predicted {programme:.0} kWh on the programme and {schedule:.0} kWh on the schedule (a saving of {:.0}); the meter showed {metered:.0} kWh on {ran} ({:.0} % of the day metered)",
                programme - schedule,
                100.0 * coverage
            );
            let detail = json!({ "from": crate::clock::iso(from), "programme_kwh": programme, "schedule_kwh": schedule, "metered_kwh": metered, "coverage": coverage, "mode": controller.mode() });
            task.record(Kind::DayCompared, None, at, &why, detail).await;
        }
        // A day is predicted from its start: the first one the agent sees began before it.
        if first || controller.mode() == Mode::Advise || self.outdoor.is_empty() {
            return;
        }
        let mean = self.outdoor.iter().map(|(_, v)| v).sum::<f64>() / self.outdoor.len() as f64;
        self.pending = controller.day_ahead(at, 24, mean).map(|f| (at, f));
    }
}

/// How many overrides a decision began.
fn overrides_in(result: &StepResult) -> u64 {
    result.notices.iter().filter(|n| matches!(n, Notice::OverrideBegan { .. })).count() as u64
}

/// A refused payload as the ledger keeps it: its first 256 characters.
fn quoted(payload: &[u8]) -> serde_json::Value {
    let text: String = String::from_utf8_lossy(payload).chars().take(256).collect();
    json!({ "payload": text })
}

/// A command's reasons in a sentence.
fn why(c: &Command) -> String {
    use super::safety::Limit;
    let base = match (&c.event, c.phase) {
        _ if c.release => "handed back to the thermostat's own programme".to_string(),
        _ if c.limits.contains(&Limit::Override) => "a person's override".to_string(),
        (Some(event), Some(phase)) => format!("flex event {event}: {}", phase.name()),
        _ => match c.programme_c {
            Some(p) => format!(
                "schedule with the accepted changes ({:.1} °C where the programme holds {p:.1} °C)",
                c.setpoint_c
            ),
            None => "schedule with the accepted changes".to_string(),
        },
    };
    let limits: Vec<String> = c.limits.iter().filter(|l| **l != Limit::Override).map(|l| format!("{l:?}")).collect();
    let shadow = if c.shadow { " (shadow: not sent)" } else { "" };
    if limits.is_empty() {
        format!("{base}{shadow}")
    } else {
        format!("{base}; held by {}{shadow}", limits.join(", ").to_lowercase())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_step_closes_once_every_point_has_reported_for_it_or_when_data_runs_past_it() {
        // Given three tapped points and 15-minute steps
        let mut s = Steps { step_ms: 900_000, seen: vec![None; 3], next_ms: None };
        let q = 900_000;
        // When the first two report for 08:00 (step 32), Then nothing closes
        assert_eq!(s.close(0, 32 * q), None);
        assert_eq!(s.close(1, 32 * q), None);
        // When the third does, Then the step closes
        assert_eq!(s.close(2, 32 * q), Some(32 * q));
        // When one point falls silent and the others report two steps on, Then the step closes
        // without it, once
        assert_eq!(s.close(0, 33 * q), None);
        assert_eq!(s.close(1, 34 * q), Some(34 * q));
        assert_eq!(s.close(0, 34 * q), None);
    }
}
