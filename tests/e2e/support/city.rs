//! The city's side under test: a PostgreSQL database of the test's own, the `sobre city` sink
//! as a process, and the sums the views should give of what was sent (by the rule the views'
//! comments state, computed from the reports, never from the database).

use serde_json::Value;
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};

pub const PG: &str = "127.0.0.1:5432";

/// A database of the test's own, dropped on drop (the sink's connections with it).
pub struct TestDatabase {
    pub name: String,
    user: String,
    admin: String,
    rt: tokio::runtime::Runtime,
    client: tokio_postgres::Client,
}

impl TestDatabase {
    /// None (with the reason printed) when no PostgreSQL answers on 127.0.0.1:5432.
    pub fn create() -> Option<Self> {
        let user = std::env::var("PGUSER").unwrap_or_else(|_| "postgres".to_string());
        let admin = format!("postgresql://{user}@{PG}/postgres");
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
        let name = format!("sobre_city_test_{}_{}", std::process::id(), fastrand::u32(..));
        let created = rt.block_on(async {
            let admin_client = connect(&admin).await?;
            admin_client.batch_execute(&format!("CREATE DATABASE {name}")).await?;
            Ok::<_, tokio_postgres::Error>(())
        });
        if let Err(e) = created {
            // A server that answers and refuses (a role, a permission) is a failure, not a skip.
            if let Some(db) = e.as_db_error() {
                panic!("PostgreSQL on {PG} refused the test as {user}: {}", db.message());
            }
            eprintln!("SKIPPED city test: no PostgreSQL to use on {PG} as {user} ({e}); the sink is untested here");
            return None;
        }
        let url = format!("postgresql://{user}@{PG}/{name}");
        let client = rt.block_on(connect(&url)).expect("connect to the test's database");
        Some(TestDatabase { name, user, admin, rt, client })
    }

    /// Whether the database takes new connections: what a restart takes away for a moment (its
    /// sessions ended, new ones refused), on this database alone. From the server's own
    /// database: a database cannot refuse connections from a session on itself.
    pub fn allow_connections(&self, allow: bool) {
        let sql = format!("ALTER DATABASE {} ALLOW_CONNECTIONS {allow}", self.name);
        let done = self.rt.block_on(async { connect(&self.admin).await?.batch_execute(&sql).await });
        done.unwrap_or_else(|e| panic!("{sql}: {e}"));
    }

    pub fn url(&self) -> String {
        format!("postgresql://{}@{PG}/{}", self.user, self.name)
    }

    /// Runs a file of statements (simple query protocol: `DO` blocks and all).
    pub fn batch(&self, sql: &str) {
        self.rt.block_on(self.client.batch_execute(sql)).unwrap_or_else(|e| match e.as_db_error() {
            Some(db) => panic!("{}: {}", db.severity(), db.message()),
            None => panic!("{e}"),
        })
    }

    /// The rows, or what the server said was wrong with `sql`.
    pub fn try_rows(&self, sql: &str) -> Result<Vec<tokio_postgres::Row>, String> {
        self.rt.block_on(self.client.query(sql, &[])).map_err(|e| match e.as_db_error() {
            Some(db) => format!("{}: {}", db.severity(), db.message()),
            None => e.to_string(),
        })
    }

    pub fn rows(&self, sql: &str) -> Vec<tokio_postgres::Row> {
        self.rt.block_on(self.client.query(sql, &[])).unwrap_or_else(|e| panic!("{sql}: {e}"))
    }

    /// A count, or 0 while the sink has not created the table yet.
    pub fn count(&self, sql: &str) -> i64 {
        self.rt.block_on(self.client.query_one(sql, &[])).map(|r| r.get::<_, i64>(0)).unwrap_or(0)
    }

    pub fn number(&self, sql: &str) -> f64 {
        self.rows(sql)[0].get::<_, f64>(0)
    }
}

