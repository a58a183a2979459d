//! The controller and the emulated building in one process, step by step, as BOPTEST runs a
//! controller against its test case: after each step the controller reads what the devices read,
//! decides, and its commands reach the thermostats (through the same payloads and parser as on
//! the broker) before the next step. Deterministic and fast: how the control KPIs are measured.

use super::emulator::{Emulator, Truth};
use crate::config::control::CommandFormat;
use crate::control::actuate::payload;
use crate::control::controller::{Controller, Notice, Override, Source, StepResult, ZoneReading};
use crate::control::event::Change;
use crate::control::forecast::Forecast;
use crate::control::kpi::{Kpis, ZoneStep};
use crate::control::request::{parse_override, OverrideAsk};
use crate::control::safety::Limit;
use sobre_models::emulator::EmulatorError;
use std::time::Instant;

/// A flexibility request the grid sends at `at_ms`.
#[derive(Debug, Clone)]
pub struct Request {
    pub at_ms: i64,
    pub payload: String,
}

/// A command the agent sent a zone's device (not a release), as the randomised runs judge it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Sent {
    pub at_ms: i64,
    pub zone: usize,
    pub setpoint_c: f64,
    /// A person's explicit override asked it.
    pub person: bool,
    /// People were in the zone (the emulator's truth, whatever the agent's schedule said).
    pub occupied: bool,
}

/// What people asked the agent on its override topic (a randomised building's), and what it
/// made of it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Asked {
    pub taken: u64,
    pub refused: u64,
    /// Overrides the controller began whose source is a readback: it must never infer one.
    pub inferred: u64,
}

#[derive(Debug, Clone)]
pub struct LoopOutcome {
    pub truth: Truth,
    /// The plant's mean power over each step: (end of step, kW).
    pub power_kw: Vec<(i64, f64)>,
    /// From what the devices read (the agent's view); the truth's discomfort is the emulator's.
    pub kpis: Kpis,
    pub commands: u64,
    /// Releases sent on the devices' release topics (a BMS's), and the zones whose device still
    /// held a command of the agent's at the end.
    pub releases: u64,
    pub held_at_end: usize,
    /// What the controller noticed: readbacks it could not explain, watchdog trips.
    pub unexplained: Vec<Notice>,
    pub watchdog_trips: u64,
    pub refused_requests: Vec<String>,
    /// Every command sent, and when the agent stood down from a zone: (at, zone, until).
    pub sent: Vec<Sent>,
    pub stand_downs: Vec<(i64, usize, i64)>,
    pub asked: Asked,
    /// What the controller expected of each request when it took it.
    pub forecasts: Vec<Forecast>,
    /// What it expected of each day at its midnight (on the programme, on the schedule).
    pub days: Vec<(i64, Forecast)>,
}

/// Where a controller's commands reach the emulated devices.
struct Device<'a> {
    topics: &'a [String],
    release_topics: &'a [Option<String>],
    at_ms: i64,
    /// Whether people are in each zone at this step (the emulator's truth).
    occupied: &'a [bool],
}

impl Device<'_> {
    /// Sends what `result` commands (through the same payloads and parser as on the broker);
    /// returns the commands and releases sent, and records each command in `sent`.
    fn send(&self, c: &Controller, result: &StepResult, emulator: &mut Emulator, sent: &mut Vec<Sent>) -> (u64, u64) {
        let (mut commands, mut releases) = (0, 0);
        for command in result.commands.iter().filter(|c| !c.shadow) {
            let Some(i) = c.zone_index(&command.zone) else { continue };
            if let (true, Some(release)) = (command.release, &self.release_topics[i]) {
                emulator.handle(release, b"");
                releases += 1;
                continue;
            }
            emulator.handle(
                &self.topics[i],
                payload(CommandFormat::Zigbee2mqtt, command.setpoint_c, command.expires_ms).as_bytes(),
            );
            commands += 1;
            if !command.release {
                let person = command.limits.contains(&Limit::Override);
                let occupied = self.occupied.get(i).copied().unwrap_or(false);
                sent.push(Sent { at_ms: self.at_ms, zone: i, setpoint_c: command.setpoint_c, person, occupied });
            }
        }
        (commands, releases)
    }
}

