//! Explore and shrink end to end on real redis-servers, through the binary as a user runs them:
//! explore draws schedules nobody wrote, runs each, writes every one out replayable, and never
//! calls fencepost's own correct lock wrong; shrink cuts a failing run's schedule down to the
//! fault that matters.

use crate::common::*;
use fencepost::scenario::Scenario;
use serde_json::Value;
use std::path::Path;

fn json(path: &Path) -> Value {
    let text = std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    serde_json::from_str(&text).unwrap()
}

#[test]
fn explore_draws_runs_and_replays_schedules_and_blames_nothing_on_a_correct_lock() {
    let results = results_dir("explore");
    let _serial = SERIAL.lock().unwrap_or_else(|p| p.into_inner());
    let out = fencepost()
        .args([
            "explore", "--lock", "single", "--budget", "25s", "--seed", "4",
        ])
        .arg("--results")
        .arg(&*results)
        .output()
        .unwrap();
    let log = text(&out);
    let code = out.status.code();
    let dir = results.join("latest-explore");
    let report = json(&dir.join("explore.json"));
    // The exit code is the report's: 1 with a finding no matrix row shows (physics findings of
    // a lock without fencing are expected), else 3 (fewer than 10 runs judged in 25 s).
    let groups = report["groups"].as_array().unwrap();
    assert_eq!(code, Some(if groups.is_empty() { 3 } else { 1 }), "{log}");
    let runs = report["runs"].as_array().unwrap();
    assert!(runs.len() >= 2, "only {} runs in 25 s: {log}", runs.len());
    for g in groups {
        assert_eq!(
            g["class"], "physics",
            "blame found a wrong answer of fencepost's own single lock under a drawn schedule: {g}"
        );
    }
    for r in runs {
        assert!(
            r["error"].is_null(),
            "run {} could not run: {r}",
            r["number"]
        );
        // Every schedule is an ordinary scenario file, with one to three faults.
        let file = dir.join(r["schedule"].as_str().unwrap());
        let s = Scenario::load(&file).unwrap_or_else(|e| panic!("{e}"));
        assert!((1..=3).contains(&s.nemesis.len()), "{}", file.display());
        assert!(r["words"].as_u64().unwrap() > 0, "{r}");
    }
    assert!(
        !report["growth"].as_array().unwrap().is_empty() && dir.join("growth.png").exists(),
        "the corpus's growth is plotted"
    );
    for f in ["explore.md", "index.html"] {
        assert!(dir.join(f).exists(), "{f} is written");
    }
    assert!(
        runs.iter()
            .any(|r| r["origin"].as_str().unwrap().starts_with("mutant of")),
        "guided explore mutated none of its {} runs' schedules: {log}",
        runs.len()
    );

    // Run 1 replays from its file and seed: the same faults, drawn by nobody.
    let first = &runs[0];
    let file = dir.join(first["schedule"].as_str().unwrap());
    let replay = fencepost()
        .arg("scenario")
        .arg(&file)
        .args(["--seed", &first["seed"].to_string()])
        .arg("--results")
        .arg(&*results)
        .output()
        .unwrap();
    assert!(
        matches!(replay.status.code(), Some(0 | 1 | 3)),
        "{}",
        text(&replay)
    );
    let again = json(&results.join("latest/results.json"));
    assert_eq!(again["faults"], first["faults"], "{}", text(&replay));
}

