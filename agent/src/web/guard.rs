//! What a form's request (a decision for the advisor, a person's override for control) must
//! show before it goes on: that the browser sent it from this page (same origin), and that it
//! carries the token this page gave that browser (CSRF). Both fail closed: a request that says
//! nothing of where it comes from is refused.

use super::token::Token;
use crate::config::authority::Authority;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};

#[derive(Debug, thiserror::Error)]
pub enum Refused {
    #[error("decisions are taken on this page only: the request names no Origin or Referer")]
    Unnamed,
    #[error("decisions are taken on this page only (http://{page}), not from {sent}")]
    Elsewhere { page: Authority, sent: String },
    #[error("this page's form has expired or did not come from it: reload the page and decide again")]
    NoToken,
}

impl IntoResponse for Refused {
    fn into_response(self) -> Response {
        tracing::warn!(why = %self, "a decision refused");
        (StatusCode::FORBIDDEN, self.to_string()).into_response()
    }
}

/// Sent from this page, with its token: both checks below.
pub fn from_this_page(headers: &HeaderMap, page: &Authority, token: Option<&str>) -> Result<(), Refused> {
    same_origin(headers, page).and_then(|()| same_token(headers, token))
}

/// `Origin`, or where a browser sends none, `Referer`, must be exactly `http://<page>`: the
/// page's scheme, host and port as the browser reached it.
fn same_origin(headers: &HeaderMap, page: &Authority) -> Result<(), Refused> {
    let named = |name| headers.get(name).map(|v| v.to_str().unwrap_or("(not text)"));
    let sent = named(header::ORIGIN).or_else(|| named(header::REFERER)).ok_or(Refused::Unnamed)?;
    match Authority::of_http_url(sent) {
        Some(origin) if origin == *page => Ok(()),
        _ => Err(Refused::Elsewhere { page: page.clone(), sent: sent.chars().take(200).collect() }),
    }
}

/// The form's `token` field must be the token in the browser's cookie.
fn same_token(headers: &HeaderMap, sent: Option<&str>) -> Result<(), Refused> {
    match (Token::from_cookie(headers), sent) {
        (Some(token), Some(sent)) if token.matches(sent) => Ok(()),
        _ => Err(Refused::NoToken),
    }
}
