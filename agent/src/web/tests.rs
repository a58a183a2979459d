//! The page probed as an attacker would, through its router (no socket): cross-site decisions,
//! forged tokens, DNS rebinding, markup in ids, and the headers on every answer.

use super::*;
use crate::advisor::decision::{DecisionRequest, Verdict};
use crate::advisor::ledger::Ledger;
use crate::glance::{Day, EnergyGlance, Glance, PointHealth};
use crate::mqtt::mailbox::{Rate, Requests};
use crate::point::{Fuel, PointKind};
use axum::body::Body;
use axum::http::{HeaderValue, Request};
use tower::ServiceExt;

const PAGE: &str = "127.0.0.1:8080";
const HOSTILE_ID: &str = r#"e"onload="alert(1)"#;

/// The agent's page on `127.0.0.1:8080` (also known as `gateway.school.local`) over an empty
/// store, and the advisor's end of its decision channel.
struct Fixture {
    router: Router,
    advisor: Requests<DecisionRequest>,
    _dir: tempfile::TempDir,
}

/// The settings of a gym with one thermometer, its store in `dir`.
fn settings_in(dir: &tempfile::TempDir) -> Settings {
    let config = format!(
        r#"
[site]
id = "gym"
timezone = "Europe/Paris"
[storage]
path = "{}"
[web]
listen = "{PAGE}"
hosts = ["gateway.school.local"]
[[points]]
id = "t"
kind = "zone_temperature"
unit = "°C"
topic = "sensors/t"
"#,
        dir.path().join("sobre.db").display()
    );
    Settings::parse(&config, "test.toml").expect("settings")
}

fn fixture() -> Fixture {
    let dir = tempfile::tempdir().expect("tempdir");
    let settings = settings_in(&dir);
    let page = settings.web.clone().expect("a page");
    let ledger = Ledger::open(&settings.storage.path, &settings.site.id).expect("ledger");
    // No rate to speak of: the tests send decisions back to back.
    let (decisions, advisor) = crate::mqtt::mailbox::mailbox(8, Rate { per_second: 1e9, burst: 1e9 });
    let web = Web {
        reader: Shared::new(Reader::open(&settings, Shared::new(ledger)).expect("reader")),
        settings: Arc::new(settings),
        stats: Arc::new(Stats::default()),
        decisions: Some(Arc::new(decisions)),
        control: None,
        overrides: None,
    };
    Fixture { router: web.router(Hosts::new(page.listen, &page.hosts)), advisor, _dir: dir }
}

impl Fixture {
    async fn send(&self, request: Request<Body>) -> Response {
        self.router.clone().oneshot(request).await.expect("the router answers")
    }

    /// The page as a browser first loads it; the token its cookie carries.
    async fn token(&self) -> String {
        let response = self.send(get("/", PAGE)).await;
        assert_eq!(response.status(), StatusCode::OK);
        let cookie = response.headers().get(header::SET_COOKIE).expect("the page sets its token");
        let cookie = cookie.to_str().expect("ascii");
        let value = cookie.split(';').next().and_then(|pair| pair.split_once('=')).map(|(_, v)| v.to_string());
        value.expect("name=value")
    }

    /// Whether a decision reached the advisor by now (the handler sends before it answers).
    fn decided(&mut self) -> Option<DecisionRequest> {
        self.advisor.try_recv()
    }
}

fn get(path: &str, host: &str) -> Request<Body> {
    Request::get(path).header(header::HOST, host).body(Body::empty()).expect("request")
}

/// A decision to reject `rec-1` with `headers` and the form field `token`, if any.
fn decision(headers: &[(&str, &str)], token: Option<&str>) -> Request<Body> {
    let mut request =
        Request::post("/recommendations/rec-1").header(header::CONTENT_TYPE, "application/x-www-form-urlencoded");
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let body = match token {
        Some(token) => format!("decision=reject&token={token}"),
        None => "decision=reject".to_string(),
    };
    request.body(Body::from(body)).expect("request")
}

