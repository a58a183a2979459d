//! A multi-zone building to test control on, deliberately richer than the models the agent
//! fits so that the agent cannot succeed by copying it. Per zone:
//!   C_air·dTa/dt  = U_win·(To − Ta) + V·occ·(To − Ta) + H·(Tm − Ta) + Σ U_ij·(Ta_j − Ta)
//!                   + f·(solar + internal) + heat
//!   C_mass·dTm/dt = H·(Ta − Tm) + U_wall·(To − Tm) + (1 − f)·(solar + internal)
//! with ventilation only while occupied, gains split between air and mass, an on/off thermostat
//! with a deadband switching each emitter, and one plant (heat pump or boiler) whose capacity
//! caps what all emitters draw together. Integrated by explicit Euler on substeps short enough
//! for the fastest node.

mod archetype;
mod co2;
mod plant;
mod sensor;

pub use archetype::{Envelope, Use};
pub use co2::{Co2Spec, OUTDOOR_PPM};
pub use plant::Plant;
pub use sensor::{Noise, Sensor};

/// Thermostats sample and switch this often, s.
const THERMOSTAT_PERIOD_S: f64 = 120.0;

/// One zone's physics, in SI units.
#[derive(Debug, Clone, PartialEq)]
pub struct ZoneSpec {
    pub name: String,
    pub floor_area_m2: f64,
    /// Air, furniture and light partitions, J/K.
    pub air_capacity: f64,
    /// Walls, floor and ceiling slabs, J/K.
    pub mass_capacity: f64,
    /// Air ↔ mass surface conductance, W/K.
    pub air_mass: f64,
    /// Windows and infiltration, air ↔ outdoor, W/K.
    pub air_outdoor: f64,
    /// Opaque envelope, mass ↔ outdoor, W/K.
    pub mass_outdoor: f64,
    /// Mechanical ventilation at full occupancy, W/K.
    pub ventilation: f64,
    /// Effective solar aperture: W of gains per W/m² of horizontal irradiance.
    pub solar_aperture_m2: f64,
    /// Share of solar and internal gains that warms the air directly; the rest the mass.
    pub gains_to_air: f64,
    /// Heat the zone's emitters give when on, W.
    pub emitter: f64,
    /// People, lighting and equipment at full occupancy, W (electric except people).
    pub occupied_gains: f64,
    /// Electric equipment at full occupancy, W; part of `occupied_gains`, metered.
    pub occupied_electric: f64,
    /// Standby electric load, always on, W; metered, and a gain.
    pub standby_electric: f64,
    /// Thermostat deadband, K: on below setpoint − deadband/2, off above setpoint + deadband/2.
    pub deadband: f64,
}

/// What drives a zone during one step.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ZoneDrive {
    pub setpoint: f64,
    /// 0 (empty) … 1 (fully occupied).
    pub occupancy: f64,
}

/// What a zone did during one step.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct ZoneOutcome {
    /// Air temperature at the end of the step, °C.
    pub air: f64,
    /// Mean air temperature over the step, °C.
    pub mean_air: f64,
    pub mass: f64,
    /// Heat delivered by the emitters, Wh.
    pub heat_wh: f64,
    /// Share of the step the emitter was on (a TRV's heating demand).
    pub duty: f64,
}

