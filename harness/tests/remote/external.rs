//! External mode end to end: redis-servers this test starts itself (as "someone else's"
//! deployment) and a separately started `fencepost proxy` process acting as the Toxiproxy server,
//! reached only through its HTTP API. fencepost starts no Redis in this mode and creates every
//! proxy and toxic through the API.

use crate::common::*;
use fencepost::nodes::node::{Node, NodeConfig, Persistence, ADMIN_USER, CLIENT_USER};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

struct Deployment {
    nodes: Vec<Node>,
    /// The Toxiproxy server, when this deployment started its own.
    proxy: Option<Child>,
    api_port: u16,
    topology: std::path::PathBuf,
    passwords: (String, String),
    /// The nodes' folders and the topology file; dropped after the nodes (fields drop in order).
    _dir: Option<crate::common::TestDir>,
}

impl Drop for Deployment {
    fn drop(&mut self) {
        if let Some(p) = &mut self.proxy {
            let _ = p.kill();
            let _ = p.wait();
        }
        for n in &mut self.nodes {
            n.kill();
        }
    }
}

fn deploy(tag: &str) -> Deployment {
    let api_port = fencepost::nodes::node::free_port().unwrap();
    let proxy = Command::new(env!("CARGO_BIN_EXE_fencepost"))
        .args([
            "proxy",
            "--listen",
            &format!("127.0.0.1:{api_port}"),
            "--seed",
            "3",
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    // Wait for the API.
    for _ in 0..100 {
        if std::net::TcpStream::connect(("127.0.0.1", api_port)).is_ok() {
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let mut d = deploy_nodes(tag, api_port);
    d.proxy = Some(proxy);
    d
}

/// Nodes of their own behind the Toxiproxy server at `api_port` (someone else's).
fn deploy_nodes(tag: &str, api_port: u16) -> Deployment {
    let dir = results_dir(tag);
    let passwords = (
        "admin-secret-42".to_string(),
        "client-secret-42".to_string(),
    );
    let mut nodes = Vec::new();
    for name in ["n1", "resource"] {
        let config = NodeConfig {
            name: name.into(),
            persistence: Persistence::None,
            preload: None,
            library_user: false,
            place: None,
            cluster: None,
        };
        nodes.push(Node::start(config, &dir.join(name), passwords.clone()).unwrap());
    }
    let topology = dir.join("topology.toml");
    std::fs::write(
        &topology,
        format!(
            "toxiproxy = \"http://127.0.0.1:{api_port}\"\n\n[[lock_nodes]]\nname = \"n1\"\naddress = \"127.0.0.1:{}\"\n\n[resource]\nname = \"resource\"\naddress = \"127.0.0.1:{}\"\n",
            nodes[0].port, nodes[1].port
        ),
    )
    .unwrap();
    Deployment {
        nodes,
        proxy: None,
        api_port,
        topology,
        passwords,
        _dir: Some(dir),
    }
}

fn run_external(
    d: &Deployment,
    scenario: &str,
    seed: u64,
    results: &std::path::Path,
) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_fencepost"))
        .current_dir(repo())
        .args([
            "scenario",
            scenario,
            "--seed",
            &seed.to_string(),
            "--duration",
            "3s",
            "--topology",
        ])
        .arg(&d.topology)
        .arg("--results")
        .arg(results)
        .env("FENCEPOST_ADMIN_USER", ADMIN_USER)
        .env("FENCEPOST_ADMIN_PASSWORD", &d.passwords.0)
        .env("FENCEPOST_CLIENT_USER", CLIENT_USER)
        .env("FENCEPOST_CLIENT_PASSWORD", &d.passwords.1)
        .output()
        .unwrap()
}

fn redis_servers_running() -> usize {
    std::fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter(|e| {
            std::fs::read_to_string(e.path().join("comm")).is_ok_and(|c| c.trim() == "redis-server")
        })
        .count()
}

#[test]
fn network_scenarios_meet_their_expectations_through_an_external_toxiproxy() {
    let _serial = SERIAL.lock().unwrap_or_else(|p| p.into_inner());
    let d = deploy("external");
    let results = results_dir("external-results");
    let before = redis_servers_running();
    for scenario in ["partition", "network-delay"] {
        let out = run_external(&d, scenario, 1, &results);
        let text = String::from_utf8_lossy(&out.stdout);
        assert_eq!(
            out.status.code(),
            Some(0),
            "{scenario}:\n{text}\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(text.contains("expectations met"), "{text}");
    }
    assert_eq!(
        redis_servers_running(),
        before,
        "external mode must start no redis-server"
    );
    // Every proxy was created (and removed) through the API: none is left behind.
    let proxies = http_get(d.api_port, "/proxies");
    assert_eq!(
        proxies.trim(),
        "{}",
        "proxies left on the Toxiproxy server: {proxies}"
    );
}

#[test]
fn a_node_clock_fault_is_refused_on_an_external_topology() {
    let _serial = SERIAL.lock().unwrap_or_else(|p| p.into_inner());
    let d = deploy("external-refuse");
    let results = results_dir("external-refuse-results");
    let out = run_external(&d, "clock-jump", 1, &results);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains("clock"),
        "the message must name the missing capability: {err}"
    );
    assert!(err.contains("no control of the nodes"), "{err}");
    assert!(
        !results.join("clock-jump").exists(),
        "refused before anything started"
    );
}

#[test]
fn doctor_checks_an_external_topology() {
    let _serial = SERIAL.lock().unwrap_or_else(|p| p.into_inner());
    let d = deploy("external-doctor");
    let results = results_dir("external-doctor-results");
    let doctor = |with_password: bool| {
        let mut c = Command::new(env!("CARGO_BIN_EXE_fencepost"));
        c.args(["doctor", "--results"])
            .arg(&results)
            .arg("--topology")
            .arg(&d.topology)
            .env("FENCEPOST_ADMIN_USER", ADMIN_USER)
            .env("FENCEPOST_CLIENT_USER", CLIENT_USER)
            .env("FENCEPOST_CLIENT_PASSWORD", &d.passwords.1);
        if with_password {
            c.env("FENCEPOST_ADMIN_PASSWORD", &d.passwords.0);
        } else {
            c.env_remove("FENCEPOST_ADMIN_PASSWORD");
        }
        c.output().unwrap()
    };
    let out = doctor(true);
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{text}");
    assert!(
        text.contains("node n1 at") && text.contains("ready for everything"),
        "{text}"
    );
    let out = doctor(false);
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(2), "{text}");
    assert!(text.contains("FENCEPOST_ADMIN_PASSWORD"), "{text}");
}

#[test]
fn missing_credentials_are_named() {
    let _serial = SERIAL.lock().unwrap_or_else(|p| p.into_inner());
    let d = deploy("external-creds");
    let results = results_dir("external-creds-results");
    let out = Command::new(env!("CARGO_BIN_EXE_fencepost"))
        .current_dir(repo())
        .args(["scenario", "baseline", "--duration", "1s", "--topology"])
        .arg(&d.topology)
        .arg("--results")
        .arg(&results)
        .env_remove("FENCEPOST_ADMIN_PASSWORD")
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains("FENCEPOST_CLIENT_USER") || err.contains("FENCEPOST_ADMIN_PASSWORD"),
        "{err}"
    );
}

#[test]
fn two_runs_share_one_toxiproxy_and_a_dead_runs_proxies_are_swept() {
    let _serial = SERIAL.lock().unwrap_or_else(|p| p.into_inner());
    let a = deploy("external-share-a");
    let b = deploy_nodes("external-share-b", a.api_port);
    // A killed run's leftovers: a link and a lease whose heartbeat never moves; and a proxy
    // that is not fencepost's at all.
    for (name, enabled) in [
        ("fp-deadbeef-c0-n1", true),
        ("fp-deadbeef-lease", false),
        ("someone-else", true),
    ] {
        http(
            a.api_port,
            "POST",
            "/proxies",
            &format!(
                r#"{{"name":"{name}","listen":"127.0.0.1:0","upstream":"127.0.0.1:9","enabled":{enabled}}}"#
            ),
        );
    }
    http(
        a.api_port,
        "POST",
        "/proxies/fp-deadbeef-lease/toxics",
        r#"{"name":"heartbeat","type":"latency","stream":"downstream","attributes":{"latency":7,"jitter":0}}"#,
    );
    let results = results_dir("external-share-results");
    let runs: Vec<_> = [&a, &b]
        .into_iter()
        .enumerate()
        .map(|(i, d)| {
            let results = results.join(format!("run{i}"));
            let (topology, passwords) = (d.topology.clone(), d.passwords.clone());
            std::thread::spawn(move || {
                let d = Deployment {
                    nodes: Vec::new(),
                    proxy: None,
                    api_port: 0,
                    topology,
                    passwords,
                    _dir: None,
                };
                run_external(&d, "partition", 2, &results)
            })
        })
        .collect();
    let outs: Vec<_> = runs.into_iter().map(|t| t.join().unwrap()).collect();
    let mut swept = false;
    for out in &outs {
        let (text, err) = (
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr),
        );
        assert_eq!(out.status.code(), Some(0), "{text}\n{err}");
        assert!(text.contains("expectations met"), "{text}");
        assert!(
            !err.contains("another fencepost run"),
            "a live run's proxies are not another's to sweep: {err}"
        );
        swept |= err.contains("fp-deadbeef-c0-n1") && err.contains("fp-deadbeef-lease");
    }
    assert!(swept, "a run must say it removed the dead run's proxies");
    let left = http_get(a.api_port, "/proxies");
    assert!(left.contains("someone-else"), "{left}");
    assert!(
        !left.contains("fp-"),
        "only the proxy fencepost did not make may be left: {left}"
    );
}

fn http(port: u16, method: &str, path: &str, body: &str) -> String {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    write!(
        s,
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut text = String::new();
    s.read_to_string(&mut text).unwrap();
    assert!(text.starts_with("HTTP/1.1 2"), "{method} {path}: {text}");
    text
}

fn http_get(port: u16, path: &str) -> String {
    http_get_from("127.0.0.1", port, path)
}
