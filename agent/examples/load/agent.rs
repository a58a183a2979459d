//! `sobre run` as a child process, with what `/proc` says about it: CPU time and memory.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Instant;

pub struct Agent {
    child: Child,
    pub db: PathBuf,
    /// When the process was spawned.
    pub started: Instant,
}

/// The environment the systemd unit gives the agent on the box (its `Environment=` lines, e.g.
/// glibc's allocator settings), so that the figures are the box's.
const UNIT: &str = include_str!("../../../deploy/sobre.service");

fn unit_environment() -> impl Iterator<Item = (&'static str, &'static str)> {
    UNIT.lines().filter_map(|line| line.strip_prefix("Environment=")?.split_once('='))
}

/// A config of `points` JSON points on `load/p<i>`, each stamped by its payload; the local page
/// on a free port, so that runs side by side do not collide.
pub fn config(port: u16, db: &Path, points: u64) -> String {
    let mut config =
        format!("[site]\nid = \"load\"\ntimezone = \"UTC\"\n[broker]\nport = {port}\n[storage]\npath = {db:?}\n[web]\nlisten = \"127.0.0.1:0\"\n");
    for p in 0..points {
        config.push_str(&format!(
            "[[points]]\nid = \"p{p}\"\nkind = \"zone_temperature\"\nunit = \"°C\"\ntopic = \"load/p{p}\"\ndecode = {{ format = \"json\", pointer = \"/value\", timestamp = \"/ts\" }}\n"
        ));
    }
    config
}

impl Agent {
    pub fn start(sobre: &Path, dir: &Path, port: u16, points: u64) -> Result<Self, Box<dyn std::error::Error>> {
        let db = dir.join("load.db");
        let config_path = dir.join("load.toml");
        std::fs::write(&config_path, config(port, &db, points))?;
        let started = Instant::now();
        let child = Command::new(sobre)
            .args(["run", "-c"])
            .arg(&config_path)
            .envs(unit_environment())
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .spawn()
            .map_err(|e| format!("cannot start {}: {e} (cargo build --release first)", sobre.display()))?;
        Ok(Agent { child, db, started })
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Readings committed to the store.
    pub fn stored(&self) -> u64 {
        rusqlite::Connection::open_with_flags(&self.db, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
            .and_then(|c| c.query_row("SELECT count(*) FROM readings", [], |r| r.get(0)))
            .unwrap_or(0)
    }

    /// Gives the store a past before the run: `per_point` readings of every point, one every
    /// `every_s` seconds, ending a day before now, and the rollup rows of the week before
    /// them, written straight into SQLite (the agent is running, so its points are registered):
    /// the tables then have the size and depth of a store that has run for a while, each
    /// point's rollups spanning several pages.
    pub fn fill_history(&self, per_point: u64, every_s: u64) -> Result<(), Box<dyn std::error::Error>> {
        let mut conn = rusqlite::Connection::open(&self.db)?;
        conn.busy_timeout(std::time::Duration::from_secs(30))?;
        let keys: Vec<i64> = conn
            .prepare("SELECT key FROM points ORDER BY key")?
            .query_map([], |r| r.get(0))?
            .collect::<Result<_, _>>()?;
        let every_ms = i64::try_from(every_s * 1000)?;
        let per_point = i64::try_from(per_point)?;
        let end_ms = chrono::Utc::now().timestamp_millis() - 86_400_000;
        let tx = conn.transaction()?;
        {
            let mut insert = tx.prepare("INSERT OR IGNORE INTO readings (point, ts, value) VALUES (?1, ?2, ?3)")?;
            // In the order of time, as the agent writes them.
            for i in 0..per_point {
                for &key in &keys {
                    insert.execute((key, end_ms - (per_point - i) * every_ms, 20.0 + (i % 7) as f64 / 10.0))?;
                }
            }
        }
        {
            let mut insert = tx.prepare(
                "INSERT OR IGNORE INTO rollups (point, resolution, bucket, label, n, sum, min, max)
                 VALUES (?1, ?2, ?3, ?4, 90, 1800.0, 19.5, 20.5)",
            )?;
            let week_ends = end_ms - per_point * every_ms;
            let week_ends = week_ends - week_ends.rem_euclid(86_400_000);
            let week_starts = week_ends - 7 * 86_400_000;
            // The resolutions, their spans and labels, as the agent's store has them (UTC site);
            // the week lies in one month row.
            let resolutions: [(&str, i64, &str); 4] = [
                ("15m", 900_000, "%Y-%m-%dT%H:%MZ"),
                ("1h", 3_600_000, "%Y-%m-%dT%H:%MZ"),
                ("1d", 86_400_000, "%Y-%m-%d"),
                ("1mo", 7 * 86_400_000, "%Y-%m"),
            ];
            for key in keys {
                for (resolution, span_ms, label) in resolutions {
                    for bucket in (week_starts..week_ends).step_by(usize::try_from(span_ms)?) {
                        let at = chrono::DateTime::from_timestamp_millis(bucket).ok_or("a bucket out of range")?;
                        insert.execute((key, resolution, bucket, at.format(label).to_string()))?;
                    }
                }
            }
        }
        tx.commit()?;
        Ok(())
    }

    /// Bytes the agent has had written to the disk so far (`write_bytes` of `/proc/<pid>/io`,
    /// counted when it dirties the pages: its WAL and database writes).
    pub fn disk_written(&self) -> u64 {
        std::fs::read_to_string(format!("/proc/{}/io", self.pid()))
            .ok()
            .and_then(|io| io.lines().find_map(|l| l.strip_prefix("write_bytes:")?.trim().parse().ok()))
            .unwrap_or(0)
    }

    /// User and system CPU time of all its threads so far, in seconds (`/proc/<pid>/stat`).
    pub fn cpu_s(&self) -> f64 {
        let ticks_per_s = 100.0; // USER_HZ, 100 on every Linux this runs on
        std::fs::read_to_string(format!("/proc/{}/stat", self.pid()))
            .ok()
            .and_then(|stat| {
                // The fields after the command's name (which may hold spaces), in brackets.
                let rest = stat.rsplit_once(')')?.1;
                let fields: Vec<&str> = rest.split_whitespace().collect();
                let utime: f64 = fields.get(11)?.parse().ok()?;
                let stime: f64 = fields.get(12)?.parse().ok()?;
                Some((utime + stime) / ticks_per_s)
            })
            .unwrap_or(0.0)
    }

    /// A field of `/proc/<pid>/status` in KiB (VmRSS, VmHWM, RssAnon, RssFile).
    pub fn kib(&self, field: &str) -> u64 {
        std::fs::read_to_string(format!("/proc/{}/status", self.pid()))
            .ok()
            .and_then(|s| {
                s.lines()
                    .find(|l| l.strip_prefix(field).is_some_and(|r| r.starts_with(':')))
                    .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
            })
            .unwrap_or(0)
    }
}

impl Drop for Agent {
    fn drop(&mut self) {
        let _ = Command::new("kill").args(["-TERM", &self.pid().to_string()]).status();
        let _ = self.child.wait();
    }
}
