//! The bench scripts BENCHMARKS.md names, each run in a tiny configuration, so that a command
//! written there keeps working as written: the linearizability table (one size, one client
//! count), the interrupt soak (one run per signal) and external mode against a local fake
//! deployment (one scenario, one seed). Each asserts what its script reports, not only its exit.

use std::path::{Path, PathBuf};
use std::process::Command;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_fencepost")
}

/// `target/<profile>/examples`, next to the folder this test binary runs from.
fn examples_dir() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    exe.parent().unwrap().parent().unwrap().join("examples")
}

fn run(script: &str, args: &[&str], env: &[(&str, String)]) -> (i32, String) {
    let out = Command::new("bash")
        .arg(root().join(script))
        .args(args)
        .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
        .current_dir(root())
        .output()
        .unwrap_or_else(|e| panic!("cannot run {script}: {e}"));
    let text = format!(
        "{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.code().unwrap_or(-1), text)
}

#[test]
fn the_linearizability_table_runs_as_written() {
    let examples = examples_dir();
    assert!(
        examples.join("lin_gen").exists() && examples.join("lin_check").exists(),
        "the checkers examples lin_gen and lin_check are not built in {} (cargo test builds examples; did one fail to compile?)",
        examples.display()
    );
    let dir = crate::common::results_dir("lin-table");
    let (code, out) = run(
        "checkers/benches/lin_table.sh",
        &[dir.to_str().unwrap(), bin(), "check"],
        &[
            ("FENCEPOST_LIN_SIZES", "1k".into()),
            ("FENCEPOST_LIN_CLIENTS", "5".into()),
            ("FENCEPOST_LIN_EXAMPLES", examples.display().to_string()),
        ],
    );
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("| 1k | 5 | good | ok (0) |"), "{out}");
    assert!(out.contains("| 1k | 5 | bad | illegal (1) |"), "{out}");
    // The library alone, as the script's header offers.
    let lin_check = examples.join("lin_check");
    let (code, out) = run(
        "checkers/benches/lin_table.sh",
        &[dir.to_str().unwrap(), lin_check.to_str().unwrap()],
        &[
            ("FENCEPOST_LIN_SIZES", "1k".into()),
            ("FENCEPOST_LIN_CLIENTS", "5".into()),
            ("FENCEPOST_LIN_EXAMPLES", examples.display().to_string()),
        ],
    );
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("| 1k | 5 | bad | illegal (1) |"), "{out}");
}

#[test]
fn the_interrupt_soak_runs_as_written() {
    let (code, out) = run("scripts/interrupt-soak.sh", &[bin(), "1", "1", "1"], &[]);
    let (_, left, unreadable) = soak_summary(&out);
    assert_eq!((left, unreadable), (0, 0), "{out}");
    assert_eq!(code, 0, "{out}");
}

/// The soak's summary: (processes checked, runs that left a process, unreadable histories).
fn soak_summary(out: &str) -> (u64, u64, u64) {
    let line = out
        .lines()
        .find(|l| l.starts_with("runs: 3, processes checked: "))
        .unwrap_or_else(|| panic!("no summary line: {out}"));
    let n: Vec<u64> = line
        .split(|c: char| !c.is_ascii_digit())
        .filter_map(|w| w.parse().ok())
        .collect();
    (n[1], n[2], n[3])
}

#[test]
fn the_interrupt_soak_with_client_processes_runs_as_written() {
    // Interrupted 2 s in or later, each run has its node(s) and its five client processes.
    let (code, out) = run(
        "scripts/interrupt-soak.sh",
        &[bin(), "1", "1", "1"],
        &[
            ("FENCEPOST_SOAK_ARGS", "--client fencepost-single".into()),
            ("FENCEPOST_SOAK_MIN_MS", "2000".into()),
        ],
    );
    let (checked, left, unreadable) = soak_summary(&out);
    assert!(checked >= 3 * 6, "node and client PIDs checked: {out}");
    assert_eq!((left, unreadable), (0, 0), "{out}");
    assert_eq!(code, 0, "{out}");
}

#[test]
fn external_mode_runs_as_written() {
    let (code, out) = run("scripts/external-local.sh", &[bin(), "1", "partition"], &[]);
    assert!(out.contains("partition seed 1: exit 0"), "{out}");
    assert!(
        out.contains("proxies left on the Toxiproxy server: {}"),
        "{out}"
    );
    assert_eq!(code, 0, "{out}");
}
