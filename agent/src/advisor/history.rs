//! The quarter-hours the advisor reasons on, read from the store's rollups onto one grid: per
//! zone its temperature, setpoint, heating demand, presence and CO₂; for the building its
//! outdoor temperature, sun, metered heating energy and BMS occupancy point. Which of them
//! gives each zone's occupancy is the choice of [`super::occupancy`].

use crate::config::Settings;
use crate::point::PointKind;
use crate::store::rollup::Resolution;
use crate::store::{Store, StoreError};
use chrono::{DateTime, NaiveDate, NaiveDateTime};
use chrono_tz::Tz;
use std::collections::{BTreeMap, HashMap};

pub const QUARTER_MS: i64 = 900_000;
pub const STEP_HOURS: f64 = 0.25;

/// A day with less than this share of its quarter-hours has no total or mean.
const DAY_COVERAGE: f64 = 0.9;

/// Whether `readings` over a local day of `quarters` quarter-hours make it whole: a day that is
/// itself whole (92 quarter-hours on the spring clock change) and nearly all of it read. A part
/// day's energy or mean is a part of the day's.
pub fn whole_day(readings: usize, quarters: usize) -> bool {
    quarters >= 92 && readings as f64 >= DAY_COVERAGE * quarters as f64
}

/// One local day of a column: the sum of its values, how many there were, and the day's
/// quarter-hours.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct DaySum {
    pub sum: f64,
    pub readings: usize,
    pub quarters: usize,
}

/// One series on the grid; `None` where the store holds nothing.
pub type Column = Vec<Option<f64>>;

#[derive(Debug, Clone)]
pub struct ZoneHistory {
    pub zone: String,
    pub temperature: Column,
    pub setpoint: Column,
    /// Heating demand of the quarter-hour, %.
    pub demand: Column,
    /// Cooling demand of the quarter-hour, % (most zones have none).
    pub cooling: Column,
    /// Share of the quarter-hour someone was in, from the source [`super::occupancy`] chose;
    /// as read, the zone's presence sensor.
    pub occupancy: Column,
    /// The zone's presence sensor, and its CO₂ (ppm), with the points' ids.
    pub presence_point: Option<String>,
    pub co2_point: Option<String>,
    pub co2: Column,
}

/// What heats a zone, as its model sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HeatingInput {
    /// The zone's heating-demand point (a TRV's valve, a PI demand), %.
    ZoneDemand,
    /// The building's heating meter, kW: a BMS-run plant has no demand per zone, so each zone
    /// takes the building's power and its fitted gain learns its share.
    BuildingPower,
}

impl HeatingInput {
    /// For a model's description.
    pub fn describe(self) -> &'static str {
        match self {
            HeatingInput::ZoneDemand => "the zone's heating demand",
            HeatingInput::BuildingPower => {
                "the building's heating power shared by the zones (no heating demand reported per zone)"
            }
        }
    }
}

#[derive(Debug, Clone)]
pub struct History {
    pub tz: Tz,
    pub start_ms: i64,
    pub outdoor: Column,
    pub solar: Column,
    /// The meter that carries the heating (tagged `heating`), kWh per quarter-hour.
    pub heating_meter: Option<String>,
    pub heating_kwh: Column,
    /// The other electricity meters summed, kWh per quarter-hour: the baseload check reads it.
    pub other_meters: Vec<String>,
    pub other_kwh: Column,
    /// A building-wide occupancy or mode point (an occupancy point without a zone), 0–1.
    pub building_point: Option<String>,
    pub building_occupancy: Column,
    pub zones: Vec<ZoneHistory>,
    /// Where each zone's occupancy came from, in the order of `zones`.
    pub occupancy_sources: Vec<super::occupancy::ZoneOccupancy>,
}

/// Tests' fixtures start from nothing read and fill in what they give.
#[cfg(test)]
impl ZoneHistory {
    /// `zone` over `n` quarter-hours, with no reading and no point.
    pub fn blank(zone: &str, n: usize) -> Self {
        Self {
            zone: zone.into(),
            temperature: vec![None; n],
            setpoint: vec![None; n],
            demand: vec![None; n],
            cooling: vec![None; n],
            occupancy: vec![None; n],
            presence_point: None,
            co2_point: None,
            co2: vec![None; n],
        }
    }
}

#[cfg(test)]
impl History {
    /// `n` quarter-hours from `start_ms` with no zone, no meter and no reading.
    pub fn blank(tz: Tz, start_ms: i64, n: usize) -> Self {
        Self {
            tz,
            start_ms,
            outdoor: vec![None; n],
            solar: vec![None; n],
            heating_meter: None,
            heating_kwh: vec![None; n],
            other_meters: Vec::new(),
            other_kwh: vec![None; n],
            building_point: None,
            building_occupancy: vec![None; n],
            zones: Vec::new(),
            occupancy_sources: Vec::new(),
        }
    }
}

impl History {
    pub fn len(&self) -> usize {
        self.outdoor.len()
    }

    pub fn is_empty(&self) -> bool {
        self.outdoor.is_empty()
    }

    pub fn ts(&self, i: usize) -> i64 {
        self.start_ms + i as i64 * QUARTER_MS
    }

    pub fn local(&self, i: usize) -> NaiveDateTime {
        DateTime::from_timestamp_millis(self.ts(i)).unwrap_or_default().with_timezone(&self.tz).naive_local()
    }

