//! The baseline of one energy point over everything the store holds, for the summary.

use crate::baseline;
use crate::config::Site;
use crate::store::{Store, StoreError};
use sobre_models::metrics::{gl14, Metrics, Resolution};

#[derive(Debug, Clone)]
pub struct BaselineLine {
    pub point: String,
    /// The fit's metrics, whether they pass Guideline 14 and at which resolution, or why there
    /// is no fit.
    pub fit: Result<(Metrics, bool, Resolution), String>,
}

pub fn fit(store: &Store, site: &Site, point: &str, outdoor: Option<&str>) -> Result<BaselineLine, StoreError> {
    let fit = match outdoor {
        None => Err("no outdoor temperature point".to_string()),
        Some(outdoor) => {
            let hours = baseline::hours(store, site, point, outdoor, (i64::MIN, i64::MAX))?;
            baseline::fit(site.timezone, &hours).map(|b| (b.metrics, b.gate_pass, b.resolution()))
        }
    };
    Ok(BaselineLine { point: point.to_string(), fit })
}
impl BaselineLine {
    pub fn render(&self) -> String {
        match &self.fit {
            Ok((m, pass, resolution)) => {
                let gate = gl14(*resolution, m);
                format!(
                    "{:<20} {:<6} CV(RMSE) {:>5.1} %  NMBE {:>5.1} %  R² {:.2}  {}",
                    self.point,
                    resolution.name(),
                    100.0 * m.cv_rmse,
                    100.0 * m.nmbe,
                    m.r2,
                    if *pass {
                        format!(
                            "passes Guideline 14 ({}: CV ≤ {:.0} %, |NMBE| ≤ {:.0} %)",
                            resolution.name(),
                            100.0 * gate.cv_rmse_limit,
                            100.0 * gate.nmbe_limit
                        )
                    } else {
                        "FAILS Guideline 14: advice only".to_string()
                    }
                )
            }
            Err(why) => format!("{:<20} no baseline: {why}", self.point),
        }
    }
}
