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
use crate::history::{Call, History, Nanos, OpKind, Process, Value, F};
use serde::{Deserialize, Serialize};

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
    pub overlaps: Vec<Overlap>,
    pub late_accesses: Vec<LateAccess>,
}

impl ExclusionReport {
    pub fn violated(&self) -> bool {
        !self.overlaps.is_empty()
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
        "mutual_exclusion",
        "mutual exclusion",
        "the clients' history: critical spans from a granted acquire to the last access under it (lease expiry is not an op)",
        r.overlaps.len() as u64,
        vec![Evidence::new("grants", r.grants as u64, min.grants)],
    )
    .headline(format!(
        "{} overlapping critical span(s), {} access(es) after the client's own validity end",
        r.overlaps.len(),
        r.late_accesses.len()
    ))
    .details(details)
    .first_violation(r.overlaps.iter().map(|o| o.overlap_start_ns).min())
}

fn secs(ns: Nanos) -> f64 {
    ns as f64 / 1e9
}

/// Builds every client's critical spans from the history.
pub fn spans(history: &History) -> Vec<Span> {
    spans_of(&history.calls())
}

fn spans_of(calls: &[Call]) -> Vec<Span> {
    let mut spans: Vec<Span> = Vec::new();
    // Index into `spans` of each process's current grant.
    let mut open: std::collections::HashMap<Process, usize> = Default::default();
    for call in calls {
        match (call.f, call.result()) {
            (F::Acquire, Some(Value::Granted(g))) if call.outcome() == OpKind::Ok => {
                let done = call.completion.as_ref().expect("ok has completion");
                open.insert(call.process, spans.len());
                spans.push(Span {
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
                });
            }
            (F::Read | F::Write, _) => {
                let Value::Access {
                    fence: Some(fence), ..
                } = call.invoke.value
                else {
                    continue;
                };
                if let Some(&i) = open.get(&call.process) {
                    let span = &mut spans[i];
                    if span.fence == fence && span.release_invoke_ns.is_none() {
                        span.end_ns = call.invoke_ns();
                        span.end_index = call.invoke.index;
                    }
                }
            }
            (F::Release, _) => {
                let Value::Held { fence, .. } = call.invoke.value else {
                    continue;
                };
                if let Some(i) = open.remove(&call.process) {
                    let span = &mut spans[i];
                    if span.fence != fence {
                        continue;
                    }
                    let had_access = span.end_index != span.acquire_index;
                    if !had_access {
                        span.end_ns = call.invoke_ns();
                        span.end_index = call.invoke.index;
                    }
                    span.release_invoke_ns = Some(call.invoke_ns());
                    span.release_result = call.result().cloned();
                    span.release_index = call.completion.as_ref().map(|c| c.index);
                }
            }
            _ => {}
        }
    }
    spans
}

/// Runs the mutual-exclusion checker.
pub fn check(history: &History) -> ExclusionReport {
    let calls = history.calls();
    let spans = spans_of(&calls);
    let mut report = ExclusionReport {
        grants: spans.len(),
        ..Default::default()
    };

    // Overlaps: sweep spans by start; keep the active ones.
    let mut order: Vec<usize> = (0..spans.len()).collect();
    order.sort_by_key(|&i| (spans[i].start_ns, spans[i].end_ns));
    let mut active: Vec<usize> = Vec::new();
    for &i in &order {
        let s = &spans[i];
        active.retain(|&j| spans[j].end_ns > s.start_ns);
        for &j in &active {
            let a = &spans[j];
            if a.process != s.process && s.start_ns < a.end_ns && a.start_ns < s.end_ns {
                report.overlaps.push(Overlap {
                    first: a.clone(),
                    second: s.clone(),
                    overlap_start_ns: s.start_ns.max(a.start_ns),
                    overlap_end_ns: s.end_ns.min(a.end_ns),
                });
            }
        }
        if s.end_ns > s.start_ns {
            active.push(i);
        }
    }

    // Accesses after the client's own validity end.
    let mut current: std::collections::HashMap<Process, (u64, Nanos)> = Default::default();
    for call in &calls {
        match (call.f, call.result()) {
            (F::Acquire, Some(Value::Granted(g))) => {
                current.insert(call.process, (g.fence, g.validity_end_ns));
            }
            // An extension moves the validity end the client computes.
            (F::Extend, Some(Value::Extended { validity_end_ns }))
                if call.outcome() == OpKind::Ok =>
            {
                if let Some(c) = current.get_mut(&call.process) {
                    c.1 = c.1.max(*validity_end_ns);
                }
            }
            (F::Read | F::Write, _) => {
                let Value::Access {
                    fence: Some(fence), ..
                } = call.invoke.value
                else {
                    continue;
                };
                if let Some(&(f, end)) = current.get(&call.process) {
                    if f == fence && call.invoke_ns() > end {
                        report.late_accesses.push(LateAccess {
                            process: call.process,
                            fence,
                            f: call.f,
                            index: call.invoke.index,
                            invoke_ns: call.invoke_ns(),
                            validity_end_ns: end,
                            late_by_ns: call.invoke_ns() - end,
                        });
                    }
                }
            }
            _ => {}
        }
    }

    report.spans = spans;
    report
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
}
