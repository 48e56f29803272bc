//! Client processes as users meet them: the reference adapter judged like the in-process locks,
//! every way an adapter can misbehave answered with one clear error (before the run) or `info`
//! ops (during it), no client process left behind, and the blame checker catching fencepost's
//! own lock with a deliberate flaw — while the correct lock, under the same faults, gives none.

use crate::common::*;
use std::path::{Path, PathBuf};
use std::process::{Output, Stdio};
use std::time::Duration;

fn bad(mode: &str) -> String {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/adapters/bad.py");
    format!("python3 {} {mode}", script.display())
}

/// `fencepost scenario NAME --duration D --client-command CMD` (or `--client NAME`).
fn run_with(
    scenario: &str,
    duration: &str,
    client: (&str, &str),
    results: &Path,
    env: &[(&str, &str)],
) -> Output {
    let _serial = SERIAL.lock().unwrap_or_else(|p| p.into_inner());
    fencepost()
        .args([
            "scenario",
            scenario,
            "--duration",
            duration,
            client.0,
            client.1,
            "--results",
        ])
        .arg(results)
        .envs(env.iter().copied())
        .output()
        .unwrap()
}

/// The run folder a scenario run wrote (the only one under `results/<name>`).
fn run_dir(results: &Path, name: &str) -> PathBuf {
    std::fs::read_dir(results.join(name))
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .find(|p| p.join("run.json").exists())
        .expect("a run folder")
}

#[test]
fn every_bad_adapter_stops_the_run_before_it_starts_with_a_clear_error() {
    let results = results_dir("bad-adapters");
    for (mode, want) in [
        ("crash", "exited"),
        ("hang", "did not answer the hello"),
        ("garbage", "not a protocol line"),
        ("protocol", "speaks protocol 2"),
        ("refuse", "refuses: bad on purpose"),
    ] {
        let out = run_with(
            "baseline",
            "2s",
            ("--client-command", &bad(mode)),
            &results,
            &[("FENCEPOST_HELLO_TIMEOUT_MS", "1500")],
        );
        let t = text(&out);
        assert_eq!(out.status.code(), Some(2), "{mode}: {t}");
        assert!(t.contains(want), "{mode}: expected {want:?} in {t}");
        assert!(!t.contains("panicked"), "{mode}: {t}");
    }
    // Its stderr is kept in the run folder, and named in the message.
    let out = run_with(
        "baseline",
        "2s",
        ("--client-command", &bad("crash")),
        &results,
        &[],
    );
    assert!(text(&out).contains("bad adapter: crash"), "{}", text(&out));
}

#[test]
fn an_adapter_that_answers_the_wrong_op_mid_run_gives_info_ops_and_the_run_goes_on() {
    let results = results_dir("wrong-op");
    let out = run_with(
        "baseline",
        "2s",
        ("--client-command", &bad("wrong-op")),
        &results,
        &[],
    );
    let t = text(&out);
    // The run was judged (too little evidence: every op is info), not aborted.
    assert_eq!(out.status.code(), Some(3), "{t}");
    let dir = run_dir(&results, "baseline");
    let history = std::fs::read_to_string(dir.join("history.jsonl")).unwrap();
    assert!(
        history.contains("\"info\"") && history.contains("answered"),
        "{history}"
    );
    assert!(
        !history.contains("\"fail\""),
        "a protocol fault is never fail"
    );
    // Fresh processes took the slots, under new process ids: more PIDs than clients.
    let pids = std::fs::read_to_string(dir.join("clients/pids")).unwrap();
    assert!(pids.lines().count() > 5, "{pids}");
    for p in pids.lines() {
        assert!(
            !alive(p.parse().unwrap()),
            "client process {p} outlived the run"
        );
    }
    assert!(std::fs::read_dir(dir.join("clients")).unwrap().any(|e| e
        .unwrap()
        .file_name()
        .to_string_lossy()
        .ends_with(".stderr")));
}

