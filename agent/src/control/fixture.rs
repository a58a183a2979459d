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
