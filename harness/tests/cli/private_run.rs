//! A root-run harness that no local user can ride: what another user (`nobody`) can see of a
//! live run, and what a folder planted where fencepost used to put its run folder does to a run.
//!
//! These tests run fencepost as root (as CI does) and act as `nobody` through `setpriv`; they
//! fail with the reason when either is missing.

use crate::common::{fencepost, text};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const NOBODY: &str = "65534";

fn require_root() {
    // SAFETY: geteuid(2) cannot fail.
    let euid = unsafe { libc::geteuid() };
    assert_eq!(
        euid, 0,
        "these tests act as another user (nobody) and need root, as CI has"
    );
    let ok = Command::new("setpriv")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    assert!(ok, "setpriv (util-linux) is needed to act as nobody");
}

/// Runs `program args` as nobody; returns (success, stdout + stderr).
fn as_nobody(program: &str, args: &[&str]) -> (bool, String) {
    let out = Command::new("setpriv")
        .args([
            "--reuid",
            NOBODY,
            "--regid",
            NOBODY,
            "--clear-groups",
            "--",
            program,
        ])
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("setpriv runs");
    (out.status.success(), text(&out))
}

/// A folder like /tmp: anyone may create entries, only their owner may remove them.
fn shared_tmp(tag: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!(
        "fencepost-test-shared-{tag}-{}",
        std::process::id()
    ));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir(&d).unwrap();
    std::fs::set_permissions(&d, std::fs::Permissions::from_mode(0o1777)).unwrap();
    d
}

/// The run folders fencepost made under `tmp` (named fencepost-…), not counting `except`.
fn run_roots(tmp: &Path, except: &[PathBuf]) -> Vec<PathBuf> {
    std::fs::read_dir(tmp)
        .map(|rd| {
            rd.flatten()
                .map(|e| e.path())
                .filter(|p| {
                    p.file_name()
                        .and_then(|n| n.to_str())
                        .is_some_and(|n| n.starts_with("fencepost-"))
                        && !except.contains(p)
                })
                .collect()
        })
        .unwrap_or_default()
}

/// The passwords a node's config holds (`>secret` in its ACL lines).
fn passwords(conf: &str) -> Vec<String> {
    conf.split_whitespace()
        .filter_map(|w| w.strip_prefix('>'))
        .map(str::to_string)
        .collect()
}

/// The port a config says it listens on.
fn port(conf: &str) -> String {
    conf.lines()
        .find_map(|l| l.strip_prefix("port "))
        .expect("a port line")
        .trim()
        .to_string()
}

fn every_file(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let p = e.path();
        if e.file_type().is_ok_and(|t| t.is_dir()) {
            every_file(&p, out);
        }
        out.push(p);
    }
}

#[test]
fn another_user_reads_no_secret_of_a_live_run() {
    require_root();
    let tmp = shared_tmp("reader");
    let results = crate::common::results_dir("private-reader");
    // failover: nodes, a replica and Sentinels, every kind of file with a password
    let mut child = fencepost()
        .args(["scenario", "failover", "--duration", "8s", "--results"])
        .arg(&results)
        .env("TMPDIR", &tmp)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let started = Instant::now();
    let root = loop {
        let roots = run_roots(&tmp, &[]);
        if let Some(r) = roots
            .iter()
            .find(|r| r.join("s3/sentinel.conf").exists() && r.join("n2/redis.conf").exists())
        {
            break r.clone();
        }
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "no run folder with Sentinels appeared under {}",
            tmp.display()
        );
        std::thread::sleep(Duration::from_millis(100));
    };
    // Give the Sentinels time to rewrite their configs (they do, on start and on news).
    std::thread::sleep(Duration::from_secs(2));

    let n1 = std::fs::read_to_string(root.join("n1/redis.conf")).unwrap();
    let secrets = passwords(&n1);
    assert_eq!(secrets.len(), 2, "admin and client passwords in {n1}");

    // Nothing in the run folder is open to group or others, whatever wrote it.
    let mut files = vec![root.clone()];
    every_file(&root, &mut files);
    assert!(files.len() > 15, "{files:?}");
    for f in &files {
        let mode = std::fs::symlink_metadata(f).unwrap().mode();
        assert_eq!(
            mode & 0o077,
            0,
            "{} has mode {:o}",
            f.display(),
            mode & 0o7777
        );
    }

    // nobody can neither list the folder nor read a config, a log or the clock library.
    for target in ["", "n1/redis.conf", "s1/sentinel.conf", "n1/redis.log"] {
        let p = root.join(target);
        let (ok, out) = as_nobody("cat", &[p.to_str().unwrap()]);
        assert!(!ok && out.contains("Permission denied"), "{target}: {out}");
    }
    let (ok, out) = as_nobody("ls", &[root.to_str().unwrap()]);
    assert!(!ok && out.contains("Permission denied"), "{out}");

    // Without a password, nobody gets no answer from a node or a Sentinel.
    let sentinel = std::fs::read_to_string(root.join("s1/sentinel.conf")).unwrap();
    for p in [port(&n1), port(&sentinel)] {
        let (_, out) = as_nobody("redis-cli", &["-p", &p, "PING"]);
        assert!(out.contains("NOAUTH"), "port {p} answered nobody: {out}");
    }

    // No password shows in what others can read: command lines of every process, the run's
    // results folder.
    for e in std::fs::read_dir("/proc").unwrap().flatten() {
        let cmdline = e.path().join("cmdline");
        let (_, out) = as_nobody("cat", &[cmdline.to_str().unwrap()]);
        for s in &secrets {
            assert!(!out.contains(s), "{} shows a password", cmdline.display());
        }
    }
    let status = child.wait().unwrap();
    let mut stderr = String::new();
    std::io::Read::read_to_string(child.stderr.as_mut().unwrap(), &mut stderr).unwrap();
    assert!(
        matches!(status.code(), Some(0 | 1 | 3)),
        "{status}: {stderr}"
    );
    let mut outputs = Vec::new();
    every_file(&results, &mut outputs);
    for f in outputs.iter().filter(|f| f.is_file()) {
        let bytes = std::fs::read(f).unwrap();
        let text = String::from_utf8_lossy(&bytes);
        for s in &secrets {
            assert!(
                !text.contains(s.as_str()),
                "{} holds a password",
                f.display()
            );
        }
    }
    for s in &secrets {
        assert!(!stderr.contains(s.as_str()), "stderr shows a password");
    }
    assert!(!root.exists(), "the run folder is removed at the end");
    std::fs::remove_dir_all(&tmp).unwrap();
    std::fs::remove_dir_all(&results).unwrap();
}

