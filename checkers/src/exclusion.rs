//! Lease-aware mutual exclusion: did two clients act as holders at the same instant?
//!
//! A client acts as holder from the completion of a granted acquire to the invocation of its last
//! access to the protected resource under that grant (its *critical span*); with no access, to
//! the invocation of its release. It invoked that access believing it held the lock, so it
//! believed so throughout the span. Two spans of different clients that overlap in real time are
//! a violation: sound, because both clients believed they held the lock at one instant.
//!
//! The span is *not* cut at the validity end the client computed: a pause after the validity
//! check is exactly how a client acts on an expired lease (Kleppmann). Accesses invoked after the
//! client's own validity end are reported separately, as the pause's signature.
//!
//! Releases that deleted another client's lock are a separate checker
//! ([`crate::foreign_release`]), and so are grants the lock gave while another lease lived
//! ([`crate::double_grant`]).

use crate::check::{Check, Evidence, Minimums};
use crate::history::{Call, CallStream, History, Nanos, Op, OpKind, Process, Value, F};
use crate::sweep::{Interval, Sweep};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;

use crate::check::CheckKind;

/// This check's registry entry ([`crate::registry`]).
pub const KIND: CheckKind = CheckKind {
    id: "mutual_exclusion",
    name: "mutual exclusion",
    label: "mutual exclusion",
    applies: |s| s.lock,
    not_applicable: "[expect] mutual_exclusion needs clients that take the lock: [workload] kind = \"lock\" or \"rmw-counter\"",
    expectable: true,
    advisory: false,
    floors: &["grants"],
    judge: None,
};

/// A client's believed-held interval under one grant.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Span {
    pub process: Process,
    pub fence: u64,
    /// Completion of the granted acquire.
    pub start_ns: Nanos,
    /// Invocation of the last access (or of the release when there was no access).
    pub end_ns: Nanos,
    /// The validity end the client computed.
    pub validity_end_ns: Nanos,
    /// History index of the acquire's completion.
    pub acquire_index: u64,
    /// History index of the invocation that ends the span.
    pub end_index: u64,
    /// When the client invoked its release under this grant, if it did.
    pub release_invoke_ns: Option<Nanos>,
    /// The release's outcome, if it completed.
    pub release_result: Option<Value>,
    /// History index of the release's completion.
    pub release_index: Option<u64>,
}

impl Interval for Span {
    fn bounds(&self) -> (Process, Nanos, Nanos, u64) {
        (self.process, self.start_ns, self.end_ns, self.acquire_index)
    }
}

/// Two clients held the lock at once.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Overlap {
    pub first: Span,
    pub second: Span,
    pub overlap_start_ns: Nanos,
    pub overlap_end_ns: Nanos,
}

/// An access invoked after the client's own computed validity end.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LateAccess {
    pub process: Process,
    pub fence: u64,
    pub f: F,
    pub index: u64,
    pub invoke_ns: Nanos,
    pub validity_end_ns: Nanos,
    pub late_by_ns: Nanos,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExclusionReport {
    pub grants: usize,
    /// Every critical span (not stored in results: charts rebuild them from the history).
    #[serde(skip)]
    pub spans: Vec<Span>,
    /// The first overlaps, in the sweep's order (all of them in a whole-history check).
    pub overlaps: Vec<Overlap>,
    /// How many overlaps there were.
    #[serde(default)]
    pub overlap_count: u64,
    /// Every overlap's interval, by start (charts draw them all; not stored in results).
    #[serde(skip)]
    pub overlap_intervals: Vec<(Nanos, Nanos)>,
    /// The first accesses after the client's own validity end.
    pub late_accesses: Vec<LateAccess>,
    #[serde(default)]
    pub late_access_count: u64,
}

impl ExclusionReport {
    pub fn violated(&self) -> bool {
        self.overlap_count > 0
    }
}

