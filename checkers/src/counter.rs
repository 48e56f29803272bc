//! Counter checker (Jepsen's `counter`): increments that were acknowledged and then vanished, or
//! that were counted twice.
//!
//! The counter's history holds `add` ops (invoked with `Int(delta)`, delta ≥ 0; an `ok` may carry
//! the value the counter had just after it, as `INCR` returns) and `read`/`final` ops (`ok` with
//! `Int(value)`). Increments are indistinguishable, so every observation is judged by bounds:
//!
//! - **lower** = the deltas of adds acknowledged (`ok`) before the observation was invoked (plus
//!   the add's own delta when the observation is an add's own return value): the counter cannot
//!   have less, unless acknowledged increments were lost;
//! - **upper** = the deltas of adds not known to have failed (`ok`, `info`, or never completed)
//!   invoked before the observation completed: it cannot have more, unless some were applied twice.
//!
//! A value below `lower` proves lost increments (`lower − value` of them at least), a value above
//! `upper` duplicated ones; both are sound, since every add counted in the bounds either certainly
//! took effect before the read began or may have taken effect before it ended. `info` adds widen
//! `upper` only, so an unlucky timeout never fakes a loss. The final read, taken after every client
//! stopped, has `lower == upper` when nothing was indeterminate: it must equal the acknowledged
//! count exactly.
//!
//! Each anomaly names the interval the damage happened in — from the last consistent observation
//! before it to its own completion — and the fault windows that overlap that interval.
//!
//! The checker reads a history one op at a time ([`Counter`]), so an hour of increments is judged
//! in memory bounded by the calls in flight: an observation's `lower` is fixed when it is invoked,
//! and its `upper` once every add invoked before it completed has an outcome (the observations
//! wait for that in a queue, the adds in a window that slides past them).

use crate::check::{Check, Evidence, Minimums};
use crate::history::{Fault, FaultWindow, History, Nanos, Op, OpKind, Process, Value, F};
use serde::{Deserialize, Serialize};
use std::collections::{HashMap, VecDeque};

use crate::check::CheckKind;

/// This check's registry entry ([`crate::registry`]).
pub const KIND: CheckKind = CheckKind {
    id: "counter",
    name: "counter (lost or duplicated increments)",
    label: "counter",
    applies: |s| s.counter,
    not_applicable: "[expect] counter needs [workload] kind = \"counter\" or \"rmw-counter\"",
    expectable: true,
    advisory: false,
    floors: &["adds"],
    judge: None,
};

#[cfg(test)]
mod reference;

/// Which way an observation was out of bounds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CounterAnomalyKind {
    /// Below the acknowledged count: acknowledged increments are missing.
    Lost,
    /// Above everything attempted: increments were applied more than once.
    Duplicated,
}

/// One observation of the counter outside its bounds.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CounterAnomaly {
    pub kind: CounterAnomalyKind,
    /// Op index of the observation's invocation.
    pub index: u64,
    pub process: Process,
    /// `read`, `final`, or `add` (an add's returned value).
    pub f: F,
    pub invoke_ns: Nanos,
    pub complete_ns: Nanos,
    pub value: i64,
    pub lower: i64,
    pub upper: i64,
    /// How many increments this observation proves lost or duplicated (at least).
    pub count: u64,
    /// Start of the interval the damage happened in: the invocation of the last observation
    /// before this one that was in bounds (0 when there was none).
    pub since_ns: Nanos,
    /// Faults active at some point in `[since_ns, complete_ns]`.
    pub faults: Vec<Fault>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CounterReport {
    pub adds_ok: u64,
    pub adds_failed: u64,
    /// `info` or never completed: may or may not have taken effect.
    pub adds_indeterminate: u64,
    /// Sum of acknowledged deltas.
    pub acknowledged: i64,
    /// Sum of deltas that may have taken effect (acknowledged + indeterminate).
    pub attempted: i64,
    /// Observations judged (reads, final reads and adds that returned a value).
    pub observations: u64,
    /// The final read's value, if the run took one.
    pub final_value: Option<i64>,
    /// The most increments any one observation proves lost.
    pub lost: u64,
    /// The most increments any one observation proves duplicated.
    pub duplicated: u64,
    /// The first observations out of bounds, in order of completion (all of them unless the
    /// checker was asked to keep fewer: `anomalies_total` counts them all).
    pub anomalies: Vec<CounterAnomaly>,
    #[serde(default)]
    pub anomalies_total: u64,
}

