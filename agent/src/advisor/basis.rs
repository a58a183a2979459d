//! What the advisor hands control after each run and each decision.

/// What a schedule is built from, as the advisor hands it to control after each run and each
/// decision: the programme it read, the changes accepted (with when), and whether its models
/// pass their quality gate.
#[derive(Debug, Clone, PartialEq)]
pub struct Basis {
    pub programme: super::programme::Programme,
    pub accepted: Vec<(super::Setting, i64)>,
    pub models_pass_gate: bool,
    pub zone_models: Vec<(String, super::estimate::ZoneDynamics)>,
    pub kw_per_demand: Option<f64>,
}
