use super::*;

/// A synthetic building: 200 kWh/day base, 8 kWh/°C below 15 °C, 5 kWh/°C above 22 °C,
/// weekends at 60 % of the base, with a deterministic wobble.
fn building(heat: bool, cool: bool) -> Vec<Day> {
    (0..365)
        .map(|i| {
            let temp = 12.0 - 11.0 * (2.0 * std::f64::consts::PI * (i as f64 + 10.0) / 365.0).cos()
                + 3.0 * ((i * 7 % 11) as f64 / 11.0 - 0.5);
            let weekend = i % 7 >= 5;
            let mut e = if weekend { 120.0 } else { 200.0 };
            if heat {
                e += 8.0 * (15.0 - temp).max(0.0);
            }
            if cool {
                e += 5.0 * (temp - 22.0).max(0.0);
            }
            e += 4.0 * ((i * 13 % 17) as f64 / 17.0 - 0.5);
            Day { index: i, energy: e, temp, weekend }
        })
        .collect()
}

#[test]
fn recovers_the_form_and_balance_points_of_a_known_building() {
    let table = [
        ("heating and cooling", true, true, Form::HeatingCooling, Some(15.0), Some(22.0)),
        ("heating only", true, false, Form::Heating, Some(15.0), None),
        ("cooling only", false, true, Form::Cooling, None, Some(22.0)),
        ("neither", false, false, Form::Intercept, None, None),
    ];
    for (name, heat, cool, form, hbp, cbp) in table {
        let fit = fit_daily(&building(heat, cool), &DailyOptions::new(Fuel::Electricity)).expect(name);
        assert_eq!(fit.model.form, form, "{name}: {:?}", fit.candidates);
        assert_ne!(fit.model.day_types, DayTypes::Same, "{name}: weekends differ");
        for (got, want) in [(fit.model.heating_balance_c, hbp), (fit.model.cooling_balance_c, cbp)] {
            match (got, want) {
                (Some(g), Some(w)) => assert!((g - w).abs() <= 0.6, "{name}: balance {g} vs {w}"),
                (None, None) => {}
                other => panic!("{name}: {other:?}"),
            }
        }
        assert!(fit.metrics.cv_rmse < 0.02, "{name}: {:?}", fit.metrics);
        assert!(fit.metrics.nmbe.abs() < 1e-9, "{name}: least squares with an intercept has no bias");
    }
}

#[test]
fn gas_gets_no_cooling_term_and_negative_slopes_are_refused() {
    let fit = fit_daily(&building(true, true), &DailyOptions::new(Fuel::Gas)).expect("gas");
    assert_eq!(fit.model.form, Form::Heating);
    // A building that uses *less* when cold: no heating slope may be negative.
    let odd: Vec<Day> = building(false, false)
        .into_iter()
        .map(|d| Day { energy: d.energy - 3.0 * (15.0 - d.temp).max(0.0), ..d })
        .collect();
    let fit = fit_daily(&odd, &DailyOptions::new(Fuel::Electricity)).expect("odd");
    assert!(
        fit.model.coefficients.iter().filter(|(n, _)| n.ends_with("slope")).all(|(_, v)| *v > 0.0),
        "{:?}",
        fit.model
    );
}

#[test]
fn too_little_data_is_an_error() {
    let days = &building(true, false)[..20];
    assert_eq!(fit_daily(days, &DailyOptions::new(Fuel::Gas)), Err(FitError::TooFewDays { days: 20, needed: 30 }));
}
