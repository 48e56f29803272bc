//! Blame: the library, or the laws of physics?
//!
//! Without fencing, every lock lets a paused client act after its lease ended — Kleppmann's
//! point, not a bug of any one library; the mutual-exclusion and fencing checkers report it.
//! This checker looks for answers no correct lock may give, judged against the lock nodes' own
//! record of the lock keys ([`crate::node_record`]) rather than against what the clients said:
//!
//! - a grant the node(s) never made: the library said "granted" with a token that no node — or
//!   not a majority of a Redlock's nodes — set while the acquire ran (typically: another
//!   client's token was live there);
//! - a grant returned after its lease ended: every node that set the token had already lost it
//!   (expired, deleted) — or too few still held it for a majority — when the library returned;
//! - an extension reported while the key was not the client's (no node extended or re-set the
//!   token during the call), or one that re-set a token whose lease had lapsed in between (an
//!   extension that re-takes an expired key: another client could have held the lock meanwhile);
//! - a renewal that re-took a lapsed lease: a node re-set a token after it had ended, with no
//!   acquire or extension of its owner running.
//!
//! Each finding names the op, the library call, both clients where there are two, and what the
//! node held. Findings need the library to report its token; grants without one are counted as
//! not judged.

use crate::check::{Check, Evidence, Minimums};
use crate::history::{Call, Nanos, OpKind, Process, Value, F};
use crate::node_record::{Held, NodeRecord};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;

use crate::check::CheckKind;

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
}

impl FindingKind {
    pub fn words(self) -> &'static str {
        match self {
            FindingKind::GrantNotMade => "grant the nodes never made",
            FindingKind::GrantAfterLease => "grant returned after its lease ended",
            FindingKind::ExtendNotMade => "extension the nodes never made",
            FindingKind::ExtendRetook => "extension re-took a lapsed lease",
            FindingKind::RenewalRetook => "renewal re-took a lapsed lease",
        }
    }
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct BlameReport {
    /// Grants judged against the nodes (the library reported its token).
    pub grants_judged: u64,
    /// Grants without a token (not judged).
    pub grants_unjudged: u64,
    pub findings: Vec<Finding>,
}

use crate::node_record::NodesRecord;

fn majority(n: usize) -> usize {
    n / 2 + 1
}

pub fn check(calls: &[Call], input: &NodesRecord) -> BlameReport {
    let mut judge = Judge::new(calls, input);
    for c in calls {
        judge.call(c);
    }
    judge.renewals();
    let mut r = judge.report;
    r.findings.sort_by_key(|f| f.invoke_ns);
    r
}

/// [`check`]'s state as it walks the calls: what the nodes recorded, who owns each token, and
/// the windows in which owners were (re)setting their tokens.
struct Judge<'a> {
    rec: &'a NodeRecord,
    nodes: &'a [String],
    /// Nodes that make a majority of `nodes`.
    need: usize,
    /// token → owner, from every grant.
    owner: HashMap<String, Process>,
    /// Windows in which each token's owner was calling the library to (re)set it.
    setting: Vec<(String, Nanos, Nanos)>,
    /// Each client's latest granted token (what its extensions extend).
    last_token: HashMap<Process, String>,
    report: BlameReport,
}

/// One completed call, with the window in which its effect may show in a node's stream.
struct Done<'c> {
    c: &'c Call,
    /// When it returned.
    at: Nanos,
    /// The window its effect may show in: from a little before the invocation to a little
    /// after the return.
    from: Nanos,
    to: Nanos,
}

impl Done<'_> {
    /// A finding about this call.
    fn finding(&self, kind: FindingKind, other: Option<Process>, detail: String) -> Finding {
        Finding {
            kind,
            process: self.c.process,
            index: self.c.invoke.index,
            invoke_ns: self.c.invoke_ns(),
            complete_ns: self.at,
            other,
            detail,
        }
    }
}

