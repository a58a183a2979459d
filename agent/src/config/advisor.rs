//! The advisor's settings as the site's operator decides them (`[advisor]`).

/// What the site's operator decides about advice.
#[derive(Debug, Clone, PartialEq)]
pub struct AdvisorSettings {
    /// The night (and unoccupied) level a setback proposes, °C.
    pub setback_c: f64,
    /// The highest occupied heating setpoint the site allows (19 °C in French public buildings).
    pub comfort_limit_c: f64,
    /// Days a year the heating runs, to turn the analysed period's savings into a year's.
    pub heating_season_days: f64,
    /// The unoccupied electric load expected at most, as a share of the occupied load.
    pub baseload_share: f64,
    /// How much history each run analyses, and how often it runs (event time).
    pub window: std::time::Duration,
    pub interval: std::time::Duration,
    /// A recommendation nobody decided on lapses after this (event time).
    pub expiry: std::time::Duration,
}
