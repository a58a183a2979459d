//! `sobre.health/1`: what the agent saw and how its pipeline is doing, per period.

use super::{build, envelope, Reporter};
use crate::store::Activity;
use crate::uplink::outbox::{Priority, Report};
use serde_json::json;

pub const SCHEMA: &str = "sobre.health/1";

pub fn report(
    r: &Reporter,
    period: (i64, i64),
    activity: Activity,
    depth: (u64, u64),
    drops: &[(String, u64)],
) -> Report {
    let s = &r.settings;
    let id = format!("{}/health/{}", s.site.id, super::iso(period.0));
    let stats = r.stats.snapshot();
    let mut body = envelope(s, SCHEMA, "health", &id, period);
    body["points"] = json!({ "configured": s.points.len(), "seen": activity.points_seen });
    body["readings"] = json!(activity.readings);
    body["rejections_total"] = json!(activity.rejections_total);
    body["outbox"] = json!({
        "rows": depth.0,
        "bytes": depth.1,
        "dropped": drops.iter().map(|(kind, n)| (kind.clone(), json!(n))).collect::<serde_json::Map<_, _>>(),
    });
    body["uptime_s"] = json!((r.clock.wall_ms() - r.started_ms).max(0) / 1000);
    body["pipeline"] = json!({
        "messages": stats.messages,
        "stored": stats.stored,
        "rejected": stats.rejected,
        "lost": stats.lost,
        "uplink_connections": stats.uplink_connections,
    });
    build(s, &r.prefix, "health", Priority::Low, id, body, r.clock.now_ms())
}
