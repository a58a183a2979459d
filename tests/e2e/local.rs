//! The places a facility manager reads and decides: the local page (loaded in headless
//! Chromium), Home Assistant's discovery and summary, and accept / reject over MQTT and on the
//! page. The agent runs on a copy of the demo's store, against a real mosquitto.

use crate::demo::demo;
use crate::support::{copy_store, free_port, schema, InProcess, Mosquitto, Mqtt};
use serde_json::Value;
use sobre_agent::advisor::ledger::{Ledger, Status};
use sobre_agent::config::{Discovery, HomeAssistantSettings, Span, WebSettings};
use std::io::{Read, Write};
use std::path::Path;
use std::process::Command;

const PREFIX: &str = "sobre/ecole-demo";

/// The agent on its own copy of the demo's store, with its page on a free loopback port.
fn start(broker_port: u16, discovery: Discovery) -> InProcess {
    let demo_store = &demo().store;
    let dir = tempfile::tempdir().expect("tempdir");
    let path = copy_store(demo_store, &dir);
    let school = sobre_agent::sim::SimSettings::parse(sobre_agent::sim::SCHOOL, "school").expect("school");
    let emulator = sobre_agent::sim::Emulator::new(school).expect("emulator");
    let mut settings = sobre_agent::sim::demo_settings(&emulator, broker_port, broker_port, &path).expect("settings");
    settings.uplink = None;
    settings.web = Some(WebSettings::on(([127, 0, 0, 1], free_port()).into()));
    settings.homeassistant = Some(HomeAssistantSettings {
        discovery_prefix: "homeassistant".into(),
        discovery,
        summary_interval: Span::secs(3600),
    });
    InProcess::start(settings, dir)
}

fn page(agent: &InProcess) -> std::net::SocketAddr {
    agent.settings.web.as_ref().expect("a page").listen
}

/// One HTTP/1.1 request to the agent's page; the response's status line and body.
fn http(agent: &InProcess, request: &str) -> (String, String) {
    let (head, body) = exchange(agent, request);
    (head.lines().next().unwrap_or_default().to_string(), body)
}

/// One HTTP/1.1 request to the agent's page; the response's head and body.
fn exchange(agent: &InProcess, request: &str) -> (String, String) {
    let mut stream = std::net::TcpStream::connect(page(agent)).expect("connect to the page");
    stream.write_all(request.as_bytes()).expect("send");
    let mut response = String::new();
    stream.read_to_string(&mut response).expect("read");
    let (head, body) = response.split_once("\r\n\r\n").unwrap_or((&response, ""));
    (head.to_string(), body.to_string())
}

/// What a browser holds after loading the page: its token cookie, and the token its forms carry.
fn load_page(agent: &InProcess) -> (String, String) {
    let addr = page(agent);
    let (head, body) = exchange(agent, &format!("GET / HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"));
    let cookie = head
        .lines()
        .find_map(|l| l.strip_prefix("set-cookie: "))
        .and_then(|c| c.split(';').next())
        .unwrap_or_else(|| panic!("the page sets its token cookie: {head}"))
        .to_string();
    let field = r#"name="token" value=""#;
    let start = body.find(field).expect("a form carries the token") + field.len();
    let token = body[start..start + body[start..].find('"').expect("value ends")].to_string();
    (cookie, token)
}

/// A decision posted as the page's form sends it, with `extra` headers (Origin, Cookie).
fn decision(agent: &InProcess, id: &str, extra: &str, body: &str) -> String {
    let addr = page(agent);
    let (status, _) = http(agent, &format!(
        "POST /recommendations/{id} HTTP/1.1\r\nHost: {addr}\r\n{extra}Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    ));
    status
}

fn chromium() -> &'static str {
    ["/usr/bin/chromium", "/usr/bin/chromium-browser"]
        .into_iter()
        .find(|p| Path::new(p).exists())
        .expect("headless Chromium: scripts/test installs it (apt-get install chromium)")
}

/// The page's DOM after Chromium loaded and rendered it.
fn rendered(url: &str) -> String {
    let out = crate::support::output(
        Command::new(chromium()).args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--dump-dom",
            url,
        ]),
        "chromium",
    );
    assert!(out.status.success(), "chromium: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).expect("utf-8 DOM")
}

fn open_recommendations(ledger: &Ledger) -> Vec<(String, String)> {
    ledger
        .current()
        .expect("current")
        .into_iter()
        .filter(|c| c.status == Status::Proposed)
        .map(|c| (c.subject, c.recommendation["title"].as_str().unwrap_or_default().to_string()))
        .collect()
}

