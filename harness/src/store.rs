//! The results store: one folder per run, `results/<scenario>/<run-id>/`, and `results/latest`.
//!
//! Run ids carry the start time, the seed and the process id, and folders are created with
//! `create_dir` (never reused), so two fencepost runs at the same time never share a folder.

use anyhow::Context;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

pub const HISTORY: &str = "history.jsonl";
pub const RESOURCE: &str = "resource.json";
pub const RUN_META: &str = "run.json";
pub const SCENARIO: &str = "scenario.toml";
pub const RESULTS: &str = "results.json";
pub const SUMMARY: &str = "summary.md";
/// Name, port and PID of every node (no secrets), for diagnosis and cleanup checks.
pub const NODES: &str = "nodes.json";
/// What a client process loaded (library, version): runs with `[client]` only.
pub const CLIENT: &str = "client.json";
/// The server the nodes ran: kind, version, source, binary and its SHA-256.
pub const SERVER: &str = "server.json";
/// The lock nodes' own record of the lock keys (their replication stream), journaled.
pub const NODE_EVENTS: &str = "node-events.jsonl";
/// Which lock nodes the clients were given and which keys the taps watched.
pub const TAPS: &str = "taps.json";
/// The client adapter's protocol violations, journaled as they happen (in `clients/`).
pub const PROTOCOL_JOURNAL: &str = "protocol.jsonl";
/// A suite folder's whole report.
pub const SUITE_JSON: &str = "suite.json";

/// What the taps watched: the lock nodes the clients were given, and the lock keys.
#[derive(Serialize, Deserialize)]
pub struct TapsMeta {
    pub nodes: Vec<String>,
    pub keys: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub markers: Vec<String>,
}

/// What the adapter loaded and can do.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct Supports {
    #[serde(default)]
    pub acquire: bool,
    #[serde(default)]
    pub release: bool,
    #[serde(default)]
    pub extend: bool,
    #[serde(default)]
    pub held: bool,
    #[serde(default)]
    pub auto_renewal: bool,
    #[serde(default)]
    pub fencing_token: bool,
    #[serde(default)]
    pub validity: bool,
    /// Honours `abandon_after_ms` on acquire, extend and release (the call-abandon fault).
    #[serde(default)]
    pub abandon: bool,
    /// Answers `starve` (the loop-starve fault).
    #[serde(default)]
    pub starve: bool,
}

/// The adapter's hello, as the run records it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct ClientInfo {
    pub library: String,
    #[serde(default)]
    pub package: String,
    pub version: String,
    #[serde(default)]
    pub runtime: String,
    pub lock_keys: Vec<String>,
    /// Members of a sorted-set lease that mark the lock's mode rather than a holder (Symfony's
    /// `__write__`, scored like the token beside it): the nodes' record leaves them out.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub lock_markers: Vec<String>,
    pub supports: Supports,
}

/// One protocol violation of a client adapter, as journaled.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Violation {
    /// When (the history's clock).
    pub time_ns: u64,
    /// The client slot and the op asked.
    pub slot: u32,
    pub op: String,
    /// How many violations in a row this slot has had, this one included.
    pub in_a_row: u32,
    /// What was wrong (clipped).
    pub error: String,
}

/// What is known about a run before it starts (written first, so a killed run still has it).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RunMeta {
    pub scenario: String,
    pub scenario_file: String,
    pub seed: u64,
    pub run_id: String,
    /// Unix seconds at start.
    pub started_unix_s: u64,
    pub fencepost_version: String,
    /// The command that replays this run's schedule.
    pub reproduce: String,
}

/// `20261125T101500Z`, from the system clock (for names only; never for ordering ops).
pub fn utc_stamp(unix_s: u64) -> String {
    let days = (unix_s / 86_400) as i64;
    let secs = unix_s % 86_400;
    // Civil-from-days (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}{m:02}{d:02}T{:02}{:02}{:02}Z",
        secs / 3600,
        secs % 3600 / 60,
        secs % 60
    )
}

pub fn unix_now_s() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// Creates the run folder; never reuses one.
pub fn create_run_dir(
    results: &Path,
    scenario: &str,
    seed: u64,
) -> anyhow::Result<(String, PathBuf)> {
    let parent = results.join(scenario);
    std::fs::create_dir_all(&parent).with_context(|| {
        format!(
            "cannot create the results folder {}; check it is writable",
            parent.display()
        )
    })?;
    let stamp = utc_stamp(unix_now_s());
    for n in 0.. {
        let suffix = if n == 0 {
            String::new()
        } else {
            format!("-{n}")
        };
        let run_id = format!("{stamp}-seed{seed}-p{}{suffix}", std::process::id());
        let dir = parent.join(&run_id);
        match std::fs::create_dir(&dir) {
            Ok(()) => return Ok((run_id, dir)),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(e).with_context(|| format!("cannot create {}", dir.display())),
        }
    }
    unreachable!()
}

/// Points `results/latest` at a run folder (atomically replaced).
pub fn update_latest(results: &Path, run_dir: &Path) -> std::io::Result<()> {
    let target = run_dir.strip_prefix(results).unwrap_or(run_dir);
    let tmp = results.join(format!(".latest-{}", std::process::id()));
    let _ = std::fs::remove_file(&tmp);
    std::os::unix::fs::symlink(target, &tmp)?;
    std::fs::rename(&tmp, results.join("latest"))
}

/// Writes `value` as pretty JSON through a buffer: no copy of the text is held in memory (an
/// hour's resource log is hundreds of megabytes of it).
pub fn write_json(path: &Path, value: &impl Serialize) -> anyhow::Result<()> {
    use std::io::Write;
    let write = || -> std::io::Result<()> {
        let mut out = std::io::BufWriter::new(std::fs::File::create(path)?);
        serde_json::to_writer_pretty(&mut out, value)?;
        out.write_all(b"\n")?;
        out.flush()
    };
    write().with_context(|| format!("cannot write {}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stamps_are_utc_calendar_times() {
        assert_eq!(utc_stamp(0), "19700101T000000Z");
        assert_eq!(utc_stamp(951_782_400), "20000229T000000Z");
        assert_eq!(utc_stamp(1_764_064_800), "20251125T100000Z");
    }
}
