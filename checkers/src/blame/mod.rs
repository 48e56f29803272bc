//! Blame: the library, or the laws of physics?
//!
//! Without fencing, every lock lets a paused client act after its lease ended — Kleppmann's
//! point, not a bug of any one library; the mutual-exclusion and fencing checkers report it.
//! This checker looks for answers no correct lock may give, judged against the lock nodes' own
//! record of the lock keys ([`crate::node_record`]) rather than against what the clients said.
//! Every part of an answer is judged:
//!
//! - **granted** ([`grant`]): a grant the node(s) never made (the token no node — or not a
//!   majority of a Redlock's nodes — set while the acquire ran), or one returned after its lease
//!   ended (every node that set it had let it expire when the library returned);
//! - **validity** ([`promise`]): the validity (or expiry) the library promised with a grant or an
//!   extension runs past the lease the nodes granted — e.g. computed from a wall clock that
//!   stepped back. The client acts inside what its library promised, so what follows is the
//!   library's, not physics;
//! - **extension** ([`extension`]): "extended" while no node extended or re-set the token, an
//!   extension that re-took a lapsed lease, or a background renewal that did;
//! - **release** ([`release`]): "released" while no node held the client's token during the call
//!   (the key was not its own), or "not released" while the call deleted it on a majority;
//! - **held** ([`belief`]): "still held" while fewer than a majority of the nodes held the token
//!   under a lease they had granted.
//!
//! Each finding names the op, the library call, both clients where there are two, and what the
//! nodes held. Findings need the library to report its token; grants without one are counted as
//! not judged. Two things are never held against a library: what a node did while its stream was
//! lost (not on record), and a stale answer from a client process the harness froze during the
//! call (a `SIGSTOP` between the library's computing an answer and its return: physics).

mod belief;
mod extension;
mod grant;
mod judge;
mod promise;
mod release;

pub(crate) use judge::short as short_token;

use crate::check::{Check, CheckKind, Evidence, Minimums};
use crate::history::{Call, FaultWindow, Nanos, Process};
use crate::node_record::NodesRecord;
use serde::{Deserialize, Serialize};

/// This check's registry entry ([`crate::registry`]).
pub const KIND: CheckKind = CheckKind {
    id: "blame",
    name: "blame (the library's answers, against the nodes' own record)",
    label: "blame",
    applies: |s| s.lock && s.nodes_record,
    not_applicable: "[expect] blame judges a lock's answers against the lock nodes' own record: it needs [workload] kind = \"lock\" and no [sentinel]",
    expectable: true,
    advisory: false,
    floors: &["grants"],
    judge: None,
};

/// How long after a call returns its effect may still be arriving from a node's stream.
pub const ARRIVAL_NS: Nanos = 250_000_000;
/// How much earlier than an op's invocation a node's stream may show its effect (none: the
/// stream is read after the node applied the change, which is after the call began).
pub const EARLY_NS: Nanos = 1_000_000;
/// How far past the nodes' lease a promised validity may run and still be the lease: validity,
/// expiry and the node's clock readings are whole milliseconds (each reading arrives late by its
/// round trip, which places a lease later, never earlier).
pub const PROMISE_SLACK_NS: Nanos = 5_000_000;

/// What the library said, against what the nodes held.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Finding {
    pub kind: FindingKind,
    pub process: Process,
    /// History index of the call's invocation.
    pub index: u64,
    pub invoke_ns: Nanos,
    pub complete_ns: Nanos,
    /// The other client involved, when the node held its token.
    pub other: Option<Process>,
    /// In words: the op, the library call, the node state.
    pub detail: String,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum FindingKind {
    GrantNotMade,
    GrantAfterLease,
    ExtendNotMade,
    ExtendRetook,
    RenewalRetook,
    ValidityBeyondLease,
    ExtendValidityBeyondLease,
    ReleaseNotOwned,
    ReleaseDenied,
    HeldAfterLease,
}

