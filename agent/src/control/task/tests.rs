//! The shell with a recording publisher, a real control log in a temporary directory and an
//! event-time clock: no broker, no sleeping.

use super::*;
use crate::config::ClockMode;
use crate::control::controller::{Hold, Override, Source};
use crate::control::event::{Depth, FlexEvent, FlexKind};
use crate::control::forecast::Forecast;
use crate::control::log::Kind;
use crate::control::settle::Outcome;
use crate::mqtt::mailbox::{self, Mailbox};
use crate::mqtt::publisher::Recorder;
use crate::mqtt::Inbound;
use serde_json::Value;
use std::sync::atomic::Ordering;

const H: i64 = 3_600_000;
/// Monday 7 January 2019, 08:00 UTC.
const NOW: i64 = 1_546_848_000_000;
use crate::control::fixture::{OCCUPANCY, OUTDOOR, SETPOINT, TEMPERATURE};

/// A site, its log (written to before the shell starts, as a previous run would have), and what
/// the shell's outlet reaches.
struct Given {
    _dir: tempfile::TempDir,
    settings: Arc<Settings>,
    path: std::path::PathBuf,
    publisher: Arc<Recorder>,
    stats: Arc<Stats>,
    outcomes: Option<mpsc::Receiver<Outcome>>,
}

impl Given {
    fn site(mode: &str) -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("sobre.db");
        let settings = Arc::new(crate::control::fixture::site(&path, mode));
        let (publisher, stats) = (Arc::new(Recorder::default()), Arc::new(Stats::default()));
        Self { _dir: dir, settings, path, publisher, stats, outcomes: None }
    }

    /// A record a previous run left.
    fn logged(self, kind: Kind, zone: Option<&str>, ts_ms: i64, detail: impl serde::Serialize) -> Self {
        let mut log = ControlLog::open(&self.path, "s").expect("log");
        log.append(kind, zone, ts_ms, "before the restart", detail).expect("append");
        self
    }

    fn task(&mut self, now_ms: i64) -> ControlTask<Arc<Recorder>> {
        let (tx, rx) = mpsc::channel(4);
        self.outcomes = Some(rx);
        ControlTask {
            settings: self.settings.clone(),
            publisher: self.publisher.clone(),
            log: Shared::new(ControlLog::open(&self.path, "s").expect("log")),
            clock: Clock::with_wall(ClockMode::Event, move || now_ms),
            stats: self.stats.clone(),
            outcomes: Some(tx),
            pulse: Pulse::unwatched("control"),
            states: None,
        }
    }

    /// The shell as started at `now_ms` (event time, before any data).
    async fn shell(&mut self, now_ms: i64) -> Shell<Arc<Recorder>> {
        let task = self.task(now_ms);
        Shell::start(task, None).await
    }

    /// What went to the thermostats: (topic, payload).
    fn commands(&self) -> Vec<(String, String)> {
        let ours = ["sobre/s/decisions", "sobre/s/flex/status"];
        self.publisher.sent().into_iter().filter(|(t, _)| !ours.contains(&t.as_str())).collect()
    }

    /// The statuses of the answers published on `<prefix>/flex/status`, in order.
    fn answers(&self) -> Vec<String> {
        answered(self).map(|a| a["status"].as_str().unwrap_or_default().to_string()).collect()
    }

    /// The records published on `<prefix>/decisions`, in order.
    fn decisions(&self) -> Vec<Value> {
        let decided = self.publisher.sent().into_iter().filter(|(t, _)| t == "sobre/s/decisions");
        decided.map(|(_, p)| serde_json::from_str(&p).expect("a record")).collect()
    }

    fn kinds(&self) -> Vec<String> {
        self.decisions().iter().map(|r| r["kind"].as_str().unwrap_or_default().to_string()).collect()
    }

    /// What the log holds, oldest first.
    fn log(&self) -> Vec<Value> {
        ControlLog::open(&self.path, "s").expect("log").records(100).expect("records")
    }

    /// What became of flex requests, as handed to the report layer so far.
    fn reported(&mut self) -> Vec<Outcome> {
        let mut out = Vec::new();
        if let Some(rx) = self.outcomes.as_mut() {
            while let Ok(s) = rx.try_recv() {
                out.push(s);
            }
        }
        out
    }
}

