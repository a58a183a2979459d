//! Control's pure core: typed inputs in (a reading tapped from ingest, a step of event time, a
//! request, a new basis from the advisor), typed effects out (commands, records, settled
//! events). It owns the controller, the events it measures, the zones' latest readings and the
//! day's comparison, and does no I/O: the shell reads the channels and the clock, and carries
//! the effects out.

use super::controller::{Controller, Override, Source, ZoneReading};
use super::effect::{self, overrides_in, quoted, record, Effect};
use super::event::{Change, FlexEvent};
use super::flex_status::{self, Achieved, Answer, Expected, Status};
use super::forecast::Forecast;
use super::log::Kind;
use super::outdoor::OutdoorDay;
use super::points::{Field, PointMap, Tapped};
use super::request::{parse_mode, parse_override, Ask, OverrideAsk, Request};
use super::safety::Limit;
use super::settle::{Declined, Outcome, Settlement};
use super::shadow::DayComparison;
use super::watch::Watches;
use crate::advisor::Basis;
use crate::config::control::Mode;
use crate::config::Settings;
use crate::reading::Reading;
use serde_json::json;
use std::sync::Arc;

/// What the core takes, each at its event time.
#[derive(Debug, Clone)]
pub(crate) enum Input {
    Reading(Reading),
    /// Every zone point has reported for the step at `at_ms` (see `steps`): decide.
    Step {
        at_ms: i64,
    },
    Request {
        request: Request,
        now_ms: i64,
    },
    /// The advisor's new programme, accepted changes and models (`None`: nothing to build on).
    Basis {
        basis: Option<Basis>,
        now_ms: i64,
    },
    /// The agent is stopping: whatever it set goes back to the building.
    Stop {
        now_ms: i64,
    },
    /// No step has closed for a command's lifetime: whatever the agent set goes back too.
    Silence {
        now_ms: i64,
    },
}

/// What must survive a restart, as the control log gives it back.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct Restored {
    pub(crate) mode: Option<Mode>,
    pub(crate) overrides: Vec<(String, Override)>,
    /// Events that may still be in force or unsettled, each with its forecast and the
    /// overrides already counted in it.
    pub(crate) events: Vec<(FlexEvent, Option<Forecast>, u64)>,
}

#[derive(Debug)]
pub(crate) struct ControlCore {
    settings: Arc<Settings>,
    controller: Controller,
    watches: Watches,
    points: PointMap,
    /// By controlled zone, the latest its devices said.
    zones: Vec<ZoneReading>,
    outdoor: OutdoorDay,
    days: DayComparison,
    /// What the advisor last handed over that a forecast rests on; `None` before it has.
    learned: Option<Learned>,
    /// `<prefix>/flex/status`, where each flex request is answered.
    flex_status: String,
}

/// What a flex forecast needs from the advisor's basis.
#[derive(Debug, Clone, Copy)]
struct Learned {
    models_pass_gate: bool,
    zone_models: usize,
    kw_per_demand: bool,
}

impl ControlCore {
    pub(crate) fn new(settings: Arc<Settings>) -> Self {
        let s = &settings;
        let controller = s.control.controller(s.site.timezone, s.comfort.min_c);
        let watches = Watches::new(s.control.flex.preheat.as_millis() as i64, s.comfort.min_c);
        let points = PointMap::new(s);
        let zones = vec![ZoneReading::default(); s.control.zones.len()];
        let days = DayComparison::new(s.site.timezone, s.control.step_ms);
        let flex_status = format!("{}/flex/status", s.agent.topic_prefix);
        Self {
            controller,
            watches,
            points,
            zones,
            outdoor: OutdoorDay::default(),
            days,
            learned: None,
            flex_status,
            settings,
        }
    }

    pub(crate) fn mode(&self) -> Mode {
        self.controller.mode()
    }

    /// Each commanded zone's control state at `now_ms`.
    pub(crate) fn states(&self, now_ms: i64) -> Vec<super::controller::ZoneState> {
        self.controller.states(now_ms)
    }

    pub(crate) fn command_ttl_ms(&self) -> i64 {
        self.settings.control.command_ttl_ms
    }

    pub(crate) fn points(&self) -> &PointMap {
        &self.points
    }

    /// Puts back the stop switch, the overrides in force and the events under way.
    pub(crate) fn restore(&mut self, restored: Restored) {
        for (event, forecast, overrides) in restored.events {
            tracing::info!(id = event.id, "control: flex event restored");
            let deep_preheat = forecast.as_ref().is_some_and(|f| f.deep_preheat);
            if let Some(f) = forecast {
                self.watches.watch(event.clone(), f, overrides);
            }
            self.controller.restore_event(event, deep_preheat);
        }
        if let Some(mode) = restored.mode {
            self.controller.set_mode(mode);
        }
        for (zone, over) in restored.overrides {
            if let Some(i) = self.controller.zone_index(&zone) {
                tracing::info!(zone, until = crate::clock::iso(over.until_ms), "control: override restored");
                self.controller.restore_override(i, over);
            }
        }
    }

