//! Cluster resharding: the workload key's hash slot moves to another primary while the clients
//! run — what `redis-cli --cluster reshard` does, one slot at a time.
//!
//! The steps are Redis's own: `CLUSTER SETSLOT slot IMPORTING src` on the destination and
//! `… MIGRATING dst` on the source; then, after `dwell` (so clients meet the half-moved slot: a
//! key still on the source is served there, a missing one gets `ASK` to the destination), every
//! key of the slot moves with `MIGRATE … KEYS` (atomic per key, TTL kept); last `CLUSTER SETSLOT
//! slot NODE dst` on the destination, the source and every other primary, after which clients get
//! `MOVED`. Resharding is designed to be safe for single-key operations; a scenario with it
//! measures whether a lock on the moving slot stays exclusive.
//!
//! Recorded: `slot-migration` from both nodes acknowledging the migrating state until every
//! primary has the new owner (the detail names the keys moved). A step that fails returns the
//! slot to `STABLE` on both nodes and records a failed injection.

use super::driver::{sleep_or_stop, Schedule};
use super::slot_owner;
use super::{Bounds, Invalid, Nemesis, NemesisContext};
use crate::duration::Dur;
use crate::nodes::node::{ADMIN_USER, PLACED_PORT};
use crate::nodes::redis_cluster::ClusterMap;
use checkers::Fault;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};
use tokio::sync::watch;

/// The key's hash slot migrates to another primary while clients run, as `redis-cli --cluster reshard` does (Redis Cluster runs).
#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ClusterReshard {
    /// When the first injection fires, from the start of the run.
    pub start: Dur,
    /// Move the slot on again every so often (once when absent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub every: Option<Dur>,
    /// How long the slot stays half-moved (MIGRATING/IMPORTING) before its keys move.
    #[serde(default = "d_dwell")]
    pub dwell: Dur,
}

fn d_dwell() -> Dur {
    Dur(std::time::Duration::from_millis(500))
}

const KIND: &str = "cluster-reshard";

impl Nemesis for ClusterReshard {
    fn schedule(&self) -> Schedule {
        Schedule {
            start: self.start,
            every: self.every,
        }
    }

    fn longest(&self) -> (Dur, &'static str) {
        (
            Dur(self.dwell.0 + std::time::Duration::from_secs(2)),
            "dwell",
        )
    }

    fn validate(&self, bounds: &Bounds) -> Result<(), Invalid> {
        slot_owner::validate(
            KIND,
            "moves a hash slot between Redis Cluster primaries",
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
        let Some(map) = slot_owner::map_or_fail(ctx) else {
            return;
        };
        let primaries = match primaries(map).await {
            Ok(p) => p,
            Err(e) => return ctx.failed(ctx.fault("?", String::new()), e),
        };
        let slot = map.slot;
        let Some(src) = primaries
            .iter()
            .position(|&(_, owns)| owns)
            .map(|k| primaries[k].0)
        else {
            return ctx.failed(
                ctx.fault("?", String::new()),
                format!("no primary owns slot {slot}"),
            );
        };
        // The next primary in node order takes it (round robin over the moves).
        let others: Vec<usize> = primaries
            .iter()
            .map(|&(i, _)| i)
            .filter(|&i| i != src)
            .collect();
        let Some(&dst) = others.iter().find(|&&i| i > src).or(others.first()) else {
            return ctx.failed(ctx.fault("?", String::new()), "only one primary");
        };
        let fault = ctx.fault(
            format!("{}→{}", map.names[src], map.names[dst]),
            format!("slot {slot}"),
        );
        let setslot = |node: usize, state: &'static str, arg: Option<String>| {
            let mut cmd = redis::cmd("CLUSTER");
            cmd.arg("SETSLOT").arg(slot).arg(state);
            if let Some(a) = arg {
                cmd.arg(a);
            }
            async move { map.query::<()>(node, &cmd).await }
        };
        let ids = match (id(map, src).await, id(map, dst).await) {
            (Ok(a), Ok(b)) => (a, b),
            (Err(e), _) | (_, Err(e)) => return ctx.failed(fault, e),
        };
        let half = async {
            setslot(dst, "IMPORTING", Some(ids.0.clone())).await?;
            setslot(src, "MIGRATING", Some(ids.1.clone())).await
        };
        if let Err(e) = half.await {
            let _ = setslot(dst, "STABLE", None).await;
            let _ = setslot(src, "STABLE", None).await;
            return ctx.failed(fault, e);
        }
        let redirects_before = redirects(map, src).await;
        ctx.started(&fault);
        sleep_or_stop(self.dwell.0, stop).await;
        match self.finish_move(map, src, dst, &ids.1, &others).await {
            Ok(moved) => ctx.healed(Fault {
                detail: {
                    let after = redirects(map, src).await;
                    format!(
                        "{}; {moved} key(s) moved; the source answered {} ASK and {} TRYAGAIN during the move",
                        fault.detail,
                        after.0.saturating_sub(redirects_before.0),
                        after.1.saturating_sub(redirects_before.1)
                    )
                },
                ..fault
            }),
            Err(e) => {
                // Another fault moved the ground (say, a failover made the source a replica):
                // the half-move is called off on both nodes, and the window says so.
                let _ = setslot(dst, "STABLE", None).await;
                let _ = setslot(src, "STABLE", None).await;
                ctx.healed(Fault {
                    detail: format!("{}; called off (slot set STABLE again): {e}", fault.detail),
                    ..fault
                });
            }
        }
    }
}

