//! Manual cluster failover: `CLUSTER FAILOVER` on a replica of the workload key's primary — the
//! operator's planned switch-over (an upgrade, a move to another machine).
//!
//! Unlike a failure, a manual failover is coordinated: the primary stops serving its clients,
//! the replica catches up to the primary's replication offset, and only then takes over; the old
//! primary becomes its replica. Clients see a short pause and `MOVED` redirects, and no
//! acknowledged write should be lost — which is what a scenario with it measures.
//!
//! Recorded: `manual-failover` from the replica answering `ROLE` master (the detail says how long
//! after the command) until the old primary answers as its replica; no promotion within the
//! patience is a failed injection.

use super::driver::Schedule;
use super::slot_owner;
use super::{Bounds, Invalid, Nemesis, NemesisContext};
use crate::duration::Dur;
use checkers::Fault;
use rand::Rng;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};
use std::time::Instant;
use tokio::sync::watch;

/// A manual `CLUSTER FAILOVER` of the shard that holds the workload's key: the operator's planned switch-over (Redis Cluster runs).
#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ClusterFailover {
    /// When the first injection fires, from the start of the run.
    pub start: Dur,
    /// Switch over again every so often (once when absent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub every: Option<Dur>,
}

const KIND: &str = "cluster-failover";

impl Nemesis for ClusterFailover {
    fn schedule(&self) -> Schedule {
        Schedule {
            start: self.start,
            every: self.every,
        }
    }

    fn longest(&self) -> (Dur, &'static str) {
        (Dur(std::time::Duration::from_secs(5)), "")
    }

    fn validate(&self, bounds: &Bounds) -> Result<(), Invalid> {
        slot_owner::validate(
            KIND,
            "switches a Redis Cluster primary over",
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
        rng: &mut ChaCha8Rng,
        stop: &mut watch::Receiver<bool>,
    ) {
        let Some((map, s)) = slot_owner::find(ctx, true).await else {
            return;
        };
        let r = s.replicas[rng.random_range(0..s.replicas.len())];
        let (old, new) = (&map.names[s.primary], &map.names[r]);
        let fault = ctx.fault(format!("{old}→{new}"), String::new());
        let sent = Instant::now();
        if let Err(e) = map
            .query::<()>(r, redis::cmd("CLUSTER").arg("FAILOVER"))
            .await
        {
            return ctx.failed(fault, format!("CLUSTER FAILOVER on {new}: {e}"));
        }
        if slot_owner::wait_promoted(map, &[r], stop).await.is_none() {
            return ctx.failed(
                fault,
                format!(
                    "{new} was not master {} ms after CLUSTER FAILOVER",
                    sent.elapsed().as_millis()
                ),
            );
        }
        let fault = Fault {
            detail: format!(
                "{new} master {} ms after CLUSTER FAILOVER",
                sent.elapsed().as_millis()
            ),
            ..fault
        };
        ctx.started(&fault);
        let demoted = slot_owner::wait_demoted(map, s.primary, stop).await;
        ctx.healed(Fault {
            detail: format!(
                "{}; {old} {} after {} ms",
                fault.detail,
                if demoted {
                    "its replica"
                } else {
                    "not yet its replica"
                },
                sent.elapsed().as_millis()
            ),
            ..fault
        });
    }
}