async fn text(response: Response) -> String {
    let bytes = axum::body::to_bytes(response.into_body(), usize::MAX).await.expect("body");
    String::from_utf8(bytes.to_vec()).expect("utf-8")
}

#[tokio::test]
async fn a_decision_from_the_page_with_its_token_reaches_the_advisor() {
    // Given a browser that loaded the page and holds its token
    let mut page = fixture();
    let token = page.token().await;
    let cookie = format!("sobre_csrf={token}");
    // When it posts the form from the page, under each name the page is served under
    let sent_from = [
        ("127.0.0.1:8080", "origin", "http://127.0.0.1:8080"),
        ("localhost:8080", "origin", "http://localhost:8080"),
        ("gateway.school.local:8080", "origin", "http://gateway.school.local:8080"),
        // a browser that sends no Origin still sends the Referer our policy allows
        ("127.0.0.1:8080", "referer", "http://127.0.0.1:8080/#recommendations"),
    ];
    for (host, name, value) in sent_from {
        let request = decision(&[("host", host), (name, value), ("cookie", &cookie)], Some(&token));
        let response = page.send(request).await;
        // Then the browser is sent back to the recommendation, and the advisor has the decision
        assert_eq!(response.status(), StatusCode::SEE_OTHER, "{host} {name}: {value}");
        let request = page.decided().expect("forwarded to the advisor");
        assert_eq!(request.subject, "rec-1");
        assert_eq!((request.decision.decision, request.decision.by.as_deref()), (Verdict::Reject, Some("local page")));
    }
}

#[tokio::test]
async fn a_decision_that_names_no_origin_is_refused() {
    // Given a request with the page's token but neither Origin nor Referer
    let mut page = fixture();
    let token = page.token().await;
    let request = decision(&[("host", PAGE), ("cookie", &format!("sobre_csrf={token}"))], Some(&token));
    // When it is posted
    let response = page.send(request).await;
    // Then it is refused, saying why, and nothing reaches the advisor
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    assert!(text(response).await.contains("names no Origin or Referer"));
    assert!(page.decided().is_none());
}

#[tokio::test]
async fn a_decision_from_another_origin_is_refused() {
    // Given the page's token in hand (as if it had leaked), and requests sent from elsewhere
    let mut page = fixture();
    let token = page.token().await;
    let cookie = format!("sobre_csrf={token}");
    let elsewhere = [
        vec![("origin", "http://evil.example")],
        vec![("origin", "https://127.0.0.1:8080")],
        vec![("origin", "http://127.0.0.1:8081")],
        vec![("origin", "http://127.0.0.1")],
        vec![("origin", "null")],
        vec![("referer", "http://evil.example/127.0.0.1:8080")],
        vec![("referer", "https://127.0.0.1:8080/")],
        // an Origin is what the browser says; a Referer beside it does not vouch for it
        vec![("origin", "http://evil.example"), ("referer", "http://127.0.0.1:8080/")],
        // the page reached as localhost, the form from the address: another origin
        vec![("origin", "http://localhost:8080")],
    ];
    for headers in elsewhere {
        let mut all = vec![("host", PAGE), ("cookie", cookie.as_str())];
        all.extend(headers.iter().copied());
        // When each is posted
        let response = page.send(decision(&all, Some(&token))).await;
        // Then each is refused and nothing reaches the advisor
        assert_eq!(response.status(), StatusCode::FORBIDDEN, "{headers:?}");
        assert!(text(response).await.contains("decisions are taken on this page only"), "{headers:?}");
        assert!(page.decided().is_none(), "{headers:?}");
    }
}

