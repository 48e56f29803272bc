//! Counter workloads on real redis-servers: the fault-free INCR counter must count every
//! acknowledged increment exactly once (final read = acknowledged), and the lock-protected
//! read-modify-write counter under GC pauses must lose increments the counter checker can see.
//!
//! Run: `cargo test -p fencepost --test counter`

use crate::common::*;
use checkers::Validity;

#[test]
fn fault_free_incr_counter_loses_nothing() {
    let results = results_dir("counter");
    for seed in 1..=2 {
        let r = run("counter", seed, 2_000, &results);
        let c = r.checks.counter.as_ref().expect("a counter report");
        assert!(
            c.adds_ok > 50,
            "seed {seed}: too few adds:\n{}",
            r.summary()
        );
        assert_eq!(
            r.checks.verdict("counter").unwrap(),
            Validity::Valid,
            "{}",
            r.summary()
        );
        assert_eq!(c.adds_indeterminate, 0, "{}", r.summary());
        assert_eq!(c.final_value, Some(c.acknowledged), "{}", r.summary());
        assert!(r.met(), "seed {seed}:\n{}", r.summary());
    }
}

#[test]
fn rmw_counter_under_gc_pause_loses_increments() {
    let results = results_dir("counter-rmw");
    let r = run("counter-rmw", 1, 3_500, &results);
    let c = r.checks.counter.as_ref().expect("a counter report");
    assert!(c.lost > 0, "{}", r.summary());
    assert!(
        c.final_value.is_some_and(|v| v < c.acknowledged),
        "{}",
        r.summary()
    );
    // The loss happened while a pause was active or since: attributed to a fault window.
    assert!(
        c.anomalies.iter().any(|a| !a.faults.is_empty()),
        "{}",
        r.summary()
    );
    assert!(r.met(), "{}", r.summary());
}
