//! Target `ingest`: one point as a config the validator accepts would declare it (decoder,
//! kind, unit, energy mode, time zone and ingest windows chosen by the first bytes), then a
//! sequence of payloads on its topic through decode, unit normalisation and validation, as the
//! ingest stage runs them. Whatever is accepted is finite, in the point's range, not from the
//! future, and any energy it carries is a whole interval within `max_kw`, negative only where
//! the point's range allows export.

use super::input::Input;
use crate::config::{EnergyMode, Settings};
use crate::ingest::decode::availability;
use crate::ingest::pick::pick;
use crate::ingest::stage::stamped;
use crate::ingest::validate::Validator;
use crate::point::PointKind;
use crate::reading::Reason;

/// 2026-01-12 08:00 UTC: the wall clock of every case.
const WALL_MS: i64 = 1_768_204_800_000;

/// Field names real devices use, and what a fuzzed field is built from.
const Z2M_FIELDS: [&str; 6] = ["local_temperature", "energy", "power", "humidity", "occupancy", "pi_heating_demand"];
const TASMOTA_FIELDS: [&str; 6] =
    ["ENERGY.Total", "ENERGY.Power", "DS18B20.Temperature", "AM2301.Humidity", "SCD30.CarbonDioxide", "Time"];
const POINTERS: [&str; 5] = ["/value", "/m/v", "/0", "/a~1b", "/"];
const TIMESTAMPS: [Option<&str>; 4] = [None, Some("/ts"), Some("/time"), Some("/m/t")];
const ZONES: [&str; 5] = ["UTC", "Europe/Paris", "America/St_Johns", "Pacific/Chatham", "Australia/Lord_Howe"];
/// Spans an operator may write, from the shortest to the longest the config takes.
const SPANS: [&str; 8] = ["1ms", "1s", "15m", "1h", "1d", "400d", "1000y", "18446744073709551615ms"];
const MAX_KW: [&str; 4] = ["0.001", "250.0", "10000.0", "1e300"];
const RANGES: [Option<&str>; 3] = [None, Some("[-1e300, 1e300]"), Some("[0.5, 0.75]")];

pub fn run(data: &[u8]) {
    let mut input = Input::new(data);
    let Some(settings) = settings(&mut input) else { return };
    let point = &settings.points[0];
    let mut validator = Validator::new(&settings.points, &settings.ingest);
    let tolerance_ms = settings.ingest.future_tolerance.as_millis_i64();
    let payloads: Vec<&[u8]> = input.payloads(8).collect();
    let n = payloads.len() as i64;
    for (i, payload) in payloads.into_iter().enumerate() {
        let _ = availability(payload);
        picks_what_the_document_holds(payload);
        let received_ms = WALL_MS - (n - i as i64) * 60_000;
        let decoded = match point.decoder.decode(payload, settings.site.timezone) {
            Ok(decoded) => decoded,
            Err(e) => {
                assert!(!e.to_string().is_empty());
                continue;
            }
        };
        let (ts_ms, value) = stamped(point, decoded, received_ms);
        let units = point.kind.accepted_units();
        let same = |a: f64, b: f64| a.to_bits() == b.to_bits() || (a.is_nan() && b.is_nan());
        assert!(
            units.iter().any(|u| same(u.normalise(decoded.value), value)),
            "a {} point's {} normalised to {value} from none of {units:?}",
            point.kind,
            decoded.value
        );
        match validator.check(0, ts_ms, value, WALL_MS) {
            Ok(accepted) => {
                let r = accepted.reading;
                let (lo, hi) = point.range;
                assert!(
                    r.value.is_finite() && lo <= r.value && r.value <= hi,
                    "{} accepted outside [{lo}, {hi}]",
                    r.value
                );
                assert_eq!((r.ts_ms, r.value.to_bits()), (ts_ms, value.to_bits()));
                assert!(r.ts_ms <= WALL_MS.saturating_add(tolerance_ms), "accepted from the future: {}", r.ts_ms);
                if let Some(e) = r.energy {
                    let max_kw = match point.energy {
                        Some(EnergyMode::Counter { max_kw } | EnergyMode::Interval { max_kw, .. }) => max_kw,
                        None => panic!("energy on a {} point", point.kind),
                    };
                    let hours = (e.end_ms - e.start_ms) as f64 / 3_600_000.0;
                    assert!(e.start_ms <= e.end_ms, "energy over [{}, {})", e.start_ms, e.end_ms);
                    // Negative only where the operator's range allows export (a net meter).
                    assert!(e.kwh.is_finite() && (e.kwh >= 0.0 || point.range.0 < 0.0), "{} kWh", e.kwh);
                    let most = max_kw * hours * (1.0 + 1e-9);
                    assert!(e.kwh.abs() <= most, "{} kWh in {hours} h beyond {max_kw} kW", e.kwh);
                }
                if let Some(flag) = accepted.flag {
                    assert!(matches!(flag.reason, Reason::CounterReset | Reason::CounterJump), "{flag:?}");
                    assert!(r.energy.is_none());
                }
            }
            Err(rejected) => {
                assert!(!rejected.detail.is_empty());
                if !value.is_finite() {
                    assert_eq!(rejected.reason, Reason::NotFinite);
                }
            }
        }
    }
}

