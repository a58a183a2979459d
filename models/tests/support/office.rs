//! An office heated intermittently, played by the emulator under real weather: a gas boiler that
//! a BMS switches to a 12 °C frost setback at night and at weekends, two open-plan floors, people
//! in on weekdays. Aggregated to quarter-hours as the agent stores them.
#![allow(dead_code)]

use sobre_models::emulator::{Building, Envelope, Noise, Plant, Sensor, StepOutcome, Use, ZoneDrive, ZoneSpec};

const WEATHER: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../tests/data/nl_homes_thermal/blg_2_15min.csv");
pub const STEP_HOURS: f64 = 0.25;
pub const QUARTERS_PER_DAY: usize = 96;
/// The weather file starts on Monday 25 October 2021 at midnight.
const FIRST_WEEKDAY: usize = 0;
/// Days of the weather file in each month from October 2021: (month, days).
const MONTHS: [(u8, usize); 4] = [(10, 7), (11, 30), (12, 31), (1, 31)];
/// The office closes from Friday 24 December 2021 to Sunday 2 January 2022, days of the file.
const CHRISTMAS: std::ops::RangeInclusive<usize> = 60..=69;
/// Days the building runs before anything is recorded: its mass forgets the start.
pub const WARM_UP_DAYS: usize = 7;
/// The setback the BMS holds while the plant is off, °C.
const OFF_C: f64 = 12.0;
/// The BMS's room sensors: 0.1 K of noise, read to 0.1 °C, three readings a quarter-hour.
const ROOM_SENSOR: Sensor = Sensor { sigma: 0.1, quantum: 0.1 };
const READINGS_PER_QUARTER: usize = 3;
/// The gas meter's pulse, kWh: the store holds the counter's steps.
const GAS_PULSE_KWH: f64 = 1.0;

/// One quarter-hour of weather: outdoor air, °C, and global irradiance, W/m².
#[derive(Debug, Clone, Copy)]
pub struct Weather {
    pub outdoor: f64,
    pub ghi: f64,
}

/// Whole days of the Dutch home's weather (Oct 2021 – Jan 2022, 15 min).
pub fn weather() -> Vec<Weather> {
    let text = std::fs::read_to_string(WEATHER).expect("bundled data");
    let mut rows: Vec<Weather> = text
        .lines()
        .skip(1)
        .map(|line| {
            let c: Vec<f64> = line.split(',').skip(1).map(|v| v.parse().expect("number")).collect();
            // Ps (kW/m², see tests/data/README.md), Ta, yTi, Thm
            Weather { outdoor: c[1], ghi: 1000.0 * c[0] }
        })
        .collect();
    rows.truncate(rows.len() / QUARTERS_PER_DAY * QUARTERS_PER_DAY);
    rows
}

/// The BMS's heating programme.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Programme {
    /// Setpoint while the plant runs, °C.
    pub occupied_c: f64,
    /// Local hour the plant starts on a heated day.
    pub start_hour: f64,
    pub end_hour: f64,
    /// Saturdays and Sundays heated like weekdays.
    pub weekends_heated: bool,
}

impl Programme {
    pub const WELL_TUNED: Programme =
        Programme { occupied_c: 21.0, start_hour: 6.0, end_hour: 18.0, weekends_heated: false };

    pub fn setpoint(&self, weekday: usize, hour: f64, holiday: bool) -> f64 {
        let heated_day = !holiday && (weekday < 5 || self.weekends_heated);
        if heated_day && (self.start_hour..self.end_hour).contains(&hour) {
            self.occupied_c
        } else {
            OFF_C
        }
    }
}

/// People in, 0–1: weekdays 08:00–18:00 but holidays, fewer at lunch.
fn occupancy(weekday: usize, hour: f64, holiday: bool) -> f64 {
    match (weekday < 5 && !holiday, hour) {
        (false, _) => 0.0,
        (true, h) if (12.0..13.5).contains(&h) => 0.4,
        (true, h) if (8.0..18.0).contains(&h) => 0.8,
        _ => 0.0,
    }
}

