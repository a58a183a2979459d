//! Indoor CO₂ of a zone: one well-mixed volume where people breathe out and outdoor air,
//! leaking in always and blown in by the ventilation while the zone is occupied, dilutes it.
//!   V·dC/dt = 10⁶·N·g + (Q_vent + n_inf·V)·(C_out − C)
//! Over a step the inputs are constant, so the step is solved exactly (an exponential towards
//! the balance level), stable for any step length.

use super::archetype::{AIR_J_PER_M3K, VENTILATION_HEAT_RECOVERY};
use super::{Use, ZoneSpec};

/// Outdoor CO₂, ppm (the 2020s background).
pub const OUTDOOR_PPM: f64 = 420.0;
/// CO₂ a seated adult breathes out, m³/s (0.0052 l/s; Persily & de Jonge 2017).
const PERSON_M3_PER_S: f64 = 0.0052e-3;
/// Floor to ceiling, m.
const ROOM_HEIGHT_M: f64 = 2.7;
/// Air leaking through the envelope, air changes per hour.
const INFILTRATION_PER_H: f64 = 0.2;

/// What decides one zone's CO₂.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Co2Spec {
    pub volume_m3: f64,
    /// People at full occupancy.
    pub people: f64,
    /// Mechanical ventilation while occupied, m³/s.
    pub ventilation_m3_per_s: f64,
    pub infiltration_per_h: f64,
}

impl Co2Spec {
    /// From the zone's physics and use: the ventilation's air flow is its heat loss (W/K, net of
    /// the heat recovered) over what a cubic metre of air carries per kelvin.
    pub fn for_zone(zone: &ZoneSpec, room: Use) -> Self {
        Self {
            volume_m3: zone.floor_area_m2 * ROOM_HEIGHT_M,
            people: zone.floor_area_m2 * room.people_per_m2(),
            ventilation_m3_per_s: zone.ventilation / (AIR_J_PER_M3K * (1.0 - VENTILATION_HEAT_RECOVERY)),
            infiltration_per_h: INFILTRATION_PER_H,
        }
    }

    /// CO₂ after `seconds` from `ppm`, with `occupancy` (0–1) of the zone's people in it; the
    /// ventilation runs while anyone is.
    pub fn step(&self, ppm: f64, seconds: f64, occupancy: f64) -> f64 {
        let occupancy = occupancy.clamp(0.0, 1.0);
        let ventilation = if occupancy > 0.0 { self.ventilation_m3_per_s } else { 0.0 };
        let flow = ventilation + self.infiltration_per_h * self.volume_m3 / 3600.0;
        if !(flow > 0.0 && self.volume_m3 > 0.0) {
            return ppm;
        }
        let balance = OUTDOOR_PPM + 1e6 * occupancy * self.people * PERSON_M3_PER_S / flow;
        balance + (ppm - balance) * (-flow * seconds / self.volume_m3).exp()
    }
}
