//! The advisor: reads what the building did, finds where its heating programme and the hours
//! it is used disagree, and says which setting to change, how much that saves (with its
//! uncertainty), what it costs in comfort, and every number it rests on.
//!
//! history (store → one quarter-hour grid) → occupancy (each zone's, from what the building
//! has) → programme (what the thermostats run, when people are in) → models (heat loss per kelvin-hour, each zone's response) → rules (findings) →
//! estimate (replay the period under each finding) → recommendations.
//!
//! Layer: models and advice (see `crate::layers`): uses the vocabulary, config, mqtt (its
//! publisher and decision mailbox) and the store; control uses it, never the reverse.

mod basis;
pub mod blocker;
pub(crate) mod decision;
pub(crate) mod estimate;
pub(crate) mod history;
pub mod ledger;
pub mod occupancy;
pub mod programme;
pub(crate) mod rules;
pub(crate) mod setting;
pub mod task;

use crate::config::{AdvisorSettings, Settings};
use crate::store::{Store, StoreError};
pub use basis::Basis;
pub use blocker::Blocker;
pub use history::History;
use serde::{Deserialize, Serialize};
pub use setting::Setting;
use sobre_models::stats::normal_quantile;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RuleKind {
    NightSetback,
    WeekendHeating,
    ClosureHeating,
    OptimalStart,
    LateStop,
    SetpointAboveLimit,
    HeatingCutOff,
    HeatingWhileCooling,
    Baseload,
}

impl RuleKind {
    pub fn name(self) -> &'static str {
        match self {
            RuleKind::NightSetback => "night_setback",
            RuleKind::WeekendHeating => "weekend_heating",
            RuleKind::ClosureHeating => "closure_heating",
            RuleKind::OptimalStart => "optimal_start",
            RuleKind::LateStop => "late_stop",
            RuleKind::SetpointAboveLimit => "setpoint_above_limit",
            RuleKind::HeatingCutOff => "heating_cut_off",
            RuleKind::HeatingWhileCooling => "heating_while_cooling",
            RuleKind::Baseload => "baseload",
        }
    }
}

/// Why: a stable code for machines and a sentence for people.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Reason {
    pub code: String,
    pub text: String,
}

