//! What a sensor adds to the truth: noise and the resolution of its payload. Deterministic from
//! a seed, so a test that fails fails again.

/// SplitMix64 (Steele, Lea, Flood 2014): small, fast and good enough for sensor noise.
#[derive(Debug, Clone)]
pub struct Noise {
    state: u64,
    spare: Option<f64>,
}

impl Noise {
    pub fn new(seed: u64) -> Self {
        Self { state: seed, spare: None }
    }

    fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in (0, 1].
    pub fn uniform(&mut self) -> f64 {
        ((self.next_u64() >> 11) as f64 + 1.0) / (1u64 << 53) as f64
    }

    /// Standard normal (Box–Muller, both values used).
    pub fn gaussian(&mut self) -> f64 {
        if let Some(z) = self.spare.take() {
            return z;
        }
        let (u, v) = (self.uniform(), self.uniform());
        let r = (-2.0 * u.ln()).sqrt();
        let angle = std::f64::consts::TAU * v;
        self.spare = Some(r * angle.sin());
        r * angle.cos()
    }
}

/// A sensor: Gaussian noise of `sigma`, then rounded to `quantum` (0 keeps every digit).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Sensor {
    pub sigma: f64,
    pub quantum: f64,
}

impl Sensor {
    pub fn read(&self, truth: f64, noise: &mut Noise) -> f64 {
        let noisy = truth + self.sigma * noise.gaussian();
        if self.quantum > 0.0 {
            // Dividing by the inverse keeps 20.3 printing as 20.3 rather than 20.300000000000001.
            let steps = (noisy / self.quantum).round();
            if self.quantum < 1.0 {
                steps / (1.0 / self.quantum).round()
            } else {
                steps * self.quantum
            }
        } else {
            noisy
        }
    }
}
