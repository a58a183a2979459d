//! The broker's socket, so that the link can ask the kernel not to wake the agent for every
//! message while messages trickle in (`SO_RCVLOWAT`, see `pace`).
//!
//! rumqttc owns the socket and does not lend it, so the link finds it after each connection:
//! the one socket of this process connected to the broker's port, or of several, the one at
//! the broker's address when the config gives an address. Otherwise (a name, or the uplink to
//! the very same broker) the link reads as messages come, as it would without this.
//!
//! The one place the agent calls libc itself: no safe crate sets `SO_RCVLOWAT`. Both calls pass
//! a pointer to a local of the size they are told, so they are sound for any fd number; a
//! stale one (the connection closed) gets EBADF or sets a socket the link no longer reads,
//! which is why the link forgets the socket whenever its connection ends.
#![allow(unsafe_code)]

use std::net::SocketAddr;
use std::os::fd::RawFd;

#[derive(Debug, thiserror::Error)]
pub enum LowWaterError {
    #[error("cannot list this process's sockets: {0}")]
    List(std::io::Error),
    #[error("no socket of this process is connected to {host}:{port}")]
    NotFound { host: String, port: u16 },
    #[error(
        "{count} sockets of this process are connected to port {port} and {host} does not say which is the link's"
    )]
    Ambiguous { count: usize, host: String, port: u16 },
    #[error("setting SO_RCVLOWAT to {bytes} on fd {fd}: {source}")]
    Set { fd: RawFd, bytes: usize, source: std::io::Error },
}

/// A connected socket and the low-water mark last set on it.
#[derive(Debug)]
pub struct Socket {
    fd: RawFd,
    low: usize,
}

impl Socket {
    /// The socket connected to `host:port`, if exactly one is. When several are connected to
    /// that port (the uplink's broker on another host, say), the one whose peer is `host`, if
    /// `host` is an address or localhost; a name, and the link reads as messages come.
    pub fn find(host: &str, port: u16) -> Result<Socket, LowWaterError> {
        let mut found = Vec::new();
        for entry in std::fs::read_dir("/proc/self/fd").map_err(LowWaterError::List)? {
            let Ok(entry) = entry else { continue };
            let Some(fd) = entry.file_name().to_str().and_then(|n| n.parse::<RawFd>().ok()) else { continue };
            if let Some(peer) = peer(fd).filter(|p| p.port() == port) {
                found.push((fd, canonical(peer)));
            }
        }
        let candidates = found.len();
        if candidates > 1 {
            // Without a DNS lookup (that would wait on the resolver, the link's loop with it):
            // an address given as such, or localhost.
            found.retain(|(_, peer)| match host.parse::<std::net::IpAddr>() {
                Ok(ip) => peer.ip() == ip.to_canonical(),
                Err(_) => host.eq_ignore_ascii_case("localhost") && peer.ip().is_loopback(),
            });
        }
        match found[..] {
            [(fd, _)] => Ok(Socket { fd, low: 1 }),
            [] if candidates == 0 => Err(LowWaterError::NotFound { host: host.to_owned(), port }),
            _ => Err(LowWaterError::Ambiguous { count: candidates, host: host.to_owned(), port }),
        }
    }

    /// Asks the kernel to report the socket readable only once `bytes` wait in it (1: as soon
    /// as any does). Lowering it signals at once what already waits (Linux ≥ 4.18).
    pub fn wait_for(&mut self, bytes: usize) -> Result<(), LowWaterError> {
        let bytes = bytes.max(1);
        if bytes == self.low {
            return Ok(());
        }
        let value = libc::c_int::try_from(bytes).unwrap_or(libc::c_int::MAX);
        // SAFETY: `value` outlives the call and is as long as the length passed.
        let rc = unsafe {
            libc::setsockopt(
                self.fd,
                libc::SOL_SOCKET,
                libc::SO_RCVLOWAT,
                (&raw const value).cast(),
                std::mem::size_of::<libc::c_int>() as libc::socklen_t,
            )
        };
        if rc != 0 {
            return Err(LowWaterError::Set { fd: self.fd, bytes, source: std::io::Error::last_os_error() });
        }
        self.low = bytes;
        Ok(())
    }
}

/// The address `fd` is connected to, if it is a connected IP socket.
fn peer(fd: RawFd) -> Option<SocketAddr> {
    // SAFETY: zeroed bytes are a valid sockaddr_storage (plain integers).
    let mut storage: libc::sockaddr_storage = unsafe { std::mem::zeroed() };
    let mut len = std::mem::size_of::<libc::sockaddr_storage>() as libc::socklen_t;
    // SAFETY: `storage` is writable for `len` bytes, the length getpeername is told.
    if unsafe { libc::getpeername(fd, (&raw mut storage).cast(), &raw mut len) } != 0 {
        return None;
    }
    match libc::c_int::from(storage.ss_family) {
        libc::AF_INET => {
            // SAFETY: the kernel wrote a sockaddr_in (family AF_INET) into the larger storage.
            let a: libc::sockaddr_in = unsafe { std::ptr::read((&raw const storage).cast()) };
            let ip = std::net::Ipv4Addr::from(u32::from_be(a.sin_addr.s_addr));
            Some(SocketAddr::from((ip, u16::from_be(a.sin_port))))
        }
        libc::AF_INET6 => {
            // SAFETY: the kernel wrote a sockaddr_in6 (family AF_INET6) into the larger storage.
            let a: libc::sockaddr_in6 = unsafe { std::ptr::read((&raw const storage).cast()) };
            let ip = std::net::Ipv6Addr::from(a.sin6_addr.s6_addr);
            Some(SocketAddr::from((ip, u16::from_be(a.sin6_port))))
        }
        _ => None,
    }
}

