//! A run's signature: a small set of words for what happened in it, so explore can tell a run
//! that went somewhere new from one that repeated what it had seen.
//!
//! The words come from the run's own record, never from the schedule that was drawn (two
//! schedules that did the same thing should look the same): what each check concluded and how
//! much it found; which of the library's answers blame judged and how close a promised validity
//! came to the nodes' lease; which faults took effect; and the events the nodes' record shows
//! against the fault windows and the calls in flight — a key expiring on a node with no release
//! running (and which fault was open then), a renewal the node applied with no extend running, a
//! key set while a fault was open, a call that ended `info` or `fail` during a fault. Counts are
//! kept as powers of two, so more of the same is not new.

use crate::judge::RunResult;
use checkers::history::{Call, FaultWindow, Nanos, Op};
use checkers::node_record::{Change, NodeEvent};
use checkers::{OpKind, Value, F};
use std::collections::BTreeSet;
use std::path::Path;

/// The words of one run.
pub type Signature = BTreeSet<String>;

/// `n` as its power of two: 1, 2, 4, 8, …
fn bucket(n: u64) -> u64 {
    if n == 0 {
        0
    } else {
        1 << (63 - n.leading_zeros())
    }
}

/// How close a promised validity came to the nodes' lease, in µs (negative: past it).
fn slack(us: i64) -> &'static str {
    match us {
        i64::MIN..0 => "past",
        0..1_000 => "<1ms",
        1_000..10_000 => "<10ms",
        10_000..100_000 => "<100ms",
        100_000..1_000_000 => "<1s",
        _ => ">=1s",
    }
}

/// Reads a judged run's folder and returns its signature. A history or a node journal that
/// cannot be read leaves only the words the verdict gives (and says so in one word).
pub fn of_run(result: &RunResult) -> Signature {
    let dir = Path::new(&result.run_dir);
    let ops = read_history(&dir.join(crate::store::HISTORY));
    let events = std::fs::read_to_string(dir.join(crate::store::NODE_EVENTS))
        .ok()
        .and_then(|t| checkers::node_record::parse(&t).ok());
    let mut words = from_result(result);
    match ops {
        Some(ops) => words.extend(from_record(&ops, events.as_deref().unwrap_or(&[]))),
        None => {
            words.insert("history:unreadable".into());
        }
    }
    words
}

fn read_history(path: &Path) -> Option<Vec<Op>> {
    let text = std::fs::read_to_string(path).ok()?;
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str::<Op>(l).ok())
        .collect()
}

/// The words the verdict gives: each check's conclusion and count, blame's findings, the
/// answers it judged and its slack, the faults that took effect or failed.
pub fn from_result(r: &RunResult) -> Signature {
    let mut w = Signature::new();
    for c in r.checks.checks.iter().filter(|c| !c.advisory) {
        w.insert(format!("check:{}={:?}", c.id, c.verdict).to_lowercase());
        if c.violations > 0 {
            w.insert(format!("violations:{}>={}", c.id, bucket(c.violations)));
        }
    }
    if let Some(b) = &r.checks.blame {
        for f in &b.findings {
            w.insert(format!("finding:{}", f.kind.name()));
        }
        for (answer, n) in &b.answers_judged {
            w.insert(format!("answered:{answer}>={}", bucket(*n)));
        }
        if let Some(us) = b.closest_validity_us {
            w.insert(format!("slack:{}", slack(us)));
        }
    }
    for (kind, n) in &r.checks.faults.took_effect {
        w.insert(format!("fault:{kind}>={}", bucket(*n)));
    }
    for kind in r.checks.faults.failed.keys() {
        w.insert(format!("fault-failed:{kind}"));
    }
    w
}

