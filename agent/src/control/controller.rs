//! The controller: each step, for each zone, what the schedule and the events in force ask, what
//! people asked, what the thermostat reads back, and what the safety chain lets through. Pure
//! state and logic in event time; the task around it carries the messages and the ledger.

use super::event::{Change, FlexBook, FlexError, FlexEvent};
use super::forecast::{forecast, Forecast, Windows, ZoneRun};
use super::plan::{Phase, ZoneEvent};
use super::safety::{decide, Decision, Limit, Sent, ZoneInput};
use super::schedule::{Schedule, Slot};
use crate::advisor::estimate::ZoneDynamics;
use crate::config::control::{Bounds, ControlConfig, FlexSettings, Mode};
use chrono::{Datelike, TimeZone, Timelike};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};

/// Setpoints closer than this are the same (thermostats round to a tenth or a half degree).
const SAME_C: f64 = 0.25;
/// How long what the agent sent still explains a readback: a device that held it, a reading
/// that lags a release.
const REMEMBERED_MS: i64 = 3 * 86_400_000;
/// What the controller needs from config.
#[derive(Debug, Clone)]
pub struct ControlSettings {
    pub step_ms: i64,
    pub timezone: Tz,
    /// The comfort band's floor while people are in, °C.
    pub comfort_min_c: f64,
    /// K·h below comfort per zone and week that flex and setbacks may cost.
    pub budget_kh_per_week: f64,
    /// A command lapses at the thermostat after this unless sent again.
    pub command_ttl_ms: i64,
    pub flex: FlexSettings,
}

impl ControlConfig {
    /// A controller for these zones, holding comfort from `comfort_min_c`.
    pub fn controller(&self, timezone: Tz, comfort_min_c: f64) -> Controller {
        let settings = ControlSettings {
            step_ms: self.step_ms,
            timezone,
            comfort_min_c,
            budget_kh_per_week: self.budget_kh_per_week,
            command_ttl_ms: self.command_ttl_ms,
            flex: self.flex,
        };
        let mut c = Controller::new(settings, self.zones.iter().map(|z| (z.zone.clone(), z.bounds)), self.mode);
        for (i, z) in self.zones.iter().enumerate() {
            c.set_explicit_release(i, z.release.explicit());
        }
        c
    }
}

/// What a person asked of a zone.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(tag = "hold", rename_all = "snake_case")]
pub enum Hold {
    Setpoint {
        setpoint_c: f64,
    },
    /// Leave the zone to its own thermostat.
    HandsOff,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Source {
    /// On `<prefix>/override/<zone>`.
    Topic,
    /// At the thermostat: it read back a setpoint the agent did not send. Only in logs written
    /// before the agent stopped inferring overrides: such a record is never acted on.
    Thermostat,
}

/// Why the agent stopped acting on a zone by itself, until the programme's next change.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum StandDown {
    /// It read back a setpoint it did not send and cannot explain from the programme.
    Unexplained,
    /// The zone was below the comfort floor while occupied under the agent's command.
    Watchdog,
}