/// An IPv4 address the same whether it comes as such or mapped into IPv6.
fn canonical(addr: SocketAddr) -> SocketAddr {
    SocketAddr::new(addr.ip().to_canonical(), addr.port())
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::AsyncWriteExt;
    use tokio::net::{TcpListener, TcpStream};

    async fn pair(listener: &TcpListener) -> (TcpStream, TcpStream) {
        let client = TcpStream::connect(listener.local_addr().expect("addr")).await.expect("connect");
        let (server, _) = listener.accept().await.expect("accept");
        (client, server)
    }

    fn kernel_low(fd: RawFd) -> libc::c_int {
        let mut value: libc::c_int = 0;
        let mut len = std::mem::size_of::<libc::c_int>() as libc::socklen_t;
        // SAFETY: `value` is writable for `len` bytes.
        let rc =
            unsafe { libc::getsockopt(fd, libc::SOL_SOCKET, libc::SO_RCVLOWAT, (&raw mut value).cast(), &raw mut len) };
        assert_eq!(rc, 0, "getsockopt");
        value
    }

    #[tokio::test]
    async fn finds_the_one_socket_connected_to_the_broker_and_refuses_to_guess_between_two() {
        use std::os::fd::AsRawFd;
        // Given two listeners and one connection to each
        let broker = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let other = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let (to_broker, _b) = pair(&broker).await;
        let (_to_other, _o) = pair(&other).await;
        let port = broker.local_addr().expect("addr").port();

        // When the link looks for the broker's socket, by name as the config gives it
        let found = Socket::find("127.0.0.1", port).expect("found");

        // Then it is the connection to the broker, not the other nor the listener
        assert_eq!(found.fd, to_broker.as_raw_fd());

        // And with a second connection to the same broker it does not guess
        let (_uplink, _u) = pair(&broker).await;
        assert!(matches!(Socket::find("127.0.0.1", port), Err(LowWaterError::Ambiguous { count: 2, .. })));
        // And with none it says so
        let free = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let free_port = free.local_addr().expect("addr").port();
        assert!(matches!(Socket::find("127.0.0.1", free_port), Err(LowWaterError::NotFound { .. })));
    }

    #[tokio::test]
    async fn of_two_brokers_on_one_port_the_address_named_tells_them_apart() {
        use std::os::fd::AsRawFd;
        // Given two brokers on the same port at two addresses, and a connection to each
        let local = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let port = local.local_addr().expect("addr").port();
        let city = TcpListener::bind(("127.0.0.2", port)).await.expect("bind 127.0.0.2 on the same port");
        let (to_local, _l) = pair(&local).await;
        let (to_city, _c) = pair(&city).await;

        // When the link names its broker by address, Then it finds that one
        assert_eq!(Socket::find("127.0.0.1", port).expect("found").fd, to_local.as_raw_fd());
        assert_eq!(Socket::find("127.0.0.2", port).expect("found").fd, to_city.as_raw_fd());
        // And by a name it would have to resolve, or one that fits both, it does not guess
        assert!(matches!(Socket::find("localhost", port), Err(LowWaterError::Ambiguous { count: 2, .. })));
        assert!(matches!(Socket::find("broker.example", port), Err(LowWaterError::Ambiguous { count: 2, .. })));
    }

    #[tokio::test]
    async fn a_reader_waits_for_the_low_water_mark_and_lowering_it_wakes_the_reader() {
        // Given a connection whose reader asks for 64 bytes before it is woken
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let (client, mut server) = pair(&listener).await;
        let mut socket = Socket::find("127.0.0.1", listener.local_addr().expect("addr").port()).expect("found");
        socket.wait_for(64).expect("set");
        assert_eq!(kernel_low(socket.fd), 64);

        // When 10 bytes arrive, the reader is not woken
        server.write_all(&[7; 10]).await.expect("write");
        server.flush().await.expect("flush");
        let early = tokio::time::timeout(std::time::Duration::from_millis(200), client.readable()).await;
        assert!(early.is_err(), "woken for 10 bytes under a low-water mark of 64");

        // When the mark goes back to 1, the 10 bytes waiting wake it
        socket.wait_for(1).expect("set");
        assert_eq!(kernel_low(socket.fd), 1);
        tokio::time::timeout(std::time::Duration::from_secs(10), client.readable())
            .await
            .expect("woken once the mark is lowered")
            .expect("readable");
        let mut buf = [0u8; 32];
        assert_eq!(client.try_read(&mut buf).expect("read"), 10);
    }
}
