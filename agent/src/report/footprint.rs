//! `sobre.footprint/1`: the agent's own cost, next to what it is there to save. CPU time and
//! peak memory of the process since it started (Linux `/proc`; absent elsewhere), and the
//! energy that CPU time took at the configured power of one busy core; beside it, the energy
//! the measured savings avoided over the period (Guideline 14 baselines only).

use super::{build, envelope, Reporter};
use crate::uplink::outbox::{Priority, Report};
use serde_json::json;

pub const SCHEMA: &str = "sobre.footprint/1";
/// Clock ticks per second of `/proc/<pid>/stat` times: 100 on every Linux we target.
const TICKS_PER_SECOND: f64 = 100.0;

/// User plus system CPU seconds of this process.
fn cpu_seconds() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // Fields after the command name (which may hold spaces) start at state, field 3.
    let rest = &stat[stat.rfind(')')? + 2..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let utime: f64 = fields.get(11)?.parse().ok()?;
    let stime: f64 = fields.get(12)?.parse().ok()?;
    Some((utime + stime) / TICKS_PER_SECOND)
}

/// Peak resident memory, MiB.
fn peak_rss_mib() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib / 1024.0)
}

/// `saved_kwh`: what the agent's measured savings avoided over the same period, if known.
pub fn report(r: &Reporter, period: (i64, i64), saved_kwh: Option<f64>) -> Report {
    let s = &r.settings;
    let id = format!("{}/footprint/{}", s.site.id, super::iso(period.0));
    let cpu = cpu_seconds();
    let mut body = envelope(s, SCHEMA, "footprint", &id, period);
    body["process"] = json!({
        "cpu_seconds": cpu,
        "peak_rss_mib": peak_rss_mib(),
        "estimated_wh": cpu.map(|c| c * s.reports.watts_per_core / 3600.0),
        "watts_per_core": s.reports.watts_per_core,
        "since": super::iso(r.started_ms),
    });
    body["saved_kwh"] = json!(saved_kwh);
    build(s, &r.prefix, "footprint", Priority::Low, id, body, r.clock.now_ms())
}