impl StandDown {
    fn limit(self) -> Limit {
        match self {
            StandDown::Unexplained => Limit::Unexplained,
            StandDown::Watchdog => Limit::Watchdog,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Override {
    pub hold: Hold,
    pub since_ms: i64,
    pub until_ms: i64,
    pub source: Source,
}

/// The latest a zone's devices said.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct ZoneReading {
    pub temperature_c: Option<f64>,
    pub setpoint_c: Option<f64>,
    /// When the thermostat last reported its setpoint: only a fresh one is judged.
    pub setpoint_at_ms: Option<i64>,
    pub occupied: bool,
}

#[derive(Debug, Clone)]
struct Zone {
    name: String,
    bounds: Bounds,
    reading: ZoneReading,
    /// The agent's command in force, and when it lapses.
    sent: Option<(Sent, i64)>,
    /// When the agent last sent this zone anything (a command or a hand-back).
    sent_at_ms: i64,
    over: Option<Override>,
    week: i64,
    spent_kh: f64,
    /// The device has a release of its own (a release topic or payload).
    explicit_release: bool,
    /// The agent stays off the zone until then, and why.
    stood_down: Option<(StandDown, i64)>,
    /// What the agent sent lately, and when: a readback of one is the agent's own.
    sent_lately: Vec<(f64, i64)>,
}

impl Zone {
    /// A person's hand on the zone: it wins, and spends the week's comfort budget, so no more
    /// curtailment there.
    fn hold(&mut self, over: Override, budget_kh: f64) {
        self.over = Some(over);
        self.spent_kh = self.spent_kh.max(budget_kh);
    }
}

/// A setpoint to send (or, in shadow mode, that would be sent).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Command {
    pub zone: String,
    pub setpoint_c: f64,
    pub expires_ms: i64,
    /// What the schedule and events asked before the safety chain, and what the zone's own
    /// programme holds.
    pub plan_c: Option<f64>,
    pub programme_c: Option<f64>,
    pub phase: Option<Phase>,
    pub event: Option<String>,
    pub limits: Vec<Limit>,
    /// Hands the zone back to its programme.
    pub release: bool,
    pub shadow: bool,
}

/// Something the ledger should know that is not a command.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "notice", rename_all = "snake_case")]
pub enum Notice {
    OverrideBegan {
        zone: String,
        over: Override,
    },
    OverrideEnded {
        zone: String,
    },
    CommandLapsed {
        zone: String,
        setpoint_c: f64,
        read_back_c: f64,
    },
    BudgetSpent {
        zone: String,
        spent_kh: f64,
    },
    /// A readback the agent did not send and cannot explain: it stays off the zone until
    /// `until_ms` and releases what it set.
    Unexplained {
        zone: String,
        read_back_c: f64,
        sent_c: Option<f64>,
        programme_c: Option<f64>,
        until_ms: i64,
    },
    /// The zone was below the comfort floor while occupied under the agent's command, or its
    /// model expected it to be at `expected_at_ms` under the agent's plan: released, and left
    /// alone until `until_ms`.
    WatchdogTripped {
        zone: String,
        temperature_c: f64,
        floor_c: f64,
        expected_at_ms: Option<i64>,
        until_ms: i64,
    },
}

/// Who holds a zone's setpoint now.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Holder {
    /// Its own programme (the agent commands nothing there).
    Building,
    /// The agent's command.
    Agent,
    /// A person's explicit override.
    Person,
}

/// A zone's control state, as the page and Home Assistant show it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ZoneState {
    pub zone: String,
    pub mode: Mode,
    pub holder: Holder,
    /// The agent's command in force, °C.
    pub command_c: Option<f64>,
    /// Why the agent stays off the zone for now, if it does.
    pub stood_down: Option<StandDown>,
    pub budget_left_kh: f64,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct StepResult {
    pub commands: Vec<Command>,
    pub notices: Vec<Notice>,
}

#[derive(Debug, Clone)]
pub struct Controller {
    settings: ControlSettings,
    zones: Vec<Zone>,
    schedule: Option<Schedule>,
    book: FlexBook,
    mode: Mode,
    model_passes_gate: bool,
    /// Per zone, its air-and-mass model, and the meter's kW per percent of demand: forecasts.
    models: Vec<Option<ZoneDynamics>>,
    kw_per_demand: Option<f64>,
    /// The latest outdoor temperature: what the comfort watchdog's look-ahead holds.
    outdoor_c: Option<f64>,
    /// Events whose pre-heat starts earlier and warms deeper (`preheat`), by id.
    deep_preheat: Vec<String>,
}

