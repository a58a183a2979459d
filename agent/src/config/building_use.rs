//! The defaults that depend on what a building is used for (`[site] use`): the comfort band
//! while occupied (`[comfort]`), the highest occupied setpoint the advisor allows and the level
//! a setback proposes (`[advisor]`). A key the file sets wins; a key it leaves out takes its
//! use's value, and `sobre check` says which.

use super::file::BuildingUse;

/// The values a use gives the keys the file leaves out, °C.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct UseDefaults {
    pub comfort_min_c: f64,
    pub comfort_max_c: f64,
    pub comfort_limit_c: f64,
    pub setback_c: f64,
}

impl BuildingUse {
    pub const ALL: [BuildingUse; 6] = [
        BuildingUse::School,
        BuildingUse::Office,
        BuildingUse::TownHall,
        BuildingUse::Gym,
        BuildingUse::Library,
        BuildingUse::Other,
    ];

    /// As written in the file.
    pub fn name(self) -> &'static str {
        match self {
            BuildingUse::School => "school",
            BuildingUse::Office => "office",
            BuildingUse::TownHall => "town_hall",
            BuildingUse::Gym => "gym",
            BuildingUse::Library => "library",
            BuildingUse::Other => "other",
        }
    }

    // Sources. Code de l'énergie, R241-26: heating in buildings for teaching, offices and the
    // reception of the public is limited to 19 °C on average; R241-27: 16 °C when a building
    // is empty from 24 to 48 hours; R241-30: no cooling below 26 °C. EN 16798-1:2019, category
    // II (normal expectation), offices in the heating season: at least 20 °C operative.
    pub fn defaults(self) -> UseDefaults {
        let french_public =
            UseDefaults { comfort_min_c: 19.0, comfort_max_c: 26.0, comfort_limit_c: 19.0, setback_c: 16.0 };
        match self {
            // Teaching: the French public buildings' limit.
            BuildingUse::School => french_public,
            // EN 16798-1 category II: a 20 °C floor; 21 °C the most the advisor lets pass, so
            // an office held at 21 °C is not told to go to 19 °C.
            BuildingUse::Office => UseDefaults { comfort_min_c: 20.0, comfort_limit_c: 21.0, ..french_public },
            // Offices and the reception of the public under the same French limit.
            BuildingUse::TownHall => french_public,
            // A sports hall is heated for people in activity: 14–16 °C (the French sports
            // ministry's guidance in the 2022 sobriety plan); a deeper setback follows.
            BuildingUse::Gym => {
                UseDefaults { comfort_min_c: 14.0, comfort_max_c: 26.0, comfort_limit_c: 16.0, setback_c: 12.0 }
            }
            // The reception of the public (R241-26), and a shallower setback: paper collections
            // suffer from the swings of relative humidity a deep setback brings (ISO 11799 asks
            // for stable storage conditions).
            BuildingUse::Library => UseDefaults { setback_c: 17.0, ..french_public },
            // The values sobre has always used: the school demo's figures rest on them.
            BuildingUse::Other => french_public,
        }
    }
}

/// A value the file set, or the one its building use gave it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Chosen {
    pub value: f64,
    /// `false`: the key was absent and the use's default applies.
    pub configured: bool,
}

impl Chosen {
    pub fn of(configured: Option<f64>, default: f64) -> Self {
        match configured {
            Some(value) => Self { value, configured: true },
            None => Self { value: default, configured: false },
        }
    }

    /// Where it came from, in words: "configured" or "default for office".
    pub fn origin(&self, building_use: BuildingUse) -> String {
        if self.configured {
            "configured".into()
        } else {
            format!("default for {}", building_use.name())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_use_gives_a_band_a_limit_inside_it_and_a_setback_below_it() {
        for u in BuildingUse::ALL {
            let d = u.defaults();
            // Then the limit is within the band, the setback below the limit, and each value
            // passes the file's own validation
            assert!(d.comfort_min_c <= d.comfort_limit_c && d.comfort_limit_c < d.comfort_max_c, "{u:?}");
            assert!(d.setback_c < d.comfort_limit_c, "{u:?}");
            assert!((5.0..=20.0).contains(&d.setback_c) && (16.0..=26.0).contains(&d.comfort_limit_c), "{u:?}");
        }
    }

    #[test]
    fn an_office_is_not_held_to_the_french_19_and_other_keeps_what_sobre_always_used() {
        let table = [
            // Given a use, Then its comfort floor, occupied limit and setback
            (BuildingUse::Other, (19.0, 19.0, 16.0)),
            (BuildingUse::School, (19.0, 19.0, 16.0)),
            (BuildingUse::Office, (20.0, 21.0, 16.0)),
            (BuildingUse::Gym, (14.0, 16.0, 12.0)),
        ];
        for (u, (min_c, limit_c, setback_c)) in table {
            let d = u.defaults();
            assert_eq!((d.comfort_min_c, d.comfort_limit_c, d.setback_c), (min_c, limit_c, setback_c), "{u:?}");
        }
    }
}
