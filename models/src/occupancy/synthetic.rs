//! A room whose CO₂ follows the well-mixed mass balance, V·dC/dt = G·n − Q·(C − C_out), with
//! people coming and going on a timetable: the bench the CO₂ detector is measured on, with
//! the truth it must find.
//!
//! Volume = floor area × 2.7 m; people = occupancy × area / m² per person; each person breathes
//! out 0.0052 L/s of CO₂; outdoors holds 420 ppm; infiltration renews 0.2 volumes an hour,
//! and mechanical ventilation, when there is one, is sized so that a full room settles 550 ppm
//! above outdoors. The balance is integrated by the minute; the sensor reports the mean of each
//! quarter-hour with Gaussian noise, rounded to 1 ppm, and drops out now and then.

/// Outdoor CO₂, ppm.
pub const OUTDOOR_PPM: f64 = 420.0;
/// CO₂ breathed out by one seated adult, L/s.
pub const LITRES_PER_SECOND_PER_PERSON: f64 = 0.0052;
const CEILING_M: f64 = 2.7;
const INFILTRATION_PER_HOUR: f64 = 0.2;
/// Mechanical ventilation holds a full room this far above outdoors.
const DESIGN_EXCESS_PPM: f64 = 550.0;
const MINUTES_PER_QUARTER: usize = 15;
const MINUTES_PER_DAY: usize = 24 * 60;

/// How the room is ventilated; the detector is told none of it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ventilation {
    /// Infiltration only (windows shut): excess CO₂ takes hours to decay.
    Natural,
    /// Mechanical ventilation at its design rate on working days 07:00–19:00, whoever is in.
    Scheduled,
    /// Mechanical ventilation scaled with the occupancy (demand-controlled), off when empty.
    DemandControlled,
}

/// Who uses the room, and when.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RoomUse {
    /// 10 m² a person; weekdays, arrivals 07:30–09:00, lunch dip to 40 %, departures
    /// 17:00–18:30, one weekday in ten nobody comes.
    Office,
    /// 2 m² a person (French timetable): 08:20–16:30 on Monday, Tuesday, Thursday and Friday
    /// with the room empty at lunch 11:30–13:30, Wednesday morning only; one day in twenty a
    /// class trip.
    Classroom,
    /// 3 m² a person; on half the weekdays one or two meetings of 30–120 min, from 09:00 on.
    MeetingRoom,
}

impl RoomUse {
    fn m2_per_person(self) -> f64 {
        match self {
            RoomUse::Office => 10.0,
            RoomUse::Classroom => 2.0,
            RoomUse::MeetingRoom => 3.0,
        }
    }
}

#[derive(Debug, Clone, Copy)]
pub struct Room {
    pub room_use: RoomUse,
    pub ventilation: Ventilation,
    pub area_m2: f64,
    /// Standard deviation of each quarter-hour's reading, ppm.
    pub noise_ppm: f64,
    /// The series starts on a Monday at midnight and lasts this many days.
    pub days: usize,
    pub seed: u64,
}

/// One occupied day of the truth: when the first person came and the last left, minutes
/// after midnight.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Visit {
    pub day: usize,
    pub arrive_minute: usize,
    pub leave_minute: usize,
}

/// What the sensor reported and what really happened.
#[derive(Debug, Clone)]
pub struct Series {
    /// Quarter-hour means as the sensor reports them; `None` where it dropped out.
    pub co2: Vec<Option<f64>>,
    /// Someone was in for at least half of the quarter-hour.
    pub occupied: Vec<bool>,
    /// Mean share of the room's people in, per quarter-hour.
    pub occupancy: Vec<f64>,
    pub visits: Vec<Visit>,
}

/// splitmix64: a seeded generator so that every run of the bench gives the same series.
struct Random(u64);

impl Random {
    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in [0, 1).
    fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    fn minutes(&mut self, from: usize, span: usize) -> usize {
        from + (self.unit() * span as f64) as usize
    }

    fn normal(&mut self) -> f64 {
        let (u, v) = (self.unit().max(1e-12), self.unit());
        (-2.0 * u.ln()).sqrt() * (std::f64::consts::TAU * v).cos()
    }
}

