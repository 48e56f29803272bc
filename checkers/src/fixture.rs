//! Test histories, built op by op (tests only).

use crate::history::{Fault, Grant, History, Op, OpKind, Process, Value, F};

/// A small deterministic random source for generated test histories (xorshift).
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed.wrapping_mul(6364136223846793005) | 1)
    }

    /// A number in `0..n`.
    pub fn below(&mut self, n: u64) -> u64 {
        let x = &mut self.0;
        *x ^= *x << 13;
        *x ^= *x >> 7;
        *x ^= *x << 17;
        *x % n
    }
}

/// Builds histories op by op with increasing indexes.
#[derive(Default)]
pub struct B {
    pub ops: Vec<Op>,
}

impl B {
    pub fn push(&mut self, t: u64, c: u32, kind: OpKind, f: F, value: Value) -> &mut Self {
        self.push_by(t, Process::Client(c), kind, f, value)
    }
    pub fn push_by(
        &mut self,
        t: u64,
        process: Process,
        kind: OpKind,
        f: F,
        value: Value,
    ) -> &mut Self {
        let index = self.ops.len() as u64;
        self.ops.push(Op {
            index,
            time_ns: t,
            process,
            kind,
            f,
            value,
        });
        self
    }
    /// A nemesis start (`F::Start`) or stop of fault `id` on `n1`.
    pub fn fault(&mut self, t: u64, f: F, kind: &str, id: u64) -> &mut Self {
        let fault = Fault {
            kind: kind.into(),
            target: "n1".into(),
            id,
            detail: String::new(),
            frozen: None,
            bends: None,
        };
        self.push_by(t, Process::Nemesis, OpKind::Info, f, Value::Fault(fault))
    }
    pub fn acquire(&mut self, t0: u64, t1: u64, c: u32, fence: u64) -> &mut Self {
        self.push(
            t0,
            c,
            OpKind::Invoke,
            F::Acquire,
            Value::Lease {
                key: "k".into(),
                ttl_ms: 100,
            },
        );
        self.push(
            t1,
            c,
            OpKind::Ok,
            F::Acquire,
            Value::Granted(Grant {
                fence,
                token: format!("t{fence}"),
                validity_end_ns: t0 + 100,
            }),
        )
    }
    pub fn access(&mut self, t0: u64, t1: u64, c: u32, fence: u64, f: F) -> &mut Self {
        self.push(
            t0,
            c,
            OpKind::Invoke,
            f,
            Value::Access {
                fence: Some(fence),
                write: None,
            },
        );
        self.push(t1, c, OpKind::Ok, f, Value::Accepted { value: 0 })
    }
    pub fn release(&mut self, t0: u64, t1: u64, c: u32, fence: u64, result: Value) -> &mut Self {
        self.push(
            t0,
            c,
            OpKind::Invoke,
            F::Release,
            Value::Held {
                key: "k".into(),
                fence,
            },
        );
        self.push(t1, c, OpKind::Ok, F::Release, result)
    }
    pub fn history(&self) -> History {
        let mut ops = self.ops.clone();
        ops.sort_by_key(|o| (o.time_ns, o.index));
        for (i, o) in ops.iter_mut().enumerate() {
            o.index = i as u64;
        }
        let h = History::new(ops);
        h.validate().unwrap();
        h
    }
}

/// Random clients: acquire, a few accesses (some after a long pause), release; or stop
/// mid-section. Per client, ops never overlap in time.
pub fn random_history(seed: u64, clients: u32, sections: u32) -> History {
    let mut x = seed
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    let mut next = |n: u64| {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x % n
    };
    let mut b = B::default();
    let mut fence = 0;
    for c in 0..clients {
        let mut t = next(50);
        for k in 0..sections {
            fence += 1;
            let f = fence;
            b.acquire(t, t + 1 + next(5), c, f);
            t += 6 + next(5);
            for _ in 0..next(3) {
                let pause = if next(6) == 0 {
                    80 + next(200)
                } else {
                    next(10)
                };
                t += pause;
                b.access(t, t + 1 + next(4), c, f, F::Write);
                t += 5;
            }
            if k + 1 < sections || next(3) > 0 {
                b.release(t, t + 1 + next(3), c, f, Value::Released);
            }
            t += 4 + next(40);
        }
    }
    b.history()
}

/// One event of node `n1`'s record at `t_ms` (tests of checkers that read the nodes' record).
pub fn node_event(t_ms: u64, change: crate::node_record::Change) -> crate::node_record::NodeEvent {
    crate::node_record::NodeEvent {
        time_ns: t_ms * 1_000_000,
        node: "n1".into(),
        change,
    }
}

/// The record of one lock node `n1` whose clock reads 1 000 000 ms at history time 0, then
/// `events`.
pub fn one_node(events: Vec<crate::node_record::NodeEvent>) -> crate::node_record::NodesRecord {
    use crate::node_record::{Change, NodeRecord, NodesRecord};
    let mut all = vec![node_event(
        0,
        Change::Clock {
            node_ms: 1_000_000,
            rtt_ns: 0,
        },
    )];
    all.extend(events);
    NodesRecord {
        record: NodeRecord::from_events(&all),
        nodes: vec!["n1".into()],
    }
}
