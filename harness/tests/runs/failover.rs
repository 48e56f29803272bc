//! Sentinel failover on real processes: a primary, a replica (replicating through the fault proxy)
//! and three Sentinels. The failover scenario must show a double grant, and every redis-server and
//! redis-sentinel the run started must be gone when it returns.
//!
//! Run: `cargo test -p fencepost --test failover` (about 25 s)

use crate::common::*;

#[test]
fn failover_double_grant_and_every_process_cleaned_up() {
    let results = results_dir("failover");
    let r = run("failover", 1, 20_000, &results);
    let nodes: Vec<fencepost::nodes::NodeInfo> = serde_json::from_str(
        &std::fs::read_to_string(std::path::Path::new(&r.run_dir).join("nodes.json")).unwrap(),
    )
    .unwrap();
    let names: Vec<&str> = nodes.iter().map(|n| n.name.as_str()).collect();
    for want in ["n1", "n2", "resource", "s1", "s2", "s3"] {
        assert!(names.contains(&want), "{want} missing from {names:?}");
    }
    for n in &nodes {
        let pid = n.pid.expect("a pid");
        assert!(!alive(pid), "{} (pid {pid}) outlived the run", n.name);
    }
    assert!(!r.checks.exclusion.overlaps.is_empty(), "{}", r.summary());
    assert!(r.met(), "{}", r.summary());
}