    /// Builds the schedule and takes the models the advisor handed over, deciding nothing yet
    /// (at start, before any step).
    pub(crate) fn adopt(&mut self, basis: Basis) {
        self.learned = Some(Learned {
            models_pass_gate: basis.models_pass_gate,
            zone_models: basis.zone_models.len(),
            kw_per_demand: basis.kw_per_demand.is_some(),
        });
        let s = &self.settings;
        let since = basis.accepted.iter().map(|(_, ts)| *ts).min().unwrap_or(0);
        let accepted = basis.accepted.into_iter().map(|(setting, _)| setting);
        let schedule = s.control.schedule(basis.programme, accepted, s.site.timezone, s.comfort.min_c, since);
        tracing::info!(applied = schedule.applied().len(), gate = basis.models_pass_gate, "control: schedule rebuilt");
        if let Some((floor_c, programme_c)) = schedule.floor_above_programme() {
            tracing::info!(
                floor_c,
                programme_c,
                "control: comfort.min_c + control.comfort_margin_k is above the building's own occupied setpoint; \
                 while occupied the programme's level is the floor (lower comfort.min_c to remove this cap)"
            );
        }
        self.controller.set_schedule(Some(schedule), basis.models_pass_gate);
        self.controller.set_models(&basis.zone_models, basis.kw_per_demand);
    }

    pub(crate) fn handle(&mut self, input: Input) -> Vec<Effect> {
        let mut effects = Vec::new();
        match input {
            Input::Reading(r) => self.observe(&r),
            Input::Step { at_ms } => self.step(at_ms, &mut effects),
            Input::Request { request, now_ms } => self.request(request, now_ms, &mut effects),
            Input::Basis { basis, now_ms } => {
                if let Some(b) = basis {
                    self.adopt(b);
                    self.withdraw_unbacked(now_ms, &mut effects);
                }
                self.decide_again(now_ms, &mut effects);
            }
            Input::Stop { now_ms } => {
                let result = self.controller.release_all(now_ms, Limit::Shutdown);
                effect::of_decision(&result, &self.settings.control.zones, now_ms, &mut effects);
            }
            Input::Silence { now_ms } => {
                let result = self.controller.release_all(now_ms, Limit::Silent);
                if !result.commands.is_empty() {
                    tracing::warn!(
                        zones = result.commands.len(),
                        "control: no readings for a command's lifetime; releasing what the agent set"
                    );
                }
                effect::of_decision(&result, &self.settings.control.zones, now_ms, &mut effects);
            }
        }
        effects
    }

    fn observe(&mut self, r: &Reading) {
        let (zone, field) = match self.points.get(r.point) {
            Some(Tapped::Zone(zone, field)) => (zone, field),
            Some(Tapped::Outdoor) => {
                self.controller.observe_outdoor(r.value);
                return self.outdoor.observe(r.ts_ms, r.value);
            }
            Some(Tapped::Heating) => {
                if let Some(e) = r.energy {
                    self.watches.meter(e.start_ms, e.end_ms, e.kwh);
                }
                return;
            }
            None => return,
        };
        let Some(z) = self.zones.get_mut(zone) else { return };
        match field {
            Field::Temperature => z.temperature_c = Some(r.value),
            Field::Setpoint => {
                z.setpoint_c = Some(r.value);
                z.setpoint_at_ms = Some(r.ts_ms);
            }
            Field::Occupancy => z.occupied = r.value > 0.0,
        }
        self.controller.observe(zone, *z);
    }

    fn step(&mut self, at_ms: i64, effects: &mut Vec<Effect>) {
        let result = self.controller.step(at_ms);
        effect::of_decision(&result, &self.settings.control.zones, at_ms, effects);
        self.watches.overrides(overrides_in(&result), at_ms);
        let step_h = self.settings.control.step_ms as f64 / 3_600_000.0;
        for settled in self.watches.step(at_ms, step_h, &self.zones) {
            self.settled(settled, at_ms, effects);
        }
        effects.extend(self.days.step(&self.controller, &self.watches, &self.outdoor, at_ms).map(Effect::Record));
        effects.push(Effect::Stepped { at_ms });
    }

    fn decide_again(&mut self, now_ms: i64, effects: &mut Vec<Effect>) {
        let result = self.controller.reconsider(now_ms);
        effect::of_decision(&result, &self.settings.control.zones, now_ms, effects);
    }