impl CounterReport {
    pub fn violated(&self) -> bool {
        self.lost > 0 || self.duplicated > 0
    }
}

/// Whether a history has a counter in it (any `add`).
pub fn applies(history: &History) -> bool {
    history.ops.iter().any(|o| o.f == F::Add)
}

/// The report as a list entry.
pub fn entry(k: &CounterReport, min: &Minimums) -> Check {
    let details = k
        .anomalies
        .iter()
        .take(3)
        .map(|a| {
            let faults: Vec<String> = a
                .faults
                .iter()
                .map(|f| format!("{} {}", f.kind, f.target))
                .collect();
            format!(
                "{} {:?} at {:.3}–{:.3} s read {} (bounds {}..={}): {} {:?}, since {:.3} s; faults then: {}",
                a.process,
                a.f,
                a.invoke_ns as f64 / 1e9,
                a.complete_ns as f64 / 1e9,
                a.value,
                a.lower,
                a.upper,
                a.count,
                a.kind,
                a.since_ns as f64 / 1e9,
                if faults.is_empty() { "none".into() } else { faults.join(", ") }
            )
        })
        .collect();
    Check::judged(
        &KIND,
        "every observed counter value against the acknowledged and attempted increments before it",
        k.lost + k.duplicated,
        vec![Evidence::new("acknowledged increments", k.adds_ok, min.adds)],
    )
    .headline(format!(
        "{} add(s) acknowledged, {} failed, {} indeterminate; final read {}; ≥ {} acknowledged increment(s) lost, ≥ {} duplicated, in {} observation(s) out of bounds",
        k.adds_ok,
        k.adds_failed,
        k.adds_indeterminate,
        k.final_value.map_or("none".into(), |v| v.to_string()),
        k.lost,
        k.duplicated,
        k.anomalies_total
    ))
    .details(details)
    .first_violation(k.anomalies.iter().map(|a| a.complete_ns).min())
}

/// Checks a validated history.
pub fn check(history: &History) -> CounterReport {
    let mut counter = Counter::new(usize::MAX);
    history.ops.iter().for_each(|op| counter.push(op));
    counter.finish(&history.fault_windows())
}

/// An add's delta (its invocation's `Int`, never negative; 1 when it names none). Sums of
/// deltas saturate at i64's range, as Redis's own counter cannot pass it (it refuses an
/// `INCRBY` that would): a history that claims more is judged at the bound, never wrapped.
fn delta_of(invoke: &Value) -> i64 {
    match invoke {
        Value::Int(d) => (*d).max(0),
        _ => 1,
    }
}

/// A call in flight, as the counter needs it.
struct Open {
    f: F,
    index: u64,
    invoke_ns: Nanos,
    /// Acknowledged deltas completed strictly before the invocation.
    acked_before: i64,
    /// For an add: its delta and its place in [`Counter::adds`].
    add: Option<(i64, u64)>,
}

/// What is known of an add's outcome.
#[derive(Clone, Copy, PartialEq, Eq)]
enum AddState {
    Open,
    Failed,
    /// Acknowledged or indeterminate: it may have taken effect.
    Possible,
}

/// An observation waiting for its `upper`.
struct Pending {
    f: F,
    index: u64,
    process: Process,
    invoke_ns: Nanos,
    complete_ns: Nanos,
    value: i64,
    lower: i64,
}

