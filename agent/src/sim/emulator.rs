//! The emulated building in event time: the physics of `sobre_models::emulator`, driven by the
//! weather year, the timetable, the building's own thermostat programme, the agent's setpoint
//! commands and its occupants. No I/O: it takes messages and gives messages, one step at a time.

use super::config::{ControlSystem, SimSettings, ZoneStyle};
use super::devices::{self, parse_setpoint, parse_write, CommandError, Report, Topics, ZoneReport};
use super::programme::Period;
use super::random::Randomiser;
use crate::advisor::setting::FROST_PROTECTION_C;
use chrono::{NaiveDate, TimeZone};
use serde::Serialize;
use sobre_models::emulator::{Building, EmulatorError, Noise, Sensor, StepOutcome, ZoneDrive, OUTDOOR_PPM};

/// Seeds the CO₂ sensors' noise apart from the thermometers', so adding CO₂ sensors to a
/// building changes none of its temperature readings.
const CO2_NOISE_STREAM: u64 = 0xC02;
/// The share of a zone's usual crowd that comes in unannounced (`[random]`): a meeting, not a class.
const UNANNOUNCED_OCCUPANCY: f64 = 0.25;

/// What the building's thermostats are told to hold, besides their own programme.
#[derive(Debug, Clone, Copy, Default)]
struct ZoneState {
    /// An agent's command: a thermostat drops it at the programme's next period; a BMS holds
    /// it (no period) until it is released, above its programme as BACnet's priority array.
    command: Option<(f64, Option<Period>)>,
    /// An occupant's hand on the thermostat, until a time; it wins over commands.
    occupant: Option<(f64, i64)>,
    /// Since when the occupants have been cold.
    cold_since: Option<i64>,
}

/// The ground truth the emulator knows and the agent does not, for tests and the demo.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Truth {
    pub ts: String,
    pub step: u64,
    pub done: bool,
    /// Electricity (heat pump) or fuel (boiler) the plant drew, kWh.
    pub plant_kwh: f64,
    /// A boiler's pumps and burner fan, kWh (none for a heat pump: `plant_kwh` has them).
    pub hvac_kwh: f64,
    pub heat_kwh: f64,
    pub equipment_kwh: f64,
    pub capacity_limited_steps: u64,
    pub commands_applied: u64,
    pub commands_refused: u64,
    pub occupant_overrides: u64,
    /// Times a randomised building (`[random]`) changed its own programme.
    pub programme_changes: u64,
    /// Times people came into a zone its calendar had empty (`[random]`).
    pub unannounced_visits: u64,
    pub zones: Vec<ZoneTruth>,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct ZoneTruth {
    pub zone: String,
    pub air_c: f64,
    pub mass_c: f64,
    pub setpoint_c: f64,
    pub heat_kwh: f64,
    /// Kelvin-hours outside the comfort band while occupied (BOPTEST's definition).
    pub discomfort_kh: f64,
    pub occupied_h: f64,
    /// Share of the zone's people in it now (0–1).
    pub occupancy: f64,
    pub co2_ppm: f64,
    pub commanded: bool,
    pub overridden: bool,
}

/// What the building's devices read at the end of a step.
#[derive(Debug, Clone)]
pub struct Readings {
    pub ts_ms: i64,
    pub zones: Vec<ZoneReport>,
    pub outdoor: f64,
    pub ghi: f64,
    /// The plant's mean input over the step, W.
    pub heating_w: f64,
    /// A boiler's pumps and burner fan over the step, W: 0 while the plant is off.
    pub hvac_w: f64,
}

/// What an incoming message meant.
#[derive(Debug, Clone, PartialEq)]
pub enum Inbound {
    /// A test asks for this many steps.
    Step(u64),
    Command {
        zone: usize,
        setpoint: f64,
    },
    Occupant {
        zone: usize,
        setpoint: f64,
    },
    /// A BMS's written setpoint is relinquished: the programme is back in force.
    Released {
        zone: usize,
    },
    /// The agent went away: its commands lapse.
    AgentOffline,
    Refused {
        topic: String,
        error: CommandError,
    },
    Ignored,
}

