use super::*;

/// An office with two zones; `extra` is appended to the file.
fn office(extra: &str) -> Settings {
    let text = format!(
        r#"
[site]
id = "mairie"
timezone = "Europe/Paris"
use = "office"
holidays = [["2025-12-25", "2025-12-25"], ["2025-12-22", "2026-01-02"]]

[advisor]
setback_c = 15.0

[[points]]
id = "t_north"
kind = "zone_temperature"
unit = "°C"
zone = "north"
topic = "bms/north/t"

[[points]]
id = "t_south"
kind = "zone_temperature"
unit = "°C"
zone = "south"
topic = "bms/south/t"

[[points]]
id = "sp_north"
kind = "setpoint"
unit = "°C"
zone = "north"
topic = "bms/north/sp"

[[points]]
id = "co2_north"
kind = "co2"
unit = "ppm"
zone = "north"
topic = "bms/north/co2"

[[points]]
id = "outdoor"
kind = "outdoor_temperature"
unit = "°C"
topic = "weather/t"

[[points]]
id = "gas"
kind = "energy"
unit = "kWh"
fuel = "gas"
topic = "meters/gas"
{extra}
"#
    );
    Settings::parse(&text, "office.toml").unwrap_or_else(|e| panic!("{e}"))
}

const HEATING_TAG: &str = "tags = [\"heating\"]\n";

#[test]
fn check_prints_every_section_and_says_where_each_value_came_from_and_what_is_missing() {
    let table: [(&str, Settings, &[&str], &[&str]); 3] = [
        (
            "the office as written",
            office(""),
            &[
                "site      mairie (mairie), Europe/Paris",
                "use       office",
                "holidays  2: 2025-12-22 – 2026-01-02, 2025-12-25",
                "comfort   while occupied from 20 °C (default for office) to 26 °C (default for office)",
                "advisor   occupied limit 21 °C (default for office), setback 15 °C (configured)",
                "control   advise (no command leaves); occupied floor 20.5 °C",
                "savings   none measured: add [savings] baseline",
                "points    6",
                "  energy (1)",
                "    gas                energy gas",
                "  co2 (1)",
                "heating   none: no energy point is tagged \"heating\"",
                "fix: add tags = [\"heating\"]",
                "zones     2",
                "  north              occupancy from CO₂ sensor co2_north",
                "; setpoint sp_north",
                "  south              occupancy from none; fix: add presence or CO₂ sensors",
                "no setpoint; fix: declare each zone's setpoint",
            ],
            &["heating   gas"],
        ),
        (
            "the gas meter tagged, a building occupancy point and savings",
            office(&format!(
                "{HEATING_TAG}\n[[points]]\nid = \"open\"\nkind = \"occupancy\"\nunit = \"bool\"\ntopic = \"bms/open\"\n\n[savings]\nbaseline = [\"2025-01-06\", \"2025-02-09\"]\npoints = [\"gas\"]\n"
            )),
            &[
                "heating   gas carries the heating (tagged \"heating\")",
                ", tags heating",
                "  south              occupancy from the building's occupancy point open",
                "savings   baseline 2025-01-06 – 2025-02-09; measured on gas",
            ],
            &["heating   none", "savings   none"],
        ),
        (
            "a site with no zone",
            Settings::parse(
                "[site]\nid = \"s\"\ntimezone = \"UTC\"\n[[points]]\nid = \"t\"\nkind = \"zone_temperature\"\nunit = \"°C\"\ntopic = \"t\"\n",
                "bare.toml",
            )
            .expect("valid"),
            &[
                "use       other",
                "holidays  none",
                "comfort   while occupied from 19 °C (default for other) to 26 °C (default for other)",
                "advisor   occupied limit 19 °C (default for other), setback 16 °C (default for other)",
                "points    1",
                "zones     none: no zone temperature point names its zone",
            ],
            &["zones     0"],
        ),
    ];
    for (given, settings, present, absent) in table {
        // When `sobre check` prints what the file describes
        let out = render(&settings);
        // Then each expected line (or part of one) is there, and what does not apply is not
        for fragment in present {
            assert!(out.contains(fragment), "{given}: {fragment:?} in\n{out}");
        }
        for fragment in absent {
            assert!(!out.contains(fragment), "{given}: {fragment:?} not in\n{out}");
        }
    }
}

#[test]
fn check_warns_of_what_the_file_allows_but_its_writer_did_not_mean() {
    let tagged_temperature = "\n[[points]]\nid = \"t_hall\"\nkind = \"zone_temperature\"\nunit = \"°C\"\nzone = \"hall\"\ntopic = \"bms/hall/t\"\ntags = [\"heating\"]\n";
    let second_meter = format!("{HEATING_TAG}\n[[points]]\nid = \"gas2\"\nkind = \"energy\"\nunit = \"kWh\"\nfuel = \"gas\"\ntopic = \"meters/gas2\"\n{HEATING_TAG}");
    let commanded_south =
        format!("{HEATING_TAG}\n[[control.zones]]\nzone = \"south\"\ncommand_topic = \"bms/south/sp/write\"\nformat = \"plain\"\n");
    let table: [(&str, String, &str); 4] = [
        // Given the office (whose holidays overlap) with, Then the warning
        ("as written", HEATING_TAG.to_string(), "holidays 2025-12-22 – 2026-01-02 and 2025-12-25 – 2025-12-25 overlap"),
        (
            "a temperature tagged heating",
            format!("{HEATING_TAG}{tagged_temperature}"),
            "t_hall is tagged \"heating\" but is a zone_temperature point",
        ),
        ("two meters tagged heating", second_meter, "2 energy points are tagged \"heating\""),
        ("a commanded zone without a setpoint", commanded_south, "control zone south has no setpoint point"),
    ];
    for (given, extra, warning) in table {
        // When `sobre check` prints it
        let out = render(&office(&extra));
        // Then the warning is there, under a count
        assert!(out.contains(warning), "{given}: {warning:?} in\n{out}");
        assert!(!out.contains("warnings  none"), "{given}");
    }
}
