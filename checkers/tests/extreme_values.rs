//! No input value can make a reader or a checker overflow: every number of every op of a
//! history, of the resource's log and of the nodes' record, set in turn to the extremes of its
//! type (u64::MAX, i64::MIN, …), is either refused by the reader with the field named, or judged
//! without a panic. Run in a debug build (`cargo test`), where arithmetic overflow panics.

use checkers::delivery::DeliveryConfig;
use checkers::history::{parse_jsonl, Fault, Grant, Message, Op, OpKind, Process, Value, F};
use checkers::linearizable::{check_text, Budget};
use checkers::model::ModelKind;
use checkers::node_record::NodesRecord;
use checkers::node_record::{self, NodeRecord};
use checkers::resource_log::ResourceLog;
use checkers::run::{check_with, CheckOptions, LockOptions};
use checkers::window::WindowSpec;
use serde_json::Value as Json;
use std::panic::{catch_unwind, AssertUnwindSafe};

const EXTREMES: &[&str] = &[
    "18446744073709551615", // u64::MAX
    "9223372036854775808",  // i64::MAX + 1
    "9223372036854775807",  // i64::MAX
    "-9223372036854775808", // i64::MIN
    "-1",
    "0",
    "1e308",
    "4294967296",
];

struct H {
    ops: Vec<Op>,
    t: u64,
}

impl H {
    fn call(&mut self, c: u32, f: F, arg: Value, kind: OpKind, ret: Value) {
        self.event(Process::Client(c), OpKind::Invoke, f, arg);
        self.event(Process::Client(c), kind, f, ret);
    }
    fn event(&mut self, process: Process, kind: OpKind, f: F, value: Value) {
        self.t += 1_000_000;
        self.ops.push(Op {
            index: self.ops.len() as u64,
            time_ns: self.t,
            process,
            kind,
            f,
            value,
        });
    }
}

/// A history with every kind of op and value a run records.
fn history() -> Vec<Op> {
    let mut h = H {
        ops: Vec::new(),
        t: 0,
    };
    let lease = || Value::Lease {
        key: "k".into(),
        ttl_ms: 300,
    };
    let fault = Fault {
        kind: "gc-pause".into(),
        target: "client 0".into(),
        id: 1,
        detail: "pause 900ms".into(),
        frozen: None,
        bends: None,
    };
    h.event(
        Process::Nemesis,
        OpKind::Info,
        F::Start,
        Value::Fault(fault.clone()),
    );
    h.call(
        0,
        F::Acquire,
        lease(),
        OpKind::Ok,
        Value::Granted(Grant {
            fence: 1,
            token: "a".into(),
            validity_end_ns: 250_000_000,
        }),
    );
    h.call(
        0,
        F::Read,
        Value::Access {
            fence: Some(1),
            write: None,
        },
        OpKind::Ok,
        Value::Accepted { value: 0 },
    );
    h.call(
        0,
        F::Write,
        Value::Access {
            fence: Some(1),
            write: Some(1),
        },
        OpKind::Ok,
        Value::Accepted { value: 1 },
    );
    h.call(
        0,
        F::Extend,
        Value::Extension {
            key: "k".into(),
            fence: 1,
            ttl_ms: 300,
        },
        OpKind::Ok,
        Value::Extended {
            validity_end_ns: 400_000_000,
        },
    );
    h.call(
        0,
        F::Held,
        Value::None,
        OpKind::Ok,
        Value::Belief { held: true },
    );
    h.call(
        0,
        F::Release,
        Value::Held {
            key: "k".into(),
            fence: 1,
        },
        OpKind::Ok,
        Value::Released,
    );
    h.call(1, F::Acquire, lease(), OpKind::Ok, Value::Denied);
    h.call(
        1,
        F::Acquire,
        lease(),
        OpKind::Info,
        Value::Error("timeout".into()),
    );
    h.call(
        1,
        F::Write,
        Value::Access {
            fence: Some(2),
            write: Some(5),
        },
        OpKind::Ok,
        Value::Rejected { highest: 3 },
    );
    h.call(
        2,
        F::Release,
        Value::Held {
            key: "k".into(),
            fence: 2,
        },
        OpKind::Ok,
        Value::NotHeld,
    );
    h.call(2, F::Acquire, lease(), OpKind::Ok, Value::Lapsed);
    h.call(3, F::Add, Value::Int(1), OpKind::Ok, Value::None);
    h.call(3, F::Add, Value::Int(2), OpKind::Fail, Value::None);
    h.call(3, F::Read, Value::None, OpKind::Ok, Value::Int(1));
    h.call(
        3,
        F::Cas,
        Value::CasArgs { from: 1, to: 2 },
        OpKind::Ok,
        Value::None,
    );
    h.call(
        4,
        F::Request,
        Value::None,
        OpKind::Ok,
        Value::Admitted(true),
    );
    h.call(
        4,
        F::Request,
        Value::None,
        OpKind::Ok,
        Value::Admitted(false),
    );
    let msg = |group: &str| {
        Value::Message(Message {
            producer: 5,
            seq: 1,
            group: group.into(),
        })
    };
    h.call(5, F::Publish, msg(""), OpKind::Ok, Value::None);
    h.call(6, F::Receive, msg("s6"), OpKind::Ok, msg("s6"));
    h.call(6, F::Ack, msg("s6"), OpKind::Ok, msg("s6"));
    h.event(Process::Nemesis, OpKind::Info, F::Stop, Value::Fault(fault));
    h.call(3, F::Final, Value::None, OpKind::Ok, Value::Int(1));
    h.ops
}

