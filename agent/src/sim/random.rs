//! `[random]`: a building that does not keep to its description, as real ones do not. Its own
//! programme changes now and then (start, stop, levels), each zone's device either drops a
//! command at its programme's next period or holds it until released (drawn per zone), and
//! people override at random: at the device, and through the agent's override topic, some of
//! them with values no device or agent should take; and people come in when nobody is expected
//! (an evening meeting, a Saturday's work), for one to three hours. Seeded: a seed replays a run exactly.
//! Absent, the building is exactly as described.

use super::programme::ControlProgramme;
use chrono::{NaiveTime, Timelike};
use serde::Deserialize;

/// Draws the zones' hold-or-drop apart from the run's events, so that changing a rate keeps
/// which devices hold.
const HOLDS_STREAM: u64 = 0x401D;

/// The `[random]` table; every rate is per zone (programme changes: per building) and week.
#[derive(Debug, Clone, Copy, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RandomFile {
    pub seed: u64,
    /// How often the building's programme changes (at a local midnight), per week.
    pub programme_changes_per_week: f64,
    /// The share of zones whose device holds a command until it is released.
    pub holding_share: f64,
    /// A person turns the device's setpoint, per zone and week (until the end of the day).
    pub device_overrides_per_week: f64,
    /// A person asks the agent on its override topic, per zone and week.
    pub agent_overrides_per_week: f64,
    /// The share of those overrides with a value nobody should take (refused or clamped).
    pub absurd_share: f64,
    /// People come into a zone the calendar has empty, per zone and week of empty hours.
    pub unannounced_visits_per_week: f64,
}

impl Default for RandomFile {
    fn default() -> Self {
        Self {
            seed: 1,
            programme_changes_per_week: 1.0,
            holding_share: 0.5,
            device_overrides_per_week: 2.0,
            agent_overrides_per_week: 2.0,
            absurd_share: 0.2,
            unannounced_visits_per_week: 1.0,
        }
    }
}

impl RandomFile {
    /// What is wrong with it, each problem with its key.
    pub fn problems(&self) -> Vec<String> {
        let mut out = Vec::new();
        let rates = [
            ("programme_changes_per_week", self.programme_changes_per_week, 7.0),
            ("device_overrides_per_week", self.device_overrides_per_week, 500.0),
            ("agent_overrides_per_week", self.agent_overrides_per_week, 500.0),
            ("unannounced_visits_per_week", self.unannounced_visits_per_week, 50.0),
        ];
        for (key, v, most) in rates {
            if !(v.is_finite() && (0.0..=most).contains(&v)) {
                out.push(format!("random.{key} {v}: between 0 and {most}"));
            }
        }
        for (key, v) in [("holding_share", self.holding_share), ("absurd_share", self.absurd_share)] {
            if !(v.is_finite() && (0.0..=1.0).contains(&v)) {
                out.push(format!("random.{key} {v}: a share, between 0 and 1"));
            }
        }
        out
    }

    /// Which zones' devices hold a command until released, drawn from the seed.
    pub fn holds(&self, zones: usize) -> Vec<bool> {
        let mut rng = fastrand::Rng::with_seed(self.seed ^ HOLDS_STREAM);
        (0..zones).map(|_| rng.f64() < self.holding_share).collect()
    }
}

/// The run's random events, in event time.
#[derive(Debug, Clone)]
pub struct Randomiser {
    rng: fastrand::Rng,
    file: RandomFile,
    /// The programme as described: every change is drawn from it, so changes do not drift.
    base: ControlProgramme,
}

