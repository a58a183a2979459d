use super::*;

const H: i64 = 3_600_000;

fn journal(dir: &tempfile::TempDir, book: Book) -> Journal {
    Journal::open(&dir.path().join("sobre.db"), book).expect("journal opens")
}

/// Appends `{"id": …, "detail": detail}` records: (agent time, kind, subject, detail).
fn fill(j: &mut Journal, records: &[(i64, &str, Option<&str>, Value)]) {
    for (ts, kind, subject, detail) in records {
        j.append(*ts, kind, *subject, |seq| serde_json::json!({ "id": seq, "detail": detail })).expect("append");
    }
}

fn seqs(stored: &[Stored]) -> Vec<i64> {
    stored.iter().map(|s| s.seq).collect()
}

#[test]
fn each_subject_reads_back_as_its_latest_record_of_the_kinds_asked() {
    // Given a journal where zone a was overridden then released, zone b overridden, and a
    // mode set (about no zone)
    let dir = tempfile::tempdir().expect("tempdir");
    let mut j = journal(&dir, CONTROL);
    fill(
        &mut j,
        &[
            (H, "override", Some("a"), Value::from(1)),
            (2 * H, "override", Some("b"), Value::from(2)),
            (3 * H, "override_ended", Some("a"), Value::from(3)),
            (4 * H, "command", Some("b"), Value::from(4)),
            (5 * H, "mode", None, Value::from(5)),
        ],
    );
    let table: [(&[&str], &[i64]); 3] = [
        // (kinds asked, the seqs read back, newest first)
        (&["override", "override_ended"], &[3, 2]),
        (&["override"], &[2, 1]),
        (&[], &[4, 3]),
    ];
    for (kinds, expected) in table {
        // When the latest per subject is read, Then each subject gives its newest such record
        assert_eq!(seqs(&j.latest(kinds).expect("latest")), expected, "{kinds:?}");
    }
    // And the scan of some kinds reads them oldest first
    assert_eq!(seqs(&j.scan(&["override", "mode"]).expect("scan")), [1, 2, 5]);
    assert_eq!(j.count("override", 0, 2 * H).expect("count"), 1);
}

#[test]
fn a_record_this_version_cannot_read_is_skipped_and_counted_once() {
    // Given three modes, the newest written by a version whose modes this one does not know
    let dir = tempfile::tempdir().expect("tempdir");
    let stats = Arc::new(Stats::default());
    let mut j = journal(&dir, CONTROL).counting(stats.clone());
    fill(
        &mut j,
        &[
            (H, "mode", None, Value::from("auto")),
            (2 * H, "mode", None, Value::from("advise")),
            (3 * H, "mode", None, serde_json::json!({ "turbo": true })),
        ],
    );
    let mode = |s: &Stored| s.detail::<String>();
    for _ in 0..3 {
        // When the newest readable mode is read, again and again
        // Then it is the one before the unreadable record
        assert_eq!(j.newest("mode", mode).expect("newest"), Some("advise".to_string()));
        assert_eq!(j.records(10).expect("records").len(), 3, "as published, every record reads");
    }
    // And the unreadable record is counted once, here and in the agent's counters
    assert_eq!((j.unreadable(), stats.snapshot().records_unreadable), (1, 1));
}

#[test]
fn retention_deletes_superseded_records_only() {
    // Given a year of records: a recommendation proposed and accepted long ago, another
    // proposed twice, and ones about nothing in particular (a mode set twice, an event)
    let dir = tempfile::tempdir().expect("tempdir");
    let mut j = journal(&dir, DECISIONS);
    fill(
        &mut j,
        &[
            (H, "proposed", Some("setback"), Value::Null),
            (2 * H, "accepted", Some("setback"), Value::Null),
            (3 * H, "proposed", Some("cut-off"), Value::Null),
            (400 * H, "proposed", Some("cut-off"), Value::Null),
            (4 * H, "mode", None, Value::Null),
            (5 * H, "mode", None, Value::Null),
            (6 * H, "flex_accepted", None, Value::Null),
        ],
    );
    let table = [
        // (delete before, the seqs left)
        (0, vec![1, 2, 3, 4, 5, 6, 7]),
        // Older than everything but the last cut-off: only what a newer record of the same
        // kind about the same subject supersedes goes.
        (100 * H, vec![1, 2, 4, 6, 7]),
        (1000 * H, vec![1, 2, 4, 6, 7]),
    ];
    for (before, left) in table {
        // When retention deletes records older than `before`
        prune(&j.conn, DECISIONS, before).expect("prune");
        // Then each subject's latest of each kind stays, whatever its age
        let all = j.scan(&["proposed", "accepted", "mode", "flex_accepted"]).expect("scan");
        assert_eq!(seqs(&all), left, "before {before}");
    }
    // And sequence numbers go on from the highest ever handed out
    j.conn.execute("DELETE FROM decisions WHERE seq = 7", []).expect("delete the newest");
    let next = j.append(500 * H, "proposed", Some("cut-off"), |seq| seq).expect("append");
    assert_eq!(next, 8);
}
