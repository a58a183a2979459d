//! The harness: a real mosquitto on a free loopback port, the real `sobre` binary, a real
//! SQLite file, and an MQTT client. Waits are for a condition with a deadline, never a guess.

use rumqttc::{Client, Event, MqttOptions, Packet, QoS, SubscribeReasonCode};
use rusqlite::Connection;
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// How long a test waits for what should take the agent a moment: long enough for a debug build
/// on a 2-core machine that another build loads too. Every wait is for a condition and returns
/// as soon as it holds, so only a failure takes this long.
pub const DEADLINE: Duration = Duration::from_secs(120);

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).map(|a| a.port()).expect("a free loopback port")
}

/// Polls `condition` until it holds or the deadline passes.
pub fn wait_until(what: &str, condition: impl FnMut() -> bool) {
    wait_until_within(DEADLINE, what, condition);
}

/// `wait_until`, for what takes the agent longer than `DEADLINE` in a debug build (storing a
/// flood of readings).
pub fn wait_until_within(deadline: Duration, what: &str, mut condition: impl FnMut() -> bool) {
    let start = Instant::now();
    while !condition() {
        assert!(start.elapsed() < deadline, "timed out after {deadline:?} waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// What `command` prints and how it exits, once it has: killed, and the test failed, if it
/// has not within `DEADLINE`.
pub fn output(command: &mut Command, what: &str) -> std::process::Output {
    let child = command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("start {what}: {e}"));
    output_within(child, DEADLINE, what)
}

/// The output of `child` (its stdout and stderr piped), once it exits: killed, and the test
/// failed, if it has not within `deadline`.
pub fn output_within(child: Child, deadline: Duration, what: &str) -> std::process::Output {
    let pid = child.id();
    let (done, output) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = done.send(child.wait_with_output());
    });
    match output.recv_timeout(deadline) {
        Ok(out) => out.unwrap_or_else(|e| panic!("{what}: {e}")),
        Err(_) => {
            let _ = Command::new("kill").args(["-KILL", &pid.to_string()]).status();
            panic!("{what} did not finish within {deadline:?}");
        }
    }
}

/// A mosquitto of the test's own, stopped on drop.
pub struct Mosquitto {
    pub port: u16,
    dir: tempfile::TempDir,
    child: Option<Child>,
    /// Keeps sessions and queued messages across a restart (saved on a graceful stop).
    persistent: bool,
}

impl Mosquitto {
    pub fn start() -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut broker = Mosquitto { port: free_port(), dir, child: None, persistent: false };
        broker.restart();
        broker
    }

    /// A broker that remembers persistent sessions and their queued messages across restarts,
    /// as a city's central broker would.
    pub fn start_persistent() -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut broker = Mosquitto { port: free_port(), dir, child: None, persistent: true };
        broker.restart();
        broker
    }

    /// Starts (again) on the same port; only a persistent broker remembers the previous run.
    pub fn restart(&mut self) {
        self.stop();
        let conf = self.dir.path().join("mosquitto.conf");
        std::fs::write(
            &conf,
            // A replay publishes a year in seconds, a flood 100,000 messages; mosquitto's default
            // queue of 1000 messages per subscriber would drop most of them (deploy/ says the same).
            // Started as root, mosquitto drops to its own user unless told not to, and then
            // cannot save its sessions in our folder.
            format!(
                "user root\nlistener {} 127.0.0.1\nallow_anonymous true\npersistence {}\npersistence_location {}/\nlog_dest none\nmax_queued_messages 1000000\n",
                self.port,
                self.persistent,
                self.dir.path().display()
            ),
        )
        .expect("write mosquitto.conf");
        self.child = Some(spawn_mosquitto(&conf, self.port));
    }

    /// Stops the broker: gracefully when it is persistent (it saves its sessions), at once
    /// otherwise.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            if self.persistent {
                let _ = Command::new("kill").args(["-TERM", &child.id().to_string()]).status();
            } else {
                let _ = child.kill();
            }
            let _ = child.wait();
        }
    }
}

/// Starts mosquitto on a configuration and waits until it listens on `port`.
pub fn spawn_mosquitto(conf: &std::path::Path, port: u16) -> Child {
    let child = Command::new("mosquitto")
        .arg("-c")
        .arg(conf)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("mosquitto is installed (the README's test command installs it)");
    wait_until("mosquitto to listen", || TcpStream::connect(("127.0.0.1", port)).is_ok());
    child
}

impl Drop for Mosquitto {
    fn drop(&mut self) {
        self.stop();
    }
}

