//! A mosquitto of its own on a free loopback port, stopped when dropped.

use std::path::Path;
use std::process::{Child, Command, Stdio};

pub struct Broker {
    pub port: u16,
    child: Child,
}

impl Broker {
    pub fn start(dir: &Path) -> Result<Self, Box<dyn std::error::Error>> {
        let port = std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
        let conf = dir.join("mosquitto.conf");
        std::fs::write(
            &conf,
            format!(
                "listener {port} 127.0.0.1\nallow_anonymous true\npersistence false\nlog_dest none\nmax_queued_messages 10000000\n"
            ),
        )?;
        let mosquitto = if Path::new("/usr/sbin/mosquitto").exists() { "/usr/sbin/mosquitto" } else { "mosquitto" };
        let child = Command::new(mosquitto).arg("-c").arg(&conf).stdout(Stdio::null()).stderr(Stdio::null()).spawn()?;
        super::wait("mosquitto", || std::net::TcpStream::connect(("127.0.0.1", port)).is_ok());
        Ok(Broker { port, child })
    }
}

impl Drop for Broker {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