#[derive(Debug)]
pub struct Emulator {
    settings: SimSettings,
    topics: Topics,
    building: Building,
    noise: Noise,
    sensor_outdoor: Sensor,
    /// End of the last step, epoch ms.
    now_ms: i64,
    zones: Vec<ZoneState>,
    drives: Vec<ZoneDrive>,
    outcome: StepOutcome,
    truth: Truth,
    heating_w: f64,
    building_w: f64,
    hvac_w: f64,
    weather: (f64, f64),
    /// The local day whose mean outdoor temperature the cut-off last looked up, and that mean.
    day_mean: Option<(chrono::NaiveDate, f64)>,
    /// The day optimum start last began the heating early.
    started_early: Option<NaiveDate>,
    /// The programme is in its heated period (under a BMS: the plant is on).
    heated_period: bool,
    co2_ppm: Vec<f64>,
    co2_noise: Noise,
    /// A randomised building's events (`[random]`).
    random: Option<Randomiser>,
    /// What people asked the agent on its override topic, not yet taken: (zone, payload).
    agent_overrides: Vec<(usize, String)>,
    /// Until when people who came unannounced stay in each zone (ms; 0: nobody).
    visits: Vec<i64>,
}

impl Emulator {
    pub fn new(settings: SimSettings) -> Result<Self, EmulatorError> {
        let (outdoor, ghi) = settings.weather.at(settings.start_ms);
        // Start where the building's own programme would have left it; a BMS that switches the
        // plant off at night leaves it about halfway between its day and the outdoors.
        let c = &settings.control;
        let start_c = match c.system {
            ControlSystem::Thermostats => c.unoccupied_c.max(outdoor),
            ControlSystem::Bms => c.unoccupied_c.max(0.5 * (c.occupied_c + outdoor)),
        };
        let building = Building::new(settings.zones.clone(), settings.couplings.clone(), settings.plant, start_c)?;
        let n = settings.zones.len();
        let truth = Truth {
            zones: settings.zones.iter().map(|z| ZoneTruth { zone: z.name.clone(), ..ZoneTruth::default() }).collect(),
            ..Truth::default()
        };
        Ok(Self {
            topics: Topics::new(&settings),
            noise: Noise::new(settings.seed),
            sensor_outdoor: Sensor { sigma: 0.05, quantum: 0.1 },
            now_ms: settings.start_ms,
            zones: vec![ZoneState::default(); n],
            drives: vec![ZoneDrive { setpoint: start_c, occupancy: 0.0 }; n],
            outcome: StepOutcome::default(),
            truth,
            heating_w: 0.0,
            building_w: 0.0,
            hvac_w: 0.0,
            weather: (outdoor, ghi),
            day_mean: None,
            started_early: None,
            heated_period: false,
            co2_ppm: vec![OUTDOOR_PPM; n],
            co2_noise: Noise::new(settings.seed ^ CO2_NOISE_STREAM),
            random: settings.random.map(|r| Randomiser::new(r, settings.control)),
            agent_overrides: Vec::new(),
            visits: vec![0; settings.zones.len()],
            building,
            settings,
        })
    }

    pub fn settings(&self) -> &SimSettings {
        &self.settings
    }

    pub fn topics(&self) -> &Topics {
        &self.topics
    }

    pub fn now_ms(&self) -> i64 {
        self.now_ms
    }

    pub fn steps_done(&self) -> u64 {
        self.truth.step
    }

    pub fn is_done(&self) -> bool {
        self.truth.step >= self.settings.steps
    }

    /// Topics the emulator listens to.
    pub fn subscriptions(&self) -> Vec<String> {
        let mut topics: Vec<String> = self
            .topics
            .zones
            .iter()
            .flat_map(|z| [Some(z.command.clone()), Some(z.occupant.clone()), z.release.clone()])
            .flatten()
            .collect();
        topics.push(self.topics.step.clone());
        topics.extend(self.settings.agent_status.clone());
        topics
    }

