//! The uplink over TLS: a test CA signs the city broker's certificate and the agent's client
//! certificate; the agent delivers through it, and refuses a broker whose certificate does not
//! name the host it dialled.

use crate::support::*;
use std::path::Path;
use std::process::{Child, Command};

fn openssl(dir: &Path, args: &[&str]) {
    let out = crate::support::output(Command::new("openssl").args(args).current_dir(dir), "openssl (installed)");
    assert!(out.status.success(), "openssl {args:?}: {}", String::from_utf8_lossy(&out.stderr));
}

/// `openssl req` with a new P-256 key in `<key>.key`: a request, or with `-x509` a certificate.
fn new_key(dir: &Path, key: &str, out: &str, subject: &str, extra: &[&str]) {
    let (keyout, subj) = (format!("{key}.key"), format!("/CN={subject}"));
    let mut args = vec!["req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"];
    args.extend(["-keyout", &keyout, "-out", out, "-subj", &subj]);
    args.extend(extra);
    openssl(dir, &args);
}

/// A CA, and certificates it signs: `name` with the given subjectAltName and usage.
fn certificates(dir: &Path) {
    new_key(dir, "ca", "ca.crt", "sobre test CA", &["-x509", "-days", "2"]);
    let sign = |name: &str, ext: &str| {
        std::fs::write(dir.join(format!("{name}.ext")), ext).expect("write ext");
        new_key(dir, name, &format!("{name}.csr"), name, &[]);
        openssl(
            dir,
            &[
                "x509",
                "-req",
                "-in",
                &format!("{name}.csr"),
                "-CA",
                "ca.crt",
                "-CAkey",
                "ca.key",
                "-CAcreateserial",
                "-out",
                &format!("{name}.crt"),
                "-days",
                "2",
                "-extfile",
                &format!("{name}.ext"),
            ],
        );
    };
    sign("server", "subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n");
    sign("impostor", "subjectAltName=DNS:somewhere-else.example\nextendedKeyUsage=serverAuth\n");
    sign("agent", "extendedKeyUsage=clientAuth\n");
}

/// The city's broker: TLS with client certificates on one port, plain on another for the test.
struct TlsBroker {
    tls_port: u16,
    plain_port: u16,
    log: std::path::PathBuf,
    child: Child,
}

impl TlsBroker {
    fn start(dir: &Path, server: &str) -> Self {
        let (tls_port, plain_port) = (free_port(), free_port());
        let log = dir.join(format!("{server}.log"));
        let conf = dir.join(format!("{server}.conf"));
        let d = dir.display();
        std::fs::write(
            &conf,
            format!(
                "user root\nper_listener_settings false\nallow_anonymous true\nlog_dest file {}\nlog_type all\n\
                 listener {plain_port} 127.0.0.1\n\
                 listener {tls_port} 127.0.0.1\ncafile {d}/ca.crt\ncertfile {d}/{server}.crt\nkeyfile {d}/{server}.key\nrequire_certificate true\n",
                log.display()
            ),
        )
        .expect("write mosquitto.conf");
        let child = spawn_mosquitto(&conf, tls_port);
        TlsBroker { tls_port, plain_port, log, child }
    }
}

impl Drop for TlsBroker {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn uplink(dir: &Path, port: u16) -> String {
    let d = dir.display();
    format!(
        "[agent]\nclock = \"event\"\n\n[uplink]\nprefix = \"city\"\n\n[uplink.broker]\nhost = \"127.0.0.1\"\nport = {port}\n\
         reconnect_min = \"50ms\"\nreconnect_max = \"300ms\"\ntls = {{ ca_file = \"{d}/ca.crt\", client_cert_file = \"{d}/agent.crt\", client_key_file = \"{d}/agent.key\" }}\n\n\
         [reports]\nhealth_interval = \"1h\"\ncheck_interval = \"20ms\"\n"
    )
}

/// Given a city broker presenting `server`'s certificate, a building broker and an agent whose
/// uplink dials the city over TLS, When three hours of data arrive.
struct Given {
    agent: Agent,
    city: Mqtt,
    central: TlsBroker,
    _local: Mosquitto,
    /// The certificates: dropped (deleted) last, after the processes that read them.
    _dir: tempfile::TempDir,
}

fn given(server: &str) -> Given {
    let dir = tempfile::tempdir().expect("tempdir");
    certificates(dir.path());
    let central = TlsBroker::start(dir.path(), server);
    let city = Mqtt::connect(central.plain_port, &["city/#"]);
    let local = Mosquitto::start();
    let point = json_point("outdoor", "outdoor_temperature", "°C", "");
    let agent = Agent::start(local.port, &point, &uplink(dir.path(), central.tls_port));
    publish_two_hours(local.port);
    Given { agent, city, central, _local: local, _dir: dir }
}

fn publish_two_hours(port: u16) {
    let mqtt = Mqtt::connect(port, &["sobre/test-site/status"]);
    mqtt.expect("sobre/test-site/status", |s| s["state"] == "online");
    mqtt.publish_all(
        ["2019-01-01T00:00:00Z", "2019-01-01T01:00:00Z", "2019-01-01T02:00:00Z"]
            .map(|ts| ("test/outdoor".to_string(), json_reading(ts, 4.5))),
    );
}

#[test]
fn the_uplink_delivers_over_tls_with_a_client_certificate() {
    // Given a city broker whose certificate our CA signed, requiring client certificates
    // When the agent has reports to send
    let g = given("server");

    // Then they arrive through the TLS listener
    let health = g.city.expect("city/test-site/reports/health", |r| r["period"]["start"] == "2019-01-01T01:00:00Z");
    assert_eq!(health["site"], "test-site");
}

#[test]
fn the_uplink_refuses_a_broker_whose_certificate_names_another_host() {
    // Given a broker presenting a certificate from our CA, but for another host name
    // When the agent has reports to send and dials it
    let g = given("impostor");
    let db = g.agent.db();
    wait_until("the reports queued", || db.count("SELECT count(*) FROM outbox") == 5);
    // (the broker logs each handshake the agent abandons)
    wait_until("two refused handshakes", || {
        std::fs::read_to_string(&g.central.log)
            .is_ok_and(|log| log.matches("OpenSSL Error").count() >= 2 || log.matches("protocol error").count() >= 2)
    });

    // Then nothing was delivered, and everything waits in the outbox
    assert!(g.city.messages.try_recv().is_err(), "a report reached a broker the agent should not trust");
    assert_eq!(db.count("SELECT count(*) FROM outbox"), 5);
}
