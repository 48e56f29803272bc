//! The recorder: stamps every op with the run's monotonic clock and journals it to disk as it
//! happens.
//!
//! One line of JSON per op, written with a single `write` to an unbuffered file as the op is
//! recorded, so a crash of the harness loses at most the op in flight (the kernel keeps what was
//! written even when the process is SIGKILLed); the [`Syncer`] fsyncs, for machine crashes. The
//! index and the timestamp are taken under one lock, so file order, index order and time order
//! agree.
//!
//! Client processes (adapters) stamp their own calls: an op's times arrive with its reply, after
//! ops recorded meanwhile by others. While such an op is in flight the journal holds back ops
//! later than the moment it was sent ([`Recorder::hold`]) and writes them in time order once
//! the reply (or its deadline) comes, so the file stays in time order with honest times; ops are
//! held back at most as long as one call can take. The fsync does not take the lock: on a busy disk it can take a second or more, and a
//! client waiting that long to record an op would be a pause the harness caused, not the
//! scenario (seen: a fault-free counter run whose first ops all timed out at 1.27 s while the
//! runtime's threads waited on the journal).

use checkers::{Fault, Nanos, Op, OpKind, Process, Value, F};
use std::collections::BTreeMap;
use std::fs::File;
use std::io::Write;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use workloads::clock::Clock;
use workloads::record::{Pending, Record};

pub struct Recorder {
    clock: Clock,
    /// `CLOCK_MONOTONIC` minus the history's clock, in ns: how a client process's own stamps
    /// (raw monotonic nanoseconds) become history times.
    monotonic_offset_ns: i128,
    journal: Mutex<Journal>,
    /// The journal file again (a duplicate descriptor), for fsync without the lock.
    sync: Syncer,
    pub stats: Stats,
}

struct Journal {
    file: File,
    next_index: u64,
    /// The mutual-exclusion checker, fed each op as it is written, for the status line: the
    /// recorder keeps no ops, so a run's memory does not grow with its length.
    live: checkers::exclusion::Exclusion,
    error: Option<std::io::Error>,
    /// Ops recorded but not yet written, by (time, arrival): held back while a client process's
    /// op is in flight.
    pending: BTreeMap<(Nanos, u64), (Process, OpKind, F, Value)>,
    arrivals: u64,
    /// In-flight client-process ops: the earliest time each may still report.
    holds: BTreeMap<u64, Nanos>,
    next_hold: u64,
    /// The time of the last op written: nothing earlier may follow it.
    written_ns: Nanos,
}

impl Journal {
    fn push(&mut self, time_ns: Nanos, process: Process, kind: OpKind, f: F, value: Value) {
        self.arrivals += 1;
        self.pending
            .insert((time_ns, self.arrivals), (process, kind, f, value));
    }

    /// Writes every pending op no in-flight op can precede.
    fn flush(&mut self, stats: &Stats) {
        let watermark = self.holds.values().min().copied().unwrap_or(Nanos::MAX);
        while let Some(entry) = self.pending.first_entry() {
            if entry.key().0 > watermark {
                break;
            }
            let ((time_ns, _), (process, kind, f, value)) = entry.remove_entry();
            let op = Op {
                index: self.next_index,
                time_ns,
                process,
                kind,
                f,
                value,
            };
            self.next_index += 1;
            self.written_ns = time_ns;
            let mut line = serde_json::to_vec(&op).expect("ops always serialize");
            line.push(b'\n');
            if let Err(e) = self.file.write_all(&line) {
                self.error.get_or_insert(e);
            }
            self.live.push(&op);
            stats.ops.fetch_add(1, Ordering::Relaxed);
            stats
                .violations
                .store(self.live.overlap_count(), Ordering::Relaxed);
        }
    }
}

/// An op of a client process in flight: until it is recorded (or dropped), ops later than its
/// send time wait.
pub struct Hold {
    rec: Arc<Recorder>,
    id: u64,
    /// When the op was sent: the earliest its process can have invoked it.
    pub at_ns: Nanos,
}