fn resource() -> Json {
    serde_json::json!({
        "fenced": true,
        "accesses": [
            {"seq": 1, "process": {"client": 0}, "op": "read", "fence": 1, "accepted": true,
             "value": 0, "highest_before": 0, "server_time_us": 1000},
            {"seq": 2, "process": {"client": 0}, "op": "write", "fence": 1, "accepted": true,
             "value": 1, "highest_before": 1, "server_time_us": 2000},
            {"seq": 3, "process": {"client": 1}, "op": "write", "fence": 2, "accepted": false,
             "value": 5, "highest_before": 3, "server_time_us": 3000}
        ],
        "final_value": 1
    })
}

fn node_events() -> Vec<Json> {
    vec![
        serde_json::json!({"time_ns": 500_000, "node": "n1", "event": "clock", "node_ms": 1_700_000_000_000u64}),
        serde_json::json!({"time_ns": 1_500_000, "node": "n1", "event": "set", "key": "k", "value": "a", "expire_at_ms": 1_700_000_000_300u64}),
        serde_json::json!({"time_ns": 2_500_000, "node": "n1", "event": "expire", "key": "k", "expire_at_ms": 1_700_000_000_400u64}),
        serde_json::json!({"time_ns": 3_500_000, "node": "n1", "event": "del", "key": "k"}),
        serde_json::json!({"time_ns": 4_000_000, "node": "n1", "event": "lost"}),
        serde_json::json!({"time_ns": 4_500_000, "node": "n1", "event": "snapshot", "key": "k", "value": "b", "pttl_ms": 100}),
    ]
}

/// Every path to a number in `v`, as a list of keys/indexes.
fn number_paths(v: &Json, at: &mut Vec<Json>, out: &mut Vec<Vec<Json>>) {
    match v {
        Json::Number(_) => out.push(at.clone()),
        Json::Array(a) => a.iter().enumerate().for_each(|(i, x)| {
            at.push(Json::from(i));
            number_paths(x, at, out);
            at.pop();
        }),
        Json::Object(o) => o.iter().for_each(|(k, x)| {
            at.push(Json::from(k.as_str()));
            number_paths(x, at, out);
            at.pop();
        }),
        _ => {}
    }
}

/// `v` with the number at `path` replaced by the literal `extreme` (as text: serde_json cannot
/// hold every extreme as one value type).
fn with_extreme(v: &Json, path: &[Json], extreme: &str) -> String {
    const MARK: &str = "__EXTREME__";
    let mut v = v.clone();
    let mut at = &mut v;
    for k in path {
        at = match k {
            Json::String(s) => at.get_mut(s.as_str()).unwrap(),
            Json::Number(n) => at.get_mut(n.as_u64().unwrap() as usize).unwrap(),
            _ => unreachable!(),
        };
    }
    *at = Json::from(MARK);
    v.to_string().replace(&format!("\"{MARK}\""), extreme)
}

fn options(events: &str) -> Option<CheckOptions> {
    let events = node_record::parse(events).ok()?;
    Some(CheckOptions {
        lock: Some(LockOptions {
            release_by_del: true,
        }),
        resource: true,
        counter: true,
        window: Some(WindowSpec {
            limit: 1,
            window_ns: 1_000_000_000,
            aligned: false,
        }),
        faults: vec![("gc-pause".into(), 1)],
        budget: Some(Budget {
            time_ms: 2_000,
            memory_mb: 64,
        }),
        availability_gap_ns: Some(1_000_000_000),
        blame: Some(NodesRecord {
            record: NodeRecord::from_events(&events),
            nodes: vec!["n1".into()],
        }),
        delivery: Some(DeliveryConfig::default()),
        ..Default::default()
    })
}

/// Reads the three inputs as a run's judging does, then runs every checker.
fn judge(history: &str, resource: &str, events: &str) {
    let Ok(read) = parse_jsonl("history.jsonl", history) else {
        return;
    };
    let Ok(log) = serde_json::from_str::<ResourceLog>(resource) else {
        return;
    };
    if log.validate().is_err() {
        return;
    }
    let Some(opts) = options(events) else {
        return;
    };
    let mut aligned = opts.clone();
    aligned.window = aligned.window.map(|w| WindowSpec { aligned: true, ..w });
    let _ = check_with(&read.history, Some(&log), opts);
    let _ = check_with(&read.history, Some(&log), aligned);
    for model in [
        ModelKind::Lock,
        ModelKind::Mutex,
        ModelKind::Register,
        ModelKind::CasRegister,
        ModelKind::Counter,
    ] {
        let _ = check_text(
            model,
            "history.jsonl",
            history,
            &Budget {
                time_ms: 2_000,
                memory_mb: 64,
            },
        );
    }
}

