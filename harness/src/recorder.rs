//! The recorder: stamps every op with the run's monotonic clock and journals it to disk as it
//! happens.
//!
//! One line of JSON per op, written with a single `write` to an unbuffered file as the op is
//! recorded, so a crash of the harness loses at most the op in flight (the kernel keeps what was
//! written even when the process is SIGKILLed); the [`Syncer`] fsyncs, for machine crashes. The
//! index and the timestamp are taken under one lock, so file order, index order and time order
//! agree. The fsync does not take that lock: on a busy disk it can take a second or more, and a
//! client waiting that long to record an op would be a pause the harness caused, not the
//! scenario (seen: a fault-free counter run whose first ops all timed out at 1.27 s while the
//! runtime's threads waited on the journal).

use checkers::{Fault, Nanos, Op, OpKind, Process, Value, F};
use std::fs::File;
use std::io::Write;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use workloads::clock::Clock;
use workloads::record::{Pending, Record};

pub struct Recorder {
    clock: Clock,
    journal: Mutex<Journal>,
    /// The journal file again (a duplicate descriptor), for fsync without the lock.
    sync: Syncer,
    pub stats: Stats,
}

struct Journal {
    file: File,
    next_index: u64,
    ops: Vec<Op>,
    error: Option<std::io::Error>,
}

/// Fsyncs the journal file; every op written before the call is on stable storage after it.
#[derive(Clone)]
pub struct Syncer(std::sync::Arc<File>);

impl Syncer {
    pub fn sync(&self) -> std::io::Result<()> {
        self.0.sync_data()
    }
}

/// Live counters for the status line.
#[derive(Default)]
pub struct Stats {
    pub ops: AtomicU64,
    pub grants: AtomicU64,
}

impl Recorder {
    pub fn create(path: &Path, clock: Clock) -> std::io::Result<Recorder> {
        let file = File::options().create_new(true).write(true).open(path)?;
        Ok(Recorder {
            sync: Syncer(std::sync::Arc::new(file.try_clone()?)),
            clock,
            journal: Mutex::new(Journal {
                file,
                next_index: 0,
                ops: Vec::new(),
                error: None,
            }),
            stats: Stats::default(),
        })
    }

    fn append(&self, process: Process, kind: OpKind, f: F, value: Value) -> Nanos {
        let mut j = self.journal.lock().expect("journal poisoned");
        let time_ns = self.clock.true_ns();
        let op = Op {
            index: j.next_index,
            time_ns,
            process,
            kind,
            f,
            value,
        };
        j.next_index += 1;
        let mut line = serde_json::to_vec(&op).expect("ops always serialize");
        line.push(b'\n');
        if let Err(e) = j.file.write_all(&line) {
            j.error.get_or_insert(e);
        }
        j.ops.push(op);
        self.stats.ops.fetch_add(1, Ordering::Relaxed);
        time_ns
    }

    /// A handle that fsyncs the journal from another thread (blocking: the runner calls it off
    /// the async runtime while clients run).
    pub fn syncer(&self) -> Syncer {
        self.sync.clone()
    }

    /// A copy of the ops recorded from index `from` on: live checks keep their own copy and
    /// fetch only what is new, so the lock is held for a few ops, not the whole history.
    pub fn ops_since(&self, from: usize) -> Vec<Op> {
        let j = self.journal.lock().expect("journal poisoned");
        j.ops.get(from..).map_or_else(Vec::new, <[Op]>::to_vec)
    }

    /// The first write error, if the journal could not be written.
    pub fn take_error(&self) -> Option<std::io::Error> {
        self.journal.lock().expect("journal poisoned").error.take()
    }

    pub fn clock(&self) -> &Clock {
        &self.clock
    }
}

impl Record for Recorder {
    fn invoke(&self, process: Process, f: F, value: Value) -> Pending {
        let invoke_ns = self.append(process, OpKind::Invoke, f, value);
        Pending {
            process,
            f,
            invoke_ns,
        }
    }

    fn complete(&self, pending: Pending, kind: OpKind, value: Value) {
        if matches!(value, Value::Granted(_)) {
            self.stats.grants.fetch_add(1, Ordering::Relaxed);
        }
        self.append(pending.process, kind, pending.f, value);
    }

    fn nemesis(&self, f: F, fault: Fault) {
        self.append(Process::Nemesis, OpKind::Info, f, Value::Fault(fault));
    }

    fn now_ns(&self) -> Nanos {
        self.clock.true_ns()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn journal_is_readable_line_by_line_as_it_is_written() {
        let dir = std::env::temp_dir().join(format!("fencepost-rec-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("history.jsonl");
        let _ = std::fs::remove_file(&path);
        let rec = Recorder::create(&path, Clock::new()).unwrap();
        let p = rec.invoke(Process::Client(0), F::Read, Value::None);
        // Before the completion: the invocation is already on disk.
        let text = std::fs::read_to_string(&path).unwrap();
        assert_eq!(text.lines().count(), 1);
        rec.complete(p, OpKind::Ok, Value::Int(3));
        let read =
            checkers::history::parse_jsonl("h", &std::fs::read_to_string(&path).unwrap()).unwrap();
        assert_eq!(read.history.ops.len(), 2);
        assert_eq!(read.history.ops[1].value, Value::Int(3));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