impl<'a> Judge<'a> {
    fn new(calls: &[Call], input: &'a NodesRecord) -> Self {
        Judge {
            rec: &input.record,
            nodes: &input.nodes,
            need: majority(input.nodes.len()),
            owner: token_owners(calls),
            setting: Vec::new(),
            last_token: HashMap::new(),
            report: BlameReport::default(),
        }
    }

    fn holder_of(&self, token: &str) -> Option<Process> {
        self.owner.get(token).copied()
    }

    /// Judges one call: grants and extensions that completed ok; everything else is no one's
    /// business here.
    fn call(&mut self, c: &Call) {
        let Some(at) = c.complete_ns() else {
            return;
        };
        let done = Done {
            c,
            at,
            from: c.invoke_ns().saturating_sub(EARLY_NS),
            to: at + ARRIVAL_NS,
        };
        match (c.f, c.outcome(), c.result()) {
            (F::Acquire, OpKind::Ok, Some(Value::Granted(g))) => self.grant(&done, &g.token),
            (F::Extend, OpKind::Ok, Some(Value::Extended { .. })) => self.extension(&done),
            _ => {}
        }
    }

    /// A grant: made by a majority of nodes during the call, and returned while a majority
    /// still held it?
    fn grant(&mut self, d: &Done, token: &str) {
        let (rec, nodes, need) = (self.rec, self.nodes, self.need);
        self.last_token.insert(d.c.process, token.to_string());
        self.setting.push((token.to_string(), d.from, d.to));
        if token.is_empty() {
            self.report.grants_unjudged += 1;
            return;
        }
        let sets: Vec<&Held> = nodes
            .iter()
            .filter_map(|n| rec.set_between(n, token, d.from, d.to))
            .collect();
        // Nodes whose record misses the call might have set it unseen.
        let unseen = nodes
            .iter()
            .filter(|n| {
                rec.set_between(n, token, d.from, d.to).is_none()
                    && rec.blind_during(n, d.from, d.to)
            })
            .count();
        if sets.len() < need && sets.len() + unseen >= need {
            self.report.grants_unjudged += 1;
            return;
        }
        self.report.grants_judged += 1;
        if sets.len() < need {
            let finding = self.grant_not_made(d, token, sets.len());
            self.report.findings.push(finding);
            return;
        }
        // Only an expiry makes a grant late: a key released or overwritten meanwhile
        // was live when the library answered (a foreign release is its own check's).
        let still = sets.iter().filter(|h| !h.expired_by(d.at)).count();
        if still < need {
            self.report
                .findings
                .push(grant_after_lease(d, still, &sets));
        }
    }

    /// A grant too few nodes set during the call, with what the nodes held instead.
    fn grant_not_made(&self, d: &Done, token: &str, set: usize) -> Finding {
        let (other, state) = self.held_instead(d);
        let need = self.need;
        d.finding(
            FindingKind::GrantNotMade,
            other,
            format!(
                "acquire (op {}) returned granted with token {} at {:.3} s, but {} of {} node(s) set it during the call (a majority needs {need}); {}",
                d.c.invoke.index,
                short(token),
                d.at as f64 / 1e9,
                set,
                self.nodes.len(),
                state.join(", ")
            ),
        )
    }

    /// What each node held at a grant's return (in words), and the other client whose token a
    /// node held, if any (the last such node's).
    fn held_instead(&self, d: &Done) -> (Option<Process>, Vec<String>) {
        let mut other = None;
        let state = self
            .nodes
            .iter()
            .map(|n| {
                match self.rec.held.iter().find(|h| {
                    &h.node == n && h.from_ns <= d.at && h.to_ns.is_none_or(|t| t > d.c.invoke_ns())
                }) {
                    Some(h) => {
                        let who = self.holder_of(&h.value);
                        if who.is_some() && who != Some(d.c.process) {
                            other = who;
                        }
                        format!(
                            "{n} held {} (set {:.3} s)",
                            who.map_or_else(
                                || format!("token {}", short(&h.value)),
                                |p| format!("{p}'s token")
                            ),
                            h.from_ns as f64 / 1e9
                        )
                    }
                    None => format!("{n} held nothing"),
                }
            })
            .collect();
        (other, state)
    }

