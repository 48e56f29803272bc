//! Failover nemesis: Sentinel promotes the replica while replication lags, then the old primary
//! comes back and is a second master until Sentinel demotes it.
//!
//! Once, at `start`:
//! 1. a latency toxic of `repl_delay` on the replication link (`repl-n2-n1`, primary → replica):
//!    the primary keeps acknowledging writes the replica does not have yet (asynchronous
//!    replication, with a slow link);
//! 2. after `lead` — and, with `hold_holder`, as soon as a client then reaches its pause point
//!    holding a grant it got after the lag began (so the replica lacks the key), which is held
//!    there until the old primary resumes (a critical section spanning the failover) — the
//!    primary is SIGSTOPped (its container paused, on an `[engine]` topology), as a hung VM or a
//!    long fork would stop it;
//! 3. Sentinel sees it down after `down-after-milliseconds` and promotes the replica: the
//!    `failover` fault starts when a Sentinel names the replica (how long after the stop is in
//!    its detail) and lasts until the old primary is demoted. No promotion (say, a pause shorter
//!    than `down-after`) is a failed injection: the history never claims a failover that did not
//!    happen;
//! 4. after `pause` the old primary is SIGCONTed: it still believes it is master, and clients that
//!    still talk to it write there, until Sentinel reconfigures it as a replica (`split-brain`
//!    window, measured by asking the node its `ROLE`);
//! 5. the replication link is healed.
//!
//! At the end of the run (or Ctrl-C) every step is undone at once: SIGCONT, toxic removed, held
//! client let go.

use super::driver::{positive, sleep_or_stop, wait_until, Schedule};
use super::{Bounds, Invalid, Needs, Nemesis, NemesisContext};
use crate::duration::Dur;
use crate::nodes::sentinel::{self, PRIMARY};
use crate::proxy::{Stream, Toxic};
use crate::topology::sentinel::{Replication, REPL_LINK};
use crate::topology::Paused;
use checkers::Fault;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};
use std::time::Instant;
use tokio::sync::{oneshot, watch};

const TOXIC: &str = "fencepost_repl_delay";

/// Sentinel failover while replication lags: the primary is stopped, the replica promoted, and the old primary comes back as a second master.
#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Failover {
    /// When the first injection fires, from the start of the run.
    pub start: Dur,
    /// Latency on the replication stream n1 → n2 while the failover runs.
    pub repl_delay: Dur,
    /// How long the primary keeps acknowledging unreplicated writes before it stops.
    pub lead: Dur,
    /// How long the old primary stays SIGSTOPped.
    pub pause: Dur,
    /// Stop the primary the moment a client holds a grant mid-critical-section, and hold that
    /// client there until the promotion (a long critical section).
    #[serde(default)]
    pub hold_holder: bool,
}

impl Nemesis for Failover {
    fn schedule(&self) -> Schedule {
        Schedule::once(self.start)
    }

    fn longest(&self) -> (Dur, &'static str) {
        (self.pause, "pause")
    }

    fn validate(&self, bounds: &Bounds) -> Result<(), Invalid> {
        positive("failover", "pause", self.pause)?;
        positive("failover", "repl_delay", self.repl_delay)?;
        if !bounds.sentinel {
            return Err(Invalid::new(
                "kind",
                "[[nemesis]] failover needs a [sentinel] section (a primary, a replica, Sentinels)",
            ));
        }
        if self.hold_holder && !bounds.pause_points {
            return Err(Invalid::new("hold_holder", "[[nemesis]] failover: hold_holder holds a client at its pause point while it holds the lock; this workload's clients hold no lock: remove it, or use [workload] kind = \"rmw-counter\""));
        }
        Ok(())
    }

    fn needs(&self) -> Needs {
        Needs::NODE_PROCESSES
    }

    async fn fire(
        &self,
        ctx: &NemesisContext,
        _rng: &mut ChaCha8Rng,
        stop: &mut watch::Receiver<bool>,
    ) {
        let replication = ctx.topology.replication().cloned();
        match replication {
            Some(repl) => self.once(ctx, &repl, stop).await,
            None => ctx.failed(
                ctx.fault("n1→n2", String::new()),
                "the run has no replica and Sentinels",
            ),
        }
    }

    fn finish(&self, ctx: &NemesisContext) {
        ctx.gates().for_each(|g| g.disarm());
    }
}