fn jsonl(ops: &[Json]) -> String {
    ops.iter().map(|o| format!("{o}\n")).collect()
}

#[test]
fn every_number_at_every_extreme_is_refused_or_judged_without_a_panic() {
    let ops: Vec<Json> = history()
        .iter()
        .map(|o| serde_json::to_value(o).unwrap())
        .collect();
    let resource = resource();
    let events: Vec<Json> = node_events();
    let (good_history, good_resource, good_events) =
        (jsonl(&ops), resource.to_string(), jsonl(&events));
    // The unmutated inputs are read and judged: the test exercises the checkers, not only the
    // readers' refusals.
    parse_jsonl("history.jsonl", &good_history).expect("the base history reads");
    assert!(options(&good_events).is_some(), "the base node events read");

    let mut failures = Vec::new();
    let mut cases = 0;
    // Each panic is collected with its case below; the default hook's backtraces would bury them.
    let hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(|_| {}));
    let mut try_case = |what: String, h: &str, r: &str, e: &str| {
        cases += 1;
        if let Err(p) = catch_unwind(AssertUnwindSafe(|| judge(h, r, e))) {
            let msg = p
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_default();
            failures.push(format!("{what}: {msg}"));
        }
    };
    for (i, op) in ops.iter().enumerate() {
        let mut paths = Vec::new();
        number_paths(op, &mut Vec::new(), &mut paths);
        for path in &paths {
            for x in EXTREMES {
                let mut mutated = ops.clone();
                mutated[i] = serde_json::from_str(&with_extreme(op, path, x))
                    .unwrap_or_else(|_| Json::from("unparsable"));
                let text = if mutated[i].is_string() {
                    let mut lines: Vec<String> = ops.iter().map(Json::to_string).collect();
                    lines[i] = with_extreme(op, path, x);
                    lines.join("\n") + "\n"
                } else {
                    jsonl(&mutated)
                };
                try_case(
                    format!("history op {i} {path:?} = {x}"),
                    &text,
                    &good_resource,
                    &good_events,
                );
            }
        }
    }
    let mut paths = Vec::new();
    number_paths(&resource, &mut Vec::new(), &mut paths);
    for path in &paths {
        for x in EXTREMES {
            try_case(
                format!("resource {path:?} = {x}"),
                &good_history,
                &with_extreme(&resource, path, x),
                &good_events,
            );
        }
    }
    for (i, e) in events.iter().enumerate() {
        let mut paths = Vec::new();
        number_paths(e, &mut Vec::new(), &mut paths);
        for path in &paths {
            for x in EXTREMES {
                let mut lines: Vec<String> = events.iter().map(Json::to_string).collect();
                lines[i] = with_extreme(e, path, x);
                try_case(
                    format!("node event {i} {path:?} = {x}"),
                    &good_history,
                    &good_resource,
                    &(lines.join("\n") + "\n"),
                );
            }
        }
    }
    std::panic::set_hook(hook);
    assert!(cases > 500, "{cases} cases");
    assert!(
        failures.is_empty(),
        "{} of {cases} cases panicked:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

/// Jepsen EDN: a `:process` no client number holds is refused, whether it fits an i64 or not
/// (never dropped as if it were `:nemesis`); every extreme in `:process`, `:time` and `:value`
/// is refused or judged without a panic.
#[test]
fn edn_numbers_out_of_range_are_refused_never_dropped() {
    let budget = Budget {
        time_ms: 1_000,
        memory_mb: 64,
    };
    let op = |process: &str, time: &str, value: &str| {
        format!(
            "{{:type :invoke, :f :add, :value {value}, :process {process}, :time {time}}}\n{{:type :ok, :f :add, :value {value}, :process {process}, :time {time}}}\n{{:type :invoke, :f :read, :value nil, :process 7, :time 3}}\n{{:type :ok, :f :read, :value 1, :process 7, :time 4}}\n"
        )
    };
    for p in ["123456789012345678901234567890", "4294967296", "-1"] {
        let e = check_text(ModelKind::Counter, "h.edn", &op(p, "1", "1"), &budget)
            .err()
            .unwrap_or_else(|| panic!(":process {p} was accepted"))
            .to_string();
        assert!(e.contains("out of range"), "{p}: {e}");
    }
    assert!(check_text(
        ModelKind::Counter,
        "h.edn",
        &op(":nemesis", "1", "1"),
        &budget
    )
    .is_ok());
    let extremes = EXTREMES
        .iter()
        .copied()
        .chain(["123456789012345678901234567890"]);
    for x in extremes {
        for text in [op("1", x, "1"), op("1", "1", x), op(x, "1", "1")] {
            for model in [
                ModelKind::Counter,
                ModelKind::Register,
                ModelKind::CasRegister,
            ] {
                let r = catch_unwind(AssertUnwindSafe(|| {
                    let _ = check_text(model, "h.edn", &text, &budget);
                }));
                assert!(r.is_ok(), "{model:?} panicked on {text}");
            }
        }
    }
}
