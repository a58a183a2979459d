//! `sobre.register/1`: the agent's entry in a public algorithm register, with a model card per
//! model it runs: purpose, inputs, algorithm, training, quality gate, who answers for it and
//! the recourse people have. One entry per agent version.

use super::{build, iso, Report};
use crate::baseline::Fits;
use crate::config::Settings;
use crate::uplink::outbox::Priority;
use serde_json::json;

pub const SCHEMA: &str = "sobre.register/1";

/// `fits`: the baselines fitted so far and their training period; each fit gives the entry a
/// new id, so the register follows the models the agent runs.
pub fn report(settings: &Settings, prefix: &str, now_ms: i64, fits: Option<(&Fits, (i64, i64))>) -> Report {
    let version = env!("CARGO_PKG_VERSION");
    let id = match fits {
        Some((_, (start, _))) => format!("{}/register/{version}/{}", settings.site.id, iso(start)),
        None => format!("{}/register/{version}", settings.site.id),
    };
    // Each point's fit sits on the card of the model it chose; a refusal on the hourly card, the
    // model tried first.
    let fits_of = |name: &str| -> Vec<serde_json::Value> {
        let Some((fits, (start, end))) = fits else { return Vec::new() };
        fits.iter()
            .filter(|(_, fit)| fit.as_ref().map_or("baseline-hourly", |b| b.name()) == name)
            .map(|(point, fit)| match fit {
                Ok(b) => json!({
                    "point": point,
                    "training_period": { "start": iso(start), "end": iso(end) },
                    "cv_rmse": b.metrics.cv_rmse,
                    "nmbe": b.metrics.nmbe,
                    "r2": b.metrics.r2,
                    "n": b.metrics.n,
                    "gl14_pass": b.gate_pass,
                    "refused": null,
                }),
                Err(why) => json!({
                    "point": point,
                    "training_period": { "start": iso(start), "end": iso(end) },
                    "cv_rmse": null, "nmbe": null, "r2": null, "n": 0, "gl14_pass": false,
                    "refused": why,
                }),
            })
            .collect()
    };
    let r = &settings.reports;
    let body = json!({
        "schema": SCHEMA,
        "id": id,
        "site": settings.site.id,
        "kind": "register",
        "agent_version": version,
        "name": "sobre",
        "purpose": "Measure and reduce the energy use of a public building: weather-normalised baselines, measured savings with their uncertainty, zone thermal models for heating schedules.",
        "owner": r.owner,
        "contact": r.contact,
        "data": {
            "stays_in_building": true,
            "leaves_building": "aggregated reports only: daily and monthly energy, savings and model metrics; no raw series finer than a day, no occupancy trace, no personal data",
        },
        "human_recourse": "Every recommendation is advice until a person accepts it; a person can override any setpoint at the thermostat or over MQTT and the override wins; a manual stop puts the agent in advice-only mode.",
        "models": [
            {
                "name": "baseline-daily",
                "purpose": "Predict daily energy from outdoor temperature and day type, to measure savings (IPMVP option C).",
                "inputs": ["daily energy of a meter", "daily mean outdoor temperature", "open or closed day (weekends and the site's holidays)"],
                "algorithm": "CalTRACK 2.0 daily change-point model (heating and cooling degree-days, balance points searched on a grid), weighted least squares",
                "training": "the baseline period, at least 30 complete days; chosen for a meter whose hourly model fails Guideline 14 (a plant off at night and at weekends) when the daily one passes",
                "quality_gate": "ASHRAE Guideline 14: CV(RMSE) and NMBE within limits, else no savings claim",
                "fits": fits_of("baseline-daily"),
            },
            {
                "name": "baseline-hourly",
                "purpose": "Predict hourly energy to measure savings and find schedule waste.",
                "inputs": ["hourly energy of a meter", "hourly outdoor temperature", "hour of the week"],
                "algorithm": "CalTRACK 2.0 hourly time-of-week and temperature model, occupancy from the data, monthly weighted fits",
                "training": "the baseline period, at least 30 days",
                "quality_gate": "ASHRAE Guideline 14 hourly limits",
                "fits": fits_of("baseline-hourly"),
            },
            {
                "name": "zone-thermal-2r2c",
                "purpose": "Predict a zone's temperature for a heating schedule: optimal start, setback savings, pre-heating.",
                "inputs": ["zone temperature", "outdoor temperature", "solar irradiance", "heating demand", "occupancy (aggregate)"],
                "algorithm": "grey-box 3R2C state-space model (air and walls, both losing to outdoors), rates on a grid, gains by least squares on 24-hour trajectories",
                "training": "the most recent weeks of the zone's data; forecast error reported against persistence",
                "quality_gate": "physical parameters; no control from a model that does not beat persistence",
            }
        ],
    });
    build(settings, prefix, "register", Priority::High, id, body, now_ms)
}
