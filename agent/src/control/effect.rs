//! What control's decisions do outside it, as data: a setpoint on a thermostat's topic, a record
//! for the control log (and so for `<prefix>/decisions`), what became of a flex request for
//! the city's report, a refusal to count. The core returns them; the shell's outlet carries them out. Here
//! too the sentences each record gives as its reason.

use super::actuate::{payload, release};
use super::controller::{Command, Notice, StepResult};
use super::flex_status::Status;
use super::log::Kind;
use super::safety::Limit;
use super::settle::Outcome;
use crate::config::control::ControlZone;
use bytes::Bytes;
use serde_json::{json, Value};

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Effect {
    /// A setpoint or a hand-back, on the zone's command topic.
    Send { topic: String, payload: Bytes },
    /// A record to append to the control log, then publish on `<prefix>/decisions`.
    Record(Record),
    /// The answer to a flex request, on `<prefix>/flex/status` (see `flex_status`): counted by
    /// its status, and a refusal also as `flex_refused`.
    FlexAnswer { status: Status, topic: String, payload: Bytes },
    /// An event the agent commanded, settled, or a request it refused or cancelled under an
    /// id: the report layer tells the city.
    Report(Outcome),
    /// Every zone decided on the step at `at_ms`, and what that decided carried out before.
    Stepped { at_ms: i64 },
}

/// One entry of the control log, before the log numbers it.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Record {
    pub(crate) kind: Kind,
    pub(crate) zone: Option<String>,
    pub(crate) ts_ms: i64,
    pub(crate) why: String,
    pub(crate) detail: Value,
}

impl Record {
    /// A record of `detail`; `None` (logged) if it cannot be serialised: that costs the
    /// record, never the control.
    pub(crate) fn of(
        kind: Kind,
        zone: Option<&str>,
        ts_ms: i64,
        why: impl Into<String>,
        detail: impl serde::Serialize,
    ) -> Option<Self> {
        match serde_json::to_value(detail) {
            Ok(detail) => Some(Self { kind, zone: zone.map(str::to_string), ts_ms, why: why.into(), detail }),
            Err(e) => {
                tracing::error!(error = %e, kind = kind.name(), "control: cannot serialise a record");
                None
            }
        }
    }
}

/// Adds a record to `effects`, unless it cannot be serialised.
pub(crate) fn record(
    effects: &mut Vec<Effect>,
    kind: Kind,
    zone: Option<&str>,
    ts_ms: i64,
    why: impl Into<String>,
    detail: impl serde::Serialize,
) {
    effects.extend(Record::of(kind, zone, ts_ms, why, detail).map(Effect::Record));
}

/// What a decision at `now_ms` does: its notices recorded, then each command sent (unless only
/// shadowed) and recorded, in the order the controller gave them.
pub(crate) fn of_decision(result: &StepResult, zones: &[ControlZone], now_ms: i64, effects: &mut Vec<Effect>) {
    for n in &result.notices {
        let (kind, zone, why) = notice(n);
        let detail = match n {
            Notice::OverrideBegan { over, .. } => serde_json::to_value(over),
            other => serde_json::to_value(other),
        };
        record(effects, kind, Some(zone), now_ms, why, detail.unwrap_or_default());
    }
    for c in &result.commands {
        let Some(z) = zones.iter().find(|z| z.zone == c.zone) else { continue };
        if !c.shadow {
            if c.release {
                // A device that holds is released, never handed a value.
                if let Some((topic, payload)) = release(z, c.programme_c, c.expires_ms) {
                    effects.push(Effect::Send { topic, payload: payload.into() });
                }
            } else {
                let payload = payload(z.format, c.setpoint_c, c.expires_ms);
                effects.push(Effect::Send { topic: z.command_topic.clone(), payload: payload.into() });
            }
        }
        let kind = if c.release { Kind::Release } else { Kind::Command };
        record(effects, kind, Some(&c.zone), now_ms, why(c), c);
    }
}

/// How many overrides a decision began.
pub(crate) fn overrides_in(result: &StepResult) -> u64 {
    result.notices.iter().filter(|n| matches!(n, Notice::OverrideBegan { .. })).count() as u64
}

/// A refused payload as the ledger keeps it: its first 256 characters.
pub(crate) fn quoted(payload: &[u8]) -> Value {
    let text: String = String::from_utf8_lossy(payload).chars().take(256).collect();
    json!({ "payload": text })
}