    fn request(&mut self, request: Request, now_ms: i64, effects: &mut Vec<Effect>) {
        match request.ask {
            Ask::Flex(payload) => self.flex(&payload, now_ms, effects),
            Ask::Prices(payload) => {
                match super::price::events(&payload, self.settings.control.flex.price_spike_ratio) {
                    Ok(events) => {
                        tracing::info!(events = events.len(), "control: day-ahead prices read");
                        for e in events {
                            self.flex(e.payload.as_bytes(), now_ms, effects);
                        }
                    }
                    Err(e) => refuse_flex(&e.to_string(), &payload, now_ms, self.answers(), effects),
                }
            }
            Ask::Override { zone, payload } => {
                let began = self.override_zone(&zone, &payload, now_ms, effects);
                self.watches.overrides(began, now_ms);
            }
            Ask::Mode(payload) => match parse_mode(&payload) {
                Ok(r) => {
                    let why = format!("mode set to {:?}", r.mode).to_lowercase();
                    tracing::info!(mode = ?r.mode, by = r.by, "control: {why}");
                    record(effects, Kind::Mode, None, now_ms, why, json!({ "mode": r.mode, "by": r.by }));
                    // Leaving auto (for advise or shadow), what the agent set goes back first.
                    if self.controller.mode() == Mode::Auto && r.mode != Mode::Auto {
                        let result = self.controller.release_all(now_ms, Limit::StopSwitch);
                        effect::of_decision(&result, &self.settings.control.zones, now_ms, effects);
                    }
                    self.controller.set_mode(r.mode);
                    self.withdraw_unbacked(now_ms, effects);
                    self.decide_again(now_ms, effects);
                }
                Err(e) => tracing::warn!(error = %e, "control: mode refused"),
            },
        }
    }

    /// A flex request into the book, recorded and answered whether taken or refused: a taken
    /// one only with a forecast of what it is expected to shed and cost, said before the event;
    /// without one it is taken out of the book again and refused with why (never accepted with
    /// nothing behind it).
    fn flex(&mut self, payload: &[u8], now_ms: i64, effects: &mut Vec<Effect>) {
        let change = match self.controller.flex(payload, now_ms) {
            Ok(change) => change,
            Err(e) => return refuse_flex(&e.to_string(), payload, now_ms, self.answers(), effects),
        };
        let (event, status, why) = match change {
            Change::Added(e) => (e, Status::Accepted, "flex request taken"),
            Change::Updated { now, .. } => (now, Status::Updated, "flex request updated"),
            Change::Cancelled(e) => {
                let why = "flex request cancelled";
                tracing::info!(id = e.id, "control: {why}");
                record(effects, Kind::FlexCancelled, None, now_ms, why, &e);
                self.watches.forget(&e.id);
                let answer = Answer::new(
                    Some(&e.id),
                    Status::Cancelled,
                    "cancelled as asked: nothing is commanded for it",
                    now_ms,
                );
                return self.answers().decline(answer, Some(&e), effects);
            }
        };
        let f = match self.forecast(&event, now_ms) {
            Ok(f) => f,
            Err(cause) => {
                self.controller.withdraw(&event.id);
                self.watches.forget(&event.id);
                let why = format!("event {}: {cause}; refused, nothing will be commanded for it", event.id);
                tracing::warn!(id = event.id, why, "control: flex request refused");
                // The event as detail: its id takes it out of the book restored after a restart.
                record(effects, Kind::FlexRefused, None, now_ms, &why, &event);
                let answer = Answer::new(Some(&event.id), Status::Refused, why, now_ms);
                return self.answers().decline(answer, Some(&event), effects);
            }
        };
        tracing::info!(id = event.id, ?status, "control: {why}");
        record(effects, Kind::FlexAccepted, None, now_ms, why, &event);
        let expects = format!(
            "expects {:.1} → {:.1} kW during the event (−{:.1} kW), {:.2} K·h below comfort, rebound {:.1} kW against {:.1} kW",
            f.baseline_kw, f.planned_kw, f.shed_kw, f.discomfort_kh, f.rebound_peak_kw, f.baseline_peak_kw
        );
        record(effects, Kind::FlexForecast, None, now_ms, &expects, &f);
        // In shadow mode the requester must know nothing will be sent, though it is accepted
        // (forecast, and settled in the ledger against what the building did on its own).
        let shadow = if self.controller.mode() == Mode::Shadow { " (shadow mode: nothing will be sent)" } else { "" };
        let mut answer = Answer::new(Some(&event.id), status, format!("{why}{shadow}: {expects}"), now_ms);
        answer.forecast = Some(Expected::from(&f));
        self.watches.watch(event, f, 0);
        self.answers().push(answer, effects);
    }

