//! Older published versions of the Python libraries and rslock, installed with their own
//! resolved dependencies and driven through the same adapters; versions outside an adapter's
//! `drives` refused before the run; and the protocol's `abandon_after_ms` and `starve` honoured
//! by the three ways an adapter waits for a library (a thread, an asyncio task, a Rust future).
//!
//! Real installs from PyPI and crates.io into the adapter cache (reused across runs; the first
//! one counts: about two minutes on two cores, rslock's build most of it) and real redis-servers;
//! a missing runtime or registry fails with the adapter's own message.

use crate::common::*;
use fencepost::clients::process::adapter;
use fencepost::clients::process::protocol::{
    AdapterProcess, Endpoint, Hello, HelloLock, ProcessControl, Reply, ResourceEndpoint,
};
use serde_json::{json, Map, Value as Json};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

/// An older line's version of each library, and what its recorded lockfile must show: the
/// version itself, and a dependency as that version's own requirements resolve it (pottery 2.x
/// requires redis<5, which the adapter's pin, redis 8, is not; aioredlock 0.6 leaves aioredis
/// open and gets the 1.x its API needs).
const OLDER: [(&str, &str, &[&str]); 5] = [
    ("redis-py", "5.0.8", &["redis==5.0.8"]),
    ("pottery", "2.3.7", &["pottery==2.3.7", "redis==4."]),
    (
        "python-redis-lock",
        "3.7.0",
        &["python-redis-lock==3.7.0", "redis=="],
    ),
    (
        "aioredlock",
        "0.6.0",
        &["aioredlock==0.6.0", "aioredis==1.3.1"],
    ),
    (
        "rslock",
        "0.3.0",
        &[
            "name = \"rslock\"\nversion = \"0.3.0\"",
            "name = \"redis\"\nversion = \"0.24.",
        ],
    ),
];

fn adapters() -> PathBuf {
    repo().join("adapters")
}

/// The run folder a scenario's output names (`seed 1 · run <dir>`).
fn run_dir(text: &str) -> Option<PathBuf> {
    text.lines()
        .find_map(|l| l.split(" · run ").nth(1))
        .map(|d| PathBuf::from(d.trim()))
}

/// `N grants` from a scenario's summary.
fn grants(text: &str) -> Option<u64> {
    let at = text.find(" grants,")?;
    text[..at].rsplit(' ').next()?.parse().ok()
}

