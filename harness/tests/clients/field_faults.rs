//! The field faults of the libraries' trackers, each in a real run on fencepost's own lock
//! through the reference adapter (`fencepost adapter --lock single`, which honours
//! `abandon_after_ms` and `starve`): every one takes effect, where it is aimed — an abandoned
//! acquire is `info` in the history, a starve lasts its length, a clock step lands inside an
//! acquire, a burst raises the op rate — and a config that cannot run is refused at load with
//! its line and the fix.

use crate::common::*;
use checkers::{History, OpKind, Process, Value, F};
use fencepost::judge::RunResult;
use std::path::{Path, PathBuf};

/// The library baseline around fencepost's single lock, `clients` clients, the workload's
/// delays replaced by `pace` (think, retry min, retry max, idle; None: the baseline's), no long
/// sections, no expectations, and `nemeses` appended.
fn scenario(
    dir: &Path,
    name: &str,
    clients: u32,
    pace: Option<[&str; 4]>,
    nemeses: &str,
) -> PathBuf {
    let bin = env!("CARGO_BIN_EXE_fencepost");
    let base = std::fs::read_to_string(repo().join("scenarios/libraries/baseline.toml")).unwrap();
    let mut text = base
        .split("[expect]")
        .next()
        .unwrap()
        .replace("name = \"lib-baseline\"", &format!("name = \"{name}\""))
        .replace("clients = 5", &format!("clients = {clients}"))
        .replace("long_section = \"1500ms\"\n", "")
        .replace("long_one_in = 40\n", "")
        .replace(
            "library = \"redis-py\"",
            &format!("command = [\"{bin}\", \"adapter\", \"--lock\", \"single\"]\nnodes = \"one\""),
        );
    if let Some([think, retry_min, retry_max, idle]) = pace {
        text = text
            .replace("think_max = \"20ms\"", &format!("think_max = \"{think}\""))
            .replace(
                "retry_min = \"5ms\"",
                &format!("retry_min = \"{retry_min}\""),
            )
            .replace(
                "retry_max = \"30ms\"",
                &format!("retry_max = \"{retry_max}\""),
            )
            .replace("idle_max = \"10ms\"", &format!("idle_max = \"{idle}\""));
    }
    let file = dir.join(format!("{name}.toml"));
    std::fs::write(&file, text + nemeses).unwrap();
    file
}

/// Replies from the lock node 20 ms late for the whole run (up to 4 s): every lock call is in
/// flight for 20 ms or more, so a fault aimed a few ms into it lands inside.
const SLOW_REPLIES: &str = r#"
[[nemesis]]
kind = "latency"
stream = "downstream"
links = "lock"
clients = "all"
latency = "20ms"
duration = "3800ms"
start = "100ms"
every = "20s"
"#;

fn history(r: &RunResult) -> History {
    let text = std::fs::read_to_string(Path::new(&r.run_dir).join("history.jsonl")).unwrap();
    checkers::history::parse_jsonl("history", &text)
        .unwrap()
        .history
}

fn took_effect(r: &RunResult, kind: &str) -> u64 {
    r.checks.faults.took_effect.get(kind).copied().unwrap_or(0)
}

/// Each fault of `kind` that took effect: (start, stop, target, detail).
fn windows(h: &History, kind: &str) -> Vec<(u64, u64, String, String)> {
    let mut open = std::collections::BTreeMap::new();
    let mut out = Vec::new();
    for op in &h.ops {
        let Value::Fault(f) = &op.value else { continue };
        if op.process != Process::Nemesis || f.kind != kind || op.kind == OpKind::Fail {
            continue;
        }
        match op.f {
            F::Start => {
                open.insert(f.id, op.time_ns);
            }
            F::Stop => {
                if let Some(start) = open.remove(&f.id) {
                    out.push((start, op.time_ns, f.target.clone(), f.detail.clone()));
                }
            }
            _ => {}
        }
    }
    out
}

/// Every acquire of the run: (process, invoke, complete, outcome, value).
fn acquires(h: &History) -> Vec<(u32, u64, u64, OpKind, Value)> {
    let mut invoked = std::collections::BTreeMap::new();
    let mut out = Vec::new();
    for op in &h.ops {
        let (Process::Client(p), F::Acquire) = (op.process, op.f) else {
            continue;
        };
        if op.kind == OpKind::Invoke {
            invoked.insert(p, op.time_ns);
        } else if let Some(at) = invoked.remove(&p) {
            out.push((p, at, op.time_ns, op.kind, op.value.clone()));
        }
    }
    out
}

