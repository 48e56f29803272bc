//! A lock left held by nobody: a key on a lock node holding a token that no live client believes
//! it holds, for longer than the lock's ttl.
//!
//! The field's bugs of this class are availability bugs, not safety ones: a release cancelled
//! mid-call that clears the library's token while the key stays (redis-py#3847), a `SET NX` that
//! timed out on the client but landed on the server, a watchdog that goes on renewing a lock
//! its client released or gave up. Every client then waits for a lock nobody holds. A key nobody
//! renews expires within its ttl of being set, so a key set or kept by a client that then gave
//! up is the lock's normal cost for at most one ttl; past that, something renewed a lock nobody
//! holds (or set it without expiry).
//!
//! A client believes it holds its token from the grant until it releases (whatever the answer:
//! an abandoned or denied release gave up too), acquires again, is told the lock is not held
//! (an extension or a `held` answer), or its process gave up on an op whose outcome is unknown
//! as its last. A token no grant reported was never believed in. Judged from the nodes' own
//! record: how long the key held the token after its client stopped believing, up to the end of
//! the last lease the node granted it (not when the node happened to expire it).

use crate::check::{Check, CheckKind, Evidence, Judging};
use crate::history::{Call, Nanos, OpKind, Process, Value, F};
use crate::node_record::NodesRecord;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;

/// This check's registry entry ([`crate::registry`]).
pub const KIND: CheckKind = CheckKind {
    id: "orphan_lock",
    name: "lock left held by nobody",
    label: "held by nobody",
    applies: |s| s.lock && s.nodes_record,
    not_applicable: "[expect] orphan_lock reads the lock nodes' own record: it needs [workload] kind = \"lock\" and no [sentinel]",
    expectable: true,
    advisory: false,
    floors: &["grants"],
    judge: Some(judge),
};

/// How far past one ttl a key may outlive its client's belief before it is a finding: the
/// placing of a lease's end by the node's clock readings is good to a few ms.
pub const SLACK_NS: Nanos = 20_000_000;

/// A key that held a token nobody believed in for longer than the ttl.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Orphan {
    pub node: String,
    pub token: String,
    /// The client that was granted the token, if any was.
    pub owner: Option<Process>,
    /// When its client stopped believing (or the key was set, for a token never granted).
    pub from_ns: Nanos,
    /// When the node's last lease for it ended (or the key went away, or the record ended).
    pub until_ns: Nanos,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrphanReport {
    /// Holdings of a lock key on the nodes judged.
    pub holdings: u64,
    /// The longest ttl any acquire or extension asked for: how long a key nobody renews lives.
    pub ttl_ms: u64,
    pub orphans: Vec<Orphan>,
    /// Grants that reported no token (their keys cannot be matched with a client).
    pub untokened_grants: u64,
}

/// Until when each client believed in each token it was granted (`None`: to the end).
fn beliefs(calls: &[Call]) -> (HashMap<String, (Process, Option<Nanos>)>, u64) {
    let mut by_process: HashMap<Process, Vec<&Call>> = HashMap::new();
    for c in calls {
        by_process.entry(c.process).or_default().push(c);
    }
    let mut belief = HashMap::new();
    let mut untokened = 0;
    for (p, calls) in by_process {
        let mut current: Option<String> = None;
        let mut end = |token: &mut Option<String>, at: Nanos| {
            if let Some(t) = token.take() {
                belief.insert(t, (p, Some(at)));
            }
        };
        for c in &calls {
            match (c.f, c.outcome(), c.result()) {
                (F::Release | F::Acquire, _, _) => end(&mut current, c.invoke_ns()),
                (F::Extend, OpKind::Ok, Some(Value::NotHeld))
                | (F::Held, OpKind::Ok, Some(Value::Belief { held: false })) => {
                    end(&mut current, c.complete_ns().unwrap_or(c.invoke_ns()))
                }
                _ => {}
            }
            if let (F::Acquire, OpKind::Ok, Some(Value::Granted(g))) =
                (c.f, c.outcome(), c.result())
            {
                if g.token.is_empty() {
                    untokened += 1;
                } else {
                    current = Some(g.token.clone());
                }
            }
        }
        if let Some(t) = current {
            // A process whose last op's outcome is unknown was given up (and replaced); one
            // whose last op succeeded still held its lock when the history ended.
            let last = calls.last().filter(|c| c.outcome() == OpKind::Info);
            belief.insert(t, (p, last.map(|c| c.invoke_ns())));
        }
    }
    (belief, untokened)
}