/// Share of the room's people in, minute by minute, for one day (0 = Monday), and the visit.
fn day_occupancy(room_use: RoomUse, day: usize, rng: &mut Random) -> (Vec<f64>, Option<Visit>) {
    let mut share = vec![0.0; MINUTES_PER_DAY];
    let weekday = day % 7;
    if weekday >= 5 {
        return (share, None);
    }
    fn fill(share: &mut [f64], from: usize, until: usize, level: f64) {
        for s in &mut share[from.min(MINUTES_PER_DAY)..until.min(MINUTES_PER_DAY)] {
            *s = level;
        }
    }
    let visit = match room_use {
        RoomUse::Office => {
            if rng.unit() < 0.1 {
                return (share, None);
            }
            let arrive = rng.minutes(7 * 60 + 30, 90);
            let leave = rng.minutes(17 * 60, 90);
            let lunch = rng.minutes(12 * 60, 30);
            let lunch_end = lunch + rng.minutes(60, 30);
            // People trickle in over the first hour and out over the last.
            for (m, s) in share.iter_mut().enumerate().take(leave).skip(arrive) {
                let ramp_in = ((m - arrive) as f64 / 60.0).min(1.0);
                let ramp_out = ((leave - m) as f64 / 60.0).min(1.0);
                *s = 0.15 + 0.85 * ramp_in.min(ramp_out);
            }
            fill(&mut share, lunch, lunch_end, 0.4);
            (arrive, leave)
        }
        RoomUse::Classroom => {
            if rng.unit() < 0.05 {
                return (share, None);
            }
            let arrive = rng.minutes(8 * 60 + 20, 10);
            if weekday == 2 {
                fill(&mut share, arrive, 11 * 60 + 30, 1.0);
                (arrive, 11 * 60 + 30)
            } else {
                let leave = rng.minutes(16 * 60 + 30, 10);
                fill(&mut share, arrive, 11 * 60 + 30, 1.0);
                fill(&mut share, 13 * 60 + 30, leave, 1.0);
                (arrive, leave)
            }
        }
        RoomUse::MeetingRoom => {
            if rng.unit() < 0.5 {
                return (share, None);
            }
            let meetings = if rng.unit() < 0.3 { 2 } else { 1 };
            let (mut first, mut last) = (MINUTES_PER_DAY, 0);
            let mut from = 9 * 60;
            for _ in 0..meetings {
                let start = rng.minutes(from, 3 * 60) / 5 * 5;
                let end = start + rng.minutes(30, 90) / 5 * 5;
                let level = 0.3 + 0.7 * rng.unit();
                fill(&mut share, start, end, level);
                (first, last) = (first.min(start), last.max(end));
                from = end + 60;
            }
            (first, last)
        }
    };
    let (arrive_minute, leave_minute) = visit;
    (share, Some(Visit { day, arrive_minute, leave_minute }))
}

/// Plays the room: the sensor's quarter-hours and the truth.
pub fn play(room: &Room) -> Series {
    let mut rng = Random(room.seed);
    let volume_m3 = room.area_m2 * CEILING_M;
    let full_people = room.area_m2 / room.room_use.m2_per_person();
    // ppm per hour one person adds to the room.
    let per_person = LITRES_PER_SECOND_PER_PERSON * 3600.0 / (volume_m3 * 1000.0) * 1e6;
    let design_per_hour = full_people * per_person / DESIGN_EXCESS_PPM;
    let (mut co2, mut occupied, mut occupancy, mut visits) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    let mut c = OUTDOOR_PPM;
    let mut gap_left = 0usize;
    let dt_h = 1.0 / 60.0;
    for day in 0..room.days {
        let (share, visit) = day_occupancy(room.room_use, day, &mut rng);
        visits.extend(visit);
        let working_day = day % 7 < 5;
        for quarter in share.chunks(MINUTES_PER_QUARTER) {
            let (mut sum, mut present) = (0.0, 0usize);
            for (m, s) in quarter.iter().enumerate() {
                let minute = co2.len() % 96 * MINUTES_PER_QUARTER + m;
                let mechanical = match room.ventilation {
                    Ventilation::Natural => 0.0,
                    Ventilation::Scheduled if working_day && (7 * 60..19 * 60).contains(&minute) => design_per_hour,
                    Ventilation::Scheduled => 0.0,
                    Ventilation::DemandControlled => design_per_hour * s,
                };
                let renewal = INFILTRATION_PER_HOUR + mechanical;
                c += dt_h * (s * full_people * per_person - renewal * (c - OUTDOOR_PPM));
                sum += c;
                present += usize::from(*s > 0.0);
            }
            occupancy.push(quarter.iter().sum::<f64>() / quarter.len() as f64);
            occupied.push(2 * present >= quarter.len());
            if gap_left == 0 && rng.unit() < 0.004 {
                gap_left = rng.minutes(1, 12);
            }
            let reading = sum / quarter.len() as f64 + room.noise_ppm * rng.normal();
            co2.push(if gap_left > 0 { None } else { Some(reading.round()) });
            gap_left = gap_left.saturating_sub(1);
        }
    }
    Series { co2, occupied, occupancy, visits }
}
