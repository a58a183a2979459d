//! The controller's key performance indicators, with BOPTEST's definitions: thermal discomfort
//! (K·h outside the comfort band while occupied, per zone), energy, the peak 15-minute power,
//! and the controller's own compute time per step over the step's length.

use serde::Serialize;
use std::time::Duration;

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Kpis {
    pub steps: u64,
    pub hours: f64,
    pub energy_kwh: f64,
    /// The highest mean power over a 15-minute step, kW.
    pub peak_kw: f64,
    /// Per zone, K·h outside the band while occupied.
    pub discomfort_kh: Vec<f64>,
    /// Mean over zones, K·h.
    pub discomfort_kh_per_zone: f64,
    /// Seconds of computing per second of step: BOPTEST's `time_rat`.
    pub compute_ratio: f64,
    #[serde(skip)]
    compute: Duration,
}

/// One zone in one step: its mean temperature and whether people were in.
#[derive(Debug, Clone, Copy)]
pub struct ZoneStep {
    pub temperature_c: f64,
    pub occupied: bool,
}

impl Kpis {
    pub fn new(zones: usize) -> Self {
        Self { discomfort_kh: vec![0.0; zones], ..Self::default() }
    }

    /// Adds one step of `step_h` hours at a mean power of `power_kw`.
    pub fn add(&mut self, step_h: f64, power_kw: f64, zones: &[ZoneStep], band: (f64, f64), compute: Duration) {
        self.steps += 1;
        self.hours += step_h;
        self.energy_kwh += power_kw * step_h;
        self.peak_kw = self.peak_kw.max(power_kw);
        for (total, z) in self.discomfort_kh.iter_mut().zip(zones) {
            if z.occupied {
                *total += ((band.0 - z.temperature_c).max(0.0) + (z.temperature_c - band.1).max(0.0)) * step_h;
            }
        }
        self.discomfort_kh_per_zone = self.discomfort_kh.iter().sum::<f64>() / self.discomfort_kh.len().max(1) as f64;
        self.compute += compute;
        self.compute_ratio = self.compute.as_secs_f64() / (self.hours * 3600.0).max(1e-9);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn discomfort_counts_only_occupied_kelvin_hours_outside_the_band() {
        // Given a band of 19–26 °C and two zones over two quarter-hours
        let mut k = Kpis::new(2);
        let band = (19.0, 26.0);
        let z = |temperature_c, occupied| ZoneStep { temperature_c, occupied };
        k.add(0.25, 8.0, &[z(18.0, true), z(17.0, false)], band, Duration::from_millis(9));
        k.add(0.25, 4.0, &[z(27.0, true), z(19.5, true)], band, Duration::from_millis(9));
        // Then the first zone was 1 K out twice (0.5 K·h), the second never while occupied
        assert_eq!(k.discomfort_kh, [0.5, 0.0]);
        assert_eq!(k.discomfort_kh_per_zone, 0.25);
        // And the energy, the peak and the compute time follow the steps
        assert_eq!((k.energy_kwh, k.peak_kw), (3.0, 8.0));
        assert!((k.compute_ratio - 0.018 / 1800.0).abs() < 1e-12);
    }
}