pub fn check(calls: &[Call], input: &NodesRecord, end_ns: Nanos) -> OrphanReport {
    let (belief, untokened_grants) = beliefs(calls);
    let ttl_ms = calls
        .iter()
        .filter_map(|c| match &c.invoke.value {
            Value::Lease { ttl_ms, .. } | Value::Extension { ttl_ms, .. } => Some(*ttl_ms),
            _ => None,
        })
        .max()
        .unwrap_or(0);
    let mut report = OrphanReport {
        ttl_ms,
        untokened_grants,
        ..Default::default()
    };
    let rec = &input.record;
    for h in &rec.held {
        report.holdings += 1;
        let (owner, believed_until) = match belief.get(&h.value) {
            Some((p, Some(t))) => (Some(*p), *t),
            // Believed in to the end of the history.
            Some((_, None)) => continue,
            None => (None, h.from_ns),
        };
        let from_ns = believed_until.max(h.from_ns);
        let gone_ns = h.to_ns.unwrap_or(end_ns);
        let until_ns = h
            .leases
            .iter()
            .map(|l| l.until_ns)
            .max()
            .map_or(gone_ns, |lease_end| lease_end.min(gone_ns));
        if rec.blind_during(&h.node, from_ns, until_ns) {
            continue;
        }
        if until_ns.saturating_sub(from_ns) > ttl_ms * 1_000_000 + SLACK_NS {
            report.orphans.push(Orphan {
                node: h.node.clone(),
                token: h.value.clone(),
                owner,
                from_ns,
                until_ns,
            });
        }
    }
    report.orphans.sort_by_key(|o| o.from_ns);
    report
}

fn judge(j: &Judging) -> Check {
    let Some(nodes) = j.nodes else {
        return Check::judged(&KIND, "", 0, Vec::new())
            .unknown("the lock nodes' record was not read");
    };
    let end_ns = j.history.ops.last().map_or(0, |o| o.time_ns);
    entry(&check(j.calls, nodes, end_ns), j.minimums.grants.min(10))
}

