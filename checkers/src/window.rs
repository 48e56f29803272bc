//! Rate-window checker: did a rate limiter admit more than `limit` requests in some interval of
//! length `W`?
//!
//! A limiter's promise, as its users read it, is about *every* sliding interval of length W, not
//! about the limiter's own buckets: a fixed-window limiter that admits `limit` requests at the end
//! of one window and `limit` more at the start of the next has let 2 × limit through in far less
//! than W.
//!
//! History: `request` ops, `ok` with `Admitted(true | false)`. An admitted request took effect at
//! some instant between its invocation and its completion. A set of admitted requests is proved to
//! fit in one interval of length W when the span from the earliest invocation to the latest
//! completion among them is shorter than W — whatever instants they really took effect at. The
//! checker reports such sets of more than `limit` requests (sound: never a false alarm), so slow
//! requests can hide a violation but never invent one. `info` requests (unknown whether admitted)
//! are left out for the same reason and counted.
//!
//! The checker reads a history one op at a time ([`Window`]): a request is judged as the
//! earliest of a set once the history has moved a window past its invocation and no request
//! invoked before it is still open, so memory holds about one window of admissions.

use crate::check::{Check, Evidence, Minimums};
use crate::history::{Fault, FaultWindow, History, Nanos, Op, OpKind, Process, Value, F};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet, HashMap};

use crate::check::CheckKind;

/// This check's registry entry ([`crate::registry`]).
pub const KIND: CheckKind = CheckKind {
    id: "rate_window",
    name: "rate window",
    label: "rate window",
    applies: |s| s.limiter,
    not_applicable: "[expect] rate_window needs a rate-limiter workload",
    expectable: true,
    advisory: false,
    floors: &["admitted", "rejected"],
    judge: None,
};

#[cfg(test)]
mod reference;

/// The promise under test.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct WindowSpec {
    pub limit: u64,
    pub window_ns: Nanos,
    /// Judge each aligned window `[kW, (k+1)W)` of the history's clock — a fixed-window
    /// limiter's own buckets when its client counts windows on that clock — instead of every
    /// interval of length W. A request counts in a bucket only when its whole call lies inside
    /// it (the client read its clock somewhere in the call).
    #[serde(default)]
    pub aligned: bool,
}

/// More than `limit` admissions proved to fall in one interval of length W.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct OverAdmission {
    /// Earliest invocation among the requests.
    pub from_ns: Nanos,
    /// Latest completion among them (`to_ns − from_ns < W`).
    pub to_ns: Nanos,
    pub admitted: u64,
    /// Op indexes of the requests' invocations.
    pub requests: Vec<u64>,
    /// Faults active at some point in `[from_ns, to_ns]`.
    pub faults: Vec<Fault>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct WindowReport {
    pub limit: u64,
    pub window_ns: Nanos,
    pub requests: u64,
    pub admitted: u64,
    pub rejected: u64,
    pub failed: u64,
    /// `info` or never completed: may or may not have been admitted.
    pub indeterminate: u64,
    /// The most admissions proved to fall in one interval of length W.
    pub max_in_window: u64,
    /// Judged per aligned window (see [`WindowSpec::aligned`]).
    #[serde(default)]
    pub aligned: bool,
    /// Intervals proving over-admission, disjoint in their first request; at most
    /// [`MAX_REPORTED`] are kept (`over_admissions_total` counts them all).
    pub over_admissions: Vec<OverAdmission>,
    pub over_admissions_total: u64,
}

pub const MAX_REPORTED: usize = 50;

impl WindowReport {
    pub fn violated(&self) -> bool {
        self.over_admissions_total > 0
    }
}

/// Whether a history has rate-limiter requests in it.
pub fn applies(history: &History) -> bool {
    history.ops.iter().any(|o| o.f == F::Request)
}

/// The report as a list entry: a limiter "holds" only if it admitted more than its limit in all
/// (so it could have over-admitted) and rejected something (so it was pushed).
pub fn entry(w: &WindowReport, min: &Minimums) -> Check {
    let details = w
        .over_admissions
        .iter()
        .max_by_key(|o| o.admitted)
        .map(|o| {
            format!(
                "largest: {} admitted within {:.3}–{:.3} s ({:.0} ms); faults then: {}",
                o.admitted,
                o.from_ns as f64 / 1e9,
                o.to_ns as f64 / 1e9,
                (o.to_ns - o.from_ns) as f64 / 1e6,
                if o.faults.is_empty() {
                    "none".into()
                } else {
                    o.faults
                        .iter()
                        .map(|f| f.kind.clone())
                        .collect::<Vec<_>>()
                        .join(", ")
                }
            )
        })
        .into_iter()
        .collect();
    Check::judged(
        &KIND,
        "admissions in every interval of the limiter's window, from the requests' invocations and completions",
        w.over_admissions_total,
        vec![
            Evidence::new("admitted requests", w.admitted, min.admitted.unwrap_or(w.limit + 1)),
            Evidence::new("rejected requests", w.rejected, min.rejected),
        ],
    )
    .named(format!(
        "rate window ({} per {} ms{})",
        w.limit,
        w.window_ns / 1_000_000,
        if w.aligned { ", per aligned window" } else { "" }
    ))
    .headline(format!(
        "{} request(s): {} admitted, {} rejected, {} indeterminate; at most {} admitted in one {} ms interval; {} over-admitting interval(s)",
        w.requests,
        w.admitted,
        w.rejected,
        w.indeterminate,
        w.max_in_window,
        w.window_ns / 1_000_000,
        w.over_admissions_total
    ))
    .details(details)
    .first_violation(w.over_admissions.iter().map(|o| o.to_ns).min())
}