/// Values a person may type that no device or agent should take as they are.
const ABSURD_AT_DEVICE: [&str; 4] = ["85", "-4", "\"warmer please\"", r#"{"setpoint": 31}"#];
const ABSURD_TO_AGENT: [&str; 4] = [
    r#"{"setpoint_c": 45.0}"#,
    r#"{"setpoint_c": -3.0}"#,
    "warmer please",
    r#"{"setpoint_c": 21.0, "until": "1999-01-01T00:00:00Z"}"#,
];

impl Randomiser {
    pub fn new(file: RandomFile, base: ControlProgramme) -> Self {
        Self { rng: fastrand::Rng::with_seed(file.seed), file, base }
    }

    fn happens(&mut self, per_week: f64, step_h: f64) -> bool {
        self.rng.f64() < per_week * step_h / 168.0
    }

    /// At a local midnight: the programme the building runs from today, when it changes.
    pub fn programme(&mut self) -> Option<ControlProgramme> {
        if self.rng.f64() >= self.file.programme_changes_per_week / 7.0 {
            return None;
        }
        let mut p = self.base;
        // Levels by half degrees, times by quarter-hours, within what a facility manager does.
        let half_degrees = |rng: &mut fastrand::Rng| f64::from(rng.i32(-3..=3)) * 0.5;
        p.occupied_c = (p.occupied_c + half_degrees(&mut self.rng)).clamp(5.0, 30.0);
        if p.system == super::config::ControlSystem::Thermostats {
            p.unoccupied_c = (p.unoccupied_c + half_degrees(&mut self.rng)).clamp(5.0, p.occupied_c - 0.5);
        }
        let shift = |t: NaiveTime, rng: &mut fastrand::Rng| {
            let minutes = i64::from(t.hour() * 60 + t.minute()) + 15 * rng.i64(-4..=4);
            NaiveTime::from_num_seconds_from_midnight_opt(u32::try_from(minutes.clamp(0, 1425) * 60).unwrap_or(0), 0)
                .unwrap_or(t)
        };
        let (start, stop) = (shift(p.start, &mut self.rng), shift(p.stop, &mut self.rng));
        // At least two hours of heating: a programme that stops before it starts is no change a
        // person would make.
        if stop > start + chrono::Duration::hours(2) {
            (p.start, p.stop) = (start, stop);
        }
        Some(p)
    }

    /// What a person types at a zone's device this step, if anyone does.
    pub fn at_device(&mut self, step_h: f64) -> Option<String> {
        if !self.happens(self.file.device_overrides_per_week, step_h) {
            return None;
        }
        if self.rng.f64() < self.file.absurd_share {
            return Some(ABSURD_AT_DEVICE[self.rng.usize(..ABSURD_AT_DEVICE.len())].to_string());
        }
        Some(format!(r#"{{"setpoint": {:.1}}}"#, 14.0 + 0.5 * f64::from(self.rng.u32(0..=24))))
    }

    /// How long people who come into an empty zone this step stay (ms), if anyone comes.
    pub fn visit(&mut self, step_h: f64) -> Option<i64> {
        self.happens(self.file.unannounced_visits_per_week, step_h).then(|| self.rng.i64(4..=12) * 900_000)
    }

    /// What a person asks the agent for a zone this step, if anyone does: a setpoint (some
    /// outside the zone's range, for the agent to clamp), hands off, a cancel, or nonsense.
    pub fn asked_of_agent(&mut self, step_h: f64) -> Option<String> {
        if !self.happens(self.file.agent_overrides_per_week, step_h) {
            return None;
        }
        if self.rng.f64() < self.file.absurd_share {
            return Some(ABSURD_TO_AGENT[self.rng.usize(..ABSURD_TO_AGENT.len())].to_string());
        }
        Some(match self.rng.u32(0..10) {
            0 => r#"{"hands_off": true}"#.to_string(),
            1 => r#"{"cancel": true}"#.to_string(),
            _ => format!(r#"{{"setpoint_c": {:.1}}}"#, 8.0 + 0.5 * f64::from(self.rng.u32(0..=40))),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_random_table_out_of_range_is_refused_key_by_key() {
        let table = [
            (RandomFile { programme_changes_per_week: 8.0, ..RandomFile::default() }, "programme_changes_per_week"),
            (RandomFile { holding_share: 1.5, ..RandomFile::default() }, "holding_share"),
            (RandomFile { device_overrides_per_week: f64::NAN, ..RandomFile::default() }, "device_overrides_per_week"),
            (RandomFile { agent_overrides_per_week: -1.0, ..RandomFile::default() }, "agent_overrides_per_week"),
            (RandomFile { absurd_share: -0.1, ..RandomFile::default() }, "absurd_share"),
            (RandomFile { unannounced_visits_per_week: 51.0, ..RandomFile::default() }, "unannounced_visits_per_week"),
        ];
        assert!(RandomFile::default().problems().is_empty());
        for (file, key) in table {
            let problems = file.problems();
            assert!(problems.len() == 1 && problems[0].contains(key), "{key}: {problems:?}");
        }
    }

    #[test]
    fn a_seed_replays_the_same_building_and_another_seed_plays_another() {
        let base =
            ControlProgramme::preset(super::super::config::ControlSystem::Bms, super::super::config::Tuning::Good);
        let run = |seed: u64| {
            let file = RandomFile { seed, programme_changes_per_week: 7.0, ..RandomFile::default() };
            let mut r = Randomiser::new(file, base);
            let mut events = Vec::new();
            for _ in 0..2000 {
                events.extend(r.at_device(0.25));
                events.extend(r.asked_of_agent(0.25));
                events.extend(r.visit(0.25).map(|ms| ms.to_string()));
            }
            events.extend((0..20).filter_map(|_| r.programme().map(|p| format!("{p:?}"))));
            (file.holds(16), events)
        };
        assert_eq!(run(7), run(7));
        assert_ne!(run(7), run(8));
        // And the programmes it draws keep at least two hours of heating, in a thermostat's range
        let mut r = Randomiser::new(RandomFile { programme_changes_per_week: 7.0, ..RandomFile::default() }, base);
        for p in (0..500).filter_map(|_| r.programme()) {
            assert!(p.stop > p.start + chrono::Duration::hours(2) && (5.0..=30.0).contains(&p.occupied_c), "{p:?}");
        }
    }
}
