//! Availability: did the workload keep getting work done?
//!
//! Safety is not the only promise: a lock that refuses every grant is perfectly safe and useless.
//! This checker measures the longest stretch of the run in which no work was acknowledged — no
//! accepted write to the resource, no acknowledged increment, no admitted request — from the
//! first acknowledged piece of work to the end of the history, and calls it a violation when
//! the stretch exceeds what the scenario allows. It judges from completions only: an op the
//! client does not know the fate of (`info`) is not work it can count on.

use crate::check::{Check, Evidence};
use crate::history::{History, Nanos, Op, OpKind, Value, F};
use serde::{Deserialize, Serialize};

use crate::check::CheckKind;

/// This check's registry entry ([`crate::registry`]).
pub const KIND: CheckKind = CheckKind {
    id: "availability",
    name: "availability",
    label: "availability",
    applies: |s| s.availability,
    not_applicable: "[expect] availability needs availability_gap = \"8s\": the longest the workload may go without acknowledged work",
    expectable: true,
    advisory: false,
    floors: &[],
    judge: None,
};

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AvailabilityReport {
    /// Acknowledged pieces of work.
    pub work: u64,
    /// The longest stretch without one, and where it was.
    pub longest_gap_ns: Nanos,
    pub gap_from_ns: Nanos,
    pub gap_to_ns: Nanos,
    /// The most the scenario allows.
    pub max_gap_ns: Nanos,
}

fn is_work(f: F, kind: OpKind, value: &Value) -> bool {
    kind == OpKind::Ok
        && matches!(
            (f, value),
            (F::Write, Value::Accepted { .. }) | (F::Add, _) | (F::Request, Value::Admitted(true))
        )
}

pub fn check(history: &History, max_gap_ns: Nanos) -> AvailabilityReport {
    let mut a = Availability::new(max_gap_ns);
    history.ops.iter().for_each(|op| a.push(op));
    a.finish()
}

/// The availability checker one op at a time (it keeps two times).
pub struct Availability {
    report: AvailabilityReport,
    last_work_ns: Option<Nanos>,
    end_ns: Nanos,
}

impl Availability {
    pub fn new(max_gap_ns: Nanos) -> Availability {
        Availability {
            report: AvailabilityReport {
                max_gap_ns,
                ..Default::default()
            },
            last_work_ns: None,
            end_ns: 0,
        }
    }

    pub fn push(&mut self, op: &Op) {
        self.end_ns = op.time_ns;
        if !is_work(op.f, op.kind, &op.value) {
            return;
        }
        self.gap_to(op.time_ns);
        self.report.work += 1;
        self.last_work_ns = Some(op.time_ns);
    }

    fn gap_to(&mut self, t: Nanos) {
        let r = &mut self.report;
        if let Some(prev) = self.last_work_ns {
            if t - prev > r.longest_gap_ns {
                (r.longest_gap_ns, r.gap_from_ns, r.gap_to_ns) = (t - prev, prev, t);
            }
        }
    }

    /// The report, the history having ended at its last op.
    pub fn finish(mut self) -> AvailabilityReport {
        self.gap_to(self.end_ns);
        self.report
    }
}

pub fn entry(r: &AvailabilityReport) -> Check {
    let violated = r.work > 0 && r.longest_gap_ns > r.max_gap_ns;
    Check::judged(
        &KIND,
        "acknowledged work (accepted writes, acknowledged increments, admitted requests): the longest stretch without any",
        u64::from(violated),
        vec![Evidence::new("acknowledged pieces of work", r.work, 1)],
    )
    .headline(format!(
        "longest stretch without acknowledged work {:.1} s ({:.3}–{:.3} s), allowed {:.1} s",
        r.longest_gap_ns as f64 / 1e9,
        r.gap_from_ns as f64 / 1e9,
        r.gap_to_ns as f64 / 1e9,
        r.max_gap_ns as f64 / 1e9
    ))
    .first_violation(violated.then_some(r.gap_from_ns + r.max_gap_ns))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixture::B;
    use crate::Validity;

    #[test]
    fn the_longest_gap_runs_to_the_end_of_the_history() {
        let mut b = B::default();
        b.acquire(0, 1, 0, 1).access(2, 3, 0, 1, F::Write);
        b.acquire(10, 11, 1, 2).access(12, 13, 1, 2, F::Write);
        b.push(100, 2, OpKind::Invoke, F::Read, Value::None);
        let r = check(&b.history(), 50);
        assert_eq!((r.work, r.longest_gap_ns), (2, 87));
        assert_eq!(entry(&r).verdict, Validity::Invalid);
        assert_eq!(entry(&check(&b.history(), 90)).verdict, Validity::Valid);
        // No work at all: nothing to judge from.
        assert_eq!(
            entry(&check(&History::default(), 90)).verdict,
            Validity::Unknown
        );
    }
}
