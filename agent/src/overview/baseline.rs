//! The baseline of one energy point over everything the store holds, for the summary.

use crate::baseline;
use crate::config::Site;
use crate::store::{Store, StoreError};
use sobre_models::metrics::Metrics;

#[derive(Debug, Clone)]
pub struct BaselineLine {
    pub point: String,
    /// The fit's metrics and whether they pass Guideline 14, or why there is no fit.
    pub fit: Result<(Metrics, bool), String>,
}

pub fn fit(store: &Store, site: &Site, point: &str, outdoor: Option<&str>) -> Result<BaselineLine, StoreError> {
    let fit = match outdoor {
        None => Err("no outdoor temperature point".to_string()),
        Some(outdoor) => {
            let hours = baseline::hours(store, site, point, outdoor, (i64::MIN, i64::MAX))?;
            baseline::fit(&hours).map(|b| (b.metrics, b.gate_pass))
        }
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
