//! The `[web]` section: where the local page listens, the names a browser may reach it under,
//! and the limits that keep a flood of connections from taking the agent past its memory (the
//! systemd unit caps it at 64 MiB).

use super::authority::Authority;
use super::duration::Span;
use super::validate::Check;
use serde::Deserialize;
use std::net::SocketAddr;
use std::time::Duration;

/// The local page and `/metrics`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct WebFile {
    /// Address and port the page listens on. Loopback by default: the page takes decisions
    /// without a login. `""` turns the page off.
    pub listen: String,
    /// Names the page is reached under besides its listen address (and `localhost` on
    /// loopback): `"name"` or `"name:port"`, the listen port when none is given. A request
    /// naming any other host is refused, so a site whose name was re-pointed at the gateway
    /// (DNS rebinding) cannot read the page or take decisions on it.
    pub hosts: Vec<String>,
    /// Connections served at once; any beyond are closed as they arrive.
    pub max_connections: usize,
    /// How long a connection may wait for a request's header and take to send it, from when
    /// it opens or its previous answer is sent: idle keep-alive connections and clients that
    /// trickle their header are closed after it.
    pub idle_timeout: Span,
    /// How long one request may take once its header is in, its body included.
    pub request_timeout: Span,
}

impl Default for WebFile {
    fn default() -> Self {
        // 64 connections of at most a 16 KiB header buffer each stay well inside the unit's
        // memory; a browser opens six at most.
        Self {
            listen: "127.0.0.1:8080".into(),
            hosts: Vec::new(),
            max_connections: 64,
            idle_timeout: Span::secs(10),
            request_timeout: Span::secs(30),
        }
    }
}

/// The page as the agent runs it.
#[derive(Debug, Clone)]
pub struct WebSettings {
    pub listen: SocketAddr,
    /// The names from `[web] hosts`, ports filled in.
    pub hosts: Vec<Authority>,
    pub max_connections: usize,
    pub idle_timeout: Duration,
    pub request_timeout: Duration,
}

impl WebSettings {
    /// The page on `listen` with every other value at its default (`sobre demo --serve`).
    pub fn on(listen: SocketAddr) -> Self {
        let file = WebFile::default();
        Self {
            listen,
            hosts: Vec::new(),
            max_connections: file.max_connections,
            idle_timeout: file.idle_timeout.0,
            request_timeout: file.request_timeout.0,
        }
    }
}

/// `None` when the page is turned off (or its address is wrong, which `check` records).
pub(super) fn validate(file: WebFile, check: &mut Check) -> Option<WebSettings> {
    let listen = match file.listen.trim() {
        "" => None,
        listen => match listen.parse::<SocketAddr>() {
            Ok(addr) => Some(addr),
            Err(_) => {
                check.fail(
                    "web.listen",
                    listen,
                    "use an address and port such as \"127.0.0.1:8080\", or \"\" for no page",
                );
                None
            }
        },
    };
    let port = listen.map_or(80, |l| l.port());
    let mut hosts = Vec::with_capacity(file.hosts.len());
    for (i, name) in file.hosts.iter().enumerate() {
        match Authority::parse(name, port) {
            Some(host) => hosts.push(host),
            None => check.fail(
                format!("web.hosts[{i}]"),
                name,
                "use the host name or address a browser is given for the page, with its port unless it is the \
                 listen port, e.g. \"gateway.school.local:8080\" (letters, digits, '-' and '.'; IPv6 in brackets)",
            ),
        }
    }
    if !(1..=1024).contains(&file.max_connections) {
        check.fail(
            "web.max_connections",
            file.max_connections,
            "use 1 to 1024, e.g. 64: each open connection costs memory, and a browser needs six",
        );
    }
    let (one_second, five_minutes) = (Duration::from_secs(1), Duration::from_secs(300));
    for (key, span) in [("web.idle_timeout", file.idle_timeout), ("web.request_timeout", file.request_timeout)] {
        if !(one_second..=five_minutes).contains(&span.0) {
            check.fail(key, span.to_string(), "use \"1s\" to \"5m\", e.g. \"10s\" and \"30s\"");
        }
    }
    listen.map(|listen| WebSettings {
        listen,
        hosts,
        max_connections: file.max_connections,
        idle_timeout: file.idle_timeout.0,
        request_timeout: file.request_timeout.0,
    })
}
