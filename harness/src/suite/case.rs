//! One case of a suite or a matrix — a scenario × seed (× client) as a child process ran it:
//! what it showed, in the shape the reports and the tallies read.

use crate::judge::Outcome;
use crate::judge::RunResult;
use crate::report::timeline;
use checkers::Validity;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::Path;

/// Violations of one run (or a tally), by check id.
pub type Violations = BTreeMap<String, u64>;

/// One scenario × seed.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Case {
    pub scenario: String,
    pub seed: u64,
    pub lock: String,
    pub fenced: bool,
    pub faults: Vec<String>,
    pub ops: u64,
    /// Grants the run's clients received.
    #[serde(default)]
    pub grants: u64,
    /// Violations by check id, for every check that ran.
    pub violations: Violations,
    pub validity: Option<Validity>,
    /// What the scenario expects, one line per property.
    pub expected: Vec<String>,
    /// Expectations not met or not judgeable, with what was found.
    pub unmet: Vec<String>,
    /// Known findings this case reproduced.
    #[serde(default)]
    pub known: Vec<String>,
    /// `None` when the run could not be run.
    pub outcome: Option<Outcome>,
    pub first_violation_ms: Option<f64>,
    /// The run folder, relative to the results folder.
    pub run_dir: Option<String>,
    /// Charts of the run, relative to the results folder.
    pub charts: Vec<String>,
    pub wall_ms: u64,
    /// The run could not be run or judged.
    pub error: Option<String>,
    /// The run's summary (Markdown).
    pub summary: String,
    /// The client library the run drove (`redis-py 8.1.0`), if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client: Option<String>,
    /// The first detail of each check that found a violation (the library's findings first).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub findings: Vec<(String, String)>,
    /// The library's findings (blame's answers no correct lock may give), by kind.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub library_findings: BTreeMap<String, u64>,
    /// The run was stopped by a signal (the suite's Ctrl-C): what it judged is partial.
    #[serde(default)]
    pub interrupted: bool,
    /// Not run: the server of this case cannot run its scenario (why). Neither passed nor
    /// failed; the reports say so.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub not_on_server: Option<String>,
}

impl Case {
    /// A judged run.
    pub fn of(r: &RunResult, seed: u64, wall_ms: u64, results: &Path) -> Case {
        let run_dir = Path::new(&r.run_dir);
        let rel = run_dir
            .strip_prefix(results)
            .unwrap_or(run_dir)
            .display()
            .to_string();
        let charts = [timeline::FULL, timeline::ZOOM]
            .iter()
            .map(|s| format!("{s}.png"))
            .filter(|f| run_dir.join(f).exists())
            .map(|f| format!("{rel}/{f}"))
            .collect();
        // An interrupted run proves nothing either way: unknown, and marked interrupted.
        let outcome = if r.interrupted {
            Outcome::Unknown
        } else {
            r.outcome
        };
        Case {
            scenario: r.meta.scenario.clone(),
            seed,
            lock: r.lock.clone(),
            fenced: r.fenced,
            faults: r.faults.clone(),
            ops: r.checks.counts.invocations,
            grants: r.checks.counts.grants,
            violations: r
                .checks
                .checks
                .iter()
                .filter(|c| !c.advisory)
                .map(|c| (c.id.clone(), c.violations))
                .collect(),
            validity: Some(r.checks.validity),
            expected: r.expectations.iter().map(expected_of).collect(),
            unmet: r
                .expectations
                .iter()
                .filter(|j| matches!(j.outcome, Outcome::NotMet | Outcome::Unknown))
                .map(|j| format!("{}: expected {}, got {}", j.what, j.expected, j.actual))
                .chain(r.interrupted.then(|| "the run was interrupted".to_string()))
                .collect(),
            known: r
                .expectations
                .iter()
                .filter(|j| j.outcome == Outcome::Known)
                .filter_map(|j| j.known.as_ref().map(|k| format!("{}: {k}", j.what)))
                .collect(),
            outcome: Some(outcome),
            first_violation_ms: r.checks.first_violation_ns.map(|t| t as f64 / 1e6),
            run_dir: Some(rel),
            charts,
            wall_ms,
            error: None,
            summary: r.summary(),
            client: r
                .client
                .as_ref()
                .map(|k| format!("{} {}", k.library, k.version)),
            findings: r
                .checks
                .checks
                .iter()
                .filter(|c| !c.advisory && c.violations > 0)
                .map(|c| {
                    (
                        c.id.clone(),
                        c.details
                            .first()
                            .cloned()
                            .unwrap_or_else(|| c.headline.clone()),
                    )
                })
                .collect(),
            library_findings: r.checks.blame.iter().flat_map(|b| &b.findings).fold(
                BTreeMap::new(),
                |mut by_kind, f| {
                    *by_kind.entry(f.kind.name()).or_default() += 1;
                    by_kind
                },
            ),
            interrupted: r.interrupted,
            not_on_server: None,
        }
    }