impl Drop for Hold {
    fn drop(&mut self) {
        let mut j = self.rec.journal.lock().expect("journal poisoned");
        j.holds.remove(&self.id);
        j.flush(&self.rec.stats);
    }
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
    /// Overlapping critical spans so far (a span is judged once it is final).
    pub violations: AtomicU64,
}

impl Recorder {
    pub fn create(path: &Path, clock: Clock) -> std::io::Result<Recorder> {
        let file = File::options().create_new(true).write(true).open(path)?;
        let history_ns = clock.true_ns();
        let monotonic_offset_ns = monotonic_raw_ns() as i128 - history_ns as i128;
        Ok(Recorder {
            sync: Syncer(std::sync::Arc::new(file.try_clone()?)),
            monotonic_offset_ns,
            clock,
            journal: Mutex::new(Journal {
                file,
                next_index: 0,
                live: checkers::exclusion::Exclusion::new(0, false),
                error: None,
                pending: BTreeMap::new(),
                arrivals: 0,
                holds: BTreeMap::new(),
                next_hold: 0,
                written_ns: 0,
            }),
            stats: Stats::default(),
        })
    }

    fn append(&self, process: Process, kind: OpKind, f: F, value: Value) -> Nanos {
        let mut j = self.journal.lock().expect("journal poisoned");
        let time_ns = self.clock.true_ns().max(j.written_ns);
        j.push(time_ns, process, kind, f, value);
        j.flush(&self.stats);
        time_ns
    }

    /// Marks a client-process op as sent now: ops after this moment wait for it.
    pub fn hold(self: &Arc<Self>) -> Hold {
        let mut j = self.journal.lock().expect("journal poisoned");
        let at_ns = self.clock.true_ns().max(j.written_ns);
        j.next_hold += 1;
        let id = j.next_hold;
        j.holds.insert(id, at_ns);
        drop(j);
        Hold {
            rec: self.clone(),
            id,
            at_ns,
        }
    }

    /// Records a client process's whole call with the times it stamped, clamped to what the
    /// harness saw (not before it sent the op, not after now), and releases its hold.
    #[allow(clippy::too_many_arguments)]
    pub fn call(
        &self,
        hold: Hold,
        process: Process,
        f: F,
        args: Value,
        invoke_ns: Nanos,
        kind: OpKind,
        result: Value,
        complete_ns: Nanos,
    ) {
        if matches!(result, Value::Granted(_)) {
            self.stats.grants.fetch_add(1, Ordering::Relaxed);
        }
        let mut j = self.journal.lock().expect("journal poisoned");
        let now = self.clock.true_ns().max(j.written_ns);
        let invoke_ns = invoke_ns.clamp(hold.at_ns, now);
        let complete_ns = complete_ns.clamp(invoke_ns, now);
        j.push(invoke_ns, process, OpKind::Invoke, f, args);
        j.push(complete_ns, process, kind, f, result);
        drop(j);
        drop(hold);
    }

    /// The history's time now.
    pub fn now(&self) -> Nanos {
        self.clock.true_ns()
    }

    /// A client process's `CLOCK_MONOTONIC` stamp on the history's clock.
    pub fn from_monotonic(&self, raw_ns: u64) -> Nanos {
        (raw_ns as i128 - self.monotonic_offset_ns).max(0) as Nanos
    }

    /// A handle that fsyncs the journal from another thread (blocking: the runner calls it off
    /// the async runtime while clients run).
    pub fn syncer(&self) -> Syncer {
        self.sync.clone()
    }

    /// The first write error, if the journal could not be written.
    pub fn take_error(&self) -> Option<std::io::Error> {
        self.journal.lock().expect("journal poisoned").error.take()
    }

    pub fn clock(&self) -> &Clock {
        &self.clock
    }
}

/// `CLOCK_MONOTONIC` now, in nanoseconds (the clock client processes stamp their calls with;
/// clock faults never bend it).
pub fn monotonic_raw_ns() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes one timespec we own.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
    ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
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

    fn nemesis_failed(&self, fault: Fault) {
        self.append(
            Process::Nemesis,
            OpKind::Fail,
            F::Start,
            Value::Fault(fault),
        );
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
