//! `sobre.savings/1`: measured savings per energy point, per local day and per local month
//! after the baseline period: metered against the weather-normalised baseline (CalTRACK
//! hourly, or daily where only the daily model passes Guideline 14), avoided kWh with 68 % and 90 % intervals (ASHRAE Guideline 14), per m², in € and
//! CO₂, with the model's metrics, the data coverage and non-routine flags. A model that fails
//! Guideline 14 still reports what was metered, with `claim: false`.

use super::{build, envelope, iso, Reporter};
use crate::baseline::{self, Baseline, Fits, Predicted};
use crate::config::SavingsSettings;
use crate::point::{Fuel, PointKind};
use crate::store::rollup::Calendar;
use crate::uplink::outbox::{OutboxError, Priority, Report};
use chrono::Datelike;
use serde_json::{json, Value};
use sobre_models::savings::{level_shifts, savings};

pub const SCHEMA: &str = "sobre.savings/1";
/// A block of hours whose residuals sit this many standard errors off is flagged.
const SHIFT_Z: f64 = 4.0;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Resolution {
    Day,
    Month,
}

impl Resolution {
    fn kind(self) -> &'static str {
        match self {
            Resolution::Day => "savings-daily",
            Resolution::Month => "savings-monthly",
        }
    }
}

/// The baselines, fitted once the baseline period is in the store, and that period.
#[derive(Debug, Default)]
pub struct Fitted {
    baselines: Option<Fits>,
    period: (i64, i64),
}

impl Reporter {
    /// Queues the savings reports of every completed day and month after the baseline;
    /// returns the time it looked up to (`None`: no savings configured, nothing to wait for).
    pub(super) async fn savings_due(&self, fitted: &mut Fitted) -> Result<Option<i64>, OutboxError> {
        let Some(cfg) = self.settings.savings.clone() else { return Ok(None) };
        if self.clock.awaits_data() {
            return Ok(Some(i64::MIN));
        }
        let tz = self.settings.site.timezone;
        let calendar = Calendar { tz };
        let baseline_period =
            (calendar.local_midnight(cfg.baseline.0), calendar.local_midnight(calendar.next_day(cfg.baseline.1)));
        let Some(outdoor) = self.settings.first_point(PointKind::OutdoorTemperature) else {
            return Ok(None);
        };
        let now = self.now_ms().min(self.stored_through(&cfg.points, &outdoor.id).await?);
        if now < baseline_period.1 {
            return Ok(Some(now));
        }
        if fitted.baselines.is_none() {
            let baselines = self.fit(&cfg, &outdoor.id, baseline_period).await?;
            // The register's model cards now have a training period and metrics to show.
            let register = super::register::report(
                &self.settings,
                &self.prefix,
                self.clock.now_ms(),
                Some((&baselines, baseline_period)),
            );
            let added = self.outbox.try_with(move |o| o.enqueue(&register)).await?;
            self.queued(usize::from(added));
            *fitted = Fitted { baselines: Some(baselines), period: baseline_period };
        }
        let baselines = fitted.baselines.as_deref().unwrap_or_default();
        for resolution in [Resolution::Day, Resolution::Month] {
            let series = resolution.kind();
            let mut start = self.outbox.try_with(move |o| o.progress(series)).await?.unwrap_or(baseline_period.1);
            loop {
                let date = calendar.local_date(start);
                let end = calendar.local_midnight(match resolution {
                    Resolution::Day => calendar.next_day(date),
                    // The calendar month holding `start`; the first one starts with the reporting.
                    Resolution::Month => calendar.next_month(date.with_day(1).unwrap_or(date)),
                });
                if end > now {
                    break;
                }
                let mut reports = Vec::new();
                for (point, fit) in baselines {
                    let Ok(b) = fit else { continue };
                    let (site, point_id, outdoor_id) = (self.settings.site.clone(), point.clone(), outdoor.id.clone());
                    let hours = self
                        .store
                        .with(move |s| {
                            baseline::hours(s, &site, &point_id, &outdoor_id, baseline::read_for((start, end)))
                        })
                        .await?;
                    let in_period = |hours: &[(i64, _)]| hours.iter().filter(|(t, _)| *t >= start).count();
                    match hours.map(|hours| (in_period(&hours), b.predict(&hours, (start, end)))) {
                        // A period none of whose hours the baseline predicts (a month the
                        // hourly model has no model for: CalTRACK fits one per calendar month it
                        // saw; no complete day for the daily model) has nothing to report, not
                        // 0 kWh metered and avoided.
                        Ok((hours, predicted)) if predicted.is_empty() => {
                            tracing::info!(
                                point,
                                period = %iso(start),
                                hours,
                                "no savings report: the baseline predicts none of the period's hours (no model for its month, or no complete day)"
                            );
                        }
                        Ok((_, predicted)) => {
                            reports.push(self.report(resolution, point, b, baseline_period, (start, end), &predicted))
                        }
                        Err(e) => tracing::warn!(error = %e, point, "cannot read the period's hours"),
                    }
                }
                let added = self.outbox.try_with(move |o| o.enqueue_period(&reports, series, end)).await?;
                self.queued(added);
                start = end;
            }
        }
        Ok(Some(now))
    }

