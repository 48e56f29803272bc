//! Redlock on real redis-servers: the client's majority arithmetic, extension and release on
//! five nodes, its fences, and the scenarios that break it (a client pause, a node's clock
//! jump) next to the ones that must not break (no faults; the fenced twin).

use crate::common::*;
use checkers::{History, Validity, Value};
use fencepost::nodes::node::{NodeConfig, Persistence};
use fencepost::nodes::NodeSet;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use std::time::Duration;
use workloads::clock::Clock;
use workloads::lock::redlock::{Extension, Redlock, RedlockConfig};
use workloads::lock::{Acquired, LeaseConfig, Released};

fn five_nodes(tag: &str) -> NodeSet {
    let mut cluster = NodeSet::new(&format!("redlock-test-{tag}")).unwrap();
    for i in 1..=5 {
        cluster
            .start(NodeConfig {
                name: format!("n{i}"),
                persistence: Persistence::None,
                preload: None,
                library_user: false,
                place: None,
                cluster: None,
            })
            .unwrap();
    }
    cluster
}

async fn client(cluster: &NodeSet, seed: u64, ttl_ms: u64) -> Redlock {
    let mut conns = Vec::new();
    for n in &cluster.nodes {
        conns.push(
            workloads::conn::connect(&n.client_url(), Duration::from_millis(500))
                .await
                .unwrap(),
        );
    }
    let lease = LeaseConfig {
        name: "t".into(),
        ttl_ms,
        drift_ms: 2,
        op_timeout_ms: 500,
    };
    Redlock::new(
        lease,
        RedlockConfig::default(),
        conns,
        ChaCha8Rng::seed_from_u64(seed),
    )
}

#[test]
fn a_majority_grants_a_minority_does_not_and_extension_needs_validity() {
    let _serial = SERIAL.lock().unwrap_or_else(|p| p.into_inner());
    let mut cluster = five_nodes("majority");
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let clock = Clock::new();
        let mut a = client(&cluster, 1, 400).await;
        let mut b = client(&cluster, 2, 400).await;
        let Acquired::Granted {
            grant,
            valid_until_client_ns,
        } = a.acquire(&clock).await.unwrap()
        else {
            panic!("five free nodes must grant");
        };
        // validity = ttl − elapsed − drift: ends at start + 400 − (4 + 2) ms.
        let left = valid_until_client_ns - clock.client_ns();
        assert!(left > 300_000_000 && left <= 394_000_000, "{left}");
        assert_eq!(b.acquire(&clock).await.unwrap(), Acquired::Denied);

        // Extension within validity re-arms the ttl on the majority.
        let ext = a
            .extend(&clock, &grant, valid_until_client_ns)
            .await
            .unwrap();
        assert!(matches!(ext, Extension::Extended { .. }), "{ext:?}");
        // ...and is refused once the client's own validity is over.
        let late = a.extend(&clock, &grant, clock.client_ns()).await.unwrap();
        assert_eq!(late, Extension::Lost);

        assert_eq!(a.release(&grant).await.unwrap(), Released::Released);
        assert_eq!(a.release(&grant).await.unwrap(), Released::NotHeld);
        let Acquired::Granted { grant: g2, .. } = b.acquire(&clock).await.unwrap() else {
            panic!("released lock must be free");
        };
        assert!(g2.fence > grant.fence, "fences rise in grant order");
        b.release(&g2).await.unwrap();
    });
    // Two nodes down: three still grant. Three down: none.
    rt.block_on(async {
        let clock = Clock::new();
        let mut a = client(&cluster, 3, 400).await;
        for n in &mut cluster.nodes[..2] {
            n.kill();
        }
        let r = a.acquire(&clock).await;
        let Ok(Acquired::Granted { grant, .. }) = r else {
            panic!("three of five must grant: {r:?}");
        };
        assert_eq!(a.release(&grant).await.unwrap(), Released::Released);
        cluster.nodes[2].kill();
        let r = a.acquire(&clock).await;
        assert!(
            matches!(r, Err(ref e) if e.to_string().contains("no majority")),
            "{r:?}"
        );
    });
}

fn granted_fences(run_dir: &str) -> Vec<u64> {
    let text =
        std::fs::read_to_string(std::path::Path::new(run_dir).join("history.jsonl")).unwrap();
    let h: History = checkers::history::parse_jsonl("h", &text).unwrap().history;
    h.ops
        .iter()
        .filter_map(|o| match &o.value {
            Value::Granted(g) => Some(g.fence),
            _ => None,
        })
        .collect()
}

#[test]
fn redlock_baseline_holds_and_fences_rise_in_grant_order() {
    let results = results_dir("redlock-baseline");
    for seed in 1..=2 {
        let r = run("redlock-baseline", seed, 2_000, &results);
        assert!(r.checks.counts.grants > 20, "seed {seed}: {}", r.summary());
        assert_eq!(
            r.checks.validity,
            Validity::Valid,
            "seed {seed}:\n{}",
            r.summary()
        );
        assert!(r.met(), "seed {seed}:\n{}", r.summary());
        let fences = granted_fences(&r.run_dir);
        assert!(
            fences.windows(2).all(|w| w[0] < w[1]),
            "seed {seed}: fences out of grant order: {fences:?}"
        );
    }
}

#[test]
fn redlock_does_not_survive_a_client_pause_and_its_fence_saves_the_data() {
    let results = results_dir("redlock-gc-pause");
    let r = run("redlock-gc-pause", 1, 3_000, &results);
    assert!(r.met(), "{}", r.summary());
    assert!(
        !r.checks.exclusion.late_accesses.is_empty(),
        "{}",
        r.summary()
    );
    let r = run("redlock-gc-pause-fenced", 1, 3_000, &results);
    assert!(r.met(), "{}", r.summary());
    let f = r.checks.fencing.as_ref().unwrap();
    assert!(f.stale_accepted.is_empty() && !f.prevented.is_empty());
    assert_eq!(r.checks.lost_updates.as_ref().unwrap().lost, Some(0));
}

#[test]
fn a_clock_jump_on_the_shared_node_gives_two_holders() {
    let results = results_dir("clock-jump");
    let r = run("clock-jump", 1, 4_000, &results);
    assert!(r.met(), "{}", r.summary());
    assert!(!r.checks.exclusion.overlaps.is_empty());
    // Every clock fault was confirmed by the node's own TIME.
    let text =
        std::fs::read_to_string(std::path::Path::new(&r.run_dir).join("history.jsonl")).unwrap();
    let h = checkers::history::parse_jsonl("h", &text).unwrap().history;
    let details: Vec<String> = h
        .ops
        .iter()
        .filter_map(|o| match &o.value {
            Value::Fault(f) if f.kind == "clock" => Some(f.detail.clone()),
            _ => None,
        })
        .collect();
    assert!(!details.is_empty());
    assert!(
        details
            .iter()
            .all(|d| d.contains("n3 TIME ") && !d.contains("not confirmed")),
        "{details:?}"
    );
}
