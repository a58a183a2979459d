use super::*;

const TABLES: [&str; 13] = [
    "availability",
    "control_log",
    "decisions",
    "newest_readings",
    "outbox",
    "outbox_delivered",
    "outbox_drops",
    "points",
    "readings",
    "rejections",
    "reporter_state",
    "rollups",
    "rollups_held",
];

fn tables(conn: &Connection) -> Vec<String> {
    let mut stmt = conn
        .prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name != 'sqlite_sequence' ORDER BY name")
        .expect("prepare");
    let names = stmt.query_map([], |r| r.get(0)).expect("query");
    names.collect::<Result<_, _>>().expect("names")
}

/// A file as an earlier release left it: `sql` run on it, at `version`.
fn earlier(dir: &tempfile::TempDir, sql: &str, version: i64) -> std::path::PathBuf {
    let path = dir.path().join("sobre.db");
    let conn = Connection::open(&path).expect("open");
    conn.execute_batch(sql).expect("the earlier schema");
    conn.pragma_update(None, "user_version", version).expect("version");
    path
}

const A_DECISION: &str = "INSERT INTO decisions (subject, status, ts, expires, record, recommendation)
    VALUES ('setback-1', 'accepted', 1000, NULL, '{\"id\":\"setback-1/1\"}', '{}');";
const A_CONTROL_RECORD: &str =
    "INSERT INTO control_log (ts, kind, zone, record) VALUES (2000, 'override', 'class-1', '{\"id\":\"control/1\"}');";

#[test]
fn a_new_file_gets_every_table_at_this_version() {
    let dir = tempfile::tempdir().expect("tempdir");
    let conn = super::super::connect(&dir.path().join("sobre.db")).expect("connect");
    assert_eq!(version(&conn).expect("version"), SCHEMA_VERSION);
    assert_eq!(tables(&conn), TABLES);
}

#[test]
fn a_store_of_every_earlier_release_upgrades_in_place() {
    let with_owners = format!("{}{}{A_DECISION}{A_CONTROL_RECORD}", MIGRATIONS[0], MIGRATIONS[1]);
    let ledger_first = format!("{}{A_DECISION}", MIGRATIONS[1]);
    let table = [
        // (what the file holds, its version, the decisions and control records it holds)
        ("the readings' schema only", MIGRATIONS[0].to_string(), 1, (0, 0)),
        ("the readings' schema and the tables each owner created", with_owners, 1, (1, 1)),
        ("the ledger only: a command opened it before any agent ran", ledger_first, 0, (1, 0)),
    ];
    for (what, sql, at, (decisions, controls)) in table {
        // Given a store an earlier release wrote
        let dir = tempfile::tempdir().expect("tempdir");
        let path = earlier(&dir, &sql, at);
        // When this version opens it
        let conn = super::super::connect(&path).expect(what);
        // Then it has every table at this version, and the records it held, in the journal's shape
        assert_eq!(version(&conn).expect("version"), SCHEMA_VERSION, "{what}");
        assert_eq!(tables(&conn), TABLES, "{what}");
        let count = |sql: &str| conn.query_row(sql, [], |r| r.get::<_, i64>(0)).expect(what);
        let kept = count("SELECT count(*) FROM decisions WHERE kind = 'accepted' AND subject = 'setback-1'");
        let overrides = count("SELECT count(*) FROM control_log WHERE kind = 'override' AND subject = 'class-1'");
        assert_eq!((kept, overrides), (decisions, controls), "{what}");
    }
}

#[test]
fn a_store_a_newer_sobre_wrote_is_refused_and_left_as_it_was() {
    // Given a store at the next version
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("sobre.db");
    drop(super::super::connect(&path).expect("connect"));
    let conn = Connection::open(&path).expect("open");
    conn.pragma_update(None, "user_version", SCHEMA_VERSION + 1).expect("bump");
    drop(conn);
    let before = std::fs::read(&path).expect("read");
    // When this version opens it
    let err = super::super::connect(&path).expect_err("a newer store");
    // Then it refuses, naming both versions, and the file is as it was
    assert!(matches!(err, StoreError::Version { found, .. } if found == SCHEMA_VERSION + 1), "{err}");
    let message = err.to_string();
    assert!(message.contains(&format!("schema version {}", SCHEMA_VERSION + 1)), "{message}");
    assert!(message.contains(&format!("up to version {SCHEMA_VERSION}")), "{message}");
    assert_eq!(std::fs::read(&path).expect("read"), before);
}

