//! One inline SVG chart: daily metered energy against the baseline and its 90 % band. Plain
//! SVG, so the page needs no script and prints as it shows.

use super::esc;
use crate::glance::Day;
use std::fmt::Write;

const WIDTH: f64 = 760.0;
const HEIGHT: f64 = 240.0;
const LEFT: f64 = 52.0;
const RIGHT: f64 = 12.0;
const TOP: f64 = 14.0;
const BOTTOM: f64 = 34.0;

/// `label(day)` names a day on the axis. The point's id and the labels are escaped like any
/// value on the page: inline SVG is parsed as HTML is.
pub fn daily(point: &str, days: &[Day], label: impl Fn(i64) -> String) -> String {
    let label = |ms| esc(&label(ms));
    let point = esc(point);
    let mut svg = String::new();
    let _ = write!(
        svg,
        r#"<svg class="chart" data-point="{point}" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" aria-label="daily energy of {point}: metered against baseline">"#
    );
    if days.is_empty() {
        let _ = write!(svg, r#"<text x="{LEFT}" y="{}">no complete day yet</text></svg>"#, HEIGHT / 2.0);
        return svg;
    }
    let top =
        days.iter().map(|d| d.metered_kwh.max(d.baseline.map_or(0.0, |(b, h)| b + h))).fold(0.0_f64, f64::max).max(1.0)
            * 1.08;
    let n = days.len().max(2) - 1;
    let x = |i: usize| LEFT + (WIDTH - LEFT - RIGHT) * i as f64 / n as f64;
    let y = |kwh: f64| TOP + (HEIGHT - TOP - BOTTOM) * (1.0 - kwh.max(0.0) / top);
    for k in 0..=4 {
        let v = top * f64::from(k) / 4.0;
        let _ = write!(
            svg,
            r##"<line x1="{LEFT}" x2="{}" y1="{y:.1}" y2="{y:.1}" stroke="#ddd"/><text x="{}" y="{:.1}" font-size="11" text-anchor="end">{v:.0}</text>"##,
            WIDTH - RIGHT,
            LEFT - 6.0,
            y(v) + 4.0,
            y = y(v),
        );
    }
    let _ = write!(svg, r#"<text x="4" y="{TOP}" font-size="11">kWh</text>"#);
    let band: Vec<(usize, f64, f64)> =
        days.iter().enumerate().filter_map(|(i, d)| d.baseline.map(|(b, h)| (i, b, h))).collect();
    if !band.is_empty() {
        let upper = band.iter().map(|(i, b, h)| format!("{:.1},{:.1}", x(*i), y(b + h)));
        let lower = band.iter().rev().map(|(i, b, h)| format!("{:.1},{:.1}", x(*i), y(b - h)));
        let _ = write!(
            svg,
            r##"<polygon class="band" points="{}" fill="#9ecae1" fill-opacity="0.45" stroke="none"><title>baseline, 90 % interval</title></polygon>"##,
            upper.chain(lower).collect::<Vec<_>>().join(" ")
        );
        let line = band.iter().map(|(i, b, _)| format!("{:.1},{:.1}", x(*i), y(*b)));
        let _ = write!(
            svg,
            r##"<polyline class="baseline" points="{}" fill="none" stroke="#3182bd" stroke-width="2" stroke-dasharray="5 3"/>"##,
            line.collect::<Vec<_>>().join(" ")
        );
    }
    let metered = days.iter().enumerate().map(|(i, d)| format!("{:.1},{:.1}", x(i), y(d.metered_kwh)));
    let _ = write!(
        svg,
        r##"<polyline class="metered" points="{}" fill="none" stroke="#d95f0e" stroke-width="2"/>"##,
        metered.collect::<Vec<_>>().join(" ")
    );
    for (i, d) in days.iter().enumerate() {
        let _ = write!(
            svg,
            r##"<circle cx="{:.1}" cy="{:.1}" r="2.5" fill="#d95f0e"><title>{}: {:.0} kWh metered{}</title></circle>"##,
            x(i),
            y(d.metered_kwh),
            label(d.start_ms),
            d.metered_kwh,
            d.baseline.map(|(b, h)| format!(", baseline {b:.0} ± {h:.0}")).unwrap_or_default()
        );
    }
    let ticks = [0, days.len() / 2, days.len() - 1];
    for i in ticks {
        let anchor = if i == 0 {
            "start"
        } else if i + 1 == days.len() {
            "end"
        } else {
            "middle"
        };
        let _ = write!(
            svg,
            r#"<text x="{:.1}" y="{}" font-size="11" text-anchor="{anchor}">{}</text>"#,
            x(i),
            HEIGHT - BOTTOM + 16.0,
            label(days[i].start_ms)
        );
    }
    let _ = write!(
        svg,
        r##"<g font-size="11"><rect x="{LEFT}" y="{ly}" width="14" height="3" fill="#d95f0e"/><text x="{}" y="{}">metered</text><rect x="{}" y="{ly}" width="14" height="8" fill="#9ecae1"/><text x="{}" y="{}">baseline and its 90 % interval</text></g></svg>"##,
        LEFT + 18.0,
        HEIGHT - 4.0,
        LEFT + 90.0,
        LEFT + 108.0,
        HEIGHT - 4.0,
        ly = HEIGHT - 12.0,
    );
    svg
}