/// Runs `emulator` for `steps` steps under `controller` (none: the building's own programme).
pub fn run(
    mut emulator: Emulator,
    mut controller: Option<Controller>,
    requests: &[Request],
    steps: u64,
) -> Result<LoopOutcome, EmulatorError> {
    let topics: Vec<String> = emulator.topics().zones.iter().map(|z| z.command.clone()).collect();
    // A BMS holds a command until released on its release topic; a TRV drops it by itself.
    let release_topics: Vec<Option<String>> = emulator.topics().zones.iter().map(|z| z.release.clone()).collect();
    if let Some(c) = controller.as_mut() {
        for (i, t) in release_topics.iter().enumerate() {
            c.set_explicit_release(i, t.is_some());
        }
    }
    let (mut releases, mut unexplained, mut watchdog_trips) = (0u64, Vec::new(), 0u64);
    let (mut sent, mut stand_downs, mut asked) = (Vec::new(), Vec::new(), Asked::default());
    let zones = emulator.settings().zones.len();
    let step_h = emulator.settings().step_s / 3600.0;
    let comfort = emulator.settings().comfort;
    let band = (comfort.min_c, comfort.max_c);
    let mut kpis = Kpis::new(zones);
    let (mut power_kw, mut commands, mut refused, mut forecasts) = (Vec::new(), 0u64, Vec::new(), Vec::new());
    let (mut days, mut outdoor_day) = (Vec::new(), std::collections::VecDeque::new());
    let mut pending: Vec<&Request> = requests.iter().collect();
    pending.sort_by_key(|r| r.at_ms);
    let mut pending = pending.into_iter().peekable();
    emulator.step()?;
    for _ in 1..steps {
        let r = emulator.readings();
        let started = Instant::now();
        if let Some(c) = controller.as_mut() {
            while let Some(request) = pending.next_if(|q| q.at_ms <= r.ts_ms) {
                match c.flex(request.payload.as_bytes(), r.ts_ms) {
                    Ok(Change::Added(e) | Change::Updated { now: e, .. }) => {
                        forecasts.extend(c.forecast(&e.id, r.ts_ms, r.outdoor));
                    }
                    Ok(Change::Cancelled(_)) => {}
                    Err(e) => refused.push(e.to_string()),
                }
            }
            c.observe_outdoor(r.outdoor);
            for (i, z) in r.zones.iter().enumerate() {
                let reading = ZoneReading {
                    temperature_c: Some(z.temperature),
                    setpoint_c: Some(z.setpoint),
                    setpoint_at_ms: Some(r.ts_ms),
                    occupied: z.occupied,
                };
                c.observe(i, reading);
            }
            // At each local midnight, what the day should use on the programme and on the
            // schedule, said before it starts.
            let local = emulator.settings().calendar.local(r.ts_ms);
            outdoor_day.push_back(r.outdoor);
            if outdoor_day.len() > 96 {
                outdoor_day.pop_front();
            }
            if local.time() == chrono::NaiveTime::MIN {
                // Yesterday's mean outdoor temperature stands in for a forecast of today's.
                let mean = outdoor_day.iter().sum::<f64>() / outdoor_day.len().max(1) as f64;
                days.extend(c.day_ahead(r.ts_ms, 24, mean).map(|f| (r.ts_ms, f)));
            }
            let mut decided = vec![c.step(r.ts_ms)];
            // What people asked on the agent's override topic, read as the agent reads it.
            for (zone, text) in emulator.take_agent_overrides() {
                match parse_override(text.as_bytes(), r.ts_ms, |now| c.default_until(now)) {
                    Ok(OverrideAsk::Hold { hold, until_ms }) => {
                        asked.taken += 1;
                        let over = Override { hold, since_ms: r.ts_ms, until_ms, source: Source::Topic };
                        decided.push(c.override_zone(zone, over, r.ts_ms));
                    }
                    Ok(OverrideAsk::Cancel { .. }) => {
                        asked.taken += 1;
                        decided.push(c.end_override(zone, r.ts_ms));
                    }
                    Err(_) => asked.refused += 1,
                }
            }
            let occupied: Vec<bool> = r.zones.iter().map(|z| z.occupied).collect();
            let to_device =
                Device { topics: &topics, release_topics: &release_topics, at_ms: r.ts_ms, occupied: &occupied };
            for result in &decided {
                for n in &result.notices {
                    match n {
                        Notice::Unexplained { zone, until_ms, .. } => {
                            stand_downs.extend(c.zone_index(zone).map(|i| (r.ts_ms, i, *until_ms)));
                            unexplained.push(n.clone());
                        }
                        Notice::WatchdogTripped { .. } => watchdog_trips += 1,
                        Notice::OverrideBegan { over, .. } if over.source != Source::Topic => asked.inferred += 1,
                        _ => {}
                    }
                }
                let (n, released) = to_device.send(c, result, &mut emulator, &mut sent);
                commands += n;
                releases += released;
            }
        } else {
            // Nobody reads the agent's topic.
            emulator.take_agent_overrides();
        }
        let compute = started.elapsed();
        let zone_steps: Vec<ZoneStep> =
            r.zones.iter().map(|z| ZoneStep { temperature_c: z.temperature, occupied: z.occupied }).collect();
        kpis.add(step_h, r.heating_w / 1000.0, &zone_steps, band, compute);
        power_kw.push((r.ts_ms, r.heating_w / 1000.0));
        emulator.step()?;
    }
    // The agent stops: what it set goes back to the building.
    if let Some(c) = controller.as_mut() {
        for command in c.release_all(emulator.now_ms(), Limit::Shutdown).commands {
            if let Some(release) = c.zone_index(&command.zone).and_then(|i| release_topics[i].as_ref()) {
                emulator.handle(release, b"");
                releases += 1;
            }
        }
    }
    let held_at_end = emulator.truth().zones.iter().filter(|z| z.commanded).count();
    Ok(LoopOutcome {
        truth: emulator.truth().clone(),
        power_kw,
        kpis,
        commands,
        releases,
        held_at_end,
        unexplained,
        watchdog_trips,
        refused_requests: refused,
        sent,
        stand_downs,
        asked,
        forecasts,
        days,
    })
}
