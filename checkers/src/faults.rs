//! Faults: did the faults a scenario is named after take effect?
//!
//! A nemesis records a fault's start only once the fault took effect (a link really cut, a
//! process really stopped, a node's `TIME` really skewed), and a failed injection as a `fail`
//! nemesis op. A run whose faults never took effect proves nothing about them, however its other
//! checkers read: this check is `unknown` then, and never `invalid` (a fault that did not happen
//! is missing evidence, not a violation).

use crate::check::{Check, Evidence};
use crate::history::{History, Op, OpKind, Process, Value, F};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

use crate::check::CheckKind;

/// This check's registry entry ([`crate::registry`]).
pub const KIND: CheckKind = CheckKind {
    id: "faults",
    name: "faults took effect",
    label: "faults",
    applies: |s| s.faults,
    not_applicable: "[expect] faults is not an expectation: every fault of a scenario must take effect, or nothing is met ([evidence] faults sets how often)",
    expectable: false,
    advisory: false,
    floors: &["faults"],
    judge: None,
};

/// Injections by fault kind.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FaultReport {
    /// Fault kind → injections that took effect.
    pub took_effect: BTreeMap<String, u64>,
    /// Fault kind → injections that failed.
    pub failed: BTreeMap<String, u64>,
    /// The first few failures, with what the nemesis said.
    pub failures: Vec<String>,
}

pub fn check(history: &History) -> FaultReport {
    let mut r = FaultReport::default();
    history.ops.iter().for_each(|op| r.push(op));
    r
}

impl FaultReport {
    /// Reads one more op of the history.
    pub fn push(&mut self, op: &Op) {
        let r = self;
        if op.process != Process::Nemesis {
            return;
        }
        let (F::Start, Value::Fault(fault)) = (op.f, &op.value) else {
            return;
        };
        if op.kind == OpKind::Fail {
            *r.failed.entry(fault.kind.clone()).or_default() += 1;
            if r.failures.len() < 5 {
                r.failures.push(format!(
                    "{} on {} failed at {:.3} s: {}",
                    fault.kind,
                    fault.target,
                    op.time_ns as f64 / 1e9,
                    fault.detail
                ));
            }
        } else {
            *r.took_effect.entry(fault.kind.clone()).or_default() += 1;
        }
    }
}

/// The report as a list entry: each of `expected` (a fault kind the scenario's nemeses inject,
/// and how many injections of it must have taken effect) must be met.
pub fn entry(r: &FaultReport, expected: &[(String, u64)]) -> Check {
    let evidence: Vec<Evidence> = expected
        .iter()
        .map(|(k, min)| {
            Evidence::new(
                &format!("{k} injections that took effect"),
                r.took_effect.get(k).copied().unwrap_or(0),
                *min,
            )
        })
        .collect();
    let failed: u64 = r.failed.values().sum();
    let took: u64 = r.took_effect.values().sum();
    Check::judged(
        &KIND,
        "the nemesis ops in the history: a start is recorded only once the fault took effect, a failed injection as a failed op",
        0,
        evidence,
    )
    .headline(format!("{took} injection(s) took effect, {failed} failed"))
    .details(r.failures.clone())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::history::{Fault, Op};
    use crate::Validity;

    fn nemesis(index: u64, kind: OpKind, fault: &str) -> Op {
        Op {
            index,
            time_ns: index,
            process: Process::Nemesis,
            kind,
            f: F::Start,
            value: Value::Fault(Fault {
                kind: fault.into(),
                target: "n1".into(),
                id: index,
                detail: "x".into(),
                frozen: None,
                bends: None,
            }),
        }
    }

    #[test]
    fn a_fault_that_never_took_effect_is_unknown_never_invalid() {
        let h = History::new(vec![nemesis(0, OpKind::Fail, "clock")]);
        let clock = ("clock".to_string(), 1);
        let e = entry(&check(&h), std::slice::from_ref(&clock));
        assert_eq!(e.verdict, Validity::Unknown);
        assert_eq!(e.details.len(), 1);
        let h = History::new(vec![nemesis(0, OpKind::Info, "clock")]);
        assert_eq!(
            entry(&check(&h), std::slice::from_ref(&clock)).verdict,
            Validity::Valid
        );
        // Two nemeses: both must have taken effect.
        let e = entry(&check(&h), &[clock, ("cut-links".into(), 1)]);
        assert_eq!(e.verdict, Validity::Unknown);
    }
}
