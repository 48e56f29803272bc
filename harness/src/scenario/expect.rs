//! `[expect]`, `[evidence]` and `[[known_finding]]`: what a run must show, how much work it must
//! have done to show it, and the findings a scenario already knows it reproduces.
//!
//! Expectations name checks by id (`mutual_exclusion = "violated"`); a check that does not apply
//! to the scenario's workload and lock is refused at load with the fix, never silently ignored
//! (e.g. `foreign_release` exists only for a lock released by plain `DEL`).

use super::Scenario;
use crate::invalid::{ensure, Invalid};
use checkers::delivery::DeliveryConfig;
use checkers::run::{CheckOptions, LockOptions};
use checkers::window::WindowSpec;
use checkers::Minimums;
use serde::{Deserialize, Serialize};

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

/// What the run must show. Absent fields are not judged.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Expect {
    /// Overlapping critical spans (two clients acting as holder at once).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mutual_exclusion: Option<Expectation>,
    /// The lock granted a key while another client's grant surely held it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub double_grant: Option<Expectation>,
    /// A `DEL` release deleted another client's lock (locks released by `DEL` only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub foreign_release: Option<Expectation>,
    /// Accesses accepted out of token order at the resource.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fencing: Option<Expectation>,
    /// Increments lost at the resource.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lost_updates: Option<Expectation>,
    /// At least this many stale accesses rejected by fencing.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prevented_min: Option<u64>,
    /// At least this many ops ended `info` (evidence the faults bit).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub indeterminate_min: Option<u64>,
    /// Counter workloads: increments lost or duplicated.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub counter: Option<Expectation>,
    /// Rate limiters: more than the limit admitted in some interval of length `window`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rate_window: Option<Expectation>,
    /// Messaging: acknowledged messages never received (or received but never sent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message_loss: Option<Expectation>,
    /// Messaging: a message received more than once in one delivery group.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message_duplication: Option<Expectation>,
    /// No answer of the lock (library) that no correct lock may give, judged against the lock
    /// nodes' own record.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub blame: Option<Expectation>,
    /// The workload went no longer than `availability_gap` without acknowledged work.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub availability: Option<Expectation>,
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
    /// The stated properties as (check id, expectation), in report order.
    pub fn properties(&self) -> Vec<(&'static str, Expectation)> {
        [
            ("mutual_exclusion", self.mutual_exclusion),
            ("double_grant", self.double_grant),
            ("foreign_release", self.foreign_release),
            ("fencing", self.fencing),
            ("lost_updates", self.lost_updates),
            ("counter", self.counter),
            ("rate_window", self.rate_window),
            ("message_loss", self.message_loss),
            ("message_duplication", self.message_duplication),
            ("availability", self.availability),
            ("blame", self.blame),
        ]
        .into_iter()
        .filter_map(|(id, e)| e.map(|e| (id, e)))
        .collect()
    }

    pub fn is_empty(&self) -> bool {
        self.properties().is_empty()
            && self.prevented_min.is_none()
            && self.indeterminate_min.is_none()
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

/// The checks that apply to a scenario, by id.
pub fn applicable(s: &Scenario) -> Vec<&'static str> {
    let w = s.workload.kind;
    let mut out = Vec::new();
    if w.uses_lock() {
        out.extend(["mutual_exclusion", "double_grant"]);
        if s.lock.kind.releases_by_del() {
            out.push("foreign_release");
        }
    }
    if w.uses_resource() {
        out.extend(["fencing", "lost_updates"]);
    }
    if w.counts() {
        out.push("counter");
    }
    if w.is_limiter() {
        out.push("rate_window");
    }
    if w.is_messaging() {
        out.extend(["message_loss", "message_duplication"]);
    }
    if s.expect.availability_gap.is_some() {
        out.push("availability");
    }
    // The nodes' own record is read for the lock workload on nodes fencepost starts, not behind
    // Sentinel (see the runner's taps).
    if w == super::workload::WorkloadKind::Lock && s.sentinel.is_none() {
        out.push("blame");
    }
    out
}