/// The `sobre` binary running `sobre run` on a config written into its own folder.
pub struct Agent {
    /// Holds the config and store; removed when the test ends.
    _dir: tempfile::TempDir,
    pub db: PathBuf,
    pub config: PathBuf,
    child: Option<Child>,
    /// Where its log goes, when the test reads it; the test's own output otherwise.
    log: Option<PathBuf>,
    env: Vec<(String, String)>,
}

impl Agent {
    /// `points` is TOML for `[[points]]` tables; `extra` any further sections. No page: agents
    /// of tests running side by side would all want port 8080.
    pub fn start(broker_port: u16, points: &str, extra: &str) -> Self {
        Self::start_with_broker(broker_port, "", points, extra)
    }

    /// `start`, with `broker` (TOML lines) added to its `[broker]` table: credentials.
    pub fn start_with_broker(broker_port: u16, broker: &str, points: &str, extra: &str) -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let db = dir.path().join("sobre.db");
        let config = dir.path().join("sobre.toml");
        let text = format!(
            "[site]\nid = \"test-site\"\ntimezone = \"Europe/London\"\n\n[broker]\nport = {broker_port}\n{broker}\nreconnect_min = \"50ms\"\nreconnect_max = \"500ms\"\n\n[storage]\npath = {db:?}\ncommit_interval = \"50ms\"\n\n[storage.retention]\nraw = \"20y\"\nquarter_hour = \"20y\"\nhourly = \"20y\"\ndaily = \"20y\"\nmonthly = \"20y\"\n\n[web]\nlisten = \"\"\n\n{extra}\n{points}\n"
        );
        std::fs::write(&config, text).expect("write config");
        let mut agent = Agent { _dir: dir, db, config, child: None, log: None, env: Vec::new() };
        agent.launch();
        agent
    }

    /// `start`, with the agent's log in a file the test reads (`log()`), and `env` set.
    pub fn start_logged(broker_port: u16, points: &str, extra: &str, env: &[(&str, &str)]) -> Self {
        let mut agent = Agent::start(broker_port, points, extra);
        agent.kill();
        agent.log = Some(agent._dir.path().join("agent.log"));
        agent.env = env.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        agent.launch();
        agent
    }

    pub fn launch(&mut self) {
        let stderr = match &self.log {
            Some(path) => Stdio::from(
                std::fs::OpenOptions::new().create(true).append(true).open(path).expect("the agent's log file"),
            ),
            None => Stdio::inherit(),
        };
        let child = Command::new(env!("CARGO_BIN_EXE_sobre"))
            .args(["run", "-c"])
            .arg(&self.config)
            .env("RUST_LOG", "warn,sobre_agent=info")
            .env("NO_COLOR", "1")
            .envs(self.env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .stdout(Stdio::null())
            .stderr(stderr)
            .spawn()
            .expect("start sobre");
        self.child = Some(child);
    }

    /// What the agent logged so far (`start_logged` only).
    pub fn log(&self) -> String {
        self.log.as_ref().and_then(|p| std::fs::read_to_string(p).ok()).unwrap_or_default()
    }

    /// Rewrites its config file (for the next `launch`).
    pub fn reconfigure(&self, edit: impl FnOnce(&str) -> String) {
        let text = std::fs::read_to_string(&self.config).expect("read config");
        std::fs::write(&self.config, edit(&text)).expect("write config");
    }

    /// Asks the agent to stop as systemd does (SIGTERM) and waits for it to exit.
    pub fn terminate(&mut self) -> std::process::ExitStatus {
        let mut child = self.child.take().expect("agent running");
        let status = Command::new("kill").args(["-TERM", &child.id().to_string()]).status().expect("kill -TERM");
        assert!(status.success());
        child.wait().expect("agent exits")
    }

    /// Kills the agent without warning, as a power cut would.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    pub fn db(&self) -> Db {
        Db { path: self.db.clone() }
    }
}

impl Drop for Agent {
    fn drop(&mut self) {
        self.kill();
    }
}

/// The agent as `sobre run` starts it (`daemon::run`), in a thread of the test, so the test
/// can give it settings no file could (a store copied from elsewhere) and read its counters.
pub struct InProcess {
    pub settings: sobre_agent::config::Settings,
    pub stats: std::sync::Arc<sobre_agent::stats::Stats>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
    dir: Option<tempfile::TempDir>,
}

