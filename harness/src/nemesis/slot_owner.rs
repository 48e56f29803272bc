//! The workload key's shard on a Redis Cluster, as the cluster nemeses find and watch it: which
//! primary serves the key's slot now, which replicas follow it, and when roles change.

use super::driver::{positive, wait_until};
use super::{Bounds, Invalid, NemesisContext};
use crate::duration::Dur;
use crate::nodes::netns::{Lan, NetError};
use crate::nodes::redis_cluster::ClusterMap;
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
        .redis_cluster()
        .ok_or_else(|| "the run has no Redis Cluster".to_string())
}

/// The common checks of a cluster fault's config: it needs a `[cluster]`, and a repeat interval
/// (when given) must be positive. `does` says what the fault does, for the refusal.
pub fn validate(
    kind: &str,
    does: &str,
    every: Option<Dur>,
    bounds: &Bounds,
) -> Result<(), Invalid> {
    if let Some(every) = every {
        positive(kind, "every", every)?;
    }
    if !bounds.redis_cluster {
        return Err(Invalid::new(
            "kind",
            format!("[[nemesis]] {kind} {does}: add a [cluster] section"),
        ));
    }
    Ok(())
}

/// The run's cluster, or a failed injection recorded (and `None`).
pub fn map_or_fail(ctx: &NemesisContext) -> Option<&ClusterMap> {
    match map(ctx) {
        Ok(m) => Some(m),
        Err(e) => {
            ctx.failed(ctx.fault("?", String::new()), e);
            None
        }
    }
}

/// The cluster and the shard serving the workload key (with a replica, when `need_replica`), or
/// a failed injection recorded (and `None`).
pub async fn find(ctx: &NemesisContext, need_replica: bool) -> Option<(&ClusterMap, Shard)> {
    let map = map_or_fail(ctx)?;
    match of_key(map).await {
        Ok(s) if need_replica && s.replicas.is_empty() => {
            ctx.failed(
                ctx.fault(&map.names[s.primary], String::new()),
                "the key's primary has no replica",
            );
            None
        }
        Ok(s) => Some((map, s)),
        Err(e) => {
            ctx.failed(ctx.fault("?", String::new()), e);
            None
        }
    }
}

/// Runs `f` on the cluster's private network.
pub fn on_lan<T>(
    ctx: &NemesisContext,
    f: impl FnOnce(&Lan) -> Result<T, NetError>,
) -> Result<T, String> {
    let cluster = ctx.topology.nodes();
    match &cluster.lan {
        Some(lan) => f(lan).map_err(|e| e.to_string()),
        None => Err("the cluster has no private network".into()),
    }
}

/// The shard serving the workload key now (asked of every node in turn until one answers).
pub async fn of_key(map: &ClusterMap) -> Result<Shard, String> {
    let (primary, replicas) = map.owner(map.slot, 0..map.names.len()).await?;
    Ok(Shard { primary, replicas })
}

/// Node `i`'s PID while it runs.
pub fn pid(ctx: &NemesisContext, map: &ClusterMap, i: usize) -> Option<u32> {
    ctx.topology.running_pid(&map.names[i])
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
