//! Blame on recorded node events: one test per answer a correct lock may or may not give.
use super::*;
use crate::history::{Call, OpKind, Process, Value, F};

/// Blame with no faults in the run.
fn check(calls: &[Call], input: &NodesRecord) -> BlameReport {
    super::check(calls, input, &[])
}
use crate::fixture::B;
use crate::history::Grant;
use crate::node_record::{Change, NodeEvent};

const MS: u64 = 1_000_000;

fn ev(t_ms: u64, change: Change) -> NodeEvent {
    crate::fixture::node_event(t_ms, change)
}

/// The node's clock read `node_ms` at `t_ms` (a prompt reading).
fn clock(t_ms: u64, node_ms: u64) -> NodeEvent {
    ev(t_ms, Change::Clock { node_ms, rtt_ns: 0 })
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
    crate::fixture::one_node(events)
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
fn a_lock_key_changed_by_a_command_the_record_cannot_read_blinds_the_node_from_there() {
    // A grant whose SET is on record, then the key is changed by a command the record cannot
    // read (a sorted set's ZADD): the first grant is judged; the second, whose acquire shows on
    // the node only as more such commands, is not — without the unreadable mark it would be a
    // grant the nodes never made — and the node's DEL during nobody's release is no finding.
    let mut b = B::default();
    granted(&mut b, 5, 8, 0, "a");
    granted(&mut b, 100, 102, 1, "b");
    let calls = b.history().calls();
    let events = |unreadable: bool| {
        let mut v = vec![set(6, "a", 1_000_106)];
        if unreadable {
            v.push(ev(
                50,
                Change::Unreadable {
                    key: "k".into(),
                    command: "ZADD".into(),
                },
            ));
        }
        v.push(ev(60, Change::Del { key: "k".into() }));
        v
    };
    let r = check(&calls, &input(events(true)));
    assert!(r.findings.is_empty(), "{:?}", r.findings);
    assert_eq!((r.grants_judged, r.grants_unjudged), (1, 1));
    let control = check(&calls, &input(events(false)));
    assert!(
        !control.findings.is_empty(),
        "the control finds the unmade grant"
    );
}

/// A member of the sorted-set lease at `k`, set at `t_ms` until the node's `expire_at_ms`.
fn member(t_ms: u64, value: &str, expire_at_ms: u64) -> NodeEvent {
    ev(
        t_ms,
        Change::Set {
            key: crate::node_record::member_key("k", value),
            value: value.into(),
            expire_at_ms: Some(expire_at_ms),
        },
    )
}

#[test]
fn a_sorted_set_lease_is_judged_member_by_member() {
    // Symfony's shape: the holder's token and a `__write__` marker, both scored with the lease's
    // end. A grant and a release whose ZREMs land: judged, no finding; the marker nobody holds
    // is no one's.
    let mut b = B::default();
    granted(&mut b, 0, 2, 0, "a");
    release(&mut b, 50, 52, 0, Value::Released);
    let zrem = |t, m: &str| {
        ev(
            t,
            Change::Del {
                key: crate::node_record::member_key("k", m),
            },
        )
    };
    let r = check(
        &b.history().calls(),
        &input(vec![
            member(1, "a", 1_000_101),
            member(1, "__write__", 1_000_101),
            zrem(51, "a"),
            zrem(51, "__write__"),
        ]),
    );
    assert!(r.findings.is_empty(), "{:?}", r.findings);
    assert_eq!(r.grants_judged, 1);
    // A DEL of the whole set (the set's own expiry, or a delete) ends every member: a grant
    // whose member the node had already let go by its return is returned after its lease.
    let mut b = B::default();
    granted(&mut b, 0, 300, 0, "a");
    let r = check(
        &b.history().calls(),
        &input(vec![
            member(1, "a", 1_000_101),
            member(1, "__write__", 1_000_101),
            clock(10, 1_000_010),
            ev(101, Change::Del { key: "k".into() }),
        ]),
    );
    assert_eq!(kinds(&r), vec![FindingKind::GrantAfterLease], "{r:?}");
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
        &input(vec![set(5, "a", 1_000_105), clock(100, 1_000_100)]),
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
            clock(10, 1_000_010),
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
            clock(10, 1_000_010),
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
            clock(20, 1_000_020),
            clock(60, 1_005_060),
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
            clock(50, 1_005_050),
            set(105, "a", 1_002_105),
            clock(150, 1_000_150),
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
            clock(10, 1_000_010),
            set(51, "a", 1_000_151),
            clock(100, 1_000_100),
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

// --- every other part of an answer: validity, extension's validity, release, held ---------

fn granted_until(b: &mut B, t0: u64, t1: u64, c: u32, token: &str, until_ms: u64) {
    granted(b, t0, t1, c, token);
    let last = b.ops.len() - 1;
    if let Value::Granted(g) = &mut b.ops[last].value {
        g.validity_end_ns = until_ms * MS;
    }
}

fn call(b: &mut B, t0: u64, t1: u64, c: u32, f: F, args: Value, result: Value) {
    b.push(t0 * MS, c, OpKind::Invoke, f, args);
    b.push(t1 * MS, c, OpKind::Ok, f, result);
}

fn release(b: &mut B, t0: u64, t1: u64, c: u32, result: Value) {
    let args = Value::Held {
        key: "k".into(),
        fence: 1,
    };
    call(b, t0, t1, c, F::Release, args, result);
}

fn belief(b: &mut B, t0: u64, t1: u64, c: u32, held: bool) {
    call(b, t0, t1, c, F::Held, Value::None, Value::Belief { held });
}

fn kinds(r: &BlameReport) -> Vec<FindingKind> {
    r.findings.iter().map(|f| f.kind).collect()
}

#[test]
fn a_validity_promised_past_the_nodes_lease_is_the_librarys() {
    // Set at 11 ms for 100 ms (until 111 ms); the library promised until 400 ms.
    let mut b = B::default();
    granted_until(&mut b, 10, 12, 0, "a", 400);
    let r = check(&b.history().calls(), &input(vec![set(11, "a", 1_000_111)]));
    assert_eq!(kinds(&r), vec![FindingKind::ValidityBeyondLease], "{r:?}");
    assert!(r.findings[0].detail.contains("289 ms more"), "{r:?}");
    // Within the lease (and within the slack of it): no finding, and the margin is reported.
    for until in [100, 111, 115] {
        let mut b = B::default();
        granted_until(&mut b, 10, 12, 0, "a", until);
        let r = check(&b.history().calls(), &input(vec![set(11, "a", 1_000_111)]));
        assert!(r.findings.is_empty(), "until {until}: {r:?}");
        assert_eq!(r.answers_judged.get("validity"), Some(&1));
        assert_eq!(r.closest_validity_us, Some((111 - until as i64) * 1_000));
    }
}

#[test]
fn a_lease_is_placed_by_the_reading_that_makes_it_longest_when_the_clock_jumped_between() {
    // The node's clock read 1_000_000 at 0 ms and had jumped 5 s forward by the next reading at
    // 100 ms; the key was set at 50 ms (node time 1_000_050) for 100 ms. Placed by the later
    // reading alone the lease would have ended before it began; by the earlier one it ends at
    // 150 ms, and a promise until 150 ms is no finding.
    let mut b = B::default();
    granted_until(&mut b, 49, 51, 0, "a", 150);
    let r = check(
        &b.history().calls(),
        &input(vec![set(50, "a", 1_000_150), clock(100, 1_005_100)]),
    );
    assert!(r.findings.is_empty(), "{r:?}");
    assert_eq!(r.answers_judged.get("validity"), Some(&1));
}

#[test]
fn a_stale_answer_from_a_client_the_harness_froze_is_not_the_librarys() {
    use crate::history::{Fault, FaultWindow};
    let mut b = B::default();
    granted_until(&mut b, 10, 12, 0, "a", 400);
    let frozen = |p: u32| FaultWindow {
        fault: Fault {
            kind: "process-pause".into(),
            target: "client slot 0".into(),
            id: 1,
            detail: String::new(),
            frozen: Some(p),
            bends: None,
        },
        start_ns: 11 * MS,
        stop_ns: 300 * MS,
        healed: true,
    };
    let events = input(vec![set(11, "a", 1_000_111)]);
    let calls = b.history().calls();
    assert!(super::check(&calls, &events, &[frozen(0)])
        .findings
        .is_empty());
    // Another client's stop excuses nothing.
    assert_eq!(
        super::check(&calls, &events, &[frozen(1)]).findings.len(),
        1
    );
}

#[test]
fn an_extensions_validity_past_the_lease_it_was_given_is_the_librarys() {
    // Granted at 1 ms until 101 ms; extended at 50 ms by PEXPIREAT to 150 ms, but the library
    // promised until 600 ms.
    let mut b = B::default();
    granted(&mut b, 0, 1, 0, "a");
    extended(&mut b, 50, 52, 0);
    if let Value::Extended { validity_end_ns } = &mut b.ops.last_mut().unwrap().value {
        *validity_end_ns = 600 * MS;
    }
    let events = || {
        input(vec![
            set(1, "a", 1_000_101),
            ev(
                51,
                Change::Expire {
                    key: "k".into(),
                    expire_at_ms: 1_000_151,
                },
            ),
        ])
    };
    let r = check(&b.history().calls(), &events());
    assert_eq!(
        kinds(&r),
        vec![FindingKind::ExtendValidityBeyondLease],
        "{r:?}"
    );
    // The fixture's own promise (ttl from the call, until 150 ms) is no finding.
    let mut b = B::default();
    granted(&mut b, 0, 1, 0, "a");
    extended(&mut b, 50, 52, 0);
    assert!(check(&b.history().calls(), &events()).findings.is_empty());
}

#[test]
fn released_while_the_key_was_not_the_clients_is_the_librarys() {
    // Expired at 101 ms (the node's DEL); "released" at 200 ms.
    let mut b = B::default();
    granted(&mut b, 0, 1, 0, "a");
    release(&mut b, 200, 201, 0, Value::Released);
    let events = || {
        input(vec![
            set(1, "a", 1_000_101),
            ev(101, Change::Del { key: "k".into() }),
        ])
    };
    let r = check(&b.history().calls(), &events());
    assert_eq!(kinds(&r), vec![FindingKind::ReleaseNotOwned], "{r:?}");
    // Said "not held" then: true, no finding.
    let mut b = B::default();
    granted(&mut b, 0, 1, 0, "a");
    release(&mut b, 200, 201, 0, Value::NotHeld);
    let r = check(&b.history().calls(), &events());
    assert!(r.findings.is_empty(), "{r:?}");
    assert_eq!(r.answers_judged.get("released"), Some(&1));
}

#[test]
fn a_release_whose_delete_landed_is_released() {
    // Released at 50 ms: the release's DEL arrives at 51 ms.
    let events = || {
        input(vec![
            set(1, "a", 1_000_101),
            ev(51, Change::Del { key: "k".into() }),
        ])
    };
    let mut b = B::default();
    granted(&mut b, 0, 1, 0, "a");
    release(&mut b, 50, 52, 0, Value::Released);
    assert!(check(&b.history().calls(), &events()).findings.is_empty());
    // "Not released" while its own DEL removed the key: the library's.
    let mut b = B::default();
    granted(&mut b, 0, 1, 0, "a");
    release(&mut b, 50, 52, 0, Value::NotHeld);
    let r = check(&b.history().calls(), &events());
    assert_eq!(kinds(&r), vec![FindingKind::ReleaseDenied], "{r:?}");
}

#[test]
fn a_del_within_a_slow_clock_readings_round_trip_of_the_expiry_is_the_node_expiring_it() {
    // The key expires at node time 1_000_060 ms; a reading at 40 ms says 1_000_030 (the node
    // answered TIME late: its round trip took 12 ms), so the expiry looks like 70 ms, and a
    // DEL arriving at 62 ms (8 ms before that) is the node expiring the key, not the release.
    let events = |rtt_ms: u64| {
        input(vec![
            set(1, "a", 1_000_060),
            ev(
                40,
                Change::Clock {
                    node_ms: 1_000_030,
                    rtt_ns: rtt_ms * MS,
                },
            ),
            ev(62, Change::Del { key: "k".into() }),
        ])
    };
    let mut b = B::default();
    granted_until(&mut b, 0, 1, 0, "a", 50);
    release(&mut b, 61, 63, 0, Value::NotHeld);
    let r = check(&b.history().calls(), &events(12));
    assert!(r.findings.is_empty(), "{r:?}");
    // The same DEL after a prompt reading (1 ms round trip): 8 ms before the expiry is a
    // delete, and "not released" is the library's.
    let r = check(&b.history().calls(), &events(1));
    assert_eq!(kinds(&r), vec![FindingKind::ReleaseDenied], "{r:?}");
}

/// A clock fault that bent `node`'s clock from `from_ms`, recorded as started at `start_ms`
/// (once confirmed) and stopped at `stop_ms`.
fn bend(node: &str, from_ms: u64, start_ms: u64, stop_ms: u64) -> crate::history::FaultWindow {
    use crate::history::{BentClocks, Fault, FaultWindow};
    FaultWindow {
        fault: Fault {
            kind: "clock".into(),
            target: node.into(),
            id: 1,
            detail: String::new(),
            frozen: None,
            bends: Some(BentClocks {
                nodes: vec![node.into()],
                from_ns: from_ms * MS,
            }),
        },
        start_ns: start_ms * MS,
        stop_ns: stop_ms * MS,
        healed: true,
    }
}

#[test]
fn a_nodes_record_is_not_judged_from_a_clock_bend_until_its_key_settles_again() {
    // Found by explore: a node's clock strobed (a step every ~140 ms, faster than the record
    // reads it), the key expired early on the node when a release's GET touched it, and the
    // node's DEL landed during the release, which said "not released" — true: the key had
    // expired. Read without the bend, that DEL was the release's own.
    let events = input(vec![
        set(1, "a", 1_000_101),
        clock(40, 1_000_040),
        ev(51, Change::Del { key: "k".into() }),
        set(400, "b", 1_000_500),
    ]);
    let mut b = B::default();
    granted(&mut b, 0, 1, 0, "a");
    release(&mut b, 50, 52, 0, Value::NotHeld);
    let calls = b.history().calls();
    assert_eq!(
        kinds(&check(&calls, &events)),
        vec![FindingKind::ReleaseDenied]
    );
    // Bent from 45 ms (recorded as started at 60 ms, once confirmed) to 100 ms: not judged,
    // and blind until the next SET at 400 ms settles the key.
    let w = [bend("n1", 45, 60, 100)];
    let bent = events.bent_by(&w);
    let r = super::check(&calls, &bent, &w);
    assert!(r.findings.is_empty(), "{r:?}");
    assert!(bent.record.blind_during("n1", 200 * MS, 300 * MS));
    assert!(!bent.record.blind_during("n1", 401 * MS, 450 * MS));
    // A bend of another node's clock excuses nothing on this one.
    let other = bend("n2", 45, 60, 100);
    let r = super::check(
        &calls,
        &events.bent_by(std::slice::from_ref(&other)),
        &[other],
    );
    assert_eq!(kinds(&r), vec![FindingKind::ReleaseDenied]);
}

#[test]
fn a_grant_on_a_node_whose_clock_a_fault_bent_is_made_but_its_timing_not_judged() {
    // The node's clock read +1.5 s at 5 ms (a strobe): placed by that reading, the lease of the
    // key set at 9 ms for 100 ms ended long before the validity the library promised.
    let events = input(vec![clock(5, 1_001_505), set(9, "a", 1_000_109)]);
    let mut b = B::default();
    granted(&mut b, 8, 12, 0, "a");
    let calls = b.history().calls();
    assert_eq!(
        kinds(&check(&calls, &events)),
        vec![FindingKind::ValidityBeyondLease]
    );
    let w = [bend("n1", 2, 4, 50)];
    let r = super::check(&calls, &events.bent_by(&w), &w);
    assert!(r.findings.is_empty(), "{r:?}");
}

#[test]
fn a_key_that_expired_while_its_node_was_stopped_is_placed_by_the_reading_before_its_set() {
    // Found by explore (redis-py, node-pause of every node): the key was set at 9 ms for
    // 100 ms, the last clock reading came at 5 ms, then the node stopped (no TIME answers) until
    // 2000 ms. On resuming, the release's GET found the key expired and the node's DEL arrived
    // during the release, which said "not released": true. Placed by the reading just before
    // the SET, that DEL is the node expiring the key.
    // The reading after the pause shows the clock ran steadily throughout.
    let events = |after_ms: u64| {
        input(vec![
            clock(5, 1_000_005),
            set(9, "a", 1_000_109),
            ev(2000, Change::Del { key: "k".into() }),
            clock(2001, after_ms),
        ])
    };
    let mut b = B::default();
    granted(&mut b, 8, 10, 0, "a");
    release(&mut b, 30, 2001, 0, Value::NotHeld);
    let r = check(&b.history().calls(), &events(1_002_001));
    assert!(r.findings.is_empty(), "{r:?}");
    assert_eq!(r.answers_judged.get("released"), Some(&1));
    // Had the clock jumped between the readings, the one before the SET says nothing: the DEL
    // during the call is the release's, as before.
    let r = check(&b.history().calls(), &events(1_007_001));
    assert_eq!(kinds(&r), vec![FindingKind::ReleaseDenied], "{r:?}");
}

#[test]
fn a_release_is_not_judged_while_a_nodes_stream_was_lost() {
    let mut b = B::default();
    granted(&mut b, 0, 1, 0, "a");
    release(&mut b, 200, 201, 0, Value::Released);
    let r = check(
        &b.history().calls(),
        &input(vec![set(1, "a", 1_000_101), ev(150, Change::Lost)]),
    );
    assert!(r.findings.is_empty(), "{r:?}");
    assert_eq!(r.answers_judged.get("released"), None);
}

#[test]
fn held_after_the_lease_the_nodes_granted_is_the_librarys() {
    // Leased until 101 ms. "Held" at 50 ms is true; at 300 ms it is not.
    let events = || input(vec![set(1, "a", 1_000_101)]);
    let mut b = B::default();
    granted(&mut b, 0, 1, 0, "a");
    belief(&mut b, 50, 51, 0, true);
    belief(&mut b, 300, 301, 0, true);
    belief(&mut b, 400, 401, 0, false);
    let r = check(&b.history().calls(), &events());
    assert_eq!(kinds(&r), vec![FindingKind::HeldAfterLease], "{r:?}");
    assert_eq!(r.findings[0].invoke_ns, 300 * MS);
    assert_eq!(r.answers_judged.get("held"), Some(&2));
}

#[test]
fn held_while_a_node_clock_jump_ended_the_lease_early_is_not_the_librarys() {
    // Leased until 101 ms by the node's clock as it ran when it granted it; at 30 ms the clock
    // jumps 5 s and the node expires the key (its DEL at 31 ms). "Held" at 60 ms is within the
    // lease the node granted: the node broke it, not the library.
    let mut b = B::default();
    granted(&mut b, 0, 1, 0, "a");
    belief(&mut b, 60, 61, 0, true);
    let r = check(
        &b.history().calls(),
        &input(vec![
            set(1, "a", 1_000_101),
            clock(20, 1_000_020),
            clock(30, 1_005_030),
            ev(31, Change::Del { key: "k".into() }),
        ]),
    );
    assert!(r.findings.is_empty(), "{r:?}");
}

#[test]
fn a_validity_of_zero_says_the_lease_is_over_and_promises_nothing() {
    // Set at 11 ms for 100 ms (until 111 ms); the reply came late, at 400 ms, with validity 0.
    let mut b = B::default();
    granted_until(&mut b, 10, 400, 0, "a", 400);
    let r = check(&b.history().calls(), &input(vec![set(11, "a", 1_000_111)]));
    assert!(
        !kinds(&r).contains(&FindingKind::ValidityBeyondLease),
        "{r:?}"
    );
}
