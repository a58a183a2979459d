//! Which pre-heat an event gets. Where people are in when it starts, the comfort floor may take
//! most of the shed away (an office held at 21 °C with a 20 °C floor sheds 1 K of the 4 asked)
//! and holding the floor is then most of what the plant draws. The zone models say so before
//! the event: if the ordinary pre-heat is expected to shed less than `WANTED_SHED` of the
//! power, the event's pre-heat starts earlier and warms deeper (`flex.floor_preheat`,
//! `flex.floor_preheat_k`), so the walls store the heat the event then spends.

use super::Controller;
use crate::control::plan::level;

/// The share of the plant's power a full-depth event is expected to take off (a half-level one,
/// half as much): below it, the deeper pre-heat is tried.
const WANTED_SHED: f64 = 0.5;

impl Controller {
    /// Chooses event `id`'s pre-heat from what the zone models expect of each, at `now_ms`:
    /// the deeper one only where the ordinary one falls short of `WANTED_SHED` and the deeper
    /// one is expected to shed more. Without models or an outdoor temperature, the ordinary one.
    pub(super) fn choose_preheat(&mut self, id: &str, now_ms: i64) {
        let live: Vec<String> = self.book.events().map(|e| e.id.clone()).collect();
        self.deep_preheat.retain(|d| d != id && live.contains(d));
        let Some(level) = self.book.events().find(|e| e.id == id).map(|e| level(e.depth)) else { return };
        let Some(outdoor_c) = self.outdoor_c else { return };
        let Some(ordinary) = self.forecast(id, now_ms, outdoor_c) else { return };
        if ordinary.shed_kw >= WANTED_SHED * level * ordinary.baseline_kw {
            return;
        }
        self.deep_preheat.push(id.to_string());
        let deeper = self.forecast(id, now_ms, outdoor_c);
        if deeper.is_none_or(|d| d.shed_kw <= ordinary.shed_kw) {
            self.deep_preheat.retain(|d| d != id);
        }
    }

    /// Whether event `id` pre-heats deeper (see `choose_preheat`).
    pub(super) fn preheats_deep(&self, id: &str) -> bool {
        self.deep_preheat.iter().any(|d| d == id)
    }
}
