//! The workload key's shard on a Redis Cluster, as the cluster nemeses find and watch it: which
//! primary serves the key's slot now, which replicas follow it, and when roles change.

use super::driver::wait_until;
use super::NemesisContext;
use crate::cluster::redis_cluster::ClusterMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use tokio::sync::watch;

/// A primary and its replicas (node indexes in the [`ClusterMap`]).
#[derive(Debug, Clone)]
pub struct Shard {
    pub primary: usize,
    pub replicas: Vec<usize>,
}

/// The cluster of the run, or why there is none.
pub fn map(ctx: &NemesisContext) -> Result<&ClusterMap, String> {
    ctx.topology
        .redis_cluster
        .as_ref()
        .ok_or_else(|| "the run has no Redis Cluster".to_string())
}

/// The shard serving the workload key now (asked of every node in turn until one answers).
pub async fn of_key(map: &ClusterMap) -> Result<Shard, String> {
    let (primary, replicas) = map.owner(map.slot, 0..map.names.len()).await?;
    Ok(Shard { primary, replicas })
}

/// Node `i`'s PID while it runs.
pub fn pid(ctx: &NemesisContext, map: &ClusterMap, i: usize) -> Option<u32> {
    super::node_pause::pid_of(ctx, &map.names[i])
}

/// The first of `candidates` that says it is master now.
pub async fn master_among(map: &ClusterMap, candidates: &[usize]) -> Option<usize> {
    for &c in candidates {
        if map.role(c).await.is_ok_and(|r| r == "master") {
            return Some(c);
        }
    }
    None
}

/// Waits until one of `candidates` says it is master; which one.
pub async fn wait_promoted(
    map: &ClusterMap,
    candidates: &[usize],
    stop: &mut watch::Receiver<bool>,
) -> Option<usize> {
    let promoted = AtomicUsize::new(usize::MAX);
    wait_until(stop, || async {
        match master_among(map, candidates).await {
            Some(c) => {
                promoted.store(c, Ordering::Relaxed);
                true
            }
            None => false,
        }
    })
    .await;
    Some(promoted.load(Ordering::Relaxed)).filter(|&c| c != usize::MAX)
}

/// Waits until node `i` says it is a replica.
pub async fn wait_demoted(map: &ClusterMap, i: usize, stop: &mut watch::Receiver<bool>) -> bool {
    wait_until(stop, || async {
        map.role(i).await.is_ok_and(|r| r == "slave")
    })
    .await
}

/// Node names for a fault's target.
pub fn names(map: &ClusterMap, nodes: &[usize]) -> String {
    nodes
        .iter()
        .map(|&i| map.names[i].as_str())
        .collect::<Vec<_>>()
        .join(",")
}
