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
//!    primary is SIGSTOPped, as a hung VM or a long fork would stop it;
//! 3. Sentinel sees it down after `down-after-milliseconds` and promotes the replica; the time
//!    until a Sentinel names the replica is recorded (`failover` window, measured);
//! 4. after `pause` the old primary is SIGCONTed: it still believes it is master, and clients that
//!    still talk to it write there, until Sentinel reconfigures it as a replica (`split-brain`
//!    window, measured by asking the node its `ROLE`);
//! 5. the replication link is healed.
//!
//! At the end of the run (or Ctrl-C) every step is undone at once: SIGCONT, toxic removed, held
//! client let go.

use super::schedule::{sleep_or_stop, Schedule};
use crate::cluster::sentinel::{self, Replication, PRIMARY, REPL_LINK};
use crate::cluster::spawner;
use crate::duration::Dur;
use crate::nemesis::NemesisContext;
use crate::proxy::{Stream, Toxic};
use checkers::{Fault, F};
use rand_chacha::ChaCha8Rng;
use std::time::{Duration, Instant};
use tokio::sync::{oneshot, watch};

const TOXIC: &str = "fencepost_repl_delay";
/// The longest the nemesis waits for a promotion or a demotion before giving up on it.
const PATIENCE: Duration = Duration::from_secs(30);

pub struct Failover {
    pub schedule: Schedule,
    pub repl_delay: Dur,
    pub lead: Dur,
    pub pause: Dur,
    pub hold_holder: bool,
}

impl Failover {
    pub async fn run(
        mut self,
        ctx: NemesisContext,
        mut rng: ChaCha8Rng,
        mut stop: watch::Receiver<bool>,
    ) {
        let replication = ctx.topology.cluster().replication.clone();
        let Some(repl) = replication else {
            eprintln!("fencepost: failover nemesis needs a [sentinel] topology; skipped");
            return;
        };
        if self.schedule.wait(&mut rng, &mut stop).await {
            self.once(&ctx, &repl, &mut stop).await;
        }
        for g in &ctx.gates {
            g.disarm();
        }
    }

    fn fault(&self, ctx: &NemesisContext, kind: &str, target: &str, detail: String) -> Fault {
        Fault {
            kind: kind.into(),
            target: target.into(),
            id: ctx.ids.next(),
            detail,
        }
    }

    async fn once(
        &self,
        ctx: &NemesisContext,
        repl: &Replication,
        stop: &mut watch::Receiver<bool>,
    ) {
        let net = &ctx.topology.network;
        let toxic = Toxic::latency(Stream::Downstream, self.repl_delay.ms(), 0).named(TOXIC);
        if let Err(e) = net.add_toxic(REPL_LINK, toxic).await {
            eprintln!("fencepost: failover: cannot delay {REPL_LINK}: {e}");
            return;
        }
        let delay = self.fault(ctx, "repl-delay", "n1→n2", format!("+{}", self.repl_delay));
        ctx.rec.nemesis(F::Start, delay.clone());

        // Writes acknowledged from here on reach the replica only after `repl_delay`.
        sleep_or_stop(self.lead.0, stop).await;
        let held = if self.hold_holder {
            self.catch_holder(ctx, stop).await
        } else {
            None
        };

        let pid = ctx.topology.cluster().node(PRIMARY).and_then(|n| n.pid());
        let stopped = match pid {
            Some(pid) if !*stop.borrow() => spawner::signal(pid, libc::SIGSTOP).is_ok(),
            _ => false,
        };
        if stopped {
            let paused_at = Instant::now();
            let pause = self.fault(ctx, "node-pause", PRIMARY, "SIGSTOP".into());
            ctx.rec.nemesis(F::Start, pause.clone());
            let failover = self.fault(ctx, "failover", "n1→n2", String::new());
            ctx.rec.nemesis(F::Start, failover.clone());
            let promoted = wait_until(stop, || async {
                sentinel::master_port(&repl.sentinel_urls).await.ok() == Some(repl.replica_port)
            })
            .await;
            let detail = match promoted {
                true => format!(
                    "a Sentinel names n2 primary {} ms after n1 stopped",
                    paused_at.elapsed().as_millis()
                ),
                false => "no promotion seen".into(),
            };
            ctx.rec.nemesis(F::Stop, Fault { detail, ..failover });
            let rest = self.pause.0.saturating_sub(paused_at.elapsed());
            sleep_or_stop(rest, stop).await;
            // The held client's critical section ends as the old primary resumes.
            if let Some(go) = held {
                let _ = go.send(());
            }
            let _ = spawner::signal(pid.expect("stopped"), libc::SIGCONT);
            ctx.rec.nemesis(
                F::Stop,
                Fault {
                    detail: format!("SIGCONT after {} ms", paused_at.elapsed().as_millis()),
                    ..pause
                },
            );

            // The old primary is back and still a master: how long until it is demoted?
            let resumed_at = Instant::now();
            let split = self.fault(ctx, "split-brain", PRIMARY, String::new());
            ctx.rec.nemesis(F::Start, split.clone());
            let admin =
                sentinel::Replication::admin_url(&ctx.topology.cluster(), repl.primary_port);
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
            ctx.rec.nemesis(F::Stop, Fault { detail, ..split });
        } else if let Some(go) = held {
            let _ = go.send(());
        }
        let _ = net.remove_toxic(REPL_LINK, TOXIC).await;
        ctx.rec.nemesis(F::Stop, delay);
    }

    /// Arms every client's pause point; the first client to reach it (holding a grant) is held
    /// until the caller lets it go. Waits at most 5 s; None if no holder came.
    async fn catch_holder(
        &self,
        ctx: &NemesisContext,
        stop: &mut watch::Receiver<bool>,
    ) -> Option<oneshot::Sender<()>> {
        let mut arrivals: Vec<_> = ctx.gates.iter().map(|g| g.arm_rendezvous()).collect();
        let deadline = Instant::now() + Duration::from_secs(5);
        let mut caught = None;
        while caught.is_none() && Instant::now() < deadline && !*stop.borrow() {
            for a in &mut arrivals {
                if let Ok(go) = a.try_recv() {
                    caught = Some(go);
                    break;
                }
            }
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        for g in &ctx.gates {
            g.disarm();
        }
        // A client that arrived at the same moment is let go at once (its sender is dropped).
        caught
    }
}

/// Polls `probe` every 50 ms until it holds (true), the run stops or [`PATIENCE`] runs out.
async fn wait_until<F, Fut>(stop: &mut watch::Receiver<bool>, mut probe: F) -> bool
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let started = Instant::now();
    while started.elapsed() < PATIENCE {
        if probe().await {
            return true;
        }
        if !sleep_or_stop(Duration::from_millis(50), stop).await {
            return false;
        }
    }
    false
}
