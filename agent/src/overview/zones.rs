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
    /// Driven by the building's heating power, the zone having no heating-demand point.
    pub on_building_power: bool,
}

#[derive(Debug, Clone)]
pub struct ZoneLine {
    pub zone: String,
    pub occupied_mean_c: Option<f64>,
    pub empty_mean_c: Option<f64>,
    pub heating_demand_pct: Option<f64>,
    /// `None` when the zone has no occupancy point: discomfort needs to know when people are in.
    pub discomfort_kh: Option<f64>,
    /// The zone has no presence sensor: when people are in is read from its CO₂, as the advisor
    /// reads it.
    pub occupancy_from_co2: bool,
    pub model: Result<ZoneModelLine, String>,
}

/// Occupancy (1 or 0) per quarter-hour from a zone's CO₂ by the advisor's detector, on the grid
/// of the readings' first to last quarter-hour.
fn from_co2(co2: &super::Series) -> super::Series {
    let (Some(first), Some(last)) = (co2.keys().min().copied(), co2.keys().max().copied()) else {
        return super::Series::new();
    };
    let grid: Vec<i64> = (first..=last).step_by(QUARTER_MS as usize).collect();
    let values: Vec<Option<f64>> = grid.iter().map(|t| co2.get(t).copied()).collect();
    let (occupancy, _) = crate::advisor::occupancy::from_co2(&values);
    grid.into_iter().zip(occupancy).filter_map(|(t, o)| Some((t, o?))).collect()
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
    let heating_meter =
        settings.points.iter().find(|p| p.kind == PointKind::Energy && p.is_heating_meter()).map(|p| p.id.as_str());
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
        let presence = series(store, point_of(settings, zone, PointKind::Occupancy), Resolution::QuarterHour)?;
        let co2_point = point_of(settings, zone, PointKind::Co2).filter(|_| presence.is_empty());
        let occupancy = match co2_point {
            Some(point) => from_co2(&series(store, Some(point), Resolution::QuarterHour)?),
            None => presence,
        };
        let demand_point = point_of(settings, zone, PointKind::HeatingDemand);
        let demand = series(store, demand_point, Resolution::QuarterHour)?;
        // Without a demand point the zone shares the building's heating power, kW (the
        // advisor's zone models do the same).
        let building_kw = match demand_point {
            Some(_) => None,
            None => Some(series(store, heating_meter, Resolution::QuarterHour)?),
        };
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
                    heating: match &building_kw {
                        Some(kwh) => *kwh.get(t)? / STEP_HOURS,
                        // A TRV's demand is reported at the end of the quarter-hour it describes.
                        None => *demand.get(&(t + QUARTER_MS))?,
                    },
                    hour: local.hour() as u8,
                    occupancy: occupancy.get(&(t + QUARTER_MS)).copied().unwrap_or(0.0),
                })
            })
            .collect();
        let split = (steps.len() as f64 * TRAIN_SHARE) as usize;
        let model = fit_two_node(&steps[..split], STEP_HOURS, HORIZONS[2]).map_err(|e| e.to_string()).map(|m| {
            let e = forecast_errors(&m, &steps[split..], &HORIZONS);
            let at = |i: usize| e.get(i).copied().unwrap_or((HORIZONS[i], f64::NAN, f64::NAN));
            ZoneModelLine {
                time_constant_h: m.time_constant_hours(),
                errors: [at(0), at(1), at(2)],
                on_building_power: building_kw.is_some(),
            }
        });
        lines.push(ZoneLine {
            zone: zone.to_string(),
            occupied_mean_c: mean(temps.iter().filter(|(t, _)| has_occupancy && occupied(t)).map(|(_, v)| *v)),
            empty_mean_c: mean(temps.iter().filter(|(t, _)| has_occupancy && !occupied(t)).map(|(_, v)| *v)),
            heating_demand_pct: mean(demand.values().copied()),
            discomfort_kh: discomfort,
            occupancy_from_co2: co2_point.is_some(),
            model,
        });
    }
    Ok(lines)
}

/// The zone column's width: the longest name, and no narrower than ten characters.
pub fn zone_width(lines: &[ZoneLine]) -> usize {
    lines.iter().map(|z| z.zone.chars().count()).max().unwrap_or(0).max(10)
}

/// The zones' header, its columns over the lines' at the same zone width.
pub fn header(zone_width: usize) -> String {
    format!(
        "{:<zone_width$}  occupied °C  empty °C  heating %  discomfort K·h   τ h   6 h model/persist.  24 h",
        "zone"
    )
}