#[test]
fn the_page_shows_the_chart_and_every_recommendation_with_its_reasons_in_headless_chromium() {
    // Given the agent running on the poorly tuned school's eight weeks
    let broker = Mosquitto::start();
    let agent = start(broker.port, Discovery::Device);
    // When a facility manager opens the page in a browser
    let dom = rendered(&format!("http://{}/", page(&agent)));
    // Then each energy point has its chart: metered against the baseline and its band
    for point in ["heating_energy", "building_energy"] {
        let start = dom.find(&format!(r#"data-point="{point}""#)).unwrap_or_else(|| panic!("chart of {point}"));
        let chart = &dom[start..start + dom[start..].find("</svg>").expect("chart closes")];
        for part in [r#"class="metered""#, r#"class="baseline""#, r#"class="band""#] {
            assert!(chart.contains(part), "{point}'s chart has {part}");
        }
        assert!(chart.matches("<circle").count() >= 50, "{point}: a point for each of the eight weeks' days");
    }
    // And every proposed recommendation, with its buttons and the reasons it rests on
    let ledger = agent.ledger();
    let open = open_recommendations(&ledger);
    assert!(open.len() >= 4, "{open:?}");
    for (id, title) in &open {
        let start = dom.find(&format!(r#"id="{id}""#)).unwrap_or_else(|| panic!("{title} on the page"));
        let card = &dom[start..start + dom[start..].find("</form></div>").expect("card ends with its forms")];
        assert!(card.contains(&sobre_agent::web::esc(title)), "{title}");
        assert!(card.contains("kWh a year") && card.contains("<li>") && card.contains("Accept"), "{card}");
        assert!(card.contains(r#"<input type="hidden" name="token" value=""#), "each form carries the token: {card}");
    }
    // And the ledger, the models' quality and the health of every point
    for section in [r#"id="ledger""#, r#"id="models""#, r#"id="points""#] {
        assert!(dom.contains(section), "{section}");
    }
    for p in &agent.settings.points {
        assert!(dom.contains(&format!("<td>{}</td>", p.id)), "{} in the data health table", p.id);
    }
    // And Prometheus reads the counters and the recommendations by status
    let addr = page(&agent);
    let (status, metrics) =
        http(&agent, &format!("GET /metrics HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"));
    assert!(status.contains("200"), "{status}");
    assert!(metrics.contains("sobre_readings_stored_total"), "{metrics}");
    assert!(metrics.contains(&format!(r#"sobre_recommendations{{status="proposed"}} {}"#, open.len())), "{metrics}");
    // But not under a name the page is not served under (a rebound DNS name)
    let (status, _) = http(&agent, "GET /metrics HTTP/1.1\r\nHost: evil.example\r\nConnection: close\r\n\r\n");
    assert!(status.contains("421"), "{status}");
}

#[test]
fn a_decision_over_mqtt_or_on_the_page_is_recorded_and_published() {
    // Given the agent running with its recommendations proposed, and a client watching
    let broker = Mosquitto::start();
    let agent = start(broker.port, Discovery::Device);
    let watcher = Mqtt::connect(broker.port, &[&format!("{PREFIX}/decisions"), &format!("{PREFIX}/recommendations")]);
    let open = open_recommendations(&agent.ledger());
    let (accepted, rejected) = (&open[0].0, &open[1].0);
    // When the facility manager accepts one over MQTT (as Home Assistant would send it)
    let topic = format!("{PREFIX}/recommendations/{accepted}/set");
    watcher.publish(&topic, r#"{"decision": "accept", "by": "Mme Martin", "note": "from the holidays on"}"#);
    // Then the decision is published with who took it, and the retained list says so (while the
    // advisor's first run over the copied store may still be fitting: decisions do not wait for it)
    let record = watcher.expect(&format!("{PREFIX}/decisions"), |r| r["subject"] == accepted.as_str());
    assert_eq!((record["status"].as_str(), record["by"].as_str()), (Some("accepted"), Some("Mme Martin")));
    schema::check(&schema::load("decision"), &record).unwrap_or_else(|e| panic!("{e}\n{record}"));
    let list = watcher.expect(&format!("{PREFIX}/recommendations"), |l| {
        l["recommendations"]
            .as_array()
            .is_some_and(|rs| rs.iter().any(|r| r["id"] == accepted.as_str() && r["status"] == "accepted"))
    });
    schema::check(&schema::load("recommendations"), &list).unwrap_or_else(|e| panic!("{e}"));
    // When another is rejected with the page's button, as the browser that loaded it sends it
    let (cookie, token) = load_page(&agent);
    assert_eq!(cookie, format!("sobre_csrf={token}"), "the forms carry the cookie's token");
    let from_page = format!("Origin: http://{}\r\nCookie: {cookie}\r\n", page(&agent));
    let body = format!("token={token}&decision=reject&note=the+gym+is+let+on+Saturdays");
    let status = decision(&agent, rejected, &from_page, &body);
    assert!(status.contains("303"), "the page sends the browser back to the recommendation: {status}");
    // Then it is recorded in the ledger like any other decision
    let record = watcher.expect(&format!("{PREFIX}/decisions"), |r| r["subject"] == rejected.as_str());
    assert_eq!(record["status"], "rejected");
    assert_eq!(record["note"], "the gym is let on Saturdays");
    let ledger = agent.ledger();
    let status_of =
        |id: &str| ledger.current().expect("current").into_iter().find(|c| c.subject == id).map(|c| c.status);
    assert_eq!(status_of(accepted), Some(Status::Accepted));
    assert_eq!(status_of(rejected), Some(Status::Rejected));
    // And a malformed decision or an unknown recommendation changes nothing
    let records = ledger.records(10_000).expect("records").len();
    watcher.publish(&topic, "accept");
    watcher.publish(&format!("{PREFIX}/recommendations/no-such-thing/set"), r#"{"decision": "reject"}"#);
    let status = decision(&agent, rejected, &from_page, &format!("token={token}&decision=maybe"));
    assert!(status.contains("400"), "{status}");
    let elsewhere = format!("Origin: http://elsewhere.example\r\nCookie: {cookie}\r\n");
    let status = decision(&agent, &open[2].0, &elsewhere, &format!("token={token}&decision=accept"));
    assert!(status.contains("403"), "a form sent from another site is refused: {status}");
    let status =
        decision(&agent, &open[2].0, &format!("Cookie: {cookie}\r\n"), &format!("token={token}&decision=accept"));
    assert!(status.contains("403"), "a form that says nothing of where it comes from is refused: {status}");
    let status = decision(&agent, &open[2].0, &from_page, "decision=accept");
    assert!(status.contains("403"), "a form without the page's token is refused: {status}");
    // (decisions are taken in order: once a later valid one is recorded, the others were seen)
    watcher.publish(&format!("{PREFIX}/recommendations/{}/set", open[2].0), r#"{"decision": "reject"}"#);
    watcher.expect(&format!("{PREFIX}/decisions"), |r| r["subject"] == open[2].0.as_str());
    assert_eq!(ledger.records(10_000).expect("records").len(), records + 1);
    assert_eq!(status_of(accepted), Some(Status::Accepted), "a decision sticks");
}

#[test]
fn home_assistant_discovers_the_agent_and_reads_its_summary_again_after_a_restart() {
    let cases = [(Discovery::Device, 1), (Discovery::Entity, 4)];
    for (discovery, messages) in cases {
        // Given Home Assistant's broker, and the agent announcing itself with `discovery`
        let broker = Mosquitto::start();
        let ha = Mqtt::connect(broker.port, &["homeassistant/+/sobre_ecole-demo/#", &format!("{PREFIX}/summary")]);
        let agent = start(broker.port, discovery);
        // Then the discovery names the four entities, available while the agent's status says online
        let configs = collect(&ha, messages);
        let entities: Vec<&Value> = match discovery {
            Discovery::Device => configs[0]["components"].as_object().expect("components").values().collect(),
            Discovery::Entity => configs.iter().collect(),
        };
        let ids: Vec<&str> = entities.iter().filter_map(|e| e["unique_id"].as_str()).collect();
        for object in ["status", "savings_to_date", "recommendations", "top_recommendation"] {
            assert!(ids.contains(&format!("sobre_ecole-demo_{object}").as_str()), "{object} in {ids:?}");
        }
        for config in &configs {
            assert_eq!(config["availability"][0]["topic"], format!("{PREFIX}/status"));
            assert_eq!(config["device"]["identifiers"][0], "sobre_ecole-demo");
        }
        // And the summary they read holds the savings to date and the top recommendation
        let summary = ha.expect(&format!("{PREFIX}/summary"), |_| true);
        schema::check(&schema::load("summary"), &summary).unwrap_or_else(|e| panic!("{e}\n{summary}"));
        let open = open_recommendations(&agent.ledger());
        assert_eq!(summary["recommendations"].as_u64(), Some(open.len() as u64));
        assert!(summary["savings_to_date_kwh"].as_f64().is_some(), "{summary}");
        assert!(open.iter().any(|(id, _)| summary["top_recommendation"]["id"] == id.as_str()), "{summary}");
        // When Home Assistant restarts and says so
        ha.publish("homeassistant/status", "online");
        // Then the agent announces itself again (`collect` fails when nothing comes)
        collect(&ha, messages);
    }
}

/// The next `n` discovery messages.
fn collect(client: &Mqtt, n: usize) -> Vec<Value> {
    let mut found = Vec::new();
    while found.len() < n {
        let (topic, payload) = client.messages.recv_timeout(crate::support::DEADLINE).expect("discovery");
        if topic.starts_with("homeassistant/") && topic.ends_with("/config") {
            found.push(serde_json::from_slice(&payload).expect("JSON"));
        }
    }
    found
}
