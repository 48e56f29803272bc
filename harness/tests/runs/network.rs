//! Network faults through the fault proxy on real redis-servers: the delayed packet (caught only
//! by the resource), its fenced twin, and partitions that drop packets (safe, with `info` ops).

use crate::common::*;
use checkers::Validity;

#[test]
fn delayed_write_is_invisible_to_beliefs_but_caught_by_the_resource() {
    let results = results_dir("network-delay");
    for seed in 1..=2 {
        let r = run("network-delay", seed, 3_000, &results);
        assert!(r.met(), "seed {seed}:\n{}", r.summary());
        assert_eq!(
            r.checks.verdict("mutual_exclusion").unwrap(),
            Validity::Valid,
            "beliefs never overlapped"
        );
        assert!(!r.checks.fencing.as_ref().unwrap().stale_accepted.is_empty());
        assert!(
            r.checks.counts.info >= 1,
            "the held-back write times out at the client: info"
        );
        assert_eq!(r.checks.counts.fail, 0, "a timeout is never fail");
    }
}

#[test]
fn fencing_rejects_the_delayed_write() {
    let results = results_dir("network-delay-fenced");
    let r = run("network-delay-fenced", 1, 3_000, &results);
    assert!(r.met(), "{}", r.summary());
    assert!(!r.checks.fencing.as_ref().unwrap().prevented.is_empty());
}

#[test]
fn partitions_drop_packets_and_the_lock_stays_safe() {
    let results = results_dir("partition");
    let r = run("partition", 1, 4_000, &results);
    assert!(r.met(), "{}", r.summary());
    assert!(
        r.checks.counts.faults >= 2,
        "both partition shapes fired: {}",
        r.summary()
    );
    // Every fault was healed: each start has its stop.
    let text =
        std::fs::read_to_string(std::path::Path::new(&r.run_dir).join("history.jsonl")).unwrap();
    let history = checkers::history::parse_jsonl("h", &text).unwrap().history;
    assert!(
        history.fault_windows().iter().all(|w| w.healed),
        "a partition was left unhealed"
    );
}

#[test]
fn latency_spikes_and_resets_end_calls_info_and_the_lock_stays_safe() {
    let results = results_dir("flaky-network");
    let r = run("flaky-network", 1, 4_000, &results);
    assert!(r.met(), "{}", r.summary());
    assert_eq!(
        r.checks.counts.fail,
        0,
        "timeouts and resets are info, never fail: {}",
        r.summary()
    );
    let kinds: std::collections::BTreeSet<String> = {
        let text = std::fs::read_to_string(std::path::Path::new(&r.run_dir).join("history.jsonl"))
            .unwrap();
        let h = checkers::history::parse_jsonl("h", &text).unwrap().history;
        h.fault_windows()
            .into_iter()
            .map(|w| w.fault.kind)
            .collect()
    };
    assert!(
        kinds.contains("latency") && kinds.contains("reset-peer"),
        "{kinds:?}"
    );
    // Clients reconnected after the resets: grants keep coming after the last fault.
    assert!(r.checks.counts.grants > 20, "{}", r.summary());
}
