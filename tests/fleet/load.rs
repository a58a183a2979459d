//! A load generator speaking the agents' report schemas for many sites: what thousands of
//! buildings' agents would send the city's broker, built from real reports (the demo school's
//! monthly savings and register entry, the README's health, footprint and flex reports) with
//! each site's code, ids and figures. Shared by the fleet test and the `city_load` example.

use serde_json::{json, Value};

const SAVINGS: &str = include_str!("../../agent/src/city/testdata/savings-monthly.json");
const REGISTER: &str = include_str!("../../agent/src/city/testdata/register.json");

/// The months a generated site reports savings for (2019).
pub const MONTHS: u32 = 3;

/// The reports of the `n`-th generated site `site`, as (topic, report), under `prefix`: its
/// register entry; monthly savings of its heating for the first [`MONTHS`] months of 2019 (every
/// fifth site's baseline failing Guideline 14: figures, no claim); a day's savings, health and
/// footprint; and for every tenth site a flexibility event.
pub fn site_reports(prefix: &str, site: &str, n: u64) -> Vec<(String, Value)> {
    let topic = |kind: &str| format!("{prefix}/{site}/reports/{kind}");
    let mut out = Vec::new();

    let mut register: Value = serde_json::from_str(REGISTER).unwrap_or_default();
    register["site"] = Value::from(site);
    register["id"] = Value::from(format!("{site}/register/0.1.0"));
    out.push((topic("register"), register));

    let claim = n % 5 != 4;
    let template: Value = serde_json::from_str(SAVINGS).unwrap_or_default();
    for month in 1..=MONTHS {
        let start = format!("2019-{month:02}-01T00:00:00Z");
        let end = format!("2019-{:02}-01T00:00:00Z", month + 1);
        // Figures that differ by site and month, exactly representable sums or not.
        let baseline = 800.0 + (n % 997) as f64 * 1.7 + f64::from(month) * 13.3;
        let avoided = baseline * (0.02 + (n % 13) as f64 / 100.0);
        let interval90 = 10.0 + (n % 7) as f64 * 3.1;
        let mut r = template.clone();
        r["site"] = Value::from(site);
        r["id"] = Value::from(format!("{site}/savings-monthly/heating_energy/{start}"));
        r["period"] = json!({ "start": start, "end": end });
        r["baseline_kwh"] = Value::from(baseline);
        r["metered_kwh"] = Value::from(baseline - avoided);
        r["avoided_kwh"] = Value::from(avoided);
        r["avoided_pct"] = Value::from(100.0 * avoided / baseline);
        r["interval68_kwh"] = Value::from(interval90 / 1.645);
        r["interval90_kwh"] = Value::from(interval90);
        r["eur"] = Value::from(avoided * 0.2);
        r["kg_co2"] = Value::from(avoided * 0.052);
        r["claim"] = Value::from(claim);
        r["model"]["gl14_pass"] = Value::from(claim);
        out.push((topic("savings-monthly"), r));
    }

    let day = json!({ "start": "2019-03-31T22:00:00Z", "end": "2019-04-01T22:00:00Z" });
    let mut daily = template;
    let baseline = 40.0 + (n % 89) as f64 * 0.3;
    let avoided = baseline * 0.07;
    daily["site"] = Value::from(site);
    daily["kind"] = Value::from("savings-daily");
    daily["resolution"] = Value::from("1d");
    daily["id"] = Value::from(format!("{site}/savings-daily/heating_energy/2019-03-31T22:00:00Z"));
    daily["period"] = day.clone();
    for (key, value) in [
        ("baseline_kwh", baseline),
        ("metered_kwh", baseline - avoided),
        ("avoided_kwh", avoided),
        ("avoided_pct", 7.0),
        ("interval68_kwh", 1.2),
        ("interval90_kwh", 2.0),
        ("eur", avoided * 0.2),
        ("kg_co2", avoided * 0.052),
    ] {
        daily[key] = Value::from(value);
    }
    daily["claim"] = Value::from(claim);
    daily["model"]["gl14_pass"] = Value::from(claim);
    out.push((topic("savings-daily"), daily));
    out.push((
        topic("health"),
        json!({"schema":"sobre.health/1","id":format!("{site}/health/2019-03-31T22:00:00Z"),"site":site,"kind":"health",
            "period":day,"agent_version":"0.1.0","points":{"configured":38,"seen":38},"readings":3610,
            "rejections_total":n % 3,"outbox":{"rows":0,"bytes":0,"dropped":{}},"uptime_s":86400,
            "pipeline":{"messages":9042,"stored":12000,"rejected":0,"lost":0,"uplink_connections":1}}),
    ));
    out.push((
        topic("footprint"),
        json!({"schema":"sobre.footprint/1","id":format!("{site}/footprint/2019-03-31T22:00:00Z"),"site":site,
            "kind":"footprint","period":day,"agent_version":"0.1.0",
            "process":{"cpu_seconds":0.29,"peak_rss_mib":18.6,"estimated_wh":0.12 + (n % 10) as f64 / 100.0,
                       "watts_per_core":1.5,"since":"2019-03-01T00:00:00Z"},
            "saved_kwh":4.5 + (n % 4) as f64}),
    ));
    if n.is_multiple_of(10) {
        out.push((
            topic("flex"),
            json!({"schema":"sobre.flex/1","id":format!("{site}/flex/peak-0311"),"site":site,"kind":"flex",
                "period":{"start":"2019-03-11T08:00:00Z","end":"2019-03-11T10:00:00Z"},"agent_version":"0.1.0",
                "event_id":"peak-0311","event_kind":"shed","planned_shed_kw":6.381,"achieved_shed_kw":4.616,
                "shifted_kwh":0.0,"rebound_peak_kw":4.216,"baseline_peak_kw":7.4,"discomfort_kh":0.0,"overrides":1}),
        ));
    }
    // (upgraded agents say what became of every request: some of them refused one)
    if n % 10 == 5 {
        out.push((
            topic("flex"),
            json!({"schema":"sobre.flex/2","id":format!("{site}/flex/peak-0312/refused"),"site":site,"kind":"flex",
                "period":{"start":"2019-03-12T08:00:00Z","end":"2019-03-12T10:00:00Z"},"agent_version":"0.2.0",
                "event_id":"peak-0312","event_kind":"shed","status":"refused",
                "reason":"the advisor's models fail their quality gate, so the building runs its own programme",
                "planned_shed_kw":null,"achieved_shed_kw":null,"shifted_kwh":null,"rebound_peak_kw":null,
                "baseline_peak_kw":null,"discomfort_kh":null,"overrides":null}),
        ));
    }
    out
}