/// The words of the record: node events against fault windows and calls in flight.
pub fn from_record(ops: &[Op], events: &[NodeEvent]) -> Signature {
    let history = checkers::History::new(ops.to_vec());
    let windows = history.fault_windows();
    let calls = history.calls();
    let mut w = Signature::new();
    let open_at = |t: Nanos| -> Vec<&str> {
        let mut kinds: Vec<&str> = windows
            .iter()
            .filter(|fw| fw.start_ns <= t && t <= fw.stop_ns)
            .map(|fw: &FaultWindow| fw.fault.kind.split('/').next().unwrap_or_default())
            .collect();
        kinds.sort();
        kinds.dedup();
        kinds
    };
    let during = |what: &str, t: Nanos, w: &mut Signature| {
        let open = open_at(t);
        if open.is_empty() {
            w.insert(format!("{what}:no-fault"));
        }
        for k in open {
            w.insert(format!("{what}:during-{k}"));
        }
    };
    let running = |f: F, t: Nanos| calls.iter().any(|c| c.f == f && in_flight(c, t));
    for e in events {
        match &e.change {
            Change::Del { .. } if !running(F::Release, e.time_ns) => {
                during("node-expired", e.time_ns, &mut w)
            }
            Change::Expire { .. } | Change::ExpireIn { .. } if !running(F::Extend, e.time_ns) => {
                during("node-renewed-unasked", e.time_ns, &mut w)
            }
            Change::Set { .. } | Change::SetFor { .. }
                if !running(F::Acquire, e.time_ns) && !running(F::Extend, e.time_ns) =>
            {
                during("node-set-unasked", e.time_ns, &mut w)
            }
            Change::Set { .. } | Change::SetFor { .. } => during("node-set", e.time_ns, &mut w),
            Change::Lost => during("node-lost", e.time_ns, &mut w),
            _ => {}
        }
    }
    for c in &calls {
        if let Some(part) = grant_took(c) {
            during(&format!("grant-took-{part}-ttl"), c.invoke_ns(), &mut w);
        }
        if let Some(part) = reply_after_set(c, events) {
            during(
                &format!("grant-replied-{part}-ttl-after-set"),
                c.invoke_ns(),
                &mut w,
            );
        }
        let outcome = match c.outcome() {
            OpKind::Info => "info",
            OpKind::Fail => "fail",
            _ => continue,
        };
        let what = format!("{}-{outcome}", format!("{:?}", c.f).to_lowercase());
        during(&what, c.invoke_ns(), &mut w);
    }
    w
}

/// How much of its lease a granted acquire spent before it returned (`<1/10`, `<1/2`, `<1`,
/// `>=1`): a grant that returns late is the step before one that returns after its lease.
fn grant_took(c: &Call) -> Option<&'static str> {
    let (Value::Lease { ttl_ms, .. }, Some(Value::Granted(_))) = (&c.invoke.value, c.result())
    else {
        return None;
    };
    let took_ns = c.complete_ns()?.saturating_sub(c.invoke_ns());
    Some(lease_share(took_ns, *ttl_ms))
}

/// `ns` as a share of a lease of `ttl_ms`: `<1/10`, `<1/2`, `<1` or `>=1`.
fn lease_share(ns: Nanos, ttl_ms: u64) -> &'static str {
    let ttl_ns = ttl_ms.saturating_mul(1_000_000).max(1);
    match ns.saturating_mul(10) / ttl_ns {
        0 => "<1/10",
        1..5 => "<1/2",
        5..10 => "<1",
        _ => ">=1",
    }
}

/// How much of its lease a granted acquire's key had already lived on a node when the answer
/// reached the client — from the first node `SET` of the grant's token inside the call to the
/// answer, as a share of the lease (`<1/10`, `<1/2`, `<1`, `>=1`). A grant that took long
/// because its request was late (the node set the key just before answering) is not this; one
/// whose answer was late is, and the answer that comes later still comes after the lease:
/// the steps by which a search walks a delayed reply up to a late grant.
fn reply_after_set(c: &Call, events: &[NodeEvent]) -> Option<&'static str> {
    let (Value::Lease { ttl_ms, .. }, Some(Value::Granted(g))) = (&c.invoke.value, c.result())
    else {
        return None;
    };
    let end = c.complete_ns()?;
    let from = c.invoke_ns().saturating_sub(checkers::blame::EARLY_NS);
    let set_ns = events
        .iter()
        .filter(|e| from <= e.time_ns && e.time_ns <= end)
        .filter(|e| match &e.change {
            Change::Set { value, .. } | Change::SetFor { value, .. } => *value == g.token,
            _ => false,
        })
        .map(|e| e.time_ns)
        .min()?;
    Some(lease_share(end.saturating_sub(set_ns), *ttl_ms))
}

/// Whether the call could have caused a node change seen at `t` (its effect may arrive a little
/// after it returns).
fn in_flight(c: &Call, t: Nanos) -> bool {
    let end = c.complete_ns().map_or(Nanos::MAX, |e| {
        e.saturating_add(checkers::blame::ARRIVAL_NS)
    });
    c.invoke_ns().saturating_sub(checkers::blame::EARLY_NS) <= t && t <= end
}

#[cfg(test)]
mod tests {
    use super::*;
    use checkers::history::{Fault, Process};

    fn op(index: u64, t_ms: u64, process: Process, kind: OpKind, f: F, value: Value) -> Op {
        Op {
            index,
            time_ns: t_ms * 1_000_000,
            process,
            kind,
            f,
            value,
        }
    }

    fn fault(id: u64) -> Value {
        Value::Fault(Fault {
            kind: "gc-pause".into(),
            target: "client 0".into(),
            id,
            detail: String::new(),
            frozen: None,
            bends: None,
        })
    }