    /// An extension: did the nodes extend (or re-set) the client's token, and without
    /// re-taking a lapsed lease?
    fn extension(&mut self, d: &Done) {
        let (rec, nodes, need) = (self.rec, self.nodes, self.need);
        let Some(token) = self
            .last_token
            .get(&d.c.process)
            .filter(|t| !t.is_empty())
            .cloned()
        else {
            return;
        };
        self.setting.push((token.clone(), d.from, d.to));
        let extended = nodes
            .iter()
            .filter(|n| {
                // The token was held across the call (its expiry moved), or re-set in it.
                rec.at(n, &key_of(rec, n, &token), d.c.invoke_ns())
                    .is_some_and(|h| h.value == token)
                    || rec.set_between(n, &token, d.from, d.to).is_some()
            })
            .count();
        let retook = nodes
            .iter()
            .filter_map(|n| rec.set_between(n, &token, d.from, d.to))
            .find(|h| h.retaken_after_ns.is_some());
        if let Some(h) = retook {
            self.report.findings.push(extension_retook(d, &token, h));
        } else if extended < need
            && extended
                + nodes
                    .iter()
                    .filter(|n| rec.blind_during(n, d.c.invoke_ns(), d.to))
                    .count()
                < need
        {
            self.report.findings.push(d.finding(
                FindingKind::ExtendNotMade,
                None,
                format!(
                    "extend (op {}) returned extended at {:.3} s, but {extended} of {} node(s) held or re-set token {} during the call",
                    d.c.invoke.index,
                    d.at as f64 / 1e9,
                    nodes.len(),
                    short(&token)
                ),
            ));
        }
    }

    /// Renewals: a token re-set after it lapsed, outside every call of its owner's.
    fn renewals(&mut self) {
        for h in self
            .rec
            .held
            .iter()
            .filter(|h| h.retaken_after_ns.is_some())
        {
            let during_call = self
                .setting
                .iter()
                .any(|(t, from, to)| *t == h.value && *from <= h.from_ns && h.from_ns <= *to);
            if during_call || !self.nodes.contains(&h.node) {
                continue;
            }
            let Some(p) = self.holder_of(&h.value) else {
                continue;
            };
            self.report.findings.push(renewal_retook(h, p));
        }
    }
}

/// token → owner, from every grant that named its token.
fn token_owners(calls: &[Call]) -> HashMap<String, Process> {
    let mut owner = HashMap::new();
    for c in calls {
        if let (F::Acquire, OpKind::Ok, Some(Value::Granted(g))) = (c.f, c.outcome(), c.result()) {
            if !g.token.is_empty() {
                owner.insert(g.token.clone(), c.process);
            }
        }
    }
    owner
}

/// A grant returned when only `still` of the nodes that set it (`sets`) held it yet.
fn grant_after_lease(d: &Done, still: usize, sets: &[&Held]) -> Finding {
    let ends: Vec<String> = sets
        .iter()
        .map(|h| {
            format!(
                "{} {} at {}",
                h.node,
                h.ended_by,
                h.to_ns
                    .map_or("—".into(), |t| format!("{:.3} s", t as f64 / 1e9))
            )
        })
        .collect();
    d.finding(
        FindingKind::GrantAfterLease,
        None,
        format!(
            "acquire (op {}) returned granted at {:.3} s, {:.0} ms after it was called, when only {still} node(s) still held its token ({}): the lease had run out before the library answered",
            d.c.invoke.index,
            d.at as f64 / 1e9,
            (d.at - d.c.invoke_ns()) as f64 / 1e6,
            ends.join(", ")
        ),
    )
}

