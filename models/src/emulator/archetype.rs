//! Zone physics from what an integrator knows of a room: its use, its floor area and how well
//! the envelope is insulated. Values per m² of floor for a 3 m storey, from typical French
//! school and office stock (RT-existant orders of magnitude), not from any one building.

use super::ZoneSpec;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Use {
    Classroom,
    Office,
    /// Gym or sports hall: tall, few people per m², big glazing.
    Gym,
    /// Canteen or assembly hall.
    Hall,
    /// A meeting room: full when booked, empty otherwise.
    Meeting,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Envelope {
    /// Uninsulated 1970s masonry, single or early double glazing.
    Poor,
    Average,
    /// Insulated after a deep renovation.
    Good,
}

impl Use {
    /// (people per m², electric W/m² when occupied, height factor, glazing share of floor).
    fn figures(self) -> (f64, f64, f64, f64) {
        match self {
            Use::Classroom => (0.4, 8.0, 1.0, 0.20),
            Use::Office => (0.08, 12.0, 1.0, 0.15),
            Use::Gym => (0.05, 4.0, 2.5, 0.12),
            Use::Hall => (0.5, 10.0, 1.3, 0.18),
            Use::Meeting => (0.3, 6.0, 1.0, 0.15),
        }
    }

    /// People per m² of floor at full occupancy (an office about one per 12 m², a classroom one
    /// per 2.5 m²).
    pub fn people_per_m2(self) -> f64 {
        self.figures().0
    }
}

/// Sensible heat of a seated person, W.
const PERSON_W: f64 = 75.0;
/// Share of the ventilation's heat that its heat exchanger recovers.
pub const VENTILATION_HEAT_RECOVERY: f64 = 0.6;
/// Heat capacity of air, J/(m³·K).
pub const AIR_J_PER_M3K: f64 = 1200.0;
/// Ventilation per person, m³/s (8 l/s), net of the heat recovered, W/K.
const VENTILATION_PER_PERSON: f64 = 0.008 * AIR_J_PER_M3K * (1.0 - VENTILATION_HEAT_RECOVERY);

impl ZoneSpec {
    pub fn from_archetype(name: &str, floor_area_m2: f64, room: Use, envelope: Envelope) -> Self {
        let (people, electric_w_m2, height, glazing) = room.figures();
        // Air-side and opaque transmission per m² of floor, W/K, by insulation level.
        let (window_u, wall_u) = match envelope {
            Envelope::Poor => (0.9, 0.9),
            Envelope::Average => (0.6, 0.5),
            Envelope::Good => (0.35, 0.2),
        };
        let a = floor_area_m2;
        let occupants = people * a;
        let electric = electric_w_m2 * a;
        ZoneSpec {
            name: name.to_string(),
            floor_area_m2: a,
            // Air, furniture and partitions: about 15 kJ/K per m² of floor per storey height.
            air_capacity: 15_000.0 * a * height,
            // Medium-weight construction: about 160 kJ/K per m² of floor.
            mass_capacity: 160_000.0 * a * height.sqrt(),
            air_mass: 9.0 * a * height.sqrt(),
            air_outdoor: window_u * a * height.sqrt(),
            mass_outdoor: wall_u * a * height.sqrt(),
            ventilation: VENTILATION_PER_PERSON * occupants,
            solar_aperture_m2: 0.35 * glazing * a,
            gains_to_air: 0.5,
            // Emitters sized for about -7 °C outdoors with a margin.
            emitter: 45.0 * (window_u + wall_u) * a * height.sqrt() + 20.0 * VENTILATION_PER_PERSON * occupants,
            occupied_gains: PERSON_W * occupants + electric,
            occupied_electric: electric,
            standby_electric: 0.1 * electric,
            deadband: 0.5,
        }
    }
}