/// The attack of issue 26: another user plants folders at the names fencepost used to take
/// (`fencepost-<pid>-<run id>`, both guessable), each with `n1/redis.conf` a symlink to a file
/// of root's. fencepost must neither write through them nor use them.
#[test]
fn planted_run_folders_are_never_used() {
    require_root();
    let tmp = shared_tmp("planted");
    let results = crate::common::results_dir("private-planted");
    let victim_dir = crate::common::results_dir("private-victim");
    let victim = victim_dir.join("victim.conf");
    std::fs::write(&victim, "root's own file\n").unwrap();
    std::fs::set_permissions(&victim, std::fs::Permissions::from_mode(0o644)).unwrap();

    // The next PIDs and the next seconds' run ids, as an attacker guesses them.
    let last_pid: u32 = std::fs::read_to_string("/proc/sys/kernel/ns_last_pid")
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let mut script = String::from("set -e\n");
    for pid in last_pid + 1..last_pid + 60 {
        for s in now..now + 6 {
            let stamp = fencepost::store::utc_stamp(s);
            let d = tmp.join(format!("fencepost-{pid}-{stamp}-seed1-p{pid}"));
            script.push_str(&format!(
                "mkdir -m 777 -p {d}/n1 && ln -s {v} {d}/n1/redis.conf && ln -s {v} {d}/libfencepost_clock.so\n",
                d = d.display(),
                v = victim.display()
            ));
        }
    }
    let plant = victim_dir.join("plant.sh");
    std::fs::write(&plant, script).unwrap();
    std::fs::set_permissions(&victim_dir, std::fs::Permissions::from_mode(0o755)).unwrap();
    std::fs::set_permissions(&plant, std::fs::Permissions::from_mode(0o644)).unwrap();
    let (ok, out) = as_nobody("sh", &[plant.to_str().unwrap()]);
    assert!(ok, "planting as nobody: {out}");
    let planted = run_roots(&tmp, &[]);
    assert!(planted.len() >= 300, "{}", planted.len());

    let out = fencepost()
        .args([
            "scenario",
            "clock-jump",
            "--seed",
            "1",
            "--duration",
            "2s",
            "--results",
        ])
        .arg(&results)
        .env("TMPDIR", &tmp)
        .output()
        .unwrap();
    assert!(
        matches!(out.status.code(), Some(0 | 1 | 3)),
        "{}",
        text(&out)
    );
    assert_eq!(
        std::fs::read_to_string(&victim).unwrap(),
        "root's own file\n",
        "fencepost wrote through a planted symlink"
    );
    for d in &planted {
        let meta = std::fs::symlink_metadata(d).unwrap();
        assert_eq!(meta.uid(), 65534, "{}", d.display());
        let entries: Vec<_> = std::fs::read_dir(d).unwrap().flatten().collect();
        assert_eq!(entries.len(), 2, "{} was used: {entries:?}", d.display());
    }
    assert!(
        run_roots(&tmp, &planted).is_empty(),
        "the run's own folder is removed at the end"
    );

    // A temp folder that another user owns and anyone may write to, without a sticky bit, is
    // refused before anything starts, with the fix.
    let open = tmp.join("open");
    let (ok, out) = as_nobody(
        "sh",
        &[
            "-c",
            &format!("mkdir -m 777 {0} && chmod 777 {0}", open.display()),
        ],
    );
    assert!(ok, "{out}");
    let out = fencepost()
        .args(["scenario", "baseline", "--duration", "1s", "--results"])
        .arg(&results)
        .env("TMPDIR", &open)
        .output()
        .unwrap();
    let said = text(&out);
    assert_eq!(out.status.code(), Some(2), "{said}");
    assert!(
        said.contains(open.to_str().unwrap()) && said.contains("TMPDIR"),
        "{said}"
    );
    assert!(run_roots(&open, &[]).is_empty());

    std::fs::remove_dir_all(&tmp).unwrap();
    std::fs::remove_dir_all(&results).unwrap();
    std::fs::remove_dir_all(&victim_dir).unwrap();
}
