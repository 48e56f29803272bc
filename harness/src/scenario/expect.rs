//! `[expect]`, `[evidence]` and `[[known_finding]]`: what a run must show, how much work it must
//! have done to show it, and the findings a scenario already knows it reproduces.
//!
//! Expectations name checks by their [`checkers::registry`] id (`mutual_exclusion =
//! "violated"`); a check that does not apply to the scenario's shape, or that the registry does
//! not know, is refused at load with the fix, never silently ignored (e.g. `foreign_release`
//! exists only for a lock released by plain `DEL`).

use super::Scenario;
use crate::invalid::{ensure, Invalid};
use checkers::registry::{self, Shape};
use checkers::Minimums;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// A checker's expected outcome.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Expectation {
    /// The property must hold (no violation).
    Holds,
    /// The run must show at least one violation (the scenario reproduces a failure).
    Violated,
}

impl Expectation {
    pub fn word(self) -> &'static str {
        match self {
            Expectation::Holds => "holds",
            Expectation::Violated => "violated",
        }
    }
}

/// What the run must show: each check's expected outcome by its registry id, and the
/// settings some checks take. Absent checks are not judged.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Expect {
    /// `mutual_exclusion = "violated"`, `blame = "holds"`, …: any expectable check of
    /// [`checkers::registry`] that applies to the scenario. Read as any value, so that a key
    /// that is no check (a typo) is refused by [`validate`] with the list, not by the parser.
    #[serde(flatten)]
    pub checks: BTreeMap<String, toml::Value>,
    /// At least this many stale accesses rejected by fencing.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prevented_min: Option<u64>,
    /// At least this many ops ended `info` (evidence the faults bit).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub indeterminate_min: Option<u64>,
    /// The longest the workload may go without acknowledged work (the availability check).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub availability_gap: Option<crate::duration::Dur>,
    /// Judge the rate window against this many per window instead of the limiter's own limit
    /// (e.g. 2 × limit: what a fixed window keeps without faults).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rate_window_limit: Option<u64>,
    /// Judge each of the fixed-window limiter's own windows (aligned on the run's clock, as
    /// its clients count them) instead of every interval of length `window`: the promise a
    /// fixed window keeps without faults.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub rate_window_aligned: bool,
}

impl Expect {
    /// The stated properties as (check id, expectation), in the registry's (report) order.
    pub fn properties(&self) -> Vec<(&str, Expectation)> {
        let mut out: Vec<(&str, Expectation)> = self
            .checks
            .keys()
            .filter_map(|id| Some((id.as_str(), self.of(id)?)))
            .collect();
        out.sort_by_key(|(id, _)| registry::position(id));
        out
    }

    /// What the scenario expects of check `id`, if anything.
    pub fn of(&self, id: &str) -> Option<Expectation> {
        match self.checks.get(id)?.as_str()? {
            "holds" => Some(Expectation::Holds),
            "violated" => Some(Expectation::Violated),
            _ => None,
        }
    }

    /// Sets what the scenario expects of check `id`.
    pub fn set(&mut self, id: &str, e: Expectation) {
        self.checks
            .insert(id.to_string(), toml::Value::String(e.word().into()));
    }

    pub fn is_empty(&self) -> bool {
        self.checks.is_empty() && self.prevented_min.is_none() && self.indeterminate_min.is_none()
    }
}

/// The least evidence each checker needs to say `valid` (absent: the defaults, see
/// [`Minimums`]).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EvidenceSpec {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub grants: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub accesses: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub writes: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub releases: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub adds: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub admitted: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rejected: Option<u64>,
    /// Injections that took effect, per nemesis.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub faults: Option<u64>,
    /// Messaging: acknowledged publishes, and receipts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub messages: Option<u64>,
}

impl EvidenceSpec {
    pub fn minimums(&self) -> Minimums {
        let d = Minimums::default();
        Minimums {
            grants: self.grants.unwrap_or(d.grants),
            accesses: self.accesses.unwrap_or(d.accesses),
            writes: self.writes.unwrap_or(d.writes),
            releases: self.releases.unwrap_or(d.releases),
            adds: self.adds.unwrap_or(d.adds),
            admitted: self.admitted.or(d.admitted),
            rejected: self.rejected.unwrap_or(d.rejected),
            faults: self.faults.unwrap_or(d.faults).max(1),
            messages: self.messages.unwrap_or(d.messages),
        }
    }
}

