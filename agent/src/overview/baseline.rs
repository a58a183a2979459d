//! The baseline of one energy point: the CalTRACK hourly model on what the store holds, with
//! its ASHRAE Guideline 14 metrics.

use super::series;
use crate::store::rollup::{Calendar, Resolution};
use crate::store::{Store, StoreError};
use chrono::{Datelike, Timelike};
use sobre_models::hourly::{fit_hourly, HourObs};
use sobre_models::metrics::{gl14, Metrics, Resolution as Gl14Resolution};

#[derive(Debug, Clone)]
pub struct BaselineLine {
    pub point: String,
    /// The fit's metrics and whether they pass Guideline 14, or why there is no fit.
    pub fit: Result<(Metrics, bool), String>,
}

pub fn fit(store: &Store, calendar: &Calendar, point: &str, outdoor: Option<&str>) -> Result<BaselineLine, StoreError> {
    let temps = series(store, outdoor, Resolution::Hour)?;
    let obs: Vec<HourObs> = store
        .buckets(point, Resolution::Hour)?
        .into_iter()
        .filter_map(|(bucket, energy)| {
            let temp = *temps.get(&bucket)?;
            let local = chrono::DateTime::from_timestamp_millis(bucket)?.with_timezone(&calendar.tz);
            let tow = local.weekday().num_days_from_monday() * 24 + local.hour();
            Some(HourObs { month: local.month() as u8, tow: tow as u8, temp, energy })
        })
        .collect();
    let fit = match (outdoor, fit_hourly(&obs)) {
        (None, _) => Err("no outdoor temperature point".to_string()),
        (_, Ok(f)) => Ok((f.metrics, gl14(Gl14Resolution::Hourly, &f.metrics).pass)),
        (_, Err(e)) => Err(e.to_string()),
    };
    Ok(BaselineLine { point: point.to_string(), fit })
}

impl BaselineLine {
    pub fn render(&self) -> String {
        match &self.fit {
            Ok((m, pass)) => format!(
                "{:<20} CV(RMSE) {:>5.1} %  NMBE {:>5.1} %  R² {:.2}  {}",
                self.point,
                100.0 * m.cv_rmse,
                100.0 * m.nmbe,
                m.r2,
                if *pass {
                    "passes Guideline 14 (hourly: CV ≤ 30 %, |NMBE| ≤ 10 %)"
                } else {
                    "FAILS Guideline 14: advice only"
                }
            ),
            Err(why) => format!("{:<20} no baseline: {why}", self.point),
        }
    }
}
