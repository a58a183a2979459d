//! The local page and `/metrics`, served by axum on the gateway. Loopback by default: the page
//! takes accept and reject without a login, so listening on the building's network is the
//! operator's explicit choice (`[web] listen`).
//!
//! `GET /` the page · `GET /metrics` Prometheus text · `POST /recommendations/<id>` a decision
//! (form field `decision` = accept | reject), handed to the advisor exactly as if it had come
//! over MQTT, so both paths record the same way.

mod authority;
mod chart;
mod metrics;
mod page;

pub use authority::Authority;

use crate::config::Settings;
use crate::glance::{GlanceError, Reader};
use crate::mqtt::Inbound;
use crate::shared::Shared;
use crate::stats::Stats;
use axum::extract::{Form, Path, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::Router;
use serde::Deserialize;
use std::sync::Arc;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

#[derive(Debug, Clone)]
pub struct Web {
    pub settings: Arc<Settings>,
    pub reader: Shared<Reader>,
    pub stats: Arc<Stats>,
    /// The advisor's control channel; `None` where no advisor runs (the demo's `--serve`).
    pub decisions: Option<mpsc::Sender<Inbound>>,
}

impl Web {
    pub fn router(self) -> Router {
        Router::new()
            .route("/", get(index))
            .route("/metrics", get(metrics_text))
            .route("/recommendations/:id", post(decide))
            .with_state(self)
    }

    /// Serves on `listener` until `cancel`; an error is logged here and ends only the page.
    pub async fn serve(self, listener: tokio::net::TcpListener, cancel: CancellationToken) {
        if let Ok(addr) = listener.local_addr() {
            tracing::info!(%addr, "local page at http://{addr}/");
        }
        let served = axum::serve(listener, self.router()).with_graceful_shutdown(cancel.cancelled_owned()).await;
        if let Err(e) = served {
            tracing::error!(error = %e, "the local page stopped");
        }
    }
}

async fn index(State(web): State<Web>) -> Response {
    let settings = web.settings.clone();
    let glance = web.reader.try_with(move |r| r.glance(&settings)).await;
    match glance {
        Ok(g) => Html(page::render(&g, &web.settings)).into_response(),
        Err(e) => failed(&e),
    }
}

async fn metrics_text(State(web): State<Web>) -> Response {
    let counts = web.reader.try_with(|r| r.ledger.current().map_err(GlanceError::from)).await;
    match counts {
        Ok(current) => {
            let body = metrics::render(&web.stats.snapshot(), &current);
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
}

/// A browser names the page a form was sent from in `Origin`; a decision must come from this
/// page, not from another site the facility manager's browser has open (cross-site request).
fn same_origin(headers: &HeaderMap) -> bool {
    let header = |name| headers.get(name).and_then(|v| v.to_str().ok());
    match (header(header::ORIGIN), header(header::HOST)) {
        (None, _) => true,
        (Some(origin), Some(host)) => origin.split_once("://").is_some_and(|(_, authority)| authority == host),
        (Some(_), None) => false,
    }
}

async fn decide(
    State(web): State<Web>,
    Path(id): Path<String>,
    headers: HeaderMap,
    Form(form): Form<DecisionForm>,
) -> Response {
    if !same_origin(&headers) {
        return (StatusCode::FORBIDDEN, "decisions are taken on this page only").into_response();
    }
    let Some(decisions) = &web.decisions else {
        return (StatusCode::SERVICE_UNAVAILABLE, "decisions are taken while the agent runs").into_response();
    };
    if !matches!(form.decision.as_str(), "accept" | "reject") || id.contains(['/', '+', '#']) {
        return (StatusCode::BAD_REQUEST, "send decision=accept or decision=reject for a recommendation id")
            .into_response();
    }
    let payload = serde_json::json!({
        "decision": form.decision,
        "by": form.by.filter(|b| !b.trim().is_empty()).unwrap_or_else(|| "local page".into()),
        "note": form.note,
    });
    let message = Inbound {
        topic: format!("{}/recommendations/{id}/set", web.settings.agent.topic_prefix),
        payload: payload.to_string().into(),
        received_ms: chrono::Utc::now().timestamp_millis(),
    };
    match decisions.send(message).await {
        Ok(()) => Redirect::to(&format!("/#{id}")).into_response(),
        Err(_) => (StatusCode::SERVICE_UNAVAILABLE, "the advisor has stopped").into_response(),
    }
}

/// Escapes text for HTML element content and quoted attributes.
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
