//! Flexible-load control (issue 7): the agent piloting setpoints within what people and the
//! building allow. So far: the flexibility requests and the book of those in force, and the
//! safety chain every command passes through; the planner, overrides and actuation build on
//! them.

pub mod event;
pub mod safety;
