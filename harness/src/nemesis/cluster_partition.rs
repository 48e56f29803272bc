//! Cluster partition: the primary serving the workload key's slot is cut off from every other
//! node of the cluster — the other primaries and its own replicas — while clients still reach it.
//!
//! This is the minority side of a split: the isolated primary keeps accepting writes until it
//! has missed the majority of primaries for `cluster-node-timeout` and declares the cluster down
//! for itself; meanwhile the majority marks it failed and promotes one of its replicas. When the
//! partition heals, the old primary learns of the newer configuration and becomes a replica,
//! dropping whatever it acknowledged alone. The cut is a pair of packet-filter rules in the
//! primary's network namespace (drop from and to the peers' addresses), so it covers the cluster
//! bus and replication alike, in both directions.
//!
//! Recorded: `cluster-partition` from the rules being in place (listed back from the namespace)
//! until they are removed; the detail says whether a replica was promoted meanwhile and how long
//! the isolated primary took to follow it after the heal.

use super::driver::{positive, sleep_or_stop, Schedule};
use super::slot_owner;
use super::{Bounds, Invalid, Nemesis, NemesisContext};
use crate::duration::Dur;
use checkers::Fault;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};
use std::time::Instant;
use tokio::sync::watch;

/// The key's primary cut off from every other Cluster node while clients still reach it: the minority side of a split (Redis Cluster runs).
#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ClusterPartition {
    /// When the first injection fires, from the start of the run.
    pub start: Dur,
    /// Partition again every so often (once when absent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub every: Option<Dur>,
    /// How long the primary stays cut off.
    pub duration: Dur,
}

const KIND: &str = "cluster-partition";

impl Nemesis for ClusterPartition {
    fn schedule(&self) -> Schedule {
        Schedule {
            start: self.start,
            every: self.every,
        }
    }

    fn longest(&self) -> (Dur, &'static str) {
        (self.duration, "duration")
    }

    fn validate(&self, bounds: &Bounds) -> Result<(), Invalid> {
        positive(KIND, "duration", self.duration)?;
        slot_owner::validate(
            KIND,
            "cuts a Redis Cluster primary off from its peers (kind = \"partition\" cuts lock nodes)",
            self.every,
            bounds,
        )
    }

    fn runs_on_redis_cluster(&self) -> bool {
        true
    }

    async fn fire(
        &self,
        ctx: &NemesisContext,
        _rng: &mut ChaCha8Rng,
        stop: &mut watch::Receiver<bool>,
    ) {
        let Some((map, s)) = slot_owner::find(ctx, false).await else {
            return;
        };
        let p = s.primary;
        let peers: Vec<usize> = (0..map.names.len()).filter(|&i| i != p).collect();
        let table = format!("fencepost_partition_{}", ctx.ids.next());
        let fault = ctx.fault(
            &map.names[p],
            format!(
                "{} cut off from {} for {}",
                map.names[p],
                slot_owner::names(map, &peers),
                self.duration
            ),
        );
        let blocked = {
            let cluster = ctx.topology.nodes();
            match &cluster.lan {
                Some(lan) => lan
                    .block(p, &peers, &table)
                    .and_then(|()| lan.tables(p))
                    .map_err(|e| e.to_string())
                    .and_then(|t| {
                        t.contains(&table).then_some(()).ok_or_else(|| {
                            format!("the rules are not listed in {}'s namespace", map.names[p])
                        })
                    }),
                None => Err("the cluster has no private network".into()),
            }
        };
        if let Err(e) = blocked {
            return ctx.failed(fault, e);
        }
        let cut_at = Instant::now();
        ctx.started(&fault);
        sleep_or_stop(self.duration.0, stop).await;
        // Whether the majority side promoted a replica while the primary was away.
        let promoted = slot_owner::master_among(map, &s.replicas).await;
        if let Err(e) = slot_owner::on_lan(ctx, |lan| lan.unblock(p, &table)) {
            eprintln!("fencepost: {KIND} could not heal {}: {e}", map.names[p]);
        }
        let healed_at = Instant::now();
        let after = match promoted {
            Some(r) => {
                let demoted = slot_owner::wait_demoted(map, p, stop).await;
                format!(
                    "{} promoted during the cut; {} {} {} ms after the heal",
                    map.names[r],
                    map.names[p],
                    if demoted {
                        "followed it"
                    } else {
                        "was not its replica yet"
                    },
                    healed_at.elapsed().as_millis()
                )
            }
            None => format!(
                "no replica promoted during the {} ms cut",
                cut_at.elapsed().as_millis()
            ),
        };
        ctx.healed(Fault {
            detail: format!("{}; {after}", fault.detail),
            ..fault
        });
    }
}