/// Why a check does not apply here, and the fix.
fn not_applicable(id: &str) -> String {
    match id {
        "mutual_exclusion" | "double_grant" => format!("[expect] {id} needs clients that take the lock: [workload] kind = \"lock\" or \"rmw-counter\""),
        "foreign_release" => "[expect] foreign_release applies to a lock released by plain DEL ([lock] kind = \"naive\"): a compare-and-delete release can only delete its own token, so no other lock's release can be judged this way".into(),
        "fencing" | "lost_updates" => format!("[expect] {id} judges the protected resource, which only [workload] kind = \"lock\" uses"),
        "counter" => "[expect] counter needs [workload] kind = \"counter\" or \"rmw-counter\"".into(),
        "rate_window" => "[expect] rate_window needs a rate-limiter workload".into(),
        "message_loss" | "message_duplication" => format!("[expect] {id} needs a messaging workload: [workload] kind = \"pubsub\" or \"stream\""),
        "availability" => "[expect] availability needs availability_gap = \"8s\": the longest the workload may go without acknowledged work".into(),
        "blame" => "[expect] blame judges a lock's answers against the lock nodes' own record: it needs [workload] kind = \"lock\" and no [sentinel]".into(),
        _ => format!("[expect] {id} is not a check"),
    }
}

/// Expectations, evidence and known findings that fit the scenario.
pub fn validate(s: &Scenario) -> Result<(), Invalid> {
    let checks = applicable(s);
    for (id, _) in s.expect.properties() {
        ensure(checks.contains(&id), id, || not_applicable(id))?;
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
        ensure(checks.contains(&id), key, || {
            not_applicable(id).replace(id, key)
        })?;
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

/// What the checkers are told about this scenario.
pub fn check_options(s: &Scenario) -> CheckOptions {
    let checks = applicable(s);
    CheckOptions {
        lock: s.workload.kind.uses_lock().then_some(LockOptions {
            release_by_del: checks.contains(&"foreign_release"),
        }),
        resource: checks.contains(&"fencing"),
        counter: checks.contains(&"counter"),
        window: match (s.workload.limit, s.workload.window) {
            (Some(limit), Some(w)) if s.workload.kind.is_limiter() => Some(WindowSpec {
                limit: s.expect.rate_window_limit.unwrap_or(limit),
                window_ns: w.ns(),
                aligned: s.expect.rate_window_aligned,
            }),
            _ => None,
        },
        faults: fault_minimums(s),
        minimums: s.evidence.minimums(),
        availability_gap_ns: s.expect.availability_gap.map(|d| d.ns()),
        // Read from the run folder, when the run tapped its nodes.
        blame: None,
        delivery: s.workload.kind.is_messaging().then(|| DeliveryConfig {
            // Receivers read for the drain after the stop; a publish that completed within it
            // of the end may still be on its way.
            in_flight_ns: 100_000_000,
            expected_groups: crate::clients::messaging::expected_groups(
                s.workload.kind,
                s.workload.producers.unwrap_or(0),
                s.run.clients,
            ),
        }),
        budget: s
            .workload
            .kind
            .uses_lock()
            .then_some(checkers::linearizable::Budget {
                time_ms: 5_000,
                memory_mb: 256,
            }),
    }
}

/// Each fault kind the scenario injects, with the injections that must take effect: the
/// per-nemesis minimum times the nemeses of that kind.
fn fault_minimums(s: &Scenario) -> Vec<(String, u64)> {
    let per = s.evidence.minimums().faults;
    let mut out: Vec<(String, u64)> = Vec::new();
    for n in &s.nemesis {
        let kind = n.plugin().fault_kind();
        match out.iter_mut().find(|(k, _)| k == kind) {
            Some((_, m)) => *m += per,
            None => out.push((kind.to_string(), per)),
        }
    }
    out
}