    /// Reads one incoming message and applies what it asks, except steps (the caller runs them).
    pub fn handle(&mut self, topic: &str, payload: &[u8]) -> Inbound {
        if topic == self.topics.step {
            let text = String::from_utf8_lossy(payload);
            return match text.trim().parse::<u64>() {
                Ok(n) => Inbound::Step(n),
                Err(_) => Inbound::Refused {
                    topic: topic.into(),
                    error: CommandError::NotSteps(text.chars().take(64).collect()),
                },
            };
        }
        if self.settings.agent_status.as_deref() == Some(topic) {
            let offline = serde_json::from_slice::<serde_json::Value>(payload)
                .map(|v| v["state"] == "offline")
                .unwrap_or(payload == b"offline");
            if offline {
                self.zones.iter_mut().for_each(|z| z.command = None);
                return Inbound::AgentOffline;
            }
            return Inbound::Ignored;
        }
        if let Some(zone) = self.topics.zones.iter().position(|z| z.release.as_deref() == Some(topic)) {
            self.zones[zone].command = None;
            return Inbound::Released { zone };
        }
        let Some((zone, is_command)) = self.topics.zones.iter().enumerate().find_map(|(i, z)| {
            (z.command == topic).then_some((i, true)).or((z.occupant == topic).then_some((i, false)))
        }) else {
            return Inbound::Ignored;
        };
        let holds = self.settings.holds.get(zone).copied().unwrap_or(false);
        // A BMS's write, or a device that holds, takes `null` as a release.
        let writes = holds || self.settings.zone_style == ZoneStyle::Bms;
        let written = if is_command && writes { parse_write(payload) } else { parse_setpoint(payload).map(Some) };
        let setpoint = match written {
            Ok(Some(v)) => v,
            Ok(None) => {
                self.zones[zone].command = None;
                return Inbound::Released { zone };
            }
            Err(error) => {
                self.truth.commands_refused += 1;
                return Inbound::Refused { topic: topic.into(), error };
            }
        };
        let local = self.settings.calendar.local(self.now_ms);
        if is_command {
            let (_, period) = self.settings.control.setpoint(&self.settings.calendar, local);
            self.zones[zone].command = Some((setpoint, (!holds).then_some(period)));
            self.truth.commands_applied += 1;
            Inbound::Command { zone, setpoint }
        } else {
            self.zones[zone].occupant = Some((setpoint, self.settings.calendar.end_of_day_ms(local)));
            self.truth.occupant_overrides += 1;
            Inbound::Occupant { zone, setpoint }
        }
    }

    /// The setpoint each thermostat holds at `ts_ms`: the occupant's, else the agent's, else
    /// the programme's. Lapsed holds are dropped.
    fn refresh_setpoints(&mut self, ts_ms: i64) {
        let local = self.settings.calendar.local(ts_ms);
        let warm = self.settings.control.cut_off_above_c.is_some_and(|c| self.day_mean_outdoor(local.date()) > c);
        let s = &self.settings;
        let preheating = self.started_early == Some(local.date()) && local.time() < s.calendar.from;
        let (programmed, period) = if preheating {
            // Optimum start began the day's heating before the occupants arrive.
            (s.control.occupied_c, Period::heated(local.date()))
        } else {
            s.control.setpoint(&s.calendar, local)
        };
        let programmed = if warm { programmed.min(FROST_PROTECTION_C) } else { programmed };
        self.heated_period = period.is_heated();
        for (i, (state, drive)) in self.zones.iter_mut().zip(&mut self.drives).enumerate() {
            if state.command.is_some_and(|(_, lapses)| lapses.is_some_and(|p| p != period)) {
                state.command = None;
            }
            if state.occupant.is_some_and(|(_, until)| ts_ms >= until) {
                state.occupant = None;
            }
            let setpoint = state.occupant.map(|o| o.0).or(state.command.map(|c| c.0)).unwrap_or(programmed);
            // A few people who came unannounced: a quarter of the room's usual crowd at least.
            let visited = if ts_ms < self.visits[i] { UNANNOUNCED_OCCUPANCY } else { 0.0 };
            *drive = ZoneDrive { setpoint, occupancy: s.occupancy.at(&s.calendar, i, local).max(visited) };
        }
    }

