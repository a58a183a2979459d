//! The models on an intermittently heated office (tests/support/office.rs): the boiler is off at
//! night and at weekends, so gas reads 0 on Saturdays and Sundays and most on Mondays, when the
//! building's mass is paid back. Each change is checked against the emulator rerun with that
//! change alone.

use sobre_models::daily::{fit_daily, mark_recoveries, DailyOptions, Day, Fuel};
use sobre_models::hourly::{fit_hourly, HourObs, HourlyModel};
use sobre_models::metrics::{gl14, metrics, Resolution};
use sobre_models::setback::{HeatDay, HeatLoss};
use sobre_models::thermal::{fit_two_node, Inputs, TwoNodeModel, ZoneStep};
mod support;

use support::office::{indoor, run, weather, Programme, Quarter, STEP_HOURS};

/// The agent's days: each local day's gas, its zones' mean temperature against outdoors, its
/// occupied hours and sun, quarter-hour by quarter-hour.
fn heat_days(quarters: &[Quarter]) -> Vec<HeatDay> {
    let mut days: Vec<HeatDay> = Vec::new();
    for (k, q) in quarters.iter().enumerate() {
        if k == 0 || quarters[k - 1].day != q.day {
            days.push(HeatDay::new());
        }
        if let Some(day) = days.last_mut() {
            day.add(q.gas_kwh, indoor(q), q.outdoor, q.occupancy > 0.0, q.ghi, STEP_HOURS);
        }
    }
    days
}

fn gas(quarters: &[Quarter]) -> f64 {
    quarters.iter().map(|q| q.gas_kwh).sum()
}

/// The heat-loss model's estimate of what `changed` avoids against `current`, given the
/// temperatures each programme gave: `(estimate ± se, truth)`, kWh.
fn avoided(model: &HeatLoss, current: &[Quarter], changed: &[Quarter]) -> (f64, f64, f64) {
    let steps =
        current.iter().zip(changed).map(|(a, b)| (a.outdoor, (indoor(a) - indoor(b)) * STEP_HOURS, a.occupancy > 0.0));
    let (kwh, se) = model.avoided(steps);
    (kwh, se, gas(current) - gas(changed))
}