/// The counter checker as a fold over a history's ops.
pub struct Counter {
    keep: usize,
    report: CounterReport,
    open: HashMap<Process, Open>,
    /// Time of the latest op read, and the acknowledged deltas completed before it and in all.
    now_ns: Nanos,
    acked_before_now: i64,
    acked: i64,
    /// Adds in invocation order, from the oldest not yet summed into `possible_before`; the
    /// first has sequence number `adds_from`.
    adds: VecDeque<(Nanos, i64, AddState)>,
    adds_from: u64,
    possible_before: i64,
    /// Observations in order of completion, waiting until every add invoked before they
    /// completed has an outcome.
    pending: VecDeque<Pending>,
    last_consistent_invoke: Nanos,
    last_consistent_done: Nanos,
}

impl Counter {
    /// Keeps the first `keep` anomalies in full (all are counted).
    pub fn new(keep: usize) -> Counter {
        Counter {
            keep,
            report: CounterReport::default(),
            open: HashMap::new(),
            now_ns: 0,
            acked_before_now: 0,
            acked: 0,
            adds: VecDeque::new(),
            adds_from: 0,
            possible_before: 0,
            pending: VecDeque::new(),
            last_consistent_invoke: 0,
            last_consistent_done: 0,
        }
    }

    pub fn push(&mut self, op: &Op) {
        if op.time_ns > self.now_ns {
            self.now_ns = op.time_ns;
            self.acked_before_now = self.acked;
            self.judge_ready(false);
        }
        if op.process == Process::Nemesis {
            return;
        }
        if op.kind == OpKind::Invoke {
            if !matches!(op.f, F::Add | F::Read | F::Final) {
                return;
            }
            let add = (op.f == F::Add).then(|| {
                let delta = delta_of(&op.value);
                self.adds.push_back((op.time_ns, delta, AddState::Open));
                (delta, self.adds_from + self.adds.len() as u64 - 1)
            });
            self.open.insert(
                op.process,
                Open {
                    f: op.f,
                    index: op.index,
                    invoke_ns: op.time_ns,
                    acked_before: self.acked_before_now,
                    add,
                },
            );
            return;
        }
        let Some(call) = self.open.remove(&op.process) else {
            return;
        };
        if let Some((delta, seq)) = call.add {
            let state = match op.kind {
                OpKind::Ok => {
                    self.report.adds_ok += 1;
                    self.report.acknowledged = self.report.acknowledged.saturating_add(delta);
                    self.acked = self.acked.saturating_add(delta);
                    AddState::Possible
                }
                OpKind::Fail => {
                    self.report.adds_failed += 1;
                    AddState::Failed
                }
                _ => {
                    self.report.adds_indeterminate += 1;
                    AddState::Possible
                }
            };
            if state == AddState::Possible {
                self.report.attempted = self.report.attempted.saturating_add(delta);
            }
            if let Some(a) = self.adds.get_mut((seq - self.adds_from) as usize) {
                a.2 = state;
            }
        }
        let (OpKind::Ok, Value::Int(value)) = (op.kind, &op.value) else {
            return;
        };
        let own = call.add.map_or(0, |(delta, _)| delta);
        let p = Pending {
            f: call.f,
            index: call.index,
            process: op.process,
            invoke_ns: call.invoke_ns,
            complete_ns: op.time_ns,
            value: *value,
            lower: call.acked_before.saturating_add(own),
        };
        // In order of completion, then of invocation.
        let at = self
            .pending
            .iter()
            .rposition(|q| (q.complete_ns, q.index) <= (p.complete_ns, p.index))
            .map_or(0, |i| i + 1);
        self.pending.insert(at, p);
    }