pub fn entry(r: &OrphanReport, min_holdings: u64) -> Check {
    let n = r.orphans.len() as u64;
    let details = r
        .orphans
        .iter()
        .take(3)
        .map(|o| {
            let who = match o.owner {
                Some(p) => format!("after {p} released it or gave up at {:.3} s", o.from_ns as f64 / 1e9),
                None => format!(
                    "from {:.3} s, though no client was told it was granted",
                    o.from_ns as f64 / 1e9
                ),
            };
            format!(
                "{} kept token {} {who}, until {:.3} s: {:.0} ms held by nobody, past the {} ms ttl",
                o.node,
                crate::blame::short_token(&o.token),
                o.until_ns as f64 / 1e9,
                (o.until_ns - o.from_ns) as f64 / 1e6,
                r.ttl_ms
            )
        })
        .collect();
    let mut check = Check::judged(
        &KIND,
        "how long each lock key kept a token after its client stopped believing it held it, from the nodes' own record",
        n,
        vec![Evidence::new(
            "holdings on the lock nodes",
            r.holdings,
            min_holdings,
        )],
    )
    .headline(if n == 0 {
        format!(
            "no key outlived its client's belief by more than the {} ms ttl",
            r.ttl_ms
        )
    } else {
        format!(
            "{n} key(s) held by nobody for longer than the {} ms ttl: every client waited for a lock no one held",
            r.ttl_ms
        )
    })
    .details(details)
    .first_violation(
        r.orphans
            .iter()
            .map(|o| o.from_ns + r.ttl_ms * 1_000_000)
            .min(),
    );
    if r.untokened_grants > 0 && n == 0 {
        check = check.unknown("the library reports no token for some grants, so their keys cannot be matched with a client");
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

    use crate::fixture::{node_event as ev, one_node as input};

    /// The node sets `value` at `t_ms` for 100 ms (its clock reads 1 000 000 ms at time 0).
    fn set(t_ms: u64, value: &str) -> NodeEvent {
        ev(
            t_ms,
            Change::Set {
                key: "k".into(),
                value: value.into(),
                expire_at_ms: Some(1_000_000 + t_ms + 100),
            },
        )
    }

    /// The node moves the key's expiry to 100 ms from `t_ms` (a renewal).
    fn renew(t_ms: u64) -> NodeEvent {
        ev(
            t_ms,
            Change::Expire {
                key: "k".into(),
                expire_at_ms: 1_000_000 + t_ms + 100,
            },
        )
    }

    /// Client `c` asks for the 100 ms lease at `t0`.
    fn acquire_invoked(b: &mut B, t0: u64, c: u32) {
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
    }

    fn granted(b: &mut B, t0: u64, t1: u64, c: u32, token: &str) {
        acquire_invoked(b, t0, c);
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

    fn released(b: &mut B, t0: u64, t1: u64, c: u32, kind: OpKind, v: Value) {
        b.push(
            t0 * MS,
            c,
            OpKind::Invoke,
            F::Release,
            Value::Held {
                key: "k".into(),
                fence: 1,
            },
        );
        b.push(t1 * MS, c, kind, F::Release, v);
    }

    /// Client 0's acquire at 0 ms whose reply never came (`info` at 30 ms).
    fn abandoned_acquire() -> B {
        let mut b = B::default();
        acquire_invoked(&mut b, 0, 0);
        b.push(
            30 * MS,
            0,
            OpKind::Info,
            F::Acquire,
            Value::Error("abandoned".into()),
        );
        b
    }

    /// The node sets `value` at `t_ms` for 100 ms from when it applied it (Redis before 7.0).
    fn set_for(t_ms: u64, value: &str) -> NodeEvent {
        ev(
            t_ms,
            Change::SetFor {
                key: "k".into(),
                value: value.into(),
                ttl_ms: 100,
            },
        )
    }

    fn run(b: &B, events: Vec<NodeEvent>) -> OrphanReport {
        let h = b.history();
        check(&h.calls(), &input(events), 2_000 * MS)
    }

    #[test]
    fn a_key_renewed_after_its_release_was_abandoned_is_held_by_nobody() {
        // Granted at 1 ms; the release at 50 ms is abandoned (info) and the key stays; a
        // watchdog renews it at 80, 160 and 240 ms: held by nobody from 50 to 340 ms.
        let mut b = B::default();
        granted(&mut b, 0, 2, 0, "a");
        released(
            &mut b,
            50,
            53,
            0,
            OpKind::Info,
            Value::Error("abandoned".into()),
        );
        granted(&mut b, 400, 401, 1, "b");
        let r = run(
            &b,
            vec![
                set(1, "a"),
                renew(80),
                renew(160),
                renew(240),
                set(400, "b"),
            ],
        );
        assert_eq!(r.orphans.len(), 1, "{r:?}");
        let o = &r.orphans[0];
        assert_eq!((o.from_ns, o.until_ns), (50 * MS, 340 * MS));
        assert_eq!(o.owner, Some(Process::Client(0)));
        let check = entry(&r, 1);
        assert_eq!(check.violations, 1);
        assert!(
            check.details[0].contains("290 ms held by nobody"),
            "{check:?}"
        );
    }

    #[test]
    fn a_key_left_to_expire_within_its_ttl_is_the_locks_normal_cost() {
        // The release is abandoned at 50 ms; nobody renews; the key expires at 101 ms.
        let mut b = B::default();
        granted(&mut b, 0, 2, 0, "a");
        released(
            &mut b,
            50,
            53,
            0,
            OpKind::Info,
            Value::Error("abandoned".into()),
        );
        let r = run(&b, vec![set(1, "a")]);
        assert!(r.orphans.is_empty(), "{r:?}");
        assert_eq!(entry(&r, 1).verdict, crate::Validity::Valid);
    }

    #[test]
    fn a_key_no_client_was_told_of_and_renewed_past_its_ttl_is_held_by_nobody() {
        // An acquire whose reply never came; its key is set at 5 ms and renewed at 90 ms.
        let b = abandoned_acquire();
        let r = run(&b, vec![set(5, "x"), renew(90)]);
        assert_eq!(r.orphans.len(), 1, "{r:?}");
        assert_eq!(r.orphans[0].owner, None);
        assert_eq!(r.orphans[0].from_ns, 5 * MS);
    }

    #[test]
    fn a_relative_expiry_is_anchored_on_the_nodes_clock_not_on_its_late_del() {
        // Redis before 7.0 streams `SET k v PX 100` as given, and its `DEL` when its expiry
        // cycle reaches the key: here 40 ms after the key was due. An acquire whose reply never
        // came: the key lived its 100 ms lease, no more.
        let b = abandoned_acquire();
        let late_del = ev(145, Change::Del { key: "k".into() });
        let r = run(&b, vec![set_for(5, "x"), late_del.clone()]);
        assert!(r.orphans.is_empty(), "{r:?}");
        assert_eq!(r.holdings, 1);
        // The control: read with no expiry, the key is held until the late DEL, past its ttl.
        let unanchored = ev(
            5,
            Change::Set {
                key: "k".into(),
                value: "x".into(),
                expire_at_ms: None,
            },
        );
        let r = run(&b, vec![unanchored, late_del]);
        assert_eq!(r.orphans.len(), 1, "{r:?}");
        // A relative renewal moves the expiry as an absolute one does.
        let r = run(
            &b,
            vec![
                set_for(5, "x"),
                ev(
                    90,
                    Change::ExpireIn {
                        key: "k".into(),
                        ttl_ms: 100,
                    },
                ),
            ],
        );
        assert_eq!(r.orphans.len(), 1, "{r:?}");
        assert_eq!(r.orphans[0].until_ns, 190 * MS);
    }

    #[test]
    fn a_key_kept_while_its_client_believes_is_not_judged() {
        // Renewed while the client holds it (it releases at 300 ms, the key goes at once).
        let mut b = B::default();
        granted(&mut b, 0, 2, 0, "a");
        released(&mut b, 300, 302, 0, OpKind::Ok, Value::Released);
        let r = run(
            &b,
            vec![
                set(1, "a"),
                renew(80),
                renew(160),
                renew(240),
                ev(301, Change::Del { key: "k".into() }),
            ],
        );
        assert!(r.orphans.is_empty(), "{r:?}");
        assert_eq!(r.holdings, 1);
    }

    #[test]
    fn a_holder_still_holding_at_the_end_is_not_judged() {
        let mut b = B::default();
        granted(&mut b, 0, 2, 0, "a");
        let r = run(&b, vec![set(1, "a"), renew(80), renew(160), renew(240)]);
        assert!(r.orphans.is_empty(), "{r:?}");
    }
}
