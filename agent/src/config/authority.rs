//! `host[:port]` as HTTP names a server (`Host`, and after `http://` in `Origin` and `Referer`)
//! and as the operator lists the page's names in `[web] hosts`. One parsed form for all of
//! them, so that "is this the page?" is a comparison of values, not of spellings (`LOCALHOST`,
//! a port left out, `[::1]`).

use std::fmt;
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};

/// The port a URL or `Host` without one means: the page is plain HTTP.
pub const HTTP_PORT: u16 = 80;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Authority {
    /// A lower-case DNS name, or an IP address in its canonical text (IPv6 without brackets).
    host: String,
    port: u16,
}

impl Authority {
    pub fn of(addr: SocketAddr) -> Self {
        Self { host: addr.ip().to_string(), port: addr.port() }
    }

    /// `localhost` on `port`.
    pub fn localhost(port: u16) -> Self {
        Self { host: "localhost".into(), port }
    }

    /// `text` as `host`, `host:port`, `[v6]` or `[v6]:port`, with `default_port` when none is
    /// given. `None` for anything else (user info, a path, characters no host name holds), so
    /// whoever compares fails closed.
    pub fn parse(text: &str, default_port: u16) -> Option<Self> {
        let port_of = |text: &str| match text {
            "" => Some(default_port),
            port => port.strip_prefix(':')?.parse::<u16>().ok(),
        };
        if let Some(bracketed) = text.strip_prefix('[') {
            let (v6, rest) = bracketed.split_once(']')?;
            let ip: Ipv6Addr = v6.parse().ok()?;
            return Some(Self { host: ip.to_string(), port: port_of(rest)? });
        }
        let split = text.find(':').unwrap_or(text.len());
        let (name, rest) = text.split_at(split);
        if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.') {
            return None;
        }
        let host = match name.parse::<Ipv4Addr>() {
            Ok(ip) => ip.to_string(),
            Err(_) => name.to_ascii_lowercase(),
        };
        Some(Self { host, port: port_of(rest)? })
    }

    /// The scheme and authority an `Origin` or `Referer` names. Only `http`: the page is served
    /// over nothing else, so an `https` origin is another origin.
    pub fn of_http_url(url: &str) -> Option<Self> {
        let rest = url.strip_prefix("http://")?;
        let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
        Self::parse(&rest[..end], HTTP_PORT)
    }
}

impl fmt::Display for Authority {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.host.contains(':') {
            write!(f, "[{}]:{}", self.host, self.port)
        } else {
            write!(f, "{}:{}", self.host, self.port)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_authority_however_it_is_spelled() {
        let gateway = Authority::parse("gateway.school.local:8080", 80).expect("a name and port");
        for spelling in ["GATEWAY.school.local:8080", "gateway.school.local"] {
            assert_eq!(Authority::parse(spelling, 8080).as_ref(), Some(&gateway), "{spelling}");
        }
        let loopback = Authority::of(([127, 0, 0, 1], 8080).into());
        assert_eq!(Authority::parse("127.0.0.1:8080", 80), Some(loopback));
        let v6 = Authority::of((std::net::Ipv6Addr::LOCALHOST, 8080).into());
        assert_eq!(Authority::parse("[0:0::1]:8080", 80).as_ref(), Some(&v6));
        assert_eq!(v6.to_string(), "[::1]:8080");
        assert_eq!(Authority::of_http_url("http://127.0.0.1:8080/#x"), Authority::parse("127.0.0.1:8080", 80));
        assert_eq!(
            Authority::of_http_url("http://gateway.school.local"),
            Authority::parse("gateway.school.local:80", 1)
        );
    }

    #[test]
    fn anything_but_a_plain_authority_is_none() {
        for text in ["", ":8080", "evil.example@127.0.0.1:8080", "host:", "host:99999", "a b", "host/path", "[::1"] {
            assert_eq!(Authority::parse(text, 80), None, "{text:?}");
        }
        for url in ["https://127.0.0.1:8080", "null", "127.0.0.1:8080", "HTTP://127.0.0.1:8080x", "http://u@127.0.0.1"]
        {
            assert_eq!(Authority::of_http_url(url), None, "{url:?}");
        }
    }
}