/// The report as a list entry.
pub fn entry(r: &ExclusionReport, min: &Minimums) -> Check {
    let mut details = Vec::new();
    if let Some(o) = r.overlaps.first() {
        details.push(format!(
            "first: {} (fence {}) held {:.3}–{:.3} s while {} (fence {}) held {:.3}–{:.3} s; overlap {:.1} ms",
            o.first.process,
            o.first.fence,
            secs(o.first.start_ns),
            secs(o.first.end_ns),
            o.second.process,
            o.second.fence,
            secs(o.second.start_ns),
            secs(o.second.end_ns),
            (o.overlap_end_ns - o.overlap_start_ns) as f64 / 1e6
        ));
    }
    if let Some(l) = r.late_accesses.first() {
        details.push(format!(
            "first late access: {} {:?} under fence {} at {:.3} s, {:.1} ms after its validity ended",
            l.process,
            l.f,
            l.fence,
            secs(l.invoke_ns),
            l.late_by_ns as f64 / 1e6
        ));
    }
    Check::judged(
        &KIND,
        "the clients' history: critical spans from a granted acquire to the last access under it (lease expiry is not an op)",
        r.overlap_count,
        vec![Evidence::new("grants", r.grants as u64, min.grants)],
    )
    .headline(format!(
        "{} overlapping critical span(s), {} access(es) after the client's own validity end",
        r.overlap_count, r.late_access_count
    ))
    .details(details)
    .first_violation(r.overlaps.iter().map(|o| o.overlap_start_ns).min())
}

fn secs(ns: Nanos) -> f64 {
    ns as f64 / 1e9
}

/// Builds every client's critical spans from the history.
pub fn spans(history: &History) -> Vec<Span> {
    let mut x = Exclusion::new(usize::MAX, true);
    history.ops.iter().for_each(|op| x.push(op));
    x.finish().spans
}

/// Runs the mutual-exclusion checker over a whole history, keeping every violation and span.
pub fn check(history: &History) -> ExclusionReport {
    let mut x = Exclusion::new(usize::MAX, true);
    history.ops.iter().for_each(|op| x.push(op));
    x.finish()
}

/// The mutual-exclusion checker one op at a time, in memory bounded by the number of clients
/// (plus the violations it is asked to keep): what a run checks live, and what an hour-long
/// run's journal is checked by.
///
/// A span is final once its client releases, takes another grant, or the history ends; two
/// spans are compared when the later of them becomes final. A final span is forgotten once it
/// ends no later than every open span starts: a span that starts later (at a grant completed
/// after now) cannot overlap it. The verdict and the violations kept are those of the
/// whole-history sweep: violations are kept in the sweep's order (by the later span's start),
/// the first `keep` of them, and all are counted.
pub struct Exclusion {
    keep: usize,
    keep_spans: bool,
    calls: CallStream,
    grants: usize,
    /// Each client's current (not yet final) span.
    open: HashMap<Process, Span>,
    /// Final spans that may still overlap an open one.
    live: Sweep<Span>,
    /// Every span, when kept (charts of a short run draw them).
    spans: Vec<Span>,
    overlaps: Vec<Overlap>,
    overlap_count: u64,
    /// Every overlap's interval, for charts (16 bytes each).
    overlap_intervals: Vec<(Nanos, Nanos)>,
    late: Vec<LateAccess>,
    late_count: u64,
    /// Each client's current grant as it computed it: fence and validity end.
    current: HashMap<Process, (u64, Nanos)>,
    now_ns: Nanos,
}

impl Exclusion {
    /// `keep` violations of each kind in full; every span too when `keep_spans`. With `keep`
    /// 0 it only counts (the status line's live count), in memory that never grows.
    pub fn new(keep: usize, keep_spans: bool) -> Exclusion {
        Exclusion {
            keep,
            keep_spans,
            calls: CallStream::default(),
            grants: 0,
            open: HashMap::new(),
            live: Sweep::default(),
            spans: Vec::new(),
            overlaps: Vec::new(),
            overlap_count: 0,
            overlap_intervals: Vec::new(),
            late: Vec::new(),
            late_count: 0,
            current: HashMap::new(),
            now_ns: 0,
        }
    }

