//! Test histories, built op by op (tests only).

use crate::history::{Grant, History, Op, OpKind, Process, Value, F};

/// Builds histories op by op with increasing indexes.
#[derive(Default)]
pub struct B {
    ops: Vec<Op>,
}

impl B {
    pub fn push(&mut self, t: u64, c: u32, kind: OpKind, f: F, value: Value) -> &mut Self {
        let index = self.ops.len() as u64;
        self.ops.push(Op {
            index,
            time_ns: t,
            process: Process::Client(c),
            kind,
            f,
            value,
        });
        self
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