    /// What event `event` (in the book) is expected to shed and cost, or why nothing can be
    /// said: then the agent cannot stand behind it.
    fn forecast(&self, event: &FlexEvent, now_ms: i64) -> Result<Forecast, &'static str> {
        self.backed()?;
        let Some(outdoor_c) = self.outdoor.latest() else {
            return Err("no outdoor temperature read yet: no forecast");
        };
        self.controller
            .forecast(&event.id, now_ms, outdoor_c)
            .ok_or("no modelled zone has reported its temperature yet: no forecast")
    }

    /// Whether the agent can stand behind a flex event at all: it may command, and it has
    /// models that pass their gate to forecast with.
    fn backed(&self) -> Result<(), &'static str> {
        if self.controller.mode() == Mode::Advise {
            return Err("the agent is in advise mode and commands nothing");
        }
        let Some(learned) = self.learned else {
            return Err("the advisor has not handed over the building's programme and zone models yet: no forecast");
        };
        if !learned.models_pass_gate {
            return Err("the advisor's models fail their quality gate, so the building runs its own programme");
        }
        if learned.zone_models == 0 || !learned.kw_per_demand {
            return Err("no zone models (no zone has a heating-demand point, or the advisor has not fitted them yet): no forecast of what a shed would save or cost");
        }
        Ok(())
    }

    /// Events taken before that the agent can no longer stand behind (the stop switch turned to
    /// advise, models that now fail their gate or are gone): out of the book, cancelled in the
    /// ledger (so a restart does not restore them), and the requester told. An accepted answer
    /// must not stand for a shed that will not come.
    fn withdraw_unbacked(&mut self, now_ms: i64, effects: &mut Vec<Effect>) {
        let Err(cause) = self.backed() else { return };
        let ids: Vec<String> = self.watches.events().filter(|e| e.end_ms > now_ms).map(|e| e.id.clone()).collect();
        for id in ids {
            self.watches.forget(&id);
            let Some(event) = self.controller.withdraw(&id) else { continue };
            let why = format!("event {id} cancelled by the agent: {cause}; nothing more will be commanded for it");
            tracing::warn!(id, why, "control: flex event withdrawn");
            record(effects, Kind::FlexCancelled, None, now_ms, &why, &event);
            self.answers().decline(Answer::new(Some(&id), Status::Cancelled, why, now_ms), Some(&event), effects);
        }
    }

    /// Where answers to flex requests go.
    fn answers(&self) -> Answers<'_> {
        Answers { site: &self.settings.site.id, topic: &self.flex_status }
    }

    /// A person's override from the topic, and what it made the controller do; returns how
    /// many overrides began.
    fn override_zone(&mut self, zone: &str, payload: &[u8], now_ms: i64, effects: &mut Vec<Effect>) -> u64 {
        let refuse = |why: String, effects: &mut Vec<Effect>| {
            tracing::warn!(zone, why, "control: override refused");
            record(effects, Kind::OverrideRefused, Some(zone), now_ms, why, quoted(payload));
            0
        };
        let Some(i) = self.controller.zone_index(zone) else {
            let known: Vec<&str> = self.controller.zone_names().collect();
            return refuse(format!("no controlled zone {zone:?}; zones: {known:?}"), effects);
        };
        let controller = &self.controller;
        let (hold, until_ms) = match parse_override(payload, now_ms, |now| controller.default_until(now)) {
            Ok(OverrideAsk::Hold { hold, until_ms }) => (hold, until_ms),
            Ok(OverrideAsk::Cancel { by }) => {
                let result = self.controller.end_override(i, now_ms);
                record(effects, Kind::OverrideEnded, Some(zone), now_ms, "override cancelled", json!({ "by": by }));
                effect::of_decision(&result, &self.settings.control.zones, now_ms, effects);
                return overrides_in(&result);
            }
            Err(e) => return refuse(e.to_string(), effects),
        };
        let over = Override { hold, since_ms: now_ms, until_ms, source: Source::Topic };
        let result = self.controller.override_zone(i, over, now_ms);
        effect::of_decision(&result, &self.settings.control.zones, now_ms, effects);
        overrides_in(&result)
    }

    /// A settled event: in the ledger, predicted against achieved, and to the city unless the
    /// agent only shadowed it (then the ledger compares the forecast with what the building did
    /// on its own, and the city is told of no flexibility).
    fn settled(&self, s: Settlement, now_ms: i64, effects: &mut Vec<Effect>) {
        let commanded = self.controller.mode() == Mode::Auto;
        let shadow = if commanded { "" } else { "not commanded (shadow or advise): " };
        let why = format!(
            "{shadow}planned {:.1} kW of shed, achieved {:.1} kW ({:.1} → {:.1} kW against the forecast adjusted ×{:.2} on the day); rebound {:.1} kW against {:.1} kW; {:.2} K·h below comfort; {} overrides",
            s.planned_shed_kw, s.achieved_shed_kw, s.baseline_kw, s.measured_kw, s.adjustment, s.rebound_peak_kw, s.baseline_peak_kw, s.discomfort_kh, s.overrides
        );
        tracing::info!(id = s.event_id, "control: event settled: {why}");
        record(effects, Kind::FlexSettled, None, now_ms, &why, &s);
        let mut answer = Answer::new(Some(&s.event_id), Status::Ended, format!("event over: {why}"), now_ms);
        answer.achieved = Some(Achieved::of(&s, commanded));
        self.answers().push(answer, effects);
        if commanded {
            effects.push(Effect::Report(Outcome::Settled(s)));
        }
    }
}

