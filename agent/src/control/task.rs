//! Control as a task of the daemon: the thin shell around the core. It puts back what the
//! control log says must survive a restart, then takes, one at a time, a request from its
//! mailbox (typed as the link routed it, see `route`), a reading from ingest's tap (closing a step of event time once every zone point has
//! reported for it) or a new basis from the advisor; hands each to the core with its event
//! time; and carries the effects out through the outlet.

use super::core::{ControlCore, Input, Restored};
use super::log::{ControlLog, LogError};
use super::outlet::Outlet;
use super::request::Request;
use super::settle::Outcome;
use super::steps::StepClock;
use crate::advisor::Basis;
use crate::clock::Clock;
use crate::config::Settings;
use crate::control::controller::ZoneState;
use crate::mqtt::mailbox::Requests;
use crate::mqtt::publisher::Publish;
use crate::mqtt::Publisher;
use crate::reading::Reading;
use crate::shared::Shared;
use crate::stats::Stats;
use crate::watchdog::Pulse;
use std::sync::Arc;
use tokio::sync::{mpsc, watch};
use tokio_util::sync::CancellationToken;

#[derive(Debug)]
pub struct ControlTask<P = Publisher> {
    pub settings: Arc<Settings>,
    pub publisher: P,
    pub log: Shared<ControlLog>,
    pub clock: Clock,
    pub stats: Arc<Stats>,
    /// Where what became of flex requests goes for the city's flex reports, when the site has
    /// an uplink.
    pub outcomes: Option<mpsc::Sender<Outcome>>,
    pub pulse: Pulse,
    /// Where each zone's control state goes after each decision (the page, Home Assistant).
    pub states: Option<watch::Sender<Vec<ZoneState>>>,
}

impl<P: Publish> ControlTask<P> {
    pub async fn run(
        self,
        mut requests: Requests<Request>,
        mut readings: mpsc::Receiver<Reading>,
        mut basis: watch::Receiver<Option<Basis>>,
        cancel: CancellationToken,
    ) {
        let pulse = self.pulse.clone();
        // What the advisor handed over before control started: built on, not acted on until the
        // first step.
        let handed = basis.borrow().clone();
        let mut shell = Shell::start(self, handed).await;
        // Once the advisor has gone, nothing more comes on its channel (and a closed channel
        // is always ready: it is not polled again).
        let mut advisor_gone = false;
        // Readings may stop (a dead sensor bridge, a broken link to the building's broker): a
        // command the agent cannot follow must not outlive its lifetime on a device that holds
        // it. Wall time, since event time stands still without readings.
        let lifetime = std::time::Duration::from_millis(shell.command_ttl_ms().max(1) as u64);
        let silence = tokio::time::sleep(lifetime);
        tokio::pin!(silence);
        loop {
            tokio::select! {
                () = &mut silence => {
                    let _busy = pulse.busy();
                    shell.silence().await;
                    silence.as_mut().reset(tokio::time::Instant::now() + lifetime);
                }
                _ = cancel.cancelled() => {
                    // Before the link goes: what the agent set goes back to the building.
                    shell.stop().await;
                    break;
                }
                message = requests.recv() => match message {
                    Some(request) => {
                        let _busy = pulse.busy();
                        shell.request(request).await;
                    }
                    None => break,
                },
                reading = readings.recv() => match reading {
                    Some(r) => {
                        let _busy = pulse.busy();
                        if shell.reading(r).await {
                            silence.as_mut().reset(tokio::time::Instant::now() + lifetime);
                        }
                    }
                    None => break,
                },
                changed = basis.changed(), if !advisor_gone => match changed {
                    Ok(()) => {
                        let _busy = pulse.busy();
                        let handed = basis.borrow().clone();
                        shell.basis(handed).await;
                    }
                    Err(_) => advisor_gone = true,
                },
            }
        }
        tracing::info!("control stopped");
    }
}

