//! No verdict without evidence, end to end: a run that did almost nothing, or whose faults never
//! took effect, is `unknown` (exit 3) — never met; an override that makes a scenario impossible
//! is refused before anything starts.

use crate::common::*;

#[test]
fn a_run_too_short_to_show_anything_is_unknown_not_met() {
    let results = results_dir("too-short");
    // gc-pause's first pause (at 1 s) cannot happen in 200 ms: refused before anything starts.
    let out = fencepost()
        .args(["scenario", "gc-pause", "--duration", "200ms", "--results"])
        .arg(&results)
        .output()
        .unwrap();
    let t = text(&out);
    assert_eq!(out.status.code(), Some(2), "{t}");
    assert!(t.contains("at or after the end of the run"), "{t}");
    for scenario in ["baseline", "limiter-sliding"] {
        let _serial = SERIAL.lock().unwrap_or_else(|p| p.into_inner());
        let out = fencepost()
            .args(["scenario", scenario, "--duration", "200ms", "--results"])
            .arg(&results)
            .output()
            .unwrap();
        let t = text(&out);
        assert_eq!(out.status.code(), Some(3), "{scenario}: {t}");
        assert!(
            t.contains("UNKNOWN (not enough evidence)"),
            "{scenario}: {t}"
        );
    }
}

#[test]
fn a_failover_that_never_happened_is_a_failed_injection_and_the_run_unknown() {
    // Sentinel waits 30 s before it calls the primary down; the primary is stopped for 2 s.
    let results = results_dir("no-failover");
    let text = std::fs::read_to_string(scenario("failover-counter"))
        .unwrap()
        .replace("down_after = \"1000ms\"", "down_after = \"30s\"")
        .replace("start = \"3s\"", "start = \"500ms\"")
        .replace("lead = \"1s\"", "lead = \"200ms\"")
        .replace("pause = \"4s\"", "pause = \"2s\"");
    let file = results.join("failover-never.toml");
    std::fs::write(&file, text).unwrap();
    let r = run_file(&file, 1, 5_000, &results);
    assert_eq!(r.exit_code(), 3, "{}", r.summary());
    assert_eq!(
        r.checks.faults.took_effect.get("failover"),
        None,
        "{}",
        r.summary()
    );
    assert_eq!(
        r.checks.faults.failed.get("failover"),
        Some(&1),
        "{}",
        r.summary()
    );
    assert!(
        r.summary().contains("no Sentinel named n2 primary"),
        "{}",
        r.summary()
    );
    // The failed injection left no fault window: the history claims no failover.
    let history =
        std::fs::read_to_string(std::path::Path::new(&r.run_dir).join("history.jsonl")).unwrap();
    assert!(
        history.contains("\"type\":\"fail\",\"f\":\"start\""),
        "a failed nemesis op"
    );
}

#[test]
fn overrides_are_validated_like_the_file() {
    let results = results_dir("bad-override");
    let out = fencepost()
        .args(["scenario", "counter-rmw", "--lock", "redlock", "--results"])
        .arg(&results)
        .output()
        .unwrap();
    let t = text(&out);
    assert_eq!(out.status.code(), Some(2), "{t}");
    assert!(
        t.contains("rmw-counter") && t.contains("with --lock redlock"),
        "{t}"
    );
    assert!(t.contains("counter-rmw.toml:"), "names the file: {t}");
    let out = fencepost()
        .args(["scenario", "baseline", "--duration", "0s", "--results"])
        .arg(&results)
        .output()
        .unwrap();
    let t = text(&out);
    assert_eq!(out.status.code(), Some(2), "{t}");
    assert!(
        t.contains("duration must be > 0") && t.contains("with --duration 0s"),
        "{t}"
    );
}