impl Controller {
    pub fn new(settings: ControlSettings, zones: impl IntoIterator<Item = (String, Bounds)>, mode: Mode) -> Self {
        let capacity_kw = settings.flex.capacity_kw;
        let zones = zones
            .into_iter()
            .map(|(name, bounds)| Zone {
                name,
                bounds,
                reading: ZoneReading::default(),
                sent: None,
                sent_at_ms: i64::MIN / 2,
                over: None,
                week: i64::MIN,
                spent_kh: 0.0,
                explicit_release: false,
                stood_down: None,
                sent_lately: Vec::new(),
            })
            .collect::<Vec<Zone>>();
        let models = vec![None; zones.len()];
        Self {
            settings,
            zones,
            schedule: None,
            book: FlexBook::new(capacity_kw),
            mode,
            model_passes_gate: false,
            models,
            kw_per_demand: None,
            outdoor_c: None,
            deep_preheat: Vec::new(),
        }
    }

    pub fn mode(&self) -> Mode {
        self.mode
    }

    /// Whether zone `i`'s device has a release of its own (else it is handed back with its
    /// programme's value, which it drops by itself).
    pub fn set_explicit_release(&mut self, i: usize, explicit: bool) {
        if let Some(z) = self.zones.get_mut(i) {
            z.explicit_release = explicit;
        }
    }

    /// Releases every zone the agent has a command in force on, because of `because` (the
    /// agent stopping, or no longer commanding): what it set goes back to the building.
    pub fn release_all(&mut self, now_ms: i64, because: Limit) -> StepResult {
        let mut out = StepResult::default();
        if self.mode == Mode::Shadow {
            // Nothing shadowed was sent.
            self.zones.iter_mut().for_each(|z| z.sent = None);
            return out;
        }
        for i in 0..self.zones.len() {
            self.release(i, now_ms, because, &mut out);
        }
        out
    }

    /// Each zone's control state, for the page and Home Assistant.
    pub fn states(&self, now_ms: i64) -> Vec<ZoneState> {
        let budget = self.settings.budget_kh_per_week;
        self.zones
            .iter()
            .map(|z| {
                let stood_down = z.stood_down.filter(|(_, until)| now_ms < *until);
                let holder = match (z.over, stood_down, z.sent) {
                    (Some(o), ..) if o.hold == Hold::HandsOff => Holder::Building,
                    (Some(_), ..) => Holder::Person,
                    (None, Some(_), _) => Holder::Building,
                    (None, None, Some(_)) if self.mode == Mode::Auto => Holder::Agent,
                    _ => Holder::Building,
                };
                ZoneState {
                    zone: z.name.clone(),
                    mode: self.mode,
                    holder,
                    command_c: z.sent.map(|(s, _)| s.setpoint_c).filter(|_| self.mode == Mode::Auto),
                    stood_down: stood_down.map(|(why, _)| why),
                    budget_left_kh: (budget - z.spent_kh).max(0.0),
                }
            })
            .collect()
    }

    pub fn set_mode(&mut self, mode: Mode) {
        if self.mode == Mode::Shadow && mode != Mode::Shadow {
            // What shadow mode held was never sent.
            self.zones.iter_mut().for_each(|z| z.sent = None);
        }
        self.mode = mode;
    }

    /// The schedule from the programme the advisor read and the changes accepted, and whether
    /// the models it rests on pass their quality gate.
    pub fn set_schedule(&mut self, schedule: Option<Schedule>, model_passes_gate: bool) {
        self.schedule = schedule;
        self.model_passes_gate = model_passes_gate;
    }

    /// The zone models and the meter's kW per percent of demand the advisor fitted.
    pub fn set_models(&mut self, models: &[(String, ZoneDynamics)], kw_per_demand: Option<f64>) {
        for (slot, zone) in self.models.iter_mut().zip(&self.zones) {
            *slot = models.iter().find(|(name, _)| *name == zone.name).map(|(_, m)| *m);
        }
        self.kw_per_demand = kw_per_demand;
    }

