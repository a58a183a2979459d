use super::*;

/// A recommendation as the advisor wrote one on the demo's school.
const SETPOINT: &str = concat!(
    r#"{"id":"setpoint_above_limit-0b36baa2","rule":"setpoint_above_limit","title":"occupied setpoint 2"#,
    r#"1.0 → 19.0 °C","zones":["class-1","class-2","class-3","class-4","hall","office","gym","library"]"#,
    r#","setting":{"parameter":"occupied_setpoint","from_c":21.0,"to_c":19.0},"reasons":[{"code":"setpo"#,
    r#"int_above_limit","text":"Occupied zones are held at 21.0 °C, above the 19.0 °C limit for heating"#,
    r#" set for this site."}],"evidence":[{"name":"occupied_setpoint","value":21.0,"unit":"°C"},{"name""#,
    r#":"limit","value":19.0,"unit":"°C"}],"savings":{"period_days":46.395833333333336,"period_kwh":191"#,
    r#".9138916529741,"period_kwh_uncertainty":63.71788898976265,"kwh_per_year":876.9267002517577,"kwh_"#,
    r#"per_year_uncertainty":291.1509826492253,"eur_per_year":175.38534005035154,"kg_co2_per_year":45.6"#,
    r#"00188413091395,"percent":10.809248963816367},"confidence":{"level":"medium","relative_uncertaint"#,
    r#"y":0.33201290662678934,"coverage":0.31162999550965426},"comfort":{"discomfort_kh_per_zone_week":"#,
    r#"1.191583284760936,"worst_zone_kh_per_week":1.3963805235941993,"text":"about 1.4 K·h a week below"#,
    r#" 19 °C while occupied in the worst zone"},"model":{"id":"heat-loss-2019-01-21T10:15:00Z","kind":"#,
    r#""daily heat loss per kelvin-hour, heat pump efficiency as with 45 °C water; air-and-mass respons"#,
    r#"e per zone","days":14,"cv_rmse":0.02364425867655899,"nmbe":-5.32352311267621e-05,"r2":0.99610074"#,
    r#"89319531,"passes_gate":true,"kwh_per_kelvin_hour":[0.4177023653361447,0.3248796174836681]}}"#,
);

const DAY: i64 = 86_400_000;
/// 2019-01-31T00:45:00Z
const NOW: i64 = 1_548_895_500_000;

fn recommendation(id: &str) -> Recommendation {
    let mut r: Recommendation = serde_json::from_str(SETPOINT).expect("a recommendation");
    r.id = id.to_string();
    r
}

fn entry(status: Status, ts_ms: i64, expires_ms: Option<i64>) -> Entry<'static> {
    Entry { status, ts_ms, expires_ms, by: None, note: None }
}

#[test]
fn a_subjects_state_reads_back_from_its_latest_record() {
    // Given a setback proposed then accepted, and a cut-off proposed with its expiry
    let dir = tempfile::tempdir().expect("tempdir");
    let mut ledger = Ledger::open(&dir.path().join("sobre.db"), "school").expect("ledger");
    let setback = recommendation("night_setback-1");
    ledger.append(&setback, entry(Status::Proposed, NOW, Some(NOW + 14 * DAY))).expect("append");
    let accepted = Entry { by: Some("facility"), ..entry(Status::Accepted, NOW + DAY, None) };
    let record = ledger.append(&setback, accepted).expect("append");
    ledger
        .append(&recommendation("cut_off-2"), entry(Status::Proposed, NOW + 2 * DAY, Some(NOW + 16 * DAY)))
        .expect("append");
    // When the ledger is read
    let current = ledger.current().expect("current");
    // Then each subject has its latest status, time and expiry, newest first
    let states: Vec<_> = current.iter().map(|c| (c.subject.as_str(), c.status, c.ts_ms, c.expires_ms)).collect();
    assert_eq!(
        states,
        [
            ("cut_off-2", Status::Proposed, NOW + 2 * DAY, Some(NOW + 16 * DAY)),
            ("night_setback-1", Status::Accepted, NOW + DAY, None),
        ]
    );
    assert_eq!(current[1].recommendation["title"], "occupied setpoint 21.0 → 19.0 °C");
    // And records name themselves by subject and sequence, as published
    assert_eq!(record.id, "night_setback-1/2");
    assert_eq!(ledger.records(10).expect("records")[1]["by"], "facility");
}

#[test]
fn a_status_this_version_does_not_know_leaves_its_subject_out_and_is_counted_once() {
    // Given two proposals, then a status another version wrote about the second
    let dir = tempfile::tempdir().expect("tempdir");
    let mut ledger = Ledger::open(&dir.path().join("sobre.db"), "school").expect("ledger");
    for id in ["a", "b"] {
        ledger.append(&recommendation(id), entry(Status::Proposed, NOW, None)).expect("append");
    }
    ledger.journal.append(NOW + DAY, "snoozed", Some("b"), |seq| serde_json::json!({ "id": seq })).expect("append");
    for _ in 0..3 {
        // When the ledger is read, again and again
        let subjects: Vec<_> = ledger.current().expect("current").into_iter().map(|c| c.subject).collect();
        // Then the other subject still reads
        assert_eq!(subjects, ["a"]);
    }
    // And the record it could not read is counted once
    assert_eq!(ledger.unreadable(), 1);
}
