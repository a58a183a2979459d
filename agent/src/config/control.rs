//! The `[control]` section: whether the agent may command, the hard bounds of each zone it may
//! command and where its commands go, the comfort budget, and how it answers flex events.

use super::duration::Span;
use super::validate::Check;
use serde::{Deserialize, Serialize};
use std::time::Duration;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ControlFile {
    /// advise (no command leaves: the safe default), shadow (decide and record, no command),
    /// auto.
    pub mode: Mode,
    pub step: Span,
    /// A command lapses at the thermostat after this unless sent again.
    pub command_ttl: Span,
    /// K·h below comfort per zone and week that flex and setbacks may cost; an occupant's
    /// override spends the rest of the week's.
    pub comfort_budget_kh: f64,
    /// While people are in, curtailment stops this far above the comfort band's floor (the
    /// thermostat swings around its setpoint).
    pub comfort_margin_k: f64,
    /// Apply accepted changes this many kelvin a day (0: at once).
    pub ramp_k_per_day: f64,
    /// Every zone's bounds unless its own entry says otherwise.
    pub min_c: f64,
    pub max_c: f64,
    pub max_step_k: f64,
    pub min_interval: Span,
    pub flex: FlexFile,
    pub zones: Vec<ControlZoneFile>,
}

impl Default for ControlFile {
    fn default() -> Self {
        Self {
            mode: Mode::Advise,
            step: Span::secs(900),
            command_ttl: Span::secs(6 * 3600),
            comfort_budget_kh: 1.0,
            comfort_margin_k: 0.5,
            ramp_k_per_day: 0.0,
            min_c: 12.0,
            max_c: 24.0,
            max_step_k: 4.0,
            min_interval: Span::secs(900),
            flex: FlexFile::default(),
            zones: Vec::new(),
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct FlexFile {
    pub preheat: Span,
    pub preheat_k: f64,
    pub floor_preheat: Span,
    pub floor_preheat_k: f64,
    pub shed_k: f64,
    pub recovery_spread: Span,
    pub recovery: Span,
    pub recovery_k_per_step: f64,
    pub price_spike_ratio: f64,
    /// The most the loads the agent controls draw, kW (the heating plant's rated power).
    pub capacity_kw: f64,
}

impl Default for FlexFile {
    fn default() -> Self {
        let d = FlexSettings::default();
        Self {
            preheat: Span(d.preheat),
            preheat_k: d.preheat_k,
            floor_preheat: Span(d.floor_preheat),
            floor_preheat_k: d.floor_preheat_k,
            shed_k: d.shed_k,
            recovery_spread: Span(d.recovery_spread),
            recovery: Span(d.recovery),
            recovery_k_per_step: d.recovery_k_per_step,
            price_spike_ratio: d.price_spike_ratio,
            capacity_kw: d.capacity_kw,
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ControlZoneFile {
    /// The zone, as the points name it.
    pub zone: String,
    /// Where its thermostat takes setpoints, e.g. `zigbee2mqtt/trv-class-1/set`.
    pub command_topic: String,
    #[serde(default)]
    pub format: CommandFormat,
    /// Where the device takes a release, e.g. a BMS's `…/setpoint/release`.
    pub release_topic: Option<String>,
    /// What releases it (on `release_topic`, else on `command_topic`): by default an empty
    /// payload on the release topic, or `{"value": null}` in the `value` dialect.
    pub release_payload: Option<String>,
    /// Whether the device holds a command until it is released (a BMS, BACnet's priority
    /// array) rather than dropping it at its programme's next period or the command's expiry.
    #[serde(default)]
    pub holds: bool,
    pub min_c: Option<f64>,
    pub max_c: Option<f64>,
    pub max_step_k: Option<f64>,
    pub min_interval: Option<Span>,
}

#[derive(Debug, Clone)]
pub struct ControlZone {
    pub zone: String,
    pub command_topic: String,
    pub format: CommandFormat,
    pub release: Release,
    /// The device holds a command until released: the agent never hands back with a value.
    pub holds: bool,
    pub bounds: Bounds,
}

/// How a zone's device is handed back to its own programme.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Release {
    /// This payload on this topic: a release topic, or a release payload on the command topic
    /// (BACnet's relinquish, VOLTTRON's revert).
    Publish { topic: String, payload: String },
    /// No release of its own: the programme's value, which the device drops by itself at its
    /// programme's next period (never for a device that holds).
    ProgrammeValue,
}

impl Release {
    /// From the zone's keys: a release topic or payload, else what its dialect releases with.
    fn of(z: &ControlZoneFile) -> Self {
        match (&z.release_topic, &z.release_payload, z.format) {
            (Some(topic), payload, _) => {
                Release::Publish { topic: topic.clone(), payload: payload.clone().unwrap_or_default() }
            }
            (None, Some(payload), _) => Release::Publish { topic: z.command_topic.clone(), payload: payload.clone() },
            (None, None, CommandFormat::Value) => {
                Release::Publish { topic: z.command_topic.clone(), payload: r#"{"value":null}"#.to_string() }
            }
            (None, None, _) => Release::ProgrammeValue,
        }
    }

    /// Whether the device has a release of its own (and so is released even when the agent
    /// does not know the programme's value).
    pub fn explicit(&self) -> bool {
        matches!(self, Release::Publish { .. })
    }
}

#[derive(Debug, Clone)]
pub struct ControlConfig {
    pub mode: Mode,
    pub step_ms: i64,
    pub command_ttl_ms: i64,
    pub budget_kh_per_week: f64,
    pub comfort_margin_k: f64,
    pub ramp_k_per_day: f64,
    pub flex: FlexSettings,
    pub zones: Vec<ControlZone>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Mode {
    /// Advise only: no command leaves (the manual stop switch, or no consent to control yet).
    Advise,
    /// Decide as in `Auto` and record it, without commanding.
    Shadow,
    Auto,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CommandFormat {
    /// `{"occupied_heating_setpoint": 19.5}` (a Zigbee2MQTT TRV's `…/set`).
    #[default]
    Zigbee2mqtt,
    /// `{"setpoint": 19.5, "expires": "…", "by": "sobre"}`.
    Json,
    /// `19.5`.
    Plain,
    /// `{"value": 19.5}`, released by `{"value": null}` (a BMS's point, BACnet's relinquish).
    Value,
}

/// How the agent answers events, from config.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FlexSettings {
    /// How long before an event the zones are warmed, and by how much above their schedule.
    pub preheat: Duration,
    pub preheat_k: f64,
    /// Where the comfort floor takes part of an event's shed away (people are in when it
    /// starts), the pre-heat lasts at least `floor_preheat` and warms by up to `floor_preheat_k`
    /// more: as much as the floor takes, so the walls store what the floor would cost.
    pub floor_preheat: Duration,
    pub floor_preheat_k: f64,
    /// How far below the schedule a full-depth shed goes; never below the comfort floor while
    /// people are in.
    pub shed_k: f64,
    /// After the event: zones start recovering one after another over `recovery_spread`, each
    /// climbing back to its schedule in equal steps over `recovery`, by at most
    /// `recovery_k_per_step` a step. A boiler shared by the zones recharges their walls too:
    /// climbing back fast makes the zones call for heat together (the rebound peak).
    pub recovery_spread: Duration,
    pub recovery: Duration,
    pub recovery_k_per_step: f64,
    /// In a day-ahead price series, a slot this many times the day's median is a price event.
    pub price_spike_ratio: f64,
    /// The most the loads the agent controls draw, kW: a request to stay under more than
    /// this asks nothing and is refused.
    pub capacity_kw: f64,
}

impl Default for FlexSettings {
    fn default() -> Self {
        Self {
            preheat: Duration::from_secs(2 * 3600),
            preheat_k: 1.0,
            floor_preheat: Duration::from_secs(6 * 3600),
            floor_preheat_k: 1.0,
            shed_k: 4.0,
            recovery_spread: Duration::from_secs(3600),
            recovery: Duration::from_secs(2 * 3600),
            recovery_k_per_step: 0.5,
            price_spike_ratio: 1.25,
            capacity_kw: 1000.0,
        }
    }
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum BoundsError {
    #[error("setpoint range {min_c}–{max_c} °C: the minimum must be finite and below the maximum")]
    Range { min_c: f64, max_c: f64 },
    #[error("largest change per step {max_step_k} K must be positive and finite")]
    Step { max_step_k: f64 },
    #[error("shortest time between changes {min_interval_ms} ms must not be negative")]
    Interval { min_interval_ms: i64 },
}

/// A zone's hard bounds, from config.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Bounds {
    min_c: f64,
    max_c: f64,
    max_step_k: f64,
    min_interval_ms: i64,
}

impl Bounds {
    pub fn new(min_c: f64, max_c: f64, max_step_k: f64, min_interval_ms: i64) -> Result<Self, BoundsError> {
        if !(min_c.is_finite() && max_c.is_finite() && min_c < max_c) {
            return Err(BoundsError::Range { min_c, max_c });
        }
        if !(max_step_k.is_finite() && max_step_k > 0.0) {
            return Err(BoundsError::Step { max_step_k });
        }
        if min_interval_ms < 0 {
            return Err(BoundsError::Interval { min_interval_ms });
        }
        Ok(Self { min_c, max_c, max_step_k, min_interval_ms })
    }

    pub fn min_c(&self) -> f64 {
        self.min_c
    }

    pub fn max_c(&self) -> f64 {
        self.max_c
    }

    pub fn max_step_k(&self) -> f64 {
        self.max_step_k
    }

    pub fn min_interval_ms(&self) -> i64 {
        self.min_interval_ms
    }

    /// The setpoint brought into the zone's range.
    pub fn clamp(&self, setpoint: f64) -> f64 {
        setpoint.clamp(self.min_c, self.max_c)
    }
}

fn finite_in(v: f64, range: std::ops::RangeInclusive<f64>) -> bool {
    v.is_finite() && range.contains(&v)
}

/// The section's values in range, each zone's bounds whole and its zone known.
pub(super) fn validate(file: ControlFile, zones_of_points: &[&str], check: &mut Check) -> ControlConfig {
    let min_step = std::time::Duration::from_secs(60);
    if file.step.0 < min_step || file.command_ttl.0 < file.step.0 {
        check.fail(
            "control.step / control.command_ttl",
            (file.step.to_string(), file.command_ttl.to_string()),
            "use a step of at least \"1m\" and a command lifetime of at least one step (e.g. \"15m\" and \"6h\")",
        );
    }
    for (key, value, range, hint) in [
        ("control.comfort_budget_kh", file.comfort_budget_kh, 0.0..=50.0, "K·h per zone and week, e.g. 1.0"),
        ("control.comfort_margin_k", file.comfort_margin_k, 0.0..=3.0, "a margin of 0–3 K, e.g. 0.5"),
        ("control.ramp_k_per_day", file.ramp_k_per_day, 0.0..=10.0, "0 (at once) or e.g. 0.5 K a day"),
        ("control.flex.preheat_k", file.flex.preheat_k, 0.0..=5.0, "0–5 K, e.g. 1.0"),
        ("control.flex.floor_preheat_k", file.flex.floor_preheat_k, 0.0..=5.0, "0–5 K, e.g. 3.0"),
        ("control.flex.shed_k", file.flex.shed_k, 0.0..=10.0, "0–10 K, e.g. 4.0"),
        ("control.flex.recovery_k_per_step", file.flex.recovery_k_per_step, 0.05..=10.0, "e.g. 0.5 K a step"),
        ("control.flex.price_spike_ratio", file.flex.price_spike_ratio, 1.0..=10.0, "1–10 times the median, e.g. 1.25"),
        (
            "control.flex.capacity_kw",
            file.flex.capacity_kw,
            1.0..=100_000.0,
            "the controlled plant's rated power, e.g. 60 kW",
        ),
    ] {
        if !finite_in(value, range) {
            check.fail(key, value, hint);
        }
    }
    // An event's phases are hours long; a day or more is a typo that would hold a zone away
    // from its schedule for that long.
    let day = std::time::Duration::from_secs(86_400);
    for (key, span) in [
        ("control.flex.preheat", &file.flex.preheat),
        ("control.flex.floor_preheat", &file.flex.floor_preheat),
        ("control.flex.recovery_spread", &file.flex.recovery_spread),
        ("control.flex.recovery", &file.flex.recovery),
    ] {
        if span.0 >= day {
            check.fail(key, span.to_string(), "less than a day, e.g. \"2h\"");
        }
    }
    let mut zones = Vec::new();
    for (i, z) in file.zones.into_iter().enumerate() {
        let key = format!("control.zones[{i}]");
        if !zones_of_points.contains(&z.zone.as_str()) {
            // Each zone once, in the order the points name them.
            let mut named: Vec<&str> = Vec::new();
            for zone in zones_of_points {
                if !named.contains(zone) {
                    named.push(zone);
                }
            }
            check.fail(format!("{key}.zone"), &z.zone, format!("name a zone the points use: {}", named.join(", ")));
        }
        if z.command_topic.is_empty() || z.command_topic.contains(['+', '#']) {
            check.fail(
                format!("{key}.command_topic"),
                &z.command_topic,
                "give the thermostat's topic, without wildcards",
            );
        }
        if let Some(topic) = z.release_topic.as_ref().filter(|t| t.is_empty() || t.contains(['+', '#'])) {
            check.fail(format!("{key}.release_topic"), topic, "give the device's release topic, without wildcards");
        }
        let release = Release::of(&z);
        if z.holds && !release.explicit() {
            check.fail(
                format!("{key}.holds"),
                z.holds,
                "a device that holds a command until released needs a way to release it: give release_topic \
                 (e.g. \"bms/site/zone/setpoint/release\"), release_payload, or format = \"value\" (released by {\"value\": null})",
            );
        }
        let (min_c, max_c) = (z.min_c.unwrap_or(file.min_c), z.max_c.unwrap_or(file.max_c));
        let max_step_k = z.max_step_k.unwrap_or(file.max_step_k);
        let interval = z.min_interval.unwrap_or(file.min_interval);
        let sane = finite_in(min_c, 5.0..=30.0) && finite_in(max_c, 5.0..=30.0);
        match Bounds::new(min_c, max_c, max_step_k, interval.as_millis_i64()).ok().filter(|_| sane) {
            Some(bounds) => zones.push(ControlZone {
                zone: z.zone,
                command_topic: z.command_topic,
                format: z.format,
                release,
                holds: z.holds,
                bounds,
            }),
            None => check.fail(
                format!("{key} min_c / max_c / max_step_k"),
                (min_c, max_c, max_step_k),
                "use a range within 5–30 °C, its minimum below its maximum, and a positive step (e.g. 12, 24, 4)",
            ),
        }
    }
    let f = file.flex;
    ControlConfig {
        mode: file.mode,
        step_ms: file.step.as_millis_i64(),
        command_ttl_ms: file.command_ttl.as_millis_i64(),
        budget_kh_per_week: file.comfort_budget_kh,
        comfort_margin_k: file.comfort_margin_k,
        ramp_k_per_day: file.ramp_k_per_day,
        flex: FlexSettings {
            preheat: f.preheat.0,
            preheat_k: f.preheat_k,
            floor_preheat: f.floor_preheat.0,
            floor_preheat_k: f.floor_preheat_k,
            shed_k: f.shed_k,
            recovery_spread: f.recovery_spread.0,
            recovery: f.recovery.0,
            recovery_k_per_step: f.recovery_k_per_step,
            price_spike_ratio: f.price_spike_ratio,
            capacity_kw: f.capacity_kw,
        },
        zones,
    }
}