    /// What event `id` is expected to shed and cost, from `now_ms` to three hours after it,
    /// with the outdoor temperature held at `outdoor_c`; `None` without a schedule, models or
    /// the event.
    pub fn forecast(&self, id: &str, now_ms: i64, outdoor_c: f64) -> Option<Forecast> {
        let event = self.book.events().find(|e| e.id == id)?;
        let step = self.settings.step_ms;
        let first = now_ms - now_ms.rem_euclid(step) + step;
        let last = (event.end_ms + 3 * 3_600_000).min(first + 48 * 3_600_000);
        let f = self.simulate((id, (event.start_ms, event.end_ms)), (first, last), outdoor_c, |i, t, slot| {
            (slot.target_c, self.planned_c(i, t, slot))
        });
        f.map(|f| Forecast { deep_preheat: self.preheats_deep(id), ..f })
    }

    /// What the building is expected to use over the `hours` from `now_ms` on its own
    /// programme (the forecast's baseline) and on the schedule (its plan), from the zones'
    /// temperatures now and the outdoor temperature held at `outdoor_c`: what a strategy would
    /// save, said before the meter says what it did.
    pub fn day_ahead(&self, now_ms: i64, hours: i64, outdoor_c: f64) -> Option<Forecast> {
        let end = now_ms + hours * 3_600_000;
        self.simulate(("schedule", (now_ms, end)), (now_ms, end), outdoor_c, |_, _, slot| {
            (slot.programme_c, slot.target_c)
        })
    }

    /// Each modelled zone from its temperature now over `[first, last)` in steps, under the
    /// two setpoints `pick` gives per zone, step and slot.
    fn simulate(
        &self,
        event: (&str, (i64, i64)),
        (first, last): (i64, i64),
        outdoor_c: f64,
        pick: impl Fn(usize, i64, Slot) -> (f64, f64),
    ) -> Option<Forecast> {
        let (schedule, kw_per_demand) = (self.schedule.as_ref()?, self.kw_per_demand?);
        let step = self.settings.step_ms;
        let times: Vec<i64> = (first..last).step_by(step.max(1) as usize).collect();
        let index = |t: i64| times.iter().position(|&x| x >= t).unwrap_or(times.len());
        let windows = Windows {
            event: (index(event.1 .0), index(event.1 .1)),
            recovery_end: times.len(),
            step_h: step as f64 / 3_600_000.0,
            first_hour: self.settings.timezone.timestamp_millis_opt(first).single().map_or(0, |t| t.hour() as u8),
            steps_per_hour: (3_600_000 / step.max(1)) as usize,
            first_end_ms: first + step,
            step_ms: step,
        };
        let runs: Vec<ZoneRun> = (0..self.zones.len())
            .filter_map(|i| {
                let model = self.models[i].as_ref()?;
                let start_c = self.zones[i].reading.temperature_c?;
                let steps = times
                    .iter()
                    .map(|&t| {
                        let slot = schedule.at(t);
                        let (base, planned) = pick(i, t, slot);
                        (base, planned, slot.occupied)
                    })
                    .collect();
                Some(ZoneRun { model, start_c, steps })
            })
            .collect();
        (!runs.is_empty())
            .then(|| forecast(event, &runs, windows, outdoor_c, kw_per_demand, self.settings.comfort_min_c))
    }

    pub fn schedule(&self) -> Option<&Schedule> {
        self.schedule.as_ref()
    }

    pub fn zone_index(&self, name: &str) -> Option<usize> {
        self.zones.iter().position(|z| z.name == name)
    }

    pub fn zone_names(&self) -> impl Iterator<Item = &str> {
        self.zones.iter().map(|z| z.name.as_str())
    }

    /// K·h below comfort spent this week, per zone.
    pub fn spent_kh(&self) -> Vec<(String, f64)> {
        self.zones.iter().map(|z| (z.name.clone(), z.spent_kh)).collect()
    }

    pub fn observe_outdoor(&mut self, outdoor_c: f64) {
        if outdoor_c.is_finite() {
            self.outdoor_c = Some(outdoor_c);
        }
    }