/// One recorded quarter-hour, as the agent's rollups hold it.
#[derive(Debug, Clone, PartialEq)]
pub struct Quarter {
    /// Index from the first recorded quarter-hour; its local day is `index / 96`.
    pub day: usize,
    /// 1–12.
    pub month: u8,
    pub weekday: usize,
    /// The office is closed for Christmas.
    pub holiday: bool,
    pub hour: f64,
    pub outdoor: f64,
    pub ghi: f64,
    /// Mean of each zone's sensor readings over the quarter-hour, °C.
    pub zones: Vec<f64>,
    pub setpoint: f64,
    pub occupancy: f64,
    /// Gas metered, kWh (whole pulses).
    pub gas_kwh: f64,
    /// The emitters' duty per zone, 0–1 (what a TRV would report; an office has none).
    pub duty: Vec<f64>,
}

fn zones() -> Vec<ZoneSpec> {
    vec![
        ZoneSpec::from_archetype("ground", 600.0, Use::Office, Envelope::Poor),
        ZoneSpec::from_archetype("first", 600.0, Use::Office, Envelope::Average),
    ]
}

/// Runs the office under `programme` over the whole weather file; returns the quarter-hours
/// after the warm-up.
pub fn run(programme: Programme, weather: &[Weather]) -> Vec<Quarter> {
    let zones = zones();
    let emitters: f64 = zones.iter().map(|z| z.emitter).sum();
    let boiler = Plant::Boiler { rated_w: 1.2 * emitters, efficiency: 0.88 };
    let mut building = Building::new(zones, vec![(0, 1, 400.0)], boiler, 16.0).expect("valid office");
    let mut out = StepOutcome::default();
    let mut quarters = Vec::new();
    let mut noise = Noise::new(18);
    let (mut burnt_kwh, mut counted_kwh) = (0.0, 0.0);
    for (k, w) in weather.iter().enumerate() {
        let day = k / QUARTERS_PER_DAY;
        let weekday = (FIRST_WEEKDAY + day) % 7;
        let hour = (k % QUARTERS_PER_DAY) as f64 * STEP_HOURS;
        let holiday = CHRISTMAS.contains(&day);
        let setpoint = programme.setpoint(weekday, hour, holiday);
        let occupancy = occupancy(weekday, hour, holiday);
        let drive = ZoneDrive { setpoint, occupancy };
        building.step(STEP_HOURS * 3600.0, w.outdoor, w.ghi, &[drive, drive], &mut out).expect("two drives");
        burnt_kwh += out.plant_wh / 1000.0;
        let counter = (burnt_kwh / GAS_PULSE_KWH).floor() * GAS_PULSE_KWH;
        let gas_kwh = counter - counted_kwh;
        counted_kwh = counter;
        let mut read = |air: f64| {
            (0..READINGS_PER_QUARTER).map(|_| ROOM_SENSOR.read(air, &mut noise)).sum::<f64>()
                / READINGS_PER_QUARTER as f64
        };
        let zones: Vec<f64> = out.zones.iter().map(|z| read(z.mean_air)).collect();
        if day >= WARM_UP_DAYS {
            quarters.push(Quarter {
                day: day - WARM_UP_DAYS,
                month: month_of(day),
                weekday,
                holiday,
                hour,
                outdoor: w.outdoor,
                ghi: w.ghi,
                zones,
                setpoint,
                occupancy,
                gas_kwh,
                duty: out.zones.iter().map(|z| z.duty).collect(),
            });
        }
    }
    quarters
}

fn month_of(day: usize) -> u8 {
    let mut first = 0;
    for (month, days) in MONTHS {
        if day < first + days {
            return month;
        }
        first += days;
    }
    MONTHS[MONTHS.len() - 1].0
}

/// Mean of the zones' air temperatures.
pub fn indoor(q: &Quarter) -> f64 {
    q.zones.iter().sum::<f64>() / q.zones.len() as f64
}