    /// Judges the waiting observations whose `upper` is known: the history has moved past
    /// their completion (or ended) and no add invoked by then is still open.
    fn judge_ready(&mut self, ended: bool) {
        while let Some(front) = self.pending.front() {
            let done = front.complete_ns;
            if !ended && self.now_ns <= done {
                return;
            }
            while let Some(&(invoke_ns, delta, state)) = self.adds.front() {
                if invoke_ns > done || state == AddState::Open {
                    break;
                }
                if state == AddState::Possible {
                    self.possible_before = self.possible_before.saturating_add(delta);
                }
                self.adds.pop_front();
                self.adds_from += 1;
            }
            if self.adds.front().is_some_and(|a| a.0 <= done) {
                return; // an add invoked by then is still open
            }
            let Some(p) = self.pending.pop_front() else {
                return;
            };
            self.judge(p, self.possible_before);
        }
    }

    fn judge(&mut self, p: Pending, upper: i64) {
        let report = &mut self.report;
        report.observations += 1;
        if p.f == F::Final {
            report.final_value = Some(p.value);
        }
        let (kind, count) = if p.value < p.lower {
            (CounterAnomalyKind::Lost, p.lower.abs_diff(p.value))
        } else if p.value > upper {
            (CounterAnomalyKind::Duplicated, p.value.abs_diff(upper))
        } else {
            if p.complete_ns >= self.last_consistent_done {
                self.last_consistent_done = p.complete_ns;
                self.last_consistent_invoke = p.invoke_ns;
            }
            return;
        };
        match kind {
            CounterAnomalyKind::Lost => report.lost = report.lost.max(count),
            CounterAnomalyKind::Duplicated => report.duplicated = report.duplicated.max(count),
        }
        report.anomalies_total += 1;
        if report.anomalies.len() < self.keep {
            report.anomalies.push(CounterAnomaly {
                kind,
                index: p.index,
                process: p.process,
                f: p.f,
                invoke_ns: p.invoke_ns,
                complete_ns: p.complete_ns,
                value: p.value,
                lower: p.lower,
                upper,
                count,
                since_ns: self.last_consistent_invoke,
                faults: Vec::new(),
            });
        }
    }

