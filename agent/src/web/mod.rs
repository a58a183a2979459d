//! The local page and `/metrics`, served by axum on the gateway. Loopback by default: the page
//! takes accept and reject without a login, so listening on the building's network is the
//! operator's explicit choice (`[web] listen`).
//!
//! `GET /` the page · `GET /metrics` Prometheus text · `POST /recommendations/<id>` a decision
//! (form fields `decision` = accept | reject and the page's `token`), handed to the advisor as
//! the same typed `DecisionRequest` a message on MQTT becomes, through the same mailbox ·
//! `POST /zones/<zone>/override` a person's override (`action` = hold with `setpoint_c`, or
//! hand_back), handed to control as the request `<prefix>/override/<zone>` becomes.
//!
//! What it refuses, and where: a `Host` it is not served under, on every route (`hosts`); a
//! decision not sent from the page itself or without the page's token (`guard`, `token`);
//! connections beyond its limits (`serve`). Every answer carries the security headers
//! (`headers`), and every value is escaped where it is printed ([`esc`]).
//!
//! Layer: the page (see `crate::layers`): reads through glance, decides through the advisor's
//! typed mailbox; uses every layer below, and nothing uses it but the daemon.

mod chart;
mod guard;
mod headers;
mod hosts;
mod metrics;
mod page;
mod serve;
mod token;

pub use crate::config::authority::Authority;
pub use hosts::Hosts;

use crate::advisor::decision::{Decision, DecisionRequest, Verdict};
use crate::config::{Settings, WebSettings};
use crate::glance::{GlanceError, Reader};
use crate::mqtt::mailbox::{Mailbox, Offer};
use crate::shared::Shared;
use crate::stats::Stats;
use axum::extract::{DefaultBodyLimit, Form, Path, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{middleware, Extension, Router};
use hosts::Page;
use serde::Deserialize;
use std::sync::Arc;
use token::Token;
use tokio_util::sync::CancellationToken;

/// A decision's form is a few short fields; anything much larger did not come from the page.
const MAX_FORM_BYTES: usize = 4 * 1024;

#[derive(Debug, Clone)]
pub struct Web {
    pub settings: Arc<Settings>,
    pub reader: Shared<Reader>,
    pub stats: Arc<Stats>,
    /// The advisor's control channel; `None` where no advisor runs (the demo's `--serve`).
    pub decisions: Option<Arc<Mailbox<DecisionRequest>>>,
    /// Each commanded zone's control state, as control last said; `None` without control.
    pub control: Option<tokio::sync::watch::Receiver<Vec<crate::control::controller::ZoneState>>>,
    /// Control's mailbox, where a person's override from the page goes; `None` without control.
    pub overrides: Option<Overrides>,
}

/// Control's end for overrides (the daemon's; the demo's page has none).
#[derive(Debug, Clone)]
pub struct Overrides(pub(crate) Arc<Mailbox<crate::control::request::Request>>);

impl Web {
    /// The routes behind their guards, for a page reached under `hosts`.
    pub fn router(self, hosts: Hosts) -> Router {
        Router::new()
            .route("/", get(index))
            .route("/metrics", get(metrics_text))
            .route("/recommendations/:id", post(decide))
            .route("/zones/:zone/override", post(hold))
            .layer(DefaultBodyLimit::max(MAX_FORM_BYTES))
            .with_state(self)
            .layer(middleware::from_fn_with_state(Arc::new(hosts), hosts::check))
            .layer(middleware::from_fn(headers::secure))
    }

    /// Serves on `listener` within `page`'s names and limits until `cancel`; an error is logged
    /// here and ends only the page.
    pub async fn serve(self, listener: tokio::net::TcpListener, page: WebSettings, cancel: CancellationToken) {
        let addr = match listener.local_addr() {
            Ok(addr) => addr,
            Err(e) => {
                tracing::error!(error = %e, "the local page has no address; it stops");
                return;
            }
        };
        tracing::info!(%addr, "local page at http://{addr}/");
        let router = self.router(Hosts::new(addr, &page.hosts));
        serve::serve(listener, router, &page, cancel).await;
    }
}

async fn index(State(web): State<Web>, headers: HeaderMap) -> Response {
    let token = match Token::from_cookie(&headers).map_or_else(Token::mint, Ok) {
        Ok(token) => token,
        Err(e) => {
            tracing::error!(error = %e, "the local page cannot make its form token");
            return (StatusCode::INTERNAL_SERVER_ERROR, format!("cannot make the page's form token: {e}"))
                .into_response();
        }
    };
    let settings = web.settings.clone();
    let glance = web.reader.try_with(move |r| r.glance(&settings)).await;
    match glance {
        Ok(mut g) => {
            g.control = web.control.as_ref().map(|c| c.borrow().clone()).unwrap_or_default();
            ([(header::SET_COOKIE, token.cookie())], Html(page::render(&g, &web.settings, &token))).into_response()
        }
        Err(e) => failed(&e),
    }
}

async fn metrics_text(State(web): State<Web>) -> Response {
    let counts = web.reader.try_with(|r| r.recommendations()).await;
    match counts {
        Ok(state) => {
            let body = metrics::render(&web.stats.snapshot(), &state, web.stats.control_actions());
            ([(header::CONTENT_TYPE, metrics::CONTENT_TYPE)], body).into_response()
        }
        Err(e) => failed(&e),
    }
}

fn failed(e: &GlanceError) -> Response {
    tracing::warn!(error = %e, "the local page cannot read the store");
    (StatusCode::SERVICE_UNAVAILABLE, format!("cannot read the store: {e}")).into_response()
}

#[derive(Debug, Deserialize)]
struct DecisionForm {
    decision: String,
    by: Option<String>,
    note: Option<String>,
    /// The page's CSRF token, written into each of its forms.
    token: Option<String>,
}

/// What the advisor names a recommendation with; nothing else is a topic level or a fragment.
fn is_recommendation_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 128
        && id.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | ':'))
}

