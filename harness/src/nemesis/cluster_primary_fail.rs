//! Cluster primary failure: the primary serving the workload key's slot stops (SIGSTOP) or dies
//! (SIGKILL) until the cluster promotes one of its replicas — Redis Cluster's automatic failover.
//!
//! Replication is asynchronous, so a write the primary acknowledged just before it failed may
//! never reach the replica that replaces it. `lag` makes that window wide and certain: first the
//! primary is cut off from its replicas (packet-filter rules in its namespace; clients and the
//! other primaries still reach it) and keeps acknowledging writes for `lag`; only then does it
//! fail. With `hold_holder`, it fails the moment a client holds a fresh grant mid-critical-
//! section, and that client stays there until the primary is back (a long critical section).
//!
//! Recorded: `repl-cut` while the replicas are cut off; `node-pause`/`node-crash` while the
//! primary is down; `primary-fail` from the promotion (a replica answering `ROLE` master; how long
//! after the failure is in its detail) until the old primary is a replica again. No promotion
//! within the patience is a failed injection. After `down`, a paused primary is SIGCONTed (it may
//! still believe it is master for a moment: split brain), a killed one restarted (empty: the
//! nodes keep no data across restarts here).

use super::driver::{positive, sleep_or_stop, Schedule};
use super::slot_owner::{self, Shard};
use super::{Bounds, Invalid, Nemesis, NemesisContext};
use crate::duration::Dur;
use crate::nodes::redis_cluster::ClusterMap;
use crate::nodes::spawner;
use checkers::Fault;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};
use std::time::Instant;
use tokio::sync::watch;

/// How the primary fails.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum FailMode {
    /// SIGSTOP, SIGCONT after `down` (a hung VM, a long fork).
    Pause,
    /// SIGKILL, restart after `down`.
    Kill,
}

/// The key's primary stops (SIGSTOP) or dies (SIGKILL) until Redis Cluster promotes a replica (Redis Cluster runs).
#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ClusterPrimaryFail {
    /// When the first injection fires, from the start of the run.
    pub start: Dur,
    /// Fail again every so often (once when absent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub every: Option<Dur>,
    /// How the primary fails.
    pub mode: FailMode,
    /// How long the primary stays down.
    pub down: Dur,
    /// Cut the primary off from its replicas this long before it fails.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lag: Option<Dur>,
    /// Fail the primary as a client holds a fresh grant, and hold that client until it is back.
    #[serde(default)]
    pub hold_holder: bool,
}

const KIND: &str = "cluster-primary-fail";

impl Nemesis for ClusterPrimaryFail {
    fn schedule(&self) -> Schedule {
        Schedule {
            start: self.start,
            every: self.every,
        }
    }

    fn longest(&self) -> (Dur, &'static str) {
        (
            Dur(self.down.0 + self.lag.map_or_else(Default::default, |l| l.0)),
            "down",
        )
    }

    fn validate(&self, bounds: &Bounds) -> Result<(), Invalid> {
        positive(KIND, "down", self.down)?;
        if let Some(every) = self.every {
            positive(KIND, "every", every)?;
        }
        if !bounds.redis_cluster {
            return Err(Invalid::new(
                "kind",
                format!(
                    "[[nemesis]] {KIND} fails a Redis Cluster primary: add a [cluster] section"
                ),
            ));
        }
        if self.hold_holder && !bounds.pause_points {
            return Err(Invalid::new("hold_holder", format!("[[nemesis]] {KIND}: hold_holder holds a client at its pause point while it holds the lock; this workload's clients hold no lock: remove it, or use [workload] kind = \"lock\" or \"rmw-counter\"")));
        }
        Ok(())
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
        if let Some((map, s)) = slot_owner::find(ctx, true).await {
            self.once(ctx, map, s, stop).await;
        }
    }

    fn finish(&self, ctx: &NemesisContext) {
        ctx.gates().for_each(|g| g.disarm());
    }
}