/// A number the recommendation rests on.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Factor {
    pub name: String,
    pub value: f64,
    pub unit: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Savings {
    /// Over the analysed period.
    pub period_days: f64,
    pub period_kwh: f64,
    /// Half-width of the 90 % interval.
    pub period_kwh_uncertainty: f64,
    pub kwh_per_year: f64,
    pub kwh_per_year_uncertainty: f64,
    pub eur_per_year: f64,
    pub kg_co2_per_year: f64,
    /// Of the metered energy it applies to over the period.
    pub percent: f64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Level {
    High,
    Medium,
    Low,
}

impl Level {
    pub fn name(self) -> &'static str {
        match self {
            Level::High => "high",
            Level::Medium => "medium",
            Level::Low => "low",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Confidence {
    pub level: Level,
    /// The 90 % half-width over the estimate.
    pub relative_uncertainty: f64,
    /// Share of the period's quarter-hours with every series the estimate needs.
    pub coverage: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Comfort {
    /// Extra kelvin-hours below the comfort band while occupied, per zone and week.
    pub discomfort_kh_per_zone_week: f64,
    pub worst_zone_kh_per_week: f64,
    pub text: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelCard {
    pub id: String,
    pub kind: String,
    pub days: usize,
    pub cv_rmse: f64,
    pub nmbe: f64,
    pub r2: f64,
    pub passes_gate: bool,
    /// Metered kWh per kelvin-hour of indoor–outdoor difference at 0 °C and 10 °C outdoors.
    pub kwh_per_kelvin_hour: [f64; 2],
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Recommendation {
    /// Stable across runs for the same rule and setting, so a decision about it sticks.
    pub id: String,
    pub rule: RuleKind,
    pub title: String,
    pub zones: Vec<String>,
    pub setting: Setting,
    pub reasons: Vec<Reason>,
    pub evidence: Vec<Factor>,
    pub savings: Savings,
    pub confidence: Confidence,
    pub comfort: Comfort,
    pub model: ModelCard,
}

impl Savings {
    /// `kwh` ± `half` (90 %) over the `days` analysed, scaled to a year of `per_year_days`
    /// such days, priced at `tariff`, and as a share of the `base` kWh metered.
    fn over(kwh: f64, half: f64, days: f64, per_year_days: f64, tariff: &crate::config::Tariff, base: f64) -> Self {
        let per_year = kwh / days * per_year_days;
        Savings {
            period_days: days,
            period_kwh: kwh,
            period_kwh_uncertainty: half,
            kwh_per_year: per_year,
            kwh_per_year_uncertainty: half / days * per_year_days,
            eur_per_year: per_year * tariff.eur_per_kwh,
            kg_co2_per_year: per_year * tariff.kg_co2_per_kwh,
            percent: 100.0 * kwh / base.max(1e-9),
        }
    }
}

impl Comfort {
    /// What the replay expects a change to cost in comfort below `comfort_min_c`.
    fn estimated(e: &estimate::Estimate, comfort_min_c: f64) -> Self {
        Comfort {
            discomfort_kh_per_zone_week: e.discomfort_kh_per_week,
            worst_zone_kh_per_week: e.worst_discomfort_kh_per_week,
            text: if e.worst_discomfort_kh_per_week < 0.05 {
                "no zone expected below the comfort band while occupied".into()
            } else {
                format!(
                    "about {:.1} K·h a week below {comfort_min_c:.0} °C while occupied in the worst zone",
                    e.worst_discomfort_kh_per_week
                )
            },
        }
    }
}

/// Every recommendation that reshapes the programme, accepted together as control applies
/// them: what the advisor expects of them all at once (less than their sum where they
/// overlap), with its 90 % interval and comfort, over the analysed period.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Together {
    pub settings: Vec<Setting>,
    pub savings: Savings,
    pub comfort: Comfort,
}

/// One run of the advisor.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Advice {
    pub from_ms: i64,
    pub to_ms: i64,
    pub recommendations: Vec<Recommendation>,
    /// The recommendations that reshape the programme, all accepted at once.
    pub together: Option<Together>,
    /// Findings whose saving is smaller than its own uncertainty: not worth acting on.
    pub dismissed: Vec<String>,
    /// What stops the advisor from advising (or leaves a zone out), each with its code and fix.
    pub missing: Vec<Blocker>,
    /// Where each zone's occupancy came from, and how sure it is.
    pub occupancy: Vec<occupancy::ZoneOccupancy>,
    /// The programme it read, and whether the models pass their quality gate: what control
    /// builds its schedule on.
    #[serde(skip)]
    pub programme: Option<programme::Programme>,
    #[serde(skip)]
    pub models_pass_gate: bool,
    /// Each zone's air-and-mass model, and the heating meter's kW per unit of the zones' summed
    /// heating input (percent of demand, or kW of the building's power each zone shares):
    /// what control forecasts an event's shed with.
    #[serde(skip)]
    pub zone_models: Vec<(String, estimate::ZoneDynamics)>,
    #[serde(skip)]
    pub kw_per_demand: Option<f64>,
}

/// The estimates' own error, beyond what the fit's residuals show: the heat-loss form and the
/// zone model are approximations. On the emulated school the estimates fall between 0.81 and
/// 1.00 times the emulator's; 20 % as one standard deviation is the honest floor.
const MODEL_FORM_SIGMA: f64 = 0.2;

/// z for a two-sided 90 % interval.
fn z90() -> f64 {
    normal_quantile(0.95)
}

fn stable_id(rule: RuleKind, setting: &Setting) -> String {
    let text = serde_json::to_string(setting).unwrap_or_default();
    // FNV-1a: stable across builds and platforms, unlike the std hasher.
    let hash = text.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3));
    format!("{}-{:08x}", rule.name(), hash >> 32)
}

/// The heating meter's kW per unit of heating input summed over the zones, over the
/// quarter-hours where both are known; `None` without such quarters or any input. Zones that
/// share the building's power each take all of it, so with `n` of them this is `1/n`: a
/// forecast summing the zones counts the plant once.
fn kw_per_demand(h: &History) -> Option<f64> {
    let inputs: Vec<history::HeatingInput> = (0..h.zones.len()).map(|z| h.heating_input(z)).collect();
    let (mut kwh, mut demand_h) = (0.0, 0.0);
    for i in 0..h.len() {
        let demand: Option<f64> = inputs.iter().enumerate().map(|(z, input)| h.heating(*input, z, i)).sum();
        if let (Some(e), Some(d)) = (h.heating_kwh[i], demand) {
            kwh += e;
            demand_h += d * history::STEP_HOURS;
        }
    }
    (demand_h > 0.0).then_some(kwh / demand_h)
}

/// What the zone models were driven by, each input once.
fn zone_inputs(models: &estimate::Models) -> String {
    let mut inputs: Vec<&str> = Vec::new();
    for d in models.dynamics.iter().flatten() {
        if !inputs.contains(&d.input.describe()) {
            inputs.push(d.input.describe());
        }
    }
    if inputs.is_empty() {
        "no zone model".into()
    } else {
        inputs.join(" and ")
    }
}

/// Advises on `[from_ms, to_ms)` of what the store holds.
pub fn advise(
    store: &Store,
    settings: &Settings,
    cfg: &AdvisorSettings,
    window: (i64, i64),
) -> Result<Advice, StoreError> {
    Ok(advise_on(&read(store, settings, window)?, settings, cfg))
}

/// What the advisor rests on: `[from_ms, to_ms)` of the store, cut to what every point has
/// delivered (devices arrive at their own pace).
pub fn read(store: &Store, settings: &Settings, (from_ms, to_ms): (i64, i64)) -> Result<History, StoreError> {
    let complete_ms = store.newest()?.iter().map(|n| n.ts_ms).min().unwrap_or(to_ms);
    let to_ms = to_ms.min(complete_ms.div_euclid(history::QUARTER_MS) * history::QUARTER_MS);
    let mut h = history::read(store, settings, (from_ms, to_ms))?;
    occupancy::fill(&mut h, settings.occupancy.as_ref());
    Ok(h)
}

/// Advises on a history read from the store: fits the models and runs the rules, without the
/// store, so that ingest goes on meanwhile.
pub fn advise_on(h: &History, settings: &Settings, cfg: &AdvisorSettings) -> Advice {
    let mut advice = Advice {
        from_ms: h.start_ms,
        to_ms: h.ts(h.len()),
        occupancy: h.occupancy_sources.clone(),
        ..Advice::default()
    };
    let empty: Vec<&str> = h
        .occupancy_sources
        .iter()
        .filter(|z| z.source == occupancy::OccupancySource::None)
        .map(|z| z.zone.as_str())
        .collect();
    if !empty.is_empty() && empty.len() < h.zones.len() {
        advice.missing.push(Blocker::zones_without_occupancy(&empty));
    }
    let Some(p) = programme::Programme::read(h) else {
        advice.missing.push(Blocker::why_no_programme(h, settings));
        return advice;
    };
    let models = match estimate::fit(h) {
        Ok(m) => m,
        Err(why) => {
            advice.missing.push(why);
            return advice;
        }
    };
    advice.programme = Some(p.clone());
    advice.models_pass_gate = models.gate_pass;
    if !models.gate_pass {
        let metrics = &models.heat_loss.metrics;
        let gate = sobre_models::metrics::gl14(sobre_models::metrics::Resolution::Daily, metrics);
        advice.missing.push(Blocker::heat_loss_gate(metrics, &gate, models.days));
        return advice;
    }
    for (z, r) in h.zones.iter().zip(&models.dynamics) {
        match r {
            Ok(d) => advice.zone_models.push((z.zone.clone(), *d)),
            Err(e) => advice.missing.push(Blocker::zone_model(&z.zone, e)),
        }
    }
    advice.kw_per_demand = kw_per_demand(h);
    let tariff = settings.tariffs.of(h
        .heating_meter
        .as_deref()
        .and_then(|m| settings.points.iter().find(|p| p.id == m))
        .and_then(|p| p.fuel)
        .unwrap_or(crate::point::Fuel::Electricity));
    let metered: f64 = h.heating_kwh.iter().flatten().sum();
    let coverage = (0..h.len()).filter(|&i| h.heating_kwh[i].is_some() && h.outdoor[i].is_some()).count() as f64
        / h.len().max(1) as f64;
    let hl = &models.heat_loss;
    let model = ModelCard {
        id: format!("heat-loss-{}", crate::clock::iso(advice.to_ms)),
        kind: format!(
            "daily heat loss per kelvin-hour with the heat the building stores, {}; air-and-mass response per zone, driven by {}",
            match hl.supply_c {
                Some(s) => format!("heat pump efficiency as with {s:.0} °C water"),
                None => "constant efficiency".into(),
            },
            zone_inputs(&models)
        ),
        days: models.days,
        cv_rmse: hl.metrics.cv_rmse,
        nmbe: hl.metrics.nmbe,
        r2: hl.metrics.r2,
        passes_gate: models.gate_pass,
        kwh_per_kelvin_hour: [hl.per_kelvin_hour(0.0), hl.per_kelvin_hour(10.0)],
    };
    let zones: Vec<String> = h.zones.iter().map(|z| z.zone.clone()).collect();
    let replay = estimate::Replay::new(h, &p, &models);
    let what_if = |s: &Setting| estimate::estimate(h, &p, &models, &replay, s, settings.comfort.min_c);
    let found = rules::findings(h, &p, &models, cfg, &what_if, &mut advice.dismissed);
    for f in found {
        let (kwh, se, per_year_days, base, comfort) = match f.setting {
            Setting::Baseload { from_kw, to_kw } => {
                let empty_h = (0..h.len()).filter(|&i| h.other_kwh[i].is_some() && !h.building_occupied(i)).count()
                    as f64
                    * history::STEP_HOURS;
                let kwh = (from_kw - to_kw) * empty_h;
                let other: f64 = h.other_kwh.iter().flatten().sum();
                (kwh, 0.25 * kwh, 365.0, other, None)
            }
            Setting::HeatingCutOff { outdoor_above_c } => {
                // The heating the meter drew on the days the cut-off switches off is what it
                // avoids: measured, where the replay would model it. The replay still says
                // what it costs in comfort.
                let kwh = rules::metered_above(h, &p, outdoor_above_c);
                let e = estimate::estimate(h, &p, &models, &replay, &f.setting, settings.comfort.min_c);
                (kwh, 0.0, cfg.heating_season_days, metered, Some(e))
            }
            Setting::HeatingCoolingGap { .. } => {
                // What the heating meter drew for zones that were cooled at once: the cooling
                // that fought it is not metered apart, so this is the lower bound.
                let kwh = rules::heating_while_cooling(h).kwh;
                (kwh, 0.25 * kwh, cfg.heating_season_days, metered, None)
            }
            _ => {
                let e = estimate::estimate(h, &p, &models, &replay, &f.setting, settings.comfort.min_c);
                (e.kwh, e.se_kwh, cfg.heating_season_days, metered, Some(e))
            }
        };
        let half = z90() * se.hypot(MODEL_FORM_SIGMA * kwh);
        let title = f.setting.describe();
        // A saving smaller than its own uncertainty is not worth a facility manager's time.
        if kwh <= half {
            advice.dismissed.push(format!("{title}: {kwh:.0} ± {half:.0} kWh over the period, not clearly a saving"));
            continue;
        }
        let days = h.days().max(1.0);
        let relative = half / kwh;
        let level = match (relative, coverage) {
            (r, c) if r < 0.2 && c >= 0.9 => Level::High,
            (r, _) if r < 0.5 => Level::Medium,
            _ => Level::Low,
        };
        let comfort = match comfort {
            Some(e) => Comfort::estimated(&e, settings.comfort.min_c),
            None => Comfort {
                discomfort_kh_per_zone_week: 0.0,
                worst_zone_kh_per_week: 0.0,
                text: "no effect on comfort".into(),
            },
        };
        let tariff = if f.kind == RuleKind::Baseload { settings.tariffs.electricity } else { tariff };
        advice.recommendations.push(Recommendation {
            id: stable_id(f.kind, &f.setting),
            rule: f.kind,
            title,
            zones: zones.clone(),
            reasons: f.reasons,
            evidence: f.evidence,
            savings: Savings::over(kwh, half, days, per_year_days, &tariff, base),
            confidence: Confidence { level, relative_uncertainty: relative, coverage },
            comfort,
            model: model.clone(),
            setting: f.setting,
        });
    }
    advice.recommendations.sort_by(|a, b| b.savings.period_kwh.total_cmp(&a.savings.period_kwh));
    let mut together: Vec<&Setting> =
        advice.recommendations.iter().map(|r| &r.setting).filter(|s| s.order().is_some()).collect();
    together.sort_by_key(|s| s.order());
    if !together.is_empty() {
        let e = estimate::estimate_together(h, &p, &models, &replay, &together, settings.comfort.min_c);
        let half = z90() * e.se_kwh.hypot(MODEL_FORM_SIGMA * e.kwh);
        let days = h.days().max(1.0);
        advice.together = Some(Together {
            settings: together.into_iter().cloned().collect(),
            savings: Savings::over(e.kwh, half, days, cfg.heating_season_days, &tariff, metered),
            comfort: Comfort::estimated(&e, settings.comfort.min_c),
        });
    }
    advice
}