    /// Overlaps found so far (a span is judged when it becomes final).
    pub fn overlap_count(&self) -> u64 {
        self.overlap_count
    }

    /// Reads the next op of the history (validated, in order).
    pub fn push(&mut self, op: &Op) {
        self.now_ns = op.time_ns;
        if let Some(call) = self.calls.push(op) {
            self.call(&call);
        }
    }

    fn call(&mut self, call: &Call) {
        match (call.f, call.result()) {
            (F::Acquire, Some(Value::Granted(g))) if call.outcome() == OpKind::Ok => {
                let done = call.completion.as_ref().expect("ok has completion");
                self.grants += 1;
                self.current
                    .insert(call.process, (g.fence, g.validity_end_ns));
                let span = Span {
                    process: call.process,
                    fence: g.fence,
                    start_ns: done.time_ns,
                    end_ns: done.time_ns,
                    validity_end_ns: g.validity_end_ns,
                    acquire_index: done.index,
                    end_index: done.index,
                    release_invoke_ns: None,
                    release_result: None,
                    release_index: None,
                };
                if let Some(previous) = self.open.insert(call.process, span) {
                    self.close(previous);
                    self.forget();
                }
            }
            // An extension moves the validity end the client computes.
            (F::Extend, Some(Value::Extended { validity_end_ns }))
                if call.outcome() == OpKind::Ok =>
            {
                if let Some(c) = self.current.get_mut(&call.process) {
                    c.1 = c.1.max(*validity_end_ns);
                }
            }
            (F::Read | F::Write, _) => {
                let Value::Access {
                    fence: Some(fence), ..
                } = call.invoke.value
                else {
                    return;
                };
                if let Some(span) = self.open.get_mut(&call.process) {
                    if span.fence == fence && span.release_invoke_ns.is_none() {
                        span.end_ns = call.invoke_ns();
                        span.end_index = call.invoke.index;
                    }
                }
                if let Some(&(f, end)) = self.current.get(&call.process) {
                    if f == fence && call.invoke_ns() > end {
                        self.late_count += 1;
                        self.late.push(LateAccess {
                            process: call.process,
                            fence,
                            f: call.f,
                            index: call.invoke.index,
                            invoke_ns: call.invoke_ns(),
                            validity_end_ns: end,
                            late_by_ns: call.invoke_ns() - end,
                        });
                        if self.late.len() >= self.keep.saturating_mul(2).max(64) {
                            self.trim();
                        }
                    }
                }
            }
            (F::Release, _) => {
                let Value::Held { fence, .. } = call.invoke.value else {
                    return;
                };
                let Some(mut span) = self.open.remove(&call.process) else {
                    return;
                };
                if span.fence == fence {
                    let had_access = span.end_index != span.acquire_index;
                    if !had_access {
                        span.end_ns = call.invoke_ns();
                        span.end_index = call.invoke.index;
                    }
                    span.release_invoke_ns = Some(call.invoke_ns());
                    span.release_result = call.result().cloned();
                    span.release_index = call.completion.as_ref().map(|c| c.index);
                }
                self.close(span);
                self.forget();
            }
            _ => {}
        }
    }

    /// A span became final: judge it against the final spans it may overlap.
    fn close(&mut self, s: Span) {
        if self.keep_spans {
            self.spans.push(s.clone());
        }
        let (overlaps, intervals) = (&mut self.overlaps, &mut self.overlap_intervals);
        let keep = self.keep;
        let mut count = 0;
        self.live.close(s, |first, second| {
            let o = Overlap {
                overlap_start_ns: first.start_ns.max(second.start_ns),
                overlap_end_ns: first.end_ns.min(second.end_ns),
                first: first.clone(),
                second: second.clone(),
            };
            count += 1;
            if keep > 0 {
                intervals.push((o.overlap_start_ns, o.overlap_end_ns));
                overlaps.push(o);
            }
        });
        self.overlap_count += count;
        if self.overlaps.len() >= self.keep.saturating_mul(2).max(64) {
            self.trim();
        }
    }

