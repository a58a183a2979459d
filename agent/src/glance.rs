//! The building at a glance, read from the store and the ledger: energy this week and since
//! the baseline period against the weather-normalised baseline (with its 90 % interval), the
//! daily series for the chart, the current recommendations and the health of every point. The
//! local page renders it; Home Assistant gets its headline numbers.

use crate::advisor::ledger::{Current, Ledger, LedgerError, Status};
use crate::advisor::occupancy::ZoneOccupancy;
use crate::advisor::Blocker;
use crate::baseline::{self, Baseline, Fits};
use crate::clock::iso;
use crate::config::Settings;
use crate::control::controller::ZoneState;
use crate::point::{Fuel, PointKind};
use crate::shared::Shared;
use crate::store::rollup::Calendar;
use crate::store::{Store, StoreError};
use sobre_models::hourly::HourObs;
use sobre_models::savings::savings;
use std::collections::BTreeMap;

/// Days the chart shows, up to the newest complete day.
pub const CHART_DAYS: i64 = 56;
const DAY_MS: i64 = 86_400_000;

#[derive(Debug, thiserror::Error)]
pub enum GlanceError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Ledger(#[from] LedgerError),
    #[error(transparent)]
    Unfinished(#[from] crate::shared::Unfinished),
}

/// Metered against baseline over a period.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Versus {
    pub metered_kwh: f64,
    pub baseline_kwh: f64,
    /// Baseline minus metered: positive is energy avoided.
    pub avoided_kwh: f64,
    /// Half-width of the 90 % interval of `avoided_kwh`.
    pub interval90_kwh: f64,
}

/// One local day of one energy point.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Day {
    pub start_ms: i64,
    pub metered_kwh: f64,
    /// With its 90 % half-width, when a baseline exists.
    pub baseline: Option<(f64, f64)>,
}

#[derive(Debug, Clone)]
pub struct EnergyGlance {
    pub point: String,
    pub fuel: Fuel,
    pub days: Vec<Day>,
    /// The last seven complete days.
    pub week: Option<Versus>,
    /// Since the end of the baseline period; only from a baseline that passes Guideline 14.
    pub to_date: Option<Versus>,
    /// The baseline and why there is none.
    pub baseline: Result<Baseline, String>,
}

#[derive(Debug, Clone)]
pub struct PointHealth {
    pub id: String,
    pub kind: PointKind,
    pub zone: Option<String>,
    pub last_seen_ms: Option<i64>,
    pub rejected: u64,
    /// Silent for more than a day before the newest reading of any point.
    pub stale: bool,
}

#[derive(Debug, Clone)]
pub struct Glance {
    pub site: String,
    pub name: String,
    /// The newest reading of any point.
    pub data_through_ms: Option<i64>,
    pub energy: Vec<EnergyGlance>,
    pub recommendations: Vec<Current>,
    pub ledger: Vec<serde_json::Value>,
    /// What stopped the advisor's latest run.
    pub blocked: Vec<Blocker>,
    /// Where its latest run read each zone's occupancy.
    pub occupancy: Vec<ZoneOccupancy>,
    pub points: Vec<PointHealth>,
    /// Each commanded zone's control state, as control last said (empty without control).
    pub control: Vec<ZoneState>,
}

impl Glance {
    /// Energy avoided since the baseline period by every point with a claim, and its 90 %
    /// half-width (independent points: halves add in quadrature).
    pub fn savings_to_date(&self) -> Option<(f64, f64)> {
        let claims: Vec<Versus> = self.energy.iter().filter_map(|e| e.to_date).collect();
        (!claims.is_empty()).then(|| {
            let kwh = claims.iter().map(|v| v.avoided_kwh).sum();
            let half = claims.iter().map(|v| v.interval90_kwh.powi(2)).sum::<f64>().sqrt();
            (kwh, half)
        })
    }

    /// Proposed and accepted recommendations, the largest saving first.
    pub fn open_recommendations(&self) -> Vec<&Current> {
        let mut open: Vec<&Current> =
            self.recommendations.iter().filter(|c| matches!(c.status, Status::Proposed | Status::Accepted)).collect();
        open.sort_by(|a, b| kwh_per_year(b).total_cmp(&kwh_per_year(a)));
        open
    }
}

/// Why a baseline that fails Guideline 14 carries no claim, with its figures.
pub fn no_claim(b: &Baseline) -> String {
    let gate = sobre_models::metrics::gl14(b.resolution(), &b.metrics);
    format!(
        "no savings claimed: the baseline fails Guideline 14 ({} CV(RMSE) {:.1} %, NMBE {:.1} %; it asks at most {:.0} % and ±{:.0} %)",
        b.resolution().name(),
        100.0 * b.metrics.cv_rmse,
        100.0 * b.metrics.nmbe,
        100.0 * gate.cv_rmse_limit,
        100.0 * gate.nmbe_limit
    )
}

