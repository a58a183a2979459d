//! The headers every answer carries, refusals included. The page is server-rendered HTML with
//! inline SVG and one inline `<style>`, and no script: the policy allows that style by its hash
//! and nothing else, so markup that ever slipped past escaping could run no script, load
//! nothing and send no form elsewhere.

use super::page::STYLE;
use axum::extract::Request;
use axum::http::{header, HeaderMap, HeaderName, HeaderValue};
use axum::middleware::Next;
use axum::response::Response;
use ring::digest::{digest, SHA256};
use std::sync::LazyLock;

static POLICY: LazyLock<HeaderValue> = LazyLock::new(|| {
    let style = base64(digest(&SHA256, STYLE.as_bytes()).as_ref());
    let policy = format!(
        "default-src 'none'; style-src 'sha256-{style}'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
    );
    HeaderValue::from_str(&policy).unwrap_or_else(|_| HeaderValue::from_static("default-src 'none'"))
});

pub async fn secure(request: Request, next: Next) -> Response {
    let mut response = next.run(request).await;
    add(response.headers_mut());
    response
}

/// For the answers the accept loop gives itself, outside the router.
pub fn add(headers: &mut HeaderMap) {
    let fixed: [(HeaderName, &'static str); 4] = [
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        // For browsers that predate `frame-ancestors`: no other site may frame the buttons.
        (header::X_FRAME_OPTIONS, "DENY"),
        // The page's own forms still say where they come from (the same-origin check needs it).
        (header::REFERRER_POLICY, "same-origin"),
        // Counts and decisions change under the page: a stored copy would show stale buttons.
        (header::CACHE_CONTROL, "no-store"),
    ];
    for (name, value) in fixed {
        headers.insert(name, HeaderValue::from_static(value));
    }
    headers.insert(header::CONTENT_SECURITY_POLICY, POLICY.clone());
}

/// Standard base64 with padding (RFC 4648 §4), as CSP writes a hash.
fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let n = chunk.iter().enumerate().fold(0u32, |n, (i, b)| n | u32::from(*b) << (16 - 8 * i));
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(char::from(ALPHABET[(n >> (18 - 6 * i) & 63) as usize]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::base64;

    #[test]
    fn base64_as_rfc_4648_writes_it() {
        for (bytes, text) in [("", ""), ("f", "Zg=="), ("fo", "Zm8="), ("foo", "Zm9v"), ("foobar", "Zm9vYmFy")] {
            assert_eq!(base64(bytes.as_bytes()), text);
        }
    }
}
