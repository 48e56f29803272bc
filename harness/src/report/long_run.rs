//! Reports of runs too long to read whole (an hour of traffic is millions of ops).
//!
//! A run's history longer than [`crate::judge::WHOLE_HISTORY_OPS`] is read once, a line at a time, into what
//! the charts need and nothing more: the time each client held the lock per second (the
//! overview's density lanes), every fault window, every call's latency point (the perf charts
//! bucket and thin them as for any run), and the ops around the first few violations, whole,
//! so the zoom charts draw them exactly as a short run's timeline does. Memory follows the
//! run's length only through those per-second and per-call figures (~32 bytes a call), not
//! through its ops.

use super::perf::Sample;
use super::timeline::ZoomWindow;
use crate::judge::whole_history_ops;
use checkers::history::{CallStream, FaultWindows};
use checkers::{FaultWindow, History, Nanos, Op, OpKind, Process, Value, F};
use std::collections::{HashMap, HashSet};

/// Width of a density bin.
pub const BIN_NS: Nanos = 1_000_000_000;
/// Ops before a zoom window kept with it, so spans that began earlier (a paused holder) are
/// drawn whole.
const LEAD_NS: Nanos = 2_000_000_000;

/// What the charts of a long run draw besides the ops around its violations.
#[derive(Debug, Default)]
pub struct LongRun {
    /// Ops in the history.
    pub ops: u64,
    /// Per lane, nanoseconds a client held the lock (grant to release) in each [`BIN_NS`] bin.
    pub held_ns: Vec<Vec<u64>>,
    /// Every call's latency point.
    pub(crate) samples: Vec<Sample>,
    /// The windows the zoom charts show (the ops in them are the
    /// [`SavedRun`](super::saved_run::SavedRun)'s history).
    pub zooms: Vec<ZoomWindow>,
    pub faults: Vec<FaultWindow>,
    pub end_ns: Nanos,
    pub lanes: u32,
}

/// How a history is read for a report: whole while short, as a [`LongRun`] once long.
pub enum Read {
    Whole(History),
    Long(History, LongRun),
}

/// Reads ops for a report. `zooms` are the windows to keep in full if the history turns out
/// long.
pub fn read(
    ops: impl Iterator<Item = Result<Op, checkers::history::ParseError>>,
    zooms: Vec<ZoomWindow>,
) -> Result<Read, checkers::history::ParseError> {
    let limit = whole_history_ops();
    let mut kept: Option<Vec<Op>> = Some(Vec::new());
    let mut long = Reader::new(zooms);
    for op in ops {
        let op = op?;
        if let Some(k) = &mut kept {
            if k.len() < limit {
                k.push(op);
                continue;
            }
            for o in kept.take().expect("checked") {
                long.push(o);
            }
        }
        long.push(op);
    }
    Ok(match kept {
        Some(ops) => Read::Whole(History::new(ops)),
        None => {
            let (history, run) = long.finish();
            Read::Long(history, run)
        }
    })
}

struct Reader {
    run: LongRun,
    calls: CallStream,
    /// Each client's grant: when it completed.
    held_since: HashMap<Process, Nanos>,
    faults: FaultWindows,
    /// Ops in or just before a zoom window.
    zoomed: Vec<Op>,
    /// Processes whose open invocation is in `zoomed`.
    zoomed_open: HashSet<Process>,
}

impl Reader {
    fn new(zooms: Vec<ZoomWindow>) -> Reader {
        Reader {
            run: LongRun {
                zooms,
                ..Default::default()
            },
            calls: CallStream::default(),
            held_since: HashMap::new(),
            faults: FaultWindows::default(),
            zoomed: Vec::new(),
            zoomed_open: HashSet::new(),
        }
    }