impl InProcess {
    /// Starts it and waits until it subscribed (and its page, if any, listens). `dir` holds the
    /// store and goes when the agent does.
    pub fn start(settings: sobre_agent::config::Settings, dir: tempfile::TempDir) -> Self {
        let stats = std::sync::Arc::new(sobre_agent::stats::Stats::default());
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let (run, counters) = (settings.clone(), stats.clone());
        let thread = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
            let clock = sobre_agent::clock::Clock::system(run.agent.clock);
            let ran = rt.block_on(sobre_agent::daemon::run(run, clock, counters, async {
                let _ = stopped.await;
            }));
            // The agent has stopped and let go of its store. An advisor fit it abandoned may
            // still run on the blocking pool; its result goes nowhere, so the test does not
            // wait for it (a runtime dropped would).
            rt.shutdown_background();
            ran.expect("the agent runs and stops cleanly");
        });
        wait_until("the agent subscribed", || stats.snapshot().subscribed > 0);
        if let Some(page) = &settings.web {
            wait_until("the page listens", || std::net::TcpStream::connect(page.listen).is_ok());
        }
        InProcess { settings, stats, stop: Some(stop), thread: Some(thread), dir: Some(dir) }
    }

    pub fn ledger(&self) -> sobre_agent::advisor::ledger::Ledger {
        sobre_agent::advisor::ledger::Ledger::open(&self.settings.storage.path, &self.settings.site.id).expect("ledger")
    }

    /// Stops it as a SIGTERM would and waits until it has drained into the store, which the
    /// returned folder keeps.
    pub fn stop(mut self) -> tempfile::TempDir {
        self.halt().expect("the agent stopped cleanly");
        self.dir.take().expect("the store's folder")
    }

    fn halt(&mut self) -> std::thread::Result<()> {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        self.thread.take().map_or(Ok(()), |t| t.join())
    }
}

impl Drop for InProcess {
    fn drop(&mut self) {
        let _ = self.halt();
    }
}

/// Read access to the agent's store through the documented schema, as `sqlite3` would.
pub struct Db {
    path: PathBuf,
}

impl Db {
    fn open(&self) -> Option<Connection> {
        Connection::open_with_flags(&self.path, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY).ok()
    }

    /// A single number from a query, or None while the store does not exist yet.
    pub fn number(&self, sql: &str) -> Option<f64> {
        self.open()?.query_row(sql, [], |r| r.get::<_, Option<f64>>(0)).ok().flatten()
    }

    pub fn count(&self, sql: &str) -> u64 {
        self.number(sql).unwrap_or(0.0) as u64
    }

    pub fn rows(&self, sql: &str) -> Vec<Vec<String>> {
        let Some(conn) = self.open() else { return Vec::new() };
        let mut stmt = conn.prepare(sql).expect("query");
        let n = stmt.column_count();
        stmt.query_map([], |r| {
            (0..n)
                .map(|i| {
                    let v: rusqlite::types::Value = r.get(i)?;
                    Ok(match v {
                        rusqlite::types::Value::Null => "NULL".to_string(),
                        rusqlite::types::Value::Integer(i) => i.to_string(),
                        rusqlite::types::Value::Real(f) => f.to_string(),
                        rusqlite::types::Value::Text(t) => t,
                        rusqlite::types::Value::Blob(_) => "<blob>".to_string(),
                    })
                })
                .collect()
        })
        .expect("rows")
        .collect::<Result<_, _>>()
        .expect("rows")
    }

    pub fn readings(&self, point: &str) -> u64 {
        self.count(&format!("SELECT count(*) FROM readings_view WHERE point = '{point}'"))
    }

    pub fn rejections(&self, point: &str, reason: &str) -> u64 {
        self.count(&format!("SELECT count FROM rejections WHERE point = '{point}' AND reason = '{reason}'"))
    }
}

/// A test client: publishes with QoS 1 and waits for every acknowledgement; collects what
/// arrives on its subscriptions.
pub struct Mqtt {
    client: Client,
    acks: mpsc::Receiver<()>,
    pub messages: mpsc::Receiver<(String, Vec<u8>)>,
}

impl Mqtt {
    pub fn connect(port: u16, subscriptions: &[&str]) -> Self {
        Self::connect_as(port, &format!("test-{}", fastrand::u32(..)), true, None, subscriptions)
    }

    /// A client whose session (subscriptions, queued QoS 1 messages) the broker keeps while it
    /// is away; it reconnects by itself.
    pub fn connect_persistent(port: u16, client_id: &str, subscriptions: &[&str]) -> Self {
        Self::connect_as(port, client_id, false, None, subscriptions)
    }

    /// A client logged in as `user`; the broker must grant every one of its subscriptions.
    pub fn connect_user(port: u16, user: &str, password: &str, subscriptions: &[&str]) -> Self {
        Self::connect_as(port, &format!("{user}-{}", fastrand::u32(..)), true, Some((user, password)), subscriptions)
    }