/// The answers published on `<prefix>/flex/status`, in order.
fn answered(given: &Given) -> impl Iterator<Item = Value> {
    let sent = given.publisher.sent().into_iter().filter(|(t, _)| t == "sobre/s/flex/status");
    sent.map(|(_, p)| serde_json::from_str(&p).expect("an answer"))
}

/// What the link routes a message on `<prefix>/<topic>` as.
fn request(topic: &str, payload: &str) -> Request {
    let message =
        Inbound { topic: format!("sobre/s/{topic}"), payload: payload.to_string().into(), received_ms: 0, ack: None };
    let topics =
        crate::control::route::Topics::new(&crate::control::fixture::site(std::path::Path::new("unused.db"), "auto"));
    topics.request(&message).expect("a request to control")
}

fn reading(point: usize, ts_ms: i64, value: f64) -> Reading {
    Reading { point, ts_ms, value, energy: None }
}

/// Every zone point reporting at `ts_ms`: the step closes.
async fn step(shell: &mut Shell<Arc<Recorder>>, ts_ms: i64) {
    shell.reading(reading(TEMPERATURE, ts_ms, 20.0)).await;
    shell.reading(reading(SETPOINT, ts_ms, 19.0)).await;
    shell.reading(reading(OCCUPANCY, ts_ms, 1.0)).await;
}

fn over(setpoint_c: f64, until_ms: i64) -> Override {
    Override { hold: Hold::Setpoint { setpoint_c }, since_ms: NOW - H, until_ms, source: Source::Topic }
}

/// A request, and what should become of it.
struct Case {
    case: &'static str,
    mode: &'static str,
    topic: &'static str,
    payload: &'static str,
    /// The setpoint sent to the zone's thermostat, if any.
    sent: Option<&'static str>,
    /// The records, in order, and what the last one's reason says.
    records: &'static [&'static str],
    why: &'static str,
}

