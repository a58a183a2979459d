//! The store of the release before one schema covered every table (commit 83be336, kept in
//! tests/data/store-83be336 with how it was made), opened by this one: the migration runs in
//! place, and the readings, the ledger, the control log and the outbox all read back.

use crate::support::{copy_store, schema};
use sobre_agent::advisor::ledger::{Ledger, Status};
use sobre_agent::config::control::Mode;
use sobre_agent::config::Budget;
use sobre_agent::control::controller::{Hold, Override, Source};
use sobre_agent::control::log::{ControlLog, Kind};
use sobre_agent::sim::{self, Emulator, SimSettings};
use sobre_agent::store::rollup::Resolution;
use sobre_agent::store::Store;
use sobre_agent::uplink::outbox::{Outbox, Priority, Report};

const H: i64 = 3_600_000;
/// The newest reading the old store holds: 2019-03-03T23:00:00Z.
const END: i64 = 1_551_654_000_000;

fn fixture() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/data/store-83be336/sobre.db")
}

#[test]
fn a_store_the_previous_release_wrote_opens_in_place_and_reads_back() {
    // Given a copy of the store the previous release left (schema version 1, the ledger's, the
    // control log's and the outbox's tables made by their owners)
    let dir = tempfile::tempdir().expect("tempdir");
    let path = copy_store(&fixture(), &dir);
    let school = SimSettings::parse(sim::SCHOOL, "school").expect("school");
    let settings = sim::demo_settings(&Emulator::new(school).expect("emulator"), 1883, 1883, &path).expect("settings");

    // When this version opens it, the store first as the daemon does
    let store = Store::open(&path, &settings.points, settings.site.timezone).expect("the old store opens");

    // Then the readings, their rollups, rejections and the newest reading of every point are there
    assert_eq!(store.reading_count("class-1_temp").expect("count"), 25);
    assert_eq!(store.newest().expect("newest").len(), settings.points.len());
    assert!(store.newest().expect("newest").iter().all(|n| n.ts_ms == END));
    assert!(store.series("heating_energy", Resolution::Day).expect("days").len() >= 7);
    assert_eq!(store.rejections().expect("rejections"), [("class-1_temp".into(), "out_of_range".into(), 1)]);

    // And the ledger: every recommendation's latest status, expiries as they were, every
    // record still a valid sobre.decision/1
    let site = &settings.site.id;
    let mut ledger = Ledger::open(&path, site).expect("ledger");
    let current = ledger.current().expect("current");
    let status = |prefix: &str| current.iter().find(|c| c.subject.starts_with(prefix)).map(|c| c.status);
    assert_eq!(current.len(), 7);
    assert_eq!(status("night_setback"), Some(Status::Accepted));
    assert_eq!(status("optimal_start-fde70557"), Some(Status::Expired));
    assert_eq!(status("closure_heating"), Some(Status::Proposed));
    for proposal in current.iter().filter(|c| c.status == Status::Proposed) {
        assert_eq!(proposal.expires_ms, Some(proposal.ts_ms + 14 * 24 * H), "{}", proposal.subject);
    }
    let decision = schema::load("decision");
    let records = ledger.records(100).expect("records");
    assert_eq!(records.len(), 24);
    for r in &records {
        schema::check(&decision, r).unwrap_or_else(|e| panic!("{e}\n{r}"));
    }

    // And the control log: the stop switch (past a mode another version wrote, counted), the
    // override in force, the flex event taken with its forecast
    let mut log = ControlLog::open(&path, site).expect("control log");
    assert_eq!(log.latest_mode().expect("mode"), Some(Mode::Advise));
    assert_eq!(log.unreadable(), 1);
    let over = Override {
        hold: Hold::Setpoint { setpoint_c: 21.5 },
        since_ms: END - 2 * H,
        until_ms: END + 20 * H,
        source: Source::Topic,
    };
    assert_eq!(log.overrides_in_force(END).expect("overrides"), [("class-1".to_string(), over)]);
    let events = log.events_since(END).expect("events");
    assert_eq!(events.len(), 1);
    assert_eq!((events[0].0.id.as_str(), events[0].1.as_ref().map(|f| f.shed_kw)), ("peak-0305", Some(12.0)));
    assert_eq!(log.records(100).expect("records").len(), 7);

    // And the outbox: what waits, what was dropped, each series' progress, what was delivered
    let mut outbox = Outbox::open(&path, Budget { rows: 100, bytes: 1 << 20 }).expect("outbox");
    assert_eq!(outbox.depth().expect("depth").0, 3);
    assert_eq!(outbox.drops().expect("drops"), [("health".to_string(), 1)]);
    assert_eq!(outbox.progress("savings-monthly").expect("progress"), Some(END + 30 * 24 * H));
    assert_eq!(outbox.next(0, i64::MAX).expect("next").map(|q| q.id), Some(format!("{site}/savings-monthly/2019-03")));
    let delivered = Report {
        id: format!("{site}/health/2019-03-02"),
        kind: "health".into(),
        priority: Priority::Low,
        topic: "city/reports".into(),
        payload: b"{}".to_vec(),
        created_ms: END,
    };
    assert!(!outbox.enqueue(&delivered).expect("enqueue"), "a delivered report is not queued again");

    // And what is appended now goes on from the old sequences
    let night = current.iter().find(|c| c.status == Status::Accepted).expect("accepted");
    let recommendation = serde_json::from_value(night.recommendation.clone()).expect("a recommendation");
    let entry = sobre_agent::advisor::ledger::Entry {
        status: Status::Rejected,
        ts_ms: END + H,
        expires_ms: None,
        by: None,
        note: None,
    };
    assert_eq!(ledger.append(&recommendation, entry).expect("append").id, format!("{}/25", night.subject));
    let record =
        log.append(Kind::Mode, None, END + H, "back on", serde_json::json!({ "mode": "auto" })).expect("append");
    assert_eq!(record["id"], "control/8");
}
