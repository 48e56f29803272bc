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
//! A release that took effect after a later grant had been issued deleted someone else's lock
//! (what the `naive` DEL release does); it is reported with the likely victim.

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

/// A release that deleted a lock granted to another client.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ForeignRelease {
    pub process: Process,
    pub fence: u64,
    /// History index of the release's invocation.
    pub index: u64,
    pub invoke_ns: Nanos,
    /// The holder whose lock was deleted, when the history says who held it.
    pub victim: Option<Process>,
    pub victim_fence: Option<u64>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExclusionReport {
    pub grants: usize,
    /// Every critical span (not stored in results: charts rebuild them from the history).
    #[serde(skip)]
    pub spans: Vec<Span>,
    pub overlaps: Vec<Overlap>,
    pub late_accesses: Vec<LateAccess>,
    pub foreign_releases: Vec<ForeignRelease>,
}

impl ExclusionReport {
    pub fn violated(&self) -> bool {
        !self.overlaps.is_empty() || !self.foreign_releases.is_empty()
    }
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

    // Releases that took effect after a later grant: they deleted another client's key.
    for span in &spans {
        if span.release_result != Some(Value::Released) {
            continue;
        }
        let release_ns = span.release_invoke_ns.expect("released span has a release");
        let later: Vec<&Span> = spans
            .iter()
            .filter(|o| {
                o.fence > span.fence && o.start_ns < release_ns && o.process != span.process
            })
            .collect();
        if later.is_empty() {
            continue;
        }
        // The victim: the latest such grant still unreleased when this release was invoked.
        let victim = later
            .iter()
            .filter(|o| o.release_invoke_ns.is_none_or(|r| r > release_ns))
            .max_by_key(|o| o.fence);
        let index = calls
            .iter()
            .find(|c| c.f == F::Release && c.process == span.process && c.invoke_ns() == release_ns)
            .map_or(span.end_index, |c| c.invoke.index);
        report.foreign_releases.push(ForeignRelease {
            process: span.process,
            fence: span.fence,
            index,
            invoke_ns: release_ns,
            victim: victim.map(|v| v.process),
            victim_fence: victim.map(|v| v.fence),
        });
    }
    report.spans = spans;
    report
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::history::{Grant, Op};

    /// Builds histories op by op with increasing indexes.
    #[derive(Default)]
    struct B {
        ops: Vec<Op>,
    }

    impl B {
        fn push(&mut self, t: u64, c: u32, kind: OpKind, f: F, value: Value) -> &mut Self {
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
        fn acquire(&mut self, t0: u64, t1: u64, c: u32, fence: u64) -> &mut Self {
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
        fn access(&mut self, t0: u64, t1: u64, c: u32, fence: u64, f: F) -> &mut Self {
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
        fn release(&mut self, t0: u64, t1: u64, c: u32, fence: u64, result: Value) -> &mut Self {
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
        fn history(&self) -> History {
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
    fn refused_release_is_not_a_foreign_release() {
        let mut b = B::default();
        b.acquire(0, 5, 0, 1).access(6, 8, 0, 1, F::Write);
        b.acquire(150, 155, 1, 2).access(156, 158, 1, 2, F::Write);
        b.release(200, 201, 0, 1, Value::NotHeld);
        let r = check(&b.history());
        assert!(r.foreign_releases.is_empty());
        assert!(!r.violated());
    }

    #[test]
    fn naive_release_of_another_clients_lock_is_named() {
        // Client 0's lease expired; client 1 holds fence 2; client 0's DEL returns 1.
        let mut b = B::default();
        b.acquire(0, 5, 0, 1).access(6, 8, 0, 1, F::Write);
        b.acquire(150, 155, 1, 2).access(156, 158, 1, 2, F::Read);
        b.release(200, 201, 0, 1, Value::Released);
        b.access(210, 212, 1, 2, F::Write)
            .release(213, 214, 1, 2, Value::NotHeld);
        let r = check(&b.history());
        assert_eq!(r.foreign_releases.len(), 1);
        let fr = &r.foreign_releases[0];
        assert_eq!(fr.process, Process::Client(0));
        assert_eq!(fr.victim, Some(Process::Client(1)));
        assert_eq!(fr.victim_fence, Some(2));
        assert!(r.violated());
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