/// An extension that re-set `token` on `h.node` after the node had let it go.
fn extension_retook(d: &Done, token: &str, h: &Held) -> Finding {
    d.finding(
        FindingKind::ExtendRetook,
        None,
        format!(
            "extend (op {}) at {:.3} s re-set token {} on {} after the node had let it go at {:.3} s: the lease lapsed in between and was taken again, so another client could have held the lock meanwhile",
            d.c.invoke.index,
            d.c.invoke_ns() as f64 / 1e9,
            short(token),
            h.node,
            h.retaken_after_ns.unwrap_or(0) as f64 / 1e9
        ),
    )
}

/// A node re-set `p`'s token after letting it go, with no call of `p`'s running.
fn renewal_retook(h: &Held, p: Process) -> Finding {
    Finding {
        kind: FindingKind::RenewalRetook,
        process: p,
        index: 0,
        invoke_ns: h.from_ns,
        complete_ns: h.from_ns,
        other: None,
        detail: format!(
            "{} re-set {p}'s token {} at {:.3} s after letting it go at {:.3} s, with no acquire or extend of {p} running: a background renewal re-took a lapsed lease",
            h.node,
            short(&h.value),
            h.from_ns as f64 / 1e9,
            h.retaken_after_ns.unwrap_or(0) as f64 / 1e9
        ),
    }
}

fn key_of(rec: &NodeRecord, node: &str, token: &str) -> String {
    rec.held
        .iter()
        .find(|h| h.node == node && h.value == token)
        .map_or_else(String::new, |h| h.key.clone())
}

fn short(token: &str) -> String {
    token.chars().take(12).collect()
}