/// Checks a validated history against `spec`.
pub fn check(history: &History, spec: WindowSpec) -> WindowReport {
    let mut window = Window::new(spec);
    history.ops.iter().for_each(|op| window.push(op));
    window.finish(&history.fault_windows())
}

/// An admitted request: (invocation, completion, invocation's op index), ordered so.
type Admission = (Nanos, Nanos, u64);

/// The rate-window checker as a fold over a history's ops.
pub struct Window {
    spec: WindowSpec,
    report: WindowReport,
    /// Each process's open request, and the open requests by invocation.
    open: HashMap<Process, (Nanos, u64)>,
    open_by_invoke: BTreeSet<(Nanos, u64)>,
    now_ns: Nanos,
    /// Admissions not yet judged as the earliest of a set (every interval of length W).
    admitted: BTreeSet<Admission>,
    /// Admissions judged so far, and the end of the run of sets the last witness covers.
    judged: usize,
    covered_until: usize,
    /// Admissions wholly inside each aligned window not yet judged (aligned windows).
    buckets: BTreeMap<u64, Vec<Admission>>,
}

impl Window {
    pub fn new(spec: WindowSpec) -> Window {
        Window {
            spec,
            report: WindowReport {
                limit: spec.limit,
                window_ns: spec.window_ns,
                aligned: spec.aligned,
                ..Default::default()
            },
            open: HashMap::new(),
            open_by_invoke: BTreeSet::new(),
            now_ns: 0,
            admitted: BTreeSet::new(),
            judged: 0,
            covered_until: 0,
            buckets: BTreeMap::new(),
        }
    }

    pub fn push(&mut self, op: &Op) {
        if op.time_ns > self.now_ns {
            self.now_ns = op.time_ns;
            self.judge_ready(false);
        }
        if op.process == Process::Nemesis {
            return;
        }
        if op.kind == OpKind::Invoke {
            if op.f == F::Request {
                self.open.insert(op.process, (op.time_ns, op.index));
                self.open_by_invoke.insert((op.time_ns, op.index));
            }
            return;
        }
        let Some((invoke_ns, index)) = self.open.remove(&op.process) else {
            return;
        };
        self.open_by_invoke.remove(&(invoke_ns, index));
        let report = &mut self.report;
        report.requests += 1;
        match (op.kind, &op.value) {
            (OpKind::Ok, Value::Admitted(true)) => {
                report.admitted += 1;
                let a = (invoke_ns, op.time_ns, index);
                if self.spec.aligned {
                    let w = self.spec.window_ns.max(1);
                    if a.0 / w == a.1 / w {
                        self.buckets.entry(a.0 / w).or_default().push(a);
                    }
                } else {
                    self.admitted.insert(a);
                }
            }
            (OpKind::Ok, _) => report.rejected += 1,
            (OpKind::Fail, _) => report.failed += 1,
            _ => report.indeterminate += 1,
        }
    }

    /// Judges what can no longer change: the sets whose earliest request the history has
    /// moved a window past, with no request invoked before it still open; the aligned windows
    /// the history has left.
    fn judge_ready(&mut self, ended: bool) {
        let w = self.spec.window_ns;
        if self.spec.aligned {
            let w = w.max(1);
            while let Some(entry) = self.buckets.first_entry() {
                if !ended && (entry.key() + 1).saturating_mul(w) > self.now_ns {
                    return;
                }
                let mut set = entry.remove();
                set.sort_unstable();
                let n = set.len() as u64;
                let report = &mut self.report;
                report.max_in_window = report.max_in_window.max(n);
                if n > self.spec.limit {
                    report.over_admissions_total += 1;
                    if report.over_admissions.len() < MAX_REPORTED {
                        report.over_admissions.push(witness(&set));
                    }
                }
            }
            return;
        }
        while let Some(&first) = self.admitted.first() {
            let (start, ..) = first;
            let end = start.saturating_add(w);
            let blocked = self.open_by_invoke.first().is_some_and(|o| o.0 <= start);
            if !ended && (self.now_ns < end || blocked) {
                return;
            }
            // The requests invoked no earlier that completed within W of it.
            let set: Vec<Admission> = self
                .admitted
                .iter()
                .take_while(|r| r.0 < end)
                .filter(|r| r.1 < end)
                .copied()
                .collect();
            self.admitted.pop_first();
            let i = self.judged;
            self.judged += 1;
            let n = set.len() as u64;
            let report = &mut self.report;
            report.max_in_window = report.max_in_window.max(n);
            if n <= self.spec.limit {
                continue;
            }
            report.over_admissions_total += 1;
            // Keep one witness per run of overlapping sets: the first, unless a later one is larger.
            if i < self.covered_until {
                if let Some(last) = report.over_admissions.last_mut() {
                    if n > last.admitted {
                        *last = witness(&set);
                    }
                }
                continue;
            }
            self.covered_until = i + set.len();
            if report.over_admissions.len() < MAX_REPORTED {
                report.over_admissions.push(witness(&set));
            }
        }
    }