#[test]
fn call_abandon_gives_up_on_acquires_in_flight_and_they_are_info() {
    let results = results_dir("field-call-abandon");
    let file = scenario(
        &results,
        "field-call-abandon",
        3,
        None,
        &format!(
            "{SLOW_REPLIES}\n[[nemesis]]\nkind = \"call-abandon\"\nop = \"acquire\"\nafter = \"1ms..3ms\"\nstart = \"500ms\"\nevery = \"300ms\"\n"
        ),
    );
    let r = run_file(&file, 1, 4_000, &results);
    let h = history(&r);
    let took = took_effect(&r, "call-abandon");
    assert!(took > 0, "no abandon took effect: {}", r.summary());
    let abandoned: Vec<_> = acquires(&h)
        .into_iter()
        .filter(|a| matches!(&a.4, Value::Error(e) if e.starts_with("abandoned after")))
        .collect();
    assert!(
        abandoned.len() as u64 >= took,
        "{took} abandons took effect, {} acquires answered abandoned",
        abandoned.len()
    );
    assert!(
        abandoned.iter().all(|a| a.3 == OpKind::Info),
        "an abandoned acquire is info: {abandoned:?}"
    );
    // Each took effect with the call and the point in its detail.
    let w = windows(&h, "call-abandon");
    assert!(
        w.iter()
            .all(|(_, _, _, d)| d.contains("acquire abandoned after")),
        "{w:?}"
    );
    eprintln!(
        "call-abandon: {took} took effect, {} failed; {} acquires abandoned",
        r.checks
            .faults
            .failed
            .get("call-abandon")
            .copied()
            .unwrap_or(0),
        abandoned.len()
    );
}

#[test]
fn loop_starve_busies_a_holder_for_its_length_and_it_goes_on() {
    let results = results_dir("field-loop-starve");
    let file = scenario(
        &results,
        "field-loop-starve",
        2,
        None,
        "\n[[nemesis]]\nkind = \"loop-starve\"\nstarve = \"300ms\"\nstart = \"300ms\"\nevery = \"500ms\"\n",
    );
    let r = run_file(&file, 1, 3_000, &results);
    let h = history(&r);
    let w = windows(&h, "loop-starve");
    assert!(took_effect(&r, "loop-starve") > 0, "{}", r.summary());
    // The reply comes once the adapter has been busy for the whole 300 ms.
    assert!(
        w.iter()
            .all(|(start, stop, _, _)| stop - start >= 300_000_000),
        "a starve shorter than 300 ms: {w:?}"
    );
    // The starved holder goes on: the run keeps granting after the first starve.
    let first = w.iter().map(|x| x.0).min().unwrap();
    let later_grants = acquires(&h)
        .iter()
        .filter(|a| a.1 > first && matches!(a.4, Value::Granted(_)))
        .count();
    assert!(later_grants > 3, "{later_grants} grants after the starve");
    eprintln!(
        "loop-starve: {} took effect, {later_grants} grants after the first",
        w.len()
    );
}

#[test]
fn script_flush_empties_the_lock_nodes_script_cache_and_the_lock_goes_on() {
    let results = results_dir("field-script-flush");
    let file = scenario(
        &results,
        "field-script-flush",
        3,
        None,
        "\n[[nemesis]]\nkind = \"script-flush\"\ntarget = \"n1\"\nstart = \"300ms\"\nevery = \"300ms\"\n",
    );
    let r = run_file(&file, 1, 3_000, &results);
    let h = history(&r);
    let w = windows(&h, "script-flush");
    assert!(took_effect(&r, "script-flush") > 0, "{}", r.summary());
    // The single lock releases by script: n1 had it cached before some flush.
    assert!(
        w.iter().any(|(_, _, _, d)| !d.contains("dropped 0 cached")),
        "no flush dropped a cached script: {w:?}"
    );
    // fencepost's lock loads a flushed script again (redis-rs retries NOSCRIPT by EVAL).
    assert!(r.checks.counts.grants > 10, "{}", r.summary());
    eprintln!(
        "script-flush: {} took effect, {} grants",
        w.len(),
        r.checks.counts.grants
    );
}

