//! The demo's control part: what the agent does to the school once it may pilot it, in closed
//! loop with the emulator. A winter month with every recommendation accepted, and a two-hour
//! shed asked by the grid during lessons.

use chrono::{NaiveDate, TimeZone};
use sobre_agent::advisor::{self, programme::Programme};
use sobre_agent::config::Settings;
use sobre_agent::sim::{trial, Climate, SimSettings};
use sobre_agent::store::Store;
use std::fmt::Write as _;

pub fn render(
    store: &Store,
    settings: &Settings,
    school: &SimSettings,
    advice: &advisor::Advice,
) -> anyhow::Result<String> {
    let mut out = String::new();
    let history = advisor::read(store, settings, (advice.from_ms, advice.to_ms))?;
    let Some(programme) = Programme::read(&history) else {
        let _ = writeln!(out, "\nControl: no programme read, nothing to pilot");
        return Ok(out);
    };
    let control = &settings.control;
    let (tz, comfort) = (settings.site.timezone, settings.comfort.min_c);
    let accepted = advice.recommendations.iter().map(|r| r.setting.clone());
    let tuned = control.schedule(programme.clone(), accepted, tz, comfort, advice.to_ms);
    let own = control.schedule(programme, Vec::new(), tz, comfort, advice.to_ms);
    let december = NaiveDate::from_ymd_opt(2019, 12, 2).ok_or_else(|| anyhow::anyhow!("no such day"))?;
    if school.climate != Climate::Cambridge2019 {
        let _ = writeln!(
            out,
            "\nControl trials: none on {} (they run on December 2019, weeks the demo never saw; the office's weather\n  \
             covers only the weeks it ran)",
            school.name
        );
        return Ok(out);
    }
    let learned = trial::Learned { zone_models: &advice.zone_models, kw_per_demand: advice.kw_per_demand };
    let m = trial::month(school, control, &tuned, learned, december, 28)?;
    let _ = writeln!(
        out,
        "\nControl, in closed loop with the emulator (BOPTEST's KPIs; the emulator's truth measures):\n  \
         every recommendation accepted and applied as schedules ({} of them), December 2019 (4 weeks it never saw):\n     \
         heating {:.0} → {:.0} kWh (−{:.1} %), discomfort {:.2} K·h per zone and week (worst zone {:.2}; under its own programme {:.2}),\n     \
         {} commands, {} occupant overrides, peak {:.1} kW, compute {:.1e} of each step",
        tuned.applied().len(),
        m.baseline_kwh,
        m.controlled_kwh,
        m.saving_percent,
        m.discomfort_kh_per_zone_week,
        m.worst_zone_kh_per_week,
        m.baseline_worst_zone_kh_per_week,
        m.commands,
        m.occupant_overrides,
        m.kpis.peak_kw,
        m.kpis.compute_ratio,
    );
    let p = &m.predicted;
    let _ = writeln!(
        out,
        "     shadow mode, said each midnight from the zone models: {:.0} kWh on the programme (metered {:.0}), {:.0} kWh on the\n     \
         schedule (metered under control {:.0}): a saving of {:.0} kWh predicted, {:.0} measured, over {} whole days",
        p.programme_kwh,
        p.metered_programme_kwh,
        p.schedule_kwh,
        p.metered_schedule_kwh,
        p.programme_kwh - p.schedule_kwh,
        p.metered_programme_kwh - p.metered_schedule_kwh,
        p.days,
    );
    let at = |h| {
        let local = december.succ_opt().and_then(|d| d.and_hms_opt(h, 0, 0));
        local.and_then(|l| school.timezone.from_local_datetime(&l).single()).map(|t| t.timestamp_millis())
    };
    let (Some(start), Some(end)) = (at(9), at(11)) else { return Ok(out) };
    let t = trial::shed(school, control, &own, learned, december, (start, end))?;
    let _ = writeln!(
        out,
        "  a full shed asked for Tuesday 3 December 09:00–11:00 (lessons), on the school's own programme:\n     \
         heat pump {:.1} → {:.1} kW during the event (−{:.0} %), pre-heat 2 h before, recovery staggered over the zones;\n     \
         rebound peak {:.1} kW against {:.1} kW without the event ({:.2}×); worst zone {:.2} K·h outside comfort (budget {:.1} a week)",
        t.baseline_kw,
        t.event_kw,
        t.shed_percent,
        t.rebound_peak_kw,
        t.baseline_peak_kw,
        t.rebound_peak_kw / t.baseline_peak_kw.max(1e-9),
        t.worst_zone_kh,
        t.budget_kh,
    );
    if let Some(f) = &t.forecast {
        let _ = writeln!(
            out,
            "     forecast when the request came (12 h ahead, zone models): {:.1} → {:.1} kW (−{:.1} kW), rebound {:.1} kW against {:.1},\n     \
             {:.2} K·h below comfort, {:.1} kWh pre-heated",
            f.baseline_kw,
            f.planned_kw,
            f.shed_kw,
            f.rebound_peak_kw,
            f.baseline_peak_kw,
            f.discomfort_kh,
            f.preheat_kwh,
        );
    }
    Ok(out)
}