    pub fn observe(&mut self, zone: usize, reading: ZoneReading) {
        if let Some(z) = self.zones.get_mut(zone) {
            z.reading = reading;
        }
    }

    /// Puts back an event taken before a restart, with the pre-heat its forecast recorded.
    pub fn restore_event(&mut self, event: FlexEvent, deep_preheat: bool) {
        if deep_preheat {
            self.deep_preheat.push(event.id.clone());
        }
        self.book.restore(event);
    }

    pub fn flex(&mut self, payload: &[u8], now_ms: i64) -> Result<Change, FlexError> {
        let change = self.book.apply(payload, now_ms)?;
        if let Change::Added(e) | Change::Updated { now: e, .. } = &change {
            self.choose_preheat(&e.id, now_ms);
        }
        Ok(change)
    }

    /// Takes event `id` out of the book (a request refused after the book took it: nothing is
    /// commanded for it).
    pub fn withdraw(&mut self, id: &str) -> Option<FlexEvent> {
        self.book.withdraw(id)
    }

    fn slot(&self, ts_ms: i64) -> Option<Slot> {
        self.schedule.as_ref().map(|s| s.at(ts_ms))
    }

    /// When an override given at `now_ms` without an end lapses: the schedule's next change.
    pub fn default_until(&self, now_ms: i64) -> i64 {
        match &self.schedule {
            Some(s) => s.next_change_ms(now_ms, self.settings.step_ms),
            None => now_ms + 86_400_000,
        }
    }

    /// A person's override: it takes effect now (the command it needs comes back at once) and
    /// spends the zone's comfort budget for the week, so no more curtailment there.
    pub fn override_zone(&mut self, zone: usize, over: Override, now_ms: i64) -> StepResult {
        let mut out = StepResult::default();
        let Some(z) = self.zones.get_mut(zone) else { return out };
        z.hold(over, self.settings.budget_kh_per_week);
        out.notices.push(Notice::OverrideBegan { zone: z.name.clone(), over });
        self.decide_zone(zone, now_ms, &mut out);
        out
    }

    /// Ends a zone's override before its time (its budget stays spent: a person stepped in).
    pub fn end_override(&mut self, zone: usize, now_ms: i64) -> StepResult {
        let mut out = StepResult::default();
        if let Some(z) = self.zones.get_mut(zone) {
            z.over = None;
            self.decide_zone(zone, now_ms, &mut out);
        }
        out
    }

    /// Restores an override recorded before a restart, without a command or a notice. One the
    /// agent once inferred from a readback is not a person's word: it is left out.
    pub fn restore_override(&mut self, zone: usize, over: Override) {
        if over.source == Source::Thermostat {
            return;
        }
        if let Some(z) = self.zones.get_mut(zone) {
            z.hold(over, self.settings.budget_kh_per_week);
        }
    }

    /// One control step at `now_ms`, on the readings observed so far.
    pub fn step(&mut self, now_ms: i64) -> StepResult {
        let mut out = StepResult::default();
        let recovery_ms = self.settings.flex.recovery_ms(self.settings.step_ms);
        self.book.expire(now_ms - recovery_ms);
        for i in 0..self.zones.len() {
            self.account(i, now_ms, &mut out);
            self.decide_zone(i, now_ms, &mut out);
        }
        out
    }

    /// Decides again at `now_ms` without closing a step (after the mode or the schedule
    /// changed): no budget is counted, nothing read back is judged.
    pub fn reconsider(&mut self, now_ms: i64) -> StepResult {
        let mut out = StepResult::default();
        for i in 0..self.zones.len() {
            self.decide_zone(i, now_ms, &mut out);
        }
        out
    }