    /// How far every series savings need is stored: topics arrive at their own pace, so the
    /// newest reading of one says nothing of another.
    async fn stored_through(&self, points: &[String], outdoor: &str) -> Result<i64, OutboxError> {
        let needed: Vec<usize> =
            points.iter().map(String::as_str).chain([outdoor]).filter_map(|id| self.settings.point_index(id)).collect();
        let newest = self.store.with(|s| s.newest()).await?.unwrap_or_default();
        Ok(needed
            .iter()
            .map(|i| newest.iter().find(|n| n.point == *i).map_or(i64::MIN, |n| n.ts_ms))
            .min()
            .unwrap_or(i64::MIN))
    }

    /// Energy avoided over `period` by every point whose baseline passes Guideline 14; `None`
    /// before the reporting period or without such a baseline.
    pub(super) async fn saved_kwh(&self, fitted: &Fitted, period: (i64, i64)) -> Result<Option<f64>, OutboxError> {
        let (Some(baselines), Some(outdoor)) =
            (fitted.baselines.as_ref(), self.settings.first_point(PointKind::OutdoorTemperature))
        else {
            return Ok(None);
        };
        let points: Vec<String> = baselines.iter().map(|(p, _)| p.clone()).collect();
        if period.0 < fitted.period.1 || self.stored_through(&points, &outdoor.id).await? < period.1 {
            return Ok(None);
        }
        let mut total = None;
        for (point, fit) in baselines {
            let Ok(b) = fit else { continue };
            if !b.gate_pass {
                continue;
            }
            let (site, p, o) = (self.settings.site.clone(), point.clone(), outdoor.id.clone());
            let read = baseline::read_for(period);
            let hours = self.store.with(move |s| baseline::hours(s, &site, &p, &o, read)).await?.unwrap_or_default();
            let predicted = b.predict(&hours, period);
            // As for the reports: hours the baseline cannot predict say nothing, not 0 kWh.
            if predicted.is_empty() {
                continue;
            }
            *total.get_or_insert(0.0) += predicted.iter().map(|h| h.predicted - h.metered).sum::<f64>();
        }
        Ok(total)
    }

    async fn fit(&self, cfg: &SavingsSettings, outdoor: &str, period: (i64, i64)) -> Result<Fits, OutboxError> {
        let (site, points, outdoor) = (self.settings.site.clone(), cfg.points.clone(), outdoor.to_string());
        let fitted = self.store.with(move |s| baseline::fit_each(s, &site, &points, &outdoor, period)).await?;
        for (point, fit) in &fitted {
            match fit {
                Ok(b) => tracing::info!(
                    point,
                    model = b.name(),
                    cv_rmse = b.metrics.cv_rmse,
                    gl14 = b.gate_pass,
                    hourly_cv_rmse = b.hourly_rejected.map(|m| m.cv_rmse),
                    "baseline fitted"
                ),
                Err(why) => tracing::warn!(point, why, "no baseline: no savings reports for this point"),
            }
        }
        Ok(fitted)
    }

