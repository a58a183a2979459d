//! `sobre check`: what a valid configuration describes, for the integrator to read over.

use sobre_agent::config::Settings;
use std::fmt::Write;
use std::path::Path;

pub fn summary(path: &Path, s: &Settings) -> String {
    let mut out = String::new();
    let b = &s.broker;
    let r = &s.storage.retention;
    let _ = writeln!(out, "{} is valid.", path.display());
    let _ = writeln!(
        out,
        "broker    {}:{} as {}, TLS {}, {}",
        b.host,
        b.port,
        b.client_id,
        if b.tls.is_some() { "on" } else { "off" },
        if b.credentials.is_some() { "with credentials" } else { "anonymous" }
    );
    let _ = writeln!(out, "status    {}/status (retained, last will offline)", s.agent.topic_prefix);
    let _ = writeln!(out, "clock     {:?}", s.agent.clock);
    let _ = writeln!(
        out,
        "storage   {}: commit every {} or {} records; keep raw {}, 15m {}, 1h {}, 1d {}, 1mo {}; \
         decisions {}, control log {} (the latest per subject always), delivered report ids {}",
        s.storage.path.display(),
        s.storage.commit_interval,
        s.storage.batch_max,
        r.raw,
        r.quarter_hour,
        r.hourly,
        r.daily,
        r.monthly,
        r.decisions,
        r.control_log,
        r.delivered
    );
    out.push_str(&sobre_agent::inventory::render(s));
    out
}
