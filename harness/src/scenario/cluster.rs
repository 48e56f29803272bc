//! `[cluster]`: run the lock or the counter on a Redis Cluster instead of lone lock nodes.
//!
//! `shards` primaries, each with `replicas` replicas, every node in a network namespace of its
//! own (see [`crate::nodes::netns`]); clients use redis-rs's cluster client, which routes by
//! hash slot and follows `MOVED` and `ASK`. Only the cluster nemeses (and client-side pauses) act
//! on such a run: there are no lone lock nodes `n1..nN` to signal or cut.

use super::lock::LockKind;
use super::workload::WorkloadKind;
use crate::duration::Dur;
use crate::invalid::{ensure, Invalid};
use crate::nodes::redis_cluster::ClusterSpec;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClusterSection {
    /// Primaries (hash slots are split evenly over them).
    #[serde(default = "d_shards")]
    pub shards: u32,
    /// Replicas per primary.
    #[serde(default = "d_replicas")]
    pub replicas: u32,
    /// `cluster-node-timeout`: how long a node may be unreachable before it is suspected.
    #[serde(default = "d_node_timeout")]
    pub node_timeout: Dur,
}

fn d_shards() -> u32 {
    3
}
fn d_replicas() -> u32 {
    1
}
fn d_node_timeout() -> Dur {
    Dur(std::time::Duration::from_millis(1000))
}

impl ClusterSection {
    pub fn spec(&self) -> ClusterSpec {
        ClusterSpec {
            shards: self.shards,
            replicas: self.replicas,
            node_timeout_ms: self.node_timeout.ms(),
        }
    }

    pub fn validate(&self, lock: LockKind, workload: WorkloadKind) -> Result<(), Invalid> {
        ensure((3..=9).contains(&self.shards), "shards", || {
            format!("[cluster] shards = {} is out of range: use 3..=9 (a failover needs a majority of primaries to vote)", self.shards)
        })?;
        ensure((1..=2).contains(&self.replicas), "replicas", || {
            format!(
                "[cluster] replicas = {} is out of range: use 1 or 2 per primary",
                self.replicas
            )
        })?;
        ensure(self.node_timeout.ms() >= 100, "node_timeout", || {
            "[cluster] node_timeout must be at least \"100ms\"".into()
        })?;
        ensure(
            matches!(lock, LockKind::Single | LockKind::Naive),
            "kind",
            || {
                format!("[cluster] runs a single-instance lock on the cluster (the key's shard): use [lock] kind = \"single\" or \"naive\", not \"{}\"", lock.name())
            },
        )?;
        ensure(
            matches!(
                workload,
                WorkloadKind::Lock | WorkloadKind::Counter | WorkloadKind::RmwCounter
            ),
            "kind",
            || {
                format!("[cluster] runs the lock, counter and rmw-counter workloads: [workload] kind = \"{}\" is not supported on a cluster yet", workload.name())
            },
        )
    }
}