    fn push(&mut self, op: Op) {
        self.run.ops += 1;
        self.run.end_ns = op.time_ns;
        if let Process::Client(c) = op.process {
            self.run.lanes = self.run.lanes.max(c + 1);
        }
        if let Some(call) = self.calls.push(&op) {
            self.call(&call);
        }
        let t = op.time_ns;
        let in_zoom = self
            .run
            .zooms
            .iter()
            .any(|w| t + LEAD_NS >= w.start_ns && t <= w.end_ns);
        if op.process == Process::Nemesis {
            self.faults.push(&op);
            self.zoomed.push(op);
        } else if op.kind == OpKind::Invoke {
            if in_zoom {
                self.zoomed_open.insert(op.process);
                self.zoomed.push(op);
            }
        } else if self.zoomed_open.remove(&op.process) {
            // A completion goes with its invocation, even just after the window.
            self.zoomed.push(op);
        }
    }

    fn call(&mut self, call: &checkers::Call) {
        self.run.samples.push(Sample::of(call));
        match (call.f, call.result()) {
            (F::Acquire, Some(Value::Granted(_))) => {
                let at = call.complete_ns().expect("a grant completed");
                if let Some(since) = self.held_since.insert(call.process, at) {
                    self.held(call.process, since, call.invoke_ns());
                }
            }
            (F::Release, _) => {
                if let Some(since) = self.held_since.remove(&call.process) {
                    self.held(call.process, since, call.invoke_ns());
                }
            }
            _ => {}
        }
    }

    /// Adds a held interval to its lane's bins.
    fn held(&mut self, process: Process, from_ns: Nanos, to_ns: Nanos) {
        let Process::Client(c) = process else { return };
        let lanes = &mut self.run.held_ns;
        if lanes.len() <= c as usize {
            lanes.resize(c as usize + 1, Vec::new());
        }
        let bins = &mut lanes[c as usize];
        let mut t = from_ns;
        while t < to_ns {
            let bin = (t / BIN_NS) as usize;
            let bin_end = (bin as u64 + 1) * BIN_NS;
            if bins.len() <= bin {
                bins.resize(bin + 1, 0);
            }
            bins[bin] += bin_end.min(to_ns) - t;
            t = bin_end;
        }
    }

    fn finish(mut self) -> (History, LongRun) {
        for call in std::mem::take(&mut self.calls).finish() {
            self.call(&call);
        }
        let end = self.run.end_ns;
        let open: Vec<(Process, Nanos)> = self.held_since.drain().collect();
        for (p, since) in open {
            self.held(p, since, end);
        }
        self.run.faults = self.faults.finish(end);
        (History::new(self.zoomed), self.run)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use checkers::Grant;

    fn op(index: u64, t: Nanos, c: u32, kind: OpKind, f: F, value: Value) -> Op {
        Op {
            index,
            time_ns: t,
            process: Process::Client(c),
            kind,
            f,
            value,
        }
    }

    #[test]
    fn held_time_lands_in_its_seconds_and_zooms_keep_whole_calls() {
        const S: Nanos = BIN_NS;
        let grant = Value::Granted(Grant {
            fence: 1,
            token: "t".into(),
            validity_end_ns: 0,
        });
        let held = Value::Held {
            key: "k".into(),
            fence: 1,
        };
        let ops = vec![
            op(0, S / 2, 0, OpKind::Invoke, F::Acquire, Value::None),
            op(1, S / 2, 0, OpKind::Ok, F::Acquire, grant),
            op(2, 5 * S / 2, 0, OpKind::Invoke, F::Release, held),
            op(3, 10 * S, 0, OpKind::Ok, F::Release, Value::Released),
        ];
        let zoom = ZoomWindow {
            start_ns: 4 * S,
            end_ns: 5 * S,
        };
        let mut r = Reader::new(vec![zoom]);
        ops.into_iter().for_each(|o| r.push(o));
        let (history, run) = r.finish();
        assert_eq!(run.held_ns[0], vec![S / 2, S, S / 2]);
        assert_eq!(run.samples.len(), 2);
        assert_eq!(run.end_ns, 10 * S);
        // The release was invoked within 2 s before the window: kept with its completion.
        let kept: Vec<u64> = history.ops.iter().map(|o| o.index).collect();
        assert_eq!(kept, vec![2, 3]);
        history.validate().unwrap();
    }
}
