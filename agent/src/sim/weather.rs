//! A real weather year: hourly outdoor temperature and global horizontal irradiance, linearly
//! interpolated to the emulator's step. Bundled: Cambridge (UK) 2019, measured beside the
//! university's buildings, and the Netherlands from October 2021 to January 2022, measured
//! beside Dutch homes (see tests/data/README.md).

use crate::clock::iso;
use crate::ingest::decode::parse_timestamp;
use std::path::Path;

const CAMBRIDGE_2019: &[u8] = include_bytes!("../../../tests/data/cambridge_estates/ucam_b33_2019.csv");
const NETHERLANDS_2021: &[u8] = include_bytes!("../../../tests/data/nl_homes_thermal/weather_2021.csv");

/// A bundled weather record.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Deserialize)]
pub enum Climate {
    /// Cambridge (UK), the year 2019: a maritime winter, rarely below −3 °C.
    #[default]
    #[serde(rename = "cambridge-2019")]
    Cambridge2019,
    /// The Netherlands, 25 October 2021 to 4 January 2022.
    #[serde(rename = "netherlands-2021")]
    Netherlands2021,
}

impl Climate {
    /// Where and when, for people.
    pub fn label(self) -> &'static str {
        match self {
            Climate::Cambridge2019 => "Cambridge (UK) 2019",
            Climate::Netherlands2021 => "the Netherlands, autumn 2021",
        }
    }
}

#[derive(Debug, Clone)]
pub struct Weather {
    /// (epoch ms, °C, W/m²), hourly, oldest first.
    hours: Vec<(i64, f64, f64)>,
}

#[derive(Debug, thiserror::Error)]
pub enum WeatherError {
    #[error("cannot read the weather file: {0}")]
    Csv(#[from] csv::Error),
    #[error("the weather file has no column {0:?} (it needs timestamp_utc, temp_c and ghi_wm2)")]
    NoColumn(&'static str),
    #[error("the weather file holds no usable hour")]
    Empty,
    #[error("the weather covers {first} to {last}, not {from} to {to}")]
    Outside { first: String, last: String, from: String, to: String },
}

impl Weather {
    pub fn bundled(climate: Climate) -> Result<Self, WeatherError> {
        Self::read(match climate {
            Climate::Cambridge2019 => CAMBRIDGE_2019,
            Climate::Netherlands2021 => NETHERLANDS_2021,
        })
    }

    pub fn load(path: &Path) -> Result<Self, WeatherError> {
        Self::read(std::fs::File::open(path).map_err(csv::Error::from)?)
    }

    /// Hours with a missing temperature are skipped (interpolated over); missing sun is night.
    pub fn read(csv: impl std::io::Read) -> Result<Self, WeatherError> {
        let mut reader = csv::Reader::from_reader(csv);
        let header = reader.headers()?.clone();
        let column = |name: &'static str| header.iter().position(|h| h == name).ok_or(WeatherError::NoColumn(name));
        let (ts, temp, ghi) = (column("timestamp_utc")?, column("temp_c")?, column("ghi_wm2")?);
        let mut hours = Vec::new();
        for record in reader.records() {
            let record = record?;
            let Some(ts_ms) = record.get(ts).and_then(|t| parse_timestamp(t, chrono_tz::UTC)) else { continue };
            let Some(t) = record.get(temp).and_then(|t| t.parse::<f64>().ok()).filter(|t| t.is_finite()) else {
                continue;
            };
            let g = record.get(ghi).and_then(|g| g.parse::<f64>().ok()).filter(|g| g.is_finite()).unwrap_or(0.0);
            hours.push((ts_ms, t, g.max(0.0)));
        }
        hours.sort_by_key(|h| h.0);
        if hours.is_empty() {
            return Err(WeatherError::Empty);
        }
        Ok(Self { hours })
    }

    pub fn covers(&self, from_ms: i64, to_ms: i64) -> Result<(), WeatherError> {
        let (first, last) = (self.hours[0].0, self.hours[self.hours.len() - 1].0);
        if from_ms >= first && to_ms <= last + 3_600_000 {
            return Ok(());
        }
        Err(WeatherError::Outside { first: iso(first), last: iso(last), from: iso(from_ms), to: iso(to_ms) })
    }

    /// (°C, W/m²) at a moment, interpolated between the hours around it.
    pub fn at(&self, ts_ms: i64) -> (f64, f64) {
        let after = self.hours.partition_point(|h| h.0 <= ts_ms);
        match (after.checked_sub(1).map(|i| self.hours[i]), self.hours.get(after)) {
            (Some(a), Some(b)) => {
                let w = (ts_ms - a.0) as f64 / (b.0 - a.0).max(1) as f64;
                (a.1 + w * (b.1 - a.1), a.2 + w * (b.2 - a.2))
            }
            (Some(a), None) => (a.1, a.2),
            (None, Some(b)) => (b.1, b.2),
            (None, None) => (10.0, 0.0),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn weather_is_interpolated_between_hours_and_gaps_are_bridged() {
        let csv = "timestamp_utc,temp_c,ghi_wm2\n2019-01-01T00:00:00Z,2,0\n2019-01-01T01:00:00Z,,\n\
                   2019-01-01T02:00:00Z,6,100\n";
        let w = Weather::read(csv.as_bytes()).expect("valid");
        let t0 = parse_timestamp("2019-01-01T00:00:00Z", chrono_tz::UTC).expect("valid");
        assert_eq!(w.at(t0), (2.0, 0.0));
        assert_eq!(w.at(t0 + 3_600_000), (4.0, 50.0), "the missing hour is bridged");
        assert!(w.covers(t0, t0 + 7_200_000).is_ok());
        assert!(w.covers(t0 - 1, t0).is_err());
        assert!(matches!(Weather::read("time,temp\n".as_bytes()), Err(WeatherError::NoColumn(_))));
    }
}