#[tokio::test]
async fn a_decision_without_the_pages_token_is_refused() {
    // Given a request from the page's own origin
    let mut page = fixture();
    let token = page.token().await;
    let other = Token::mint().expect("randomness");
    let origin = ("origin", "http://127.0.0.1:8080");
    let cookie = format!("sobre_csrf={token}");
    let other_cookie = format!("sobre_csrf={}", other.as_str());
    let cases = [
        ("no cookie, no field", None, None),
        ("a cookie, no field", Some(&cookie), None),
        ("a field, no cookie", None, Some(token.as_str())),
        ("a field that is not the cookie's", Some(&other_cookie), Some(token.as_str())),
    ];
    for (case, cookie, field) in cases {
        let mut headers = vec![("host", PAGE), origin];
        headers.extend(cookie.map(|c| ("cookie", c.as_str())));
        // When it is posted without the token the page gave this browser
        let response = page.send(decision(&headers, field)).await;
        // Then it is refused and nothing reaches the advisor
        assert_eq!(response.status(), StatusCode::FORBIDDEN, "{case}");
        assert!(text(response).await.contains("reload the page"), "{case}");
        assert!(page.decided().is_none(), "{case}");
    }
}

#[tokio::test]
async fn a_request_for_another_host_is_refused_on_every_route() {
    // Given a site re-pointed at the gateway (DNS rebinding): the browser sends its own name
    let mut page = fixture();
    let token = page.token().await;
    let cookie = format!("sobre_csrf={token}");
    for host in ["evil.example", "evil.example:8080", "127.0.0.1:8081", "gateway.school.local:9090"] {
        let origin = format!("http://{host}");
        let requests = [
            get("/", host),
            get("/metrics", host),
            decision(&[("host", host), ("origin", &origin), ("cookie", &cookie)], Some(&token)),
        ];
        for request in requests {
            let route = request.uri().to_string();
            // When it asks for the page, the metrics or a decision
            let response = page.send(request).await;
            // Then it is refused as misdirected, before any route reads the store or decides
            assert_eq!(response.status(), StatusCode::MISDIRECTED_REQUEST, "{host} {route}");
            assert!(response.headers().get(header::SET_COOKIE).is_none(), "{host} {route}: no token");
            assert!(text(response).await.contains("[web] hosts"), "{host} {route}");
        }
    }
    assert!(page.decided().is_none());
    // And a request naming no host at all is refused too
    let nameless = Request::get("/metrics").body(Body::empty()).expect("request");
    assert_eq!(page.send(nameless).await.status(), StatusCode::BAD_REQUEST);
    // While the page's own names are served
    for host in [PAGE, "localhost:8080", "gateway.school.local:8080", "GATEWAY.school.local:8080"] {
        assert_eq!(page.send(get("/metrics", host)).await.status(), StatusCode::OK, "{host}");
    }
}

#[tokio::test]
async fn every_answer_carries_the_security_headers() {
    // Given the page, its metrics, a refused decision and a misdirected request
    let page = fixture();
    let requests = [get("/", PAGE), get("/metrics", PAGE), decision(&[("host", PAGE)], None), get("/", "evil.example")];
    for request in requests {
        let route = format!("{} {}", request.method(), request.uri());
        // When each is answered
        let response = page.send(request).await;
        let headers = response.headers();
        let header = |name: header::HeaderName| headers.get(&name).and_then(|v| v.to_str().ok()).unwrap_or_default();
        // Then no script may run, no other site may frame it, nothing is sniffed or stored
        let policy = header(header::CONTENT_SECURITY_POLICY);
        for part in ["default-src 'none'", "frame-ancestors 'none'", "form-action 'self'", "style-src 'sha256-"] {
            assert!(policy.contains(part), "{route}: {policy}");
        }
        assert!(!policy.contains("unsafe-inline") && !policy.contains("script-src"), "{route}: {policy}");
        assert_eq!(header(header::X_CONTENT_TYPE_OPTIONS), "nosniff", "{route}");
        assert_eq!(header(header::X_FRAME_OPTIONS), "DENY", "{route}");
        assert_eq!(header(header::REFERRER_POLICY), "same-origin", "{route}");
        assert_eq!(header(header::CACHE_CONTROL), "no-store", "{route}");
    }
}

