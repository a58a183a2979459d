//! Control's pure core: typed inputs in (a reading tapped from ingest, a step of event time, a
//! request, a new basis from the advisor), typed effects out (commands, records, settled
//! events). It owns the controller, the events it measures, the zones' latest readings and the
//! day's comparison, and does no I/O: the shell reads the channels and the clock, and carries
//! the effects out.

use super::controller::{Controller, Override, Source, ZoneReading};
use super::effect::{self, overrides_in, quoted, record, Effect};
use super::event::{Change, FlexEvent};
use super::forecast::Forecast;
use super::log::Kind;
use super::outdoor::OutdoorDay;
use super::points::{Field, PointMap, Tapped};
use super::request::{parse_mode, parse_override, Ask, OverrideAsk, Request};
use super::safety::Limit;
use super::settle::Settlement;
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
}

impl ControlCore {
    pub(crate) fn new(settings: Arc<Settings>) -> Self {
        let s = &settings;
        let controller = s.control.controller(s.site.timezone, s.comfort.min_c);
        let watches = Watches::new(s.control.flex.preheat.as_millis() as i64, s.comfort.min_c);
        let points = PointMap::new(s);
        let zones = vec![ZoneReading::default(); s.control.zones.len()];
        let days = DayComparison::new(s.site.timezone, s.control.step_ms);
        Self { controller, watches, points, zones, outdoor: OutdoorDay::default(), days, settings }
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
            if let Some(f) = forecast {
                self.watches.watch(event.clone(), f, overrides);
            }
            self.controller.restore_event(event);
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
            Some(Tapped::Outdoor) => return self.outdoor.observe(r.ts_ms, r.value),
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
                    Err(e) => refuse_flex(&e.to_string(), &payload, now_ms, effects),
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
                    self.decide_again(now_ms, effects);
                }
                Err(e) => tracing::warn!(error = %e, "control: mode refused"),
            },
        }
    }

    /// A flex request into the book, recorded whether taken or refused; a taken one with what
    /// it is expected to shed and cost, said before the event.
    fn flex(&mut self, payload: &[u8], now_ms: i64, effects: &mut Vec<Effect>) {
        let change = match self.controller.flex(payload, now_ms) {
            Ok(change) => change,
            Err(e) => return refuse_flex(&e.to_string(), payload, now_ms, effects),
        };
        let (kind, event, why) = match change {
            Change::Added(e) => (Kind::FlexAccepted, e, "flex request taken"),
            Change::Updated { now, .. } => (Kind::FlexAccepted, now, "flex request updated"),
            Change::Cancelled(e) => (Kind::FlexCancelled, e, "flex request cancelled"),
        };
        tracing::info!(id = event.id, ?kind, "control: {why}");
        record(effects, kind, None, now_ms, why, &event);
        if kind != Kind::FlexAccepted {
            self.watches.forget(&event.id);
            return;
        }
        match self.outdoor.latest().and_then(|o| self.controller.forecast(&event.id, now_ms, o)) {
            Some(f) => {
                let why = format!(
                    "expects {:.1} → {:.1} kW during the event (−{:.1} kW), {:.2} K·h below comfort, rebound {:.1} kW against {:.1} kW",
                    f.baseline_kw, f.planned_kw, f.shed_kw, f.discomfort_kh, f.rebound_peak_kw, f.baseline_peak_kw
                );
                record(effects, Kind::FlexForecast, None, now_ms, why, &f);
                self.watches.watch(event, f, 0);
            }
            None => tracing::info!(
                id = event.id,
                "control: no forecast yet (no zone models, temperatures or outdoor reading)"
            ),
        }
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
        record(effects, Kind::FlexSettled, None, now_ms, why, &s);
        if commanded {
            effects.push(Effect::Settled(s));
        }
    }
}

/// A flex request or a price series refused: counted, logged, and in the ledger with why.
fn refuse_flex(why: &str, payload: &[u8], now_ms: i64, effects: &mut Vec<Effect>) {
    tracing::warn!(why, "control: flex request refused");
    effects.push(Effect::FlexRefused);
    record(effects, Kind::FlexRefused, None, now_ms, why, quoted(payload));
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
                Effect::FlexRefused => "count a refusal".into(),
                Effect::Settled(s) => format!("report {}", s.event_id),
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
                "day-ahead prices with an evening spike",
                vec![read(OUTDOOR, NOW, 5.0), asked(Ask::Prices(prices.into()))],
                vec!["record flex_accepted"],
            ),
            (
                "a flex request refused",
                vec![asked(Ask::Flex("{}".into()))],
                vec!["count a refusal", "record flex_refused"],
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
}