impl ClusterPrimaryFail {
    async fn once(
        &self,
        ctx: &NemesisContext,
        map: &ClusterMap,
        s: Shard,
        stop: &mut watch::Receiver<bool>,
    ) {
        let p = s.primary;
        let table = format!("fencepost_lag_{}", ctx.ids.next());
        let mut cut = None;
        if let Some(lag) = self.lag {
            let fault = ctx.phase(
                "repl-cut",
                format!("{}↛{}", map.names[p], slot_owner::names(map, &s.replicas)),
                format!("{} cut off from its replicas for {lag}", map.names[p]),
            );
            if let Err(e) = slot_owner::on_lan(ctx, |lan| lan.block(p, &s.replicas, &table)) {
                ctx.failed(fault, e);
                return;
            }
            ctx.started(&fault);
            cut = Some(fault);
            sleep_or_stop(lag.0, stop).await;
        }
        let held = if self.hold_holder && !*stop.borrow() {
            ctx.catch_holder(stop).await
        } else {
            None
        };
        if !*stop.borrow() {
            self.fail(ctx, map, &s, stop).await;
        }
        // The held client's critical section ends as the primary is back.
        if let Some(go) = held {
            let _ = go.send(());
        }
        if let Some(fault) = cut {
            if let Err(e) = slot_owner::on_lan(ctx, |lan| lan.unblock(p, &table)) {
                eprintln!(
                    "fencepost: {KIND} could not heal the cut of {}: {e}",
                    map.names[p]
                );
            }
            ctx.healed(fault);
        }
    }

    /// Stop or kill the primary, wait for the promotion, bring the primary back after `down`,
    /// and wait until it follows the new primary.
    async fn fail(
        &self,
        ctx: &NemesisContext,
        map: &ClusterMap,
        s: &Shard,
        stop: &mut watch::Receiver<bool>,
    ) {
        let p = s.primary;
        let name = map.names[p].clone();
        let Some(pid) = slot_owner::pid(ctx, map, p) else {
            ctx.failed(
                ctx.fault(&name, String::new()),
                format!("{name} is not running"),
            );
            return;
        };
        let (down_kind, signal) = match self.mode {
            FailMode::Pause => ("node-pause", libc::SIGSTOP),
            FailMode::Kill => ("node-crash", libc::SIGKILL),
        };
        let down = ctx.phase(
            down_kind,
            &name,
            format!("{:?} for {}", self.mode, self.down).to_lowercase(),
        );
        if let Err(e) = spawner::signal(pid, signal) {
            ctx.failed(down, format!("cannot signal {name}: {e}"));
            return;
        }
        let failed_at = Instant::now();
        ctx.started(&down);
        let promoted = slot_owner::wait_promoted(map, &s.replicas, stop).await;
        let fail = ctx.fault(&name, String::new());
        let fail = match promoted {
            Some(r) => {
                let f = Fault {
                    detail: format!(
                        "{} promoted {} ms after {name} failed",
                        map.names[r],
                        failed_at.elapsed().as_millis()
                    ),
                    ..fail
                };
                ctx.started(&f);
                Some(f)
            }
            None => {
                ctx.failed(
                    fail,
                    format!(
                        "no replica of {name} was promoted within {} ms",
                        failed_at.elapsed().as_millis()
                    ),
                );
                None
            }
        };
        sleep_or_stop(self.down.0.saturating_sub(failed_at.elapsed()), stop).await;
        let back = match self.mode {
            FailMode::Pause => spawner::signal(pid, libc::SIGCONT).map_err(|e| e.to_string()),
            FailMode::Kill => ctx.topology.restart_node(&name).await,
        };
        if let Err(e) = &back {
            eprintln!("fencepost: {KIND} could not bring {name} back: {e}");
        }
        let back_at = Instant::now();
        // A node that did not come back stays down: its window runs to the end of the history.
        if back.is_ok() {
            ctx.healed(Fault {
                detail: format!(
                    "{}; back after {} ms",
                    down.detail,
                    failed_at.elapsed().as_millis()
                ),
                ..down
            });
        }
        let Some(fail) = fail else { return };
        let demoted = back.is_ok() && slot_owner::wait_demoted(map, p, stop).await;
        ctx.healed(Fault {
            detail: format!(
                "{}; {name} {} {} ms after it was back",
                fail.detail,
                if demoted {
                    "followed the new primary"
                } else {
                    "was not a replica yet"
                },
                back_at.elapsed().as_millis()
            ),
            ..fail
        });
    }
}
