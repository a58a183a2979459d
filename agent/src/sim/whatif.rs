//! What the emulated building would have used had its programme carried one recommended
//! setting: the ground truth an estimate is checked against.

use super::config::SimSettings;
use super::emulator::{Emulator, Truth};
use crate::advisor::Setting;
use sobre_models::emulator::EmulatorError;

/// The programme with `setting` applied; `None` for a setting the programme cannot express.
pub fn with_setting(mut s: SimSettings, setting: &Setting) -> Option<SimSettings> {
    let c = &mut s.control;
    match *setting {
        Setting::NightSetpoint { to_c, .. } => c.unoccupied_c = to_c,
        // The building's programme heats weekends as school days or at the night level.
        Setting::WeekendSetpoint { to_c, .. } if (to_c - c.unoccupied_c).abs() < 0.05 => c.weekends = false,
        Setting::HeatingStart { to, .. } => c.start = to,
        Setting::HeatingStop { to, .. } => c.stop = to,
        Setting::OccupiedSetpoint { to_c, .. } => c.occupied_c = to_c,
        Setting::HeatingCutOff { outdoor_above_c } => c.cut_off_above_c = Some(outdoor_above_c),
        _ => return None,
    }
    Some(s)
}

/// Runs the whole period without anyone commanding the building.
pub fn run(s: SimSettings) -> Result<Truth, EmulatorError> {
    let mut e = Emulator::new(s)?;
    while !e.is_done() {
        e.step()?;
    }
    Ok(e.truth().clone())
}