/// What the building did during one step.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct StepOutcome {
    pub zones: Vec<ZoneOutcome>,
    /// Heat delivered to all zones, Wh.
    pub heat_wh: f64,
    /// Energy the plant drew (electricity for a heat pump, fuel for a boiler), Wh.
    pub plant_wh: f64,
    /// Lighting and equipment electricity, Wh.
    pub equipment_wh: f64,
    /// Substeps in which the emitters asked for more than the plant could give.
    pub capacity_limited: u32,
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum EmulatorError {
    #[error("zone {zone:?}: {field} must be positive and finite, found {value}")]
    NotPositive { zone: String, field: &'static str, value: f64 },
    #[error("coupling {a}–{b} names a zone that does not exist (there are {zones})")]
    NoZone { a: usize, b: usize, zones: usize },
    #[error("{found} zone drives for {zones} zones")]
    Drives { found: usize, zones: usize },
}

/// The building and its state.
#[derive(Debug, Clone)]
pub struct Building {
    zones: Vec<ZoneSpec>,
    /// (a, b, W/K) between the air of two zones.
    couplings: Vec<(usize, usize, f64)>,
    plant: Plant,
    air: Vec<f64>,
    mass: Vec<f64>,
    heating: Vec<bool>,
    /// Scratch: the air flows of one substep, W.
    flow: Vec<f64>,
}

impl Building {
    /// A building at a uniform starting temperature, thermostats off.
    pub fn new(
        zones: Vec<ZoneSpec>,
        couplings: Vec<(usize, usize, f64)>,
        plant: Plant,
        start_c: f64,
    ) -> Result<Self, EmulatorError> {
        for z in &zones {
            let positive = [
                ("air_capacity", z.air_capacity),
                ("mass_capacity", z.mass_capacity),
                ("air_mass", z.air_mass),
                ("air_outdoor", z.air_outdoor),
                ("mass_outdoor", z.mass_outdoor),
                ("emitter", z.emitter),
                ("deadband", z.deadband),
            ];
            if let Some((field, value)) = positive.into_iter().find(|(_, v)| !(v.is_finite() && *v > 0.0)) {
                return Err(EmulatorError::NotPositive { zone: z.name.clone(), field, value });
            }
        }
        if let Some(&(a, b, _)) = couplings.iter().find(|(a, b, _)| *a >= zones.len() || *b >= zones.len()) {
            return Err(EmulatorError::NoZone { a, b, zones: zones.len() });
        }
        let n = zones.len();
        Ok(Self {
            zones,
            couplings,
            plant,
            air: vec![start_c; n],
            mass: vec![start_c; n],
            heating: vec![false; n],
            flow: vec![0.0; n],
        })
    }

    pub fn zones(&self) -> &[ZoneSpec] {
        &self.zones
    }

    pub fn plant(&self) -> &Plant {
        &self.plant
    }

    pub fn air(&self) -> &[f64] {
        &self.air
    }

    /// Euler substeps for a step of `seconds`: a fifth of the fastest node's time constant, and
    /// no longer than a thermostat's sampling period.
    fn substeps(&self, seconds: f64) -> usize {
        let fastest = (0..self.zones.len())
            .map(|i| {
                let z = &self.zones[i];
                let coupled: f64 = self.couplings.iter().filter(|(a, b, _)| *a == i || *b == i).map(|c| c.2).sum();
                let air = z.air_capacity / (z.air_mass + z.air_outdoor + z.ventilation + coupled);
                let mass = z.mass_capacity / (z.air_mass + z.mass_outdoor);
                air.min(mass)
            })
            .fold(f64::INFINITY, f64::min);
        ((seconds / (0.2 * fastest)).max(seconds / THERMOSTAT_PERIOD_S).ceil() as usize).max(1)
    }

    /// Advances the building by `seconds` under the given weather and zone drives.
    pub fn step(
        &mut self,
        seconds: f64,
        outdoor: f64,
        ghi: f64,
        drives: &[ZoneDrive],
        out: &mut StepOutcome,
    ) -> Result<(), EmulatorError> {
        let n = self.zones.len();
        if drives.len() != n {
            return Err(EmulatorError::Drives { found: drives.len(), zones: n });
        }
        out.zones.clear();
        out.zones.resize(n, ZoneOutcome::default());
        out.heat_wh = 0.0;
        out.plant_wh = 0.0;
        out.equipment_wh = 0.0;
        out.capacity_limited = 0;
        let substeps = self.substeps(seconds);
        let dt = seconds / substeps as f64;
        let hours = dt / 3600.0;
        let capacity = self.plant.capacity_w(outdoor);
        for _ in 0..substeps {
            // Thermostats switch on what they sense at the start of the substep.
            let mut demand = 0.0;
            for (i, z) in self.zones.iter().enumerate() {
                let sp = drives[i].setpoint;
                if self.air[i] < sp - z.deadband / 2.0 {
                    self.heating[i] = true;
                } else if self.air[i] > sp + z.deadband / 2.0 {
                    self.heating[i] = false;
                }
                if self.heating[i] {
                    demand += z.emitter;
                }
            }
            let share = if demand > capacity {
                out.capacity_limited += 1;
                capacity / demand
            } else {
                1.0
            };
            self.flow.iter_mut().for_each(|f| *f = 0.0);
            for &(a, b, u) in &self.couplings {
                let q = u * (self.air[b] - self.air[a]);
                self.flow[a] += q;
                self.flow[b] -= q;
            }
            let mut delivered = 0.0;
            for (i, z) in self.zones.iter().enumerate() {
                let d = drives[i];
                let occupancy = d.occupancy.clamp(0.0, 1.0);
                let heat = if self.heating[i] { z.emitter * share } else { 0.0 };
                let gains = ghi.max(0.0) * z.solar_aperture_m2 + occupancy * z.occupied_gains + z.standby_electric;
                let (ta, tm) = (self.air[i], self.mass[i]);
                let air_flow = (z.air_outdoor + z.ventilation * occupancy) * (outdoor - ta)
                    + z.air_mass * (tm - ta)
                    + self.flow[i]
                    + z.gains_to_air * gains
                    + heat;
                let mass_flow =
                    z.air_mass * (ta - tm) + z.mass_outdoor * (outdoor - tm) + (1.0 - z.gains_to_air) * gains;
                self.air[i] = ta + dt * air_flow / z.air_capacity;
                self.mass[i] = tm + dt * mass_flow / z.mass_capacity;
                let o = &mut out.zones[i];
                o.heat_wh += heat * hours;
                o.duty += f64::from(u8::from(self.heating[i])) / substeps as f64;
                o.mean_air += self.air[i] / substeps as f64;
                out.equipment_wh += (occupancy * z.occupied_electric + z.standby_electric) * hours;
                delivered += heat;
            }
            out.heat_wh += delivered * hours;
            out.plant_wh += self.plant.input_w(delivered, outdoor) * hours;
        }
        for (i, o) in out.zones.iter_mut().enumerate() {
            o.air = self.air[i];
            o.mass = self.mass[i];
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests;
