use super::*;
use crate::advisor::history::{History, ZoneHistory};
use crate::advisor::programme::{minutes, Programme};
use crate::config::Settings;
use chrono::{NaiveTime, Weekday};
use sobre_models::occupancy::synthetic::{self, Room, RoomUse, Ventilation};

/// 2024-01-01, a Monday, 00:00 UTC.
const MONDAY_MS: i64 = 1_704_067_200_000;
const DAYS: usize = 42;
const N: usize = DAYS * 96;

/// Weekdays 08:00–17:00 in quarter-hour `i`.
fn office_hours(i: usize) -> bool {
    (i / 96) % 7 < 5 && (32..68).contains(&(i % 96))
}

/// A six-week office CO₂ series, and its truth.
fn office_co2() -> synthetic::Series {
    synthetic::play(&Room {
        room_use: RoomUse::Office,
        ventilation: Ventilation::DemandControlled,
        area_m2: 60.0,
        noise_ppm: 20.0,
        days: DAYS,
        seed: 18,
    })
}

/// One zone "office", heated 06:00–18:00 on weekdays (21 °C, else 16 °C), with the sensors
/// given; a building-wide point when given.
fn history(presence: Option<Column>, co2: Option<Column>, building: Option<Column>) -> History {
    History {
        outdoor: vec![Some(5.0); N],
        building_point: building.as_ref().map(|_| "bms_mode".to_string()),
        building_occupancy: building.unwrap_or_else(|| vec![None; N]),
        zones: vec![ZoneHistory {
            temperature: vec![Some(20.0); N],
            setpoint: (0..N)
                .map(|i| Some(if (i / 96) % 7 < 5 && (24..72).contains(&(i % 96)) { 21.0 } else { 16.0 }))
                .collect(),
            presence_point: presence.as_ref().map(|_| "pir".to_string()),
            occupancy: presence.unwrap_or_else(|| vec![None; N]),
            co2_point: co2.as_ref().map(|_| "co2".to_string()),
            co2: co2.unwrap_or_else(|| vec![None; N]),
            ..ZoneHistory::blank("office", N)
        }],
        ..History::blank(chrono_tz::UTC, MONDAY_MS, N)
    }
}

fn timetable() -> Timetable {
    Timetable {
        days: vec![Weekday::Mon, Weekday::Tue, Weekday::Wed, Weekday::Thu, Weekday::Fri],
        from: NaiveTime::from_hms_opt(8, 0, 0).expect("a time"),
        until: NaiveTime::from_hms_opt(17, 0, 0).expect("a time"),
        holidays: Vec::new(),
    }
}

