//! The page's CSRF token, double-submitted: the page sets it in a cookie and writes the same
//! value into each of its forms; a decision is taken only when the two agree.
//!
//! Stateless on purpose: the agent keeps no session table a flood of page loads could grow
//! (the unit has 64 MiB), and a restart does not void the forms on an open page. Another site
//! can make a browser post the cookie (not with SameSite=Strict, but defence in depth) but can
//! neither read it (HttpOnly, and not its origin) nor read the page to copy the form's value.
//! What double-submit does not stop, a cookie planted by someone on the path of plain HTTP, the
//! same-origin check before it still does.

use axum::http::{header, HeaderMap, HeaderValue};
use ring::rand::{SecureRandom, SystemRandom};
use std::fmt::Write;

pub const COOKIE: &str = "sobre_csrf";
/// 128 bits, written as hex.
const BYTES: usize = 16;

#[derive(Debug, thiserror::Error)]
#[error("the system's random source failed")]
pub struct NoRandomness;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Token(String);

impl Token {
    /// A new token from the operating system's random source.
    pub fn mint() -> Result<Self, NoRandomness> {
        let mut bytes = [0u8; BYTES];
        SystemRandom::new().fill(&mut bytes).map_err(|_| NoRandomness)?;
        let mut hex = String::with_capacity(2 * BYTES);
        for b in bytes {
            let _ = write!(hex, "{b:02x}");
        }
        Ok(Self(hex))
    }

    /// The token a browser sent back in its cookie, if it is one this page could have minted.
    /// Reused rather than replaced, so two tabs (or two agents on one machine) keep working.
    pub fn from_cookie(headers: &HeaderMap) -> Option<Self> {
        headers
            .get_all(header::COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|line| line.split(';'))
            .filter_map(|pair| pair.trim().split_once('='))
            .find(|(name, _)| *name == COOKIE)
            .map(|(_, value)| value)
            .filter(|value| value.len() == 2 * BYTES && value.bytes().all(|b| b.is_ascii_hexdigit()))
            .map(|value| Self(value.to_ascii_lowercase()))
    }

    /// `Set-Cookie`: for this page's scripts none (HttpOnly), for other sites' requests never
    /// (SameSite=Strict), gone with the browser session.
    pub fn cookie(&self) -> HeaderValue {
        let text = format!("{COOKIE}={}; Path=/; HttpOnly; SameSite=Strict", self.0);
        HeaderValue::from_str(&text).unwrap_or_else(|_| HeaderValue::from_static("sobre_csrf=; Path=/"))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Whether `sent` (a form's field) is this token; in time independent of where they differ,
    /// so the comparison tells a guesser nothing.
    pub fn matches(&self, sent: &str) -> bool {
        let (a, b) = (self.0.as_bytes(), sent.as_bytes());
        a.len() == b.len() && a.iter().zip(b).fold(0u8, |diff, (x, y)| diff | (x ^ y)) == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_minted_token_comes_back_from_its_cookie_and_matches_only_itself() {
        // Given two tokens minted one after the other
        let (token, other) = (Token::mint().expect("randomness"), Token::mint().expect("randomness"));
        assert_ne!(token, other, "128 random bits");
        // When a browser sends the first back among other cookies
        let mut headers = HeaderMap::new();
        let cookie = format!("theme=dark; {COOKIE}={}; lang=fr", token.as_str());
        headers.insert(header::COOKIE, HeaderValue::from_str(&cookie).expect("header"));
        // Then it is read back, and matches its own value only
        let back = Token::from_cookie(&headers).expect("the token");
        assert!(back.matches(token.as_str()));
        assert!(!back.matches(other.as_str()) && !back.matches("") && !back.matches(&token.as_str()[1..]));
        let set = token.cookie();
        let set = set.to_str().expect("ascii");
        assert!(set.contains("HttpOnly") && set.contains("SameSite=Strict"), "{set}");
    }

    #[test]
    fn a_cookie_this_page_could_not_have_minted_is_no_token() {
        for value in ["", "abc", "zz0011223344556677889900aabbccdd", "0011223344556677889900aabbccdd\"x"] {
            let mut headers = HeaderMap::new();
            let cookie = format!("{COOKIE}={value}");
            headers.insert(header::COOKIE, HeaderValue::from_str(&cookie).expect("header"));
            assert_eq!(Token::from_cookie(&headers), None, "{value:?}");
        }
    }
}
