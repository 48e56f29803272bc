//! A saved run made without Redis, for the report tests: a history and a resource log shaped
//! like gc-pause's, with the same files a real run folder has, so `fencepost report` can judge
//! and draw it in milliseconds.
//!
//! The lock passes from client to client every 5 ms; the others are denied meanwhile. At
//! `pause_at_ms` client 0 takes the lock, reads, and stops for 900 ms (a recorded gc-pause
//! fault); 300 ms later the others take over with higher tokens; client 0 wakes and writes its
//! stale increment (accepted when unfenced, rejected when fenced). Every 97th cycle a denial
//! fails outright and every 131st is left `info` (a timeout).
//!
//! With `node_record`, the lock node's own record is journaled too, as its tap would (a `SET` of
//! each grant's token, a `DEL` at each release, the node's clock every 50 ms), so the blame check
//! judges the run; `short_lease_ms` makes the node grant the paused client's lease shorter than
//! the validity its library promised — one wrong answer, on client 0's lane.

#![allow(dead_code)]

use checkers::node_record::{Change, NodeEvent};
use checkers::{
    Access, AccessOp, Fault, Grant, History, Op, OpKind, Process, ResourceLog, Value, F,
};
use fencepost::store::{self, RunMeta};
use std::path::{Path, PathBuf};

pub struct Spec {
    pub clients: u32,
    pub duration_ms: u64,
    pub pause_at_ms: Option<u64>,
    pub fenced: bool,
    /// Denied acquires per 5 ms cycle, at most.
    pub denials_per_cycle: u32,
    /// Journal the lock node's own record (`node-events.jsonl`, `taps.json`).
    pub node_record: bool,
    /// The lease the node grants the paused client, when shorter than the others' (`TTL_MS`).
    pub short_lease_ms: Option<u64>,
}

impl Default for Spec {
    fn default() -> Self {
        Spec {
            clients: 5,
            duration_ms: 4_000,
            pause_at_ms: Some(1_000),
            fenced: false,
            denials_per_cycle: 4,
            node_record: false,
            short_lease_ms: None,
        }
    }
}

const MS: u64 = 1_000_000;
const TTL_MS: u64 = 300;
const KEY: &str = "fencepost:lock:{guard}";
const NODE: &str = "n1";
/// The node's wall clock at the history's zero, in ms.
const NODE_EPOCH_MS: u64 = 1_764_064_800_000;

struct Sim {
    ops: Vec<Op>,
    accesses: Vec<(u64, Access)>,
    counter: i64,
    highest: u64,
    fenced: bool,
    fence: u64,
    busy_until: Vec<u64>,
    /// The node's record, as its tap journals it.
    node: Vec<NodeEvent>,
    /// The lease the node grants the next acquire.
    lease_ms: u64,
}

impl Sim {
    /// A change of the lock key on the node, arriving at `t`.
    fn node_change(&mut self, t: u64, change: Change) {
        self.node.push(NodeEvent {
            time_ns: t,
            node: NODE.into(),
            change,
        });
    }

    fn op(&mut self, t: u64, c: u32, kind: OpKind, f: F, value: Value) {
        self.ops.push(Op {
            index: 0,
            time_ns: t,
            process: Process::Client(c),
            kind,
            f,
            value,
        });
    }

    fn nemesis(&mut self, t: u64, f: F, fault: &Fault) {
        self.ops.push(Op {
            index: 0,
            time_ns: t,
            process: Process::Nemesis,
            kind: OpKind::Info,
            f,
            value: Value::Fault(fault.clone()),
        });
    }

    fn acquire(&mut self, t: u64, c: u32) -> u64 {
        self.fence += 1;
        let set_at = t + MS / 10;
        self.node_change(
            set_at,
            Change::Set {
                key: KEY.into(),
                value: format!("tok{}", self.fence),
                expire_at_ms: Some(NODE_EPOCH_MS + set_at / MS + self.lease_ms),
            },
        );
        let lease = Value::Lease {
            key: KEY.into(),
            ttl_ms: TTL_MS,
        };
        self.op(t, c, OpKind::Invoke, F::Acquire, lease);
        self.op(
            t + MS / 3,
            c,
            OpKind::Ok,
            F::Acquire,
            Value::Granted(Grant {
                fence: self.fence,
                token: format!("tok{}", self.fence),
                validity_end_ns: t + (TTL_MS - 5) * MS,
            }),
        );
        self.fence
    }

