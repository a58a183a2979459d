//! A facility manager's accept or reject of a recommendation, as it arrives on
//! `<prefix>/recommendations/<id>/set` (the local page sends the same).

use crate::mqtt::mailbox::Request;
use crate::mqtt::Inbound;
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

/// A decision on one recommendation, however it came: the advisor takes only this.
#[derive(Debug, Clone, PartialEq)]
pub struct DecisionRequest {
    /// The recommendation's id.
    pub subject: String,
    pub decision: Decision,
    /// The topic it came on, or the local page: its rate is its own.
    pub via: String,
}

impl Request for DecisionRequest {
    fn channel(&self) -> &str {
        &self.via
    }

    fn repeats(&self, waiting: &Self) -> bool {
        self.subject == waiting.subject && self.decision == waiting.decision
    }
}

/// `<prefix>/recommendations/<id>/set` and its payload, as the link routes it.
pub fn decision_request(prefix: &str, message: &Inbound) -> Result<DecisionRequest, DecisionError> {
    let subject = message
        .topic
        .strip_prefix(prefix)
        .and_then(|t| t.strip_prefix("/recommendations/"))
        .and_then(|t| t.strip_suffix("/set"))
        .filter(|s| !s.is_empty() && !s.contains('/'))
        .ok_or_else(|| DecisionError(format!("{} is not a recommendation's topic", message.topic)))?;
    Ok(DecisionRequest {
        subject: subject.to_string(),
        decision: parse_decision(&message.payload)?,
        via: message.topic.clone(),
    })
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

    #[test]
    fn a_decision_names_its_recommendation_in_the_topic() {
        let message = |topic: &str| Inbound {
            topic: topic.into(),
            payload: br#"{"decision":"reject"}"#.to_vec().into(),
            received_ms: 0,
            ack: None,
        };
        // Given a message on a recommendation's topic, When routed, Then it names that recommendation
        let request = decision_request("site", &message("site/recommendations/night_setback-a/set")).expect("taken");
        assert_eq!(request.subject, "night_setback-a");
        assert_eq!(request.decision.decision, Verdict::Reject);
        // Given topics that name no single recommendation, Then each is refused
        for topic in ["site/recommendations//set", "site/recommendations/a/b/set", "other/recommendations/a/set"] {
            assert!(decision_request("site", &message(topic)).is_err(), "{topic}");
        }
    }
}