    /// A case not run because its server cannot run its scenario.
    pub fn not_on_server(scenario: &str, seed: u64, why: &str) -> Case {
        Case {
            error: None,
            unmet: Vec::new(),
            not_on_server: Some(why.to_string()),
            ..Case::error(scenario, seed, 0, "")
        }
    }

    /// A run stopped by a signal before it wrote a verdict (it was still starting).
    pub fn interrupted(scenario: &str, seed: u64, wall_ms: u64) -> Case {
        Case {
            outcome: Some(Outcome::Unknown),
            error: None,
            unmet: vec!["the run was interrupted before it had a history".into()],
            interrupted: true,
            ..Case::error(scenario, seed, wall_ms, "")
        }
    }

    /// A run that could not be run or judged.
    pub fn error(scenario: &str, seed: u64, wall_ms: u64, error: &str) -> Case {
        Case {
            scenario: scenario.to_string(),
            seed,
            lock: String::new(),
            fenced: false,
            faults: Vec::new(),
            ops: 0,
            grants: 0,
            violations: Violations::new(),
            validity: None,
            expected: Vec::new(),
            unmet: vec![format!("the run failed: {error}")],
            known: Vec::new(),
            outcome: None,
            first_violation_ms: None,
            run_dir: None,
            charts: Vec::new(),
            wall_ms,
            error: Some(error.to_string()),
            summary: String::new(),
            client: None,
            findings: Vec::new(),
            library_findings: BTreeMap::new(),
            interrupted: false,
            not_on_server: None,
        }
    }

    /// What it showed, as findings: each check with a violation (`mutual_exclusion`), and each
    /// kind of library finding (`blame:grant-after-lease`) — how bisect and shrink name them.
    pub fn finding_names(&self) -> std::collections::BTreeSet<String> {
        let mut f: std::collections::BTreeSet<String> = self
            .violations
            .iter()
            .filter(|(id, n)| **n > 0 && id.as_str() != "blame")
            .map(|(id, _)| id.clone())
            .collect();
        f.extend(self.library_findings.keys().map(|k| format!("blame:{k}")));
        f
    }

    /// Met, or reproduced its known finding.
    pub fn passed(&self) -> bool {
        matches!(self.outcome, Some(Outcome::Met | Outcome::Known))
    }

    /// Ran to a verdict that was neither met nor a known finding (a JUnit failure; an error,
    /// an interrupted run and one not run on its server are not).
    pub fn failed(&self) -> bool {
        self.error.is_none() && !self.interrupted && self.not_on_server.is_none() && !self.passed()
    }

    /// For progress lines: `met`, `KNOWN`, `NOT MET`, `UNKNOWN`, `ERROR`, `n/a`.
    pub fn status_word(&self) -> &'static str {
        if self.interrupted {
            return "interrupted";
        }
        if self.not_on_server.is_some() {
            return "n/a    ";
        }
        match self.outcome {
            None => "ERROR  ",
            Some(Outcome::Met) => "met    ",
            Some(Outcome::Known) => "known  ",
            Some(Outcome::NotMet) => "NOT MET",
            Some(Outcome::Unknown) => "UNKNOWN",
        }
    }
}

/// "mutual exclusion violated", "stale accesses prevented by fencing ≥ 1".
fn expected_of(j: &crate::judge::Judgement) -> String {
    let word = j.expected.split_whitespace().next().unwrap_or_default();
    match word {
        "holds" | "violated" => format!("{} {word}", j.what),
        _ => format!("{} {}", j.what, j.expected),
    }
}