/// What the task does with each thing it receives, apart from the receiving: so the tests hand
/// it requests, readings and bases in the order they choose.
#[derive(Debug)]
pub(crate) struct Shell<P> {
    core: ControlCore,
    steps: StepClock,
    outlet: Outlet<P>,
    clock: Clock,
    states: Option<watch::Sender<Vec<ZoneState>>>,
}

impl<P: Publish> Shell<P> {
    /// The core with what the log says must survive a restart, built on `basis` if the advisor
    /// has handed one over.
    pub(crate) async fn start(task: ControlTask<P>, basis: Option<Basis>) -> Self {
        let s = task.settings;
        let mut core = ControlCore::new(s.clone());
        match restored(&task.log, task.clock.now_ms()).await {
            Ok(r) => core.restore(r),
            Err(e) => {
                tracing::error!(error = %e, "control: cannot read the control log back; overrides and events recorded before are not restored")
            }
        }
        let steps = StepClock::new(s.control.step_ms, core.points().waited_for());
        tracing::info!(zones = s.control.zones.len(), points = core.points().len(), mode = ?core.mode(), "control running");
        if let Some(b) = basis {
            core.adopt(b);
        }
        let outlet = Outlet {
            publisher: task.publisher,
            log: task.log,
            decisions: format!("{}/decisions", s.agent.topic_prefix),
            stats: task.stats,
            outcomes: task.outcomes,
        };
        Self { core, steps, outlet, clock: task.clock, states: task.states }
    }

    /// A request from the mailbox, at the agent's now.
    pub(crate) async fn request(&mut self, request: Request) {
        let now_ms = self.clock.now_ms();
        self.carry_out(Input::Request { request, now_ms }).await;
    }

    /// A reading from ingest's tap, and the step it closes, if any; whether it closed one.
    pub(crate) async fn reading(&mut self, r: Reading) -> bool {
        let step = self.steps.close(r.point, r.ts_ms);
        self.carry_out(Input::Reading(r)).await;
        if let Some(at_ms) = step {
            self.carry_out(Input::Step { at_ms }).await;
        }
        step.is_some()
    }

    /// How long a command lasts at the device.
    pub(crate) fn command_ttl_ms(&self) -> i64 {
        self.core.command_ttl_ms()
    }

    /// No step has closed for a command's lifetime: every zone the agent commands is released.
    pub(crate) async fn silence(&mut self) {
        let now_ms = self.clock.now_ms();
        self.carry_out(Input::Silence { now_ms }).await;
    }

    /// A new basis from the advisor, decided on at once.
    pub(crate) async fn basis(&mut self, basis: Option<Basis>) {
        let now_ms = self.clock.now_ms();
        self.carry_out(Input::Basis { basis, now_ms }).await;
    }

    /// The agent is stopping: every zone it commands is released.
    pub(crate) async fn stop(&mut self) {
        let now_ms = self.clock.now_ms();
        self.carry_out(Input::Stop { now_ms }).await;
    }

    async fn carry_out(&mut self, input: Input) {
        // A reading alone decides nothing: the state is said after decisions only.
        let decides = !matches!(input, Input::Reading(_));
        self.outlet.carry_out(self.core.handle(input)).await;
        if let (true, Some(states)) = (decides, &self.states) {
            states.send_replace(self.core.states(self.clock.now_ms()));
        }
    }
}

/// The stop switch, the overrides in force at `now_ms` and the events that may still be in
/// force or unsettled, as the log left them.
async fn restored(log: &Shared<ControlLog>, now_ms: i64) -> Result<Restored, LogError> {
    let settle_window = super::settle::REBOUND_MS;
    log.try_with(move |l| {
        let mut events = Vec::new();
        for (event, forecast) in l.events_since(now_ms - settle_window)? {
            let overrides = l.overrides_between(event.start_ms, event.end_ms + settle_window)?;
            events.push((event, forecast, overrides));
        }
        Ok(Restored { mode: l.latest_mode()?, overrides: l.overrides_in_force(now_ms)?, events })
    })
    .await
}

#[cfg(test)]
mod tests;
