//! The answer to each flexibility request (issue 19: "a flexibility request always gets an
//! answer"), published on `<prefix>/flex/status` as `sobre.flex-status/1`: accepted or updated
//! with what the agent expects to shed and cost, refused with why, cancelled, and ended with what
//! was achieved. The requester reads it where it asked; nothing is dropped in silence.
//!
//! Not retained: an answer belongs to one request, named by its id, and several requests can be
//! answered one after another. A retained message would show a requester who subscribes late the
//! answer to someone else's request as if it were the state of its own; a requester subscribes
//! before it asks (as for any MQTT request/response) and matches the id.

use super::forecast::Forecast;
use super::settle::Settlement;
use crate::clock::iso;
use crate::stats::FLEX_ANSWERS;
use bytes::Bytes;
use serde::Serialize;
use serde_json::json;

pub(crate) const SCHEMA: &str = "sobre.flex-status/1";

/// What became of a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Status {
    Accepted,
    Refused,
    Cancelled,
    Updated,
    Ended,
}

impl Status {
    /// Its place in `stats::FLEX_ANSWERS` (and so its /metrics label).
    pub(crate) fn index(self) -> usize {
        match self {
            Status::Accepted => 0,
            Status::Refused => 1,
            Status::Cancelled => 2,
            Status::Updated => 3,
            Status::Ended => 4,
        }
    }

    pub(crate) fn name(self) -> &'static str {
        FLEX_ANSWERS[self.index()]
    }
}

/// What an accepted event is expected to do, from its forecast, rounded for the requester.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub(crate) struct Expected {
    pub(crate) shed_kw: f64,
    pub(crate) baseline_kw: f64,
    pub(crate) planned_kw: f64,
    pub(crate) discomfort_kh: f64,
    pub(crate) rebound_peak_kw: f64,
    pub(crate) baseline_peak_kw: f64,
}

impl From<&Forecast> for Expected {
    fn from(f: &Forecast) -> Self {
        Self {
            shed_kw: round(f.shed_kw),
            baseline_kw: round(f.baseline_kw),
            planned_kw: round(f.planned_kw),
            discomfort_kh: round(f.discomfort_kh.max(0.0)),
            rebound_peak_kw: round(f.rebound_peak_kw.max(0.0)),
            baseline_peak_kw: round(f.baseline_peak_kw.max(0.0)),
        }
    }
}

/// What an ended event achieved, from its settlement.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub(crate) struct Achieved {
    pub(crate) shed_kw: f64,
    pub(crate) planned_shed_kw: f64,
    pub(crate) discomfort_kh: f64,
    pub(crate) rebound_peak_kw: f64,
    pub(crate) baseline_peak_kw: f64,
    pub(crate) overrides: u64,
    /// Whether the agent commanded it (auto), or only shadowed it.
    pub(crate) commanded: bool,
}

impl Achieved {
    pub(crate) fn of(s: &Settlement, commanded: bool) -> Self {
        Self {
            shed_kw: round(s.achieved_shed_kw),
            planned_shed_kw: round(s.planned_shed_kw),
            discomfort_kh: round(s.discomfort_kh.max(0.0)),
            rebound_peak_kw: round(s.rebound_peak_kw.max(0.0)),
            baseline_peak_kw: round(s.baseline_peak_kw.max(0.0)),
            overrides: s.overrides,
            commanded,
        }
    }
}

/// One answer, before it is addressed to the site's topic.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Answer {
    /// The request's id; `None` when the request was unreadable and had none.
    pub(crate) id: Option<String>,
    pub(crate) status: Status,
    pub(crate) reason: String,
    pub(crate) forecast: Option<Expected>,
    pub(crate) achieved: Option<Achieved>,
    pub(crate) at_ms: i64,
}

impl Answer {
    pub(crate) fn new(id: Option<&str>, status: Status, reason: impl Into<String>, at_ms: i64) -> Self {
        Self { id: id.map(str::to_string), status, reason: reason.into(), forecast: None, achieved: None, at_ms }
    }

    /// The message on `<prefix>/flex/status`.
    pub(crate) fn payload(&self, site: &str) -> Bytes {
        json!({
            "schema": SCHEMA,
            "site": site,
            "id": self.id,
            "status": self.status.name(),
            "reason": self.reason,
            "forecast": self.forecast,
            "achieved": self.achieved,
            "at": iso(self.at_ms),
        })
        .to_string()
        .into()
    }
}

/// The id a request names, if it is readable and valid, so that a refusal can name it too.
pub(crate) fn id_of(payload: &[u8]) -> Option<String> {
    #[derive(serde::Deserialize)]
    struct Named {
        id: String,
    }
    let named: Named = serde_json::from_slice(payload).ok()?;
    super::event::is_id(&named.id).then_some(named.id)
}

fn round(v: f64) -> f64 {
    (v * 1000.0).round() / 1000.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_status_is_named_as_metrics_label_it() {
        let all = [Status::Accepted, Status::Refused, Status::Cancelled, Status::Updated, Status::Ended];
        let names: Vec<&str> = all.iter().map(|s| s.name()).collect();
        assert_eq!(names, ["accepted", "refused", "cancelled", "updated", "ended"]);
    }

    #[test]
    fn a_refusal_names_the_request_when_it_can_read_its_id() {
        let cases: [(&str, &[u8], Option<&str>); 4] = [
            ("a whole request", br#"{"id":"e1","kind":"shed"}"#, Some("e1")),
            ("an id with a slash", br#"{"id":"a/b"}"#, None),
            ("not JSON", b"shed now", None),
            ("a number for an id", br#"{"id":7}"#, None),
        ];
        for (case, payload, then) in cases {
            assert_eq!(id_of(payload).as_deref(), then, "{case}");
        }
    }

    #[test]
    fn an_answer_says_its_status_reason_and_time_with_null_figures_when_it_has_none() {
        let answer = Answer::new(Some("e1"), Status::Refused, "no outdoor temperature yet", 0);
        let body: serde_json::Value = serde_json::from_slice(&answer.payload("s")).expect("JSON");
        assert_eq!(
            body,
            json!({"schema": SCHEMA, "site": "s", "id": "e1", "status": "refused",
                   "reason": "no outdoor temperature yet", "forecast": null, "achieved": null,
                   "at": "1970-01-01T00:00:00Z"})
        );
    }
}
