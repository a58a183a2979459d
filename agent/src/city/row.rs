//! One message off the city's broker → the rows it becomes: a report (typed columns and the JSON
//! kept) and, for savings, its typed savings row; or a refusal with its reason. Pure: no I/O,
//! so every path a hostile or broken message can take is a unit test.

use super::schema;
use chrono::{DateTime, Utc};
use serde_json::Value;

/// A report the sink stores.
#[derive(Debug, Clone, PartialEq)]
pub struct ReportRow {
    pub id: String,
    pub site: String,
    pub kind: String,
    pub schema: String,
    /// None for a register entry, which has no period.
    pub period: Option<(DateTime<Utc>, DateTime<Utc>)>,
    pub agent_version: String,
    pub body: Value,
    pub savings: Option<SavingsRow>,
}

/// The figures a dashboard sums, out of a `sobre.savings/1` report.
#[derive(Debug, Clone, PartialEq)]
pub struct SavingsRow {
    pub point: String,
    pub fuel: String,
    pub resolution: String,
    pub metered_kwh: f64,
    pub baseline_kwh: f64,
    pub avoided_kwh: f64,
    pub interval68_kwh: f64,
    pub interval90_kwh: f64,
    pub eur: f64,
    pub kg_co2: f64,
    pub claim: bool,
    pub model_name: String,
    pub gl14_pass: bool,
}

/// Why a message was not stored as a report.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reason {
    Oversize,
    NotJson,
    UnknownSchema,
    Schema,
    /// The topic is not `<prefix>/<site>/reports/<kind>`, or names another site or kind than
    /// the report does (one site publishing as another).
    Topic,
    /// A valid report from a site the city's `sites` table does not list (decided at write
    /// time, against the database).
    UnknownSite,
}

