//! What `sobre fit` prints: one JSON object, or a table for a person.

use serde_json::Value;

pub fn print(out: &Value, as_json: bool) {
    if as_json {
        println!("{out}");
    } else {
        print_table(out);
    }
}

fn print_table(out: &Value) {
    let pct = |v: &Value| v.as_f64().map_or("-".into(), |v| format!("{:.1} %", v * 100.0));
    let num = |v: &Value| v.as_f64().map_or("-".into(), |v| format!("{v:.0}"));
    let m = &out["model"];
    let b = &out["baseline"];
    match m["kind"].as_str() {
        Some("hourly") => println!(
            "model        hourly time-of-week and temperature, {} monthly models",
            m["months"].as_array().map_or(0, Vec::len)
        ),
        _ => println!(
            "model        daily, {} / {}{}",
            m["form"].as_str().unwrap_or("?"),
            m["day_types"].as_str().unwrap_or("?"),
            if m["recovery"].as_bool() == Some(true) { " + recovery after closed days" } else { "" }
        ),
    }
    for (name, key) in [("heating at", "heating_balance_c"), ("cooling at", "cooling_balance_c")] {
        if let Some(v) = m[key].as_f64() {
            println!("{name:<12} {v:.1} °C");
        }
    }
    if let Some(coefficients) = m["coefficients"].as_object() {
        for (name, v) in coefficients {
            println!("  {name:<24} {:>10.2}", v.as_f64().unwrap_or(f64::NAN));
        }
    }
    println!(
        "baseline     {}..{}: n {}, p {}; CV(RMSE) {}, NMBE {}, R² {:.3}; Guideline 14 {}",
        b["start"].as_str().unwrap_or(""),
        b["end"].as_str().unwrap_or(""),
        b["n"],
        b["p"],
        pct(&b["cv_rmse"]),
        pct(&b["nmbe"]),
        b["r2"].as_f64().unwrap_or(f64::NAN),
        if b["gl14_pass"] == true { "pass" } else { "FAIL" }
    );
    if let Some(r) = out.get("reporting") {
        println!(
            "reporting    {}..{}: metered {} kWh, baseline {} kWh, savings {} kWh ({}) ± {} (68 %) ± {} (90 %, {})",
            r["start"].as_str().unwrap_or(""),
            r["end"].as_str().unwrap_or(""),
            num(&r["metered_kwh"]),
            num(&r["baseline_kwh"]),
            num(&r["savings_kwh"]),
            pct(&r["savings_pct"]),
            num(&r["interval68_kwh"]),
            num(&r["interval90_kwh"]),
            if r["interval_method"] == "backtest" { "year-ahead backtest" } else { "Guideline 14" }
        );
    }
    if let Some(months) = out.get("reporting").and_then(|r| r["monthly"].as_array()) {
        println!("  month        baseline kWh    metered kWh    savings kWh");
        for m in months {
            println!(
                "  {:<10} {:>14} {:>14} {:>14}",
                m["month"].as_str().unwrap_or(""),
                num(&m["baseline_kwh"]),
                num(&m["metered_kwh"]),
                num(&m["savings_kwh"])
            );
        }
    }
    for key in ["warnings", "disqualifications"] {
        for w in out[key].as_array().into_iter().flatten() {
            println!("{}  {}", if key == "warnings" { "warning" } else { "NOT CALTRACK" }, w.as_str().unwrap_or(""));
        }
    }
}