#[test]
fn older_versions_install_their_own_dependencies_record_them_and_hold() {
    let results = results_dir("versions");
    let mut failures = Vec::new();
    for (library, version, locked) in OLDER {
        let _serial = SERIAL.lock().unwrap_or_else(|p| p.into_inner());
        let spec = format!("{library}@{version}");
        let out = library_baseline(&spec, &["--seed", "1", "--duration", "5s"], &results);
        let text = text(&out);
        let code = out.status.code();
        let mut why = Vec::new();
        // 0: every expectation held; 3: too few grants to say (never a violation).
        if !matches!(code, Some(0 | 3)) {
            why.push(format!("exit {code:?}"));
        }
        if grants(&text).is_none_or(|g| g == 0) {
            why.push("no grant".into());
        }
        if !text.contains(&format!("client: **{library} {version}**")) {
            why.push(format!(
                "the run does not name {library} {version} as loaded"
            ));
        }
        match run_dir(&text).map(|d| d.join("clients")) {
            None => why.push("no run folder".into()),
            Some(clients) => {
                let lockfile = ["pip-freeze.txt", "Cargo.lock"]
                    .iter()
                    .find_map(|f| std::fs::read_to_string(clients.join(f)).ok());
                match lockfile {
                    None => why.push(format!("no lockfile in {}", clients.display())),
                    Some(l) => {
                        for want in locked {
                            if !l.contains(want) {
                                why.push(format!("the recorded lockfile lacks {want:?}:\n{l}"));
                            }
                        }
                    }
                }
            }
        }
        if !why.is_empty() {
            failures.push(format!("--- {spec}: {}\n{text}", why.join("; ")));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn a_version_outside_drives_is_refused_before_the_run_with_the_reason() {
    let results = results_dir("not-driven");
    for spec in [
        "redis-py@3.5.3",
        "python-redis-lock@2.3.0",
        "pottery@0.83",
        "aioredlock@0.4.0",
        "rslock@1.0.0-alpha.1",
    ] {
        let out = library_baseline(spec, &[], &results);
        let text = text(&out);
        assert_eq!(out.status.code(), Some(2), "{spec}:\n{text}");
        assert!(
            text.contains(&format!("{spec} is not a version the"))
                && text.contains("`drives` in")
                && text.contains("fix:"),
            "{spec}: the reason is not named:\n{text}"
        );
        assert!(
            !text.contains("installing"),
            "{spec} was installed:\n{text}"
        );
    }
    let runs = std::fs::read_dir(&results).unwrap().count();
    assert_eq!(
        runs,
        0,
        "a refused version left a run in {}",
        results.display()
    );
}

#[test]
fn published_versions_come_oldest_first_from_each_registry() {
    // Oldest first by version number, not as text: 0.3.0 before 0.10.0.
    for (library, older, newer) in [("pottery", "2.3.7", "3.0.1"), ("rslock", "0.3.0", "0.10.0")] {
        let a = adapter::find(library, None, &adapters()).unwrap();
        let versions = a
            .published()
            .unwrap_or_else(|e| panic!("listing {library}'s versions: {e}"));
        let at = |v: &str| versions.iter().position(|x| x == v);
        assert!(
            at(older).is_some() && at(newer).is_some(),
            "{library}: {versions:?}"
        );
        assert!(at(older) < at(newer), "{library}: {versions:?}");
        assert!(
            !versions.iter().any(|v| v.contains('-')),
            "{library}: a pre-release or yanked version is listed: {versions:?}"
        );
    }
    // rslock 0.2.0 is yanked.
    let rslock = adapter::find("rslock", None, &adapters()).unwrap();
    assert!(!rslock.published().unwrap().contains(&"0.2.0".to_string()));
}

/// A redis-server of the test's own, killed on drop; SIGSTOP/SIGCONT make its answers wait.
struct Redis {
    child: std::process::Child,
    port: u16,
}

impl Redis {
    fn start(password: &str) -> Redis {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let child = std::process::Command::new("redis-server")
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
            .args([
                "--save",
                "",
                "--appendonly",
                "no",
                "--requirepass",
                password,
            ])
            .stdout(std::process::Stdio::null())
            .spawn()
            .unwrap_or_else(|e| {
                panic!("redis-server is needed (apt-get install redis-server): {e}")
            });
        let deadline = std::time::Instant::now() + Duration::from_secs(5);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                std::time::Instant::now() < deadline,
                "redis-server did not listen"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        Redis { child, port }
    }

    fn signal(&self, sig: i32) {
        // SAFETY: a signal to the child this test started.
        unsafe { libc::kill(self.child.id() as i32, sig) };
    }

    fn endpoint(&self, name: &str, password: &str) -> Endpoint {
        Endpoint {
            name: name.into(),
            host: "127.0.0.1".into(),
            port: self.port,
            username: "default".into(),
            password: password.into(),
        }
    }
}

impl Drop for Redis {
    fn drop(&mut self) {
        self.signal(libc::SIGCONT);
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn op(fields: Json) -> Map<String, Json> {
    match fields {
        Json::Object(m) => m,
        _ => unreachable!(),
    }
}

async fn call(p: &mut AdapterProcess, name: &str, fields: Json) -> Result<Reply, String> {
    p.call(name, op(fields), Duration::from_secs(10))
        .await
        .map_err(|e| e.to_string())
}

fn took_ms(r: &Reply) -> f64 {
    (r.complete_ns.unwrap_or(0) as f64 - r.invoke_ns.unwrap_or(0) as f64) / 1e6
}

/// Drives one adapter: starve, a call abandoned while its node is stopped, the lock object
/// forgotten, and a call that returns before its abandon deadline.
async fn abandon_and_starve(library: &str, version: &str, dir: &Path) -> Result<(), String> {
    let a = adapter::find(library, Some(version.into()), &adapters()).map_err(|e| e.to_string())?;
    let installed = a
        .install(&adapter::cache_dir())
        .map_err(|e| e.to_string())?;
    let password = "abandon-test";
    let node = Redis::start(password);
    let resource = Redis::start(password);
    let hello = Hello {
        kind: "hello",
        protocol: 1,
        process: 1,
        lock: HelloLock {
            name: "fencepost-guard".into(),
            ttl_ms: 2000,
            auto_renewal: false,
        },
        nodes: vec![node.endpoint("n1", password)],
        resource: ResourceEndpoint {
            endpoint: resource.endpoint("resource", password),
            script: "return {1, 2}".into(),
        },
        timeout_ms: 2000,
    };
    let stderr = dir.join(format!("{library}.stderr"));
    let mut p = AdapterProcess::spawn(
        &installed,
        &[],
        &stderr,
        Arc::new(ProcessControl::default()),
    )
    .map_err(|e| e.to_string())?;
    let log = || std::fs::read_to_string(&stderr).unwrap_or_default();
    let wait = Duration::from_secs(10);
    let info = p
        .hello(&hello, wait)
        .await
        .map_err(|e| format!("{e}\n{}", log()))?;
    let mut why = Vec::new();
    if !(info.supports.abandon && info.supports.starve) {
        why.push(format!(
            "the hello does not advertise abandon and starve: {:?}",
            info.supports
        ));
    }
    let r = call(&mut p, "acquire", json!({"ttl_ms": 2000})).await?;
    if !(r.outcome == "ok" && r.flag("granted") == Some(true)) {
        why.push(format!("acquire: {r:?}"));
    }
    let r = call(&mut p, "starve", json!({"ms": 300})).await?;
    if !(r.outcome == "ok" && took_ms(&r) >= 299.0) {
        why.push(format!("starve 300 ms: {r:?} ({} ms)", took_ms(&r)));
    }
    node.signal(libc::SIGSTOP);
    let r = call(
        &mut p,
        "extend",
        json!({"ttl_ms": 2000, "abandon_after_ms": 200}),
    )
    .await;
    node.signal(libc::SIGCONT);
    let r = r?;
    let ms = took_ms(&r);
    if !(r.outcome == "info"
        && r.error.as_deref() == Some("abandoned after 200 ms")
        && (199.0..1500.0).contains(&ms))
    {
        why.push(format!("extend abandoned after 200 ms: {r:?} ({ms} ms)"));
    }
    for name in ["held", "release"] {
        let r = call(&mut p, name, json!({})).await?;
        if !(r.outcome == "fail"
            && r.error
                .as_deref()
                .is_some_and(|e| e.contains("no lock object")))
        {
            why.push(format!("{name} after the abandoned call: {r:?}"));
        }
    }
    let r = call(
        &mut p,
        "acquire",
        json!({"ttl_ms": 2000, "abandon_after_ms": 5000}),
    )
    .await?;
    if r.outcome != "ok" {
        why.push(format!(
            "an acquire that returns before its abandon deadline: {r:?}"
        ));
    }
    p.shutdown().await;
    if why.is_empty() {
        Ok(())
    } else {
        Err(format!("{}\n{}", why.join("\n"), log()))
    }
}

#[test]
fn abandon_and_starve_are_honoured_by_threads_tasks_and_futures() {
    let dir = results_dir("abandon");
    let rt = tokio::runtime::Runtime::new().unwrap();
    let mut failures = Vec::new();
    // redis-py's calls run on a thread; aioredlock's in an asyncio task; rslock's as a future.
    for (library, version) in [
        ("redis-py", "5.0.8"),
        ("aioredlock", "0.6.0"),
        ("rslock", "0.3.0"),
    ] {
        let _serial = SERIAL.lock().unwrap_or_else(|p| p.into_inner());
        if let Err(e) = rt.block_on(abandon_and_starve(library, version, &dir)) {
            failures.push(format!("--- {library}@{version}:\n{e}"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