#[test]
fn contention_burst_raises_the_op_rate_while_it_lasts() {
    let results = results_dir("field-contention-burst");
    let file = scenario(
        &results,
        "field-contention-burst",
        5,
        Some(["30ms", "40ms", "80ms", "60ms"]),
        "\n[[nemesis]]\nkind = \"contention-burst\"\nduration = \"1s\"\nstart = \"1s\"\nevery = \"10s\"\n",
    );
    let r = run_file(&file, 1, 3_000, &results);
    let h = history(&r);
    let w = windows(&h, "contention-burst");
    assert_eq!(w.len(), 1, "{}", r.summary());
    let (start, stop) = (w[0].0, w[0].1);
    let rate = |from: u64, to: u64| {
        let n = h
            .ops
            .iter()
            .filter(|o| {
                o.kind == OpKind::Invoke
                    && matches!(o.process, Process::Client(_))
                    && (from..to).contains(&o.time_ns)
            })
            .count();
        n as f64 / ((to - from) as f64 / 1e9)
    };
    let during = rate(start, stop);
    let before = rate(start.saturating_sub(800_000_000), start);
    assert!(
        during > 3.0 * before,
        "ops/s during the burst {during:.0}, before it {before:.0}"
    );
    eprintln!("contention-burst: {during:.0} ops/s during, {before:.0} before");
}

#[test]
fn client_clock_strobe_lands_inside_an_acquire() {
    let results = results_dir("field-clock-strobe");
    let file = scenario(
        &results,
        "field-clock-strobe",
        3,
        None,
        &format!(
            "{SLOW_REPLIES}\n[[nemesis]]\nkind = \"client-clock-strobe\"\noffset = \"2s\"\nstrobe = 2\nduration = \"90ms\"\ndelay = \"1ms..5ms\"\nstart = \"500ms\"\nevery = \"400ms\"\n"
        ),
    );
    let r = run_file(&file, 1, 4_000, &results);
    let h = history(&r);
    let w = windows(&h, "client-clock-strobe");
    assert!(
        took_effect(&r, "client-clock-strobe") > 0,
        "{}",
        r.summary()
    );
    let clients = 3;
    let acquires = acquires(&h);
    // The step is aimed from when fencepost sent the acquire; the history's invoke is the
    // adapter's own stamp, taken once it has read the op and calls the library — a fraction of a
    // millisecond later, more on a loaded machine. So "inside" starts up to 5 ms before the
    // stamp (every call here is in flight for 20 ms or more: the slow replies).
    const SENT_BEFORE_STAMP_NS: u64 = 5_000_000;
    for (start, _, target, detail) in &w {
        let slot: u32 = target
            .strip_prefix("client slot ")
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| panic!("target {target}"));
        assert!(
            acquires.iter().any(|a| a.0 % clients == slot
                && a.1.saturating_sub(SENT_BEFORE_STAMP_NS) <= *start
                && *start <= a.2),
            "the step at {start} ns on slot {slot} ({detail}) is inside none of its acquires"
        );
    }
    eprintln!(
        "client-clock-strobe: {} took effect, each inside an acquire",
        w.len()
    );
}

/// A scenario text that must be refused at load: the error's line and message.
fn refused(text: &str) -> (Option<usize>, String) {
    match fencepost::scenario::Scenario::parse(Path::new("bad.toml"), text) {
        Ok(_) => panic!("accepted:\n{text}"),
        Err(e) => (e.line, e.message),
    }
}

/// The line (1-based) of the first line of `text` that starts with `prefix`.
fn line_of(text: &str, prefix: &str) -> Option<usize> {
    text.lines()
        .position(|l| l.starts_with(prefix))
        .map(|i| i + 1)
}

