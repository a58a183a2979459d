//! The office, run in-process as its tests see it: a BMS that switches its gas boiler off at
//! night and at weekends, starts it early enough, holds a written setpoint until released; CO₂
//! that follows the people; and the poorly tuned variants that burn more gas, trait by trait.

use super::emulator::{Emulator, Readings, Truth};
use super::programme::BMS_LOW_LIMIT_C;
use super::readme::{says, thousands};
use super::{SimSettings, OFFICE, SCHOOL};
use chrono::{Datelike, NaiveDateTime, NaiveTime, TimeZone, Timelike, Weekday};

/// The bundled office with `[control]` keys added (or the preset changed).
fn office(control: &str) -> Emulator {
    let text = OFFICE.replace("tuning = \"good\"", &format!("tuning = \"good\"\n{control}"));
    let text = text.replace("tuning = \"good\"\ntuning = \"poor\"", "tuning = \"poor\"");
    Emulator::new(SimSettings::parse(&text, "office").expect("valid office")).expect("valid physics")
}

/// Steps `e` to its end, handing each step's local time, readings and truth to `look`.
fn run(e: &mut Emulator, mut look: impl FnMut(NaiveDateTime, &Readings, &Truth)) -> Truth {
    while !e.is_done() {
        e.step().expect("steps");
        let r = e.readings();
        let local = e.settings().calendar.local(r.ts_ms);
        look(local, &r, e.truth());
    }
    e.truth().clone()
}

#[test]
fn the_well_tuned_office_burns_no_gas_and_draws_no_hvac_power_at_night_and_at_weekends() {
    // Given the well-tuned office over its ten weeks
    let mut e = office("");
    let (mut off, mut frost, mut on) = (0u32, 0u32, 0u32);
    run(&mut e, |local, r, truth| {
        let weekend = matches!(local.weekday(), Weekday::Sat | Weekday::Sun);
        let night = local.hour() < 5 || local.hour() >= 19;
        if !(weekend || night) {
            return;
        }
        // When a step ends at night or at the weekend
        let coldest = truth.zones.iter().map(|z| z.air_c).fold(f64::INFINITY, f64::min);
        match (r.heating_w, r.hvac_w) {
            (gas, hvac) if gas == 0.0 && hvac == 0.0 => off += 1,
            // Then the plant runs only as frost protection, for a zone at the low limit
            _ if coldest < BMS_LOW_LIMIT_C + 0.5 => frost += 1,
            (gas, hvac) => {
                on += 1;
                eprintln!("{local}: gas {gas:.0} W, HVAC {hvac:.0} W, coldest zone {coldest:.1} °C");
            }
        }
    });
    // And it reads exactly 0 most of the time: frost protection runs about one night or weekend
    // step in ten, mostly over the ten days closed at Christmas
    assert_eq!(on, 0, "steps with the plant on for no reason");
    assert!(f64::from(frost) < 0.15 * f64::from(off), "frost protection {frost} steps against {off} off");
}

/// When the BMS starts each day's heating: the first time its setpoint readback leaves the low
/// limit (frost protection runs the plant without leaving it).
fn plant_starts(e: &mut Emulator) -> Vec<NaiveDateTime> {
    let mut starts: Vec<NaiveDateTime> = Vec::new();
    run(e, |local, r, _| {
        let started_today = starts.last().is_some_and(|s| s.date() == local.date());
        if r.zones[0].setpoint > BMS_LOW_LIMIT_C && !started_today {
            starts.push(local);
        }
    });
    starts
}

