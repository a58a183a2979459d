//! Flexible-load control (issue 7): the agent piloting setpoints within what people and the
//! building allow.
//!
//! schedule (the programme read by the advisor + the changes accepted) → plan (what flex events
//! ask: pre-heat, shed, staggered recovery) → safety (stop switch, bounds, overrides, comfort
//! budget, model gate) → actuate (the command on the thermostat's topic), all driven each step
//! by the controller; kpi measures it as BOPTEST does.

pub mod actuate;
pub mod controller;
pub mod event;
pub mod forecast;
pub mod kpi;
pub mod log;
pub mod plan;
pub mod price;
pub(crate) mod request;
pub mod safety;
pub mod schedule;
pub mod settle;
pub mod task;
pub mod watch;