#[test]
fn bad_field_fault_configs_are_refused_at_load_with_the_line_and_the_fix() {
    let dir = results_dir("field-bad-configs");
    let processes = std::fs::read_to_string(scenario(&dir, "bad", 3, None, "")).unwrap();
    let in_process = std::fs::read_to_string(repo().join("scenarios/baseline.toml"))
        .unwrap()
        .split("[expect]")
        .next()
        .unwrap()
        .to_string();
    let counter = std::fs::read_to_string(repo().join("scenarios/counter.toml"))
        .unwrap()
        .split("[expect]")
        .next()
        .unwrap()
        .to_string();
    // (base, nemesis entry, the key the line points at — the entry's header for what the TOML
    // parser refuses, which knows the entry only — and words of the fix)
    let cases: &[(&str, &str, &str, &str)] = &[
        (&in_process, "kind = \"call-abandon\"\nafter = \"2ms\"\nstart = \"1s\"\nevery = \"1s\"\n", "kind", "add a [client] section"),
        (&processes, "kind = \"call-abandon\"\nafter = \"500us\"\nstart = \"1s\"\nevery = \"1s\"\n", "after", "not whole milliseconds"),
        (&processes, "kind = \"call-abandon\"\nafter = \"0ms\"\nstart = \"1s\"\nevery = \"1s\"\n", "after", "after must be > 0"),
        (&processes, "kind = \"call-abandon\"\nafter = \"9ms..2ms\"\nstart = \"1s\"\nevery = \"1s\"\n", "[[nemesis]]", "write low..high"),
        (&processes, "kind = \"call-abandon\"\nop = \"renew\"\nafter = \"2ms\"\nstart = \"1s\"\nevery = \"1s\"\n", "[[nemesis]]", "unknown variant `renew`"),
        (&in_process, "kind = \"loop-starve\"\nstarve = \"1s\"\nstart = \"1s\"\nevery = \"1s\"\n", "kind", "for fencepost's own in-process clients use gc-pause"),
        (&processes, "kind = \"loop-starve\"\nstarve = \"0s\"\nstart = \"1s\"\nevery = \"1s\"\n", "starve", "starve must be > 0"),
        (&processes, "kind = \"loop-starve\"\nstarve = \"19s\"\nstart = \"2s\"\nevery = \"1s\"\n", "starve", "shorten starve, or make the run longer"),
        (&processes, "kind = \"loop-starve\"\nstarv = \"1s\"\nstart = \"1s\"\nevery = \"1s\"\n", "[[nemesis]]", "unknown field `starv`"),
        (&processes, "kind = \"script-flush\"\ntarget = \"n9\"\nstart = \"1s\"\n", "target", "the lock has nodes n1..n5"),
        (&processes, "kind = \"script-flush\"\ntarget = \"all\"\nstart = \"1s\"\nevery = \"0s\"\n", "every", "every must be > 0"),
        (&counter, "kind = \"contention-burst\"\nduration = \"1s\"\nstart = \"1s\"\nevery = \"2s\"\n", "kind", "use [workload] kind = \"lock\""),
        (&processes, "kind = \"contention-burst\"\nduration = \"0s\"\nstart = \"1s\"\nevery = \"2s\"\n", "duration", "duration must be > 0"),
        (&processes, "kind = \"client-clock-strobe\"\noffset = \"1s\"\nstrobe = 0\nduration = \"100ms\"\nstart = \"1s\"\nevery = \"1s\"\n", "strobe", "use 1 (one step back)"),
        (&processes, "kind = \"client-clock-strobe\"\noffset = \"1s\"\nstrobe = 20\nduration = \"10ms\"\nstart = \"1s\"\nevery = \"1s\"\n", "duration", "make duration at least 39ms"),
        (&processes, "kind = \"client-clock-strobe\"\noffset = \"0s\"\nduration = \"100ms\"\nstart = \"1s\"\nevery = \"1s\"\n", "offset", "offset must be > 0"),
        (&processes, "kind = \"client-clock-strobe\"\noffset = \"1s\"\nduration = \"100ms\"\ndelay = \"2s\"\nstart = \"1s\"\nevery = \"1s\"\n", "delay", "use a delay shorter than the library's acquire"),
    ];
    for (base, entry, key, fix) in cases {
        let text = format!("{base}\n[[nemesis]]\n{entry}");
        let (line, message) = refused(&text);
        let header = line_of(&text, "[[nemesis]]").unwrap();
        let want = match *key {
            "[[nemesis]]" => Some(header),
            key => text
                .lines()
                .enumerate()
                .skip(header)
                .find(|(_, l)| l.starts_with(&format!("{key} ")))
                .map(|(i, _)| i + 1),
        };
        assert_eq!(line, want, "{entry}: line of `{key}` ({message})");
        assert!(message.contains(fix), "{entry}: `{message}` lacks `{fix}`");
    }
}
