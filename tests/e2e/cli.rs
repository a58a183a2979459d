//! `sobre check` and `sobre --version`, as an integrator runs them.

use std::process::Command;

fn sobre(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_sobre")).args(args).output().expect("run sobre");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into(),
        String::from_utf8_lossy(&out.stderr).into(),
    )
}

#[test]
fn check_summarises_a_valid_config() {
    let example = concat!(env!("CARGO_MANIFEST_DIR"), "/../config/example.toml");
    let (code, out, err) = sobre(&["check", example]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("is valid"), "{out}");
    assert!(out.contains("ecole-jaures") && out.contains("points    7"), "{out}");
    assert!(out.contains("main_elec") && out.contains("tasmota /ENERGY/Total"), "{out}");
}

#[test]
fn check_names_the_key_the_value_and_the_fix() {
    let dir = tempfile::tempdir().expect("tempdir");
    let table = [
        ("unknown key", "[site]\nid = \"s\"\ntimezone = \"UTC\"\ncolour = \"red\"\n", "colour"),
        ("not TOML", "[site\n", "TOML parse error"),
        (
            "bad unit",
            "[site]\nid = \"s\"\ntimezone = \"UTC\"\n[[points]]\nid = \"t\"\nkind = \"zone_temperature\"\nunit = \"kWh\"\ntopic = \"x\"\n",
            "points[0].unit: found \"kWh\"; a zone_temperature point accepts °C, °F, K",
        ),
    ];
    for (name, text, fragment) in table {
        let path = dir.path().join("broken.toml");
        std::fs::write(&path, text).expect("write");
        let (code, _, err) = sobre(&["check", path.to_str().expect("utf-8 path")]);
        assert_eq!(code, 2, "{name}: {err}");
        assert!(err.contains(fragment), "{name}: {err}");
    }
    let (code, _, err) = sobre(&["check", "/nonexistent/sobre.toml"]);
    assert_eq!(code, 2);
    assert!(err.contains("cannot read /nonexistent/sobre.toml"), "{err}");
}

#[test]
fn version_is_printed() {
    let (code, out, _) = sobre(&["--version"]);
    assert_eq!(code, 0);
    assert_eq!(out.trim(), format!("sobre {}", env!("CARGO_PKG_VERSION")));
}
