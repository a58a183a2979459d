//! The day's comparison, in shadow and auto modes: at each local midnight, what the controller
//! says the day will use on the building's programme and on the schedule; at the next, that
//! prediction beside what the heating meter showed, in the ledger (`day_compared`). So a site
//! sees, before it lets the agent command, whether the agent's predictions hold.

use super::controller::Controller;
use super::effect::Record;
use super::forecast::Forecast;
use super::log::Kind;
use super::outdoor::OutdoorDay;
use super::watch::Watches;
use crate::config::control::Mode;
use chrono::TimeZone;
use chrono_tz::Tz;
use serde_json::json;

#[derive(Debug)]
pub(crate) struct DayComparison {
    timezone: Tz,
    step_ms: i64,
    /// The prediction made at the start of the day under way, and when.
    pending: Option<(i64, Forecast)>,
    day: Option<chrono::NaiveDate>,
}

impl DayComparison {
    pub(crate) fn new(timezone: Tz, step_ms: i64) -> Self {
        Self { timezone, step_ms, pending: None, day: None }
    }

    /// The step at `at_ms`: on the first of a local day, the last day's prediction compared
    /// with the meter, and the new day's predicted.
    pub(crate) fn step(
        &mut self,
        controller: &Controller,
        watches: &Watches,
        outdoor: &OutdoorDay,
        at_ms: i64,
    ) -> Option<Record> {
        let date = self.timezone.timestamp_millis_opt(at_ms).single()?.date_naive();
        if self.day == Some(date) {
            return None;
        }
        let first = self.day.is_none();
        self.day = Some(date);
        let compared = self.pending.take().and_then(|(from, f)| self.compare(controller, watches, from, f, at_ms));
        // A day is predicted from its start: the first one the agent sees began before it.
        if !first && controller.mode() != Mode::Advise {
            if let Some(mean) = outdoor.mean() {
                self.pending = controller.day_ahead(at_ms, 24, mean).map(|f| (at_ms, f));
            }
        }
        compared
    }

    fn compare(
        &self,
        controller: &Controller,
        watches: &Watches,
        from: i64,
        f: Forecast,
        at_ms: i64,
    ) -> Option<Record> {
        let (metered, coverage) = watches.metered_kwh(from, at_ms, self.step_ms);
        let hours = (at_ms - from) as f64 / 3_600_000.0;
        let (programme, schedule) = (f.baseline_kw * hours, f.planned_kw * hours);
        let ran = if controller.mode() == Mode::Auto { "the schedule" } else { "its programme" };
        let why = format!(
            "predicted {programme:.0} kWh on the programme and {schedule:.0} kWh on the schedule (a saving of {:.0}); the meter showed {metered:.0} kWh on {ran} ({:.0} % of the day metered)",
            programme - schedule,
            100.0 * coverage
        );
        let detail = json!({ "from": crate::clock::iso(from), "programme_kwh": programme, "schedule_kwh": schedule, "metered_kwh": metered, "coverage": coverage, "mode": controller.mode() });
        Record::of(Kind::DayCompared, None, at_ms, why, detail)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::control::FlexSettings;
    use crate::control::controller::ControlSettings;

    const H: i64 = 3_600_000;

    #[test]
    fn nothing_is_compared_without_a_prediction_and_each_day_is_looked_at_once() {
        // Given a controller in shadow mode without a schedule or models (no prediction)
        let settings = ControlSettings {
            step_ms: 900_000,
            timezone: chrono_tz::UTC,
            comfort_min_c: 19.0,
            budget_kh_per_week: 1.0,
            command_ttl_ms: 6 * H,
            flex: FlexSettings::default(),
        };
        let controller = Controller::new(settings, [], Mode::Shadow);
        let watches = Watches::new(2 * H, 19.0);
        let mut outdoor = OutdoorDay::default();
        outdoor.observe(0, 5.0);
        let mut days = DayComparison::new(chrono_tz::UTC, 900_000);
        // When steps pass two midnights, Then no comparison is recorded
        for at in (0..50).map(|h| h * H) {
            assert_eq!(days.step(&controller, &watches, &outdoor, at), None, "{at}");
        }
        // And the day under way is known, so its later steps look at nothing
        assert_eq!(days.day, chrono::NaiveDate::from_ymd_opt(1970, 1, 3));
    }
}