impl ClusterReshard {
    /// Moves every key of the slot, then gives the slot to `dst` everywhere.
    async fn finish_move(
        &self,
        map: &ClusterMap,
        src: usize,
        dst: usize,
        dst_id: &str,
        others: &[usize],
    ) -> Result<usize, String> {
        let slot = map.slot;
        let mut moved = 0;
        loop {
            let keys: Vec<String> = map
                .query(
                    src,
                    redis::cmd("CLUSTER")
                        .arg("GETKEYSINSLOT")
                        .arg(slot)
                        .arg(100),
                )
                .await?;
            if keys.is_empty() {
                break;
            }
            let mut migrate = redis::cmd("MIGRATE");
            migrate
                .arg(&map.ips[dst])
                .arg(PLACED_PORT)
                .arg("")
                .arg(0)
                .arg(2000)
                .arg("AUTH2")
                .arg(ADMIN_USER)
                .arg(&map.admin_password)
                .arg("KEYS")
                .arg(&keys);
            let _: String = map.query(src, &migrate).await?;
            moved += keys.len();
        }
        for node in [dst, src]
            .into_iter()
            .chain(others.iter().copied().filter(|&o| o != dst))
        {
            let _: () = map
                .query(
                    node,
                    redis::cmd("CLUSTER")
                        .arg("SETSLOT")
                        .arg(slot)
                        .arg("NODE")
                        .arg(dst_id),
                )
                .await?;
        }
        Ok(moved)
    }
}

/// Every primary with slots (node index, whether it owns the key's slot), as the first node
/// that answers sees them — each confirmed by its own `ROLE` (a view may lag a failover that
/// just happened).
async fn primaries(map: &ClusterMap) -> Result<Vec<(usize, bool)>, String> {
    let mut last = String::from("no node answered");
    for i in 0..map.names.len() {
        match map.nodes_seen_by(i).await {
            Ok(lines) => {
                let mut out = Vec::new();
                for l in lines.iter().filter(|l| l.is_primary() && !l.is_failing()) {
                    let Some(n) = map.index_of_ip(&l.ip) else {
                        continue;
                    };
                    if map.role(n).await.is_ok_and(|r| r == "master") {
                        out.push((n, l.owns(map.slot)));
                    }
                }
                return Ok(out);
            }
            Err(e) => last = e,
        }
    }
    Err(last)
}

/// (ASK, TRYAGAIN) replies node `i` has sent since it started (`INFO errorstats`): the evidence
/// that clients met the half-moved slot (a missing key is redirected; a script over two keys of
/// which one has moved is refused with TRYAGAIN).
async fn redirects(map: &ClusterMap, i: usize) -> (u64, u64) {
    let info: String = map
        .query(i, redis::cmd("INFO").arg("errorstats"))
        .await
        .unwrap_or_default();
    let count = |name: &str| {
        info.lines()
            .find_map(|l| l.strip_prefix(&format!("errorstat_{name}:count=")))
            .and_then(|n| n.trim().parse().ok())
            .unwrap_or(0)
    };
    (count("ASK"), count("TRYAGAIN"))
}

async fn id(map: &ClusterMap, i: usize) -> Result<String, String> {
    map.query(i, redis::cmd("CLUSTER").arg("MYID")).await
}
