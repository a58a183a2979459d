//! The site's time zone by its IANA name. A gateway build may carry only some of the IANA zones
//! (feature `zone-filter` and chrono-tz's `CHRONO_TZ_TIMEZONE_FILTER`, both set by
//! `scripts/build-gateway`: the full table is about 1.4 MB of a 7.9 MB binary), so a zone it
//! lacks is refused saying which zones it has and how to build one with more, rather than as a
//! mere unknown name.

use chrono_tz::Tz;

/// The regular expression this build's zones were filtered with; `None` when it has them all.
pub fn filter() -> Option<&'static str> {
    // chrono-tz reads the variable only with the feature; without it every zone is compiled in.
    let filter = if cfg!(feature = "zone-filter") { option_env!("CHRONO_TZ_TIMEZONE_FILTER") } else { None };
    filter.map(str::trim).filter(|f| !f.is_empty())
}

/// The zone named `name`, or what to write instead.
pub fn parse(name: &str) -> Result<Tz, String> {
    name.parse::<Tz>().map_err(|_| match filter() {
        None => "use an IANA zone name such as \"Europe/Paris\"".to_owned(),
        Some(filter) => format!(
            "use an IANA zone name this build carries: those matching {filter:?} (a gateway build; \
             scripts/build-gateway --zones '<regex>' builds one with the zone, or build without \
             CHRONO_TZ_TIMEZONE_FILTER for them all)"
        ),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_known_zone_is_read_and_an_unknown_one_is_refused_with_advice() {
        assert_eq!(parse("Europe/Paris"), Ok(chrono_tz::Europe::Paris));
        assert_eq!(parse("UTC"), Ok(chrono_tz::UTC));
        let advice = parse("Mars/Olympus").expect_err("no such zone");
        assert!(advice.contains("IANA zone name"), "{advice}");
    }
}