#[test]
fn optimum_start_begins_earlier_on_a_monday_than_after_a_mild_night_and_never_before_its_cap() {
    // Given the well-tuned office (optimum start, at most 3 h before 08:00)
    let mut e = office("");
    let weather = e.settings().weather.clone();
    let tz = e.settings().timezone;
    let calendar = e.settings().calendar.clone();
    let starts: Vec<NaiveDateTime> =
        plant_starts(&mut e).into_iter().filter(|s| calendar.is_school_day(s.date())).collect();
    let night_mean = |start: &NaiveDateTime| {
        let dawn = start.date().and_time(NaiveTime::MIN);
        let utc = tz.from_local_datetime(&dawn).earliest().map(|t| t.timestamp_millis()).unwrap_or_default();
        (0..6).map(|h| weather.at(utc + h * 3_600_000).0).sum::<f64>() / 6.0
    };
    let on = |day: Weekday| starts.iter().filter(move |s| s.weekday() == day);
    let mildest_wednesday =
        on(Weekday::Wed).max_by(|a, b| night_mean(a).total_cmp(&night_mean(b))).copied().expect("Wednesdays heated");
    let mondays: Vec<NaiveDateTime> = on(Weekday::Mon).copied().collect();
    assert!(mondays.len() >= 8, "Mondays {mondays:?}");
    // Then every Monday (after two days off) starts before the Wednesday after the mildest night
    for monday in &mondays {
        assert!(
            monday.time() < mildest_wednesday.time(),
            "Monday {monday} against Wednesday {mildest_wednesday} ({:.1} °C at night)",
            night_mean(&mildest_wednesday)
        );
    }
    // And no day starts more than 3 h before the occupants arrive at 08:00
    let earliest = starts.iter().map(|s| s.time()).min().expect("starts");
    assert!(earliest >= NaiveTime::from_hms_opt(5, 0, 0).expect("valid"), "earliest start {earliest}");
}