#[test]
fn a_missing_runtime_or_a_failed_install_is_one_clear_error() {
    let results = results_dir("missing-runtime");
    // PATH without python3 (redis-server stays reachable): the fix is the install line.
    let bin = results.join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    std::os::unix::fs::symlink(which("redis-server"), bin.join("redis-server")).unwrap();
    let out = run_with(
        "baseline",
        "2s",
        ("--client", "redis-py"),
        &results,
        &[
            ("PATH", bin.to_str().unwrap()),
            ("FENCEPOST_CACHE", results.join("cache").to_str().unwrap()),
        ],
    );
    let t = text(&out);
    assert_eq!(out.status.code(), Some(2), "{t}");
    assert!(t.contains("python3-venv"), "{t}");
    // An adapter pinning a version that does not exist: the install fails, named, with its log.
    let adapters = results.join("adapters");
    std::fs::create_dir_all(adapters.join("broken")).unwrap();
    std::fs::write(
        adapters.join("broken/adapter.toml"),
        "library = \"broken\"\npackage = \"redis\"\nruntime = \"python\"\ncommand = [\"python\", \"adapter.py\"]\nnodes = \"one\"\n",
    )
    .unwrap();
    std::fs::write(
        adapters.join("broken/requirements.txt"),
        "redis==0.0.0.999\n",
    )
    .unwrap();
    let _serial = SERIAL.lock().unwrap_or_else(|p| p.into_inner());
    let out = fencepost()
        .args([
            "scenario",
            "baseline",
            "--duration",
            "2s",
            "--client",
            "broken",
            "--adapters",
        ])
        .arg(&adapters)
        .arg("--results")
        .arg(&results)
        .env("FENCEPOST_CACHE", results.join("cache"))
        .output()
        .unwrap();
    let t = text(&out);
    assert_eq!(out.status.code(), Some(2), "{t}");
    assert!(
        t.contains("installing the broken adapter failed (pip install)"),
        "{t}"
    );
    // An unknown library names the ones there are.
    let out = fencepost()
        .args([
            "scenario",
            "baseline",
            "--client",
            "no-such-lib",
            "--results",
        ])
        .arg(&results)
        .output()
        .unwrap();
    let t = text(&out);
    assert_eq!(out.status.code(), Some(2), "{t}");
    assert!(
        t.contains("unknown client library `no-such-lib`") && t.contains("redis-py"),
        "{t}"
    );
}

fn which(program: &str) -> PathBuf {
    std::env::split_paths(&std::env::var_os("PATH").unwrap())
        .map(|d| d.join(program))
        .find(|p| p.is_file())
        .unwrap_or_else(|| panic!("{program} is not on PATH"))
}