pub async fn connect(url: &str) -> Result<tokio_postgres::Client, tokio_postgres::Error> {
    let (client, connection) = tokio_postgres::connect(url, tokio_postgres::NoTls).await?;
    tokio::spawn(connection);
    Ok(client)
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        let drop = format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name);
        let dropped = self.rt.block_on(async {
            let admin = connect(&self.admin).await?;
            admin.batch_execute(&drop).await
        });
        if let Err(e) = dropped {
            eprintln!("could not drop the test database {}: {e}", self.name);
        }
    }
}

/// The `sobre city` binary on a config of its own; killed on drop.
pub struct Sink {
    pub dir: tempfile::TempDir,
    child: Option<Child>,
}

impl Sink {
    /// `client_id` names its persistent session; sinks of one test share the group.
    pub fn start(broker_port: u16, database_url: &str, client_id: &str, max_report_bytes: usize) -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let config = format!(
            "[broker]\nport = {broker_port}\nclient_id = {client_id:?}\nprefix = \"city\"\n\n[database]\nurl = {database_url:?}\n\n[sink]\nmax_report_bytes = {max_report_bytes}\nbatch = 32\n"
        );
        std::fs::write(dir.path().join("city.toml"), config).expect("write city.toml");
        let mut sink = Sink { dir, child: None };
        sink.launch();
        sink
    }

    pub fn log_path(&self) -> PathBuf {
        self.dir.path().join("sink.log")
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.log_path()).unwrap_or_default()
    }

    /// Starts it and waits until it has subscribed (once more than before).
    pub fn launch(&mut self) {
        let before = self.log().matches("subscribed").count();
        let log = std::fs::OpenOptions::new().create(true).append(true).open(self.log_path()).expect("log file");
        let child = Command::new(env!("CARGO_BIN_EXE_sobre"))
            .args(["city", "--config"])
            .arg(self.dir.path().join("city.toml"))
            .env("RUST_LOG", "info")
            .env("NO_COLOR", "1")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::from(log))
            .spawn()
            .expect("start sobre city");
        self.child = Some(child);
        let started = std::time::Instant::now();
        while self.log().matches("subscribed").count() <= before {
            assert!(started.elapsed() < super::DEADLINE, "the sink did not subscribe:\n{}", self.log());
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
    }

    /// Without warning, as a crash or a power cut.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for Sink {
    fn drop(&mut self) {
        self.kill();
    }
}

/// What the views should say of `sent`, by the rule their comments give: per site, the claimed
/// monthly avoided kWh, and its 90 % interval: a month's points in quadrature (each its own
/// meter and model), a site's months added (one baseline's error), for the portfolio to add
/// the sites in quadrature.
pub fn claimed_by_site(sent: &[(String, Value)]) -> BTreeMap<String, (f64, f64)> {
    let instant = |v: &Value| chrono::DateTime::parse_from_rfc3339(v.as_str().expect("a time")).expect("RFC 3339");
    let mut months = BTreeMap::<(String, String), (f64, f64)>::new();
    for (_, r) in sent {
        if r["resolution"] == "1mo" && r["claim"] == true {
            let (start, end) = (instant(&r["period"]["start"]), instant(&r["period"]["end"]));
            let month = (start + (end - start) / 2).with_timezone(&chrono::Utc).format("%Y-%m").to_string();
            let e = months.entry((r["site"].as_str().expect("site").to_string(), month)).or_default();
            e.0 += r["avoided_kwh"].as_f64().expect("avoided");
            e.1 += r["interval90_kwh"].as_f64().expect("interval").powi(2);
        }
    }
    let mut by_site = BTreeMap::<String, (f64, f64)>::new();
    for ((site, _), (kwh, squares)) in months {
        let e = by_site.entry(site).or_default();
        e.0 += kwh;
        e.1 += squares.sqrt();
    }
    by_site
}

pub fn assert_close(what: &str, found: f64, expected: f64) {
    assert!(
        (found - expected).abs() <= 1e-9 * expected.abs().max(1.0),
        "{what}: {found} in the views, {expected} sent"
    );
}
