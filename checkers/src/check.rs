//! One entry per checker, in one shape: what every report, expectation and suite loops over.
//!
//! Each checker keeps its own typed report (the charts and the violation tables need its
//! details), and states its conclusion as a [`Check`]: its id (the name a scenario's `[expect]`
//! uses), its verdict, what it judged from (evidence, counted, with the minimum it needed), a
//! headline, detail lines and how many violations it found. Adding a checker means adding an
//! entry to the list; nothing downstream names it.
//!
//! No verdict without evidence: a checker that found no violation says `valid` only when it saw
//! enough of what it judges (grants, accesses, admitted *and* rejected requests…); below the
//! minimum it says `unknown`. A violation found is a violation whatever the amount of evidence.

use crate::history::Nanos;
use crate::verdict::Validity;
use serde::{Deserialize, Serialize};

/// What a run is, as far as which checks apply: computed from the scenario by the harness.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Shape {
    /// Clients take a lock.
    pub lock: bool,
    /// The lock is released by a plain `DEL` (it can delete another client's key).
    pub release_by_del: bool,
    /// Clients access the protected resource.
    pub resource: bool,
    /// Clients count (`INCR`, or a lock-guarded read-modify-write).
    pub counter: bool,
    /// Clients ask a rate limiter.
    pub limiter: bool,
    /// Producers publish and receivers receive.
    pub messaging: bool,
    /// The scenario states the longest stretch without acknowledged work it allows.
    pub availability: bool,
    /// The lock nodes' own record is read (taps on nodes fencepost starts, not behind Sentinel).
    pub nodes_record: bool,
    /// The scenario injects faults.
    pub faults: bool,
}

/// One check's registry entry.
#[derive(Debug)]
pub struct CheckKind {
    /// Stable id: `[expect]` keys, results.json and tallies.
    pub id: &'static str,
    /// For people.
    pub name: &'static str,
    /// A short name, for table columns and tallies.
    pub label: &'static str,
    /// Whether it applies to a run of this shape.
    pub applies: fn(&Shape) -> bool,
    /// Why an expectation of it cannot apply, and the fix.
    pub not_applicable: &'static str,
    /// A scenario may state an expectation of it (`[expect] id = "holds" | "violated"`).
    pub expectable: bool,
    /// Shown, but not merged into the run's verdict.
    pub advisory: bool,
    /// The [`crate::Minimums`] fields it needs before it may say `valid`.
    pub floors: &'static [&'static str],
    /// For a check that reads the whole history and is wired by its registry line alone: how
    /// it judges ([`crate::run`] calls it when its `applies` holds for the run's shape; a
    /// history too long to keep gets an `unknown` entry instead). `None` for the checks
    /// [`crate::run`] wires itself (streamed folds, the resource's log).
    pub judge: Option<fn(&Judging) -> Check>,
}

/// What a whole-history check judges from.
pub struct Judging<'a> {
    /// Every client call, invocation paired with completion, in invocation order.
    pub calls: &'a [crate::history::Call],
    pub history: &'a crate::history::History,
    /// The protected resource's own log, when the run used it.
    pub resource: Option<&'a crate::resource_log::ResourceLog>,
    /// The lock nodes' own record, when the run read it.
    pub nodes: Option<&'a crate::node_record::NodesRecord>,
    /// The fault windows of the whole history, to attribute findings to faults.
    pub windows: &'a [crate::history::FaultWindow],
    pub minimums: &'a Minimums,
}

/// What a checker judged from, counted, and how much it needed to say `valid`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Evidence {
    /// Plural noun: `grants`, `accesses`, `admitted requests`.
    pub what: String,
    pub count: u64,
    /// The least it needed to conclude `valid` (0: no minimum).
    pub min: u64,
}

impl Evidence {
    pub fn new(what: &str, count: u64, min: u64) -> Evidence {
        Evidence {
            what: what.to_string(),
            count,
            min,
        }
    }

    pub fn enough(&self) -> bool {
        self.count >= self.min
    }
}

/// One checker's conclusion.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Check {
    /// Stable id, as a scenario's `[expect]` names it: `mutual_exclusion`, `fencing`, …
    pub id: String,
    /// For people: "mutual exclusion".
    pub name: String,
    /// What it looked at, in words.
    pub judged_from: String,
    pub verdict: Validity,
    pub evidence: Vec<Evidence>,
    /// One line: what it found.
    pub headline: String,
    /// The first few violations or notes, one line each.
    pub details: Vec<String>,
    /// How many violations it found (what the suite tallies).
    pub violations: u64,
    /// The earliest violation, on the history's clock.
    pub first_violation_ns: Option<Nanos>,
    /// Shown, but not merged into the run's overall verdict.
    #[serde(default)]
    pub advisory: bool,
}

