//! systemd's notification protocol (sd_notify(3)), a datagram to `$NOTIFY_SOCKET`: `READY=1`
//! once the agent runs, `WATCHDOG=1` while its loops are alive, `STOPPING=1` when it stops.
//! Outside systemd (no socket in the environment) it says nothing.

use std::os::unix::net::UnixDatagram;
use std::time::Duration;

#[derive(Debug)]
pub struct Notifier {
    socket: UnixDatagram,
    path: String,
}

impl Notifier {
    /// The notifier systemd gave this process, if any.
    pub fn from_env() -> Option<Self> {
        let path = std::env::var("NOTIFY_SOCKET").ok().filter(|p| !p.is_empty())?;
        match UnixDatagram::unbound() {
            Ok(socket) => Some(Self { socket, path }),
            Err(e) => {
                tracing::warn!(error = %e, "cannot open a socket to notify systemd");
                None
            }
        }
    }

    pub fn notify(&self, state: &str) {
        if let Err(e) = self.send(state.as_bytes()) {
            tracing::warn!(error = %e, socket = self.path, state, "cannot notify systemd");
        }
    }

    fn send(&self, message: &[u8]) -> std::io::Result<usize> {
        // A leading '@' names a socket in Linux's abstract namespace.
        match self.path.strip_prefix('@') {
            Some(name) => {
                use std::os::linux::net::SocketAddrExt;
                let addr = std::os::unix::net::SocketAddr::from_abstract_name(name.as_bytes())?;
                self.socket.send_to_addr(message, &addr)
            }
            None => self.socket.send_to(message, &self.path),
        }
    }
}

/// The watchdog period systemd expects pings within (`WatchdogSec=`), if it watches this process.
pub fn watchdog_period() -> Option<Duration> {
    let usec: u64 = std::env::var("WATCHDOG_USEC").ok()?.parse().ok()?;
    // WATCHDOG_PID, when set, says which process is watched: a child must not ping for it.
    if let Some(pid) = std::env::var("WATCHDOG_PID").ok().and_then(|p| p.parse::<u32>().ok()) {
        if pid != std::process::id() {
            return None;
        }
    }
    (usec > 0).then(|| Duration::from_micros(usec))
}