/// Three poorly tuned offices, each with the one change to the well-tuned programme that the
/// emulator reruns alone: (the change, the programme it had, the programme changed).
fn poor_offices() -> [(&'static str, Programme, Programme); 3] {
    let tuned = Programme::WELL_TUNED;
    [
        ("occupied 22 → 21 °C", Programme { occupied_c: 22.0, ..tuned }, tuned),
        ("weekends heated → off", Programme { weekends_heated: true, ..tuned }, tuned),
        ("start 04:00 → 06:00", Programme { start_hour: 4.0, ..tuned }, tuned),
    ]
}

#[test]
fn the_heat_loss_model_fits_an_office_heated_intermittently_and_prices_its_changes() {
    let weather = weather();
    // Given three poorly tuned offices, each with one change the emulator reruns alone
    for (change, current, changed) in poor_offices() {
        let (before, after) = (run(current, &weather), run(changed, &weather));
        // When the heat-loss model is fitted on the office as it runs
        let model = HeatLoss::fit(&heat_days(&before)).expect("fits");
        let gate = gl14(Resolution::Daily, &model.metrics);
        let (kwh, se, truth) = avoided(&model, &before, &after);
        eprintln!(
            "{change}: CV(RMSE) {:.1} %, NMBE {:.2} %, beta {:?}; avoided {kwh:.0} ± {se:.0} kWh, emulator {truth:.0} kWh, ratio {:.2}",
            100.0 * model.metrics.cv_rmse,
            100.0 * model.metrics.nmbe,
            model.beta,
            kwh / truth
        );
        // Then it passes the advisor's gate, and its estimate is within 25 % of the emulator's
        assert!(gate.pass, "{change}: {:?}", model.metrics);
        assert!((kwh / truth - 1.0).abs() < 0.25, "{change}: estimated {kwh:.0} kWh, emulator {truth:.0} kWh");
    }
}

/// The zone's steps as the advisor feeds its air-and-mass model when the zone has no
/// heating-demand point: the building's heating power, kW, shared by the zones.
fn zone_steps(quarters: &[Quarter], z: usize) -> Vec<ZoneStep> {
    quarters
        .iter()
        .map(|q| ZoneStep {
            indoor: q.zones[z],
            outdoor: q.outdoor,
            solar: q.ghi,
            heating: q.gas_kwh / STEP_HOURS,
            hour: q.hour as u8,
            occupancy: q.occupancy,
        })
        .collect()
}

/// Each zone's trajectory under `setpoints` as its model draws it, from its first measured
/// temperature.
fn replay(model: &TwoNodeModel, max_heating: f64, quarters: &[Quarter], z: usize, setpoints: &[f64]) -> Vec<f64> {
    let steps = quarters.iter().zip(setpoints).map(|(q, s)| {
        (*s, Inputs { outdoor: q.outdoor, solar: q.ghi, heating: 0.0, hour: q.hour as u8, occupancy: q.occupancy })
    });
    model.follow(quarters[0].zones[z], steps, max_heating)
}

#[test]
fn zone_models_driven_by_the_buildings_power_draw_each_change_as_the_emulator_does() {
    let weather = weather();
    // Given the poorly tuned offices, with no heating demand per zone: only the gas meter
    for (change, current, changed) in poor_offices() {
        let (before, after) = (run(current, &weather), run(changed, &weather));
        let heat_loss = HeatLoss::fit(&heat_days(&before)).expect("fits");
        // When each zone's air-and-mass model is fitted on the building's heating power, and
        // replays the programme it had and the changed one (as the advisor does)
        let max_kw = before.iter().map(|q| q.gas_kwh / STEP_HOURS).fold(0.0, f64::max);
        let (had, proposed): (Vec<f64>, Vec<f64>) =
            before.iter().map(|q| (q.setpoint, changed.setpoint(q.weekday, q.hour, q.holiday))).unzip();
        let mut lowered = vec![0.0; before.len()];
        for z in 0..2 {
            let model = fit_two_node(&zone_steps(&before, z), STEP_HOURS, 192).expect("zone model fits");
            let (was, would) =
                (replay(&model, max_kw, &before, z, &had), replay(&model, max_kw, &before, z, &proposed));
            for (l, (a, b)) in lowered.iter_mut().zip(was.iter().zip(&would)) {
                *l += (a - b) / 2.0;
            }
            eprintln!("{change}: zone {z}: RMSE {:.2} K, heating gain {:.3} K/h per kW", model.rmse_k, model.g_heating);
        }
        let steps = before.iter().zip(&lowered).map(|(q, l)| (q.outdoor, l * STEP_HOURS, q.occupancy > 0.0));
        let (kwh, se) = heat_loss.avoided(steps);
        let truth = gas(&before) - gas(&after);
        let measured: f64 = before.iter().zip(&after).map(|(a, b)| (indoor(a) - indoor(b)) * STEP_HOURS).sum();
        eprintln!(
            "{change}: lowered {:.0} K·h (emulator {measured:.0}); avoided {kwh:.0} ± {se:.0} kWh, emulator {truth:.0} kWh, ratio {:.2}",
            lowered.iter().sum::<f64>() * STEP_HOURS,
            kwh / truth
        );
        // Then the estimate is within 25 % of the emulator's
        assert!((kwh / truth - 1.0).abs() < 0.25, "{change}: estimated {kwh:.0} kWh, emulator {truth:.0} kWh");
    }
}

/// The office's gas hour by hour, as the agent's baseline reads it; holidays flagged or not.
fn gas_hours(quarters: &[Quarter], holidays_flagged: bool) -> Vec<HourObs> {
    quarters
        .chunks(4)
        .map(|hour| {
            let q = &hour[0];
            HourObs {
                month: q.month,
                tow: (q.weekday * 24 + q.hour as usize) as u8,
                temp: hour.iter().map(|q| q.outdoor).sum::<f64>() / 4.0,
                energy: gas(hour),
                holiday: holidays_flagged && q.holiday,
            }
        })
        .collect()
}

/// The hourly model's predictions summed per local day: `(metered, predicted)`, whole days
/// of fitted months only.
fn daily_sums(model: &HourlyModel, hours: &[HourObs]) -> (Vec<f64>, Vec<f64>) {
    hours
        .chunks(24)
        .filter_map(|day| {
            let predicted: Option<f64> = day.iter().map(|o| model.predict(o)).sum();
            Some((day.iter().map(|o| o.energy).sum::<f64>(), predicted?))
        })
        .unzip()
}

#[test]
fn the_hourly_baseline_of_the_offices_gas_learns_its_christmas_closure_as_holidays() {
    // Given the well-tuned office's gas, hour by hour, closed from 24 December
    let quarters = run(Programme::WELL_TUNED, &weather());
    // When the time-of-week-and-temperature model is fitted with the closure flagged as
    // holidays, and without
    let fit = |flagged: bool| fit_hourly(&gas_hours(&quarters, flagged)).expect("fits");
    let (flagged, unflagged) = (fit(true), fit(false));
    let (metered, predicted) = daily_sums(&flagged.model, &gas_hours(&quarters, true));
    let daily = metrics(&metered, &predicted, 0);
    for (what, m) in [("holidays flagged", &flagged.metrics), ("unflagged", &unflagged.metrics), ("daily sums", &daily)]
    {
        eprintln!(
            "office gas, hourly TOWT, {what}: CV(RMSE) {:.1} %, NMBE {:.2} %, R² {:.2}, n {}, p {}",
            100.0 * m.cv_rmse,
            100.0 * m.nmbe,
            m.r2,
            m.n,
            m.p
        );
    }
    // Then flagging the closure halves the hourly error (its weekdays no longer stand for
    // working days), its bias is within Guideline 14's, and its daily sums pass the daily gate.
    // (Its hourly CV(RMSE) stays above the hourly gate's 30 %: what the boiler burns in an hour
    // of frost protection or of recovery follows the hours before it, which a model of the
    // hour's own temperature and time of week cannot see; see the README.)
    assert!(
        flagged.metrics.cv_rmse < 0.6 * unflagged.metrics.cv_rmse,
        "{:?} vs {:?}",
        flagged.metrics,
        unflagged.metrics
    );
    assert!(flagged.metrics.nmbe.abs() < 0.10, "{:?}", flagged.metrics);
    assert!(gl14(Resolution::Daily, &daily).pass, "{daily:?}");
}

#[test]
fn the_daily_baseline_of_the_offices_gas_pays_for_each_weekend_on_the_monday() {
    // Given the well-tuned office's gas, day by day (closed at weekends and from 24 December)
    let quarters = run(Programme::WELL_TUNED, &weather());
    let mut days: Vec<Day> = quarters
        .chunks(96)
        .enumerate()
        .map(|(i, day)| {
            let q = &day[0];
            let temp = day.iter().map(|q| q.outdoor).sum::<f64>() / day.len() as f64;
            Day::new(i as i64, gas(day), temp, q.weekday >= 5 || q.holiday)
        })
        .collect();
    mark_recoveries(&mut days);
    // When the daily change-point model is fitted with and without a recovery after closed days
    let fit =
        |recovery: bool| fit_daily(&days, &DailyOptions { recovery, ..DailyOptions::new(Fuel::Gas) }).expect("fits");
    let (with, without) = (fit(true), fit(false));
    for (what, f) in [("with recovery", &with), ("day types alone", &without)] {
        eprintln!(
            "office gas, daily {what}: {:?}/{:?}, CV(RMSE) {:.1} %, NMBE {:.2} %, R² {:.2}, n {}",
            f.model.form,
            f.model.day_types,
            100.0 * f.metrics.cv_rmse,
            100.0 * f.metrics.nmbe,
            f.metrics.r2,
            f.metrics.n
        );
    }
    // Then the recovery is chosen, cuts the error by a third or more, and passes the daily gate
    assert!(with.model.recovery, "{:?}", with.candidates);
    assert!(with.metrics.cv_rmse < 0.67 * without.metrics.cv_rmse, "{:?} vs {:?}", with.metrics, without.metrics);
    assert!(gl14(Resolution::Daily, &with.metrics).pass, "{:?}", with.metrics);
}
