//! The heating plant: what it can give and what it draws to give it.

/// COP stays within what real air-to-water heat pumps reach.
const COP_RANGE: (f64, f64) = (1.5, 6.0);
/// Rated conditions of an air-to-water heat pump (EN 14511, A7/W35–45).
const RATED_OUTDOOR_C: f64 = 7.0;
/// Capacity lost per K colder than rated, as a share of rated capacity.
const CAPACITY_LOSS_PER_K: f64 = 0.015;

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Plant {
    /// Air-to-water heat pump: COP is a share of Carnot's between the supply water and the
    /// outdoor air, so it falls as the outdoors gets colder, and so does its capacity.
    HeatPump {
        /// Heat it gives at 7 °C outdoors, W.
        rated_w: f64,
        supply_c: f64,
        /// Share of the Carnot COP reached (0.4–0.5 for current units).
        carnot_share: f64,
    },
    /// A gas boiler: fixed capacity and seasonal efficiency (on the net calorific value).
    Boiler { rated_w: f64, efficiency: f64 },
}

impl Plant {
    pub fn capacity_w(&self, outdoor: f64) -> f64 {
        match *self {
            Plant::HeatPump { rated_w, .. } => {
                rated_w * (1.0 - CAPACITY_LOSS_PER_K * (RATED_OUTDOOR_C - outdoor).max(0.0)).max(0.3)
            }
            Plant::Boiler { rated_w, .. } => rated_w,
        }
    }

    /// Heat given per unit of energy drawn at this outdoor temperature.
    pub fn efficiency(&self, outdoor: f64) -> f64 {
        match *self {
            Plant::HeatPump { supply_c, carnot_share, .. } => {
                let lift = (supply_c - outdoor).max(5.0);
                (carnot_share * (supply_c + 273.15) / lift).clamp(COP_RANGE.0, COP_RANGE.1)
            }
            Plant::Boiler { efficiency, .. } => efficiency,
        }
    }

    /// Power drawn to deliver `heat_w`.
    pub fn input_w(&self, heat_w: f64, outdoor: f64) -> f64 {
        heat_w / self.efficiency(outdoor)
    }

    /// Electricity for a heat pump, fuel for a boiler.
    pub fn is_electric(&self) -> bool {
        matches!(self, Plant::HeatPump { .. })
    }
}
