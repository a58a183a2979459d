//! sobre-models: the numerics of sobre — baselines, change-point and time-of-week models,
//! savings with their uncertainty. Pure: no I/O, no async, no clock; every model is usable on
//! its own.
#![forbid(unsafe_code)]

pub mod daily;
pub mod emulator;
pub mod estimators;
pub mod hourly;
pub mod metrics;
pub mod occupancy;
pub mod savings;
pub mod setback;
pub mod stats;
pub mod sufficiency;
pub mod thermal;
pub mod wls;
