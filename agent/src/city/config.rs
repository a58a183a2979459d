//! `city.toml`: where the sink reads reports (the city's broker, the shared subscription) and
//! where it writes them (PostgreSQL). Data and validation only; see config/city.toml.

use crate::config::Span;
use serde::Deserialize;
use std::path::Path;
use std::time::Duration;

#[derive(Debug, thiserror::Error)]
pub enum CityConfigError {
    #[error("cannot read {path}: {source}")]
    Read { path: String, source: std::io::Error },
    #[error("{origin}: {message}")]
    Parse { origin: String, message: String },
    #[error("{origin}: `{key}` = {value:?}: {fix}")]
    Invalid { origin: String, key: &'static str, value: String, fix: &'static str },
    #[error("the database connection {source_name} is not usable: {message}")]
    Database { source_name: &'static str, message: String },
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CityFile {
    broker: BrokerFile,
    #[serde(default)]
    database: DatabaseFile,
    #[serde(default)]
    sink: SinkFile,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct BrokerFile {
    #[serde(default = "default_host")]
    host: String,
    #[serde(default = "default_port")]
    port: u16,
    /// Stable: the broker keeps this client's session (and what it has not acknowledged).
    client_id: String,
    #[serde(default = "default_group")]
    group: String,
    /// The agents' `uplink.prefix`.
    #[serde(default = "default_prefix")]
    prefix: String,
    #[serde(default = "default_keep_alive")]
    keep_alive: Span,
    #[serde(default = "default_session_expiry")]
    session_expiry: Span,
    #[serde(default = "default_receive_maximum")]
    receive_maximum: u16,
    username: Option<String>,
    password: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct DatabaseFile {
    /// `postgresql://user@host:port/db` or `host=… dbname=…`; else `DATABASE_URL`, else `PG*`.
    url: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct SinkFile {
    #[serde(default = "default_max_report_bytes")]
    max_report_bytes: usize,
    #[serde(default = "default_batch")]
    batch: usize,
}

impl Default for SinkFile {
    fn default() -> Self {
        SinkFile { max_report_bytes: default_max_report_bytes(), batch: default_batch() }
    }
}

fn default_host() -> String {
    "127.0.0.1".to_string()
}
fn default_port() -> u16 {
    1883
}
fn default_group() -> String {
    "sobre-city".to_string()
}
fn default_prefix() -> String {
    "city".to_string()
}
fn default_keep_alive() -> Span {
    Span::secs(30)
}
fn default_session_expiry() -> Span {
    Span::days(7)
}
fn default_receive_maximum() -> u16 {
    256
}
/// The largest real report (a register entry with its fits) is a few KiB.
fn default_max_report_bytes() -> usize {
    256 * 1024
}
fn default_batch() -> usize {
    64
}

/// The sink's settings, validated.
#[derive(Debug, Clone)]
pub struct CitySettings {
    pub broker: CityBroker,
    pub database: tokio_postgres::Config,
    /// Where the connection settings came from, for the log (never the password).
    pub database_source: &'static str,
    /// A report larger than this is refused unread (and its oversize recorded).
    pub max_report_bytes: usize,
    /// Reports written in one transaction at most (then acknowledged together).
    pub batch: usize,
}

#[derive(Debug, Clone)]
pub struct CityBroker {
    pub host: String,
    pub port: u16,
    pub client_id: String,
    pub group: String,
    pub prefix: String,
    pub keep_alive: Duration,
    pub session_expiry_s: u32,
    pub receive_maximum: u16,
    pub credentials: Option<(String, String)>,
}

impl CityBroker {
    /// Every report of every site, shared among the sinks of `group`: the broker gives each
    /// message to one of them.
    pub fn subscription(&self) -> String {
        format!("$share/{}/{}/+/reports/#", self.group, self.prefix)
    }
}

impl CitySettings {
    pub fn load(path: &Path) -> Result<Self, CityConfigError> {
        let text = std::fs::read_to_string(path)
            .map_err(|source| CityConfigError::Read { path: path.display().to_string(), source })?;
        Self::parse(&text, &path.display().to_string(), |name| std::env::var(name).ok())
    }

    /// Parses and validates; `env` is the process environment (a closure, for the tests).
    pub fn parse(text: &str, origin: &str, env: impl Fn(&str) -> Option<String>) -> Result<Self, CityConfigError> {
        let file: CityFile = toml::from_str(text)
            .map_err(|e| CityConfigError::Parse { origin: origin.to_string(), message: e.to_string() })?;
        let invalid = |key, value: &dyn std::fmt::Display, fix| CityConfigError::Invalid {
            origin: origin.to_string(),
            key,
            value: value.to_string(),
            fix,
        };
        let b = file.broker;
        if b.client_id.trim().is_empty() {
            return Err(invalid("broker.client_id", &b.client_id, "give each sink instance a stable, unique id"));
        }
        for (key, value) in [("broker.group", &b.group), ("broker.prefix", &b.prefix)] {
            if value.is_empty() || value.contains(['+', '#']) || value.starts_with('/') || value.ends_with('/') {
                return Err(invalid(key, value, "a topic level (or levels) without wildcards or outer slashes"));
            }
        }
        if b.group.contains('/') {
            return Err(invalid("broker.group", &b.group, "a share group is one topic level: no slash"));
        }
        if b.receive_maximum == 0 {
            return Err(invalid("broker.receive_maximum", &b.receive_maximum, "at least 1"));
        }
        let credentials = match (b.username, b.password) {
            (Some(user), Some(pass)) => Some((user, pass)),
            (None, None) => None,
            _ => return Err(invalid("broker.username", &"…", "give both username and password, or neither")),
        };
        let s = file.sink;
        if !(1024..=64 << 20).contains(&s.max_report_bytes) {
            return Err(invalid("sink.max_report_bytes", &s.max_report_bytes, "between 1024 and 67108864"));
        }
        if !(1..=10_000).contains(&s.batch) {
            return Err(invalid("sink.batch", &s.batch, "between 1 and 10000"));
        }
        let (database, database_source) = database(file.database.url.as_deref(), &env)?;
        Ok(CitySettings {
            broker: CityBroker {
                host: b.host,
                port: b.port,
                client_id: b.client_id,
                group: b.group,
                prefix: b.prefix,
                keep_alive: b.keep_alive.0.max(Duration::from_secs(1)),
                session_expiry_s: u32::try_from(b.session_expiry.0.as_secs()).unwrap_or(u32::MAX),
                receive_maximum: b.receive_maximum,
                credentials,
            },
            database,
            database_source,
            max_report_bytes: s.max_report_bytes,
            batch: s.batch,
        })
    }
}

/// The connection: the file's `database.url`, else `DATABASE_URL`, else libpq's `PG*` variables
/// (PGHOST, PGPORT, PGUSER, PGPASSWORD, PGDATABASE) over libpq's defaults, with the host
/// defaulting to 127.0.0.1 (tokio-postgres reads no environment itself).
fn database(
    url: Option<&str>,
    env: &impl Fn(&str) -> Option<String>,
) -> Result<(tokio_postgres::Config, &'static str), CityConfigError> {
    // Named in pg_stat_activity, so an operator (and the tests) can find the sink's sessions.
    let parse = |text: &str, source_name| {
        let mut config = text
            .parse::<tokio_postgres::Config>()
            .map_err(|e| CityConfigError::Database { source_name, message: e.to_string() })?;
        if config.get_application_name().is_none() {
            config.application_name("sobre-city");
        }
        Ok(config)
    };
    if let Some(url) = url {
        return Ok((parse(url, "database.url")?, "database.url"));
    }
    if let Some(url) = env("DATABASE_URL").filter(|u| !u.is_empty()) {
        return Ok((parse(&url, "DATABASE_URL")?, "DATABASE_URL"));
    }
    let mut config = tokio_postgres::Config::new();
    config.host(env("PGHOST").as_deref().unwrap_or("127.0.0.1"));
    if let Some(port) = env("PGPORT") {
        let port = port.parse().map_err(|_| CityConfigError::Database {
            source_name: "PGPORT",
            message: format!("{port:?} is not a port number"),
        })?;
        config.port(port);
    }
    let user = env("PGUSER").or_else(|| env("USER")).unwrap_or_else(|| "postgres".to_string());
    config.user(&user);
    if let Some(password) = env("PGPASSWORD") {
        config.password(password);
    }
    // libpq's default database is the user's name.
    config.dbname(env("PGDATABASE").as_deref().unwrap_or(&user));
    config.application_name("sobre-city");
    Ok((config, "PG* environment"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio_postgres::config::Host;

    const MINIMAL: &str = "[broker]\nclient_id = \"sink-1\"\n";

    fn no_env(_: &str) -> Option<String> {
        None
    }

    #[test]
    fn a_minimal_file_takes_the_defaults() {
        let s = CitySettings::parse(MINIMAL, "city.toml", no_env).expect("valid");
        assert_eq!(s.broker.subscription(), "$share/sobre-city/city/+/reports/#");
        assert_eq!((s.broker.host.as_str(), s.broker.port), ("127.0.0.1", 1883));
        assert_eq!(s.max_report_bytes, 256 * 1024);
        assert_eq!(s.database.get_hosts(), &[Host::Tcp("127.0.0.1".to_string())]);
        assert_eq!(s.database_source, "PG* environment");
    }

    #[test]
    fn the_connection_comes_from_the_file_then_database_url_then_pg_variables() {
        let env = |name: &str| match name {
            "DATABASE_URL" => Some("postgresql://alice@db.internal:6543/city".to_string()),
            "PGDATABASE" => Some("ignored".to_string()),
            _ => None,
        };
        let from_env = CitySettings::parse(MINIMAL, "c", env).expect("valid");
        assert_eq!(from_env.database_source, "DATABASE_URL");
        assert_eq!(from_env.database.get_dbname(), Some("city"));
        assert_eq!(from_env.database.get_ports(), &[6543]);
        assert_eq!(from_env.database.get_application_name(), Some("sobre-city"));

        let file = format!("{MINIMAL}[database]\nurl = \"host=127.0.0.1 user=bob dbname=reports\"\n");
        let from_file = CitySettings::parse(&file, "c", env).expect("valid");
        assert_eq!(from_file.database_source, "database.url");
        assert_eq!(from_file.database.get_user(), Some("bob"));

        let pg = |name: &str| match name {
            "PGHOST" => Some("10.0.0.5".to_string()),
            "PGPORT" => Some("5433".to_string()),
            "PGUSER" => Some("sink".to_string()),
            _ => None,
        };
        let from_pg = CitySettings::parse(MINIMAL, "c", pg).expect("valid");
        assert_eq!(from_pg.database.get_hosts(), &[Host::Tcp("10.0.0.5".to_string())]);
        assert_eq!(from_pg.database.get_ports(), &[5433]);
        assert_eq!(from_pg.database.get_dbname(), Some("sink"), "libpq's default: the user's name");
    }

    #[test]
    fn mistakes_name_the_key_and_the_fix() {
        for (text, says) in [
            ("[broker]\nclient_id = \"\"\n", "broker.client_id"),
            ("[broker]\nclient_id = \"a\"\ngroup = \"a/b\"\n", "broker.group"),
            ("[broker]\nclient_id = \"a\"\nprefix = \"city/#\"\n", "broker.prefix"),
            ("[broker]\nclient_id = \"a\"\nusername = \"u\"\n", "both username and password"),
            ("[broker]\nclient_id = \"a\"\n[sink]\nmax_report_bytes = 10\n", "sink.max_report_bytes"),
            ("[broker]\nclient_id = \"a\"\ncolour = \"red\"\n", "unknown field `colour`"),
            ("[broker]\nclient_id = \"a\"\n[database]\nurl = \"postgresql://h:notaport/x\"\n", "database.url"),
        ] {
            let error = CitySettings::parse(text, "city.toml", no_env).expect_err(text).to_string();
            assert!(error.contains(says), "{text}: {error}");
        }
        let bad_port = |name: &str| (name == "PGPORT").then(|| "fivefour".to_string());
        let error = CitySettings::parse(MINIMAL, "c", bad_port).expect_err("PGPORT").to_string();
        assert!(error.contains("PGPORT") && error.contains("fivefour"), "{error}");
    }
}