impl Reason {
    /// The `refused.reason` column.
    pub fn code(self) -> &'static str {
        match self {
            Reason::Oversize => "oversize",
            Reason::NotJson => "not-json",
            Reason::UnknownSchema => "unknown-schema",
            Reason::Schema => "schema",
            Reason::Topic => "topic",
            Reason::UnknownSite => "unknown-site",
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Refusal {
    pub reason: Reason,
    /// In a sentence, with the values that broke the contract.
    pub detail: String,
    /// The site the topic names, when it names one.
    pub site: Option<String>,
    pub bytes: usize,
    /// Kept for a person to look at, unless it was too large to read.
    pub payload: Option<Vec<u8>>,
}

impl Refusal {
    /// The WARN line every refusal gets, where it is decided (mapping, or the write).
    pub fn log(&self, topic: &str) {
        tracing::warn!(topic, reason = self.reason.code(), detail = self.detail, "refused a report");
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum Verdict {
    Store(Box<ReportRow>),
    Refuse(Refusal),
}

/// What `payload`, arrived on `topic`, becomes. `prefix` is the agents' uplink prefix.
pub fn map(prefix: &str, topic: &str, payload: &[u8], max_bytes: usize) -> Verdict {
    let addressed = address(prefix, topic);
    let refuse = |reason, detail: String, keep: bool| {
        Verdict::Refuse(Refusal {
            reason,
            detail,
            site: addressed.map(|(site, _)| site.to_string()),
            bytes: payload.len(),
            payload: keep.then(|| payload.to_vec()),
        })
    };
    if payload.len() > max_bytes {
        return refuse(
            Reason::Oversize,
            format!("{} bytes, over sink.max_report_bytes = {max_bytes}", payload.len()),
            false,
        );
    }
    let body: Value = match serde_json::from_slice(payload) {
        Ok(v) => v,
        Err(e) => return refuse(Reason::NotJson, format!("not JSON: {e}"), true),
    };
    let Some(schema_id) = body.get("schema").and_then(Value::as_str) else {
        return refuse(Reason::UnknownSchema, "no \"schema\" string: not a sobre report".to_string(), true);
    };
    let Some(schema) = schema::report_schema(schema_id) else {
        let shown: String = schema_id.chars().take(80).collect();
        return refuse(Reason::UnknownSchema, format!("schema {shown:?} is not a report schema this sink knows"), true);
    };
    if let Err(breach) = schema::check(schema, &body) {
        return refuse(Reason::Schema, format!("breaks {schema_id}: {breach}"), true);
    }
    // The schema guarantees these fields' presence and types.
    let text = |key: &str| body.get(key).and_then(Value::as_str).unwrap_or_default().to_string();
    let (site, kind) = (text("site"), text("kind"));
    match addressed {
        Some((topic_site, topic_kind)) if topic_site == site && topic_kind == kind => {}
        _ => {
            return refuse(
                Reason::Topic,
                format!(
                    "a {kind} report of site {site:?} on topic {topic:?} (expected {prefix}/{site}/reports/{kind})"
                ),
                true,
            )
        }
    }
    let period = match (instant(&body["period"]["start"]), instant(&body["period"]["end"])) {
        (Some(start), Some(end)) => Some((start, end)),
        _ => None,
    };
    let savings = (schema_id == "sobre.savings/1").then(|| savings_of(&body));
    Verdict::Store(Box::new(ReportRow {
        id: text("id"),
        site,
        kind,
        schema: schema_id.to_string(),
        period,
        agent_version: text("agent_version"),
        savings,
        body,
    }))
}

/// The site and kind a topic names: `<prefix>/<site>/reports/<kind>`.
fn address<'t>(prefix: &str, topic: &'t str) -> Option<(&'t str, &'t str)> {
    let rest = topic.strip_prefix(prefix)?.strip_prefix('/')?;
    let mut levels = rest.split('/');
    match (levels.next(), levels.next(), levels.next(), levels.next()) {
        (Some(site), Some("reports"), Some(kind), None) if !site.is_empty() && !kind.is_empty() => Some((site, kind)),
        _ => None,
    }
}

fn instant(value: &Value) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(value.as_str()?).ok().map(|t| t.with_timezone(&Utc))
}

/// A savings report's figures; the schema has checked every one is there with its type.
fn savings_of(body: &Value) -> SavingsRow {
    let number = |key: &str| body.get(key).and_then(Value::as_f64).unwrap_or_default();
    let text = |v: &Value| v.as_str().unwrap_or_default().to_string();
    SavingsRow {
        point: text(&body["point"]),
        fuel: text(&body["fuel"]),
        resolution: text(&body["resolution"]),
        metered_kwh: number("metered_kwh"),
        baseline_kwh: number("baseline_kwh"),
        avoided_kwh: number("avoided_kwh"),
        interval68_kwh: number("interval68_kwh"),
        interval90_kwh: number("interval90_kwh"),
        eur: number("eur"),
        kg_co2: number("kg_co2"),
        claim: body["claim"].as_bool().unwrap_or(false),
        model_name: text(&body["model"]["name"]),
        gl14_pass: body["model"]["gl14_pass"].as_bool().unwrap_or(false),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A real monthly savings report, as the demo's school published it.
    pub const SAVINGS: &str = include_str!("testdata/savings-monthly.json");
    /// A real register entry: no period.
    pub const REGISTER: &str = include_str!("testdata/register.json");

    const MAX: usize = 64 * 1024;

    fn stored(topic: &str, payload: &str) -> ReportRow {
        match map("city", topic, payload.as_bytes(), MAX) {
            Verdict::Store(row) => *row,
            Verdict::Refuse(r) => panic!("refused: {r:?}"),
        }
    }

    fn refused(topic: &str, payload: &[u8]) -> Refusal {
        match map("city", topic, payload, MAX) {
            Verdict::Refuse(r) => r,
            Verdict::Store(row) => panic!("stored: {}", row.id),
        }
    }

    #[test]
    fn a_savings_report_becomes_a_report_row_and_a_savings_row() {
        let row = stored("city/ecole-demo/reports/savings-monthly", SAVINGS);
        assert_eq!(row.id, "ecole-demo/savings-monthly/heating_energy/2019-02-10T23:00:00Z");
        assert_eq!((row.site.as_str(), row.kind.as_str()), ("ecole-demo", "savings-monthly"));
        assert_eq!(row.schema, "sobre.savings/1");
        let (start, end) = row.period.expect("a period");
        assert_eq!(
            (start.to_rfc3339(), end.to_rfc3339()),
            ("2019-02-10T23:00:00+00:00".into(), "2019-02-28T23:00:00+00:00".into())
        );
        let s = row.savings.expect("a savings row");
        assert_eq!(
            (s.point.as_str(), s.fuel.as_str(), s.resolution.as_str()),
            ("heating_energy", "electricity", "1mo")
        );
        assert_eq!(s.avoided_kwh, 128.81673292115693);
        assert_eq!(s.interval90_kwh, 30.675168915560263);
        assert!(s.claim && s.gl14_pass);
        assert_eq!(s.model_name, "baseline-hourly");
        assert_eq!(row.body, serde_json::from_str::<Value>(SAVINGS).expect("JSON"), "the JSON is kept whole");
    }

    #[test]
    fn a_register_entry_has_no_period_and_no_savings() {
        let row = stored("city/ecole-demo/reports/register", REGISTER);
        assert_eq!(row.kind, "register");
        assert_eq!(row.period, None);
        assert_eq!(row.savings, None);
    }

    #[test]
    fn what_is_refused_says_why() {
        let topic = "city/ecole-demo/reports/savings-monthly";
        let mut extra: Value = serde_json::from_str(SAVINGS).expect("JSON");
        extra["person"] = Value::from("Jane");
        let mut wrong_type: Value = serde_json::from_str(SAVINGS).expect("JSON");
        wrong_type["avoided_kwh"] = Value::from("lots");
        let cases: Vec<(&str, Vec<u8>, Reason, &str)> = vec![
            (topic, vec![b'x'; MAX + 1], Reason::Oversize, "65537 bytes, over sink.max_report_bytes = 65536"),
            (topic, b"{\"schema\":".to_vec(), Reason::NotJson, "not JSON"),
            (topic, b"[1,2]".to_vec(), Reason::UnknownSchema, "no \"schema\""),
            (
                topic,
                br#"{"schema":"sobre.status/1"}"#.to_vec(),
                Reason::UnknownSchema,
                "\"sobre.status/1\" is not a report schema",
            ),
            (topic, extra.to_string().into_bytes(), Reason::Schema, "$: \"person\" is not in the schema"),
            (topic, wrong_type.to_string().into_bytes(), Reason::Schema, "$.avoided_kwh: expected [\"number\"]"),
            (
                "city/another-site/reports/savings-monthly",
                SAVINGS.as_bytes().to_vec(),
                Reason::Topic,
                "site \"ecole-demo\"",
            ),
            (
                "city/ecole-demo/reports/health",
                SAVINGS.as_bytes().to_vec(),
                Reason::Topic,
                "expected city/ecole-demo/reports/savings-monthly",
            ),
            ("city/ecole-demo/savings-monthly", SAVINGS.as_bytes().to_vec(), Reason::Topic, "on topic"),
        ];
        for (topic, payload, reason, says) in cases {
            let r = refused(topic, &payload);
            assert_eq!(r.reason, reason, "{topic}: {}", r.detail);
            assert!(r.detail.contains(says), "{topic}: {:?} should say {says:?}", r.detail);
            assert_eq!(r.bytes, payload.len());
            assert_eq!(r.payload.is_some(), reason != Reason::Oversize, "an oversize payload is not kept");
        }
        assert_eq!(refused("city/ecole-demo/reports/x", b"nope").site.as_deref(), Some("ecole-demo"));
        assert_eq!(refused("elsewhere/x", b"nope").site, None);
    }

    #[test]
    fn topics_name_a_site_and_a_kind_under_a_prefix_of_any_depth() {
        assert_eq!(address("city", "city/s1/reports/health"), Some(("s1", "health")));
        assert_eq!(address("metro/fr", "metro/fr/s1/reports/flex"), Some(("s1", "flex")));
        for topic in
            ["city/s1/reports", "city/s1/reports/a/b", "cityx/s1/reports/a", "city//reports/a", "city/s1/other/a"]
        {
            assert_eq!(address("city", topic), None, "{topic}");
        }
    }
}