pub fn entry(r: &BlameReport, min: &Minimums) -> Check {
    let n = r.findings.len() as u64;
    let mut kinds: std::collections::BTreeMap<&str, u64> = Default::default();
    for f in &r.findings {
        *kinds.entry(f.kind.words()).or_default() += 1;
    }
    let mut check = Check::judged(
        &KIND,
        "what the library answered (grants, extensions) against what the lock nodes held, read from their replication streams",
        n,
        vec![Evidence::new("grants judged against the nodes", r.grants_judged, min.grants.min(10))],
    )
    .headline(if n == 0 {
        format!(
            "no library finding: no answer a correct lock may not give ({} grant(s) judged, {} without a token)",
            r.grants_judged, r.grants_unjudged
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixture::B;
    use crate::history::Grant;
    use crate::node_record::{Change, NodeEvent};

    const MS: u64 = 1_000_000;

    fn ev(t_ms: u64, change: Change) -> NodeEvent {
        NodeEvent {
            time_ns: t_ms * MS,
            node: "n1".into(),
            change,
        }
    }

    fn set(t_ms: u64, value: &str, expire_at_ms: u64) -> NodeEvent {
        ev(
            t_ms,
            Change::Set {
                key: "k".into(),
                value: value.into(),
                expire_at_ms: Some(expire_at_ms),
            },
        )
    }

    fn input(events: Vec<NodeEvent>) -> NodesRecord {
        // The node's clock reads 1_000_000 ms at history time 0.
        let mut all = vec![ev(0, Change::Clock { node_ms: 1_000_000 })];
        all.extend(events);
        NodesRecord {
            record: NodeRecord::from_events(&all),
            nodes: vec!["n1".into()],
        }
    }

    fn granted(b: &mut B, t0: u64, t1: u64, c: u32, token: &str) {
        b.push(
            t0 * MS,
            c,
            OpKind::Invoke,
            F::Acquire,
            Value::Lease {
                key: "k".into(),
                ttl_ms: 100,
            },
        );
        b.push(
            t1 * MS,
            c,
            OpKind::Ok,
            F::Acquire,
            Value::Granted(Grant {
                fence: 1,
                token: token.into(),
                validity_end_ns: (t0 + 100) * MS,
            }),
        );
    }

    #[test]
    fn a_correct_grant_is_no_finding() {
        let mut b = B::default();
        granted(&mut b, 10, 12, 0, "a");
        let r = check(&b.history().calls(), &input(vec![set(11, "a", 1_000_110)]));
        assert_eq!(r.grants_judged, 1);
        assert!(r.findings.is_empty(), "{:?}", r.findings);
    }

    #[test]
    fn a_grant_while_the_node_held_another_token_is_the_librarys() {
        let mut b = B::default();
        granted(&mut b, 0, 1, 0, "a");
        granted(&mut b, 20, 21, 1, "b");
        let r = check(&b.history().calls(), &input(vec![set(1, "a", 1_000_100)]));
        assert_eq!(r.findings.len(), 1);
        let f = &r.findings[0];
        assert_eq!(
            (f.kind, f.process, f.other),
            (
                FindingKind::GrantNotMade,
                Process::Client(1),
                Some(Process::Client(0))
            )
        );
        assert!(f.detail.contains("client 0's token"), "{}", f.detail);
    }

    #[test]
    fn a_grant_while_the_nodes_stream_was_lost_is_not_judged() {
        // The node crashed at 10 ms; its stream was back at 400 ms, the key gone by then. A
        // grant made in between is not on record: it is neither a finding nor counted as judged.
        let mut b = B::default();
        granted(&mut b, 50, 52, 0, "a");
        let r = check(
            &b.history().calls(),
            &input(vec![
                ev(10, Change::Lost),
                ev(
                    400,
                    Change::Snapshot {
                        key: "k".into(),
                        value: None,
                        pttl_ms: None,
                    },
                ),
            ]),
        );
        assert!(r.findings.is_empty(), "{:?}", r.findings);
        assert_eq!((r.grants_judged, r.grants_unjudged), (0, 1));
    }

    #[test]
    fn a_set_the_reconnect_snapshot_already_showed_continues_the_holding() {
        // The node came back at 5 ms; the grant's SET ran before the tap read the key (the
        // snapshot shows the token) and arrived on the stream just after it. The grant returned
        // at 40 ms with the key still held.
        let mut b = B::default();
        granted(&mut b, 2, 40, 0, "a");
        let r = check(
            &b.history().calls(),
            &input(vec![
                ev(1, Change::Lost),
                ev(
                    5,
                    Change::Snapshot {
                        key: "k".into(),
                        value: Some("a".into()),
                        pttl_ms: Some(98),
                    },
                ),
                set(6, "a", 1_000_103),
            ]),
        );
        assert!(r.findings.is_empty(), "{:?}", r.findings);
        assert_eq!(r.grants_judged, 1);
    }

    #[test]
    fn a_grant_returned_without_subtracting_the_time_it_took_is_the_librarys() {
        // Set at 5 ms with a 100 ms ttl; the reply arrives at 150 ms (a delayed reply).
        let mut b = B::default();
        granted(&mut b, 0, 150, 0, "a");
        // The node's clock is read every 100 ms, as the taps do.
        let r = check(
            &b.history().calls(),
            &input(vec![
                set(5, "a", 1_000_105),
                ev(100, Change::Clock { node_ms: 1_000_100 }),
            ]),
        );
        assert_eq!(r.findings.len(), 1, "{:?}", r.findings);
        assert_eq!(r.findings[0].kind, FindingKind::GrantAfterLease);
    }

    #[test]
    fn a_grant_whose_key_someone_else_deleted_is_not_late() {
        // Set at 5 ms for 100 ms; another client's plain DEL (a foreign release) removed it at
        // 20 ms, before the grant returned at 30 ms: the answer was true when the library gave
        // it. Only an expiry makes a grant late.
        let mut b = B::default();
        granted(&mut b, 0, 30, 0, "a");
        let r = check(
            &b.history().calls(),
            &input(vec![
                set(5, "a", 1_000_105),
                ev(10, Change::Clock { node_ms: 1_000_010 }),
                ev(20, Change::Del { key: "k".into() }),
            ]),
        );
        assert!(r.findings.is_empty(), "{:?}", r.findings);
    }

    #[test]
    fn a_grant_whose_key_the_node_expired_before_it_returned_is_late() {
        // The same grant returning at 150 ms: the node's own DEL came at the expiry (103 ms, as
        // close to our reading's 105 ms as its millisecond grain allows).
        let mut b = B::default();
        granted(&mut b, 0, 150, 0, "a");
        let r = check(
            &b.history().calls(),
            &input(vec![
                set(5, "a", 1_000_105),
                ev(10, Change::Clock { node_ms: 1_000_010 }),
                ev(103, Change::Del { key: "k".into() }),
            ]),
        );
        assert_eq!(r.findings.len(), 1, "{:?}", r.findings);
        assert_eq!(r.findings[0].kind, FindingKind::GrantAfterLease);
    }

    #[test]
    fn a_node_clock_that_jumps_after_a_grant_does_not_make_the_grant_late() {
        // Set at 5 ms (expiring at node time 1_000_105); at 50 ms the node's clock jumps 5 s
        // forward and the key expires then — after the grant returned at 10 ms.
        let mut b = B::default();
        granted(&mut b, 0, 10, 0, "a");
        let r = check(
            &b.history().calls(),
            &input(vec![
                set(5, "a", 1_000_105),
                ev(20, Change::Clock { node_ms: 1_000_020 }),
                ev(60, Change::Clock { node_ms: 1_005_060 }),
            ]),
        );
        assert!(r.findings.is_empty(), "{:?}", r.findings);
    }

    #[test]
    fn a_key_set_after_a_clock_jumped_back_is_placed_by_a_later_reading() {
        // The clock read +5 s, then was restored; the key was set after the restore (its
        // expiry looks 3 s in the past by the old reading).
        let mut b = B::default();
        granted(&mut b, 100, 110, 0, "a");
        let r = check(
            &b.history().calls(),
            &input(vec![
                ev(50, Change::Clock { node_ms: 1_005_050 }),
                set(105, "a", 1_002_105),
                ev(150, Change::Clock { node_ms: 1_000_150 }),
            ]),
        );
        assert!(r.findings.is_empty(), "{:?}", r.findings);
    }

    fn extended(b: &mut B, t0: u64, t1: u64, c: u32) {
        b.push(
            t0 * MS,
            c,
            OpKind::Invoke,
            F::Extend,
            Value::Extension {
                key: "k".into(),
                fence: 1,
                ttl_ms: 100,
            },
        );
        b.push(
            t1 * MS,
            c,
            OpKind::Ok,
            F::Extend,
            Value::Extended {
                validity_end_ns: (t0 + 100) * MS,
            },
        );
    }

    #[test]
    fn an_extend_that_sets_a_live_key_again_is_no_finding() {
        // Extensions by `SET key token PX ttl` (node redlock, aioredlock): each arrives as a
        // `SET` of the value the key already holds. The last one runs right at the expiry — it
        // arrives a millisecond after our reading of the node's clock placed the expiry, but the
        // node sent no `DEL`: it still held the key when the script ran.
        let mut b = B::default();
        granted(&mut b, 0, 1, 0, "a");
        extended(&mut b, 50, 52, 0);
        extended(&mut b, 150, 152, 0);
        let r = check(
            &b.history().calls(),
            &input(vec![
                set(1, "a", 1_000_101),
                ev(10, Change::Clock { node_ms: 1_000_010 }),
                set(51, "a", 1_000_151),
                ev(100, Change::Clock { node_ms: 1_000_100 }),
                set(152, "a", 1_000_252),
            ]),
        );
        assert!(r.findings.is_empty(), "{:?}", r.findings);
    }

    #[test]
    fn an_extend_that_retakes_an_expired_key_is_the_librarys() {
        let mut b = B::default();
        granted(&mut b, 0, 1, 0, "a");
        extended(&mut b, 150, 151, 0);
        // Expired at 100 ms on the node; re-set by the extension at 150 ms.
        let r = check(
            &b.history().calls(),
            &input(vec![
                set(1, "a", 1_000_100),
                ev(120, Change::Del { key: "k".into() }),
                set(150, "a", 1_000_250),
            ]),
        );
        assert_eq!(r.findings.len(), 1, "{:?}", r.findings);
        assert_eq!(r.findings[0].kind, FindingKind::ExtendRetook);
    }
}