#[test]
fn shrink_drops_the_fault_that_does_not_matter() {
    let results = results_dir("shrink");
    // A lease paused past its end (a mutual-exclusion violation, physics) beside script
    // flushes that a compare-and-delete lock shrugs off.
    let file = results.join("two-faults.toml");
    std::fs::write(
        &file,
        r#"name = "shrink-me"
[run]
duration = "4s"
clients = 3
[lock]
kind = "single"
ttl = "500ms"
[resource]
fenced = false
[workload]
think_max = "20ms"
[[nemesis]]
kind = "gc-pause"
start = "500ms"
every = "1500ms"
pause = "1200ms"
[[nemesis]]
kind = "script-flush"
target = "all"
start = "300ms"
every = "300ms"
[expect]
mutual_exclusion = "violated"
"#,
    )
    .unwrap();
    let _serial = SERIAL.lock().unwrap_or_else(|p| p.into_inner());
    let run = fencepost()
        .arg("scenario")
        .arg(&file)
        .args(["--seed", "1", "--results"])
        .arg(&*results)
        .output()
        .unwrap();
    assert_eq!(run.status.code(), Some(0), "{}", text(&run));
    let run_dir = std::fs::canonicalize(results.join("latest")).unwrap();
    let out = fencepost()
        .arg("shrink")
        .arg(&run_dir)
        .args([
            "--tries",
            "2",
            "--share",
            "0.5",
            "--candidates",
            "3",
            "--results",
        ])
        .arg(&*results)
        .output()
        .unwrap();
    let log = text(&out);
    assert_eq!(out.status.code(), Some(0), "{log}");
    // The last line of its output names its report.
    let stdout = String::from_utf8_lossy(&out.stdout);
    let md = Path::new(stdout.lines().last().unwrap_or_default().trim());
    assert!(md.ends_with("shrink.md"), "{log}");
    let shrink_dir = md.parent().unwrap().to_path_buf();
    let report = json(&shrink_dir.join("shrink.json"));
    assert_eq!(report["finding"], "mutual_exclusion", "{log}");
    assert_eq!(report["before"]["faults"], 2, "{log}");
    assert_eq!(report["after"]["faults"], 1, "{log}");
    let steps = report["steps"].as_array().unwrap();
    // Without the pause nothing overlaps: that candidate fails; without the flushes it holds.
    assert_eq!(steps[0]["what"], "drop gc-pause (fault 1)", "{log}");
    assert_eq!(steps[0]["kept"], false, "{log}");
    assert_eq!(steps[1]["what"], "drop script-flush (fault 2)", "{log}");
    assert_eq!(steps[1]["kept"], true, "{log}");
    let shrunk = Scenario::load(&shrink_dir.join("shrunk.toml")).unwrap();
    assert_eq!(shrunk.fault_names(), vec!["gc-pause"]);
    assert!(shrink_dir.join("before.png").exists() && shrink_dir.join("after.png").exists());
    assert!(
        report["reproduce"]
            .as_str()
            .unwrap()
            .contains("shrunk.toml --seed 1"),
        "{log}"
    );
}

#[test]
fn explore_stops_when_its_runs_cannot_run_and_says_why() {
    let results = results_dir("explore-broken");
    // fencepost's own single lock as your own adapter, but offered all five nodes: it refuses
    // every run. Explore stops after three, with the adapter's own words.
    let adapter = format!("{} adapter --lock single", env!("CARGO_BIN_EXE_fencepost"));
    let out = fencepost()
        .args(["explore", "--client-command", &adapter, "--budget", "60s"])
        .arg("--results")
        .arg(&*results)
        .output()
        .unwrap();
    let log = text(&out);
    assert_eq!(out.status.code(), Some(2), "{log}");
    assert!(log.contains("3 runs in a row could not run"), "{log}");
    assert!(log.contains("takes 1 node, not 5"), "{log}");
    let report = json(&results.join("latest-explore/explore.json"));
    // Three, and the one already in flight beside the third (--jobs 2).
    let runs = report["runs"].as_array().unwrap().len();
    assert!((3..=4).contains(&runs), "{runs} runs: {log}");
}

/// What explore found on fencepost's own single lock: a strobe of every lock node's clock,
/// faster than the record reads the node's clock, made the key's early expiry inside a release
/// look like the release's own DEL. The clock fault now declares the nodes it bends, and blame
/// does not judge them from the bend until their key settles again.
#[test]
fn a_node_clock_strobe_is_declared_and_blames_nothing_on_a_correct_lock() {
    let results = results_dir("strobe");
    let file = results.join("strobe.toml");
    std::fs::write(
        &file,
        r#"name = "strobe-own-lock"
[run]
duration = "5s"
clients = 4
[lock]
kind = "single"
ttl = "1s"
[resource]
fenced = false
[workload]
think_max = "20ms"
[[nemesis]]
kind = "clock"
target = "all"
fault = "strobe"
offset = "1500ms"
period = "60ms"
hold = "2s"
start = "1s"
every = "10s"
[expect]
blame = "holds"
"#,
    )
    .unwrap();
    let r = run_file(&file, 1, 5_000, &results);
    let history =
        std::fs::read_to_string(std::path::Path::new(&r.run_dir).join("history.jsonl")).unwrap();
    let start = history
        .lines()
        .find(|l| l.contains("\"nemesis\"") && l.contains("\"start\""))
        .expect("the strobe took effect");
    assert!(
        start.contains("\"bends\"") && start.contains("\"n1\""),
        "the clock fault declares the node it bends: {start}"
    );
    let blame = r.checks.get("blame").unwrap();
    assert_eq!(blame.violations, 0, "{:?}", blame.details);
    assert!(
        r.checks.counts.grants >= 20,
        "{} grants",
        r.checks.counts.grants
    );
}
