//! A run judged as a long run, on real redis-server processes: the status line counts
//! violations live (the recorder keeps no ops, a streaming checker is fed as they are written),
//! and a history over the whole-history limit is judged by the checkers that stream, the others
//! saying why they did not judge. The limit is lowered so that a few seconds are "long".
//!
//! Run: `cargo test -p fencepost --test long_run`.

use std::process::Command;

#[test]
fn gc_pause_judged_as_a_long_run_meets_its_expectations_and_counts_violations_live() {
    let results = std::env::temp_dir().join(format!("fencepost-long-run-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&results);
    let out = Command::new(env!("CARGO_BIN_EXE_fencepost"))
        .current_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/.."))
        .env("FENCEPOST_WHOLE_HISTORY_OPS", "3000")
        .args([
            "scenario",
            "gc-pause",
            "--duration",
            "6s",
            "--status",
            "--results",
        ])
        .arg(&results)
        .output()
        .expect("fencepost runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stdout}\n{stderr}");
    // The live count: the last status line's violations.
    let live: u64 = stderr
        .rsplit("violations ")
        .next()
        .and_then(|s| s.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no status line with violations: {stderr}"));
    assert!(live > 0, "the status line counted no violation: {stderr}");
    assert!(stdout.contains("mutual exclusion: **invalid**"), "{stdout}");
    assert!(stdout.contains("double grant: **valid**"), "{stdout}");
    assert!(
        stdout.contains("not judged: this checker reads a history whole"),
        "{stdout}"
    );
    let run = std::fs::read_link(results.join("latest")).unwrap();
    let dir = results.join(run);
    for f in ["timeline.png", "timeline-zoom.png", "index.html"] {
        assert!(dir.join(f).exists(), "{f}");
    }
    let _ = std::fs::remove_dir_all(&results);
}

#[test]
fn a_bad_whole_history_limit_is_an_error_not_a_default() {
    let out = Command::new(env!("CARGO_BIN_EXE_fencepost"))
        .env("FENCEPOST_WHOLE_HISTORY_OPS", "lots")
        .args(["check", "/nonexistent-run"])
        .output()
        .expect("fencepost runs");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("FENCEPOST_WHOLE_HISTORY_OPS=\"lots\" is not a number of ops"),
        "{stderr}"
    );
    assert!(!stderr.contains("panicked"), "{stderr}");
}

/// The checks of a saved run's results.json with these ids: (id, verdict, violations, headline).
fn checks_of(dir: &std::path::Path, ids: &[&str]) -> Vec<(String, String, u64, String)> {
    let text = std::fs::read_to_string(dir.join("results.json")).expect("results.json");
    let json: serde_json::Value = serde_json::from_str(&text).expect("results.json is JSON");
    json["checks"]["checks"]
        .as_array()
        .expect("a list of checks")
        .iter()
        .filter(|c| ids.contains(&c["id"].as_str().unwrap_or("")))
        .map(|c| {
            (
                c["id"].as_str().unwrap_or("").to_string(),
                c["verdict"].to_string(),
                c["violations"].as_u64().unwrap_or(u64::MAX),
                c["headline"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect()
}

/// Counters, rate windows and delivery stream: a run judged as a long run gives the verdicts,
/// counts and headlines the same run judged whole gives (`fencepost check` re-judges the saved
/// folder with the default limit, keeping the history whole).
#[test]
fn counters_windows_and_delivery_judged_as_they_stream_equal_the_whole_history_judgement() {
    for (scenario, ids) in [
        ("counter-rmw", &["counter", "mutual_exclusion"][..]),
        ("limiter-fixed", &["rate_window"][..]),
        (
            "pubsub-disconnect",
            &["message_loss", "message_duplication", "message_order"][..],
        ),
    ] {
        let results = std::env::temp_dir().join(format!(
            "fencepost-streamed-{scenario}-{}",
            std::process::id()
        ));
        let _ = std::fs::remove_dir_all(&results);
        let out = Command::new(env!("CARGO_BIN_EXE_fencepost"))
            .current_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/.."))
            .env("FENCEPOST_WHOLE_HISTORY_OPS", "100")
            .args(["scenario", scenario, "--duration", "4s", "--results"])
            .arg(&results)
            .output()
            .expect("fencepost runs");
        let stdout = String::from_utf8_lossy(&out.stdout);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(0), "{scenario}: {stdout}\n{stderr}");
        let run = std::fs::read_link(results.join("latest")).unwrap();
        let dir = results.join(run);
        let text = std::fs::read_to_string(dir.join("results.json")).expect("results.json");
        let json: serde_json::Value = serde_json::from_str(&text).expect("JSON");
        let calls = json["checks"]["counts"]["invocations"]
            .as_u64()
            .unwrap_or(0);
        // Each call is two ops.
        assert!(
            calls > 50,
            "{scenario}: {calls} calls is not past the limit of 100 ops"
        );
        let streamed = checks_of(&dir, ids);
        assert_eq!(streamed.len(), ids.len(), "{scenario}: {streamed:?}");
        for (id, verdict, _, headline) in &streamed {
            assert!(
                verdict == "\"invalid\"" || verdict == "\"valid\"",
                "{scenario}: {id} was not judged as it streamed: {verdict} {headline}"
            );
        }
        let whole = Command::new(env!("CARGO_BIN_EXE_fencepost"))
            .args(["check"])
            .arg(&dir)
            .output()
            .expect("fencepost check runs");
        assert!(
            whole.status.code().is_some_and(|c| c <= 1),
            "{scenario}: {}",
            String::from_utf8_lossy(&whole.stderr)
        );
        assert_eq!(checks_of(&dir, ids), streamed, "{scenario}");
        let _ = std::fs::remove_dir_all(&results);
    }
}