async fn decide(
    State(web): State<Web>,
    Extension(Page(page)): Extension<Page>,
    Path(id): Path<String>,
    headers: HeaderMap,
    Form(form): Form<DecisionForm>,
) -> Response {
    if let Err(refused) = guard::from_this_page(&headers, &page, form.token.as_deref()) {
        return refused.into_response();
    }
    let Some(decisions) = &web.decisions else {
        return (StatusCode::SERVICE_UNAVAILABLE, "decisions are taken while the agent runs").into_response();
    };
    if !matches!(form.decision.as_str(), "accept" | "reject") || !is_recommendation_id(&id) {
        return (StatusCode::BAD_REQUEST, "send decision=accept or decision=reject for a recommendation id")
            .into_response();
    }
    let verdict = if form.decision == "accept" { Verdict::Accept } else { Verdict::Reject };
    let by = form.by.filter(|b| !b.trim().is_empty()).unwrap_or_else(|| "local page".into());
    let request = DecisionRequest {
        subject: id.clone(),
        decision: Decision { decision: verdict, by: Some(by), note: form.note },
        via: "local page".into(),
    };
    answer(decisions.offer(request), &format!("/#{id}"), "decisions", "the advisor")
}

/// What the page answers once a form's request is offered to the task that takes it: back to
/// the page (at `back`), or why not.
fn answer(offer: Offer, back: &str, what: &str, taker: &str) -> Response {
    match offer {
        Offer::Queued | Offer::Repeated => Redirect::to(back).into_response(),
        Offer::OverRate | Offer::Full => {
            (StatusCode::TOO_MANY_REQUESTS, format!("too many {what} at once; try again in a minute")).into_response()
        }
        Offer::Closed => (StatusCode::SERVICE_UNAVAILABLE, format!("{taker} has stopped")).into_response(),
        // Built here from the form's checked fields: nothing left to parse.
        Offer::Malformed => (StatusCode::BAD_REQUEST, format!("not one of the {what}")).into_response(),
    }
}

#[derive(Debug, Deserialize)]
struct OverrideForm {
    action: String,
    setpoint_c: Option<String>,
    /// The page's CSRF token.
    token: Option<String>,
}

/// A person's override from the page: the same request a message on `<prefix>/override/<zone>`
/// becomes, so control clamps it to the zone's range, records it and lets it outrank the agent.
async fn hold(
    State(web): State<Web>,
    Extension(Page(page)): Extension<Page>,
    Path(zone): Path<String>,
    headers: HeaderMap,
    Form(form): Form<OverrideForm>,
) -> Response {
    if let Err(refused) = guard::from_this_page(&headers, &page, form.token.as_deref()) {
        return refused.into_response();
    }
    let Some(Overrides(control)) = &web.overrides else {
        return (StatusCode::SERVICE_UNAVAILABLE, "overrides are taken while control runs").into_response();
    };
    if !web.settings.control.zones.iter().any(|z| z.zone == zone) {
        return (StatusCode::NOT_FOUND, "no zone the agent commands has that name").into_response();
    }
    let setpoint =
        form.setpoint_c.as_deref().map(str::trim).and_then(|v| v.parse::<f64>().ok()).filter(|v| v.is_finite());
    let payload = match (form.action.as_str(), setpoint) {
        ("hold", Some(setpoint_c)) => serde_json::json!({ "setpoint_c": setpoint_c, "by": "local page" }),
        ("hand_back", _) => serde_json::json!({ "cancel": true, "by": "local page" }),
        _ => {
            return (StatusCode::BAD_REQUEST, "send action=hold with a setpoint_c in °C, or action=hand_back")
                .into_response()
        }
    };
    let request = crate::control::request::Request {
        ask: crate::control::request::Ask::Override { zone, payload: payload.to_string().into() },
        via: "local page".into(),
    };
    answer(control.offer(request), "/#control", "overrides", "control")
}

/// Escapes text for HTML and SVG element content and for quoted attributes (either quote), the
/// only places the page prints a value.
pub fn esc(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests;
