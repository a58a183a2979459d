//! sobre-models: the numerics of sobre — baselines, change-point and time-of-week models,
//! savings with their uncertainty, zone thermal models. Pure: no I/O, no async, no clock;
//! every model is usable on its own. The models arrive with the baseline issue; the crate
//! exists from the foundation so the agent's dependency on it is in place.
#![forbid(unsafe_code)]