/// The verdicts of a run's checks, by id.
fn verdicts(results: &Path, name: &str) -> Vec<(String, String)> {
    let dir = run_dir(results, name);
    let r: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("results.json")).unwrap()).unwrap();
    r["checks"]["checks"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["advisory"] != true)
        .map(|c| {
            (
                c["id"].as_str().unwrap().to_string(),
                c["verdict"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

#[test]
fn the_reference_adapter_gives_the_in_process_verdicts() {
    for scenario in ["baseline", "gc-pause"] {
        let inproc = results_dir(&format!("ref-inproc-{scenario}"));
        let adapter = results_dir(&format!("ref-adapter-{scenario}"));
        let _serial = SERIAL.lock().unwrap_or_else(|p| p.into_inner());
        let a = fencepost()
            .args([
                "scenario",
                scenario,
                "--duration",
                "4s",
                "--seed",
                "2",
                "--results",
            ])
            .arg(&inproc)
            .output()
            .unwrap();
        let b = fencepost()
            .args([
                "scenario",
                scenario,
                "--duration",
                "4s",
                "--seed",
                "2",
                "--client",
                "fencepost-single",
                "--results",
            ])
            .arg(&adapter)
            .output()
            .unwrap();
        assert_eq!(a.status.code(), Some(0), "{}", text(&a));
        assert_eq!(b.status.code(), Some(0), "{}", text(&b));
        assert_eq!(
            verdicts(&inproc, scenario),
            verdicts(&adapter, scenario),
            "{scenario}"
        );
        assert!(
            text(&b).contains("client: **fencepost-single"),
            "{}",
            text(&b)
        );
    }
}

/// A scenario file in `dir`: `base` with its client and one fault replaced.
fn variant(dir: &Path, name: &str, base: &str, client: &str, extra: &str) -> PathBuf {
    let text = std::fs::read_to_string(
        repo()
            .join("scenarios/libraries")
            .join(format!("{base}.toml")),
    )
    .unwrap()
    .replace(
        "library = \"redis-py\"",
        &format!("command = [{client}]\nnodes = \"one\""),
    ) + extra;
    let file = dir.join(format!("{name}.toml"));
    std::fs::write(&file, text).unwrap();
    file
}

fn blame_findings(results: &Path, name: &str) -> (u64, String) {
    let dir = run_dir(results, name);
    let r: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("results.json")).unwrap()).unwrap();
    let blame = r["checks"]["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == "blame")
        .expect("a blame check")
        .clone();
    (blame["violations"].as_u64().unwrap(), blame.to_string())
}

#[test]
fn the_blame_checker_catches_each_deliberate_flaw_and_not_the_correct_lock() {
    let results = results_dir("blame-flaws");
    let bin = env!("CARGO_BIN_EXE_fencepost");
    let cmd = |flaw: &str| {
        let mut c = format!("\"{bin}\", \"adapter\", \"--lock\", \"single\"");
        if !flaw.is_empty() {
            c.push_str(&format!(", \"--flaw\", \"{flaw}\""));
        }
        c
    };
    // Replies delayed past the ttl: the flawed lock returns the lapsed grant, the correct one
    // does not.
    for (flaw, want_findings) in [("no-elapsed", true), ("", false)] {
        let name = format!(
            "reply-delay{}",
            if flaw.is_empty() {
                "-correct".to_string()
            } else {
                format!("-{flaw}")
            }
        );
        let file = variant(&results, &name, "reply-delay", &cmd(flaw), "");
        let text_name = format!("lib-{name}");
        // Every client's replies delayed, so that delayed acquires are granted at all.
        let file_text = std::fs::read_to_string(&file)
            .unwrap()
            .replace(
                "name = \"lib-reply-delay\"",
                &format!("name = \"{text_name}\""),
            )
            .replace("clients = \"one\"", "clients = \"all\"");
        std::fs::write(&file, file_text).unwrap();
        let _serial = SERIAL.lock().unwrap_or_else(|p| p.into_inner());
        let out = fencepost()
            .arg("scenario")
            .arg(&file)
            .args(["--duration", "7s", "--results"])
            .arg(&results)
            .stdout(Stdio::piped())
            .output()
            .unwrap();
        let (n, blame) = blame_findings(&results, &text_name);
        assert_eq!(n > 0, want_findings, "{flaw:?}: {blame}\n{}", text(&out));
        if want_findings {
            assert!(
                blame.contains("grant returned after its lease ended"),
                "{blame}"
            );
        }
    }
    // Every critical section long and extended while the process is stopped past the ttl now and
    // then: the flawed extension re-takes the lapsed key, the correct one is refused.
    for (flaw, want_findings) in [("retake-on-extend", true), ("", false)] {
        let name = format!(
            "extend{}",
            if flaw.is_empty() {
                "-correct".to_string()
            } else {
                format!("-{flaw}")
            }
        );
        let extra = "\n[[nemesis]]\nkind = \"process-pause\"\nstart = \"500ms\"\nevery = \"700ms\"\npause = \"1200ms\"\n";
        let file = variant(&results, &name, "baseline", &cmd(flaw), extra);
        let text_name = format!("lib-{name}");
        let file_text = std::fs::read_to_string(&file)
            .unwrap()
            .replace("name = \"lib-baseline\"", &format!("name = \"{text_name}\""))
            .replace("long_one_in = 40", "long_one_in = 1")
            // One client: every stop is the holder's.
            .replace("clients = 5", "clients = 1")
            .replace("[expect]\nmutual_exclusion = \"holds\"\ndouble_grant = \"holds\"\nfencing = \"holds\"\nlost_updates = \"holds\"\n", "[expect]\n");
        std::fs::write(&file, file_text).unwrap();
        let _serial = SERIAL.lock().unwrap_or_else(|p| p.into_inner());
        let out = fencepost()
            .arg("scenario")
            .arg(&file)
            .args(["--duration", "8s", "--results"])
            .arg(&results)
            .output()
            .unwrap();
        let (n, blame) = blame_findings(&results, &text_name);
        assert_eq!(n > 0, want_findings, "{flaw:?}: {blame}\n{}", text(&out));
        if want_findings {
            assert!(blame.contains("re-took a lapsed lease"), "{blame}");
        }
    }
}

#[test]
fn no_client_process_outlives_a_signalled_fencepost() {
    for sig in [libc::SIGINT, libc::SIGTERM, libc::SIGKILL] {
        let results = results_dir(&format!("client-signal-{sig}"));
        let _serial = SERIAL.lock().unwrap_or_else(|p| p.into_inner());
        let mut child = fencepost()
            .args([
                "scenario",
                "baseline",
                "--duration",
                "20s",
                "--client",
                "fencepost-single",
                "--results",
            ])
            .arg(&results)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let pids_file = || {
            std::fs::read_dir(results.join("baseline"))
                .ok()?
                .flatten()
                .map(|e| e.path().join("clients/pids"))
                .find(|p| p.exists())
        };
        let mut waited = 0;
        while pids_file().is_none_or(|p| {
            std::fs::read_to_string(p)
                .unwrap_or_default()
                .lines()
                .count()
                < 5
        }) && waited < 200
        {
            std::thread::sleep(Duration::from_millis(50));
            waited += 1;
        }
        std::thread::sleep(Duration::from_millis(1000));
        let pids: Vec<u32> =
            std::fs::read_to_string(pids_file().expect("the run started its clients"))
                .unwrap()
                .lines()
                .map(|l| l.parse().unwrap())
                .collect();
        assert!(pids.iter().all(|&p| alive(p)), "clients run mid-run");
        unsafe { libc::kill(child.id() as i32, sig) };
        let _ = child.wait();
        std::thread::sleep(Duration::from_millis(500));
        for p in pids {
            assert!(
                !alive(p),
                "client process {p} outlived fencepost (signal {sig})"
            );
        }
    }
}

/// The spread of `wall-minus-monotonic-ms` readings a clock probe logged, per client process.
fn clock_spreads(run: &Path) -> Vec<(String, i64)> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(run.join("clients")).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_none_or(|e| e != "stderr") {
            continue;
        }
        let readings: Vec<i64> = std::fs::read_to_string(&path)
            .unwrap()
            .lines()
            .filter_map(|l| l.strip_prefix("wall-minus-monotonic-ms "))
            .map(|v| v.trim().parse().unwrap())
            .collect();
        if let (Some(lo), Some(hi)) = (readings.iter().min(), readings.iter().max()) {
            let name = path.file_stem().unwrap().to_string_lossy().into_owned();
            out.push((name, hi - lo));
        }
    }
    out.sort();
    out
}

#[test]
fn a_client_clock_jump_reaches_the_client_process_wall_clock() {
    // The matrix's clock-jump scenario (client 0's wall clock 5 s ahead for 2 s) with a probe
    // that logs its own time.time() / Date.now() against the monotonic clock on every op.
    let results = results_dir("client-clock");
    let probes = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/adapters");
    for (runtime, probe) in [("python3", "clock_probe.py"), ("node", "clock_probe.js")] {
        let command = format!("{runtime} {}", probes.join(probe).display());
        let out = run_with(
            "scenarios/libraries/clock-jump.toml",
            "4s",
            ("--client-command", &command),
            &results,
            &[],
        );
        // A probe grants nothing: the run has no evidence for a verdict.
        assert_eq!(out.status.code(), Some(3), "{runtime}: {}", text(&out));
        let spreads = clock_spreads(&run_dir(&results, "lib-clock-jump"));
        let jumped: Vec<_> = spreads.iter().filter(|(_, s)| *s >= 4_500).collect();
        let steady: Vec<_> = spreads.iter().filter(|(_, s)| *s < 500).collect();
        assert_eq!(
            (jumped.len(), steady.len(), spreads.len()),
            (1, 4, 5),
            "{runtime}: one client's wall clock jumped 5 s, the others' did not: {spreads:?}"
        );
        assert_eq!(jumped[0].0, "client-0", "{runtime}: {spreads:?}");
        std::fs::remove_dir_all(results.join("lib-clock-jump")).unwrap();
    }
}

/// An adapter that garbles a reply mid-run (the reference adapter behind a wrapper): each
/// violation is an `info` op, counted and named in the summary and results.json; a few in a long
/// run leave it judged, an adapter that keeps garbling makes it `unknown`, never met.
#[test]
fn protocol_violations_mid_run_are_counted_and_past_the_bound_the_run_is_unknown() {
    let garble = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/adapters/garble.py");
    let command = |mode: &str| {
        format!(
            "python3 {} 30 {mode} 5 {} adapter --lock single",
            garble.display(),
            env!("CARGO_BIN_EXE_fencepost")
        )
    };
    let results = results_dir("garble-once");
    let out = run_with(
        "baseline",
        "6s",
        ("--client-command", &command("once")),
        &results,
        &[],
    );
    let t = text(&out);
    assert_eq!(out.status.code(), Some(0), "{t}");
    assert!(
        t.contains("client protocol**: 5 protocol violation(s)"),
        "{t}"
    );
    assert!(t.contains("not a protocol line"), "{t}");
    let dir = run_dir(&results, "baseline");
    let r: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("results.json")).unwrap()).unwrap();
    assert_eq!(r["protocol"]["violations"], 5, "{}", r["protocol"]);
    assert_eq!(r["protocol"]["past_bound"], false);

    let results = results_dir("garble-always");
    let out = run_with(
        "baseline",
        "6s",
        ("--client-command", &command("always")),
        &results,
        &[],
    );
    let t = text(&out);
    assert_eq!(out.status.code(), Some(3), "{t}");
    assert!(t.contains("past the bound"), "{t}");
    assert!(
        t.contains("unknown: the client adapter broke the protocol"),
        "{t}"
    );
    let _ = std::fs::remove_dir_all(&results);
}
