//! Judging a run against the expectations its scenario states.
//!
//! An unsafe scenario expects a violation (it reproduces a failure); a safe twin expects none. A
//! checker that could not decide (`unknown`) meets neither expectation: a run that proves
//! nothing must not pass as if it proved something.

use crate::scenario::{Expect, Expectation};
use checkers::run::RunChecks;
use checkers::Validity;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Judgement {
    /// What was expected, in words.
    pub what: String,
    pub expected: String,
    pub actual: String,
    pub met: bool,
}

fn judge_property(
    what: &str,
    expected: Expectation,
    validity: Validity,
    count: usize,
) -> Judgement {
    let met = match (expected, validity) {
        (_, Validity::Unknown) => false,
        (Expectation::Holds, v) => v == Validity::Valid,
        (Expectation::Violated, v) => v == Validity::Invalid,
    };
    Judgement {
        what: what.to_string(),
        expected: match expected {
            Expectation::Holds => "holds (0 violations)".into(),
            Expectation::Violated => "violated (≥ 1 violation)".into(),
        },
        actual: match validity {
            Validity::Unknown => "unknown (not enough evidence)".into(),
            _ => format!("{validity}, {count} violation(s)"),
        },
        met,
    }
}

pub fn judge(expect: &Expect, checks: &RunChecks) -> Vec<Judgement> {
    let mut out = Vec::new();
    if let Some(e) = expect.mutual_exclusion {
        let n = checks.exclusion.overlaps.len() + checks.exclusion.foreign_releases.len();
        out.push(judge_property(
            "mutual exclusion",
            e,
            checks.exclusion_validity,
            n,
        ));
    }
    if let Some(e) = expect.fencing {
        let n = checks
            .fencing
            .as_ref()
            .map_or(0, |f| f.stale_accepted.len());
        out.push(judge_property(
            "fencing (stale accesses accepted)",
            e,
            checks.fencing_validity,
            n,
        ));
    }
    if let Some(e) = expect.lost_updates {
        let n = checks
            .lost_updates
            .as_ref()
            .and_then(|l| l.lost)
            .unwrap_or(0) as usize;
        out.push(judge_property(
            "lost updates",
            e,
            checks.lost_updates_validity,
            n,
        ));
    }
    if let Some(min) = expect.prevented_min {
        let got = checks.fencing.as_ref().map(|f| f.prevented.len() as u64);
        out.push(Judgement {
            what: "stale accesses prevented by fencing".into(),
            expected: format!("≥ {min}"),
            actual: got.map_or("unknown (no resource log)".into(), |g| g.to_string()),
            met: got.is_some_and(|g| g >= min),
        });
    }
    if let Some(e) = expect.counter {
        let n = checks.counter.as_ref().map_or(0, |c| c.anomalies.len());
        out.push(judge_property(
            "counter (lost or duplicated increments)",
            e,
            checks.counter_validity,
            n,
        ));
    }
    if let Some(e) = expect.rate_window {
        let n = checks
            .window
            .as_ref()
            .map_or(0, |w| w.over_admissions_total as usize);
        out.push(judge_property(
            "rate window (over-admission)",
            e,
            checks.window_validity,
            n,
        ));
    }
    if let Some(min) = expect.indeterminate_min {
        let got = checks.counts.info;
        out.push(Judgement {
            what: "ops ended info (indeterminate)".into(),
            expected: format!("≥ {min}"),
            actual: got.to_string(),
            met: got >= min,
        });
    }
    out
}