    /// A randomised building's events at the start of a step: at a local midnight its programme
    /// may change; in any step a person may turn a zone's device, or ask the agent.
    fn play_random(&mut self, ts_ms: i64) {
        let Some(random) = self.random.as_mut() else { return };
        let step_h = self.settings.step_s / 3600.0;
        if self.settings.calendar.local(ts_ms).time() == chrono::NaiveTime::MIN {
            if let Some(programme) = random.programme() {
                self.settings.control = programme;
                self.truth.programme_changes += 1;
            }
        }
        let (mut at_device, mut to_agent) = (Vec::new(), Vec::new());
        let local = self.settings.calendar.local(ts_ms);
        for zone in 0..self.zones.len() {
            at_device.extend(random.at_device(step_h).map(|p| (zone, p)));
            to_agent.extend(random.asked_of_agent(step_h).map(|p| (zone, p)));
            let expected = self.settings.occupancy.at(&self.settings.calendar, zone, local) > 0.0;
            if let (false, true, Some(stay_ms)) = (expected, ts_ms >= self.visits[zone], random.visit(step_h)) {
                self.visits[zone] = ts_ms + stay_ms;
                self.truth.unannounced_visits += 1;
            }
        }
        // At the device as any occupant's hand: nonsense and values outside 5–30 °C refused.
        for (zone, payload) in at_device {
            let topic = self.topics.zones[zone].occupant.clone();
            self.handle(&topic, payload.as_bytes());
        }
        self.agent_overrides.extend(to_agent);
    }

    /// What people asked the agent on its override topic since the last call: (zone, payload).
    pub fn take_agent_overrides(&mut self) -> Vec<(usize, String)> {
        std::mem::take(&mut self.agent_overrides)
    }

    /// Optimum start: in the hours before the occupants arrive on a heated day, the BMS starts
    /// the heating once waiting one more step would leave a zone short of the occupied setpoint
    /// at arrival. It judges from the zones as they are (an idealised BMS: it knows how fast
    /// this building warms, where a real one learns it), so it starts earlier after a weekend
    /// or a cold night, and never earlier than `max_preheat`.
    fn optimum_start(&mut self, ts_ms: i64) -> Result<(), EmulatorError> {
        let s = &self.settings;
        let local = s.calendar.local(ts_ms);
        let date = local.date();
        if !s.control.optimum_start || self.started_early == Some(date) || !s.control.heats_on(&s.calendar, date) {
            return Ok(());
        }
        let Some(arrival) =
            s.timezone.from_local_datetime(&date.and_time(s.calendar.from)).earliest().map(|t| t.timestamp_millis())
        else {
            return Ok(());
        };
        if ts_ms >= arrival || ts_ms < arrival - s.control.max_preheat_s * 1000 {
            return Ok(());
        }
        let step_ms = (s.step_s * 1000.0) as i64;
        let mut ahead = self.building.clone();
        let mut outcome = StepOutcome::default();
        let (outdoor, ghi) = s.weather.at(ts_ms + step_ms / 2);
        ahead.step(s.step_s, outdoor, ghi, &self.drives, &mut outcome)?;
        let heat = vec![ZoneDrive { setpoint: s.control.occupied_c, occupancy: 0.0 }; self.drives.len()];
        let mut t = ts_ms + step_ms;
        while t < arrival {
            let (outdoor, ghi) = s.weather.at(t + step_ms / 2);
            ahead.step(s.step_s, outdoor, ghi, &heat, &mut outcome)?;
            t += step_ms;
        }
        let reached = ahead.air().iter().zip(ahead.zones()).all(|(a, z)| *a >= s.control.occupied_c - z.deadband);
        if !reached {
            self.started_early = Some(date);
        }
        Ok(())
    }

