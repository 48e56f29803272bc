//! Judging a run against what its scenario expects, one check at a time.
//!
//! An unsafe scenario expects a violation (it reproduces a failure); a safe twin expects none.
//! Each expectation names a check of the run's list ([`checkers::Check`]) and is judged from its
//! verdict: a violation found meets "violated"; "holds" needs the check to be `valid`, which a
//! checker only says with enough evidence. Nothing is met on a run that cannot show it: when the
//! scenario's faults never took effect, or when an interrupted run found no violation, the
//! outcome is `unknown`. A scenario's known finding turns the outcome it names amber (known)
//! instead of red; a run that no longer shows it is a change.

use super::protocol::ProtocolReport;
use crate::scenario::expect::{Expectation, KnownFinding};
use crate::scenario::Scenario;
use checkers::run::RunChecks;
use checkers::{Check, Validity};
use serde::{Deserialize, Serialize};

/// How one expectation, or a whole run, came out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Outcome {
    /// As expected.
    Met,
    /// Not as expected, but exactly the scenario's known finding.
    Known,
    /// Not as expected (or a known finding that no longer reproduces).
    NotMet,
    /// The run cannot tell: too little evidence, faults that never took effect, a partial run.
    Unknown,
}

impl Outcome {
    /// 0 met or known, 1 not met, 3 unknown.
    pub fn exit_code(self) -> i32 {
        match self {
            Outcome::Met | Outcome::Known => 0,
            Outcome::NotMet => 1,
            Outcome::Unknown => 3,
        }
    }

