//! Double grants: did the lock service grant a lock while another client's grant surely lived?
//!
//! Mutual exclusion ([`crate::exclusion`]) asks whether two *clients* acted as holders at once —
//! which a paused client does without any fault of the lock. This asks about the *lock*: from
//! each grant's surely-live interval ([`crate::lease`]), two intervals of different clients that
//! overlap mean that at one instant two keys of the same name held two tokens. One node cannot
//! do that (SET NX); so the grants came from different masters (a split brain after a failover),
//! or a node forgot or expired a key early (a restart without persistence, a clock that jumped).
//! A compare-and-delete lock can only ever fail this way; it is what "two masters granted the
//! same key" looks like in the history.

use crate::check::{Check, Evidence, Minimums};
use crate::history::{Call, CallStream, Nanos, Op, Process};
use crate::lease::{Lease, LeaseStream};
use crate::sweep::{Interval, Sweep};
use serde::{Deserialize, Serialize};

use crate::check::CheckKind;

/// This check's registry entry ([`crate::registry`]).
pub const KIND: CheckKind = CheckKind {
    id: "double_grant",
    name: "double grant",
    label: "double grant",
    applies: |s| s.lock,
    not_applicable: "[expect] double_grant needs clients that take the lock: [workload] kind = \"lock\" or \"rmw-counter\"",
    expectable: true,
    advisory: false,
    floors: &["grants"],
    judge: None,
};

/// Two grants whose keys surely lived at the same time.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DoubleGrant {
    pub first: Process,
    pub first_fence: u64,
    pub first_index: u64,
    pub second: Process,
    pub second_fence: u64,
    pub second_index: u64,
    pub overlap_start_ns: Nanos,
    pub overlap_end_ns: Nanos,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DoubleGrantReport {
    pub grants: u64,
    /// The first double grants (all of them in a whole-history check).
    pub double_grants: Vec<DoubleGrant>,
    /// How many there were.
    #[serde(default)]
    pub count: u64,
}

/// Finds every pair of overlapping surely-live intervals of different clients.
/// Runs the double-grant checker over a whole history's calls.
pub fn check(calls: &[Call]) -> DoubleGrantReport {
    // The stream reads calls as they complete (each client's in its own order).
    let mut order: Vec<&Call> = calls.iter().collect();
    order.sort_by_key(|c| (c.complete_ns().is_none(), c.complete_ns(), c.invoke.index));
    let mut d = DoubleGrants::new(usize::MAX);
    for c in order {
        d.call(c, c.complete_ns().unwrap_or(c.invoke_ns()));
    }
    d.finish()
}

/// The double-grant checker one op at a time, in memory bounded by how many grants can overlap
/// one (see [`crate::sweep`]); keeps the first `keep` double grants and counts them all.
pub struct DoubleGrants {
    keep: usize,
    calls: CallStream,
    leases: LeaseStream,
    sweep: Sweep<Lease>,
    grants: u64,
    found: Vec<DoubleGrant>,
    count: u64,
    now_ns: Nanos,
}

impl DoubleGrants {
    pub fn new(keep: usize) -> DoubleGrants {
        DoubleGrants {
            keep,
            calls: CallStream::default(),
            leases: LeaseStream::default(),
            sweep: Sweep::default(),
            grants: 0,
            found: Vec::new(),
            count: 0,
            now_ns: 0,
        }
    }

    /// Reads the next op of the history (validated, in order).
    pub fn push(&mut self, op: &Op) {
        if let Some(call) = self.calls.push(op) {
            self.call(&call, op.time_ns);
        }
    }

    fn call(&mut self, call: &Call, now_ns: Nanos) {
        self.now_ns = self.now_ns.max(now_ns);
        if let Some(l) = self.leases.push(call) {
            self.close(l);
            let horizon = self
                .leases
                .earliest_open_ns()
                .unwrap_or(self.now_ns)
                .min(self.now_ns);
            self.sweep.forget(horizon);
        }
    }

    fn close(&mut self, l: Lease) {
        self.grants += 1;
        // An interval that proves nothing cannot overlap anything.
        if l.end_ns <= l.start_ns {
            return;
        }
        let (found, count) = (&mut self.found, &mut self.count);
        self.sweep.close(l, |a, l| {
            *count += 1;
            found.push(DoubleGrant {
                first: a.process,
                first_fence: a.fence,
                first_index: a.index,
                second: l.process,
                second_fence: l.fence,
                second_index: l.index,
                overlap_start_ns: l.start_ns,
                overlap_end_ns: l.end_ns.min(a.end_ns),
            });
        });
        if self.found.len() >= self.keep.saturating_mul(2).max(64) {
            self.trim();
        }
    }

    fn trim(&mut self) {
        self.found
            .sort_by_key(|d| (d.overlap_start_ns, d.second_index, d.first_index));
        self.found.truncate(self.keep);
    }

