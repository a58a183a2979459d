//! Per zone: temperatures while occupied and empty, heating demand, discomfort (K·h outside the
//! comfort band while occupied, BOPTEST's definition), and the zone thermal model's quality.

use super::{first_of, series};
use crate::config::Settings;
use crate::point::PointKind;
use crate::store::rollup::{Calendar, Resolution};
use crate::store::{Store, StoreError};
use chrono::Timelike;
use sobre_models::thermal::{fit_two_node, forecast_errors, ZoneStep};

const STEP_HOURS: f64 = 0.25;
/// Forecast horizons in quarter-hours: 1 h, 6 h, 24 h.
const HORIZONS: [usize; 3] = [4, 24, 96];
const TRAIN_SHARE: f64 = 0.7;
const QUARTER_MS: i64 = 900_000;

#[derive(Debug, Clone, Copy)]
pub struct ZoneModelLine {
    pub time_constant_h: f64,
    /// (horizon in steps, model RMSE, persistence RMSE), K.
    pub errors: [(usize, f64, f64); 3],
}

#[derive(Debug, Clone)]
pub struct ZoneLine {
    pub zone: String,
    pub occupied_mean_c: Option<f64>,
    pub empty_mean_c: Option<f64>,
    pub heating_demand_pct: Option<f64>,
    /// `None` when the zone has no occupancy point: discomfort needs to know when people are in.
    pub discomfort_kh: Option<f64>,
    pub model: Result<ZoneModelLine, String>,
}

fn point_of<'a>(settings: &'a Settings, zone: &str, kind: PointKind) -> Option<&'a str> {
    settings.points.iter().find(|p| p.kind == kind && p.zone.as_deref() == Some(zone)).map(|p| p.id.as_str())
}

fn mean(values: impl Iterator<Item = f64>) -> Option<f64> {
    let (sum, n) = values.fold((0.0, 0usize), |(s, n), v| (s + v, n + 1));
    (n > 0).then(|| sum / n as f64)
}

pub fn lines(store: &Store, settings: &Settings, calendar: &Calendar) -> Result<Vec<ZoneLine>, StoreError> {
    let outdoor = series(store, first_of(settings, PointKind::OutdoorTemperature), Resolution::QuarterHour)?;
    let solar = series(store, first_of(settings, PointKind::SolarIrradiance), Resolution::QuarterHour)?;
    let mut zones: Vec<&str> = Vec::new();
    for zone in
        settings.points.iter().filter(|p| p.kind == PointKind::ZoneTemperature).filter_map(|p| p.zone.as_deref())
    {
        if !zones.contains(&zone) {
            zones.push(zone);
        }
    }
    let (lo, hi) = (settings.comfort.min_c, settings.comfort.max_c);
    let mut lines = Vec::new();
    for zone in zones {
        let temps = store.buckets(
            point_of(settings, zone, PointKind::ZoneTemperature).unwrap_or_default(),
            Resolution::QuarterHour,
        )?;
        let occupancy = series(store, point_of(settings, zone, PointKind::Occupancy), Resolution::QuarterHour)?;
        let demand = series(store, point_of(settings, zone, PointKind::HeatingDemand), Resolution::QuarterHour)?;
        let occupied = |t: &i64| occupancy.get(t).is_some_and(|o| *o > 0.0);
        let has_occupancy = !occupancy.is_empty();
        let discomfort = has_occupancy.then(|| {
            temps
                .iter()
                .filter(|(t, _)| occupied(t))
                .map(|(_, v)| ((lo - v).max(0.0) + (v - hi).max(0.0)) * STEP_HOURS)
                .sum()
        });
        let steps: Vec<ZoneStep> = temps
            .iter()
            .filter_map(|(t, indoor)| {
                let local = chrono::DateTime::from_timestamp_millis(*t)?.with_timezone(&calendar.tz);
                Some(ZoneStep {
                    indoor: *indoor,
                    outdoor: *outdoor.get(t)?,
                    solar: solar.get(t).copied().unwrap_or(0.0),
                    // A TRV's demand is reported at the end of the quarter-hour it describes.
                    heating: *demand.get(&(t + QUARTER_MS))?,
                    hour: local.hour() as u8,
                    occupancy: occupancy.get(&(t + QUARTER_MS)).copied().unwrap_or(0.0),
                })
            })
            .collect();
        let split = (steps.len() as f64 * TRAIN_SHARE) as usize;
        let model = fit_two_node(&steps[..split], STEP_HOURS, HORIZONS[2]).map_err(|e| e.to_string()).map(|m| {
            let e = forecast_errors(&m, &steps[split..], &HORIZONS);
            let at = |i: usize| e.get(i).copied().unwrap_or((HORIZONS[i], f64::NAN, f64::NAN));
            ZoneModelLine { time_constant_h: m.time_constant_hours(), errors: [at(0), at(1), at(2)] }
        });
        lines.push(ZoneLine {
            zone: zone.to_string(),
            occupied_mean_c: mean(temps.iter().filter(|(t, _)| has_occupancy && occupied(t)).map(|(_, v)| *v)),
            empty_mean_c: mean(temps.iter().filter(|(t, _)| has_occupancy && !occupied(t)).map(|(_, v)| *v)),
            heating_demand_pct: mean(demand.values().copied()),
            discomfort_kh: discomfort,
            model,
        });
    }
    Ok(lines)
}

impl ZoneLine {
    pub fn render(&self) -> String {
        let cell = |v: Option<f64>, d: usize| v.map_or("-".to_string(), |v| format!("{v:.d$}"));
        let model = match &self.model {
            Ok(m) => format!(
                "{:>5.0}   {:>5.2} / {:<5.2}       {:.2} / {:.2}",
                m.time_constant_h, m.errors[1].1, m.errors[1].2, m.errors[2].1, m.errors[2].2
            ),
            Err(why) => format!("no model: {why}"),
        };
        format!(
            "{:<10} {:>11} {:>9} {:>10} {:>15}  {model}",
            self.zone,
            cell(self.occupied_mean_c, 1),
            cell(self.empty_mean_c, 1),
            cell(self.heating_demand_pct, 0),
            cell(self.discomfort_kh, 1),
        )
    }
}