    fn event(t_ms: u64, change: Change) -> NodeEvent {
        NodeEvent {
            time_ns: t_ms * 1_000_000,
            node: "n1".into(),
            change,
        }
    }

    #[test]
    fn an_expiry_with_no_release_running_is_named_with_the_fault_open_then() {
        let c = Process::Client(0);
        let ops = vec![
            op(0, 10, Process::Nemesis, OpKind::Info, F::Start, fault(1)),
            op(1, 20, c, OpKind::Invoke, F::Release, Value::None),
            op(2, 30, c, OpKind::Info, F::Release, Value::None),
            op(3, 2000, Process::Nemesis, OpKind::Info, F::Stop, fault(1)),
        ];
        let del = || Change::Del { key: "k".into() };
        // At 25 ms the release is running; at 1000 ms nothing is, inside the pause; at 3000 ms
        // outside it.
        let w = from_record(
            &ops,
            &[event(25, del()), event(1000, del()), event(3000, del())],
        );
        assert!(w.contains("node-expired:during-gc-pause"), "{w:?}");
        assert!(w.contains("node-expired:no-fault"), "{w:?}");
        assert!(w.contains("release-info:during-gc-pause"), "{w:?}");
        // The same events twice make no new word.
        let twice = from_record(&ops, &[event(1000, del()), event(1100, del())]);
        assert!(twice.is_subset(&w));
    }

    /// An acquire's lease of one second on `k`.
    fn lease() -> Value {
        Value::Lease {
            key: "k".into(),
            ttl_ms: 1000,
        }
    }

    /// A grant of `token`.
    fn granted(token: &str) -> Value {
        Value::Granted(checkers::history::Grant {
            fence: 1,
            token: token.into(),
            validity_end_ns: 1,
        })
    }

    #[test]
    fn a_grant_that_spent_most_of_its_lease_is_named() {
        let c = Process::Client(1);
        let ops = vec![
            op(0, 0, c, OpKind::Invoke, F::Acquire, lease()),
            op(1, 700, c, OpKind::Ok, F::Acquire, granted("t")),
            op(2, 800, c, OpKind::Invoke, F::Acquire, lease()),
            op(3, 850, c, OpKind::Ok, F::Acquire, granted("t")),
            op(4, 900, c, OpKind::Invoke, F::Acquire, lease()),
            op(5, 2000, c, OpKind::Ok, F::Acquire, Value::Denied),
        ];
        let w = from_record(&ops, &[]);
        assert!(w.contains("grant-took-<1-ttl:no-fault"), "{w:?}");
        assert!(w.contains("grant-took-<1/10-ttl:no-fault"), "{w:?}");
        assert!(
            !w.iter().any(|x| x.contains(">=1")),
            "a denial is no grant: {w:?}"
        );
    }

    #[test]
    fn a_grant_whose_answer_came_late_after_the_node_set_its_key_is_named() {
        let c = Process::Client(2);
        let set = |t_ms: u64, token: &str| {
            event(
                t_ms,
                Change::Set {
                    key: "k".into(),
                    value: token.into(),
                    expire_at_ms: None,
                },
            )
        };
        // Both calls take 700 ms: the first because its answer was late (the node set the key
        // at 10 ms), the second because its request was (set at 2690 ms, answered at 2700).
        let ops = vec![
            op(0, 0, c, OpKind::Invoke, F::Acquire, lease()),
            op(1, 700, c, OpKind::Ok, F::Acquire, granted("a")),
            op(2, 2000, c, OpKind::Invoke, F::Acquire, lease()),
            op(3, 2700, c, OpKind::Ok, F::Acquire, granted("b")),
        ];
        let w = from_record(&ops, &[set(10, "a"), set(2690, "b")]);
        assert!(
            w.contains("grant-replied-<1-ttl-after-set:no-fault"),
            "{w:?}"
        );
        assert!(
            w.contains("grant-replied-<1/10-ttl-after-set:no-fault"),
            "{w:?}"
        );
        assert_eq!(
            w.iter().filter(|x| x.starts_with("grant-replied")).count(),
            2,
            "{w:?}"
        );
        // Another client's token set inside the call is not this grant's.
        let other = from_record(&ops[..2], &[set(10, "z")]);
        assert!(
            !other.iter().any(|x| x.starts_with("grant-replied")),
            "{other:?}"
        );
    }

    #[test]
    fn counts_are_powers_of_two() {
        assert_eq!(bucket(0), 0);
        assert_eq!(bucket(1), 1);
        assert_eq!(bucket(3), 2);
        assert_eq!(bucket(1000), 512);
        assert_eq!(slack(-5), "past");
        assert_eq!(slack(5_000), "<10ms");
    }
}
