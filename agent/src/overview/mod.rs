//! What the agent learned and what the building did, read back from the store: the summary a
//! facility manager reads at the end of `sobre demo` (and, later, on the local page).
//! Everything here is measured by the agent's own points; nothing comes from the emulator.
//!
//! Layer: views (see `crate::layers`): reads the store and the baselines; writes nothing.

mod baseline;
mod zones;

use crate::config::Settings;
use crate::point::{Fuel, PointKind};
use crate::store::rollup::{Calendar, Resolution};
use crate::store::{Store, StoreError};
pub use baseline::BaselineLine;
pub use zones::{ZoneLine, ZoneModelLine};

#[derive(Debug, Clone)]
pub struct EnergyLine {
    pub point: String,
    pub fuel: Fuel,
    pub kwh: f64,
    pub eur: f64,
    pub kg_co2: f64,
}

#[derive(Debug, Clone)]
pub struct Overview {
    pub first_day: String,
    pub last_day: String,
    pub days: usize,
    pub energy: Vec<EnergyLine>,
    pub baselines: Vec<BaselineLine>,
    pub zones: Vec<ZoneLine>,
    pub comfort: (f64, f64),
}

/// Series of one point at one resolution, keyed by bucket start.
pub(crate) type Series = std::collections::HashMap<i64, f64>;

fn series(store: &Store, point: Option<&str>, resolution: Resolution) -> Result<Series, StoreError> {
    match point {
        Some(p) => Ok(store.buckets(p, resolution)?.into_iter().collect()),
        None => Ok(Series::new()),
    }
}

fn first_of(settings: &Settings, kind: PointKind) -> Option<&str> {
    settings.first_point(kind).map(|p| p.id.as_str())
}

pub fn compute(store: &Store, settings: &Settings) -> Result<Overview, StoreError> {
    let calendar = Calendar { tz: settings.site.timezone };
    let outdoor = first_of(settings, PointKind::OutdoorTemperature);
    let days = store.buckets(outdoor.unwrap_or_default(), Resolution::Day)?;
    let day_label = |ms: Option<&(i64, f64)>| ms.map(|(t, _)| calendar.local_date(*t).to_string()).unwrap_or_default();
    let mut energy = Vec::new();
    let mut baselines = Vec::new();
    for p in settings.points.iter().filter(|p| p.kind == PointKind::Energy) {
        let kwh: f64 = store.buckets(&p.id, Resolution::Day)?.iter().map(|(_, v)| v).sum();
        let fuel = p.fuel.unwrap_or(Fuel::Electricity);
        let tariff = settings.tariffs.of(fuel);
        energy.push(EnergyLine {
            point: p.id.clone(),
            fuel,
            kwh,
            eur: kwh * tariff.eur_per_kwh,
            kg_co2: kwh * tariff.kg_co2_per_kwh,
        });
        baselines.push(baseline::fit(store, &settings.site, &p.id, outdoor)?);
    }
    let zones = zones::lines(store, settings, &calendar)?;
    Ok(Overview {
        first_day: day_label(days.first()),
        last_day: day_label(days.last()),
        days: days.len(),
        energy,
        baselines,
        zones,
        comfort: (settings.comfort.min_c, settings.comfort.max_c),
    })
}

impl Overview {
    /// A plain-text summary, 80 columns wide.
    pub fn render(&self) -> String {
        use std::fmt::Write as _;
        let mut out = String::new();
        let weeks = self.days as f64 / 7.0;
        let _ = writeln!(out, "What sobre measured, {} to {} ({weeks:.0} weeks)\n", self.first_day, self.last_day);
        let _ = writeln!(out, "Energy                         kWh          €     kg CO₂");
        for e in &self.energy {
            let _ = writeln!(
                out,
                "  {:<20} {:>12.0} {:>10.0} {:>10.0}   ({})",
                e.point,
                e.kwh,
                e.eur,
                e.kg_co2,
                e.fuel.name()
            );
        }
        let _ = writeln!(
            out,
            "\nBaselines (CalTRACK: hourly, or daily with open and closed days where only that passes Guideline 14)"
        );
        for b in &self.baselines {
            let _ = writeln!(out, "  {}", b.render());
        }
        let (lo, hi) = self.comfort;
        let _ = writeln!(
            out,
            "\nZones: comfort while occupied {lo}–{hi} °C; zone model 3R2C (air and walls) trained on the first\n\
             70 % of the period, forecast error on the last 30 % against persistence (K)"
        );
        // Zone names longer than the column widen it rather than push their line's figures out
        // of it.
        let width = zones::zone_width(&self.zones);
        let _ = writeln!(out, "  {}", zones::header(width));
        for z in &self.zones {
            let _ = writeln!(out, "  {}", z.render(width));
        }
        out
    }
}
