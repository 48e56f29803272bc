//! Lost updates: the corrupted data Kleppmann warns about, measured end to end.
//!
//! Every critical section reads the resource's counter and writes it back incremented, so with
//! mutual exclusion each accepted write advances the counter by exactly one. Walking the resource
//! log in application order, a write that does not raise the counter above its current value
//! overwrote somebody's increment: that increment is lost. The count is cross-checked against the
//! final value: lost = accepted writes − final counter.

use crate::check::{Check, Evidence, Minimums};
use crate::resource_log::{Access, AccessOp, ResourceLog};
use serde::{Deserialize, Serialize};

use crate::check::CheckKind;

/// This check's registry entry ([`crate::registry`]).
pub const KIND: CheckKind = CheckKind {
    id: "lost_updates",
    name: "lost updates",
    label: "lost updates",
    applies: |s| s.resource,
    not_applicable: "[expect] lost_updates judges the protected resource, which only [workload] kind = \"lock\" uses",
    expectable: true,
    advisory: false,
    floors: &["writes"],
    judge: None,
};

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LostUpdateReport {
    /// Writes the resource accepted (completed critical sections, as the resource saw them).
    pub accepted_writes: u64,
    /// The counter when the run ended.
    pub final_value: Option<i64>,
    /// accepted writes − final value (None without a final value).
    pub lost: Option<u64>,
    /// Writes that did not advance the counter, with the value they overwrote.
    pub overwrites: Vec<Overwrite>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Overwrite {
    pub write: Access,
    /// Counter value just before this write landed.
    pub overwritten: i64,
}

impl LostUpdateReport {
    pub fn violated(&self) -> bool {
        self.lost.is_some_and(|l| l > 0) || !self.overwrites.is_empty()
    }
}

/// The report as a list entry (`None`: no resource log was saved).
pub fn entry(r: Option<&LostUpdateReport>, min: &Minimums) -> Check {
    let judged_from = "the resource's counter against the writes it accepted";
    let Some(r) = r else {
        return Check::judged(
            &KIND,
            judged_from,
            0,
            vec![Evidence::new("accepted writes", 0, min.writes)],
        )
        .headline("no resource log was saved".into())
        .unknown("no resource log: the run ended before it was read");
    };
    let lost = r
        .lost
        .filter(|&l| l > 0)
        .unwrap_or(r.overwrites.len() as u64);
    let check = Check::judged(
        &KIND,
        judged_from,
        lost,
        vec![Evidence::new(
            "accepted writes",
            r.accepted_writes,
            min.writes,
        )],
    )
    .headline(format!(
        "{} write(s) accepted, final counter {}, {} increment(s) lost",
        r.accepted_writes,
        r.final_value.map_or("unknown".into(), |v| v.to_string()),
        r.lost.map_or("unknown".into(), |v| v.to_string())
    ));
    if r.final_value.is_none() {
        check.unknown("the resource's final counter was not read")
    } else {
        check
    }
}

pub fn check(log: &ResourceLog) -> LostUpdateReport {
    let mut report = LostUpdateReport {
        final_value: log.final_value,
        ..Default::default()
    };
    let mut current = 0i64;
    for a in log
        .accesses
        .iter()
        .filter(|a| a.accepted && a.op == AccessOp::Write)
    {
        report.accepted_writes += 1;
        if a.value <= current {
            report.overwrites.push(Overwrite {
                write: a.clone(),
                overwritten: current,
            });
        }
        current = a.value;
    }
    report.lost = log
        .final_value
        .map(|v| report.accepted_writes.saturating_sub(v.max(0) as u64));
    report
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::history::Process;

    fn write(seq: u64, c: u32, value: i64) -> Access {
        Access {
            seq,
            process: Process::Client(c),
            op: AccessOp::Write,
            fence: Some(seq),
            accepted: true,
            value,
            highest_before: 0,
            server_time_us: 0,
        }
    }

    #[test]
    fn increments_in_order_lose_nothing() {
        let log = ResourceLog {
            fenced: false,
            accesses: vec![write(1, 0, 1), write(2, 1, 2)],
            final_value: Some(2),
        };
        let r = check(&log);
        assert_eq!(r.lost, Some(0));
        assert!(!r.violated());
    }

    #[test]
    fn overlapping_increments_lose_one() {
        // Both read 0; both write 1.
        let log = ResourceLog {
            fenced: false,
            accesses: vec![write(1, 0, 1), write(2, 1, 1)],
            final_value: Some(1),
        };
        let r = check(&log);
        assert_eq!(r.lost, Some(1));
        assert_eq!(r.overwrites.len(), 1);
        assert_eq!(r.overwrites[0].write.process, Process::Client(1));
    }
}