/// The one-pass reading of a payload finds, at every pointer a config may name, what the whole
/// document holds there, and refuses what the whole document refuses where a pointer reads it
/// (`ingest::pick`; a pointer to the whole document, "", reads all of it).
fn picks_what_the_document_holds(payload: &[u8]) {
    let Ok(text) = std::str::from_utf8(payload) else { return };
    let pointers = [Some(POINTERS[0]), Some(POINTERS[1]), Some(POINTERS[2]), Some(POINTERS[3]), Some("/Time")];
    let picked = pick(text, pointers);
    match serde_json::from_str::<serde_json::Value>(text) {
        Ok(doc) => {
            let held = pointers.map(|p| p.and_then(|p| doc.pointer(p).cloned()));
            assert_eq!(picked.ok(), Some(held), "{text}");
        }
        Err(_) => assert!(pick(text, [Some("")]).is_err(), "{text}"),
    }
}

/// The point and ingest windows the header asks for, through `Settings::parse`: only what the
/// config's validation accepts reaches ingest.
fn settings(input: &mut Input) -> Option<Settings> {
    let format = input.byte();
    let choice = usize::from(input.byte());
    let decode = match format % 5 {
        0 => r#"{ format = "plain" }"#.to_string(),
        1 => {
            let timestamp = TIMESTAMPS[choice / POINTERS.len() % TIMESTAMPS.len()]
                .map_or(String::new(), |t| format!(", timestamp = {}", quoted(t)));
            format!(r#"{{ format = "json", pointer = {}{timestamp} }}"#, quoted(POINTERS[choice % POINTERS.len()]))
        }
        2 => format!(r#"{{ format = "zigbee2mqtt", field = {} }}"#, quoted(Z2M_FIELDS[choice % Z2M_FIELDS.len()])),
        3 => format!(r#"{{ format = "tasmota", field = {} }}"#, quoted(TASMOTA_FIELDS[choice % TASMOTA_FIELDS.len()])),
        // A field of the input's own printable bytes: the dotted-path rewriting too.
        _ => {
            let len = usize::from(input.byte() % 24);
            let field: String = (0..len).map(|_| char::from(input.byte() % 96 + 32)).collect();
            let format = if choice % 2 == 0 { "tasmota" } else { "zigbee2mqtt" };
            format!(r#"{{ format = "{format}", field = {} }}"#, quoted(&field))
        }
    };
    let kind = input.pick(&PointKind::ALL);
    let units = kind.accepted_units();
    let unit_choice = usize::from(input.byte());
    let unit = match unit_choice % (units.len() + 1) {
        0 => String::new(),
        i => format!("unit = {}\n", quoted(units[i - 1].symbol())),
    };
    let energy = if kind.is_energy() {
        let max_kw = input.pick(&MAX_KW);
        match input.byte() % 3 {
            0 => format!("max_kw = {max_kw}\n"),
            1 => format!("cumulative = true\nmax_kw = {max_kw}\n"),
            _ => format!("cumulative = false\ninterval = \"{}\"\nmax_kw = {max_kw}\n", input.pick(&SPANS)),
        }
    } else {
        String::new()
    };
    let range = input.pick(&RANGES).map_or(String::new(), |r| format!("range = {r}\n"));
    let text = format!(
        "[site]\nid = \"fuzz\"\ntimezone = \"{}\"\n\n[ingest]\nfuture_tolerance = \"{}\"\nlate_window = \"{}\"\n\n\
         [[points]]\nid = \"p\"\nkind = \"{kind}\"\ntopic = \"t\"\ndecode = {decode}\n{unit}{energy}{range}",
        input.pick(&ZONES),
        input.pick(&SPANS),
        input.pick(&SPANS),
    );
    Settings::parse(&text, "fuzz").ok()
}

/// A TOML basic string of `text`.
fn quoted(text: &str) -> String {
    toml::Value::String(text.to_string()).to_string()
}