#[test]
fn each_zone_takes_the_first_source_the_building_has() {
    let pir: Column = (0..N).map(|i| Some(if office_hours(i) { 1.0 } else { 0.0 })).collect();
    // Reporting on the window's first four days only, each change of state and nothing between.
    let sparse_pir: Column = (0..N)
        .map(|i| (i < 4 * 96 && (i % 96 == 32 || i % 96 == 68)).then_some(if office_hours(i) { 1.0 } else { 0.0 }))
        .collect();
    let co2 = office_co2().co2;
    let bms: Column = (0..N).map(|i| Some(if office_hours(i) { 1.0 } else { 0.0 })).collect();
    let table = [
        // Given the zone's presence, CO₂, a building-wide point and a timetable; Then the
        // source, its point, and words its text holds
        (
            "presence and CO₂",
            Some(pir.clone()),
            Some(co2.clone()),
            None,
            true,
            OccupancySource::Presence,
            Some("pir"),
            "presence sensor pir",
        ),
        ("CO₂ only", None, Some(co2.clone()), None, true, OccupancySource::Co2, Some("co2"), "CO₂ sensor co2"),
        (
            "presence that read a tenth, and CO₂",
            Some(sparse_pir.clone()),
            Some(co2.clone()),
            None,
            false,
            OccupancySource::Co2,
            Some("co2"),
            "presence sensor pir reported on 10 % of the days",
        ),
        (
            "presence that read a tenth, nothing else",
            Some(sparse_pir.clone()),
            None,
            None,
            false,
            OccupancySource::Presence,
            Some("pir"),
            "reporting on 10 % of the days",
        ),
        (
            "presence that read a tenth, and a timetable",
            Some(sparse_pir.clone()),
            None,
            None,
            true,
            OccupancySource::Timetable,
            None,
            "presence sensor pir reported on 10 % of the days",
        ),
        (
            "a BMS point and a timetable",
            None,
            None,
            Some(bms),
            true,
            OccupancySource::BuildingPoint,
            Some("bms_mode"),
            "what the BMS says",
        ),
        (
            "a timetable only",
            None,
            None,
            None,
            true,
            OccupancySource::Timetable,
            None,
            "Mon Tue Wed Thu Fri 08:00–17:00",
        ),
        ("nothing", None, None, None, false, OccupancySource::None, None, FIX),
    ];
    for (case, presence, co2, building, with_timetable, source, point, words) in table {
        let mut h = history(presence, co2, building);
        // When the advisor fills the zone's occupancy
        fill(&mut h, with_timetable.then(timetable).as_ref());
        // Then it took the first source there is, says which and how sure, and the column
        // holds it
        let z = &h.occupancy_sources[0];
        assert_eq!((z.source, z.point.as_deref()), (source, point), "{case}: {z:?}");
        assert!(z.text.contains(words), "{case}: {}", z.text);
        assert!((0.0..=1.0).contains(&z.confidence), "{case}: {z:?}");
        let occupied = h.zones[0].occupancy.iter().filter(|o| o.is_some_and(|o| o > 0.0)).count();
        match source {
            OccupancySource::None => assert_eq!(occupied, 0, "{case}"),
            _ => assert!(occupied > 0, "{case}: nobody ever in"),
        }
        if source == OccupancySource::Timetable {
            let open: Vec<bool> = h.zones[0].occupancy.iter().map(|o| *o == Some(1.0)).collect();
            assert_eq!(open, (0..N).map(office_hours).collect::<Vec<_>>(), "{case}");
        }
    }
}

#[test]
fn a_zone_with_co2_only_gives_the_arrivals_and_departures_of_its_people() {
    for room_use in [RoomUse::Office, RoomUse::Classroom] {
        for ventilation in [Ventilation::Natural, Ventilation::Scheduled, Ventilation::DemandControlled] {
            // Given six weeks of a zone's CO₂ (20 ppm of noise, gaps) and its setpoints, and no
            // presence sensor
            let area_m2 = if room_use == RoomUse::Office { 60.0 } else { 55.0 };
            let series =
                synthetic::play(&Room { room_use, ventilation, area_m2, noise_ppm: 20.0, days: DAYS, seed: 18 });
            let mut h = history(None, Some(series.co2.clone()), None);
            // When the advisor fills the zone's occupancy from it and reads the programme
            fill(&mut h, None);
            let p = Programme::read(&h).expect("a programme from CO₂");
            // Then the arrival and departure it reads are within half an hour of the truth's
            // (its median over the days people came)
            let median = |mut v: Vec<usize>| {
                v.sort_unstable();
                v[v.len() / 2] as i64
            };
            let arrive = median(series.visits.iter().map(|v| v.arrive_minute).collect());
            let leave = median(series.visits.iter().map(|v| v.leave_minute).collect());
            let (arrive_error, leave_error) = (minutes(p.arrive) - arrive, minutes(p.leave) - leave);
            let case =
                format!("{room_use:?}, {ventilation:?}: arrival {arrive_error:+} min, departure {leave_error:+} min");
            println!("{case}");
            assert!(arrive_error.abs() <= 30 && leave_error.abs() <= 30, "{case}");
            assert_eq!(h.occupancy_sources[0].source, OccupancySource::Co2, "{case}");
            assert!(h.occupancy_sources[0].confidence > 0.8, "{case}: {:?}", h.occupancy_sources[0]);
        }
    }
}

