//! What several tests read of one run of `sobre demo`, run once per test binary: what it
//! printed, the store it filled, and every message it sent the city's broker; and what the
//! advisor learns from that store, fitted once.

use crate::support::{Mosquitto, Mqtt};
use sobre_agent::advisor::{self, programme::Programme, Advice};
use sobre_agent::config::Settings;
use sobre_agent::sim::{self, Emulator, SimSettings};
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::Command;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// One run of `sobre demo --store <store> --uplink-port <a mosquitto of the test's own>`.
#[derive(Debug)]
pub struct Demo {
    /// What it printed.
    pub stdout: String,
    /// The store it filled (kept for the tests, in a folder of its own).
    pub store: PathBuf,
    /// Every message the city's broker received from it: (topic, payload), in order.
    pub upstream: Vec<(String, Vec<u8>)>,
}

/// How long the demo may take in a debug build on a loaded 2-core machine. A deadline for a
/// failure to show, not a pace: the run returns as soon as the demo exits.
const DEMO_DEADLINE: Duration = Duration::from_secs(600);

/// The demo, run once for every test that reads it.
pub fn demo() -> &'static Demo {
    static DEMO: OnceLock<Demo> = OnceLock::new();
    DEMO.get_or_init(|| {
        // The city's broker, and a dashboard subscribed to all of it before the demo starts
        let central = Mosquitto::start();
        let city = Mqtt::connect(central.port, &["#"]);
        let store = tempfile::tempdir().expect("tempdir").keep().join("sobre.db");
        let child = Command::new(env!("CARGO_BIN_EXE_sobre"))
            .args(["demo", "--store", store.to_str().expect("utf-8 path")])
            .args(["--uplink-port", &central.port.to_string()])
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("run sobre demo");
        let out = crate::support::output_within(child, DEMO_DEADLINE, "sobre demo");
        let stdout = String::from_utf8_lossy(&out.stdout).to_string();
        assert!(out.status.success(), "{stdout}\n{}", String::from_utf8_lossy(&out.stderr));
        // The demo exits once the city's broker has acknowledged every report, and prints how
        // many of each kind its own dashboard received: ours gets as many, and the agent's
        // "offline" as it stops.
        let expected = received_by_the_dashboard(&stdout);
        let (mut upstream, mut kinds, mut offline) = (Vec::new(), BTreeMap::<String, usize>::new(), false);
        let start = Instant::now();
        while !offline || expected.iter().any(|(kind, n)| kinds.get(kind).copied().unwrap_or(0) < *n) {
            let left = crate::support::DEADLINE.checked_sub(start.elapsed()).unwrap_or_default();
            let (topic, payload) = city.messages.recv_timeout(left).unwrap_or_else(|_| {
                panic!(
                    "the city's broker passed on {kinds:?} (offline: {offline}); the demo's dashboard had {expected:?}"
                )
            });
            let json: serde_json::Value = serde_json::from_slice(&payload).unwrap_or_default();
            if let Some(kind) = json["kind"].as_str() {
                *kinds.entry(kind.to_string()).or_default() += 1;
            }
            offline |= json["schema"] == "sobre.status/1" && json["state"] == "offline";
            upstream.push((topic, payload));
        }
        upstream.extend(city.messages.try_iter());
        Demo { stdout, store, upstream }
    })
}

/// "Reports the city's broker received: 56 footprint, 56 health, …" as (kind, count).
fn received_by_the_dashboard(stdout: &str) -> Vec<(String, usize)> {
    let line = stdout
        .lines()
        .find_map(|l| l.strip_prefix("Reports the city's broker received: "))
        .unwrap_or_else(|| panic!("the demo says what the city's broker received: {stdout}"));
    line.split(", ")
        .map(|item| {
            let (n, kind) = item.split_once(' ').unwrap_or_else(|| panic!("count and kind: {item:?}"));
            (kind.to_string(), n.parse().unwrap_or_else(|_| panic!("a count: {item:?}")))
        })
        .collect()
}

/// What the agent learned from the demo's eight weeks of the poorly tuned school: the school,
/// the demo's agent settings, the programme the advisor read and its advice on the whole
/// period (the advice the demo prints), fitted once for every test that reads it.
#[derive(Debug)]
pub struct Learned {
    pub school: SimSettings,
    pub settings: Settings,
    pub programme: Programme,
    pub advice: Advice,
}

pub fn learned() -> &'static Learned {
    static LEARNED: OnceLock<Learned> = OnceLock::new();
    LEARNED.get_or_init(|| {
        let path = &demo().store;
        let school = SimSettings::parse(sim::SCHOOL, "school").expect("school");
        let emulator = Emulator::new(school.clone()).expect("emulator");
        let settings = sim::demo_settings(&emulator, 1883, 1883, path).expect("settings");
        let store = sobre_agent::store::Store::open(path, &settings.points, settings.site.timezone).expect("store");
        let from = school.start_ms;
        let history = advisor::read(&store, &settings, (from, from + 56 * 86_400_000)).expect("history");
        let programme = Programme::read(&history).expect("a programme");
        let advice = advisor::advise_on(&history, &settings, &settings.advisor);
        Learned { school, settings, programme, advice }
    })
}
