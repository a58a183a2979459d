//! The names the page answers to. A browser sends the name it was given in `Host`; a page from
//! another site that re-points its own name at the gateway (DNS rebinding) is then same-origin
//! with it in the browser's eyes, and could read the page or post decisions. Only the `Host`
//! says so, on every route, `/metrics` included.

use crate::config::authority::{Authority, HTTP_PORT};
use axum::extract::{Request, State};
use axum::http::{header, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use std::net::SocketAddr;
use std::sync::Arc;

#[derive(Debug, Clone)]
pub struct Hosts {
    names: Vec<Authority>,
    /// Listening on every address: the address a connection reached names the page too (an IP
    /// literal is what the browser was given, so it cannot have been re-pointed).
    any_address: bool,
}

/// The local address a connection reached, put on its requests by the accept loop.
#[derive(Debug, Clone, Copy)]
pub struct Reached(pub SocketAddr);

/// The page's own authority as this request's browser sees it: its `Host`, once allowed.
#[derive(Debug, Clone)]
pub struct Page(pub Authority);

impl Hosts {
    /// The page on `listen` (the address it is bound to, its port resolved), under its address,
    /// `localhost` when on loopback or on every address, and the operator's `configured` names.
    pub fn new(listen: SocketAddr, configured: &[Authority]) -> Self {
        let mut names = vec![Authority::of(listen)];
        let any_address = listen.ip().is_unspecified();
        if listen.ip().is_loopback() || any_address {
            names.push(Authority::localhost(listen.port()));
        }
        names.extend(configured.iter().cloned());
        Self { names, any_address }
    }

    pub fn allows(&self, host: &Authority, reached: Option<Reached>) -> bool {
        self.names.contains(host)
            || (self.any_address && reached.is_some_and(|Reached(addr)| Authority::of(addr) == *host))
    }
}

/// Refuses a request that names no host (400) or another than the page's (421, "misdirected"),
/// before any route sees it.
pub async fn check(State(hosts): State<Arc<Hosts>>, mut request: Request, next: Next) -> Response {
    let named = request.headers().get(header::HOST).and_then(|v| v.to_str().ok());
    let Some(host) = named.and_then(|h| Authority::parse(h, HTTP_PORT)) else {
        return (StatusCode::BAD_REQUEST, "name the page in the Host header, as a browser does").into_response();
    };
    let reached = request.extensions().get::<Reached>().copied();
    if !hosts.allows(&host, reached) {
        tracing::debug!(%host, "a request for another host refused");
        let why = format!(
            "this page is not served under the name {host}; an operator who reaches it under that name lists it in [web] hosts"
        );
        return (StatusCode::MISDIRECTED_REQUEST, why).into_response();
    }
    request.extensions_mut().insert(Page(host));
    next.run(request).await
}
