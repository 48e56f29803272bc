//! The binary as users meet it: exit codes, clear errors, Ctrl-C cleanup.

use crate::common::*;
use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

#[test]
fn missing_redis_server_exits_2_with_the_install_line() {
    let results = results_dir("missing-redis");
    let out = fencepost()
        .args(["scenario", "baseline", "--results"])
        .arg(&results)
        .env("PATH", "/nonexistent")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("apt-get install redis-server"), "{err}");
    assert!(!err.contains("panicked"), "{err}");
}

#[test]
fn bad_scenario_file_exits_2_naming_file_and_line() {
    let dir = results_dir("bad-scenario");
    let file = dir.join("typo.toml");
    let text = std::fs::read_to_string(scenario("baseline"))
        .unwrap()
        .replace("clients = 5", "clients = 5\nclinets = 3");
    std::fs::write(&file, text).unwrap();
    let out = fencepost()
        .arg("scenario")
        .arg(&file)
        .arg("--results")
        .arg(&dir)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("typo.toml:"), "{err}");
    assert!(err.contains("clinets"), "{err}");
}

#[test]
fn unknown_scenario_name_exits_2() {
    let out = fencepost()
        .args(["scenario", "no-such-scenario"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no-such-scenario.toml"));
}

#[test]
fn sigint_stops_the_run_kills_its_nodes_and_leaves_a_checkable_history() {
    let _serial = SERIAL.lock().unwrap_or_else(|p| p.into_inner());
    let (mut child, run_dir, nodes, _results) = start_run("sigint");
    assert!(
        nodes.iter().all(|n| n.pid.is_some_and(alive)),
        "nodes should be running mid-run"
    );

    unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(130), "interrupted runs exit 130");
    for n in &nodes {
        assert!(
            !alive(n.pid.unwrap()),
            "redis-server {} (pid {:?}) outlived the run",
            n.name,
            n.pid
        );
    }

    let out = fencepost().arg("check").arg(&run_dir).output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert_partial_verdict(
        out.status.code(),
        &text,
        &String::from_utf8_lossy(&out.stderr),
    );
    assert!(text.contains("interrupted"), "{text}");
}

/// `fencepost check` of a partial history reads it (never exit 2) and, unless some checker
/// found a violation in it, says it cannot tell (exit 3): a check that found nothing in part of
/// a run proves nothing.
fn assert_partial_verdict(code: Option<i32>, text: &str, stderr: &str) {
    assert!(matches!(code, Some(0 | 1 | 3)), "{text}{stderr}");
    if !text.contains("**invalid**") {
        assert_eq!(code, Some(3), "no violation found in a partial run: {text}");
    }
}

/// Starts a gc-pause run, waits until its nodes are up and it has run a while; returns the child
/// and the run folder.
fn start_run(
    tag: &str,
) -> (
    std::process::Child,
    std::path::PathBuf,
    Vec<fencepost::nodes::NodeInfo>,
    crate::common::TestDir,
) {
    start_scenario(tag, "gc-pause")
}

/// [`start_run`] for any scenario.
fn start_scenario(
    tag: &str,
    scenario: &str,
) -> (
    std::process::Child,
    std::path::PathBuf,
    Vec<fencepost::nodes::NodeInfo>,
    crate::common::TestDir,
) {
    let results = results_dir(tag);
    let child = fencepost()
        .args(["scenario", scenario, "--seed", "5", "--results"])
        .arg(&results)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let nodes_file = || {
        std::fs::read_dir(results.join(scenario))
            .ok()?
            .flatten()
            .map(|e| e.path().join("nodes.json"))
            .find(|p| p.exists())
    };
    let mut waited = 0;
    while nodes_file().is_none() && waited < 100 {
        std::thread::sleep(Duration::from_millis(100));
        waited += 1;
    }
    let nodes_path = nodes_file().expect("the run never started its nodes");
    std::thread::sleep(Duration::from_millis(1200));
    let nodes = serde_json::from_str(&std::fs::read_to_string(&nodes_path).unwrap()).unwrap();
    (
        child,
        nodes_path.parent().unwrap().to_path_buf(),
        nodes,
        results,
    )
}

#[test]
fn sigkill_leaves_no_node_behind_and_the_history_reads_up_to_the_last_line() {
    let _serial = SERIAL.lock().unwrap_or_else(|p| p.into_inner());
    let (mut child, run_dir, nodes, _results) = start_run("sigkill");
    unsafe { libc::kill(child.id() as i32, libc::SIGKILL) };
    let _ = child.wait();
    // The parent-death signal ends the nodes; give the kernel a moment.
    std::thread::sleep(Duration::from_millis(300));
    for n in &nodes {
        assert!(
            !alive(n.pid.unwrap()),
            "redis-server {} outlived a SIGKILLed fencepost",
            n.name
        );
    }
    let out = fencepost().arg("check").arg(&run_dir).output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert_partial_verdict(
        out.status.code(),
        &text,
        &String::from_utf8_lossy(&out.stderr),
    );
    assert!(
        text.contains("no resource log was saved"),
        "the resource checkers must say unknown: {text}"
    );
    assert!(text.contains("interrupted"), "{text}");
}

/// A Redis Cluster run: six redis-servers in namespaces of their own, a veth into them. After
/// SIGINT, and after SIGKILL (where no cleanup code runs), none of it is left.
#[test]
fn sigint_and_sigkill_of_a_cluster_run_leave_no_node_and_no_network() {
    let _serial = SERIAL.lock().unwrap_or_else(|p| p.into_inner());
    let veths = |pid: u32| {
        let out = std::process::Command::new("ip")
            .args(["-o", "link", "show"])
            .output()
            .expect("`ip` runs (iproute2)");
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter(|l| l.contains(&format!(": fp{pid}x")))
            .count()
    };
    for (tag, signal) in [
        ("cluster-sigint", libc::SIGINT),
        ("cluster-sigkill", libc::SIGKILL),
    ] {
        let (mut child, _run_dir, nodes, _results) = start_scenario(tag, "cluster-lock");
        let pid = child.id();
        assert_eq!(
            nodes.iter().filter(|n| n.host.is_some()).count(),
            6,
            "{nodes:?}"
        );
        assert!(nodes.iter().all(|n| n.pid.is_some_and(alive)), "{nodes:?}");
        assert_eq!(veths(pid), 1, "{tag}: the run's veth while it runs");
        unsafe { libc::kill(pid as i32, signal) };
        let _ = child.wait();
        std::thread::sleep(Duration::from_millis(300));
        for n in &nodes {
            assert!(
                !alive(n.pid.unwrap()),
                "{tag}: {} outlived fencepost",
                n.name
            );
        }
        assert_eq!(veths(pid), 0, "{tag}: the run's network outlived fencepost");
    }
}

#[test]
fn sigterm_is_an_orderly_stop_too() {
    let _serial = SERIAL.lock().unwrap_or_else(|p| p.into_inner());
    let (mut child, run_dir, nodes, _results) = start_run("sigterm");
    unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    assert_eq!(child.wait().unwrap().code(), Some(130));
    for n in &nodes {
        assert!(
            !alive(n.pid.unwrap()),
            "redis-server {} outlived the run",
            n.name
        );
    }
    assert!(
        run_dir.join("resource.json").exists(),
        "an orderly stop saves the resource log"
    );
    assert!(run_dir.join("results.json").exists());
}

#[test]
fn two_runs_at_once_use_their_own_ports_and_folders() {
    let _serial = SERIAL.lock().unwrap_or_else(|p| p.into_inner());
    let results = results_dir("concurrent");
    let spawn = || {
        fencepost()
            .args([
                "scenario",
                "baseline",
                "--seed",
                "1",
                "--duration",
                "2s",
                "--results",
            ])
            .arg(&results)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap()
    };
    let (a, b) = (spawn(), spawn());
    let (a, b) = (a.wait_with_output().unwrap(), b.wait_with_output().unwrap());
    assert_eq!(
        a.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&a.stderr)
    );
    assert_eq!(
        b.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&b.stderr)
    );
    let runs: Vec<_> = std::fs::read_dir(results.join("baseline"))
        .unwrap()
        .flatten()
        .collect();
    assert_eq!(runs.len(), 2, "same seed, same second: still two folders");
}