    pub fn mark(self) -> &'static str {
        match self {
            Outcome::Met => "✔",
            Outcome::Known => "◐",
            Outcome::NotMet => "✘",
            Outcome::Unknown => "?",
        }
    }

    /// How a set of outcomes merges: any change is not met; else any unknown is unknown; else
    /// known if any was, met otherwise.
    pub fn merge(outcomes: impl IntoIterator<Item = Outcome>) -> Outcome {
        let all: Vec<Outcome> = outcomes.into_iter().collect();
        if all.is_empty() || all.contains(&Outcome::NotMet) {
            Outcome::NotMet
        } else if all.contains(&Outcome::Unknown) {
            Outcome::Unknown
        } else if all.contains(&Outcome::Known) {
            Outcome::Known
        } else {
            Outcome::Met
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Judgement {
    /// The check judged (`mutual_exclusion`, …).
    #[serde(default)]
    pub check: String,
    /// What was expected, in words.
    pub what: String,
    pub expected: String,
    pub actual: String,
    pub outcome: Outcome,
    /// The scenario's known finding for this check, if it has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub known: Option<String>,
}

impl Judgement {
    pub fn met(&self) -> bool {
        matches!(self.outcome, Outcome::Met | Outcome::Known)
    }
}

/// Why nothing can be met on this run, if so: its faults never took effect, or its client
/// adapter broke the protocol past the bound (the run judged the adapter, not the library).
fn cannot_show(checks: &RunChecks, protocol: Option<&ProtocolReport>) -> Option<String> {
    let faults = checks
        .get("faults")
        .filter(|f| f.verdict == Validity::Unknown)
        .map(|f| {
            format!(
                "the scenario's faults did not take effect ({})",
                f.evidence_line()
            )
        });
    faults.or_else(|| {
        protocol
            .filter(|p| p.past_bound)
            .map(|p| format!("the client adapter broke the protocol: {}", p.line()))
    })
}

fn property(
    check: Option<&Check>,
    id: &str,
    expected: Expectation,
    known: Option<&KnownFinding>,
    blocked: Option<&str>,
) -> Judgement {
    let what = check.map_or_else(
        || checkers::registry::name(id).to_string(),
        |c| c.name.clone(),
    );
    let (seen, actual) = match check {
        None => (None, "not judged (the check did not run)".to_string()),
        Some(c) => match c.verdict {
            Validity::Invalid => (
                Some(Expectation::Violated),
                format!("violated, {} violation(s)", c.violations),
            ),
            Validity::Valid => (
                Some(Expectation::Holds),
                format!("holds, from {}", c.evidence_line()),
            ),
            Validity::Unknown => (
                None,
                format!(
                    "unknown ({})",
                    c.details
                        .first()
                        .cloned()
                        .unwrap_or_else(|| c.evidence_line())
                ),
            ),
        },
    };
    // A "holds" on a run whose faults never happened proves nothing; so does a violation
    // found without them.
    let (seen, actual) = match blocked {
        Some(why) => (None, format!("unknown: {why}; the checker said {actual}")),
        None => (seen, actual),
    };
    let outcome = match (seen, known) {
        (None, _) => Outcome::Unknown,
        (Some(s), Some(k)) if s == k.outcome => Outcome::Known,
        (Some(s), Some(_)) if s == expected => Outcome::NotMet,
        (Some(s), _) if s == expected => Outcome::Met,
        (Some(_), _) => Outcome::NotMet,
    };
    let actual = match (outcome, known) {
        (Outcome::NotMet, Some(k)) if seen == Some(expected) => format!(
            "{actual} — the known finding ({}) no longer reproduces: update the scenario",
            k.outcome.word()
        ),
        _ => actual,
    };
    Judgement {
        check: id.to_string(),
        what,
        expected: match expected {
            Expectation::Holds => "holds (0 violations)".into(),
            Expectation::Violated => "violated (≥ 1 violation)".into(),
        },
        actual,
        outcome,
        known: known.map(|k| format!("{}: {}", k.outcome.word(), k.why)),
    }
}

fn minimum(
    what: &str,
    check: &str,
    min: u64,
    got: Option<u64>,
    blocked: Option<&str>,
) -> Judgement {
    let (outcome, actual) = match (got, blocked) {
        (_, Some(why)) => (Outcome::Unknown, format!("unknown: {why}")),
        (None, None) => (Outcome::Unknown, "unknown (not judged)".into()),
        (Some(g), None) if g >= min => (Outcome::Met, g.to_string()),
        (Some(g), None) => (Outcome::NotMet, g.to_string()),
    };
    Judgement {
        check: check.to_string(),
        what: what.to_string(),
        expected: format!("≥ {min}"),
        actual,
        outcome,
        known: None,
    }
}

/// Every expectation of `scenario` against the run's checks. `interrupted`: the run stopped
/// early, so a check that found nothing has judged a partial history.
pub fn judge(
    scenario: &Scenario,
    checks: &RunChecks,
    interrupted: bool,
    protocol: Option<&ProtocolReport>,
) -> Vec<Judgement> {
    let faults = cannot_show(checks, protocol);
    let mut out = Vec::new();
    for (id, expected) in scenario.expect.properties() {
        let check = checks.get(id);
        let partial = interrupted && check.is_some_and(|c| c.verdict != Validity::Invalid);
        let blocked = faults.clone().or_else(|| {
            partial.then(|| "the run was interrupted: the history is partial".to_string())
        });
        let known = scenario.known_finding.iter().find(|k| k.check == id);
        out.push(property(check, id, expected, known, blocked.as_deref()));
    }
    let e = &scenario.expect;
    if let Some(min) = e.prevented_min {
        let got = checks
            .get("fencing")
            .filter(|c| c.verdict != Validity::Unknown)
            .and(checks.fencing.as_ref())
            .map(|f| f.prevented.len() as u64);
        out.push(minimum(
            "stale accesses prevented by fencing",
            "fencing",
            min,
            got,
            faults.as_deref(),
        ));
    }
    if let Some(min) = e.indeterminate_min {
        out.push(minimum(
            "ops ended info (indeterminate)",
            "faults",
            min,
            Some(checks.counts.info),
            faults.as_deref(),
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(verdict: Validity) -> Check {
        let mut c = Check::judged(&checkers::exclusion::KIND, "", 0, Vec::new());
        c.verdict = verdict;
        c
    }

    fn finding(outcome: Expectation) -> KnownFinding {
        KnownFinding {
            check: "mutual_exclusion".into(),
            outcome,
            why: "because".into(),
        }
    }

    #[test]
    fn outcomes_follow_the_verdict_the_known_finding_and_the_evidence() {
        use Expectation::*;
        let c = |v| check(v);
        let cases = [
            (Validity::Valid, Holds, None, None, Outcome::Met),
            (Validity::Invalid, Holds, None, None, Outcome::NotMet),
            (Validity::Unknown, Holds, None, None, Outcome::Unknown),
            (Validity::Invalid, Violated, None, None, Outcome::Met),
            (Validity::Valid, Violated, None, None, Outcome::NotMet),
            (
                Validity::Invalid,
                Holds,
                Some(finding(Violated)),
                None,
                Outcome::Known,
            ),
            // The known finding stopped reproducing: a change.
            (
                Validity::Valid,
                Holds,
                Some(finding(Violated)),
                None,
                Outcome::NotMet,
            ),
            (
                Validity::Invalid,
                Violated,
                None,
                Some("faults"),
                Outcome::Unknown,
            ),
        ];
        for (v, expected, known, blocked, want) in cases {
            let j = property(
                Some(&c(v)),
                "mutual_exclusion",
                expected,
                known.as_ref(),
                blocked,
            );
            assert_eq!(j.outcome, want, "{v:?} {expected:?} {:?}", j.actual);
        }
        assert_eq!(
            Outcome::merge([Outcome::Met, Outcome::Known]),
            Outcome::Known
        );
        assert_eq!(
            Outcome::merge([Outcome::Unknown, Outcome::Met]),
            Outcome::Unknown
        );
        assert_eq!(
            Outcome::merge([Outcome::Unknown, Outcome::NotMet]),
            Outcome::NotMet
        );
        assert_eq!(Outcome::merge([]), Outcome::NotMet);
    }
}
