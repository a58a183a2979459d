//! `deploy/sobre.service` as systemd judges it, in a scratch root holding the unit as shipped,
//! an executable where the unit runs the binary, and the system's own units: `systemd-analyze
//! security` rates its exposure "OK" or better, and `systemd-analyze verify` finds nothing to
//! say. Skipped, with the reason printed, where systemd-analyze is missing or too old.

use std::path::Path;
use std::process::{Command, Output};

const UNIT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../deploy/sobre.service");
/// systemd-analyze rates an exposure of 5.0 and above "MEDIUM"; below it, "OK".
const MEDIUM: f64 = 5.0;
/// `security --offline` came with systemd 250.
const OFFLINE_SINCE: u32 = 250;

/// systemd-analyze's version, or why the test cannot run.
fn systemd_analyze() -> Result<u32, String> {
    let out = Command::new("systemd-analyze")
        .arg("--version")
        .output()
        .map_err(|e| format!("systemd-analyze is not installed ({e})"))?;
    let text = String::from_utf8_lossy(&out.stdout);
    // "systemd 252 (252.38-1~deb12u1)"
    let version = text.split_whitespace().nth(1).and_then(|v| v.parse::<u32>().ok());
    match version {
        Some(v) if v >= OFFLINE_SINCE => Ok(v),
        Some(v) => Err(format!("systemd-analyze {v} is older than {OFFLINE_SINCE}: no `security --offline`")),
        None => Err(format!("cannot read systemd-analyze's version from {text:?}")),
    }
}

fn analyze(root: &Path, args: &[&str]) -> Output {
    crate::support::output(
        Command::new("systemd-analyze").args(args).arg(format!("--root={}", root.display())).arg("sobre.service"),
        "systemd-analyze",
    )
}

/// A root with the unit where an operator installs it, an executable where it runs the binary,
/// and the units it depends on (multi-user.target, network-online.target, …) from the host.
fn scratch_root() -> tempfile::TempDir {
    let root = tempfile::tempdir().expect("tempdir");
    let unit_dir = root.path().join("etc/systemd/system");
    let bin_dir = root.path().join("usr/bin");
    std::fs::create_dir_all(&unit_dir).expect("unit folder");
    std::fs::create_dir_all(&bin_dir).expect("binary folder");
    std::fs::copy(UNIT, unit_dir.join("sobre.service")).expect("copy the unit as shipped");
    // verify asks only that the unit's commands be executables there (the debug build would
    // be a 180 MB copy): a stand-in does.
    let binary = bin_dir.join("sobre");
    std::fs::write(&binary, "#!/bin/sh\nexit 0\n").expect("a stand-in for the binary");
    std::fs::set_permissions(&binary, std::os::unix::fs::PermissionsExt::from_mode(0o755)).expect("chmod");
    for system in ["/usr/lib/systemd/system", "/lib/systemd/system"] {
        let system = Path::new(system);
        if system.is_dir() && !system.is_symlink() {
            let into = root.path().join(system.strip_prefix("/").expect("absolute"));
            std::fs::create_dir_all(into.parent().expect("a parent")).expect("system unit folder");
            let copied = Command::new("cp").arg("-r").arg(system).arg(&into).status().expect("cp");
            assert!(copied.success(), "copy {}", system.display());
            break;
        }
    }
    root
}

#[test]
fn the_shipped_unit_is_rated_ok_by_systemd_analyze_security_and_verifies_clean() {
    let version = match systemd_analyze() {
        Ok(v) => v,
        Err(why) => {
            println!("skipped: {why}");
            return;
        }
    };
    // Given the unit as shipped, installed in a scratch root
    let root = scratch_root();
    // When systemd-analyze rates what the service could do if taken over
    let out = analyze(root.path(), &["security", "--offline=true"]);
    let text = String::from_utf8_lossy(&out.stdout);
    // Then its overall exposure is below "MEDIUM"
    let overall = text.lines().find(|l| l.contains("Overall exposure level")).unwrap_or_else(|| {
        panic!("no overall exposure from systemd-analyze {version}: {text}{}", String::from_utf8_lossy(&out.stderr))
    });
    println!("systemd {version}: {overall}");
    let exposure: f64 = overall
        .split(": ")
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("cannot read the exposure in {overall:?}"));
    assert!(exposure < MEDIUM, "exposure {exposure} is not OK:\n{text}");
    // When systemd checks the unit, Then it has nothing to say
    let out = analyze(root.path(), &["verify"]);
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success() && said.trim().is_empty(), "systemd-analyze verify:\n{said}");
}