    /// The week's budget, overrides that ended, and what the thermostat reads back.
    fn account(&mut self, i: usize, now_ms: i64, out: &mut StepResult) {
        let week = self.week(now_ms);
        let slot = self.slot(now_ms);
        let (step_ms, comfort_min_c, budget) =
            (self.settings.step_ms, self.settings.comfort_min_c, self.settings.budget_kh_per_week);
        let z = &mut self.zones[i];
        if z.week != week {
            z.week = week;
            z.spent_kh = 0.0;
        }
        if z.over.is_some_and(|o| now_ms >= o.until_ms) {
            z.over = None;
            out.notices.push(Notice::OverrideEnded { zone: z.name.clone() });
        }
        if z.stood_down.is_some_and(|(_, until)| now_ms >= until) {
            z.stood_down = None;
        }
        z.sent_lately.retain(|(_, at)| now_ms - at <= REMEMBERED_MS);
        let programme_c = slot.map(|s| s.programme_c);
        let commanding = self.mode == Mode::Auto;
        let curtailed =
            commanding && z.sent.is_some_and(|(s, _)| programme_c.is_some_and(|p| s.setpoint_c < p - SAME_C));
        if let (true, true, Some(t)) = (curtailed, z.reading.occupied, z.reading.temperature_c) {
            let before = z.spent_kh;
            z.spent_kh += (comfort_min_c - t).max(0.0) * step_ms as f64 / 3_600_000.0;
            if before < budget && z.spent_kh >= budget {
                out.notices.push(Notice::BudgetSpent { zone: z.name.clone(), spent_kh: z.spent_kh });
            }
        }
        if commanding && z.over.is_none() && z.stood_down.is_none() {
            self.watch_comfort(i, now_ms, programme_c, out);
        }
        let z = &mut self.zones[i];
        let Some(read_back) = z.reading.setpoint_c else { return };
        // A command takes a step to reach the thermostat and another for its reading to come
        // back: judge the readback only after both, and only on a reading of this step. Unless
        // the agent commands, a hand on the thermostat is how the building is run; while it
        // stays off a zone, there is nothing to explain.
        let settled = now_ms - z.sent_at_ms >= 2 * step_ms;
        let fresh = z.reading.setpoint_at_ms.is_some_and(|at| at >= now_ms);
        if !settled || !fresh || z.over.is_some() || z.stood_down.is_some() || !commanding {
            return;
        }
        // Without a programme, only what the agent sent can be explained, and then it sent
        // something.
        if slot.is_none() && z.sent.is_none() {
            return;
        }
        let near = |v: f64| (read_back - v).abs() <= SAME_C;
        if z.sent.is_some_and(|(s, _)| near(s.setpoint_c)) {
            return;
        }
        if programme_c.is_some_and(near) {
            // Back on its own programme: the thermostat dropped the command (its period
            // changed, or the command expired); the next decision sends it again.
            if let Some((s, _)) = z.sent.take() {
                out.notices.push(Notice::CommandLapsed {
                    zone: z.name.clone(),
                    setpoint_c: s.setpoint_c,
                    read_back_c: read_back,
                });
            }
            return;
        }
        // The programme's own levels at any hour (a BMS's optimum start, a day type it
        // learned), and what the agent itself sent lately (a held command, a lagging release).
        let levels = self.schedule.as_ref().map(|s| (s.programme().night_c, s.programme().occupied_c));
        if levels.is_some_and(|(night, day)| near(night) || near(day)) || z.sent_lately.iter().any(|(v, _)| near(*v)) {
            return;
        }
        // Unexplained: the agent stays off the zone and releases what it set. A device without
        // a release of its own no longer holds the agent's command (something replaced it):
        // handing it the programme's value would undo whoever did.
        let until_ms = self.default_until(now_ms);
        let z = &mut self.zones[i];
        let sent_c = z.sent.map(|(s, _)| s.setpoint_c);
        if !z.explicit_release {
            z.sent = None;
        }
        z.stood_down = Some((StandDown::Unexplained, until_ms));
        out.notices.push(Notice::Unexplained {
            zone: z.name.clone(),
            read_back_c: read_back,
            sent_c,
            programme_c,
            until_ms,
        });
    }

