//! A real Redis Cluster: six redis-servers, each in a network namespace of its own, formed,
//! checked and torn down (needs root for the namespaces, like the cluster scenarios).

use fencepost::cluster::redis_cluster::{self, ClusterSpec};
use fencepost::cluster::Cluster;
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cluster_forms_within_5_s_serves_by_slot_and_leaves_nothing() {
    let starts: usize = std::env::var("FENCEPOST_CLUSTER_STARTS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(2);
    let key = "fencepost:lock:{guard}";
    for i in 0..starts {
        let mut cluster = Cluster::new(&format!("redis-cluster-test-{i}")).unwrap();
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
        let other = (0..6).find(|&n| n != primary && !replicas.contains(&n)).unwrap();
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