impl ZoneLine {
    /// One line, its zone padded to `zone_width` (see [`zone_width`]).
    pub fn render(&self, zone_width: usize) -> String {
        let cell = |v: Option<f64>, d: usize| v.map_or("-".to_string(), |v| format!("{v:.d$}"));
        let model = match &self.model {
            Ok(m) => format!(
                "{:>5.0}   {:>5.2} / {:<5.2}       {:.2} / {:.2}{}",
                m.time_constant_h,
                m.errors[1].1,
                m.errors[1].2,
                m.errors[2].1,
                m.errors[2].2,
                if m.on_building_power { "  (on the building's heating power: no heating-demand point)" } else { "" }
            ),
            Err(why) => format!("no model: {why}"),
        };
        let co2 = if self.occupancy_from_co2 { "  (occupancy from CO₂)" } else { "" };
        format!(
            "{:<zone_width$} {:>11} {:>9} {:>10} {:>15}  {model}{co2}",
            self.zone,
            cell(self.occupied_mean_c, 1),
            cell(self.empty_mean_c, 1),
            cell(self.heating_demand_pct, 0),
            cell(self.discomfort_kh, 1),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::reading::{EnergySpan, Reading, Record};
    use sobre_models::emulator::{Building, Envelope, Plant, StepOutcome, Use, ZoneDrive, ZoneSpec};

    const QUARTER: i64 = 900_000;
    // 2019-01-07T00:00:00Z, a Monday.
    const START: i64 = 1_546_819_200_000;

    #[test]
    fn a_zone_without_a_demand_point_gets_its_model_on_the_buildings_heating_power() {
        // Given three weeks of an office zone whose boiler runs 06:00–18:00 on weekdays, with a
        // temperature sensor and the building's heating meter, and no heating-demand point
        let settings = Settings::parse(
            r#"
[site]
id = "s"
timezone = "UTC"
[[points]]
id = "outdoor"
kind = "outdoor_temperature"
unit = "°C"
topic = "o"
[[points]]
id = "gas"
kind = "energy"
fuel = "gas"
unit = "kWh"
topic = "g"
cumulative = false
interval = "15m"
tags = ["heating"]
[[points]]
id = "office_t"
kind = "zone_temperature"
zone = "office"
unit = "°C"
topic = "t"
"#,
            "test",
        )
        .expect("valid test config");
        let zone = ZoneSpec::from_archetype("office", 400.0, Use::Office, Envelope::Poor);
        let boiler = Plant::Boiler { rated_w: zone.emitter, efficiency: 0.9 };
        let mut building = Building::new(vec![zone], vec![], boiler, 16.0).expect("valid office");
        let mut out = StepOutcome::default();
        let mut batch = Vec::new();
        for i in 0..21 * 96 {
            let (day, quarter) = (i / 96, i % 96);
            let outdoor = 2.0 + (day * 7 % 9) as f64 - 3.0 * (quarter as f64 / 96.0 * std::f64::consts::TAU).cos();
            let on = day % 7 < 5 && (24..72).contains(&quarter);
            let drive = ZoneDrive { setpoint: if on { 21.0 } else { 12.0 }, occupancy: 0.0 };
            building.step(900.0, outdoor, 0.0, &[drive], &mut out).expect("one drive");
            let ts_ms = START + i as i64 * QUARTER;
            let kwh = out.plant_wh / 1000.0;
            let energy = Some(EnergySpan { start_ms: ts_ms, end_ms: ts_ms + QUARTER, kwh });
            batch.push(Record::Reading(Reading { point: 0, ts_ms, value: outdoor, energy: None }));
            batch.push(Record::Reading(Reading { point: 1, ts_ms, value: kwh, energy }));
            batch.push(Record::Reading(Reading { point: 2, ts_ms, value: out.zones[0].mean_air, energy: None }));
        }
        let dir = tempfile::tempdir().expect("tempdir");
        let mut store =
            Store::open(&dir.path().join("sobre.db"), &settings.points, settings.site.timezone).expect("store opens");
        store.write(&batch).expect("write");
        // When the summary's zone lines are drawn
        let lines = lines(&store, &settings, &Calendar { tz: settings.site.timezone }).expect("lines");
        // Then the zone has a model, driven by the building's power, that forecasts a day ahead
        // better than persistence, and its line says what drove it
        let model = lines[0].model.as_ref().expect("a zone model");
        assert!(model.on_building_power);
        let (_, rmse, persistence) = model.errors[2];
        assert!(rmse < persistence, "{model:?}");
        let line = lines[0].render(zone_width(&lines));
        assert!(line.contains("on the building's heating power"), "{line}");
    }

    #[test]
    fn zone_names_longer_than_ten_characters_keep_the_columns_aligned() {
        // Given zones named short, at the old width and longer
        let zone = |name: &str| ZoneLine {
            zone: name.to_string(),
            occupied_mean_c: Some(21.2),
            empty_mean_c: Some(20.3),
            heating_demand_pct: Some(17.0),
            discomfort_kh: Some(0.0),
            occupancy_from_co2: false,
            model: Err("too few days".to_string()),
        };
        let lines = [zone("gym"), zone("class-10ab"), zone("offices-north-wing")];
        // When the table is drawn
        let width = zone_width(&lines);
        let rendered: Vec<String> = lines.iter().map(|z| z.render(width)).collect();
        // Then each figure starts in the same column on every line, under its header
        let column = |line: &str, figure: &str| line.find(figure).map(|b| line[..b].chars().count());
        for figure in ["21.2", "20.3", "17", "no model"] {
            let at: Vec<_> = rendered.iter().map(|l| column(l, figure)).collect();
            assert!(at.iter().all(|c| c.is_some() && *c == at[0]), "{figure}: {rendered:#?}");
        }
        let head = header(width);
        assert!(column(&head, "empty °C") < column(&rendered[2], "20.3"), "{head}\n{}", rendered[2]);
        // And the names up to ten characters keep the table as it was
        assert_eq!(zone_width(&lines[..2]), 10);
        assert!(header(10).starts_with("zone        occupied °C"));
    }
}