impl Check {
    /// Check `kind`'s conclusion with the verdict the evidence allows: invalid with a
    /// violation, unknown without one when some evidence is below its minimum, valid otherwise.
    /// Its id, name and whether it is advisory come from its registry entry.
    pub fn judged(
        kind: &CheckKind,
        judged_from: &str,
        violations: u64,
        evidence: Vec<Evidence>,
    ) -> Check {
        let verdict = if violations > 0 {
            Validity::Invalid
        } else if evidence.iter().all(Evidence::enough) {
            Validity::Valid
        } else {
            Validity::Unknown
        };
        Check {
            id: kind.id.to_string(),
            name: kind.name.to_string(),
            judged_from: judged_from.to_string(),
            verdict,
            evidence,
            headline: String::new(),
            details: Vec::new(),
            violations,
            first_violation_ns: None,
            advisory: kind.advisory,
        }
    }

    /// A name that says more than the registry's (the rate window's limit and window).
    pub fn named(mut self, name: String) -> Check {
        self.name = name;
        self
    }

    pub fn headline(mut self, headline: String) -> Check {
        self.headline = headline;
        self
    }

    pub fn details(mut self, details: Vec<String>) -> Check {
        self.details = details;
        self
    }

    pub fn first_violation(mut self, t: Option<Nanos>) -> Check {
        self.first_violation_ns = t;
        self
    }

    /// Forces `unknown` (a checker that could not run on what it was given), keeping the rest.
    pub fn unknown(mut self, why: &str) -> Check {
        if self.verdict != Validity::Invalid {
            self.verdict = Validity::Unknown;
        }
        self.details.insert(0, why.to_string());
        self
    }

    /// The evidence, in words: "312 grants (≥ 50)".
    pub fn evidence_line(&self) -> String {
        self.evidence
            .iter()
            .map(|e| {
                if e.min > 0 {
                    format!(
                        "{} {} (needs ≥ {}{})",
                        e.count,
                        e.what,
                        e.min,
                        if e.enough() { "" } else { ": too little" }
                    )
                } else {
                    format!("{} {}", e.count, e.what)
                }
            })
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// The least evidence each checker needs to say `valid`. Scenarios may lower or raise them
/// (`[evidence]`); these defaults mean "the run did the work": 50 grants, accesses, writes or
/// increments, and a limiter that both admitted more than its limit and rejected something.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Minimums {
    pub grants: u64,
    pub accesses: u64,
    pub writes: u64,
    pub releases: u64,
    pub adds: u64,
    /// Admitted requests; `None` = the limit + 1 (fewer cannot exceed it).
    pub admitted: Option<u64>,
    pub rejected: u64,
    /// Injections that took effect, per nemesis of the scenario.
    pub faults: u64,
    /// Messaging: acknowledged publishes, and receipts.
    pub messages: u64,
}

impl Default for Minimums {
    fn default() -> Self {
        Minimums {
            grants: 50,
            accesses: 50,
            writes: 50,
            releases: 50,
            adds: 50,
            admitted: None,
            rejected: 1,
            faults: 1,
            messages: 100,
        }
    }
}

/// "3 violation(s)" / "none".
pub fn count_words(n: u64, what: &str) -> String {
    format!("{n} {what}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verdict_follows_violations_then_evidence() {
        let enough = vec![Evidence::new("grants", 60, 50)];
        let short = vec![Evidence::new("grants", 10, 50)];
        let none = vec![Evidence::new("grants", 0, 50)];
        assert_eq!(
            Check::judged(&crate::counter::KIND, "", 0, enough).verdict,
            Validity::Valid
        );
        assert_eq!(
            Check::judged(&crate::counter::KIND, "", 0, short.clone()).verdict,
            Validity::Unknown
        );
        assert_eq!(
            Check::judged(&crate::counter::KIND, "", 0, none).verdict,
            Validity::Unknown
        );
        assert_eq!(
            Check::judged(&crate::counter::KIND, "", 2, short).verdict,
            Validity::Invalid
        );
    }
}