#[test]
fn a_migration_that_fails_leaves_the_store_as_it_was() {
    // Given a store of the first releases whose decisions table is not the ledger's (no status)
    let dir = tempfile::tempdir().expect("tempdir");
    let odd = "CREATE TABLE decisions (seq INTEGER PRIMARY KEY, subject TEXT, ts INTEGER, record TEXT);";
    let path = earlier(&dir, &format!("{}{odd}", MIGRATIONS[0]), 1);
    // When this version opens it
    let err = super::super::connect(&path).expect_err("cannot migrate");
    // Then the migration that failed is named, and nothing of the earlier ones stayed
    assert!(matches!(err, StoreError::Migrate { version: 3, .. }), "{err}");
    let conn = Connection::open(&path).expect("open");
    assert_eq!(version(&conn).expect("version"), 1);
    assert!(!tables(&conn).contains(&"outbox".to_string()), "migration 2 rolled back with 3");
}

/// `(point, ts, value, energy_kwh, energy_start, energy_end)`, as a row of `readings`.
type StoredReading = (i64, i64, f64, Option<f64>, Option<i64>, Option<i64>);

#[test]
fn readings_keyed_by_point_are_keyed_by_time_with_every_reading_and_each_points_newest() {
    // Given a store of version 4, its readings keyed by point, of two points that reported at
    // different times (one energy reading among them)
    let dir = tempfile::tempdir().expect("tempdir");
    let readings = "INSERT INTO points (key, id, kind, unit, topic, brick, tags) VALUES
            (1, 'elec', 'energy', 'kWh', 't/e', 'b', '[]'), (2, 'temp', 'zone_temperature', '°C', 't/t', 'b', '[]');
        INSERT INTO readings (point, ts, value, energy_kwh, energy_start, energy_end) VALUES
            (1, 3000, 10.5, 0.5, 2000, 3000), (1, 1000, 10.0, NULL, NULL, NULL), (2, 2000, 21.0, NULL, NULL, NULL),
            (2, 500, 20.0, NULL, NULL, NULL);";
    let four = format!("{}{}{}{}{readings}", MIGRATIONS[0], MIGRATIONS[1], MIGRATIONS[2], MIGRATIONS[3]);
    let path = earlier(&dir, &four, 4);

    // When this version opens it
    let conn = super::super::connect(&path).expect("connect");

    // Then every reading is there, in the order of time, whole
    let mut stmt =
        conn.prepare("SELECT point, ts, value, energy_kwh, energy_start, energy_end FROM readings").expect("prepare");
    let rows: Vec<StoredReading> = stmt
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?)))
        .expect("query")
        .collect::<Result<_, _>>()
        .expect("rows");
    let expected = vec![
        (2, 500, 20.0, None, None, None),
        (1, 1000, 10.0, None, None, None),
        (2, 2000, 21.0, None, None, None),
        (1, 3000, 10.5, Some(0.5), Some(2000), Some(3000)),
    ];
    assert_eq!(rows, expected);
    // And each point's newest reading, and the view still reads
    let mut stmt = conn.prepare("SELECT point, ts, value FROM newest_readings ORDER BY point").expect("prepare");
    let newest: Vec<(i64, i64, f64)> = stmt
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .expect("query")
        .collect::<Result<_, _>>()
        .expect("rows");
    assert_eq!(newest, [(1, 3000, 10.5), (2, 2000, 21.0)]);
    let viewed: i64 = conn.query_row("SELECT count(*) FROM readings_view", [], |r| r.get(0)).expect("view");
    assert_eq!(viewed, 4);
}