    pub fn days(&self) -> f64 {
        self.len() as f64 * STEP_HOURS / 24.0
    }

    /// `column` summed per whole local day.
    pub fn whole_days(&self, column: &Column) -> BTreeMap<NaiveDate, DaySum> {
        let mut days = BTreeMap::<NaiveDate, DaySum>::new();
        for (i, value) in column.iter().enumerate() {
            let d = days.entry(self.local(i).date()).or_default();
            d.quarters += 1;
            if let Some(v) = value {
                d.sum += v;
                d.readings += 1;
            }
        }
        days.retain(|_, d| whole_day(d.readings, d.quarters));
        days
    }

    /// What a zone's model is driven by: its own heating demand where it has a demand point
    /// that reported, or else the building's heating power, which every such zone shares.
    pub fn heating_input(&self, z: usize) -> HeatingInput {
        if self.zones[z].demand.iter().any(Option::is_some) {
            HeatingInput::ZoneDemand
        } else {
            HeatingInput::BuildingPower
        }
    }

    /// Zone `z`'s heating input during quarter-hour `i`: its demand, %, or the building's
    /// heating power, kW (the heating meter's quarter-hour over its length).
    pub fn heating(&self, input: HeatingInput, z: usize, i: usize) -> Option<f64> {
        match input {
            HeatingInput::ZoneDemand => self.zones[z].demand[i],
            HeatingInput::BuildingPower => self.heating_kwh[i].map(|kwh| kwh / STEP_HOURS),
        }
    }

    /// Anyone in, in any zone, during quarter-hour `i`.
    pub fn building_occupied(&self, i: usize) -> bool {
        self.zones.iter().any(|z| z.occupancy[i].is_some_and(|o| o > 0.0))
    }
}

/// Reads `[from_ms, to_ms)` (quarter-hour aligned by the caller, or rounded down here).
pub fn read(store: &Store, settings: &Settings, (from_ms, to_ms): (i64, i64)) -> Result<History, StoreError> {
    let start_ms = from_ms.div_euclid(QUARTER_MS) * QUARTER_MS;
    let n = usize::try_from((to_ms - start_ms).max(0) / QUARTER_MS).unwrap_or(0);
    // A TRV's demand is reported at the end of the quarter-hour it describes.
    let column = |point: Option<&str>, shift: i64| -> Result<Column, StoreError> {
        let Some(point) = point else { return Ok(vec![None; n]) };
        let values: HashMap<i64, f64> = store.buckets(point, Resolution::QuarterHour)?.into_iter().collect();
        Ok((0..n).map(|i| values.get(&(start_ms + i as i64 * QUARTER_MS + shift)).copied()).collect())
    };
    let first = |kind| settings.first_point(kind).map(|p| p.id.as_str());
    let energy = || settings.points.iter().filter(|p| p.kind == PointKind::Energy);
    let heating_meter = energy().find(|p| p.is_heating_meter()).map(|p| p.id.clone());
    let other_meters: Vec<String> =
        energy().filter(|p| Some(&p.id) != heating_meter.as_ref()).map(|p| p.id.clone()).collect();
    let mut other_kwh: Column = vec![None; n];
    for meter in &other_meters {
        for (sum, v) in other_kwh.iter_mut().zip(column(Some(meter), 0)?) {
            *sum = match (*sum, v) {
                (Some(a), Some(b)) => Some(a + b),
                (a, b) => a.or(b),
            };
        }
    }
    let mut zones: Vec<ZoneHistory> = Vec::new();
    for p in settings.points.iter().filter(|p| p.kind == PointKind::ZoneTemperature) {
        let Some(zone) = p.zone.as_deref() else { continue };
        if zones.iter().any(|z| z.zone == zone) {
            continue;
        }
        let of = |kind| {
            settings.points.iter().find(|q| q.kind == kind && q.zone.as_deref() == Some(zone)).map(|q| q.id.as_str())
        };
        let (presence_point, co2_point) = (of(PointKind::Occupancy), of(PointKind::Co2));
        zones.push(ZoneHistory {
            zone: zone.to_string(),
            temperature: column(Some(&p.id), 0)?,
            setpoint: column(of(PointKind::Setpoint), 0)?,
            demand: column(of(PointKind::HeatingDemand), QUARTER_MS)?,
            cooling: column(of(PointKind::CoolingDemand), QUARTER_MS)?,
            // A presence sensor reports the state from its timestamp on.
            occupancy: column(presence_point, 0)?,
            presence_point: presence_point.map(str::to_string),
            co2_point: co2_point.map(str::to_string),
            co2: column(co2_point, 0)?,
        });
    }
    let building_point =
        settings.points.iter().find(|p| p.kind == PointKind::Occupancy && p.zone.is_none()).map(|p| p.id.clone());
    Ok(History {
        tz: settings.site.timezone,
        start_ms,
        outdoor: column(first(PointKind::OutdoorTemperature), 0)?,
        solar: column(first(PointKind::SolarIrradiance), 0)?,
        heating_kwh: column(heating_meter.as_deref(), 0)?,
        heating_meter,
        other_meters,
        other_kwh,
        building_occupancy: column(building_point.as_deref(), 0)?,
        building_point,
        zones,
        occupancy_sources: Vec::new(),
    })
}