/// A finding the scenario knows it reproduces: the check it concerns, the outcome the runs
/// show (instead of the expectation), and why. Shown amber; a run that shows it unchanged is
/// not a failure, a run that stops showing it is a change to look at.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KnownFinding {
    pub check: String,
    pub outcome: Expectation,
    pub why: String,
}

/// The scenario's shape, as the check registry reads it.
pub fn shape(s: &Scenario) -> Shape {
    let w = s.workload.kind;
    Shape {
        lock: w.uses_lock(),
        release_by_del: w.uses_lock() && s.lock.kind.releases_by_del(),
        resource: w.uses_resource(),
        counter: w.counts(),
        limiter: w.is_limiter(),
        messaging: w.is_messaging(),
        availability: s.expect.availability_gap.is_some(),
        // The nodes' own record is read for the lock workload on nodes fencepost starts, not
        // behind Sentinel (see the runner's taps).
        nodes_record: w == super::workload::WorkloadKind::Lock && s.sentinel.is_none(),
        faults: !s.nemesis.is_empty(),
    }
}

/// The keys of `[expect]` that are settings, not checks.
const SETTINGS: &[&str] = &[
    "prevented_min",
    "indeterminate_min",
    "availability_gap",
    "rate_window_limit",
    "rate_window_aligned",
];

/// Why check `id` cannot be expected here, and the fix.
fn not_applicable(id: &str) -> String {
    match registry::get(id) {
        Some(k) => k.not_applicable.to_string(),
        None => {
            let known: Vec<&str> = registry::CHECKS
                .iter()
                .filter(|c| c.expectable)
                .map(|c| c.id)
                .chain(SETTINGS.iter().copied())
                .collect();
            format!("[expect] {}", crate::suggest::unknown("key", id, &known))
        }
    }
}

/// Expectations, evidence and known findings that fit the scenario.
pub fn validate(s: &Scenario) -> Result<(), Invalid> {
    let shape = shape(s);
    let applies = |id: &str| registry::expectable(&shape).any(|c| c.id == id);
    for (id, value) in &s.expect.checks {
        ensure(applies(id), id.clone(), || not_applicable(id))?;
        ensure(s.expect.of(id).is_some(), id.clone(), || {
            format!(
                "[expect] {id} = {value}: expected \"holds\" (no violation) or \"violated\" (the run must show one)"
            )
        })?;
    }
    let e = &s.expect;
    if e.prevented_min.is_some() || e.rate_window_limit.is_some() || e.rate_window_aligned {
        let (key, id) = if e.prevented_min.is_some() {
            ("prevented_min", "fencing")
        } else if e.rate_window_limit.is_some() {
            ("rate_window_limit", "rate_window")
        } else {
            ("rate_window_aligned", "rate_window")
        };
        ensure(applies(id), key, || not_applicable(id).replace(id, key))?;
    }
    ensure(
        e.prevented_min.is_none_or(|m| m == 0) || s.resource.fenced,
        "prevented_min",
        || {
            "[expect] prevented_min needs [resource] fenced = true: an unfenced resource prevents nothing".into()
        },
    )?;
    ensure(
        e.availability_gap.is_none_or(|g| !g.0.is_zero()),
        "availability_gap",
        || "[expect] availability_gap must be > 0 (e.g. \"8s\")".into(),
    )?;
    ensure(e.rate_window_limit != Some(0), "rate_window_limit", || {
        "[expect] rate_window_limit must be > 0".into()
    })?;
    ensure(
        !e.rate_window_aligned || s.workload.kind == super::workload::WorkloadKind::FixedWindow,
        "rate_window_aligned",
        || {
            "[expect] rate_window_aligned judges a fixed window's own buckets: it needs [workload] kind = \"fixed-window\"".into()
        },
    )?;
    for k in &s.known_finding {
        let stated = e.properties().into_iter().find(|(id, _)| *id == k.check);
        match stated {
            None => return Err(Invalid::new("check", format!("[[known_finding]] check = \"{}\" names no expectation of this scenario; state it in [expect] (what should hold), then the finding (what the runs show)", k.check))),
            Some((_, expected)) => ensure(expected != k.outcome, "outcome", || format!("[[known_finding]] {}: outcome \"{}\" is what [expect] already states; a known finding records where the runs differ from the expectation", k.check, k.outcome.word()))?,
        }
        ensure(!k.why.trim().is_empty(), "why", || {
            "[[known_finding]] needs why = \"…\": a sentence a reader can act on".into()
        })?;
    }
    Ok(())
}