#[tokio::test]
async fn the_token_cookie_is_http_only_strict_and_kept_across_loads() {
    // Given a browser loading the page for the first time
    let page = fixture();
    let first = page.send(get("/", PAGE)).await;
    let cookie = first.headers().get(header::SET_COOKIE).and_then(|v| v.to_str().ok()).unwrap_or_default();
    // Then its token cookie is out of scripts' reach and never sent by another site's request
    assert!(cookie.starts_with("sobre_csrf=") && cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"));
    let token = &cookie["sobre_csrf=".len()..cookie.find(';').unwrap_or(cookie.len())];
    assert_eq!(token.len(), 32, "128 bits in hex: {token}");
    // When it loads the page again with that cookie
    let mut again = get("/", PAGE);
    let sent = HeaderValue::from_str(&format!("sobre_csrf={token}")).expect("header");
    again.headers_mut().insert(header::COOKIE, sent);
    let second = page.send(again).await;
    // Then it keeps its token (forms in another tab stay valid)
    let kept = second.headers().get(header::SET_COOKIE).and_then(|v| v.to_str().ok()).unwrap_or_default();
    assert!(kept.starts_with(&format!("sobre_csrf={token};")), "{kept}");
}

#[tokio::test]
async fn a_form_too_large_or_an_id_that_is_no_recommendation_is_refused() {
    // Given a browser with the page's token, posting from the page
    let mut page = fixture();
    let token = page.token().await;
    let cookie = format!("sobre_csrf={token}");
    let headers = [("host", PAGE), ("origin", "http://127.0.0.1:8080"), ("cookie", cookie.as_str())];
    // When the form is far larger than the page's
    let mut large = decision(&headers, Some(&token));
    *large.body_mut() = Body::from(format!("decision=reject&token={token}&note={}", "x".repeat(64 * 1024)));
    // Then it is refused unread
    assert_eq!(page.send(large).await.status(), StatusCode::PAYLOAD_TOO_LARGE);
    // When the id holds what no recommendation id does (a line break would break the redirect)
    let mut odd = decision(&headers, Some(&token));
    *odd.uri_mut() = "/recommendations/rec%0D%0ASet-Cookie:%20x=1".parse().expect("uri");
    // Then it is refused as a bad request
    assert_eq!(page.send(odd).await.status(), StatusCode::BAD_REQUEST);
    assert!(page.decided().is_none());
}

#[test]
fn esc_covers_the_five_characters_markup_gives_meaning_to() {
    assert_eq!(
        esc(r#"<a href='x'>"Tom" & Jerry</a>"#),
        "&lt;a href=&#39;x&#39;&gt;&quot;Tom&quot; &amp; Jerry&lt;/a&gt;"
    );
}

/// A glance whose every name is an attempt at markup.
fn hostile_glance() -> Glance {
    let control = vec![crate::control::controller::ZoneState {
        zone: "<script>alert(1)</script>".into(),
        mode: crate::config::control::Mode::Auto,
        holder: crate::control::controller::Holder::Agent,
        command_c: Some(19.5),
        stood_down: None,
        budget_left_kh: 0.5,
    }];
    let days = (0..3).map(|i| Day { start_ms: i * 86_400_000, metered_kwh: 10.0 + i as f64, baseline: None }).collect();
    Glance {
        site: "gym</code><script>alert(1)</script>".into(),
        name: "École <img src=x onerror=alert(1)>".into(),
        data_through_ms: Some(0),
        energy: vec![EnergyGlance {
            point: HOSTILE_ID.into(),
            fuel: Fuel::Heat,
            days,
            week: None,
            to_date: None,
            baseline: Err("no baseline for <b>you</b>".into()),
        }],
        recommendations: Vec::new(),
        ledger: vec![serde_json::json!({
            "ts": "2025-01-06T08:00:00Z",
            "status": "rejected\" onmouseover=\"alert(1)",
            "by": "<script>alert(1)</script>",
            "note": "'><svg onload=alert(1)>",
            "recommendation": {"title": "<iframe src=//evil.example>"},
        })],
        blocked: vec![crate::advisor::Blocker::zone_model("<script>alert(1)</script>", "<b>you")],
        occupancy: vec![crate::advisor::occupancy::ZoneOccupancy {
            zone: "<script>alert(1)</script>".into(),
            source: crate::advisor::occupancy::OccupancySource::Co2,
            point: Some(HOSTILE_ID.into()),
            confidence: 0.9,
            text: "<img src=x onerror=alert(1)>".into(),
        }],
        points: vec![PointHealth {
            id: HOSTILE_ID.into(),
            kind: PointKind::Energy,
            zone: Some("<script>alert(1)</script>".into()),
            last_seen_ms: None,
            rejected: 0,
            stale: false,
        }],
        control,
    }
}

/// Every way the names above could have become markup.
fn assert_inert(html: &str) {
    for raw in ["\"onload=", "<script", "<img", "<iframe", "<svg onload", "\" onmouseover", "<b>you"] {
        assert!(!html.contains(raw), "{raw} printed unescaped");
    }
}

#[test]
fn a_hostile_point_id_is_escaped_in_the_page_and_its_chart() {
    // Given names that try to close an attribute or open an element (config validation refuses
    // them, but the page must not depend on it)
    let dir = tempfile::tempdir().expect("tempdir");
    let token = Token::mint().expect("randomness");
    // When the page is rendered, chart and tables
    let html = page::render(&hostile_glance(), &settings_in(&dir), &token);
    // Then each name is printed as text, in the chart's attributes as in the tables
    assert_inert(&html);
    assert!(html.contains(r#"data-point="e&quot;onload=&quot;alert(1)""#), "the chart names the point, escaped");
    assert!(html.contains("<td>e&quot;onload=&quot;alert(1)</td>"), "the health table names it, escaped");
    assert!(html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
    // And the chart alone escapes its labels and titles as well
    let svg = chart::daily(HOSTILE_ID, &hostile_glance().energy[0].days, |_| r#"6"><script>x</script>"#.into());
    assert_inert(&svg);
    assert!(svg.contains("<title>6&quot;&gt;&lt;script&gt;x&lt;/script&gt;: 10 kWh metered</title>"), "{svg}");
}

#[test]
fn the_page_shows_each_commanded_zones_control_state() {
    // Given a zone the agent commands at 19.5 °C, a zone it stays off after a setpoint it did not
    // send, and one a person holds
    let dir = tempfile::tempdir().expect("tempdir");
    let mut g = hostile_glance();
    let zone = g.control[0].clone();
    g.control = vec![
        crate::control::controller::ZoneState { zone: "hall".into(), ..zone.clone() },
        crate::control::controller::ZoneState {
            zone: "office".into(),
            holder: crate::control::controller::Holder::Building,
            command_c: None,
            stood_down: Some(crate::control::controller::StandDown::Unexplained),
            ..zone.clone()
        },
        crate::control::controller::ZoneState {
            zone: "class".into(),
            holder: crate::control::controller::Holder::Person,
            command_c: Some(22.0),
            ..zone
        },
    ];
    // When the page is rendered
    let html = page::render(&g, &settings_in(&dir), &Token::mint().expect("randomness"));
    // Then each zone's row says its mode, who holds it, the agent's command and the budget left
    for row in [
        "<tr><td>hall</td><td>auto</td><td>the agent</td><td class=\"n\">19.5 °C</td><td class=\"n\">0.50 K·h</td>",
        "<tr><td>office</td><td>auto</td><td>the building (the agent stays off: a setpoint it did not send)</td><td class=\"n\">—</td>",
        "<tr><td>class</td><td>auto</td><td>a person's override</td><td class=\"n\">22.0 °C</td>",
    ] {
        assert!(html.contains(row), "{row}");
    }
}

#[test]
fn the_style_the_policy_allows_is_the_pages_own() {
    // Given the page and the policy it is served with
    let dir = tempfile::tempdir().expect("tempdir");
    let html = page::render(&hostile_glance(), &settings_in(&dir), &Token::mint().expect("randomness"));
    // Then the one inline style is exactly the one whose hash the policy carries, and nothing
    // else on the page needs an exception: no script, no style attribute
    let style = &html[html.find("<style>").expect("style") + 7..html.find("</style>").expect("end")];
    assert_eq!(style, page::STYLE);
    assert_eq!(html.matches("<style").count(), 1);
    assert!(!html.contains("<script") && !html.contains(" style=") && !html.contains("javascript:"));
}

#[test]
fn the_page_claims_savings_only_on_a_baseline_that_passes_guideline_14() {
    let dir = tempfile::tempdir().expect("tempdir");
    let settings = settings_in(&dir);
    let token = Token::mint().expect("randomness");
    let versus = crate::glance::Versus {
        metered_kwh: 9_000.0,
        baseline_kwh: 10_360.0,
        avoided_kwh: 1_360.0,
        interval90_kwh: 2_996.0,
    };
    let table = [
        // Given a baseline that follows the meter closely, Then the week's saving is claimed
        ("a baseline that passes", crate::baseline::with_scatter(2.0), true),
        // Given one whose scatter is larger than the heating itself, Then it is not
        ("a baseline that fails", crate::baseline::with_scatter(200.0), false),
    ];
    for (given, baseline, claimed) in table {
        assert_eq!(baseline.gate_pass, claimed, "{given}: the fixture's gate");
        let mut g = hostile_glance();
        g.energy[0].week = Some(versus);
        g.energy[0].baseline = Ok(baseline);
        // When the page is rendered
        let html = page::render(&g, &settings, &token);
        // Then the headline claim is there only when the baseline passes, and otherwise the page
        // says why, with the baseline's figures
        assert_eq!(html.contains("avoided 1360 ± 2996 kWh"), claimed, "{given}");
        assert_eq!(
            html.contains("no savings claimed: the baseline fails Guideline 14 (hourly CV(RMSE)"),
            !claimed,
            "{given}"
        );
        assert!(html.contains("metered 9000 kWh"), "{given}: the meter is always shown");
    }
}

#[test]
fn the_page_says_what_stops_the_advisor_and_the_fix() {
    // Given an advisor that found no occupancy source and no meter tagged for the heating
    let dir = tempfile::tempdir().expect("tempdir");
    let mut g = hostile_glance();
    g.blocked = vec![crate::advisor::Blocker::no_occupancy_source(), crate::advisor::Blocker::no_heating_meter()];
    // When the page is rendered
    let html = page::render(&g, &settings_in(&dir), &Token::mint().expect("randomness"));
    // Then each cause is there with its code and its fix, and the page does not say that the
    // advisor merely found nothing
    for b in &g.blocked {
        assert!(html.contains(&esc(&b.text)), "{} in the page", b.code);
        assert!(html.contains(&format!("[{}]", b.code)));
        assert!(html.contains(&format!("Fix: {}", esc(&b.fix))), "{} fix", b.code);
    }
    assert!(!html.contains("found nothing worth changing"));
    // And where each zone's occupancy was read, and how sure the advisor is
    assert!(
        html.contains("When people are in, as the advisor reads it") && html.contains("[co2, 90 % sure]"),
        "{html}"
    );
}

/// The page of a site whose zone "class" (12–22 °C) the agent commands, and control's end of
/// its mailbox.
fn with_control() -> (Router, Requests<crate::control::request::Request>, tempfile::TempDir) {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut settings = crate::control::fixture::site(&dir.path().join("sobre.db"), "auto");
    let page = WebSettings::on(PAGE.parse().expect("an address"));
    settings.web = Some(page.clone());
    let ledger = Ledger::open(&settings.storage.path, &settings.site.id).expect("ledger");
    let (mailbox, control) = crate::mqtt::mailbox::mailbox(8, Rate { per_second: 1e9, burst: 1e9 });
    let web = Web {
        reader: Shared::new(Reader::open(&settings, Shared::new(ledger)).expect("reader")),
        settings: Arc::new(settings),
        stats: Arc::new(Stats::default()),
        decisions: None,
        control: None,
        overrides: Some(Overrides(Arc::new(mailbox))),
    };
    (web.router(Hosts::new(page.listen, &page.hosts)), control, dir)
}

#[tokio::test]
async fn a_persons_override_from_the_page_reaches_control_as_the_override_topic_would() {
    // Given the page of a site with a commanded zone, and a browser holding its token
    let (router, mut control, _dir) = with_control();
    let send = |request: Request<Body>| router.clone().oneshot(request);
    let loaded = send(get("/", PAGE)).await.expect("the page");
    let cookie = loaded.headers().get(header::SET_COOKIE).and_then(|c| c.to_str().ok()).unwrap_or_default().to_string();
    let token =
        cookie.split(';').next().and_then(|p| p.split_once('=')).map(|(_, v)| v.to_string()).unwrap_or_default();
    let form = |zone: &str, body: &str, token: Option<&str>| {
        let mut r = Request::post(format!("/zones/{zone}/override"))
            .header(header::HOST, PAGE)
            .header("origin", format!("http://{PAGE}"))
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded");
        if let Some(t) = token {
            r = r.header(header::COOKIE, format!("sobre_csrf={t}"));
        }
        let body = match token {
            Some(t) => format!("{body}&token={t}"),
            None => body.to_string(),
        };
        r.body(Body::from(body)).expect("request")
    };
    type Case<'a> = (&'a str, &'a str, Option<&'a str>, StatusCode, Option<&'a str>);
    let cases: [Case; 6] = [
        // (zone, form, token, then the answer, and what control receives)
        (
            "class",
            "action=hold&setpoint_c=21.5",
            Some(&token),
            StatusCode::SEE_OTHER,
            Some(r#"{"by":"local page","setpoint_c":21.5}"#),
        ),
        (
            "class",
            "action=hand_back",
            Some(&token),
            StatusCode::SEE_OTHER,
            Some(r#"{"by":"local page","cancel":true}"#),
        ),
        ("class", "action=hold&setpoint_c=21.5", None, StatusCode::FORBIDDEN, None),
        ("class", "action=hold&setpoint_c=NaN", Some(&token), StatusCode::BAD_REQUEST, None),
        ("class", "action=hold", Some(&token), StatusCode::BAD_REQUEST, None),
        ("gym", "action=hold&setpoint_c=21", Some(&token), StatusCode::NOT_FOUND, None),
    ];
    for (zone, body, token, status, received) in cases {
        // When it posts the form
        let answer = send(form(zone, body, token)).await.expect("an answer");
        // Then the page answers so, and control receives the override, or nothing
        assert_eq!(answer.status(), status, "{zone} {body} {token:?}");
        let got = control.try_recv().map(|r| match r.ask {
            crate::control::request::Ask::Override { zone, payload } => {
                (zone, String::from_utf8_lossy(&payload).to_string())
            }
            other => panic!("{other:?}"),
        });
        assert_eq!(got, received.map(|p| (zone.to_string(), p.to_string())), "{zone} {body}");
    }
}

#[test]
fn each_zones_override_form_posts_to_its_own_path_within_its_range_with_the_token() {
    // Given the commanded zone "class" (12–22 °C) and a zone name a hostile config could hold
    let dir = tempfile::tempdir().expect("tempdir");
    let mut settings = crate::control::fixture::site(&dir.path().join("sobre.db"), "auto");
    let token = super::token::Token::mint().expect("a token");
    // When the page writes their forms
    let class = super::page::override_forms("class", &settings, &token);
    settings.control.zones[0].zone = HOSTILE_ID.to_string();
    let hostile = super::page::override_forms(HOSTILE_ID, &settings, &token);
    // Then each posts to its zone's path, within its range, with the page's token
    assert!(class.contains(r#"action="/zones/class/override""#), "{class}");
    assert!(class.contains(r#"min="12""#) && class.contains(r#"max="22""#), "{class}");
    assert_eq!(class.matches(token.as_str()).count(), 2, "{class}");
    // And a name with markup stays one escaped path segment
    assert!(hostile.contains(r#"action="/zones/e%22onload%3D%22alert%281%29/override""#), "{hostile}");
    assert!(!hostile.contains("onload=\""), "{hostile}");
}
