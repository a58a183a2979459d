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
            Day::new(i, e, temp, weekend)
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

/// An office whose boiler is off at weekends but for frost protection: 1 kWh/°C below 16 °C on
/// closed days, 6 kWh/°C on open days, and on the first open day after a weekend 4 kWh per closed-day °C·day below 16 °C
/// to heat the building back up.
fn office() -> Vec<Day> {
    let temps: Vec<f64> = (0..70).map(|i| 8.0 + 5.0 * ((i * 7 % 13) as f64 / 13.0 - 0.5) - 0.05 * i as f64).collect();
    let mut days: Vec<Day> = temps
        .iter()
        .enumerate()
        .map(|(i, &temp)| {
            let weekend = i % 7 >= 5;
            let energy = if weekend { (16.0 - temp).max(0.0) } else { 10.0 + 6.0 * (16.0 - temp).max(0.0) };
            Day::new(i as i64, energy, temp, weekend)
        })
        .collect();
    mark_recoveries(&mut days);
    for d in &mut days {
        d.energy += 4.0 * d.closed_before.iter().flatten().map(|t| (16.0 - t).max(0.0)).sum::<f64>();
    }
    days
}

#[test]
fn a_plant_off_at_weekends_is_fitted_with_its_monday_recovery() {
    // Given an office whose Mondays pay for the weekend the boiler was off
    let days = office();
    // When the daily model is fitted with and without the recovery candidates
    let with = fit_daily(&days, &DailyOptions { recovery: true, ..DailyOptions::new(Fuel::Gas) }).expect("with");
    let without = fit_daily(&days, &DailyOptions::new(Fuel::Gas)).expect("without");
    // Then the recovery is chosen, at the slope and balance point the office has, and it
    // explains what the day types alone cannot
    assert!(with.model.recovery, "{:?}", with.candidates);
    let slope = with.model.coefficients.iter().find(|(n, _)| n == "recovery_slope").map(|(_, v)| *v);
    assert!(slope.is_some_and(|s| (s - 4.0).abs() < 0.2), "{:?}", with.model.coefficients);
    assert!(with.model.heating_balance_c.is_some_and(|b| (b - 16.0).abs() <= 0.3), "{:?}", with.model);
    assert!(with.metrics.cv_rmse < 0.01, "{:?}", with.metrics);
    assert!(!without.model.recovery && without.metrics.cv_rmse > 0.1, "{:?}", without.metrics);
    // And a Monday is predicted from its weekend's temperatures
    let monday = days[7];
    assert!((with.model.predict_day(&monday) - monday.energy).abs() < 0.5, "{monday:?}");
}

#[test]
fn only_the_closed_days_just_before_an_open_day_count_and_a_gap_ends_them() {
    // Given a Friday, a closed Saturday and Sunday, a Monday, a Tuesday, then a closed day, a
    // missing day and an open day
    let day = |index: i64, weekend: bool| Day::new(index, 0.0, index as f64, weekend);
    let mut days =
        vec![day(4, false), day(5, true), day(6, true), day(7, false), day(8, false), day(9, true), day(11, false)];
    // When the recoveries are marked
    mark_recoveries(&mut days);
    // Then Monday has Sunday's and Saturday's temperatures, nearest first; no other day has any
    let marked: Vec<[Option<f64>; 2]> = days.iter().map(|d| d.closed_before).collect();
    assert_eq!(
        marked,
        [[None, None], [None, None], [None, None], [Some(6.0), Some(5.0)], [None, None], [None, None], [None, None]]
    );
}

#[test]
fn degree_day_support_is_decided_as_the_days_themselves_sum_it_at_the_threshold() {
    // Given days whose heating degree days at some balance points total CalTRACK's minimum to
    // the last bits, or just under or over it
    let step = MIN_DEGREE_DAY_TOTAL / 10.0;
    // (ten cold days a step below 20 °C, thirty at 25 °C)
    let temp = |i: i64| if i % 4 == 0 { 20.0 - step } else { 25.0 };
    let days: Vec<Day> = (0..40).map(|i: i64| Day::new(i, 1.0, temp(i), i % 7 >= 5)).collect();
    let gram = Gram::new(&days, &[20.0, 25.0]);
    for bp in [20.0, 20.0 + 1e-12, 20.0 - 1e-12, 20.0 - step, 25.0 - MIN_DEGREE_DAY_TOTAL / 30.0, 25.0, 21.0] {
        for heating in [true, false] {
            // When support is decided from the prefix sums
            let (heat, cool) = if heating { (Some(bp), None) } else { (None, Some(bp)) };
            let decided = supported(&gram, &days, heat, cool);
            // Then it is what the days' own count and sum decide
            let own: Vec<f64> = days
                .iter()
                .map(|d| if heating { bp - d.temp } else { d.temp - bp }.max(0.0))
                .filter(|v| *v > 0.0)
                .collect();
            let expected = own.len() >= MIN_DEGREE_DAYS && own.iter().sum::<f64>() >= MIN_DEGREE_DAY_TOTAL;
            assert_eq!(decided, expected, "{bp} heating {heating}: {} days, {}", own.len(), own.iter().sum::<f64>());
        }
    }
}