    /// Forgets the final spans no span still to become final can overlap.
    fn forget(&mut self) {
        let horizon = self
            .open
            .values()
            .map(|o| o.start_ns)
            .min()
            .unwrap_or(self.now_ns)
            .min(self.now_ns);
        self.live.forget(horizon);
    }

    /// Keeps the first `keep` violations of each kind, in the whole-history sweep's order.
    fn trim(&mut self) {
        self.overlaps.sort_by_key(|o| {
            (
                o.second.start_ns,
                o.second.end_ns,
                o.second.acquire_index,
                o.first.start_ns,
                o.first.end_ns,
                o.first.acquire_index,
            )
        });
        self.overlaps.truncate(self.keep);
        self.late.sort_by_key(|l| l.index);
        self.late.truncate(self.keep);
    }

    /// The report, once the history has ended: open spans become final as they are.
    pub fn finish(mut self) -> ExclusionReport {
        for call in std::mem::take(&mut self.calls).finish() {
            self.call(&call);
        }
        let mut open: Vec<Span> = self.open.drain().map(|(_, s)| s).collect();
        open.sort_by_key(|s| s.acquire_index);
        for s in open {
            self.close(s);
        }
        self.trim();
        self.spans.sort_by_key(|s| s.acquire_index);
        self.overlap_intervals.sort_unstable();
        ExclusionReport {
            grants: self.grants,
            spans: self.spans,
            overlaps: self.overlaps,
            overlap_count: self.overlap_count,
            overlap_intervals: self.overlap_intervals,
            late_accesses: self.late,
            late_access_count: self.late_count,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixture::B;

    #[test]
    fn sequential_holders_do_not_overlap() {
        let mut b = B::default();
        b.acquire(0, 5, 0, 1)
            .access(6, 8, 0, 1, F::Read)
            .access(9, 11, 0, 1, F::Write);
        b.release(12, 14, 0, 1, Value::Released);
        b.acquire(13, 15, 1, 2)
            .access(16, 18, 1, 2, F::Write)
            .release(19, 20, 1, 2, Value::Released);
        let r = check(&b.history());
        assert_eq!(r.grants, 2);
        assert!(r.overlaps.is_empty(), "{:?}", r.overlaps);
        assert!(!r.violated());
    }

    #[test]
    fn touching_spans_are_not_a_violation() {
        // Client 0's last access is invoked at 10; client 1's grant completes at 10.
        let mut b = B::default();
        b.acquire(0, 2, 0, 1).access(10, 12, 0, 1, F::Write);
        b.acquire(3, 10, 1, 2).access(11, 13, 1, 2, F::Write);
        let r = check(&b.history());
        assert!(r.overlaps.is_empty(), "{:?}", r.overlaps);
    }

    #[test]
    fn paused_writer_overlaps_next_holder_and_is_late() {
        // Client 0 reads under fence 1, pauses past its validity (ends at 100), writes at 250.
        let mut b = B::default();
        b.acquire(0, 5, 0, 1)
            .access(6, 8, 0, 1, F::Read)
            .access(250, 252, 0, 1, F::Write);
        b.acquire(150, 155, 1, 2)
            .access(156, 158, 1, 2, F::Read)
            .access(200, 202, 1, 2, F::Write);
        let r = check(&b.history());
        assert_eq!(r.overlaps.len(), 1);
        let o = &r.overlaps[0];
        assert_eq!((o.first.fence, o.second.fence), (1, 2));
        assert_eq!((o.overlap_start_ns, o.overlap_end_ns), (155, 200));
        assert_eq!(r.late_accesses.len(), 1);
        assert_eq!(r.late_accesses[0].late_by_ns, 150);
        assert_eq!(r.late_accesses[0].f, F::Write);
    }

    #[test]
    fn info_access_still_counts_as_believed_held() {
        let mut b = B::default();
        b.acquire(0, 5, 0, 1);
        b.push(
            200,
            0,
            OpKind::Invoke,
            F::Write,
            Value::Access {
                fence: Some(1),
                write: Some(1),
            },
        );
        b.push(
            300,
            0,
            OpKind::Info,
            F::Write,
            Value::Error("timeout".into()),
        );
        b.acquire(150, 160, 1, 2).access(170, 171, 1, 2, F::Write);
        let r = check(&b.history());
        assert_eq!(r.overlaps.len(), 1);
    }

    #[test]
    fn failed_acquire_opens_no_span() {
        let mut b = B::default();
        b.push(
            0,
            0,
            OpKind::Invoke,
            F::Acquire,
            Value::Lease {
                key: "k".into(),
                ttl_ms: 100,
            },
        );
        b.push(1, 0, OpKind::Ok, F::Acquire, Value::Denied);
        b.push(
            2,
            1,
            OpKind::Invoke,
            F::Acquire,
            Value::Lease {
                key: "k".into(),
                ttl_ms: 100,
            },
        );
        b.push(
            3,
            1,
            OpKind::Fail,
            F::Acquire,
            Value::Error("NOAUTH".into()),
        );
        let r = check(&b.history());
        assert_eq!(r.grants, 0);
    }

    /// Every pair of spans, the obvious way.
    fn pairwise(spans: &[Span]) -> Vec<(u64, u64)> {
        let mut out = Vec::new();
        for (i, a) in spans.iter().enumerate() {
            for b in &spans[i + 1..] {
                if a.process != b.process && a.start_ns < b.end_ns && b.start_ns < a.end_ns {
                    let (x, y) = (
                        a.acquire_index.min(b.acquire_index),
                        a.acquire_index.max(b.acquire_index),
                    );
                    out.push((x, y));
                }
            }
        }
        out.sort_unstable();
        out
    }

    #[test]
    fn streaming_finds_exactly_the_pairwise_overlaps_and_keeps_the_first() {
        for seed in 0..300 {
            let h = crate::fixture::random_history(seed, 1 + (seed % 6) as u32, 12);
            let full = check(&h);
            let mut got: Vec<(u64, u64)> = full
                .overlaps
                .iter()
                .map(|o| {
                    let (a, b) = (o.first.acquire_index, o.second.acquire_index);
                    (a.min(b), a.max(b))
                })
                .collect();
            got.sort_unstable();
            assert_eq!(got, pairwise(&full.spans), "seed {seed}");
            assert_eq!(full.overlap_count as usize, full.overlaps.len());
            // A bounded reader counts the same and keeps the sweep's first ones.
            let mut few = Exclusion::new(3, false);
            h.ops.iter().for_each(|op| few.push(op));
            let few = few.finish();
            assert_eq!(few.overlap_count, full.overlap_count, "seed {seed}");
            assert_eq!(few.late_access_count, full.late_access_count, "seed {seed}");
            assert_eq!(
                few.overlaps[..],
                full.overlaps[..full.overlaps.len().min(3)]
            );
            assert!(few.spans.is_empty());
        }
    }

    #[test]
    fn a_long_history_is_read_in_bounded_memory() {
        let h = crate::fixture::random_history(7, 5, 4000);
        let mut x = Exclusion::new(10, false);
        let mut most_live = 0;
        for op in &h.ops {
            x.push(op);
            most_live = most_live.max(x.live.kept());
        }
        // 5 clients × 4000 sections; only spans that may overlap an open one are kept (a long
        // pause keeps the sections others finished meanwhile).
        assert!(
            most_live < 1_000,
            "{most_live} of 20000 final spans kept at once"
        );
        let r = x.finish();
        assert!(r.overlap_count > 100, "{} overlaps", r.overlap_count);
        assert_eq!(r.overlaps.len(), 10);
    }
}
