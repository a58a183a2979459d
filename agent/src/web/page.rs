//! The page a facility manager opens: one server-rendered HTML document with inline SVG and
//! inline CSS, no script, so it works offline on the building's network and prints as shown.

use super::token::Token;
use super::{chart, esc};
use crate::advisor::ledger::Status;
use crate::advisor::Recommendation;
use crate::config::Settings;
use crate::glance::{local_time, Glance, Versus};
use std::fmt::Write;

/// Inline, and allowed by its hash in the page's Content-Security-Policy (`headers`).
pub(super) const STYLE: &str = "body{font-family:system-ui,sans-serif;margin:0 auto;max-width:1100px;padding:1em 1.5em;color:#222}
h1{margin-bottom:.1em}h2{border-bottom:2px solid #3182bd;padding-bottom:.2em;margin-top:1.6em}
table{border-collapse:collapse;width:100%;font-size:.92em}td,th{border-bottom:1px solid #ddd;padding:.3em .5em;text-align:left;vertical-align:top}
td.n,th.n{text-align:right;font-variant-numeric:tabular-nums}.muted{color:#666}.bad{color:#b30000}.good{color:#1a7f37}
.cards{display:flex;flex-wrap:wrap;gap:1em}.card{border:1px solid #ccc;border-radius:6px;padding:.6em 1em;min-width:16em}
.card b{font-size:1.5em}.rec{border:1px solid #ccc;border-radius:6px;padding:.6em 1em;margin:.8em 0}
.rec h3{margin:.2em 0}.status{display:inline-block;border-radius:4px;padding:0 .4em;background:#eee;font-size:.85em}
.status.proposed{background:#fff3cd}.status.accepted,.status.applied{background:#d1f0d8}.status.rejected{background:#f8d7da}
form{display:inline}button{margin-right:.4em}svg.chart{width:100%;height:auto;max-width:760px}";

/// The page, its forms carrying `token` (the one in the browser's cookie).
pub fn render(g: &Glance, settings: &Settings, token: &Token) -> String {
    let mut html = String::with_capacity(64 * 1024);
    let through = g.data_through_ms.map(|t| local_time(settings, t)).unwrap_or_else(|| "no data yet".into());
    let _ = write!(
        html,
        r#"<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1"><title>sobre · {name}</title><style>{STYLE}</style></head><body>
<h1>{name}</h1><p class="muted">site <code>{site}</code> · data through {through} (site time) · sobre {version}</p>"#,
        name = esc(&g.name),
        site = esc(&g.site),
        through = esc(&through),
        version = env!("CARGO_PKG_VERSION"),
    );
    glance(&mut html, g, settings);
    recommendations(&mut html, g, token);
    control(&mut html, g, settings, token);
    ledger(&mut html, g, settings);
    models(&mut html, g);
    points(&mut html, g, settings);
    html.push_str(r#"<p class="muted">Metrics for Prometheus: <a href="/metrics">/metrics</a>.</p></body></html>"#);
    html
}

fn versus(v: &Versus) -> String {
    format!(
        "metered {:.0} kWh, baseline {:.0} kWh: {} {:.0} ± {:.0} kWh (90 %)",
        v.metered_kwh,
        v.baseline_kwh,
        if v.avoided_kwh >= 0.0 { "avoided" } else { "over by" },
        v.avoided_kwh.abs(),
        v.interval90_kwh
    )
}

fn glance(html: &mut String, g: &Glance, settings: &Settings) {
    html.push_str("<h2 id=\"glance\">The building at a glance</h2><div class=\"cards\">");
    if let Some((kwh, half)) = g.savings_to_date() {
        let _ = write!(
            html,
            r#"<div class="card">Energy avoided since the baseline period<br><b>{kwh:.0} ± {half:.0} kWh</b><br><span class="muted">90 % interval, measured against the weather-normalised baseline</span></div>"#
        );
    }
    let open = g.open_recommendations();
    let per_year: f64 = open.iter().map(|c| crate::glance::kwh_per_year(c)).sum();
    let _ = write!(
        html,
        r#"<div class="card">Open recommendations<br><b>{}</b><br><span class="muted">together about {per_year:.0} kWh a year</span></div></div>"#,
        open.len()
    );
    for e in &g.energy {
        let _ = write!(html, "<h3>{} <span class=\"muted\">({})</span></h3>", esc(&e.point), esc(e.fuel.name()));
        match (&e.week, &e.baseline) {
            // Metered against a baseline that fails its gate is no claim: only the meter is.
            (Some(w), Ok(b)) if !b.gate_pass => {
                let _ = write!(
                    html,
                    "<p>This week: metered {:.0} kWh; {}.</p>",
                    w.metered_kwh,
                    esc(&crate::glance::no_claim(b))
                );
            }
            (Some(w), _) => {
                let _ = write!(html, "<p>This week: {}.</p>", versus(w));
            }
            (None, Err(why)) => {
                let week: f64 = e.days.iter().rev().take(7).map(|d| d.metered_kwh).sum();
                let _ = write!(html, "<p>This week: metered {week:.0} kWh; no baseline to compare: {}.</p>", esc(why));
            }
            (None, Ok(_)) => html.push_str("<p>This week: no complete hours yet.</p>"),
        }
        match (&e.to_date, &e.baseline) {
            (Some(t), _) => {
                let _ = write!(html, "<p>Since the baseline period: {}.</p>", versus(t));
            }
            (None, Ok(b)) if !b.gate_pass => {
                let _ = write!(html, "<p>Since the baseline period: {}.</p>", esc(&crate::glance::no_claim(b)));
            }
            _ => {}
        }
        html.push_str(&chart::daily(&e.point, &e.days, |ms| {
            local_time(settings, ms).get(5..10).unwrap_or_default().to_string()
        }));
    }
}

fn recommendations(html: &mut String, g: &Glance, token: &Token) {
    html.push_str("<h2 id=\"recommendations\">Recommendations</h2>");
    let shown: Vec<_> = g.recommendations.iter().filter(|c| c.status != Status::Expired).collect();
    if shown.is_empty() && g.blocked.is_empty() {
        html.push_str("<p>None at the moment: the advisor has found nothing worth changing, or has not run yet.</p>");
    }
    blocked(html, g);
    occupancy(html, g);
    for c in shown {
        let Ok(r) = serde_json::from_value::<Recommendation>(c.recommendation.clone()) else { continue };
        let s = &r.savings;
        let _ = write!(
            html,
            r#"<div class="rec" id="{id}"><h3>{title} <span class="status {status}">{status}</span></h3>
<p><b>{kwh:.0} ± {unc:.0} kWh a year</b> (90 %), {eur:.0} € and {co2:.0} kg CO₂ a year; {pct:.1} % of the energy it applies to. Confidence {level} (data coverage {cov:.0} %).</p>
<p>Change: <b>{change}</b>{zones}</p><p>Comfort: {comfort}</p><ul>"#,
            id = esc(&r.id),
            title = esc(&r.title),
            status = esc(c.status.name()),
            kwh = s.kwh_per_year,
            unc = s.kwh_per_year_uncertainty,
            eur = s.eur_per_year,
            co2 = s.kg_co2_per_year,
            pct = s.percent,
            level = esc(r.confidence.level.name()),
            cov = 100.0 * r.confidence.coverage,
            change = esc(&r.setting.describe()),
            zones = if r.zones.is_empty() { String::new() } else { format!(" in {}", esc(&r.zones.join(", "))) },
            comfort = esc(&r.comfort.text),
        );
        for reason in &r.reasons {
            let _ = write!(html, "<li>{} <span class=\"muted\">[{}]</span></li>", esc(&reason.text), esc(&reason.code));
        }
        html.push_str("</ul><p class=\"muted\">Evidence: ");
        let evidence: Vec<String> =
            r.evidence.iter().map(|f| format!("{} {:.2} {}", esc(&f.name), f.value, esc(&f.unit))).collect();
        html.push_str(&evidence.join(" · "));
        let _ = write!(
            html,
            ". Model <code>{}</code>: {} days, CV(RMSE) {:.1} %, NMBE {:.1} %, R² {:.2}.</p>",
            esc(&r.model.id),
            r.model.days,
            100.0 * r.model.cv_rmse,
            100.0 * r.model.nmbe,
            r.model.r2
        );
        if c.status == Status::Proposed {
            let _ = write!(
                html,
                r#"<form method="post" action="/recommendations/{id}"><input type="hidden" name="token" value="{token}"><input type="hidden" name="decision" value="accept"><button>Accept</button></form><form method="post" action="/recommendations/{id}"><input type="hidden" name="token" value="{token}"><input type="hidden" name="decision" value="reject"><button>Reject</button></form>"#,
                id = esc(&r.id),
                token = esc(token.as_str())
            );
        }
        html.push_str("</div>");
    }
}

/// What stopped the advisor's latest run, each cause with its fix.
fn blocked(html: &mut String, g: &Glance) {
    if g.blocked.is_empty() {
        return;
    }
    html.push_str("<div class=\"rec\" id=\"blocked\"><h3>What the advisor cannot do, and why</h3><ul>");
    for b in &g.blocked {
        let _ = write!(html, "<li>{} <span class=\"muted\">[{}]</span>", esc(&b.text), esc(&b.code));
        if !b.fix.is_empty() {
            let _ = write!(html, "<br>Fix: {}", esc(&b.fix));
        }
        html.push_str("</li>");
    }
    html.push_str("</ul></div>");
}

/// Where the advisor's latest run read when people are in, zone by zone, and how sure it is.
fn occupancy(html: &mut String, g: &Glance) {
    if g.occupancy.is_empty() {
        return;
    }
    html.push_str("<div class=\"rec\" id=\"occupancy\"><h3>When people are in, as the advisor reads it</h3><ul>");
    for z in &g.occupancy {
        let _ = write!(
            html,
            "<li>{}: {} <span class=\"muted\">[{}, {:.0} % sure]</span></li>",
            esc(&z.zone),
            esc(&z.text),
            esc(z.source.name()),
            100.0 * z.confidence
        );
    }
    html.push_str("</ul></div>");
}

/// Each commanded zone: the mode, who holds its setpoint, the agent's command, the budget left.
fn control(html: &mut String, g: &Glance, settings: &Settings, token: &Token) {
    if g.control.is_empty() {
        return;
    }
    html.push_str("<h2 id=\"control\">Control</h2><table><tr><th>zone</th><th>mode</th><th>held by</th><th class=\"n\">agent's command</th><th class=\"n\">comfort budget left</th><th>a person's override</th></tr>");
    for z in &g.control {
        let mode = match z.mode {
            crate::config::control::Mode::Advise => "advise",
            crate::config::control::Mode::Shadow => "shadow",
            crate::config::control::Mode::Auto => "auto",
        };
        let holder = match (z.holder, z.stood_down) {
            (_, Some(crate::control::controller::StandDown::Unexplained)) => {
                "the building (the agent stays off: a setpoint it did not send)"
            }
            (_, Some(crate::control::controller::StandDown::Watchdog)) => {
                "the building (the agent stays off: below comfort while occupied)"
            }
            (crate::control::controller::Holder::Building, None) => "the building's programme",
            (crate::control::controller::Holder::Agent, None) => "the agent",
            (crate::control::controller::Holder::Person, None) => "a person's override",
        };
        let command = z.command_c.map_or_else(|| "—".to_string(), |c| format!("{c:.1} °C"));
        let _ = write!(
            html,
            "<tr><td>{}</td><td>{mode}</td><td>{holder}</td><td class=\"n\">{command}</td><td class=\"n\">{:.2} K·h</td><td>{}</td></tr>",
            esc(&z.zone),
            z.budget_left_kh,
            override_forms(&z.zone, settings, token)
        );
    }
    html.push_str("</table>");
}

/// Hold the zone at a setpoint within its range until the programme's next change, or hand it
/// back: what `<prefix>/override/<zone>` takes, sent by the page (see `web::hold`).
pub(super) fn override_forms(zone: &str, settings: &Settings, token: &Token) -> String {
    let Some(bounds) = settings.control.zones.iter().find(|z| z.zone == zone).map(|z| z.bounds) else {
        return String::new();
    };
    let (action, token) = (format!("/zones/{}/override", percent_path(zone)), esc(token.as_str()));
    format!(
        r#"<form method="post" action="{action}"><input type="hidden" name="token" value="{token}"><input type="number" name="setpoint_c" min="{min}" max="{max}" step="0.5" required aria-label="setpoint °C"><button name="action" value="hold">Hold</button></form><form method="post" action="{action}"><input type="hidden" name="token" value="{token}"><button name="action" value="hand_back">Hand back</button></form>"#,
        min = bounds.min_c(),
        max = bounds.max_c(),
    )
}

/// A zone name as one path segment: unreserved characters kept, every other byte escaped.
fn percent_path(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

fn ledger(html: &mut String, g: &Glance, settings: &Settings) {
    html.push_str("<h2 id=\"ledger\">Decision ledger</h2><table><tr><th>time</th><th>recommendation</th><th>status</th><th>by</th><th>note</th></tr>");
    for r in g.ledger.iter().rev() {
        let text = |key: &str| esc(r[key].as_str().unwrap_or_default());
        let time = chrono::DateTime::parse_from_rfc3339(r["ts"].as_str().unwrap_or_default())
            .map(|t| local_time(settings, t.timestamp_millis()))
            .unwrap_or_default();
        let _ = write!(
            html,
            "<tr><td>{}</td><td>{}</td><td><span class=\"status {s}\">{s}</span></td><td>{}</td><td>{}</td></tr>",
            esc(&time),
            esc(r["recommendation"]["title"].as_str().unwrap_or_default()),
            text("by"),
            text("note"),
            s = text("status"),
        );
    }
    html.push_str("</table>");
}

fn models(html: &mut String, g: &Glance) {
    html.push_str("<h2 id=\"models\">Model quality</h2><table><tr><th>baseline</th><th class=\"n\">hours</th><th class=\"n\">CV(RMSE)</th><th class=\"n\">NMBE</th><th class=\"n\">R²</th><th>ASHRAE Guideline 14 (hourly)</th></tr>");
    for e in &g.energy {
        match &e.baseline {
            Ok(b) => {
                let m = &b.metrics;
                let _ = write!(
                    html,
                    "<tr><td>{}</td><td class=\"n\">{}</td><td class=\"n\">{:.1} %</td><td class=\"n\">{:.1} %</td><td class=\"n\">{:.2}</td><td>{}</td></tr>",
                    esc(&e.point),
                    m.n,
                    100.0 * m.cv_rmse,
                    100.0 * m.nmbe,
                    m.r2,
                    if b.gate_pass { "<span class=\"good\">passes: savings claimed</span>" } else { "<span class=\"bad\">fails: metered only, no claim</span>" }
                );
            }
            Err(why) => {
                let _ = write!(
                    html,
                    "<tr><td>{}</td><td colspan=\"5\" class=\"muted\">{}</td></tr>",
                    esc(&e.point),
                    esc(why)
                );
            }
        }
    }
    html.push_str("</table>");
}

fn points(html: &mut String, g: &Glance, settings: &Settings) {
    html.push_str("<h2 id=\"points\">Data health</h2><table><tr><th>point</th><th>kind</th><th>zone</th><th>last seen</th><th class=\"n\">rejected</th><th>state</th></tr>");
    for p in &g.points {
        let _ = write!(
            html,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td class=\"n\">{}</td><td>{}</td></tr>",
            esc(&p.id),
            esc(p.kind.name()),
            esc(p.zone.as_deref().unwrap_or("")),
            esc(&p.last_seen_ms.map(|t| local_time(settings, t)).unwrap_or_else(|| "never".into())),
            p.rejected,
            if p.stale { "<span class=\"bad\">silent</span>" } else { "<span class=\"good\">reporting</span>" }
        );
    }
    html.push_str("</table>");
}
