//! Helpers shared by the integration tests: real scenario files, a fresh results folder, and one
//! lock so that runs on real redis-servers do not compete for the two cores with each other.

#![allow(dead_code)]

use fencepost::duration::Dur;
use fencepost::judge::RunResult;
use fencepost::runner::{self, RunOptions};
use fencepost::scenario::Overrides;
use std::path::PathBuf;
use std::sync::Mutex;
use std::time::Duration;

pub static SERIAL: Mutex<()> = Mutex::new(());

pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

pub fn scenario(name: &str) -> PathBuf {
    repo().join("scenarios").join(format!("{name}.toml"))
}

/// The fencepost binary, run from the repository root.
pub fn fencepost() -> std::process::Command {
    let mut c = std::process::Command::new(env!("CARGO_BIN_EXE_fencepost"));
    c.current_dir(repo());
    c
}

/// A finished command's stdout and stderr, for assertions and their messages.
/// `fencepost scenario scenarios/libraries/baseline.toml ARGS… --client SPEC --results DIR`:
/// a library's fault-free control run, as the library tests make it.
pub fn library_baseline(
    spec: &str,
    args: &[&str],
    results: &std::path::Path,
) -> std::process::Output {
    fencepost()
        .args(["scenario", "scenarios/libraries/baseline.toml"])
        .args(args)
        .args(["--client", spec, "--results"])
        .arg(results)
        .output()
        .unwrap()
}

pub fn text(o: &std::process::Output) -> String {
    format!(
        "{}\n{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

mod test_dir;
pub use test_dir::TestDir;

/// A fresh, private results folder under the system temp dir, removed when the test passes.
pub fn results_dir(tag: &str) -> TestDir {
    TestDir::new(&format!("fencepost-test-{tag}"))
}

/// Runs a scenario file through the library (the same path as the CLI).
pub fn run(name: &str, seed: u64, duration_ms: u64, results: &std::path::Path) -> RunResult {
    run_file(&scenario(name), seed, duration_ms, results)
}

/// Runs a scenario file given by path (a variant a test wrote).
pub fn run_file(
    file: &std::path::Path,
    seed: u64,
    duration_ms: u64,
    results: &std::path::Path,
) -> RunResult {
    let name = file.display();
    let _serial = SERIAL.lock().unwrap_or_else(|p| p.into_inner());
    let opts = RunOptions {
        seed: Some(seed),
        results_dir: results.to_path_buf(),
        overrides: Overrides {
            duration: Some(Dur(Duration::from_millis(duration_ms))),
            ..Overrides::default()
        },
        adapters_dir: std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../adapters"),
        status: Some(false),
        topology: None,
    };
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(runner::run(file, &opts))
        .unwrap_or_else(|e| panic!("{name} seed {seed}: {e:#}"))
}

/// PIDs of processes that are alive (not zombies).
pub fn alive(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => !stat
            .split(") ")
            .nth(1)
            .is_some_and(|rest| rest.starts_with('Z')),
        Err(_) => false,
    }
}

/// An echo server; it closes a connection after echoing `bye`.
pub async fn echo_server() -> std::net::SocketAddr {
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((mut s, _)) = l.accept().await {
            tokio::spawn(async move {
                let mut buf = [0u8; 8192];
                while let Ok(n) = tokio::io::AsyncReadExt::read(&mut s, &mut buf).await {
                    if n == 0
                        || tokio::io::AsyncWriteExt::write_all(&mut s, &buf[..n])
                            .await
                            .is_err()
                    {
                        break;
                    }
                    if &buf[..n] == b"bye" {
                        break;
                    }
                }
            });
        }
    });
    addr
}

/// The body of `GET path` from the HTTP server at `host:port` (one request, connection closed).
pub fn http_get_from(host: &str, port: u16, path: &str) -> String {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect((host, port)).unwrap();
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut text = String::new();
    s.read_to_string(&mut text).unwrap();
    text.split("\r\n\r\n")
        .nth(1)
        .unwrap_or_default()
        .to_string()
}

/// The contents of every file called `name` under `dir` (symlinked folders, such as
/// `results/latest`, not followed: each file once).
pub fn files_named(dir: &std::path::Path, name: &str) -> Vec<String> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let p = e.path();
        if p.is_dir() && !p.is_symlink() {
            out.extend(files_named(&p, name));
        } else if p.file_name().is_some_and(|n| n == name) {
            out.push(std::fs::read_to_string(&p).unwrap());
        }
    }
    out
}