/// A site whose one zone has a temperature.
fn settings() -> Settings {
    let text = "[site]\nid = \"s\"\ntimezone = \"UTC\"\n\n[[points]]\nid = \"t\"\nkind = \"zone_temperature\"\nunit = \"°C\"\nzone = \"office\"\ntopic = \"t\"\n";
    Settings::parse(text, "test").expect("settings")
}

enum Setpoints {
    Some,
    None,
    NoZone,
}

#[test]
fn without_a_programme_the_advice_says_precisely_what_is_missing_and_the_fix() {
    let co2 = office_co2().co2;
    let table = [
        // Given the zone's setpoints and CO₂, Then the reasons the advice gives
        (
            "setpoints, no occupancy source",
            Setpoints::Some,
            None,
            vec!["no zone has an occupancy source", "[occupancy] timetable"],
        ),
        (
            "CO₂, no setpoints",
            Setpoints::None,
            Some(co2.clone()),
            vec!["no zone has a setpoint point", "kind \"setpoint\""],
        ),
        ("no zone at all", Setpoints::NoZone, None, vec!["no zone temperature point", "kind \"zone_temperature\""]),
        // (the first thing missing is named: the setpoints, then occupancy)
        ("neither", Setpoints::None, None, vec!["no zone has a setpoint point"]),
    ];
    for (case, setpoints, co2, expected) in table {
        let mut h = history(None, co2, None);
        match setpoints {
            Setpoints::Some => {}
            Setpoints::None => h.zones[0].setpoint = vec![None; N],
            Setpoints::NoZone => h.zones.clear(),
        }
        fill(&mut h, None);
        // When the advisor runs
        let s = settings();
        let advice = crate::advisor::advise_on(&h, &s, &s.advisor);
        // Then no programme, and each reason named with its fix; the zone's source is published
        assert!(advice.programme.is_none(), "{case}");
        for words in expected {
            assert!(
                advice.missing.iter().any(|m| m.to_string().contains(words)),
                "{case}: {words:?} in {:?}",
                advice.missing
            );
        }
        assert_eq!(advice.occupancy.len(), h.zones.len(), "{case}");
        assert!(!advice.missing.iter().any(|m| m.to_string().contains("no setpoints or presence")), "{case}");
    }
}

#[test]
fn the_configuration_shows_each_zones_source_before_any_data() {
    let point = |id: &str, kind: &str, zone: Option<&str>| {
        let zone = zone.map(|z| format!("zone = \"{z}\"\n")).unwrap_or_default();
        let unit = match kind {
            "occupancy" => "bool",
            "co2" => "ppm",
            _ => "°C",
        };
        format!("\n[[points]]\nid = \"{id}\"\nkind = \"{kind}\"\nunit = \"{unit}\"\n{zone}topic = \"{id}\"\n")
    };
    let temperature = |zone: &str| point(&format!("{zone}_t"), "zone_temperature", Some(zone));
    let timetable = "\n[occupancy]\ndays = [\"Mon\"]\nfrom = \"08:00\"\nuntil = \"17:00\"\n";
    let table = [
        // Given the points of a zone "a" (and the building), Then its source and point
        (
            "presence and CO₂",
            format!("{}{}", point("pir", "occupancy", Some("a")), point("co2", "co2", Some("a"))),
            OccupancySource::Presence,
            Some("pir"),
        ),
        ("CO₂", point("co2", "co2", Some("a")), OccupancySource::Co2, Some("co2")),
        (
            "CO₂ in another zone, a BMS point",
            format!("{}{}", point("co2", "co2", Some("b")), point("bms", "occupancy", None)),
            OccupancySource::BuildingPoint,
            Some("bms"),
        ),
        ("a timetable", timetable.to_string(), OccupancySource::Timetable, None),
        ("nothing", String::new(), OccupancySource::None, None),
    ];
    for (case, points, source, expected_point) in table {
        let text = format!("[site]\nid = \"s\"\ntimezone = \"UTC\"\n{}{points}", temperature("a"));
        let settings = Settings::parse(&text, case).expect("settings");
        // When `sobre check` asks
        let zones = configured(&settings);
        // Then zone a has the first source there is
        assert_eq!(zones, vec![("a".to_string(), source, expected_point.map(str::to_string))], "{case}");
    }
}
