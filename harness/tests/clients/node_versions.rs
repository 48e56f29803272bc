//! `--client LIB@VERSION` for the Node libraries: a published version of either major line
//! installs with the Redis client version *it* asks for (not the adapter's pin), which the run's
//! copy of the environment's lockfile names, is driven through the API generation its package
//! has, and holds fault-free; a version outside the adapter's `drives` lines is refused before
//! anything is installed or started; and the Node protocol helper gives up on a call after
//! `abandon_after_ms` and starves its event loop on `starve`.
//!
//! Real npm packages from the registry (on first use) and real redis-servers; needs node, npm
//! and redis-server, and fails with the reason when one is missing.

use crate::common::*;
use fencepost::clients::process::adapter;
use serde_json::{json, Value};
use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

pub(crate) fn adapters_dir() -> PathBuf {
    repo().join("adapters")
}

/// The exact version of `package` in an npm lockfile.
fn locked_version(lockfile: &Path, package: &str) -> String {
    let text = std::fs::read_to_string(lockfile)
        .unwrap_or_else(|e| panic!("the install names {}: {e}", lockfile.display()));
    let lock: Value = serde_json::from_str(&text).unwrap();
    lock["packages"][format!("node_modules/{package}")]["version"]
        .as_str()
        .unwrap_or_else(|| panic!("{} has no {package}: {text}", lockfile.display()))
        .to_string()
}

/// The version an adapter's own package.json pins `package` to.
fn pinned(library: &str, package: &str) -> String {
    let text = std::fs::read_to_string(adapters_dir().join(library).join("package.json")).unwrap();
    let v: Value = serde_json::from_str(&text).unwrap();
    v["dependencies"][package].as_str().unwrap().to_string()
}