/// The live status line (drawn on a terminal, or with --status) counts violations as they
/// happen: gc-pause's first overlap comes at ~1.3 s, so a 4 s run shows a non-zero count.
#[test]
fn status_line_counts_violations_live() {
    let results = results_dir("status-line");
    let out = fencepost()
        .args([
            "scenario",
            "gc-pause",
            "--seed",
            "1",
            "--duration",
            "4s",
            "--status",
        ])
        .arg("--results")
        .arg(&results)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    let err = String::from_utf8_lossy(&out.stderr);
    let counts: Vec<u64> = err
        .split('\r')
        .filter_map(|l| l.rsplit_once("violations ")?.1.trim().parse().ok())
        .collect();
    assert!(counts.len() >= 4, "status lines: {err}");
    assert_eq!(counts[0], 0, "no violation before the first pause: {err}");
    assert!(counts.iter().any(|&n| n > 0), "{err}");
}

/// `fencepost check … | head`: the reader goes away before the report is printed. That is how
/// shell tools end (status 141, nothing on stderr), not a panic with a backtrace.
#[test]
fn a_reader_that_stops_reading_ends_the_output_quietly() {
    let dir = results_dir("broken-pipe");
    let file = dir.join("lock.jsonl");
    let history = checkers::linearizable::generate::LockSim::new(20_000, 5, 3, false).history();
    std::fs::write(&file, checkers::linearizable::generate::to_jsonl(&history)).unwrap();
    let mut child = fencepost()
        .args(["check", "--model", "lock"])
        .arg(&file)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Close the reading end before the check can have printed anything.
    drop(child.stdout.take());
    let out = child.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(141), "{err}");
    assert!(!err.contains("panicked"), "{err}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// `fencepost doctor` checks the prerequisites of every feature and says which feature each
/// serves: with a runtime missing from PATH, runs are still ready (exit 1, not 0), the missing
/// feature is named with its fix, and "ready" is never said of it.
#[test]
fn doctor_names_each_missing_prerequisite_and_the_feature_it_serves() {
    let out = fencepost().arg("doctor").output().unwrap();
    let t = text(&out);
    assert_eq!(
        out.status.code(),
        Some(0),
        "this machine has every prerequisite: {t}"
    );
    assert!(t.contains("ready for everything"), "{t}");
    // A PATH with redis but no node, npm, python3, cargo, docker, chromium, xmllint.
    let bin = crate::common::results_dir("doctor-path");
    for p in ["redis-server", "redis-sentinel", "ip", "nft"] {
        let found = ["/usr/bin", "/usr/sbin", "/bin", "/sbin"]
            .iter()
            .map(|d| Path::new(d).join(p))
            .find(|f| f.exists())
            .unwrap_or_else(|| panic!("{p} is installed by .ci/run"));
        std::os::unix::fs::symlink(found, bin.join(p)).unwrap();
    }
    let out = fencepost()
        .arg("doctor")
        .env("PATH", &bin)
        .output()
        .unwrap();
    let t = text(&out);
    assert_eq!(out.status.code(), Some(1), "{t}");
    for want in [
        "✔ redis-server",
        "✘ node",
        "✘ npm",
        "✘ python3",
        "✘ chromium",
        "✘ xmllint",
        "✘ docker engine",
        "fix: sudo apt-get install -y python3-venv",
        "not ready for: ",
        "Node lock-library adapters (redis-semaphore, redlock)",
    ] {
        assert!(t.contains(want), "{want:?} missing in:\n{t}");
    }
    assert!(!t.contains("ready for everything"), "{t}");
    std::fs::remove_dir_all(&bin).unwrap();
}
