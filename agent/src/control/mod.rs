//! Flexible-load control (issue 7): the agent piloting setpoints within what people and the
//! building allow.
//!
//! schedule (the programme read by the advisor + the changes accepted) → plan (what flex events
//! ask: pre-heat, shed, staggered recovery) → safety (stop switch, bounds, overrides, comfort
//! budget, model gate) → actuate (the command on the thermostat's topic), all driven each step
//! by the controller; kpi measures it as BOPTEST does.
//!
//! A pure core (`core`: typed inputs in, typed `effect`s out) in a thin shell (`task`: the
//! channels, the clock, and the `outlet` that carries the effects out), so the shell is tested
//! with a recording publisher and no broker.
//!
//! Layer: control (see `crate::layers`): uses the vocabulary, config, mqtt (its mailbox and
//! publisher), the store's connection and the advisor (its basis, programme, models); never what
//! leaves the building (its settled events go to `report` over a channel the daemon wires).

pub mod actuate;
pub mod controller;
pub(crate) mod core;
pub(crate) mod effect;
pub mod event;
#[cfg(test)]
pub(crate) mod fixture;
pub(crate) mod flex_status;
pub mod forecast;
pub mod kpi;
pub mod log;
pub(crate) mod outdoor;
pub(crate) mod outlet;
pub mod plan;
pub(crate) mod points;
pub mod price;
pub(crate) mod request;
pub(crate) mod route;
pub mod safety;
pub mod schedule;
pub mod settle;
pub(crate) mod shadow;
pub(crate) mod steps;
pub(crate) mod task;
pub mod watch;