impl FindingKind {
    pub fn words(self) -> &'static str {
        match self {
            FindingKind::GrantNotMade => "grant the nodes never made",
            FindingKind::GrantAfterLease => "grant returned after its lease ended",
            FindingKind::ExtendNotMade => "extension the nodes never made",
            FindingKind::ExtendRetook => "extension re-took a lapsed lease",
            FindingKind::RenewalRetook => "renewal re-took a lapsed lease",
            FindingKind::ValidityBeyondLease => "validity promised beyond the nodes' lease",
            FindingKind::ExtendValidityBeyondLease => {
                "extension's validity promised beyond the nodes' lease"
            }
            FindingKind::ReleaseNotOwned => "released a key that was not the client's",
            FindingKind::ReleaseDenied => "said not released while it deleted the key",
            FindingKind::HeldAfterLease => "said held after the nodes' lease ended",
        }
    }

    /// Every kind, in the order reports list them.
    pub const ALL: [FindingKind; 10] = [
        FindingKind::GrantNotMade,
        FindingKind::GrantAfterLease,
        FindingKind::ValidityBeyondLease,
        FindingKind::ExtendNotMade,
        FindingKind::ExtendRetook,
        FindingKind::ExtendValidityBeyondLease,
        FindingKind::RenewalRetook,
        FindingKind::ReleaseNotOwned,
        FindingKind::ReleaseDenied,
        FindingKind::HeldAfterLease,
    ];

    /// The kebab-case name (as in results.json).
    pub fn name(self) -> String {
        serde_json::to_value(self)
            .ok()
            .and_then(|v| v.as_str().map(str::to_string))
            .unwrap_or_default()
    }
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct BlameReport {
    /// Grants judged against the nodes (the library reported its token).
    pub grants_judged: u64,
    /// Grants without a token (not judged).
    pub grants_unjudged: u64,
    /// Answers judged by kind of answer (`granted`, `validity`, `extended`, `released`, `held`):
    /// what the run gave blame to judge.
    #[serde(default)]
    pub answers_judged: std::collections::BTreeMap<String, u64>,
    /// The closest any judged validity came to the end of the nodes' lease, in µs (negative: it
    /// ran past it): how much slack the judgement had.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub closest_validity_us: Option<i64>,
    pub findings: Vec<Finding>,
}

/// Judges every answer in `calls` against the nodes' record; `faults` are the run's fault
/// windows (a client frozen by one is excused a stale answer).
pub fn check(calls: &[Call], input: &NodesRecord, faults: &[FaultWindow]) -> BlameReport {
    let mut judge = judge::Judge::new(calls, input, faults);
    for c in calls {
        judge.call(c);
    }
    judge.renewals();
    let mut r = judge.report;
    r.findings.sort_by_key(|f| f.invoke_ns);
    r
}

pub fn entry(r: &BlameReport, min: &Minimums) -> Check {
    let n = r.findings.len() as u64;
    let mut kinds: std::collections::BTreeMap<&str, u64> = Default::default();
    for f in &r.findings {
        *kinds.entry(f.kind.words()).or_default() += 1;
    }
    let mut check = Check::judged(
        &KIND,
        "what the library answered (grants, validities, extensions, releases, held) against what the lock nodes held, read from their replication streams",
        n,
        vec![Evidence::new("grants judged against the nodes", r.grants_judged, min.grants.min(10))],
    )
    .headline(if n == 0 {
        format!(
            "no library finding: no answer a correct lock may not give ({}; {} grant(s) without a token){}",
            answers(r),
            r.grants_unjudged,
            r.closest_validity_us
                .map(|us| format!(
                    "; the closest validity ended {:.1} ms inside the nodes' lease",
                    us as f64 / 1e3
                ))
                .unwrap_or_default()
        )
    } else {
        format!(
            "{n} library finding(s), answers no correct lock may give: {}",
            kinds
                .iter()
                .map(|(k, v)| format!("{v} {k}"))
                .collect::<Vec<_>>()
                .join(", ")
        )
    })
    .details(r.findings.iter().take(3).map(|f| f.detail.clone()).collect())
    .first_violation(r.findings.first().map(|f| f.complete_ns));
    if r.grants_judged == 0 && r.grants_unjudged > 0 {
        check = check.unknown("the library reports no token, so its grants cannot be matched with what the nodes held");
    }
    check
}

/// The answers judged, in words: `212 granted, 212 validity, 40 released judged`.
fn answers(r: &BlameReport) -> String {
    if r.answers_judged.is_empty() {
        return format!("{} grant(s) judged", r.grants_judged);
    }
    let parts: Vec<String> = r
        .answers_judged
        .iter()
        .map(|(k, v)| format!("{v} {k}"))
        .collect();
    format!("answers judged: {}", parts.join(", "))
}

#[cfg(test)]
mod tests;