    pub fn finish(mut self) -> DoubleGrantReport {
        for call in std::mem::take(&mut self.calls).finish() {
            let now = self.now_ns;
            self.call(&call, now);
        }
        for l in std::mem::take(&mut self.leases).finish() {
            self.close(l);
        }
        self.trim();
        DoubleGrantReport {
            grants: self.grants,
            double_grants: self.found,
            count: self.count,
        }
    }
}

impl Interval for Lease {
    fn bounds(&self) -> (Process, Nanos, Nanos, u64) {
        (self.process, self.start_ns, self.end_ns, self.index)
    }
}

pub fn entry(r: &DoubleGrantReport, min: &Minimums) -> Check {
    let n = r.count;
    let details = r
        .double_grants
        .iter()
        .take(3)
        .map(|d| {
            format!(
                "{} (fence {}, op {}) and {} (fence {}, op {}) both held live grants {:.3}–{:.3} s",
                d.first,
                d.first_fence,
                d.first_index,
                d.second,
                d.second_fence,
                d.second_index,
                d.overlap_start_ns as f64 / 1e9,
                d.overlap_end_ns as f64 / 1e9
            )
        })
        .collect();
    Check::judged(
        &KIND,
        "grants in the history: from a grant's completion to a ttl after its request (or its release), its key surely held its token",
        n,
        vec![Evidence::new("grants", r.grants, min.grants)],
    )
    .headline(format!(
        "{n} pair(s) of grants live at once (the lock granted a key another client's lease still held)"
    ))
    .details(details)
    .first_violation(r.double_grants.iter().map(|d| d.overlap_start_ns).min())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::history::{Grant, History, Op, OpKind, Value, F};

    fn grant(ops: &mut Vec<Op>, c: u32, t0: u64, t1: u64, fence: u64, ttl_ms: u64) {
        let i = ops.len() as u64;
        ops.push(Op {
            index: i,
            time_ns: t0,
            process: Process::Client(c),
            kind: OpKind::Invoke,
            f: F::Acquire,
            value: Value::Lease {
                key: "k".into(),
                ttl_ms,
            },
        });
        ops.push(Op {
            index: i + 1,
            time_ns: t1,
            process: Process::Client(c),
            kind: OpKind::Ok,
            f: F::Acquire,
            value: Value::Granted(Grant {
                fence,
                token: format!("t{fence}"),
                validity_end_ns: t0 + ttl_ms * 1_000_000,
            }),
        });
    }

    fn calls(mut ops: Vec<Op>) -> Vec<Call> {
        ops.sort_by_key(|o| o.time_ns);
        for (i, o) in ops.iter_mut().enumerate() {
            o.index = i as u64;
        }
        History::new(ops).calls()
    }

    const MS: u64 = 1_000_000;

    #[test]
    fn a_grant_after_the_lease_ran_out_is_not_double() {
        let mut ops = Vec::new();
        grant(&mut ops, 0, 0, MS, 1, 100);
        grant(&mut ops, 1, 100 * MS, 101 * MS, 2, 100);
        assert!(check(&calls(ops)).double_grants.is_empty());
    }

    #[test]
    fn a_grant_inside_another_live_lease_is_double() {
        let mut ops = Vec::new();
        grant(&mut ops, 0, 0, MS, 1, 100);
        grant(&mut ops, 1, 40 * MS, 41 * MS, 2, 100);
        let r = check(&calls(ops));
        assert_eq!(r.double_grants.len(), 1);
        assert_eq!(r.double_grants[0].first, Process::Client(0));
        let e = entry(&r, &Minimums::default());
        assert_eq!(e.verdict, crate::Validity::Invalid);
    }

    #[test]
    fn streaming_finds_exactly_the_pairwise_double_grants() {
        for seed in 0..200 {
            // ttl 100 ms against spans of microseconds: short ttls make leases end early.
            let h = crate::fixture::random_history(seed, 1 + (seed % 5) as u32, 10);
            let calls = h.calls();
            let all = crate::lease::leases(&calls);
            let mut want = Vec::new();
            for (i, a) in all.iter().enumerate() {
                for b in &all[i + 1..] {
                    if a.process != b.process
                        && a.end_ns > a.start_ns
                        && b.end_ns > b.start_ns
                        && a.start_ns < b.end_ns
                        && b.start_ns < a.end_ns
                    {
                        want.push((a.index.min(b.index), a.index.max(b.index)));
                    }
                }
            }
            want.sort_unstable();
            let r = check(&calls);
            let mut got: Vec<(u64, u64)> = r
                .double_grants
                .iter()
                .map(|d| {
                    (
                        d.first_index.min(d.second_index),
                        d.first_index.max(d.second_index),
                    )
                })
                .collect();
            got.sort_unstable();
            assert_eq!(got, want, "seed {seed}");
            assert_eq!(r.count as usize, want.len());
            let mut few = DoubleGrants::new(2);
            h.ops.iter().for_each(|op| few.push(op));
            let few = few.finish();
            assert_eq!(few.count, r.count, "seed {seed}");
            assert_eq!(few.grants, r.grants);
        }
    }
}
