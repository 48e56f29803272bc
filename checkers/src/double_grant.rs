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
use crate::history::{Call, Nanos, Process};
use crate::lease::{leases, Lease};
use serde::{Deserialize, Serialize};

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
    pub double_grants: Vec<DoubleGrant>,
}

/// Finds every pair of overlapping surely-live intervals of different clients.
pub fn check(calls: &[Call]) -> DoubleGrantReport {
    let mut all: Vec<Lease> = leases(calls);
    let grants = all.len() as u64;
    all.retain(|l| l.end_ns > l.start_ns);
    all.sort_by_key(|l| (l.start_ns, l.end_ns));
    let mut report = DoubleGrantReport {
        grants,
        ..Default::default()
    };
    let mut active: Vec<&Lease> = Vec::new();
    for l in &all {
        active.retain(|a| a.end_ns > l.start_ns);
        for a in &active {
            if a.process != l.process {
                report.double_grants.push(DoubleGrant {
                    first: a.process,
                    first_fence: a.fence,
                    first_index: a.index,
                    second: l.process,
                    second_fence: l.fence,
                    second_index: l.index,
                    overlap_start_ns: l.start_ns,
                    overlap_end_ns: l.end_ns.min(a.end_ns),
                });
            }
        }
        active.push(l);
    }
    report
}

/// The report as a list entry.
pub fn entry(r: &DoubleGrantReport, min: &Minimums) -> Check {
    let n = r.double_grants.len() as u64;
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
        "double_grant",
        "double grant",
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
}