pub fn kwh_per_year(c: &Current) -> f64 {
    c.recommendation["savings"]["kwh_per_year"].as_f64().unwrap_or(0.0)
}

/// The baselines, fitted once the store holds the whole baseline period; a cache the caller
/// keeps between calls, because a fit takes a good fraction of a second on a gateway.
#[derive(Debug, Default)]
pub struct Baselines(Option<Fits>);

/// What `/metrics` reads of the advisor.
#[derive(Debug, Clone, Default)]
pub struct AdvisorState {
    pub current: Vec<Current>,
    pub blocked: Vec<Blocker>,
    pub occupancy: Vec<ZoneOccupancy>,
}

/// The ledger as the page shows it: each recommendation's latest state, and the last records.
#[derive(Debug, Clone, Default)]
pub struct LedgerView {
    pub recommendations: Vec<Current>,
    pub records: Vec<serde_json::Value>,
    pub blocked: Vec<Blocker>,
    pub occupancy: Vec<ZoneOccupancy>,
}

impl LedgerView {
    pub fn read(ledger: &Ledger) -> Result<Self, LedgerError> {
        Ok(Self {
            recommendations: ledger.current()?,
            records: ledger.records(30)?,
            blocked: ledger.blocked().to_vec(),
            occupancy: ledger.occupancy().to_vec(),
        })
    }
}

pub fn compute(
    store: &Store,
    ledger: LedgerView,
    settings: &Settings,
    baselines: &mut Baselines,
) -> Result<Glance, GlanceError> {
    let calendar = Calendar { tz: settings.site.timezone };
    let newest = store.newest()?;
    let data_through_ms = newest.iter().map(|n| n.ts_ms).max();
    let outdoor = settings.first_point(PointKind::OutdoorTemperature).map(|p| p.id.clone());
    let baseline_period = settings
        .savings
        .as_ref()
        .map(|s| (calendar.local_midnight(s.baseline.0), calendar.local_midnight(calendar.next_day(s.baseline.1))));
    let mut energy = Vec::new();
    if let (Some(outdoor), Some(through)) = (&outdoor, data_through_ms) {
        let today = calendar.local_midnight(calendar.local_date(through));
        if baselines.0.is_none() {
            if let (Some(period), Some(cfg)) = (baseline_period.filter(|p| p.1 <= through), &settings.savings) {
                baselines.0 = Some(baseline::fit_each(store, &settings.site, &cfg.points, outdoor, period));
            }
        }
        for p in settings.points.iter().filter(|p| p.kind == PointKind::Energy) {
            let fit = match (&baselines.0, baseline_period) {
                (Some(fits), _) => fits
                    .iter()
                    .find(|(id, _)| *id == p.id)
                    .map(|(_, f)| f.clone())
                    .unwrap_or_else(|| Err("not one of the [savings] points".into())),
                (None, Some(_)) => Err("the baseline period is not complete in the store yet".into()),
                (None, None) => Err("no baseline period configured ([savings] baseline)".into()),
            };
            let from = (today - CHART_DAYS * DAY_MS).min(baseline_period.map_or(i64::MAX, |b| b.1));
            let hours = baseline::hours(store, &settings.site, &p.id, outdoor, baseline::read_for((from, today)))?;
            energy.push(energy_glance(
                (from, today),
                &p.id,
                p.fuel.unwrap_or(Fuel::Electricity),
                fit,
                &hours,
                &calendar,
                baseline_period,
            ));
        }
    }
    let rejected: BTreeMap<String, u64> = store.rejections()?.into_iter().fold(BTreeMap::new(), |mut m, (p, _, n)| {
        *m.entry(p).or_default() += n;
        m
    });
    let points = settings
        .points
        .iter()
        .enumerate()
        .map(|(i, p)| {
            let last_seen_ms = newest.iter().find(|n| n.point == i).map(|n| n.ts_ms);
            PointHealth {
                id: p.id.clone(),
                kind: p.kind,
                zone: p.zone.clone(),
                last_seen_ms,
                rejected: rejected.get(&p.id).copied().unwrap_or(0),
                stale: match (last_seen_ms, data_through_ms) {
                    (Some(seen), Some(through)) => through - seen > DAY_MS,
                    _ => true,
                },
            }
        })
        .collect();
    Ok(Glance {
        site: settings.site.id.clone(),
        name: settings.site.name.clone(),
        data_through_ms,
        energy,
        recommendations: ledger.recommendations,
        ledger: ledger.records,
        blocked: ledger.blocked,
        occupancy: ledger.occupancy,
        points,
        control: Vec::new(),
    })
}