    fn week(&self, ts_ms: i64) -> i64 {
        let local = self.settings.timezone.timestamp_millis_opt(ts_ms).single().map(|t| t.date_naive());
        local.map_or(0, |d| i64::from(d.num_days_from_ce() - 1).div_euclid(7))
    }

    /// What the events in force ask of zone `i` at `now_ms`, if any.
    fn shaped(&self, i: usize, now_ms: i64, slot: Slot) -> Option<(f64, Phase, String)> {
        let zones = self.zones.len();
        self.book.events().find_map(|event| {
            let ze = ZoneEvent {
                event,
                turn: i,
                zones,
                comfort_floor_c: self.settings.comfort_min_c,
                at_start: self.slot(event.start_ms).unwrap_or(slot),
                ceiling_c: self.zones[i].bounds.max_c(),
                deep_preheat: self.preheats_deep(&event.id),
                step_ms: self.settings.step_ms,
            };
            ze.shape(&self.settings.flex, now_ms, slot).map(|(c, p)| (c, p, event.id.clone()))
        })
    }

    /// Whether the agent's own `setpoint_c` in `slot` is below what it may send while people are
    /// in (as the schedule expects them, or as the zone's sensor sees them: people come in
    /// unannounced): comfort, or the programme where that is lower.
    fn below_floor(&self, slot: Slot, people_seen: bool, setpoint_c: f64) -> bool {
        (slot.occupied || people_seen) && setpoint_c < self.settings.comfort_min_c.min(slot.programme_c) - 0.01
    }

    /// What the agent plans for zone `i` at `t`: the schedule, shaped by any event in force.
    fn planned_c(&self, i: usize, t: i64, slot: Slot) -> f64 {
        self.shaped(i, t, slot).map_or(slot.target_c, |(c, ..)| c)
    }

