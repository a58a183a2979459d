//! The site the control tests run on: one classroom the agent may command between 12 and
//! 22 °C, in plain numbers, with its temperature, setpoint and presence, and the outdoor
//! temperature.

use crate::config::Settings;

/// The points, by index.
pub(crate) const TEMPERATURE: usize = 0;
pub(crate) const SETPOINT: usize = 1;
pub(crate) const OCCUPANCY: usize = 2;
pub(crate) const OUTDOOR: usize = 3;

/// The site in `mode`, its store at `path`.
pub(crate) fn site(path: &std::path::Path, mode: &str) -> Settings {
    let text = format!(
        r#"
[site]
id = "s"
timezone = "UTC"

[storage]
path = {path:?}

[control]
mode = "{mode}"

[[control.zones]]
zone = "class"
command_topic = "trv/class/set"
format = "plain"
max_c = 22.0

[[points]]
id = "class_temp"
kind = "zone_temperature"
unit = "°C"
zone = "class"
topic = "t/temp"

[[points]]
id = "class_setpoint"
kind = "setpoint"
unit = "°C"
zone = "class"
topic = "t/setpoint"

[[points]]
id = "class_presence"
kind = "occupancy"
unit = "bool"
zone = "class"
topic = "t/presence"

[[points]]
id = "outdoor"
kind = "outdoor_temperature"
unit = "°C"
topic = "t/outdoor"
"#,
        path = path.display().to_string()
    );
    Settings::parse(&text, "test").expect("settings")
}

/// What the advisor hands over for the classroom: the poorly tuned school's programme, and,
/// when `models`, an air-and-mass model of the classroom (heavy walls, 0.1 kW per percent of
/// demand) whose gate says `models_pass_gate`.
pub(crate) fn basis(models_pass_gate: bool, models: bool) -> crate::advisor::Basis {
    crate::advisor::Basis {
        programme: crate::control::schedule::tests::poor_school(),
        accepted: Vec::new(),
        models_pass_gate,
        zone_models: if models { vec![("class".into(), classroom_model(100.0))] } else { Vec::new() },
        kw_per_demand: models.then_some(0.1),
    }
}

/// The classroom's air-and-mass model (heavy walls), its heating giving at most `max_heating`
/// percent of demand.
pub(crate) fn classroom_model(max_heating: f64) -> crate::advisor::estimate::ZoneDynamics {
    let model = sobre_models::thermal::TwoNodeModel {
        step_hours: 0.25,
        k_im: 2.0,
        k_ia: 0.2,
        k_mi: 0.2,
        k_ma: 0.02,
        g_solar: 0.0,
        g_heating: 0.2,
        g_occupancy: 0.0,
        k_ventilation: 0.0,
        g_day: [0.0; 4],
        m_solar: 0.0,
        m_occupancy: 0.0,
        rmse_k: 0.0,
    };
    let input = crate::advisor::history::HeatingInput::ZoneDemand;
    crate::advisor::estimate::ZoneDynamics { model, max_heating, input }
}