    /// An access applied at the resource at `t + 0.2 ms`; returns the value read or written.
    fn access(&mut self, t: u64, c: u32, fence: u64, op: AccessOp, write: Option<i64>) -> i64 {
        let f = match op {
            AccessOp::Read => F::Read,
            AccessOp::Write => F::Write,
        };
        self.op(
            t,
            c,
            OpKind::Invoke,
            f,
            Value::Access {
                fence: Some(fence),
                write,
            },
        );
        let stale = fence < self.highest;
        let accepted = !(self.fenced && stale);
        let value = match (accepted, write) {
            (true, Some(w)) => {
                self.counter = w;
                w
            }
            _ => self.counter,
        };
        self.accesses.push((
            t + MS / 5,
            Access {
                seq: 0,
                process: Process::Client(c),
                op,
                fence: Some(fence),
                accepted,
                value,
                highest_before: self.highest,
                server_time_us: 0,
            },
        ));
        if accepted {
            self.highest = self.highest.max(fence);
        }
        let result = if accepted {
            Value::Accepted { value }
        } else {
            Value::Rejected {
                highest: self.highest,
            }
        };
        self.op(t + MS / 3, c, OpKind::Ok, f, result);
        value
    }

    fn release(&mut self, t: u64, c: u32, fence: u64, released: bool) {
        self.op(
            t,
            c,
            OpKind::Invoke,
            F::Release,
            Value::Held {
                key: KEY.into(),
                fence,
            },
        );
        if released {
            self.node_change(t + MS / 10, Change::Del { key: KEY.into() });
        }
        let v = if released {
            Value::Released
        } else {
            Value::NotHeld
        };
        self.op(t + MS / 4, c, OpKind::Ok, F::Release, v);
    }

    /// One full critical section of `c` starting at `t`; returns when it ends.
    fn cycle(&mut self, t: u64, c: u32) -> u64 {
        let fence = self.acquire(t, c);
        let read = self.access(t + MS / 2, c, fence, AccessOp::Read, None);
        self.access(t + 2 * MS, c, fence, AccessOp::Write, Some(read + 1));
        self.release(t + 5 * MS / 2, c, fence, true);
        self.busy_until[c as usize] = t + 3 * MS;
        t + 3 * MS
    }

    fn denials(&mut self, t: u64, holder: u32, k: u64, spec: &Spec) {
        let n = spec.clients.saturating_sub(1).min(spec.denials_per_cycle);
        for i in 0..n {
            let c = (holder + 1 + ((k as u32).wrapping_mul(3) + i) % (spec.clients - 1).max(1))
                % spec.clients;
            if c == holder || self.busy_until[c as usize] > t {
                continue;
            }
            let at = t + MS + u64::from(i) * 20_000;
            let lease = Value::Lease {
                key: KEY.into(),
                ttl_ms: TTL_MS,
            };
            self.op(at, c, OpKind::Invoke, F::Acquire, lease);
            if k.is_multiple_of(97) && i == 0 {
                self.op(
                    at + MS / 5,
                    c,
                    OpKind::Fail,
                    F::Acquire,
                    Value::Error("connection refused".into()),
                );
                self.busy_until[c as usize] = at + MS / 5;
            } else if k.is_multiple_of(131) && i == 0 {
                // A timeout: the client is stuck for 500 ms, then records info.
                self.op(
                    at + 500 * MS,
                    c,
                    OpKind::Info,
                    F::Acquire,
                    Value::Error("timed out".into()),
                );
                self.busy_until[c as usize] = at + 500 * MS + 1;
            } else {
                self.op(at + MS / 5, c, OpKind::Ok, F::Acquire, Value::Denied);
                self.busy_until[c as usize] = at + MS / 5;
            }
        }
    }
}