#[test]
fn each_major_line_installs_its_own_redis_client_and_holds_fault_free() {
    let results = results_dir("node-versions");
    // (spec, the ioredis line the version's own range resolves to, whether that range excludes
    // the adapter's pin)
    let cases = [
        // previous major line, newest: devDependencies ioredis ^4.18.0
        ("redlock@4.2.0", "4.", false),
        // current major line, newest by semver (5.0.0-beta.2's twin, package.json "v5.0.0-beta2")
        ("redlock@5.0.0-beta2", "4.", false),
        // previous major line, the only one: peerDependencies ioredis ^4.1.0
        ("redis-semaphore@4.1.0", "4.", true),
        // the case: ioredis ^4.1.0 || ^5 while the adapter pins 6.0.0
        ("redis-semaphore@5.7.0", "5.", true),
        // current major line, newest: ioredis ^4.1.0 || ^5 || ^6
        ("redis-semaphore@5.8.0", "6.", false),
    ];
    let mut failures = Vec::new();
    for (spec, line, excludes_pin) in cases {
        let (name, version) = adapter::parse_spec(spec).unwrap();
        let a = adapter::find(&name, version.clone(), &adapters_dir()).unwrap();
        let installed = a
            .install(&adapter::cache_dir())
            .unwrap_or_else(|e| panic!("{spec}: {e}"));
        let lockfile = installed
            .lockfile
            .expect("a Node install names its lockfile");
        assert_eq!(
            locked_version(&lockfile, &name),
            version.clone().unwrap(),
            "{spec}: {}",
            lockfile.display()
        );
        let ioredis = locked_version(&lockfile, "ioredis");
        let pin = pinned(&name, "ioredis");
        assert!(
            ioredis.starts_with(line) && !(excludes_pin && ioredis == pin),
            "{spec}: the lockfile names ioredis {ioredis}; expected {line}x{}",
            if excludes_pin {
                format!(", not the adapter's pin {pin}")
            } else {
                String::new()
            }
        );

        let _serial = SERIAL.lock().unwrap_or_else(|p| p.into_inner());
        let results = results.join(spec.replace('@', "-"));
        let out = library_baseline(spec, &["--seed", "1", "--duration", "12s"], &results);
        let t = text(&out);
        // What the adapter loaded, in its own words: this version, over that ioredis.
        let loaded = format!(
            "client: **{name} {}** ({name} {}, node ",
            version.as_deref().unwrap(),
            version.as_deref().unwrap()
        );
        let grants = t
            .lines()
            .find(|l| l.starts_with("- ops:"))
            .and_then(|l| l.split(", ").find(|p| p.ends_with(" grants")))
            .and_then(|p| p.trim_end_matches(" grants").parse::<u64>().ok())
            .unwrap_or(0);
        // The run keeps the environment's lockfile: the same ioredis.
        let recorded = std::fs::read_dir(results.join("lib-baseline"))
            .into_iter()
            .flatten()
            .flatten()
            .map(|e| e.path().join("clients/package-lock.json"))
            .find(|p| p.exists());
        let recorded_ioredis = recorded.as_deref().map(|p| locked_version(p, "ioredis"));
        if out.status.code() != Some(0)
            || !t.contains(&loaded)
            || !t.contains(&format!("ioredis {ioredis})"))
            || recorded_ioredis.as_deref() != Some(ioredis.as_str())
            || grants == 0
        {
            failures.push(format!(
                "--- {spec} (exit {:?}, {grants} grants, expected {loaded:?} over ioredis {ioredis}, the run recorded ioredis {recorded_ioredis:?}):\n{t}",
                out.status.code()
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn a_version_outside_the_drives_lines_is_refused_before_the_run() {
    let results = results_dir("node-versions-refused");
    for (spec, lines) in [
        ("redlock@3.1.2", "redlock 4.x, 5.x"),
        ("redis-semaphore@3.2.1", "redis-semaphore 4.x, 5.x"),
    ] {
        let started = Instant::now();
        let out = library_baseline(spec, &[], &results);
        let t = text(&out);
        assert_eq!(out.status.code(), Some(2), "{spec}: {t}");
        assert!(
            t.contains(&format!("{spec} is not a version the"))
                && t.contains(lines)
                && t.contains("drives"),
            "{spec}: {t}"
        );
        // Before anything: no install, no node, no run folder.
        assert!(!t.contains("installing"), "{spec}: {t}");
        assert!(
            !results.join("lib-baseline").exists(),
            "{spec}: a run folder was made"
        );
        assert!(started.elapsed() < Duration::from_secs(10), "{spec}");
    }
}

#[test]
fn published_versions_span_both_major_lines_oldest_first() {
    for (name, previous, current) in [
        ("redlock", "4.2.0", "5.0.0-beta.2"),
        ("redis-semaphore", "4.1.0", "5.8.0"),
    ] {
        let a = adapter::find(name, None, &adapters_dir()).unwrap();
        let versions = a.published().unwrap_or_else(|e| panic!("{name}: {e}"));
        let at = |v: &str| {
            versions
                .iter()
                .position(|x| x == v)
                .unwrap_or_else(|| panic!("{name}: no {v} in {versions:?}"))
        };
        assert!(at(previous) < at(current), "{name}: {versions:?}");
        assert!(a.drives(previous) && a.drives(current), "{name}");
        assert!(!a.drives(&versions[0]), "{name}: {}", versions[0]);
    }
}

/// A redis-server of the test's own on a free port, stopped when dropped.
pub(crate) struct Redis {
    child: Child,
    pub(crate) port: u16,
}

impl Redis {
    pub(crate) fn start() -> Redis {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let child = Command::new("redis-server")
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no"])
            .stdout(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| {
                panic!("redis-server did not start ({e}): install it (sudo apt-get install -y redis-server)")
            });
        let r = Redis { child, port };
        let deadline = Instant::now() + Duration::from_secs(10);
        while r.try_command(&["PING"]).is_err() {
            assert!(Instant::now() < deadline, "redis-server did not answer");
            std::thread::sleep(Duration::from_millis(20));
        }
        r
    }

    /// One command on a fresh connection; its raw RESP reply.
    fn try_command(&self, args: &[&str]) -> std::io::Result<String> {
        let mut s = std::net::TcpStream::connect(("127.0.0.1", self.port))?;
        s.set_read_timeout(Some(Duration::from_secs(5)))?;
        let mut cmd = format!("*{}\r\n", args.len());
        for a in args {
            cmd += &format!("${}\r\n{a}\r\n", a.len());
        }
        s.write_all(cmd.as_bytes())?;
        let mut buf = [0u8; 512];
        let n = s.read(&mut buf)?;
        Ok(String::from_utf8_lossy(&buf[..n]).trim().to_string())
    }

    pub(crate) fn command(&self, args: &[&str]) -> String {
        self.try_command(args).unwrap()
    }

    /// PTTL of `key` in ms (-2: no such key).
    pub(crate) fn pttl(&self, key: &str) -> i64 {
        self.command(&["PTTL", key])
            .trim_start_matches(':')
            .parse()
            .unwrap()
    }
}

impl Drop for Redis {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// An adapter process spoken to by hand over the client protocol.
pub(crate) struct Hand {
    pub(crate) child: Child,
    lines: mpsc::Receiver<String>,
    next_id: u64,
}

impl Hand {
    /// Starts the pinned adapter `library` and sends it a hello for `redis` (one node, also the
    /// resource); returns it with the hello's answer.
    pub(crate) fn start(
        library: &str,
        redis: &Redis,
        ttl_ms: u64,
        auto_renewal: bool,
    ) -> (Hand, Value) {
        let installed = adapter::find(library, None, &adapters_dir())
            .unwrap()
            .install(&adapter::cache_dir())
            .unwrap_or_else(|e| panic!("{library}: {e}"));
        Hand::start_installed(&installed, redis, ttl_ms, auto_renewal)
    }

    fn start_installed(
        installed: &adapter::Installed,
        redis: &Redis,
        ttl_ms: u64,
        auto_renewal: bool,
    ) -> (Hand, Value) {
        let library = &installed.label;
        let mut child = Command::new(&installed.program)
            .args(&installed.args)
            .current_dir(&installed.cwd)
            .envs(installed.env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("{library}: node did not start ({e})"));
        let stdout = child.stdout.take().unwrap();
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let mut hand = Hand {
            child,
            lines,
            next_id: 1,
        };
        let node = json!({"name": "n1", "host": "127.0.0.1", "port": redis.port,
                          "username": "default", "password": ""});
        let mut resource = node.clone();
        resource["name"] = json!("resource");
        resource["script"] = json!("return {1, 1}");
        let hello = hand.send(json!({"type": "hello", "protocol": 1, "process": 0,
            "lock": {"name": "fencepost-guard", "ttl_ms": ttl_ms, "auto_renewal": auto_renewal},
            "nodes": [node], "resource": resource, "timeout_ms": 2000}));
        (hand, hello)
    }

    pub(crate) fn send(&mut self, msg: Value) -> Value {
        let stdin = self.child.stdin.as_mut().unwrap();
        writeln!(stdin, "{msg}").unwrap();
        stdin.flush().unwrap();
        let line = self
            .lines
            .recv_timeout(Duration::from_secs(20))
            .unwrap_or_else(|_| panic!("no answer to {msg}"));
        serde_json::from_str(&line).unwrap_or_else(|e| panic!("{e}: {line}"))
    }

    /// Sends op `op` with `fields`; its reply.
    pub(crate) fn op(&mut self, op: &str, fields: Value) -> Value {
        let mut msg = json!({"type": "op", "id": self.next_id, "op": op});
        for (k, v) in fields.as_object().unwrap() {
            msg[k] = v.clone();
        }
        self.next_id += 1;
        let reply = self.send(msg);
        assert_eq!(reply["op"], op, "{reply}");
        reply
    }
}

impl Drop for Hand {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The span between a reply's stamps.
pub(crate) fn span(reply: &Value) -> Duration {
    let ns = |k: &str| reply[k].as_str().unwrap().parse::<u64>().unwrap();
    Duration::from_nanos(ns("complete_ns") - ns("invoke_ns"))
}

#[test]
fn the_node_helper_abandons_calls_and_starves_its_event_loop() {
    let _serial = SERIAL.lock().unwrap_or_else(|p| p.into_inner());
    let redis = Redis::start();
    for (library, key) in [
        ("redis-semaphore", "mutex:fencepost-guard"),
        ("redlock", "fencepost-guard"),
    ] {
        let (mut a, hello) = Hand::start(library, &redis, 1000, false);
        assert_eq!(hello["supports"]["abandon"], true, "{library}: {hello}");
        assert_eq!(hello["supports"]["starve"], true, "{library}: {hello}");

        // A write stuck on the server (CLIENT PAUSE): the acquire is given up on after 50 ms,
        // stamped as such, and its lock object forgotten.
        assert_eq!(redis.command(&["CLIENT", "PAUSE", "700", "WRITE"]), "+OK");
        let r = a.op("acquire", json!({"ttl_ms": 1000, "abandon_after_ms": 50}));
        assert_eq!(r["outcome"], "info", "{library}: {r}");
        assert_eq!(r["error"], "abandoned after 50 ms", "{library}: {r}");
        assert!(
            span(&r) >= Duration::from_millis(50) && span(&r) < Duration::from_millis(600),
            "{library}: {r}"
        );
        for op in ["held", "release"] {
            let r = a.op(op, json!({}));
            assert_eq!(r["outcome"], "fail", "{library} {op}: {r}");
            assert_eq!(r["error"], "no lock object", "{library} {op}: {r}");
        }
        // Nothing undone: once the server goes on, the abandoned call takes the key.
        std::thread::sleep(Duration::from_millis(800));
        assert!(
            redis.pttl(key) > 0,
            "{library}: the abandoned acquire's key"
        );
        let r = a.op("acquire", json!({"ttl_ms": 1000}));
        assert_eq!(r["granted"], false, "{library}: {r}");
        redis.command(&["DEL", key]);
        // A call that answers in time is answered as usual, and a grant brings a lock object back.
        let r = a.op("acquire", json!({"ttl_ms": 1000, "abandon_after_ms": 2000}));
        assert_eq!(
            (&r["outcome"], &r["granted"]),
            (&json!("ok"), &json!(true)),
            "{library}: {r}"
        );
        assert_eq!(a.op("held", json!({}))["held"], true, "{library}");
        assert_eq!(a.op("release", json!({}))["released"], true, "{library}");

        let started = Instant::now();
        let r = a.op("starve", json!({"ms": 300}));
        assert_eq!(r["outcome"], "ok", "{library}: {r}");
        assert!(span(&r) >= Duration::from_millis(300), "{library}: {r}");
        assert!(started.elapsed() >= Duration::from_millis(300), "{library}");
    }

    // Starved means no timer runs: redis-semaphore's renewal (every 0.8 × ttl) keeps a 300 ms
    // lease alive through an idle second, but not through a starved one.
    let (mut a, _) = Hand::start("redis-semaphore", &redis, 300, true);
    let key = "mutex:fencepost-guard";
    assert_eq!(a.op("acquire", json!({"ttl_ms": 300}))["granted"], true);
    std::thread::sleep(Duration::from_millis(1000));
    assert!(redis.pttl(key) > 0, "renewed while idle");
    assert_eq!(a.op("release", json!({}))["released"], true);
    assert_eq!(a.op("acquire", json!({"ttl_ms": 300}))["granted"], true);
    assert_eq!(a.op("starve", json!({"ms": 1000}))["outcome"], "ok");
    assert_eq!(
        redis.pttl(key),
        -2,
        "the lease ran out while the loop was starved"
    );
}

#[test]
fn a_package_of_a_shape_the_adapter_cannot_drive_is_refused_in_its_hello() {
    // redis-semaphore 3.2.1 (outside `drives`, so installed here with the check lifted) has a
    // Mutex without isAcquired: the adapter reads that from the package and refuses.
    let mut a = adapter::find("redis-semaphore", Some("3.2.1".into()), &adapters_dir()).unwrap();
    a.manifest.drives.clear();
    let installed = a
        .install(&adapter::cache_dir())
        .unwrap_or_else(|e| panic!("redis-semaphore@3.2.1: {e}"));
    let redis = Redis::start();
    let (mut hand, hello) = Hand::start_installed(&installed, &redis, 1000, false);
    let error = hello["error"].as_str().unwrap_or_default();
    assert!(
        error.contains("redis-semaphore 3.2.1 has an API this adapter cannot drive")
            && error.contains("isAcquired"),
        "{hello}"
    );
    assert_eq!(hand.child.wait().unwrap().code(), Some(2));
}