    /// The mean outdoor temperature of a local day, from the weather year's hours: what a
    /// day-ahead forecast tells the building's summer/winter switch.
    fn day_mean_outdoor(&mut self, date: chrono::NaiveDate) -> f64 {
        if let Some((_, mean)) = self.day_mean.filter(|(d, _)| *d == date) {
            return mean;
        }
        let s = &self.settings;
        let temperatures: Vec<f64> = (0..24)
            .filter_map(|h| {
                let local = date.and_hms_opt(h, 30, 0)?;
                let utc = s.calendar.timezone.from_local_datetime(&local).earliest()?;
                Some(s.weather.at(utc.timestamp_millis()).0)
            })
            .collect();
        let mean = temperatures.iter().sum::<f64>() / temperatures.len().max(1) as f64;
        self.day_mean = Some((date, mean));
        mean
    }

    /// Advances one step. Does nothing once the configured period is over.
    pub fn step(&mut self) -> Result<(), EmulatorError> {
        if self.is_done() {
            return Ok(());
        }
        let start = self.now_ms;
        let step_ms = (self.settings.step_s * 1000.0) as i64;
        self.play_random(start);
        self.optimum_start(start)?;
        self.refresh_setpoints(start);
        let plant_enabled = self.heated_period;
        let (outdoor, ghi) = self.settings.weather.at(start + step_ms / 2);
        self.building.step(self.settings.step_s, outdoor, ghi, &self.drives, &mut self.outcome)?;
        self.now_ms = start + step_ms;
        self.weather = (outdoor, ghi);
        let hours = self.settings.step_s / 3600.0;
        let o = &self.outcome;
        self.heating_w = o.plant_wh / hours;
        self.building_w = o.equipment_wh / hours;
        // Pumps run while the plant is on (its heated period, or a zone calling for heat); the
        // burner's fan as it fires.
        self.hvac_w = match self.settings.auxiliaries {
            Some(a) if plant_enabled || o.heat_wh > 0.0 => {
                let firing = o.heat_wh / hours / self.settings.plant.capacity_w(outdoor).max(1.0);
                a.pumps_w + a.fan_w * firing.min(1.0)
            }
            _ => 0.0,
        };
        for ((ppm, spec), drive) in self.co2_ppm.iter_mut().zip(&self.settings.co2).zip(&self.drives) {
            *ppm = spec.step(*ppm, self.settings.step_s, drive.occupancy);
        }
        let t = &mut self.truth;
        t.step += 1;
        t.done = t.step >= self.settings.steps;
        t.plant_kwh += o.plant_wh / 1000.0;
        t.hvac_kwh += self.hvac_w * hours / 1000.0;
        t.heat_kwh += o.heat_wh / 1000.0;
        t.equipment_kwh += o.equipment_wh / 1000.0;
        t.capacity_limited_steps += u64::from(o.capacity_limited > 0);
        let comfort = self.settings.comfort;
        for (i, (zone, z)) in o.zones.iter().zip(&mut t.zones).enumerate() {
            let occupancy = self.drives[i].occupancy;
            z.air_c = zone.air;
            z.mass_c = zone.mass;
            z.heat_kwh += zone.heat_wh / 1000.0;
            if occupancy > 0.0 {
                let deviation = (comfort.min_c - zone.mean_air).max(0.0) + (zone.mean_air - comfort.max_c).max(0.0);
                z.discomfort_kh += deviation * hours;
                z.occupied_h += hours;
            }
            // Someone cold for long enough turns the thermostat up until the end of the day.
            let state = &mut self.zones[i];
            match &self.settings.occupants {
                Some(rule) if occupancy > 0.0 && zone.mean_air < rule.complain_below_c => {
                    let since = *state.cold_since.get_or_insert(start);
                    if state.occupant.is_none() && self.now_ms - since >= rule.after.as_millis_i64() {
                        let local = self.settings.calendar.local(self.now_ms);
                        state.occupant = Some((rule.raise_to_c, self.settings.calendar.end_of_day_ms(local)));
                        t.occupant_overrides += 1;
                    }
                }
                _ => state.cold_since = None,
            }
        }
        self.refresh_setpoints(self.now_ms);
        Ok(())
    }

