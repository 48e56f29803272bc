//! The binary as users meet it: exit codes, clear errors, Ctrl-C cleanup.

mod common;

use common::*;
use std::process::{Command, Stdio};
use std::time::Duration;

fn fencepost() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_fencepost"));
    c.current_dir(repo());
    c
}

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
    let results = results_dir("sigint");
    let mut child = fencepost()
        .args(["scenario", "gc-pause", "--seed", "3", "--results"])
        .arg(&results)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Wait until the nodes are up and clients are running.
    let nodes_file = || {
        std::fs::read_dir(results.join("gc-pause"))
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
    std::thread::sleep(Duration::from_millis(1500));
    let nodes: Vec<fencepost::cluster::NodeInfo> =
        serde_json::from_str(&std::fs::read_to_string(&nodes_path).unwrap()).unwrap();
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

    let run_dir = nodes_path.parent().unwrap();
    let out = fencepost().arg("check").arg(run_dir).output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        matches!(out.status.code(), Some(0 | 1)),
        "check must read the partial history: {text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(text.contains("interrupted"), "{text}");
}