    fn connect_as(
        port: u16,
        client_id: &str,
        clean: bool,
        credentials: Option<(&str, &str)>,
        subscriptions: &[&str],
    ) -> Self {
        let mut opts = MqttOptions::new(client_id, "127.0.0.1", port);
        opts.set_clean_session(clean);
        if let Some((user, password)) = credentials {
            opts.set_credentials(user, password);
        }
        opts.set_max_packet_size(4 << 20, 4 << 20);
        opts.set_keep_alive(Duration::from_secs(5));
        let (client, mut connection) = Client::new(opts, 1000);
        let (ack_tx, acks) = mpsc::channel();
        let (msg_tx, messages) = mpsc::channel();
        let (ready_tx, ready) = mpsc::channel();
        let topics: Vec<String> = subscriptions.iter().map(|s| s.to_string()).collect();
        let sub = client.clone();
        std::thread::spawn(move || {
            for event in connection.iter() {
                match event {
                    Ok(Event::Incoming(Packet::ConnAck(_))) => {
                        for t in &topics {
                            let _ = sub.try_subscribe(t.clone(), QoS::AtLeastOnce);
                        }
                        if topics.is_empty() {
                            let _ = ready_tx.send(false);
                        }
                    }
                    Ok(Event::Incoming(Packet::SubAck(ack))) => {
                        let refused = ack.return_codes.iter().any(|c| matches!(c, SubscribeReasonCode::Failure));
                        let _ = ready_tx.send(refused);
                    }
                    Ok(Event::Incoming(Packet::PubAck(_))) => {
                        let _ = ack_tx.send(());
                    }
                    Ok(Event::Incoming(Packet::Publish(p))) => {
                        let _ = msg_tx.send((p.topic, p.payload.to_vec()));
                    }
                    Ok(_) => {}
                    Err(_) => std::thread::sleep(Duration::from_millis(50)),
                }
            }
        });
        // One acknowledgement per subscription (or the connection's, without any).
        for topic in subscriptions.iter().map(Some).chain([None]).take(subscriptions.len().max(1)) {
            let refused = ready.recv_timeout(DEADLINE).expect("test client connected");
            assert!(!refused, "the broker refused {client_id} the subscription to {topic:?}");
        }
        Mqtt { client, acks, messages }
    }

    pub fn publish(&self, topic: &str, payload: impl Into<Vec<u8>>) {
        self.publish_all([(topic.to_string(), payload.into())]);
    }

    pub fn publish_all(&self, messages: impl IntoIterator<Item = (String, Vec<u8>)>) {
        let mut sent = 0;
        for (topic, payload) in messages {
            self.client.publish(topic, QoS::AtLeastOnce, false, payload).expect("queue publish");
            sent += 1;
        }
        for _ in 0..sent {
            self.acks.recv_timeout(DEADLINE).expect("broker acknowledged");
        }
    }

    /// The next message on `topic` whose payload satisfies `matches`.
    pub fn expect(&self, topic: &str, matches: impl Fn(&serde_json::Value) -> bool) -> serde_json::Value {
        self.expect_within(DEADLINE, topic, matches)
    }

    /// `expect`, waiting up to `deadline` (for what follows a model fit in a debug build).
    pub fn expect_within(
        &self,
        deadline: Duration,
        topic: &str,
        matches: impl Fn(&serde_json::Value) -> bool,
    ) -> serde_json::Value {
        let start = Instant::now();
        loop {
            let left = deadline.checked_sub(start.elapsed()).unwrap_or_default();
            let (t, payload) =
                self.messages.recv_timeout(left).unwrap_or_else(|_| panic!("no matching message on {topic}"));
            if t == topic {
                if let Ok(json) = serde_json::from_slice::<serde_json::Value>(&payload) {
                    if matches(&json) {
                        return json;
                    }
                }
            }
        }
    }
}

/// `{"ts": "...", "value": v}` as the generic JSON decoder in these tests expects.
pub fn json_reading(ts: &str, value: impl std::fmt::Display) -> Vec<u8> {
    format!("{{\"ts\":\"{ts}\",\"value\":{value}}}").into_bytes()
}

/// A `[[points]]` table for a generic JSON point.
pub fn json_point(id: &str, kind: &str, unit: &str, extra: &str) -> String {
    format!(
        "[[points]]\nid = \"{id}\"\nkind = \"{kind}\"\nunit = \"{unit}\"\ntopic = \"test/{id}\"\ndecode = {{ format = \"json\", pointer = \"/value\", timestamp = \"/ts\" }}\n{extra}\n"
    )
}
pub mod city;
pub mod readme;
pub mod schema;

/// A copy of a store (its WAL too) into `dir`, as `sobre.db`.
pub fn copy_store(from: &std::path::Path, dir: &tempfile::TempDir) -> PathBuf {
    let path = dir.path().join("sobre.db");
    for suffix in ["", "-wal", "-shm"] {
        let source = format!("{}{suffix}", from.display());
        if std::path::Path::new(&source).exists() {
            std::fs::copy(&source, format!("{}{suffix}", path.display())).expect("copy the store");
        }
    }
    path
}
