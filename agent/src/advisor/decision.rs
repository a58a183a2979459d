//! A facility manager's accept or reject of a recommendation, as it arrives on
//! `<prefix>/recommendations/<id>/set` (the local page sends the same).

use serde::Deserialize;

/// What a facility manager sends to decide on a recommendation.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Decision {
    pub decision: Verdict,
    pub by: Option<String>,
    pub note: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    Accept,
    Reject,
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error(r#"{0}; send {{"decision": "accept" | "reject", "by": "…", "note": "…"}}"#)]
pub struct DecisionError(String);

pub fn parse_decision(payload: &[u8]) -> Result<Decision, DecisionError> {
    serde_json::from_slice(payload).map_err(|e| DecisionError(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_decision_is_accept_or_reject_with_who_and_why() {
        // Given what the local page and a facility manager's client send
        let page = br#"{"decision":"accept","by":"local page","note":null}"#;
        let refused: [&[u8]; 3] =
            [br#"{"decision":"maybe"}"#, br#"{"by":"me"}"#, br#"{"decision":"accept","urgent":1}"#];
        // When parsed, Then the page's is an accept by the page, and the others say what to send
        assert_eq!(
            parse_decision(page),
            Ok(Decision { decision: Verdict::Accept, by: Some("local page".into()), note: None })
        );
        for payload in refused {
            let e = parse_decision(payload).expect_err("refused");
            assert!(e.to_string().contains(r#""accept" | "reject""#), "{e}");
        }
    }
}