/// `window`: the chart's first day and today (the hours before the first are there for the
/// daily model's recovery only).
fn energy_glance(
    (first, today): (i64, i64),
    point: &str,
    fuel: Fuel,
    baseline: Result<Baseline, String>,
    hours: &[(i64, HourObs)],
    calendar: &Calendar,
    baseline_period: Option<(i64, i64)>,
) -> EnergyGlance {
    let mut by_day: BTreeMap<i64, (Vec<f64>, Vec<f64>, f64)> = BTreeMap::new();
    let day_of = |ts_ms: i64| calendar.local_midnight(calendar.local_date(ts_ms));
    for (bucket, o) in hours.iter().filter(|(t, _)| *t >= first) {
        by_day.entry(day_of(*bucket)).or_default().2 += o.energy;
    }
    let predicted = baseline.as_ref().map(|b| b.predict(hours, (first, i64::MAX))).unwrap_or_default();
    for p in &predicted {
        let entry = by_day.entry(day_of(p.start_ms)).or_default();
        entry.0.push(p.predicted);
        entry.1.push(p.metered);
    }
    let versus = |range: std::ops::Range<i64>| -> Option<Versus> {
        let b = baseline.as_ref().ok()?;
        let within = predicted.iter().filter(|p| range.contains(&p.start_ms));
        let (predicted, metered): (Vec<f64>, Vec<f64>) = within.map(|p| (p.predicted, p.metered)).unzip();
        (!predicted.is_empty()).then(|| {
            let s = savings(&b.metrics, b.rho, &predicted, &metered);
            Versus {
                metered_kwh: s.metered_kwh,
                baseline_kwh: s.baseline_kwh,
                avoided_kwh: s.savings_kwh,
                interval90_kwh: s.interval90_kwh,
            }
        })
    };
    let days = by_day
        .iter()
        .filter(|(day, _)| **day >= today - CHART_DAYS * DAY_MS)
        .map(|(day, (predicted, metered, all))| Day {
            start_ms: *day,
            metered_kwh: *all,
            baseline: baseline.as_ref().ok().filter(|_| !predicted.is_empty()).map(|b| {
                let s = savings(&b.metrics, b.rho, predicted, metered);
                (s.baseline_kwh, s.interval90_kwh)
            }),
        })
        .collect();
    let week_start = calendar.local_midnight(calendar.local_date(today - 7 * DAY_MS + DAY_MS / 2));
    let claim = baseline.as_ref().is_ok_and(|b| b.gate_pass);
    EnergyGlance {
        point: point.to_string(),
        fuel,
        days,
        week: versus(week_start..today),
        to_date: baseline_period.filter(|_| claim).and_then(|b| versus(b.1..today)),
        baseline,
    }
}

/// A timestamp for people: the site's local time, to the minute.
pub fn local_time(settings: &Settings, ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .map(|t| t.with_timezone(&settings.site.timezone).format("%Y-%m-%d %H:%M").to_string())
        .unwrap_or_else(|| iso(ms))
}

/// What the page and Home Assistant read from: their own connection to the store file (WAL
/// lets them read while the writer writes), the ledger the advisor writes (one connection for
/// both), and the cached baselines.
#[derive(Debug)]
pub struct Reader {
    pub store: Store,
    pub ledger: Shared<Ledger>,
    pub baselines: Baselines,
}

impl Reader {
    pub fn open(settings: &Settings, ledger: Shared<Ledger>) -> Result<Self, GlanceError> {
        Ok(Self {
            store: Store::open(&settings.storage.path, &settings.points, settings.site.timezone)?,
            ledger,
            baselines: Baselines::default(),
        })
    }

    /// Runs on the blocking pool (under the reader's `Shared`): the ledger is read first and
    /// let go, so the advisor never waits for a fit here.
    pub fn glance(&mut self, settings: &Settings) -> Result<Glance, GlanceError> {
        let ledger = self.ledger.with_blocking(|l| LedgerView::read(l))?;
        compute(&self.store, ledger, settings, &mut self.baselines)
    }

    /// Each recommendation's latest state, what stops the advisor and where it read each
    /// zone's occupancy (for /metrics).
    pub fn recommendations(&self) -> Result<AdvisorState, GlanceError> {
        Ok(self.ledger.with_blocking(|l| {
            l.current().map(|current| AdvisorState {
                current,
                blocked: l.blocked().to_vec(),
                occupancy: l.occupancy().to_vec(),
            })
        })?)
    }
}