    fn decide_zone(&mut self, i: usize, now_ms: i64, out: &mut StepResult) {
        let slot = self.slot(now_ms);
        let shaped = slot.and_then(|s| self.shaped(i, now_ms, s));
        // Where the schedule asks what the programme holds anyway, the programme does it.
        let scheduled = slot.filter(|s| (s.target_c - s.programme_c).abs() > 0.01).map(|s| s.target_c);
        let plan_c = shaped.as_ref().map(|(c, ..)| *c).or(scheduled);
        let z = &self.zones[i];
        let programme_c = slot.map(|s| s.programme_c).or(z.reading.setpoint_c);
        let in_force = z.sent.map(|(s, _)| s).or_else(|| {
            // Taking a zone over: the first command is a step from what it holds.
            let held = z.reading.setpoint_c.or(programme_c)?;
            Some(Sent { setpoint_c: held, at_ms: i64::MIN / 2 })
        });
        let input = ZoneInput {
            bounds: z.bounds,
            now_ms,
            last: in_force,
            override_c: z.over.and_then(|o| match o.hold {
                Hold::Setpoint { setpoint_c } => Some(setpoint_c),
                Hold::HandsOff => None,
            }),
            programme_c: programme_c.unwrap_or(f64::NEG_INFINITY),
            budget_left_kh: self.settings.budget_kh_per_week - z.spent_kh,
            model_passes_gate: self.model_passes_gate,
            stopped: self.mode == Mode::Advise,
            plan_c,
        };
        let hands_off = z.over.is_some_and(|o| o.hold == Hold::HandsOff);
        // A person's explicit word outranks a stand-down; the stop switch outranks both.
        let stood_down = z.stood_down.filter(|(_, until)| now_ms < *until && z.over.is_none());
        let decision = match stood_down {
            _ if hands_off => Decision::Release { because: Limit::Override },
            Some((why, _)) if !input.stopped => Decision::Release { because: why.limit() },
            _ => decide(&input),
        };
        // While people are in, the agent's own command never goes below comfort (nor below the
        // programme, where that is lower): the rate limits may hold a rise back, and then the
        // programme does better. A person's explicit word is theirs. People the zone sees when
        // the schedule expects none count too, outside a flex event: an event's pre-heat, shed
        // and staggered recovery are planned on the schedule, their comfort cost bounded by the
        // plan and the watchdog, and handing zones back mid-recovery would make the rebound the
        // stagger exists to avoid.
        let people_seen = shaped.is_none() && self.zones[i].reading.occupied;
        let decision = match decision {
            Decision::Command { setpoint_c, limits }
                if !limits.contains(&Limit::Override)
                    && slot.is_some_and(|s| self.below_floor(s, people_seen, setpoint_c)) =>
            {
                Decision::Release { because: Limit::ComfortFloor }
            }
            d => d,
        };
        // Most steps change nothing: settle that before working out an expiry.
        let idle = match &decision {
            Decision::Command { setpoint_c, .. } => z.sent.is_some_and(|(s, lapses)| {
                (s.setpoint_c - setpoint_c).abs() < 0.01 && now_ms + self.settings.step_ms < lapses
            }),
            Decision::Release { .. } => z.sent.is_none() || (programme_c.is_none() && !z.explicit_release),
        };
        if idle {
            if matches!(decision, Decision::Release { .. }) {
                self.zones[i].sent = None;
            }
            return;
        }
        let expires_ms = (now_ms + self.settings.command_ttl_ms)
            .min(z.over.map_or(i64::MAX, |o| o.until_ms))
            .min(self.default_until(now_ms) + self.settings.step_ms);
        let (phase, event) = shaped.map_or((None, None), |(_, p, e)| (Some(p), Some(e)));
        let shadow = self.mode == Mode::Shadow;
        let z = &mut self.zones[i];
        let command = |setpoint_c, limits, release| Command {
            zone: z.name.clone(),
            setpoint_c,
            expires_ms,
            plan_c,
            programme_c,
            phase,
            event: event.clone(),
            limits,
            release,
            shadow,
        };
        match decision {
            Decision::Command { setpoint_c, limits } => {
                let at_ms = match z.sent {
                    Some((s, _)) if (s.setpoint_c - setpoint_c).abs() < 0.01 => s.at_ms,
                    _ => now_ms,
                };
                out.commands.push(command(setpoint_c, limits, false));
                // In shadow mode too: what it would have in force, so each would-be command is
                // recorded once.
                z.sent = Some((Sent { setpoint_c, at_ms }, expires_ms));
                z.sent_at_ms = now_ms;
                if !shadow {
                    // One entry per value, at its latest: the same setpoints sent again and again
                    // (a flood of one override) do not grow it.
                    match z.sent_lately.iter_mut().find(|(v, _)| (v - setpoint_c).abs() < 0.01) {
                        Some(entry) => entry.1 = now_ms,
                        None => z.sent_lately.push((setpoint_c, now_ms)),
                    }
                }
            }
            Decision::Release { because } => self.release(i, now_ms, because, out),
        }
    }

    /// Hands zone `i` back once, if the agent has a command in force there: by the device's
    /// own release, or (a device that drops commands by itself) its programme's value.
    fn release(&mut self, i: usize, now_ms: i64, because: Limit, out: &mut StepResult) {
        let slot = self.slot(now_ms);
        let shadow = self.mode == Mode::Shadow;
        let z = &mut self.zones[i];
        let programme_c = slot.map(|s| s.programme_c).or(z.reading.setpoint_c);
        let Some((sent, _)) = z.sent.take() else { return };
        if programme_c.is_none() && !z.explicit_release {
            return;
        }
        out.commands.push(Command {
            zone: z.name.clone(),
            setpoint_c: programme_c.unwrap_or(sent.setpoint_c),
            expires_ms: now_ms,
            plan_c: None,
            programme_c,
            phase: None,
            event: None,
            limits: vec![because],
            release: true,
            shadow,
        });
        z.sent_at_ms = now_ms;
    }
}

mod preheat;
mod watchdog;

#[cfg(test)]
mod tests;

#[cfg(test)]
mod randomised;