    /// The report, the kept anomalies attributed to the fault `windows` of the whole history.
    /// Adds still open count as indeterminate.
    pub fn finish(mut self, windows: &[FaultWindow]) -> CounterReport {
        for call in std::mem::take(&mut self.open).into_values() {
            if let Some((delta, seq)) = call.add {
                self.report.adds_indeterminate += 1;
                self.report.attempted = self.report.attempted.saturating_add(delta);
                if let Some(a) = self.adds.get_mut((seq - self.adds_from) as usize) {
                    a.2 = AddState::Possible;
                }
            }
        }
        self.judge_ready(true);
        let mut report = self.report;
        for a in &mut report.anomalies {
            a.faults = FaultWindow::faults_during(windows, a.since_ns, a.complete_ns);
        }
        report
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::history::Op;

    #[derive(Default)]
    struct B {
        ops: Vec<Op>,
    }

    impl B {
        fn push(&mut self, t: u64, p: Process, kind: OpKind, f: F, value: Value) {
            let index = self.ops.len() as u64;
            self.ops.push(Op {
                index,
                time_ns: t,
                process: p,
                kind,
                f,
                value,
            });
        }
        fn add(mut self, t0: u64, t1: u64, c: u32, kind: OpKind, ret: Value) -> Self {
            self.push(
                t0,
                Process::Client(c),
                OpKind::Invoke,
                F::Add,
                Value::Int(1),
            );
            self.push(t1, Process::Client(c), kind, F::Add, ret);
            self
        }
        fn read(mut self, t0: u64, t1: u64, c: u32, f: F, v: i64) -> Self {
            self.push(t0, Process::Client(c), OpKind::Invoke, f, Value::None);
            self.push(t1, Process::Client(c), OpKind::Ok, f, Value::Int(v));
            self
        }
        fn fault(mut self, t: u64, f: F, id: u64) -> Self {
            let fault = Fault {
                kind: "failover".into(),
                target: "n1".into(),
                id,
                detail: String::new(),
                frozen: None,
                bends: None,
            };
            self.push(t, Process::Nemesis, OpKind::Info, f, Value::Fault(fault));
            self
        }
        /// Interleaves the ops in time order (stable), then numbers them.
        fn check(mut self) -> CounterReport {
            self.ops.sort_by_key(|o| o.time_ns);
            for (i, o) in self.ops.iter_mut().enumerate() {
                o.index = i as u64;
            }
            let h = History::new(self.ops);
            h.validate().unwrap();
            check(&h)
        }
    }

    #[test]
    fn exact_counter_is_valid() {
        let r = B::default()
            .add(0, 1, 0, OpKind::Ok, Value::Int(1))
            .add(2, 3, 1, OpKind::Ok, Value::Int(2))
            .read(4, 5, 2, F::Read, 2)
            .read(6, 7, 2, F::Final, 2)
            .check();
        assert!(!r.violated(), "{r:?}");
        assert_eq!((r.acknowledged, r.final_value), (2, Some(2)));
    }

    #[test]
    fn final_read_below_acknowledged_is_a_loss_attributed_to_the_fault() {
        let r = B::default()
            .add(0, 1, 0, OpKind::Ok, Value::Int(1))
            .read(2, 3, 2, F::Read, 1)
            .fault(4, F::Start, 1)
            .add(5, 6, 0, OpKind::Ok, Value::Int(2))
            .add(7, 8, 1, OpKind::Ok, Value::Int(3))
            .fault(9, F::Stop, 1)
            .read(20, 21, 2, F::Final, 1)
            .check();
        assert_eq!(r.lost, 2);
        let a = r.anomalies.last().unwrap();
        assert_eq!(
            (a.kind, a.lower, a.value, a.since_ns),
            (CounterAnomalyKind::Lost, 3, 1, 7)
        );
        assert_eq!(a.faults.len(), 1);
    }

    #[test]
    fn concurrent_add_may_or_may_not_be_seen() {
        // The add overlaps the read: both 0 and 1 are legal.
        for v in [0, 1] {
            let r = B::default()
                .add(0, 10, 0, OpKind::Ok, Value::None)
                .read(5, 6, 1, F::Read, v)
                .check();
            assert!(!r.violated(), "value {v}: {r:?}");
        }
    }

    #[test]
    fn indeterminate_adds_never_fake_a_loss_but_bound_the_top() {
        let b = || {
            B::default().add(0, 1, 0, OpKind::Ok, Value::None).add(
                2,
                3,
                1,
                OpKind::Info,
                Value::Error("timeout".into()),
            )
        };
        assert!(!b().read(10, 11, 2, F::Final, 1).check().violated());
        assert!(!b().read(10, 11, 2, F::Final, 2).check().violated());
        let r = b().read(10, 11, 2, F::Final, 3).check();
        assert_eq!(r.duplicated, 1);
        assert_eq!(r.anomalies[0].kind, CounterAnomalyKind::Duplicated);
    }

    #[test]
    fn failed_adds_count_for_nothing() {
        let r = B::default()
            .add(0, 1, 0, OpKind::Fail, Value::Error("ERR".into()))
            .read(10, 11, 2, F::Final, 1)
            .check();
        assert_eq!(r.duplicated, 1);
    }

    #[test]
    fn an_adds_own_return_value_is_judged() {
        // Two sequential acknowledged adds both returning 1: the second lost the first.
        let r = B::default()
            .add(0, 1, 0, OpKind::Ok, Value::Int(1))
            .add(2, 3, 1, OpKind::Ok, Value::Int(1))
            .check();
        assert_eq!(r.lost, 1);
        assert_eq!(r.anomalies[0].f, F::Add);
        // Concurrent ones returning 1 and 2 are fine.
        let r = B::default()
            .add(0, 5, 0, OpKind::Ok, Value::Int(2))
            .add(1, 3, 1, OpKind::Ok, Value::Int(1))
            .check();
        assert!(!r.violated(), "{r:?}");
    }

    #[test]
    fn empty_history_is_valid() {
        let r = B::default().check();
        assert!(!r.violated());
        assert_eq!(r.observations, 0);
    }
}