    fn report(
        &self,
        resolution: Resolution,
        point: &str,
        b: &Baseline,
        baseline_period: (i64, i64),
        period: (i64, i64),
        hours: &[Predicted],
    ) -> Report {
        let s = &self.settings;
        let kind = resolution.kind();
        let predicted: Vec<f64> = hours.iter().map(|h| h.predicted).collect();
        let metered: Vec<f64> = hours.iter().map(|h| h.metered).collect();
        let starts: Vec<i64> = hours.iter().map(|h| h.start_ms).collect();
        let result = savings(&b.metrics, b.rho, &predicted, &metered);
        let fuel = s.points.iter().find(|p| p.id == point).and_then(|p| p.fuel).unwrap_or(Fuel::Electricity);
        let tariff = s.tariffs.of(fuel);
        let expected_hours = ((period.1 - period.0) as f64 / 3_600_000.0).max(1.0);
        let covered_hours: u32 = hours.iter().map(|h| h.hours).sum();
        let shifts = level_shifts(&b.metrics, b.rho, &predicted, &metered, b.points_per_day(), SHIFT_Z);
        let id = format!("{}/{kind}/{point}/{}", s.site.id, iso(period.0));
        let per_m2 = s.site.floor_area_m2.map(|a| {
            json!({
                "metered_kwh": result.metered_kwh / a,
                "baseline_kwh": result.baseline_kwh / a,
                "avoided_kwh": result.savings_kwh / a,
            })
        });
        let mut body = envelope(s, SCHEMA, kind, &id, period);
        let fields: [(&str, Value); 16] = [
            ("resolution", json!(if resolution == Resolution::Day { "1d" } else { "1mo" })),
            ("point", json!(point)),
            ("fuel", json!(fuel.name())),
            ("metered_kwh", json!(result.metered_kwh)),
            ("baseline_kwh", json!(result.baseline_kwh)),
            ("avoided_kwh", json!(result.savings_kwh)),
            ("avoided_pct", json!(100.0 * result.savings_pct)),
            ("interval68_kwh", json!(result.interval68_kwh)),
            ("interval90_kwh", json!(result.interval90_kwh)),
            ("claim", json!(b.gate_pass)),
            ("per_m2", per_m2.unwrap_or(Value::Null)),
            ("eur", json!(result.savings_kwh * tariff.eur_per_kwh)),
            ("kg_co2", json!(result.savings_kwh * tariff.kg_co2_per_kwh)),
            (
                "model",
                json!({
                    "name": b.name(),
                    "baseline_period": { "start": iso(baseline_period.0), "end": iso(baseline_period.1) },
                    "cv_rmse": b.metrics.cv_rmse,
                    "nmbe": b.metrics.nmbe,
                    "r2": b.metrics.r2,
                    "n": b.metrics.n,
                    "gl14_pass": b.gate_pass,
                }),
            ),
            ("coverage", json!((f64::from(covered_hours) / expected_hours).min(1.0))),
            (
                "non_routine",
                json!(shifts
                    .iter()
                    .map(|f| json!({
                        "start": iso(starts.get(f.start).copied().unwrap_or(period.0)),
                        "hours": f.len * 24 / b.points_per_day(),
                        "mean_residual_kwh": f.mean_residual,
                        "z": f.z,
                    }))
                    .collect::<Vec<_>>()),
            ),
        ];
        for (key, value) in fields {
            body[key] = value;
        }
        let priority = if resolution == Resolution::Month { Priority::High } else { Priority::Normal };
        build(s, &self.prefix, kind, priority, id, body, self.clock.now_ms())
    }
}