    /// The ground truth now.
    pub fn truth(&mut self) -> &Truth {
        self.truth.ts = crate::clock::iso(self.now_ms);
        for (((z, state), drive), ppm) in
            self.truth.zones.iter_mut().zip(&self.zones).zip(&self.drives).zip(&self.co2_ppm)
        {
            z.setpoint_c = drive.setpoint;
            z.occupancy = drive.occupancy;
            z.co2_ppm = *ppm;
            z.commanded = state.command.is_some();
            z.overridden = state.occupant.is_some();
        }
        &self.truth
    }

    /// What the devices read now (sensor noise included), as `messages` publishes it and a
    /// controller in the same process sees it.
    pub fn readings(&mut self) -> Readings {
        let (sensor, co2_sensor) = (self.settings.sensor, self.settings.co2_sensor);
        let zones = self
            .outcome
            .zones
            .iter()
            .zip(&self.drives)
            .zip(&self.co2_ppm)
            .map(|((z, d), ppm)| ZoneReport {
                temperature: sensor.read(z.air, &mut self.noise),
                setpoint: d.setpoint,
                demand: 100.0 * z.duty,
                occupied: d.occupancy > 0.0,
                co2_ppm: co2_sensor.read(*ppm, &mut self.co2_noise),
            })
            .collect();
        let (outdoor, ghi) = self.weather;
        Readings {
            ts_ms: self.now_ms,
            zones,
            outdoor: self.sensor_outdoor.read(outdoor, &mut self.noise),
            ghi,
            heating_w: self.heating_w,
            hvac_w: self.hvac_w,
        }
    }

    /// What the devices publish now, as (topic, payload), appended to `out`.
    pub fn messages(&mut self, out: &mut Vec<(String, String)>) {
        let r = self.readings();
        let report = Report {
            ts_ms: r.ts_ms,
            zones: &r.zones,
            outdoor: r.outdoor,
            ghi: r.ghi,
            heating_kwh: self.truth.plant_kwh,
            heating_w: r.heating_w,
            building_kwh: self.truth.equipment_kwh,
            building_w: self.building_w,
            hvac_kwh: self.truth.hvac_kwh,
            hvac_w: r.hvac_w,
        };
        devices::render(&self.settings, &self.topics, &report, out);
        // People's asks to the agent, on its override topic (next to its status topic).
        let prefix = self.settings.agent_status.as_deref().and_then(|s| s.strip_suffix("/status")).map(str::to_owned);
        for (zone, payload) in self.take_agent_overrides() {
            if let Some(prefix) = &prefix {
                out.push((format!("{prefix}/override/{}", self.settings.zones[zone].name), payload));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn school(tuning: &str) -> Emulator {
        let text = super::super::SCHOOL.replace("tuning = \"poor\"", &format!("tuning = \"{tuning}\""));
        Emulator::new(SimSettings::parse(&text, "school").expect("valid")).expect("valid physics")
    }

    fn run_days(e: &mut Emulator, days: u64) {
        for _ in 0..days * 96 {
            e.step().expect("steps");
        }
    }

    #[test]
    fn the_well_tuned_school_uses_a_fifth_less_than_the_poorly_tuned_one_and_stays_comfortable() {
        let (mut poor, mut good) = (school("poor"), school("good"));
        run_days(&mut poor, 28);
        run_days(&mut good, 28);
        let (p, g) = (poor.truth().clone(), good.truth().clone());
        assert!(g.plant_kwh < 0.8 * p.plant_kwh, "good {} vs poor {}", g.plant_kwh, p.plant_kwh);
        for z in &g.zones {
            assert!(z.occupied_h > 150.0 && z.discomfort_kh < 1.0, "{}: {} K·h", z.zone, z.discomfort_kh);
        }
        // As the README says
        let less = format!("draws {:.0} % less electricity", 100.0 * (1.0 - g.plant_kwh / p.plant_kwh));
        crate::sim::readme::says(&less);
    }
}