#[tokio::test(start_paused = true)]
async fn each_request_is_answered_with_a_record_and_only_a_commanding_override_reaches_a_thermostat() {
    let shed = r#"{"id":"e1","kind":"shed","start":"2019-01-07T17:00:00Z","end":"2019-01-07T19:00:00Z","level":0.5}"#;
    let case = |case, mode, topic, payload, sent, records, why| Case { case, mode, topic, payload, sent, records, why };
    #[rustfmt::skip]
    let cases = [
        case("an override above the zone's bound", "auto", "override/class", r#"{"setpoint_c": 23}"#,
            Some("22"), &["override", "command"], "a person's override; held by range"),
        case("an override while shadowing", "shadow", "override/class", r#"{"setpoint_c": 21}"#,
            None, &["override", "command"], "a person's override (shadow: not sent)"),
        case("an override while advising", "advise", "override/class", r#"{"setpoint_c": 21}"#,
            None, &["override"], "until 2019-01-08t08:00:00z"),
        case("an override of a zone not controlled", "auto", "override/attic", r#"{"setpoint_c": 21}"#,
            None, &["override_refused"], r#"no controlled zone "attic"; zones: ["class"]"#),
        case("an override out of range", "auto", "override/class", r#"{"setpoint_c": 45}"#,
            None, &["override_refused"], "setpoint 45 °C is outside 5–30 °C"),
        case("a flex request without zone models to forecast it", "auto", "flex/event", shed,
            None, &["flex_refused"], "no forecast; refused, nothing will be commanded for it"),
        case("a flex request cut short", "auto", "flex/event", r#"{"id": "e4", "kind": "#,
            None, &["flex_refused"], "not a flex request"),
        case("a price series without prices", "auto", "flex/price", r#"{"id":"d2","prices":[]}"#,
            None, &["flex_refused"], "d2: 0 prices"),
        case("the stop switch", "auto", "control/set", r#"{"mode": "advise", "by": "head"}"#,
            None, &["mode"], "mode set to advise"),
        case("a stop switch in no known mode", "auto", "control/set", r#"{"mode": "off"}"#,
            None, &[], ""),
    ];
    for Case { case, mode, topic, payload, sent, records, why } in cases {
        // Given control at 08:00 in `mode`
        let mut given = Given::site(mode);
        let mut shell = given.shell(NOW).await;
        // When the request arrives
        shell.request(request(topic, payload)).await;
        // Then the thermostat got what it should, clamped to the zone's bounds
        let then: Vec<(String, String)> =
            sent.map(|c| ("trv/class/set".to_string(), c.to_string())).into_iter().collect();
        assert_eq!(given.commands(), then, "{case}");
        assert_eq!(given.stats.commands_sent.load(Ordering::Relaxed), then.len() as u64, "{case}");
        // And the ledger says what became of the request, and why, in the log and on the topic
        assert_eq!(given.kinds(), records, "{case}");
        let logged: Vec<String> = given.log().iter().map(|r| r["kind"].as_str().unwrap_or_default().into()).collect();
        assert_eq!(logged, records, "{case}");
        if let Some(last) = given.decisions().last() {
            let reason = last["reason"].as_str().unwrap_or_default();
            assert!(reason.contains(why), "{case}: {reason}");
        }
        // And each refusal of a flex request is answered where the requester reads, and counted
        let refused = records.iter().filter(|k| **k == "flex_refused").count();
        assert_eq!(given.answers(), vec!["refused"; refused], "{case}");
        assert_eq!(given.stats.flex_refused.load(Ordering::Relaxed), refused as u64, "{case}");
        assert_eq!(given.stats.flex_answers[1].load(Ordering::Relaxed), refused as u64, "{case}");
        // And the city is told of each refusal of a request that names an id, with the same
        // reason; one it could not read is answered only
        let named: Vec<(String, String)> = answered(&given)
            .filter(|a| a["status"] == "refused")
            .filter_map(|a| Some((a["id"].as_str()?.to_string(), a["reason"].as_str()?.to_string())))
            .collect();
        let declined: Vec<(String, String)> = given
            .reported()
            .into_iter()
            .filter_map(|o| match o {
                Outcome::Declined(d) if !d.cancelled => Some((d.event_id, d.reason)),
                _ => None,
            })
            .collect();
        assert_eq!(declined, named, "{case}");
    }
}

#[tokio::test(start_paused = true)]
async fn the_stop_switch_hands_back_a_zone_a_person_held_through_the_agent() {
    // Given control in auto mode, the thermostat reading 19 °C, and a person's override to 21 °C
    let mut given = Given::site("auto");
    let mut shell = given.shell(NOW).await;
    shell.reading(reading(SETPOINT, NOW, 19.0)).await;
    shell.request(request("override/class", r#"{"setpoint_c": 21}"#)).await;
    // When the stop switch is turned to advise
    shell.request(request("control/set", r#"{"mode": "advise"}"#)).await;
    // Then the zone is held at 21 °C, then handed back at what its programme holds
    let sent = [("trv/class/set".to_string(), "21".to_string()), ("trv/class/set".to_string(), "19".to_string())];
    assert_eq!(given.commands(), sent);
    assert_eq!(given.kinds(), ["override", "command", "mode", "release"]);
    // When the person cancels the override, Then it is recorded and nothing more is sent
    shell.request(request("override/class", r#"{"cancel": true, "by": "teacher"}"#)).await;
    assert_eq!(given.kinds().last().map(String::as_str), Some("override_ended"));
    assert_eq!(given.commands().len(), 2);
}

#[tokio::test(start_paused = true)]
async fn stopping_or_leaving_auto_releases_what_the_agent_set_by_the_devices_own_release() {
    // (how the agent leaves, how the zone is released, what reaches the device on leaving)
    let bms = crate::config::control::Release::Publish { topic: "bms/class/release".into(), payload: String::new() };
    let trv = crate::config::control::Release::ProgrammeValue;
    let cases = [
        ("the agent stops, a BMS that holds", None, bms.clone(), ("bms/class/release", "")),
        ("switched to shadow, a BMS that holds", Some("shadow"), bms, ("bms/class/release", "")),
        ("the agent stops, a TRV that drops", None, trv, ("trv/class/set", "19")),
    ];
    for (case, mode, release, then) in cases {
        // Given control in auto mode, the device reading 19 °C, and a person's override to 21 °C
        let mut given = Given::site("auto");
        let mut settings = (*given.settings).clone();
        settings.control.zones[0].release = release;
        settings.control.zones[0].holds = settings.control.zones[0].release.explicit();
        given.settings = Arc::new(settings);
        let mut shell = given.shell(NOW).await;
        shell.reading(reading(SETPOINT, NOW, 19.0)).await;
        shell.request(request("override/class", r#"{"setpoint_c": 21}"#)).await;
        // When the agent stops, or is switched out of auto
        match mode {
            Some(m) => shell.request(request("control/set", &format!(r#"{{"mode": "{m}"}}"#))).await,
            None => shell.stop().await,
        }
        // Then what it set is released, by the device's release where it has one
        let sent = given.commands();
        assert_eq!(sent.first(), Some(&("trv/class/set".to_string(), "21".to_string())), "{case}");
        assert_eq!(sent.last(), Some(&(then.0.to_string(), then.1.to_string())), "{case}");
        assert_eq!(sent.len(), 2, "{case}: released once");
        // (in shadow mode, what it would now send is recorded after the release, not sent)
        assert!(given.kinds().iter().any(|k| k == "release"), "{case}: {:?}", given.kinds());
        // And it is counted by zone and kind
        let counts = given.stats.control_actions();
        assert!(counts.contains(&("class".to_string(), "release", 1)), "{case}: {counts:?}");
    }
}

#[tokio::test(start_paused = true)]
async fn a_step_closes_once_every_zone_point_has_reported_and_is_decided_then() {
    // Given control in auto mode, and a person's override in force from before a restart
    let mut given = Given::site("auto").logged(Kind::Override, Some("class"), NOW - H, over(21.0, NOW + 2 * H));
    let mut shell = given.shell(NOW).await;
    // When the temperature and the setpoint report for 08:00, and the outdoor temperature
    shell.reading(reading(TEMPERATURE, NOW, 20.0)).await;
    shell.reading(reading(SETPOINT, NOW, 19.0)).await;
    shell.reading(reading(OUTDOOR, NOW + H, 5.0)).await;
    // Then nothing is decided yet
    assert_eq!((given.commands().len(), given.stats.control_through_ms.load(Ordering::Relaxed)), (0, 0));
    // When the presence does too
    shell.reading(reading(OCCUPANCY, NOW, 1.0)).await;
    // Then the step is decided: the override is sent, for the person, and the step is through
    assert_eq!(given.commands(), [("trv/class/set".to_string(), "21".to_string())]);
    let command = given.decisions().pop().expect("a record");
    assert_eq!((command["kind"].as_str(), command["reason"].as_str()), (Some("command"), Some("a person's override")));
    assert_eq!(given.stats.control_through_ms.load(Ordering::Relaxed), NOW as u64);
}

#[tokio::test(start_paused = true)]
async fn a_restart_restores_the_overrides_in_force_and_the_stop_switch_from_the_log() {
    let cases = [
        ("an override in force", vec![(Kind::Override, over(23.0, NOW + 2 * H))], vec!["22"]),
        ("an override lapsed", vec![(Kind::Override, over(23.0, NOW))], vec![]),
        (
            "an override ended",
            vec![(Kind::Override, over(23.0, NOW + 2 * H)), (Kind::OverrideEnded, over(23.0, NOW + 2 * H))],
            vec![],
        ),
    ];
    for (case, logged, then) in cases {
        // Given control in auto mode and, from before a restart, what the log holds
        let mut given = Given::site("auto");
        for (kind, detail) in logged {
            given = given.logged(kind, Some("class"), NOW - H, detail);
        }
        // When it starts again at 08:00 and the step closes
        let mut shell = given.shell(NOW).await;
        step(&mut shell, NOW).await;
        // Then what the log says is in force is sent again
        let sent: Vec<String> = given.commands().into_iter().map(|(_, p)| p).collect();
        assert_eq!(sent, then, "{case}");
    }
    // Given the same override in force, and the stop switch turned to advise before the restart
    let mut given = Given::site("auto").logged(Kind::Override, Some("class"), NOW - H, over(23.0, NOW + 2 * H)).logged(
        Kind::Mode,
        None,
        NOW - H,
        serde_json::json!({ "mode": "advise" }),
    );
    let mut shell = given.shell(NOW).await;
    step(&mut shell, NOW).await;
    // Then the switch wins over the config's mode: nothing is sent
    assert_eq!(given.commands(), []);
}

#[tokio::test(start_paused = true)]
async fn a_commanded_event_once_settled_goes_to_the_report_layer_and_a_shadowed_one_only_to_the_ledger() {
    for (mode, reported) in [("auto", 1), ("shadow", 0)] {
        // Given an event 08:00–10:00 taken and forecast before a restart
        let event = FlexEvent {
            id: "peak".into(),
            kind: FlexKind::Shed,
            start_ms: NOW,
            end_ms: NOW + 2 * H,
            depth: Depth::Level(1.0),
            notice_ms: NOW - 12 * H,
        };
        let forecast = Forecast {
            event: "peak".into(),
            window: (NOW, NOW + 2 * H),
            baseline_kw: 8.0,
            planned_kw: 2.0,
            shed_kw: 6.0,
            rebound_peak_kw: 9.0,
            baseline_peak_kw: 8.5,
            discomfort_kh: 0.0,
            preheat_kwh: 5.0,
            zones: 1,
            series: vec![(NOW + H, 8.0, 2.0)],
            deep_preheat: false,
        };
        let mut given = Given::site(mode).logged(Kind::FlexAccepted, None, NOW - 12 * H, &event).logged(
            Kind::FlexForecast,
            None,
            NOW - 12 * H,
            &forecast,
        );
        let mut shell = given.shell(NOW - H).await;
        // When the building runs to three hours after it
        step(&mut shell, NOW + 5 * H).await;
        // Then the ledger settles it, and only a commanded one goes to the city
        let settled = given.decisions().into_iter().find(|r| r["kind"] == "flex_settled").expect("settled");
        assert_eq!(settled["detail"]["event_id"], "peak", "{mode}");
        let to_city: Vec<String> = given
            .reported()
            .into_iter()
            .filter_map(|o| match o {
                Outcome::Settled(s) => Some(s.event_id),
                Outcome::Declined(_) => None,
            })
            .collect();
        assert_eq!(to_city.len(), reported, "{mode}: {to_city:?}");
        // And the requester is told it ended, and whether the agent commanded it
        let ended: Vec<Value> = given
            .publisher
            .sent()
            .into_iter()
            .filter(|(t, _)| t == "sobre/s/flex/status")
            .map(|(_, p)| serde_json::from_str(&p).expect("an answer"))
            .collect();
        assert_eq!(ended.len(), 1, "{mode}: {ended:?}");
        assert_eq!((ended[0]["status"].as_str(), ended[0]["id"].as_str()), (Some("ended"), Some("peak")), "{mode}");
        assert_eq!(ended[0]["achieved"]["commanded"].as_bool(), Some(reported == 1), "{mode}: {}", ended[0]);
        assert_eq!(given.stats.flex_answers[4].load(Ordering::Relaxed), 1, "{mode}");
        // And a later start does not settle it again
        let mut shell = given.shell(NOW + 6 * H).await;
        step(&mut shell, NOW + 6 * H).await;
        assert_eq!(given.decisions().iter().filter(|r| r["kind"] == "flex_settled").count(), 1, "{mode}");
    }
}

#[tokio::test(start_paused = true)]
async fn a_record_the_link_drops_is_still_in_the_log_and_a_dropped_command_is_not_counted_as_sent() {
    // Given control in auto mode, the link to the broker behind
    let mut given = Given::site("auto");
    given.publisher.dropping.store(true, Ordering::Relaxed);
    let mut shell = given.shell(NOW).await;
    // When a person overrides the zone
    shell.request(request("override/class", r#"{"setpoint_c": 21}"#)).await;
    // Then nothing left, nothing is counted as sent, and the ledger has it all
    assert_eq!((given.publisher.sent().len(), given.stats.commands_sent.load(Ordering::Relaxed)), (0, 0));
    let logged: Vec<Value> = given.log().iter().map(|r| r["kind"].clone()).collect();
    assert_eq!(logged, ["override", "command"]);
}

/// The task's ends: its mailbox, ingest's tap and the advisor's basis.
struct Ends {
    mailbox: Option<Mailbox<Request>>,
    readings: Option<mpsc::Sender<Reading>>,
    basis: watch::Sender<Option<Basis>>,
    cancel: CancellationToken,
}

fn running(given: &mut Given) -> (Ends, tokio::task::JoinHandle<()>) {
    let (mailbox, requests) = mailbox::mailbox(mailbox::CAPACITY, mailbox::REQUESTS);
    let (readings_tx, readings) = mpsc::channel(16);
    let (basis_tx, basis) = watch::channel(None);
    let cancel = CancellationToken::new();
    let task = given.task(NOW);
    let handle = tokio::spawn(task.run(requests, readings, basis, cancel.clone()));
    (Ends { mailbox: Some(mailbox), readings: Some(readings_tx), basis: basis_tx, cancel }, handle)
}

#[tokio::test(start_paused = true)]
async fn the_task_takes_what_waits_in_its_mailbox_and_stops_when_the_link_has_gone() {
    // Given the task running in auto mode, with an override waiting in its mailbox
    let mut given = Given::site("auto");
    let (mut ends, handle) = running(&mut given);
    let mailbox = ends.mailbox.take().expect("mailbox");
    mailbox.offer(request("override/class", r#"{"setpoint_c": 21}"#));
    // When the link goes away
    drop(mailbox);
    // Then the task carries out the override, then stops
    handle.await.expect("the task ends");
    assert_eq!(given.commands(), [("trv/class/set".to_string(), "21".to_string())]);
    drop(ends);
}

#[tokio::test(start_paused = true)]
async fn the_task_decides_each_step_ingest_closes_and_stops_when_ingest_has_gone() {
    // Given the task running in auto mode, the advisor gone
    let mut given = Given::site("auto");
    let (mut ends, handle) = running(&mut given);
    let (gone, _) = watch::channel(None);
    ends.basis = gone;
    let readings = ends.readings.take().expect("readings");
    // When every zone point reports for 08:00 and 08:15, then ingest stops
    for ts in [NOW, NOW + H / 4] {
        for point in [TEMPERATURE, SETPOINT, OCCUPANCY] {
            readings.send(reading(point, ts, 20.0)).await.expect("send");
        }
    }
    drop(readings);
    // Then the task has decided through 08:15, and stopped
    handle.await.expect("the task ends");
    assert_eq!(given.stats.control_through_ms.load(Ordering::Relaxed), (NOW + H / 4) as u64);
    drop(ends);
}

#[tokio::test(start_paused = true)]
async fn the_task_stops_when_told_to() {
    // Given the task running, with nothing to do
    let mut given = Given::site("auto");
    let (ends, handle) = running(&mut given);
    // When shutdown is asked, Then it stops
    ends.cancel.cancel();
    handle.await.expect("the task ends");
    drop(ends);
}

#[tokio::test(start_paused = true)]
async fn a_command_on_a_device_that_holds_is_released_when_readings_stop_for_its_lifetime() {
    // Given the task running in auto mode on a BMS that holds a write until it is released, and
    // a person's override sent through the agent
    let mut given = Given::site("auto");
    let mut settings = (*given.settings).clone();
    let release =
        crate::config::control::Release::Publish { topic: "bms/class/release".into(), payload: String::new() };
    settings.control.zones[0].release = release;
    settings.control.zones[0].holds = true;
    let lifetime = std::time::Duration::from_millis(settings.control.command_ttl_ms as u64);
    given.settings = Arc::new(settings);
    let (mut ends, handle) = running(&mut given);
    let mailbox = ends.mailbox.take().expect("mailbox");
    mailbox.offer(request("override/class", r#"{"setpoint_c": 21}"#));
    // When no reading arrives for less than a command's lifetime, the write stands
    tokio::time::sleep(lifetime / 2).await;
    assert_eq!(given.commands(), [("trv/class/set".to_string(), "21".to_string())]);
    // And when none arrives for its whole lifetime, it is released on the device's release
    tokio::time::sleep(lifetime).await;
    assert_eq!(given.commands().last(), Some(&("bms/class/release".to_string(), String::new())));
    assert_eq!(given.commands().len(), 2, "released once: {:?}", given.commands());
    let log = given.log();
    assert!(log.iter().any(|r| r["kind"] == "release" && r.to_string().contains("no readings")), "{log:?}");
    // (stopping then has nothing left to release)
    ends.cancel.cancel();
    handle.await.expect("the task ends");
    assert_eq!(given.commands().len(), 2);
    drop((ends, mailbox));
}