    /// The report, its witnesses attributed to the fault `windows` of the whole history.
    /// Requests still open count as indeterminate.
    pub fn finish(mut self, windows: &[FaultWindow]) -> WindowReport {
        let open = self.open.len() as u64;
        self.report.requests += open;
        self.report.indeterminate += open;
        self.open.clear();
        self.open_by_invoke.clear();
        self.judge_ready(true);
        let mut report = self.report;
        for o in &mut report.over_admissions {
            o.faults = FaultWindow::faults_during(windows, o.from_ns, o.to_ns);
        }
        report
    }
}

fn witness(set: &[Admission]) -> OverAdmission {
    let from_ns = set.iter().map(|r| r.0).min().unwrap_or(0);
    let to_ns = set.iter().map(|r| r.1).max().unwrap_or(0);
    OverAdmission {
        from_ns,
        to_ns,
        admitted: set.len() as u64,
        requests: set.iter().map(|r| r.2).collect(),
        faults: Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::history::{Op, Process};

    /// Requests as (invoke, complete, admitted?) on one process each, in time order.
    fn history(reqs: &[(u64, u64, Option<bool>)]) -> History {
        let mut events: Vec<(u64, u32, bool, Option<bool>)> = Vec::new();
        for (c, &(a, b, adm)) in reqs.iter().enumerate() {
            events.push((a, c as u32, true, adm));
            events.push((b, c as u32, false, adm));
        }
        events.sort_by_key(|e| (e.0, !e.2));
        let ops = events
            .into_iter()
            .enumerate()
            .map(|(i, (t, c, inv, adm))| Op {
                index: i as u64,
                time_ns: t,
                process: Process::Client(c),
                kind: match (inv, adm) {
                    (true, _) => OpKind::Invoke,
                    (false, Some(_)) => OpKind::Ok,
                    (false, None) => OpKind::Info,
                },
                f: F::Request,
                value: match (inv, adm) {
                    (true, _) => Value::None,
                    (false, Some(a)) => Value::Admitted(a),
                    (false, None) => Value::Error("timeout".into()),
                },
            })
            .collect();
        let h = History::new(ops);
        h.validate().unwrap();
        h
    }

    const SPEC: WindowSpec = WindowSpec {
        limit: 2,
        window_ns: 100,
        aligned: false,
    };

    #[test]
    fn boundary_doubling_is_found() {
        // Fixed windows [0,100), [100,200): two at the end of the first, two at the start of the
        // next — four within 20 ns.
        let h = history(&[
            (90, 91, Some(true)),
            (95, 96, Some(true)),
            (101, 102, Some(true)),
            (105, 106, Some(true)),
        ]);
        let r = check(&h, SPEC);
        assert!(r.violated());
        assert_eq!(r.max_in_window, 4);
        assert_eq!(r.over_admissions[0].admitted, 4);
        assert_eq!(r.over_admissions.len(), 1, "{r:?}");
    }

    #[test]
    fn spaced_admissions_are_valid() {
        let h = history(&[
            (0, 1, Some(true)),
            (50, 51, Some(true)),
            (100, 101, Some(true)),
            (150, 151, Some(true)),
            (120, 121, Some(false)),
        ]);
        let r = check(&h, SPEC);
        assert!(!r.violated(), "{r:?}");
        assert_eq!((r.admitted, r.rejected, r.max_in_window), (4, 1, 2));
    }

    #[test]
    fn slow_requests_cannot_invent_a_violation() {
        // Three admitted, but the third may have taken effect as late as 150: not proved.
        let h = history(&[
            (0, 1, Some(true)),
            (10, 11, Some(true)),
            (20, 150, Some(true)),
        ]);
        assert!(!check(&h, SPEC).violated());
    }

    #[test]
    fn indeterminate_requests_are_not_counted_as_admitted() {
        let h = history(&[(0, 1, Some(true)), (10, 11, Some(true)), (20, 21, None)]);
        let r = check(&h, SPEC);
        assert!(!r.violated());
        assert_eq!(r.indeterminate, 1);
    }

    #[test]
    fn exactly_w_apart_is_not_one_window() {
        // Invoked at 0, completed at 100: spans W exactly, so not proved to fit in [a, a+W).
        let h = history(&[
            (0, 1, Some(true)),
            (50, 51, Some(true)),
            (99, 100, Some(true)),
        ]);
        assert!(!check(&h, SPEC).violated());
        let h = history(&[
            (0, 1, Some(true)),
            (50, 51, Some(true)),
            (98, 99, Some(true)),
        ]);
        assert!(check(&h, SPEC).violated());
    }
}