/// A flex request or a price series refused: logged, in the ledger with why, and answered
/// (which counts it) under the id it gives, if it gives one.
fn refuse_flex(why: &str, payload: &[u8], now_ms: i64, answers: Answers, effects: &mut Vec<Effect>) {
    tracing::warn!(why, "control: flex request refused");
    record(effects, Kind::FlexRefused, None, now_ms, why, quoted(payload));
    let id = flex_status::id_of(payload);
    answers.decline(Answer::new(id.as_deref(), Status::Refused, why, now_ms), None, effects);
}

/// The site and topic answers to flex requests are published on.
#[derive(Debug, Clone, Copy)]
struct Answers<'a> {
    site: &'a str,
    topic: &'a str,
}

impl Answers<'_> {
    /// Logs the answer at INFO and has it published (and counted).
    fn push(self, answer: Answer, effects: &mut Vec<Effect>) {
        tracing::info!(
            id = answer.id,
            status = answer.status.name(),
            reason = answer.reason,
            "control: flex request answered"
        );
        let payload = answer.payload(self.site);
        effects.push(Effect::FlexAnswer { status: answer.status, topic: self.topic.to_string(), payload });
    }

    /// Answers a refusal or a cancellation, and has the city told of it when the request
    /// named an id (an unreadable request is answered and counted, not reported: nothing
    /// would tie it to an event). `event` is the request as read, if it could be read.
    fn decline(self, answer: Answer, event: Option<&FlexEvent>, effects: &mut Vec<Effect>) {
        let declined = answer.id.clone().map(|event_id| Declined {
            event_id,
            event_kind: event.map(|e| e.kind),
            window: event.map(|e| (e.start_ms, e.end_ms)),
            cancelled: answer.status == Status::Cancelled,
            reason: answer.reason.clone(),
            at_ms: answer.at_ms,
        });
        self.push(answer, effects);
        effects.extend(declined.map(|d| Effect::Report(Outcome::Declined(d))));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::control::fixture::{site, OCCUPANCY, OUTDOOR, SETPOINT, TEMPERATURE};

    /// Monday 7 January 2019, 08:00 UTC.
    const NOW: i64 = 1_546_848_000_000;
    const Q: i64 = 900_000;

    /// The effects as short words: what each does, in order.
    fn said(effects: &[Effect]) -> Vec<String> {
        effects
            .iter()
            .map(|e| match e {
                Effect::Send { topic, payload } => format!("send {topic} {}", String::from_utf8_lossy(payload)),
                Effect::Record(r) => format!("record {}", r.kind.name()),
                Effect::FlexAnswer { status, topic, .. } => format!("answer {} on {topic}", status.name()),
                Effect::Report(Outcome::Settled(s)) => format!("report {}", s.event_id),
                Effect::Report(Outcome::Declined(d)) => format!("report {} declined", d.event_id),
                Effect::Stepped { at_ms } => format!("through {}", (at_ms - NOW) / Q),
            })
            .collect()
    }

    fn core(mode: &str) -> ControlCore {
        ControlCore::new(Arc::new(site(std::path::Path::new("unused.db"), mode)))
    }

    fn asked(ask: Ask) -> Input {
        Input::Request { request: Request { ask, via: "test".into() }, now_ms: NOW }
    }

    fn read(point: usize, ts_ms: i64, value: f64) -> Input {
        Input::Reading(Reading { point, ts_ms, value, energy: None })
    }

    #[test]
    fn inputs_become_effects_in_the_order_they_are_to_be_carried_out() {
        let hold = |c: &str| Ask::Override { zone: "class".into(), payload: c.to_string().into() };
        let prices: String = {
            let slots: Vec<String> = (0..24)
                .map(|h| {
                    format!(r#"{{"start":"2019-01-08T{h:02}:00:00Z","price":{}}}"#, if h == 18 { 0.4 } else { 0.1 })
                })
                .collect();
            format!(r#"{{"id":"tue","prices":[{}]}}"#, slots.join(","))
        };
        let cases: Vec<(&str, Vec<Input>, Vec<&str>)> = vec![
            (
                "a person holds the classroom above its bound",
                vec![asked(hold(r#"{"setpoint_c": 23}"#))],
                vec!["record override", "send trv/class/set 22", "record command"],
            ),
            (
                "a person holds it, then the stop switch is turned",
                vec![
                    read(SETPOINT, NOW, 19.0),
                    asked(hold(r#"{"setpoint_c": 21}"#)),
                    asked(Ask::Mode(r#"{"mode": "advise"}"#.into())),
                ],
                vec![
                    "record override",
                    "send trv/class/set 21",
                    "record command",
                    "record mode",
                    "send trv/class/set 19",
                    "record release",
                ],
            ),
            (
                "a step after a hold, which changes nothing",
                vec![asked(hold(r#"{"setpoint_c": 21}"#)), Input::Step { at_ms: NOW + Q }],
                vec!["record override", "send trv/class/set 21", "record command", "through 1"],
            ),
            (
                "a step with nothing to decide on (no schedule, no models)",
                vec![read(TEMPERATURE, NOW, 20.0), read(OCCUPANCY, NOW, 1.0), Input::Step { at_ms: NOW }],
                vec!["through 0"],
            ),
            (
                "day-ahead prices with an evening spike, before the advisor handed anything over",
                vec![read(OUTDOOR, NOW, 5.0), asked(Ask::Prices(prices.into()))],
                vec!["record flex_refused", "answer refused on sobre/s/flex/status", "report price-tue-1 declined"],
            ),
            (
                "a flex request refused before an id could be read from it (answered, not reported)",
                vec![asked(Ask::Flex("{}".into()))],
                vec!["record flex_refused", "answer refused on sobre/s/flex/status"],
            ),
            ("a new basis without anything to build on", vec![Input::Basis { basis: None, now_ms: NOW }], vec![]),
        ];
        for (case, inputs, then) in cases {
            // Given the core of the classroom in auto mode
            let mut core = core("auto");
            // When it takes the inputs
            let effects: Vec<Effect> = inputs.into_iter().flat_map(|i| core.handle(i)).collect();
            // Then it asks for these effects, in this order
            assert_eq!(said(&effects), then, "{case}");
        }
    }

    #[test]
    fn a_restored_override_is_sent_at_the_first_step_and_a_restored_stop_switch_wins_over_the_config() {
        let over = Override {
            hold: crate::control::controller::Hold::Setpoint { setpoint_c: 21.0 },
            since_ms: NOW - Q,
            until_ms: NOW + 8 * Q,
            source: Source::Topic,
        };
        for (restored_mode, then) in [
            (None, vec!["send trv/class/set 21", "record command", "through 0"]),
            (Some(Mode::Advise), vec!["through 0"]),
        ] {
            // Given the core in auto mode, restored with an override in force (and the switch)
            let mut core = core("auto");
            core.restore(Restored { mode: restored_mode, overrides: vec![("class".into(), over)], events: vec![] });
            // When the first step closes
            let effects = core.handle(Input::Step { at_ms: NOW });
            // Then the override is carried out, unless the switch says advise
            assert_eq!(said(&effects), then, "{restored_mode:?}");
        }
    }

    /// The answers published in `effects`, as their JSON.
    fn answers(effects: &[Effect]) -> Vec<serde_json::Value> {
        effects
            .iter()
            .filter_map(|e| match e {
                Effect::FlexAnswer { payload, .. } => serde_json::from_slice(payload).ok(),
                _ => None,
            })
            .collect()
    }

    const SHED: &str =
        r#"{"id":"e1","kind":"shed","start":"2019-01-07T17:00:00Z","end":"2019-01-07T19:00:00Z","level":1}"#;

    #[test]
    fn every_flex_request_is_answered_accepted_only_with_a_forecast_behind_it() {
        use crate::control::fixture::basis;
        let flex = |p: &str| asked(Ask::Flex(p.to_string().into()));
        let readings = || vec![read(OUTDOOR, NOW, 5.0), read(TEMPERATURE, NOW, 20.5)];
        let cancel = r#"{"id":"e1","cancel":true}"#;
        // (case, mode, what the advisor handed over, inputs, then: each answer's id, status and
        // a piece of its reason)
        type Case<'a> = (&'a str, &'a str, Option<Basis>, Vec<Input>, Vec<(Option<&'a str>, &'a str, &'a str)>);
        let cases: Vec<Case> = vec![
            (
                "before the advisor has handed anything over",
                "auto",
                None,
                [readings(), vec![flex(SHED)]].concat(),
                vec![(Some("e1"), "refused", "has not handed over")],
            ),
            (
                "models that fail their gate",
                "auto",
                Some(basis(false, true)),
                [readings(), vec![flex(SHED)]].concat(),
                vec![(Some("e1"), "refused", "quality gate")],
            ),
            (
                "no zone models (the office: no heating-demand point)",
                "auto",
                Some(basis(true, false)),
                [readings(), vec![flex(SHED)]].concat(),
                vec![(Some("e1"), "refused", "no zone models")],
            ),
            (
                "no outdoor reading yet",
                "auto",
                Some(basis(true, true)),
                vec![read(TEMPERATURE, NOW, 20.5), flex(SHED)],
                vec![(Some("e1"), "refused", "no outdoor temperature")],
            ),
            (
                "no zone temperature yet",
                "auto",
                Some(basis(true, true)),
                vec![read(OUTDOOR, NOW, 5.0), flex(SHED)],
                vec![(Some("e1"), "refused", "reported its temperature")],
            ),
            (
                "the stop switch on advise",
                "advise",
                Some(basis(true, true)),
                [readings(), vec![flex(SHED)]].concat(),
                vec![(Some("e1"), "refused", "advise mode")],
            ),
            (
                "a refused event is out of the book: cancelling it is refused too",
                "auto",
                Some(basis(true, false)),
                [readings(), vec![flex(SHED), flex(cancel)]].concat(),
                vec![(Some("e1"), "refused", "no zone models"), (Some("e1"), "refused", "no event e1 to cancel")],
            ),
            (
                "an unreadable request",
                "auto",
                Some(basis(true, true)),
                vec![flex("shed now")],
                vec![(None, "refused", "not a flex request")],
            ),
            (
                "everything a forecast needs",
                "auto",
                Some(basis(true, true)),
                [readings(), vec![flex(SHED)]].concat(),
                vec![(Some("e1"), "accepted", "flex request taken: expects")],
            ),
            (
                "everything a forecast needs, in shadow mode",
                "shadow",
                Some(basis(true, true)),
                [readings(), vec![flex(SHED)]].concat(),
                vec![(Some("e1"), "accepted", "flex request taken (shadow mode: nothing will be sent): expects")],
            ),
            (
                "the same id again, then cancelled",
                "auto",
                Some(basis(true, true)),
                [readings(), vec![flex(SHED), flex(SHED), flex(cancel)]].concat(),
                vec![
                    (Some("e1"), "accepted", "flex request taken"),
                    (Some("e1"), "updated", "flex request updated: expects"),
                    (Some("e1"), "cancelled", "cancelled as asked"),
                ],
            ),
        ];
        for (case, mode, basis, inputs, then) in cases {
            // Given the classroom's core in `mode`, built on what the advisor handed over
            let mut core = core(mode);
            if let Some(b) = basis {
                core.adopt(b);
            }
            // When the readings and requests arrive
            let effects: Vec<Effect> = inputs.into_iter().flat_map(|i| core.handle(i)).collect();
            // Then each request is answered on the site's status topic, with why
            let got = answers(&effects);
            assert_eq!(got.len(), then.len(), "{case}: {got:?}");
            for (answer, (id, status, why)) in got.iter().zip(then) {
                assert_eq!((answer["id"].as_str(), answer["status"].as_str()), (id, Some(status)), "{case}: {answer}");
                assert!(answer["reason"].as_str().is_some_and(|r| r.contains(why)), "{case}: {answer}");
                // And an acceptance carries its forecast, every other answer none
                let shed = answer["forecast"]["shed_kw"].as_f64();
                assert_eq!(shed.is_some(), matches!(status, "accepted" | "updated"), "{case}: {answer}");
                assert!(shed.is_none_or(|kw| kw > 0.0), "{case}: {answer}");
            }
        }
    }

    #[test]
    fn an_accepted_event_the_agent_can_no_longer_stand_behind_is_cancelled_and_the_requester_told() {
        use crate::control::fixture::basis;
        let cases: Vec<(&str, Input, Option<&str>)> = vec![
            (
                "the stop switch turned to advise",
                asked(Ask::Mode(r#"{"mode": "advise"}"#.into())),
                Some("cancelled by the agent: the agent is in advise mode"),
            ),
            (
                "models that now fail their gate",
                Input::Basis { basis: Some(basis(false, true)), now_ms: NOW },
                Some("quality gate"),
            ),
            ("models gone", Input::Basis { basis: Some(basis(true, false)), now_ms: NOW }, Some("no zone models")),
            ("models refitted, still passing", Input::Basis { basis: Some(basis(true, true)), now_ms: NOW }, None),
            ("shadow mode", asked(Ask::Mode(r#"{"mode": "shadow"}"#.into())), None),
        ];
        for (case, input, then) in cases {
            // Given a shed accepted with its forecast
            let mut core = core("auto");
            core.adopt(basis(true, true));
            core.handle(read(OUTDOOR, NOW, 5.0));
            core.handle(read(TEMPERATURE, NOW, 20.5));
            let taken = answers(&core.handle(asked(Ask::Flex(SHED.into()))));
            assert_eq!(taken[0]["status"], "accepted", "{case}");
            // When what it stood on changes
            let effects = core.handle(input);
            // Then, if the agent can no longer stand behind it, it is cancelled with why, in
            // the ledger and to the requester; otherwise it stands, unanswered again
            let got = answers(&effects);
            match then {
                Some(why) => {
                    assert_eq!(got.len(), 1, "{case}: {got:?}");
                    assert_eq!(
                        (got[0]["id"].as_str(), got[0]["status"].as_str()),
                        (Some("e1"), Some("cancelled")),
                        "{case}"
                    );
                    assert!(got[0]["reason"].as_str().is_some_and(|r| r.contains(why)), "{case}: {}", got[0]);
                    assert!(said(&effects).contains(&"record flex_cancelled".to_string()), "{case}");
                    // And the city is told, with the event's window and the same reason
                    let reported: Vec<&Declined> = effects
                        .iter()
                        .filter_map(|e| match e {
                            Effect::Report(Outcome::Declined(d)) => Some(d),
                            _ => None,
                        })
                        .collect();
                    assert_eq!(reported.len(), 1, "{case}: {effects:?}");
                    let d = reported[0];
                    assert_eq!(
                        (d.event_id.as_str(), d.cancelled, d.event_kind),
                        ("e1", true, Some(crate::control::event::FlexKind::Shed)),
                        "{case}"
                    );
                    assert!(d.window.is_some_and(|(start, end)| start < end), "{case}: {d:?}");
                    assert_eq!(Some(d.reason.as_str()), got[0]["reason"].as_str(), "{case}");
                }
                None => assert!(got.is_empty(), "{case}: {got:?}"),
            }
            // And a cancellation by the requester afterwards finds it only if it stands
            let cancel = answers(&core.handle(asked(Ask::Flex(r#"{"id":"e1","cancel":true}"#.into()))));
            let status = if then.is_some() { "refused" } else { "cancelled" };
            assert_eq!(cancel[0]["status"].as_str(), Some(status), "{case}: {cancel:?}");
        }
    }

    #[test]
    fn an_accepted_event_is_recorded_with_its_forecast_before_it_is_answered() {
        // Given the classroom's core with its model, its temperature and the outdoor's
        let mut core = core("auto");
        core.adopt(crate::control::fixture::basis(true, true));
        core.handle(read(OUTDOOR, NOW, 5.0));
        core.handle(read(TEMPERATURE, NOW, 20.5));
        // When a shed is asked
        let effects = core.handle(asked(Ask::Flex(SHED.into())));
        // Then it is in the ledger, with its forecast, then answered
        assert_eq!(
            said(&effects),
            ["record flex_accepted", "record flex_forecast", "answer accepted on sobre/s/flex/status"]
        );
    }

    #[test]
    fn a_settled_event_is_answered_ended_with_what_it_achieved() {
        let settlement = crate::control::settle::Settlement {
            event_id: "e1".into(),
            event_kind: crate::control::event::FlexKind::Shed,
            start_ms: NOW,
            end_ms: NOW + 8 * Q,
            planned_shed_kw: 6.0,
            adjustment: 1.0,
            baseline_kw: 9.0,
            measured_kw: 4.0,
            achieved_shed_kw: 5.0,
            shifted_kwh: 1.0,
            rebound_peak_kw: 10.0,
            baseline_peak_kw: 9.0,
            discomfort_kh: 0.1,
            overrides: 0,
        };
        for (mode, commanded, then) in [
            ("auto", true, vec!["record flex_settled", "answer ended on sobre/s/flex/status", "report e1"]),
            ("shadow", false, vec!["record flex_settled", "answer ended on sobre/s/flex/status"]),
        ] {
            // Given the core in `mode`
            let core = core(mode);
            // When an event settles
            let mut effects = Vec::new();
            core.settled(settlement.clone(), NOW + 20 * Q, &mut effects);
            // Then the requester is told it ended, with what it achieved; the city only if
            // the agent commanded it
            assert_eq!(said(&effects), then, "{mode}");
            let answer = &answers(&effects)[0];
            assert_eq!((answer["status"].as_str(), answer["id"].as_str()), (Some("ended"), Some("e1")), "{answer}");
            assert_eq!(answer["achieved"]["shed_kw"].as_f64(), Some(5.0), "{answer}");
            assert_eq!(answer["achieved"]["commanded"].as_bool(), Some(commanded), "{answer}");
        }
    }
}
