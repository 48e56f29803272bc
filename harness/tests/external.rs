//! External mode end to end: redis-servers this test starts itself (as "someone else's"
//! deployment) and a separately started `fencepost proxy` process acting as the Toxiproxy server,
//! reached only through its HTTP API. fencepost starts no Redis in this mode and creates every
//! proxy and toxic through the API.

mod common;

use common::*;
use fencepost::cluster::node::{Node, NodeConfig, Persistence, ADMIN_USER, CLIENT_USER};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

struct Deployment {
    nodes: Vec<Node>,
    proxy: Child,
    api_port: u16,
    topology: std::path::PathBuf,
    passwords: (String, String),
}

impl Drop for Deployment {
    fn drop(&mut self) {
        let _ = self.proxy.kill();
        let _ = self.proxy.wait();
        for n in &mut self.nodes {
            n.kill();
        }
    }
}

fn deploy(tag: &str) -> Deployment {
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
    let api_port = fencepost::cluster::node::free_port().unwrap();
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
        proxy,
        api_port,
        topology,
        passwords,
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
fn missing_credentials_are_named() {
    let _serial = SERIAL.lock().unwrap_or_else(|p| p.into_inner());
    let d = deploy("external-creds");
    let out = Command::new(env!("CARGO_BIN_EXE_fencepost"))
        .current_dir(repo())
        .args(["scenario", "baseline", "--duration", "1s", "--topology"])
        .arg(&d.topology)
        .arg("--results")
        .arg(results_dir("external-creds-results"))
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

fn http_get(port: u16, path: &str) -> String {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut text = String::new();
    s.read_to_string(&mut text).unwrap();
    text.split("\r\n\r\n")
        .nth(1)
        .unwrap_or_default()
        .to_string()
}