impl Failover {
    async fn once(
        &self,
        ctx: &NemesisContext,
        repl: &Replication,
        stop: &mut watch::Receiver<bool>,
    ) {
        let net = &ctx.topology.network;
        let toxic = Toxic::latency(Stream::Downstream, self.repl_delay.ms(), 0).named(TOXIC);
        let delay = ctx.phase("repl-delay", "n1→n2", format!("+{}", self.repl_delay));
        if let Err(e) = net.add_toxic(REPL_LINK, toxic).await {
            ctx.failed(
                ctx.fault("n1→n2", String::new()),
                format!("cannot delay {REPL_LINK}: {e}"),
            );
            return;
        }
        ctx.started(&delay);

        // Writes acknowledged from here on reach the replica only after `repl_delay`.
        sleep_or_stop(self.lead.0, stop).await;
        let held = if self.hold_holder {
            ctx.catch_holder(stop).await
        } else {
            None
        };

        let stopped = if *stop.borrow() {
            Err("the run stopped first".to_string())
        } else {
            ctx.topology
                .pause_node(PRIMARY)
                .await
                .map_err(|e| format!("cannot stop n1: {e}"))
        };
        match stopped {
            Ok(paused) => self.stopped(ctx, repl, paused, held, stop).await,
            Err(e) => {
                if let Some(go) = held {
                    let _ = go.send(());
                }
                ctx.failed(ctx.fault("n1→n2", String::new()), e);
            }
        }
        let _ = net.remove_toxic(REPL_LINK, TOXIC).await;
        ctx.healed(delay);
    }

    /// The primary is stopped: wait for the promotion, resume it after `pause`, and measure the
    /// split brain until Sentinel demotes it.
    async fn stopped(
        &self,
        ctx: &NemesisContext,
        repl: &Replication,
        paused: Paused,
        held: Option<oneshot::Sender<()>>,
        stop: &mut watch::Receiver<bool>,
    ) {
        let paused_at = Instant::now();
        let how = match paused {
            Paused::Process(_) => "SIGSTOP",
            Paused::Container => "container pause",
        };
        let pause = ctx.phase("node-pause", PRIMARY, how);
        ctx.started(&pause);
        let promoted = wait_until(stop, || async {
            sentinel::master_addr(&repl.sentinel_urls)
                .await
                .ok()
                .as_ref()
                == Some(&repl.replica)
        })
        .await;
        let failover = ctx.fault("n1→n2", String::new());
        let failover = if promoted {
            let f = Fault {
                detail: format!(
                    "a Sentinel names n2 primary {} ms after n1 stopped",
                    paused_at.elapsed().as_millis()
                ),
                ..failover
            };
            ctx.started(&f);
            Some(f)
        } else {
            ctx.failed(
                failover,
                format!(
                    "no Sentinel named n2 primary within {} ms of n1 stopping",
                    paused_at.elapsed().as_millis()
                ),
            );
            None
        };
        let rest = self.pause.0.saturating_sub(paused_at.elapsed());
        sleep_or_stop(rest, stop).await;
        // The held client's critical section ends as the old primary resumes.
        if let Some(go) = held {
            let _ = go.send(());
        }
        let resumed = match ctx.topology.resume_node(PRIMARY, paused).await {
            Ok(()) => "resumed",
            Err(e) => {
                eprintln!("fencepost: failover could not resume n1: {e}");
                "could not resume"
            }
        };
        ctx.healed(Fault {
            detail: format!("{resumed} after {} ms", paused_at.elapsed().as_millis()),
            ..pause
        });
        let Some(failover) = failover else { return };

        // The old primary is back and still a master: how long until it is demoted?
        let resumed_at = Instant::now();
        let split = ctx.phase("split-brain", PRIMARY, String::new());
        ctx.started(&split);
        let admin = repl.admin_url(&repl.primary);
        let demoted = match admin {
            Some(url) => {
                wait_until(stop, || async {
                    sentinel::role(&url).await.is_ok_and(|r| r == "slave")
                })
                .await
            }
            None => false,
        };
        let detail = match demoted {
            true => format!(
                "n1 stayed master {} ms after resuming",
                resumed_at.elapsed().as_millis()
            ),
            false => format!(
                "n1 still master {} ms after resuming (run ended or gave up)",
                resumed_at.elapsed().as_millis()
            ),
        };
        ctx.healed(Fault { detail, ..split });
        ctx.healed(failover);
    }
}