/// A notice's kind of record, its zone and its reason in a sentence.
fn notice(n: &Notice) -> (Kind, &str, String) {
    match n {
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
        Notice::Unexplained { zone, read_back_c, sent_c, programme_c, until_ms } => (
            Kind::Unexplained,
            zone,
            format!(
                "reads back {read_back_c:.1} °C, which the agent did not send ({}) and the programme does not hold ({}): released, left to the building until {}",
                sent_c.map_or("nothing in force".to_string(), |c| format!("{c:.1} °C in force")),
                programme_c.map_or("unknown".to_string(), |c| format!("{c:.1} °C now")),
                crate::clock::iso(*until_ms)
            ),
        ),
        Notice::WatchdogTripped { zone, temperature_c, floor_c, expected_at_ms, until_ms } => (
            Kind::WatchdogTripped,
            zone,
            format!(
                "{} below the comfort floor of {floor_c:.1} °C under the agent's command: released, left to the building until {}",
                match expected_at_ms {
                    None => format!("{temperature_c:.1} °C while occupied,"),
                    Some(at) => format!(
                        "{temperature_c:.1} °C expected by the zone's model at {} while occupied,",
                        crate::clock::iso(*at)
                    ),
                },
                crate::clock::iso(*until_ms)
            ),
        ),
    }
}

/// Why a zone was released, in words.
fn released_because(limit: Limit) -> &'static str {
    match limit {
        Limit::StopSwitch => "the agent no longer commands (advise or shadow)",
        Limit::Override => "a person said hands off",
        Limit::ModelGate => "the models fail their quality gate",
        Limit::NoPlan | Limit::PlanNotFinite => "the schedule asks what the programme holds",
        Limit::Unexplained => "a setpoint read back that the agent did not send",
        Limit::Watchdog => "below comfort while occupied",
        Limit::Shutdown => "the agent is stopping",
        Limit::Silent => "no readings for as long as a command lasts: the agent cannot see the zone",
        Limit::ComfortFloor => "a command would be below comfort while occupied",
        Limit::ComfortBudget | Limit::MinInterval | Limit::MaxStep | Limit::Range => "the safety chain",
    }
}

/// A command's reasons in a sentence.
fn why(c: &Command) -> String {
    if c.release {
        let because = c.limits.first().map_or(String::new(), |l| format!(": {}", released_because(*l)));
        let shadow = if c.shadow { " (shadow: not sent)" } else { "" };
        return format!("released to the building's own programme{because}{shadow}");
    }
    let base = match (&c.event, c.phase) {
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
    use crate::config::control::{Bounds, CommandFormat};

    fn command(zone: &str, shadow: bool, release: bool) -> Command {
        Command {
            zone: zone.into(),
            setpoint_c: 17.04,
            expires_ms: 0,
            plan_c: Some(17.0),
            programme_c: Some(20.0),
            phase: None,
            event: None,
            limits: vec![Limit::MaxStep],
            release,
            shadow,
        }
    }

    #[test]
    fn a_decision_records_its_notices_then_sends_and_records_each_command_unless_shadowed() {
        // Given a zone commanded in the plain dialect
        let bounds = Bounds::new(12.0, 24.0, 4.0, 0).expect("bounds");
        let zones = [ControlZone {
            zone: "a".into(),
            command_topic: "trv/a/set".into(),
            format: CommandFormat::Plain,
            release: crate::config::control::Release::ProgrammeValue,
            holds: false,
            bounds,
        }];
        let cases = [
            ("a command", command("a", false, false), vec!["send trv/a/set 17", "command"]),
            ("a shadowed command", command("a", true, false), vec!["command"]),
            ("a hand-back", command("a", false, true), vec!["send trv/a/set 20", "release"]),
            ("a zone not configured", command("b", false, false), vec![]),
        ];
        for (name, c, then) in cases {
            // When the controller decides it, after a budget spent
            let result = StepResult {
                commands: vec![c],
                notices: vec![Notice::BudgetSpent { zone: "a".into(), spent_kh: 1.2 }],
            };
            let mut effects = Vec::new();
            of_decision(&result, &zones, 5, &mut effects);
            // Then the budget is recorded first, then what the command does
            let got: Vec<String> = effects
                .iter()
                .map(|e| match e {
                    Effect::Send { topic, payload } => format!("send {topic} {}", String::from_utf8_lossy(payload)),
                    Effect::Record(r) => r.kind.name().to_string(),
                    other => format!("{other:?}"),
                })
                .collect();
            let mut expected = vec!["budget_spent".to_string()];
            expected.extend(then.iter().map(|s| s.to_string()));
            assert_eq!(got, expected, "{name}");
        }
    }

    #[test]
    fn a_commands_reason_names_what_asked_for_it_and_what_held_it() {
        let mut c = command("a", true, false);
        assert_eq!(
            why(&c),
            "schedule with the accepted changes (17.0 °C where the programme holds 20.0 °C); held by maxstep (shadow: not sent)"
        );
        c.limits = vec![Limit::Override, Limit::Range];
        c.shadow = false;
        assert_eq!(why(&c), "a person's override; held by range");
    }
}
