//! Fencing: did the resource accept an access out of token order?
//!
//! Walks the resource's own log in the order it applied accesses. An access accepted with a
//! token lower than the highest the resource had already seen is a *fencing violation* (a stale
//! holder touched the data after a newer one). An access the resource rejected for its stale
//! token is a *prevented corruption*: fencing did its job. Reads count as much as writes: fencing
//! the write alone still loses updates in a read-modify-write.

use crate::check::{Check, Evidence, Minimums};
use crate::resource_log::{Access, ResourceLog};
use serde::{Deserialize, Serialize};

use crate::check::CheckKind;

/// This check's registry entry ([`crate::registry`]).
pub const KIND: CheckKind = CheckKind {
    id: "fencing",
    name: "fencing",
    label: "fencing",
    applies: |s| s.resource,
    not_applicable:
        "[expect] fencing judges the protected resource, which only [workload] kind = \"lock\" uses",
    expectable: true,
    advisory: false,
    floors: &["accesses"],
    judge: None,
};

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FencingReport {
    pub fenced: bool,
    pub accesses: usize,
    /// Accepted with a token below the highest seen.
    pub stale_accepted: Vec<Access>,
    /// Rejected for a stale token.
    pub prevented: Vec<Access>,
    /// Accesses without a token (they cannot be ordered).
    pub untokened: usize,
}

impl FencingReport {
    pub fn violated(&self) -> bool {
        !self.stale_accepted.is_empty()
    }
}

/// The report as a list entry (`None`: no resource log was saved, so nothing was judged).
pub fn entry(r: Option<&FencingReport>, min: &Minimums) -> Check {
    let judged_from = "the resource's own access log, in the order it applied accesses";
    let Some(r) = r else {
        return Check::judged(
            &KIND,
            judged_from,
            0,
            vec![Evidence::new("accesses", 0, min.accesses)],
        )
        .headline("no resource log was saved".into())
        .unknown("no resource log: the run ended before it was read");
    };
    let details = r
        .stale_accepted
        .first()
        .map(|a| {
            format!(
                "first: access #{} by {} ({:?}) under fence {} accepted after fence {} had been seen",
                a.seq,
                a.process,
                a.op,
                a.fence.unwrap_or(0),
                a.highest_before
            )
        })
        .into_iter()
        .collect();
    Check::judged(
        &KIND,
        judged_from,
        r.stale_accepted.len() as u64,
        vec![Evidence::new("accesses", r.accesses as u64, min.accesses)],
    )
    .headline(format!(
        "{} stale access(es) accepted, {} rejected by fencing, of {} accesses",
        r.stale_accepted.len(),
        r.prevented.len(),
        r.accesses
    ))
    .details(details)
}

pub fn check(log: &ResourceLog) -> FencingReport {
    let mut report = FencingReport {
        fenced: log.fenced,
        accesses: log.accesses.len(),
        ..Default::default()
    };
    let mut highest = 0u64;
    for a in &log.accesses {
        let Some(fence) = a.fence else {
            report.untokened += 1;
            continue;
        };
        if a.accepted {
            if fence < highest {
                report.stale_accepted.push(a.clone());
            }
            highest = highest.max(fence);
        } else {
            report.prevented.push(a.clone());
        }
    }
    report
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::history::Process;
    use crate::resource_log::AccessOp;

    fn access(seq: u64, c: u32, op: AccessOp, fence: u64, accepted: bool) -> Access {
        Access {
            seq,
            process: Process::Client(c),
            op,
            fence: Some(fence),
            accepted,
            value: 0,
            highest_before: 0,
            server_time_us: 0,
        }
    }

    #[test]
    fn in_order_accesses_are_clean() {
        let log = ResourceLog {
            fenced: true,
            accesses: vec![
                access(1, 0, AccessOp::Read, 1, true),
                access(2, 0, AccessOp::Write, 1, true),
                access(3, 1, AccessOp::Read, 2, true),
                access(4, 1, AccessOp::Write, 2, true),
            ],
            final_value: Some(2),
        };
        let r = check(&log);
        assert!(!r.violated());
        assert!(r.prevented.is_empty());
    }

    #[test]
    fn stale_write_accepted_is_a_violation_and_rejected_is_prevented() {
        let accesses = vec![
            access(1, 0, AccessOp::Read, 1, true),
            access(2, 1, AccessOp::Read, 2, true),
            access(3, 0, AccessOp::Write, 1, true),
        ];
        let unfenced = check(&ResourceLog {
            fenced: false,
            accesses: accesses.clone(),
            final_value: None,
        });
        assert_eq!(unfenced.stale_accepted.len(), 1);
        assert_eq!(unfenced.stale_accepted[0].seq, 3);

        let mut fenced_log = accesses;
        fenced_log[2].accepted = false;
        let fenced = check(&ResourceLog {
            fenced: true,
            accesses: fenced_log,
            final_value: None,
        });
        assert!(!fenced.violated());
        assert_eq!(fenced.prevented.len(), 1);
    }
}
