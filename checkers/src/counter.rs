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

use crate::check::{Check, Evidence, Minimums};
use crate::history::{Call, Fault, FaultWindow, History, Nanos, OpKind, Process, Value, F};
use serde::{Deserialize, Serialize};

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
    pub anomalies: Vec<CounterAnomaly>,
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

fn delta_of(c: &Call) -> i64 {
    match c.invoke.value {
        Value::Int(d) => d.max(0),
        _ => 1,
    }
}

/// Sum of `deltas` whose time satisfies `before(t)`, over a list sorted by time.
struct Prefix {
    times: Vec<Nanos>,
    sums: Vec<i64>,
}

impl Prefix {
    fn new(mut items: Vec<(Nanos, i64)>) -> Prefix {
        items.sort_by_key(|&(t, _)| t);
        let mut sums = Vec::with_capacity(items.len() + 1);
        sums.push(0);
        for &(_, d) in &items {
            sums.push(sums.last().copied().unwrap_or(0) + d);
        }
        Prefix {
            times: items.into_iter().map(|(t, _)| t).collect(),
            sums,
        }
    }
    /// Sum over items with time < t.
    fn strictly_before(&self, t: Nanos) -> i64 {
        self.sums[self.times.partition_point(|&x| x < t)]
    }
    /// Sum over items with time ≤ t.
    fn up_to(&self, t: Nanos) -> i64 {
        self.sums[self.times.partition_point(|&x| x <= t)]
    }
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
        "counter",
        "counter (lost or duplicated increments)",
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
        k.anomalies.len()
    ))
    .details(details)
    .first_violation(k.anomalies.iter().map(|a| a.complete_ns).min())
}

/// Checks a validated history.
pub fn check(history: &History) -> CounterReport {
    let calls = history.calls();
    let end = history.ops.last().map_or(0, |o| o.time_ns);
    let mut report = CounterReport::default();
    let mut acked = Vec::new();
    let mut possible = Vec::new();
    for c in calls.iter().filter(|c| c.f == F::Add) {
        let d = delta_of(c);
        match c.outcome() {
            OpKind::Ok => {
                report.adds_ok += 1;
                report.acknowledged += d;
                acked.push((c.complete_ns().unwrap_or(end), d));
                possible.push((c.invoke_ns(), d));
            }
            OpKind::Fail => report.adds_failed += 1,
            _ => {
                report.adds_indeterminate += 1;
                possible.push((c.invoke_ns(), d));
            }
        }
    }
    report.attempted = possible.iter().map(|&(_, d)| d).sum();
    let acked = Prefix::new(acked);
    let possible = Prefix::new(possible);
    let windows = history.fault_windows();

    // Observations in order of completion, so "the last consistent one before" is well defined.
    let mut observations: Vec<(&Call, i64, Nanos)> = calls
        .iter()
        .filter(|c| matches!(c.f, F::Read | F::Final | F::Add) && c.outcome() == OpKind::Ok)
        .filter_map(|c| match c.result() {
            Some(Value::Int(v)) => Some((c, *v, c.complete_ns().unwrap_or(end))),
            _ => None,
        })
        .collect();
    observations.sort_by_key(|&(c, _, done)| (done, c.invoke.index));

    let mut last_consistent_invoke: Nanos = 0;
    let mut last_consistent_done: Nanos = 0;
    for (c, value, done) in observations {
        report.observations += 1;
        if c.f == F::Final {
            report.final_value = Some(value);
        }
        let own = if c.f == F::Add { delta_of(c) } else { 0 };
        let mut lower = acked.strictly_before(c.invoke_ns());
        if c.f == F::Add {
            lower += own;
        }
        let upper = possible.up_to(done);
        let (kind, count) = if value < lower {
            (CounterAnomalyKind::Lost, (lower - value) as u64)
        } else if value > upper {
            (CounterAnomalyKind::Duplicated, (value - upper) as u64)
        } else {
            if done >= last_consistent_done {
                last_consistent_done = done;
                last_consistent_invoke = c.invoke_ns();
            }
            continue;
        };
        match kind {
            CounterAnomalyKind::Lost => report.lost = report.lost.max(count),
            CounterAnomalyKind::Duplicated => report.duplicated = report.duplicated.max(count),
        }
        report.anomalies.push(CounterAnomaly {
            kind,
            index: c.invoke.index,
            process: c.process,
            f: c.f,
            invoke_ns: c.invoke_ns(),
            complete_ns: done,
            value,
            lower,
            upper,
            count,
            since_ns: last_consistent_invoke,
            faults: FaultWindow::faults_during(&windows, last_consistent_invoke, done),
        });
    }
    report
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