/// The history, resource log and node record of a synthetic gc-pause run.
pub fn simulate(spec: &Spec) -> (History, ResourceLog, Vec<NodeEvent>) {
    let mut sim = Sim {
        ops: Vec::new(),
        accesses: Vec::new(),
        counter: 0,
        highest: 0,
        fenced: spec.fenced,
        fence: 0,
        busy_until: vec![0; spec.clients as usize],
        node: Vec::new(),
        lease_ms: TTL_MS,
    };
    let end = spec.duration_ms * MS;
    let mut t = 2 * MS;
    let mut k = 0u64;
    let mut paused = false;
    while t < end {
        k += 1;
        if let Some(p) = spec.pause_at_ms.filter(|p| !paused && t >= p * MS) {
            let _ = p;
            paused = true;
            // Client 0 takes the lock, reads, and freezes for 900 ms.
            sim.lease_ms = spec.short_lease_ms.unwrap_or(TTL_MS);
            let fence = sim.acquire(t, 0);
            sim.lease_ms = TTL_MS;
            let read = sim.access(t + MS / 2, 0, fence, AccessOp::Read, None);
            let fault = Fault {
                kind: "gc-pause".into(),
                target: "client 0".into(),
                id: 1,
                detail: "pause 900 ms".into(),
                frozen: None,
                bends: None,
            };
            sim.nemesis(t + MS, F::Start, &fault);
            sim.busy_until[0] = t + 905 * MS;
            let wake = t + 901 * MS;
            // The others take over once the lease has expired.
            let mut u = t + TTL_MS * MS + MS;
            let mut j = 0u32;
            let mut wrote = false;
            while u < wake + 30 * MS {
                if !wrote && u >= wake {
                    sim.nemesis(wake, F::Stop, &fault);
                    sim.access(wake + MS / 10, 0, fence, AccessOp::Write, Some(read + 1));
                    sim.release(wake + MS, 0, fence, false);
                    wrote = true;
                }
                let holder = 1 + j % (spec.clients - 1).max(1);
                j += 1;
                if sim.busy_until[holder as usize] > u {
                    u += MS;
                    continue;
                }
                let next = sim.cycle(u, holder);
                sim.denials(u, holder, k + u64::from(j), spec);
                u = next + 2 * MS;
            }
            t = u;
            continue;
        }
        let holder = ((k * 7 + 3) % u64::from(spec.clients)) as u32;
        if sim.busy_until[holder as usize] > t {
            t += MS;
            continue;
        }
        let next = sim.cycle(t, holder);
        sim.denials(t, holder, k, spec);
        t = next + 2 * MS;
    }
    let mut ops = sim.ops;
    ops.sort_by_key(|o| o.time_ns);
    for (i, o) in ops.iter_mut().enumerate() {
        o.index = i as u64;
    }
    let history = History::new(ops);
    history
        .validate()
        .expect("the fixture history is well formed");
    let mut accesses = sim.accesses;
    accesses.sort_by_key(|a| a.0);
    let accesses: Vec<Access> = accesses
        .into_iter()
        .enumerate()
        .map(|(i, (_, mut a))| {
            a.seq = i as u64 + 1;
            a
        })
        .collect();
    let log = ResourceLog {
        fenced: spec.fenced,
        final_value: Some(sim.counter),
        accesses,
    };
    let mut node = sim.node;
    for at in (0..=end).step_by(50 * MS as usize) {
        node.push(NodeEvent {
            time_ns: at,
            node: NODE.into(),
            change: Change::Clock {
                node_ms: NODE_EPOCH_MS + at / MS,
                rtt_ns: 0,
            },
        });
    }
    node.sort_by_key(|e| e.time_ns);
    (history, log, node)
}

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// Writes a run folder `results/<scenario>/<run-id>` under `results` as the runner would
/// (history, resource log, run.json, scenario.toml copied from scenarios/, results.json and
/// summary.md), without charts.
pub fn write_run(results: &Path, spec: &Spec, run_id: &str) -> PathBuf {
    let scenario = if spec.fenced {
        "gc-pause-fenced"
    } else {
        "gc-pause"
    };
    let dir = results.join(scenario).join(run_id);
    std::fs::create_dir_all(&dir).unwrap();
    let (history, log, node) = simulate(spec);
    let mut text = String::new();
    for op in &history.ops {
        text.push_str(&serde_json::to_string(op).unwrap());
        text.push('\n');
    }
    std::fs::write(dir.join(store::HISTORY), text).unwrap();
    store::write_json(&dir.join(store::RESOURCE), &log).unwrap();
    if spec.node_record {
        let mut text = String::new();
        for e in &node {
            text.push_str(&serde_json::to_string(e).unwrap());
            text.push('\n');
        }
        std::fs::write(dir.join(store::NODE_EVENTS), text).unwrap();
        let taps = store::TapsMeta {
            nodes: vec![NODE.into()],
            keys: vec![KEY.into()],
            markers: Vec::new(),
        };
        store::write_json(&dir.join(store::TAPS), &taps).unwrap();
    }
    std::fs::copy(
        repo().join("scenarios").join(format!("{scenario}.toml")),
        dir.join(store::SCENARIO),
    )
    .unwrap();
    let meta = RunMeta {
        scenario: scenario.into(),
        scenario_file: format!("scenarios/{scenario}.toml"),
        seed: 1,
        run_id: run_id.into(),
        started_unix_s: 1_764_064_800,
        fencepost_version: env!("CARGO_PKG_VERSION").into(),
        reproduce: format!("cargo run --release -- scenario {scenario} --seed 1"),
    };
    store::write_json(&dir.join(store::RUN_META), &meta).unwrap();
    // Judged as the runner would judge a run that finished (not interrupted).
    let result = fencepost::judge::analyse(&dir, Some(false)).unwrap();
    fencepost::judge::write_results(&dir, &result).unwrap();
    dir
}

#[path = "../common/test_dir.rs"]
mod test_dir;
pub use test_dir::TestDir;

/// A fresh, private folder under the system temp dir, removed when the test passes.
pub fn temp_dir(tag: &str) -> TestDir {
    TestDir::new(&format!("fencepost-{tag}"))
}
