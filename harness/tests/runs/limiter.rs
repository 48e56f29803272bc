//! Rate limiters on real redis-servers, without faults: the fixed window lets more than `limit`
//! through around a window boundary (found by the window checker); the sliding window never does.
//!
//! Run: `cargo test -p fencepost --test limiter`

use crate::common::*;
use checkers::Validity;

#[test]
fn fixed_window_over_admits_at_the_boundary_without_faults() {
    let results = results_dir("limiter-fixed");
    let r = run("limiter-fixed", 1, 6_000, &results);
    let w = r.checks.window.as_ref().expect("a window report");
    assert!(r.checks.counts.faults == 0, "no fault was injected");
    assert!(w.max_in_window > w.limit, "{}", r.summary());
    assert_eq!(r.checks.verdict("rate_window").unwrap(), Validity::Invalid);
    assert!(r.met(), "{}", r.summary());
}

#[test]
fn sliding_window_keeps_its_limit_without_faults() {
    let results = results_dir("limiter-sliding");
    let r = run("limiter-sliding", 1, 4_000, &results);
    let w = r.checks.window.as_ref().expect("a window report");
    assert!(
        w.rejected > 0,
        "the traffic must exceed the limit to test it:\n{}",
        r.summary()
    );
    assert!(w.max_in_window <= w.limit, "{}", r.summary());
    assert!(r.met(), "{}", r.summary());
}
