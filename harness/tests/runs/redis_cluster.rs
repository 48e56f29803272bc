//! A real Redis Cluster: six redis-servers, each in a network namespace of its own, formed,
//! checked and torn down (needs root for the namespaces, like the cluster scenarios).

use crate::common::*;
use fencepost::nodes::redis_cluster::{self, ClusterSpec};
use fencepost::nodes::NodeSet;
use std::time::{Duration, Instant};

const SPEC: ClusterSpec = ClusterSpec {
    shards: 3,
    replicas: 1,
    node_timeout_ms: 1000,
};

/// The harness-side interfaces this process's private networks put in the root namespace.
fn our_interfaces() -> Vec<String> {
    let out = std::process::Command::new("ip")
        .args(["-o", "link", "show"])
        .output()
        .expect("`ip` runs (iproute2)");
    let prefix = format!("fp{}x", std::process::id());
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| l.split(": ").nth(1))
        .map(|n| n.split('@').next().unwrap_or(n).to_string())
        .filter(|n| n.starts_with(&prefix))
        .collect()
}

#[test]
fn a_cluster_forms_within_5_s_serves_by_slot_and_leaves_nothing() {
    // Alone: the other tests' clusters would show in the interface count.
    let _serial = SERIAL.lock().unwrap_or_else(|p| p.into_inner());
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
        .block_on(forms_serves_and_leaves_nothing());
}

async fn forms_serves_and_leaves_nothing() {
    let starts: usize = std::env::var("FENCEPOST_CLUSTER_STARTS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(2);
    let key = "fencepost:lock:{guard}";
    for i in 0..starts {
        let mut cluster = NodeSet::new(&format!("redis-cluster-test-{i}")).unwrap();
        let began = Instant::now();
        let map = redis_cluster::form(&mut cluster, SPEC, key)
            .await
            .unwrap_or_else(|e| panic!("start {i}: {e:#}"));
        let total = began.elapsed();
        eprintln!(
            "start {i}: healthy {} ms after the first redis-server, {} ms with the network",
            map.formed_ms,
            total.as_millis()
        );
        assert!(
            map.formed_ms <= 5000,
            "start {i}: cluster_state:ok after {} ms",
            map.formed_ms
        );
        assert_eq!(our_interfaces().len(), 1, "one harness veth while it runs");

        // A write through the cluster client lands on the primary that owns the key's slot
        // and reaches its replica.
        let mut conn = workloads::conn::connect_cluster(&map.client_urls(), Duration::from_secs(1))
            .await
            .expect("cluster client connects");
        let _: () = redis::cmd("SET")
            .arg(key)
            .arg("token-1")
            .query_async(&mut conn)
            .await
            .expect("SET through the cluster client");
        let (primary, replicas) = map.owner(map.slot, 0..6).await.expect("slot owner");
        assert_eq!(replicas.len(), 1);
        let on_primary: Option<String> = map
            .query(primary, redis::cmd("GET").arg(key))
            .await
            .unwrap();
        assert_eq!(on_primary.as_deref(), Some("token-1"));
        let _: () = map
            .query(primary, redis::cmd("WAIT").arg(1).arg(1000))
            .await
            .map(|_: i64| ())
            .unwrap();
        let other = (0..6)
            .find(|&n| n != primary && !replicas.contains(&n))
            .unwrap();
        let moved = map
            .query::<Option<String>>(other, redis::cmd("GET").arg(key))
            .await
            .expect_err("another shard's primary redirects");
        assert!(moved.to_lowercase().contains("moved"), "{moved}");

        cluster.stop();
        assert!(
            our_interfaces().is_empty(),
            "start {i}: interfaces left: {:?}",
            our_interfaces()
        );
    }
}

/// The minority primary acknowledges increments its promoted replica never gets: lost when it
/// rejoins; with WAIT 1 after each INCR, none of the acknowledged ones is.
#[test]
fn a_partitioned_primary_loses_acknowledged_increments_unless_clients_wait_for_the_replica() {
    let results = results_dir("cluster-counter-partition");
    let r = run("cluster-counter-partition", 1, 10_000, &results);
    let c = r.checks.counter.as_ref().expect("counter judged");
    assert!(c.adds_ok >= 1_000, "{}", r.summary());
    assert!(c.lost > 0, "{}", r.summary());
    assert_eq!(
        r.checks.faults.took_effect.get("cluster-partition"),
        Some(&1),
        "{}",
        r.summary()
    );
    assert!(r.met(), "{}", r.summary());

    let w = run("cluster-counter-partition-wait", 1, 10_000, &results);
    let c = w.checks.counter.as_ref().expect("counter judged");
    assert_eq!(c.lost, 0, "{}", w.summary());
    assert!(
        c.adds_indeterminate > 0,
        "the cut primary's increments are info: {}",
        w.summary()
    );
    assert!(w.met(), "{}", w.summary());
}

/// The lock's slot moves between primaries, and its shard switches over, while clients run:
/// the lock stays exclusive, and the moves really happened.
#[test]
fn a_lock_stays_exclusive_while_its_slot_migrates() {
    let results = results_dir("cluster-lock-resharding");
    let r = run("cluster-lock-resharding", 1, 7_000, &results);
    let moved = r.checks.faults.took_effect.get("cluster-reshard").copied();
    assert!(moved >= Some(2), "{:?}\n{}", r.checks.faults, r.summary());
    assert!(
        r.checks.faults.took_effect.get("cluster-failover") >= Some(&1),
        "{}",
        r.summary()
    );
    assert!(r.checks.exclusion.overlaps.is_empty(), "{}", r.summary());
    assert!(r.met(), "{}", r.summary());
}