#[test]
fn a_setpoint_written_to_the_bms_is_held_until_released_while_the_school_trv_drops_it() {
    // (building, how the write is released, the setpoint at 22:00, once the programme changed
    // period: the poor school's night is 19 °C)
    let office_write = "bms/mairie-demo/open-plan/setpoint/write";
    type Release<'a> = Option<(&'a str, &'a [u8])>;
    let table: [(&str, Release, f64); 4] = [
        ("office, released on …/setpoint/release", Some(("bms/mairie-demo/open-plan/setpoint/release", b"")), 18.0),
        ("office, released by writing null", Some((office_write, br#"{"value": null}"#)), 18.0),
        ("office, the agent's last will", Some(("sobre/mairie-demo/status", br#"{"state": "offline"}"#)), 18.0),
        ("school TRV: dropped at the programme's next period", None, 19.0),
    ];
    for (building, release, held_at_night) in table {
        let school = building.starts_with("school");
        let mut e = if school {
            Emulator::new(SimSettings::parse(SCHOOL, "school").expect("valid")).expect("valid physics")
        } else {
            office("")
        };
        let command = e.topics().zones[0].command.clone();
        // Given a Tuesday at 10:00
        let steps_to = |days: u64, hour: u64| (days * 24 + hour) * 4;
        for _ in 0..steps_to(1, 10) {
            e.step().expect("steps");
        }
        // When 18 °C is written
        e.handle(&command, b"18");
        // Then it holds through the day's programme, and at 22:00 (another period) the BMS still
        // holds it while the TRV is back on its programme
        for _ in 0..4 * 4 {
            e.step().expect("steps");
        }
        assert_eq!(e.truth().zones[0].setpoint_c, 18.0, "{building}: 14:00");
        for _ in 0..8 * 4 {
            e.step().expect("steps");
        }
        let night = e.truth().zones[0].clone();
        assert_eq!((night.setpoint_c, night.commanded), (held_at_night, !school), "{building}: 22:00");
        // And once released, the programme is back: the plant off, the low limit
        if let Some((topic, payload)) = release {
            e.handle(topic, payload);
            e.step().expect("steps");
            let z = &e.truth().zones[0];
            assert_eq!((z.setpoint_c, z.commanded), (BMS_LOW_LIMIT_C, false), "{building}: released");
            assert_eq!(e.readings().hvac_w, 0.0, "{building}: the plant is off again");
        }
    }
}

#[test]
fn the_poorly_tuned_office_burns_clearly_more_gas_and_each_poor_trait_alone_costs_some() {
    // Given the well-tuned office and its poorly tuned twin, over the same ten weeks
    let good = run(&mut office(""), |_, _, _| {});
    let poor = run(&mut office("tuning = \"poor\""), |_, _, _| {});
    // Then the poor one burns clearly more gas, as the README says
    let ratio = poor.plant_kwh / good.plant_kwh;
    assert!(ratio > 1.25, "poor {:.0} kWh against good {:.0} kWh", poor.plant_kwh, good.plant_kwh);
    let more = format!("burns {:.0} % more gas", 100.0 * (ratio - 1.0));
    says(&more);
    // And each poor trait, alone on the well-tuned office, costs something: the README's table
    let traits = [
        ("no optimum start (a fixed 05:00 start)", "optimum_start = false"),
        ("a fixed start at 04:00", "optimum_start = false\nstart = \"04:00:00\""),
        ("weekends heated", "weekends = true"),
        ("22 °C occupied", "occupied_c = 22.0"),
    ];
    for (name, control) in traits {
        let alone = run(&mut office(control), |_, _, _| {});
        let cost = alone.plant_kwh - good.plant_kwh;
        assert!(cost > 0.02 * good.plant_kwh, "{name}: {cost:.0} kWh");
        assert!(alone.plant_kwh < poor.plant_kwh, "{name}: alone below all traits together");
        let row = format!("| {name} | {} | +{} |", thousands(alone.plant_kwh), thousands(cost));
        says(&row);
    }
    for row in [
        format!("| well tuned | {} | |", thousands(good.plant_kwh)),
        format!(
            "| poorly tuned: all four | {} | +{} |",
            thousands(poor.plant_kwh),
            thousands(poor.plant_kwh - good.plant_kwh)
        ),
    ] {
        says(&row);
    }
}

#[test]
fn the_well_tuned_office_keeps_its_occupied_zones_between_20_and_25_c() {
    let truth = run(&mut office(""), |_, _, _| {});
    let weeks = 10.0;
    for z in &truth.zones {
        // The `[comfort]` band is 20–25 °C: under 0.2 K·h a week outside it while occupied
        assert!(z.occupied_h > 100.0, "{}: occupied {} h", z.zone, z.occupied_h);
        assert!(z.discomfort_kh / weeks < 0.2, "{}: {:.2} K·h a week", z.zone, z.discomfort_kh / weeks);
    }
}

#[test]
fn co2_climbs_to_an_occupied_level_and_falls_back_towards_outdoor_overnight() {
    // Given the well-tuned office over two weeks: the open-plan office at 11:00 on Tuesdays to
    // Thursdays, and every zone at 06:00
    let text = OFFICE.replace("days = 70", "days = 14");
    let mut e = Emulator::new(SimSettings::parse(&text, "office").expect("valid")).expect("valid physics");
    let (mut late_morning, mut dawn, mut peak) = (Vec::new(), Vec::new(), 0.0f64);
    run(&mut e, |local, r, truth| {
        let midweek = matches!(local.weekday(), Weekday::Tue | Weekday::Wed | Weekday::Thu);
        if midweek && local.time() == NaiveTime::from_hms_opt(11, 0, 0).expect("valid") {
            late_morning.push((truth.zones[0].co2_ppm, r.zones[0].co2_ppm, truth.zones[0].occupancy));
        }
        if local.time() == NaiveTime::from_hms_opt(6, 0, 0).expect("valid") {
            dawn.extend(truth.zones.iter().map(|z| (z.co2_ppm, z.occupancy)));
        }
        peak = truth.zones.iter().map(|z| z.co2_ppm).fold(peak, f64::max);
    });
    // Then it reads an occupied office's level, the sensor within a few ppm of the truth, and the
    // truth says people are in
    assert_eq!(late_morning.len(), 6);
    for (truth, sensor, occupancy) in late_morning {
        assert!((700.0..1200.0).contains(&truth), "11:00: {truth:.0} ppm");
        assert!((sensor - truth).abs() < 25.0, "sensor {sensor} against {truth:.0}");
        assert!(occupancy > 0.5, "occupancy {occupancy}");
    }
    // And by dawn it is back within 60 ppm of the outdoors' 420, with nobody in
    for (ppm, occupancy) in dawn {
        assert!((420.0..480.0).contains(&ppm) && occupancy == 0.0, "06:00: {ppm:.0} ppm, occupancy {occupancy}");
    }
    assert!(peak < 1500.0, "peak {peak:.0} ppm");
}
