//! Crash-restart nemesis: SIGKILL lock nodes, then restart them on the same port.
//!
//! What a restarted node remembers is the scenario's `[lock] persistence`: nothing (`none`), the
//! AOF up to the last second (`aof-everysec`), or every acknowledged write (`aof-always`). A node
//! that restarts empty while a Redlock holder counts it in its majority lets a second client
//! take the lock (Kleppmann's crash case); the Redlock paper's remedy is a restart delayed by at
//! least the ttl, so every lease the node granted has expired before it answers again.
//!
//! The fault starts when the process is dead (killed and reaped) and stops when the restarted
//! node answers PING. Restarts go through [`crate::topology::Topology::restart_node`]: a local
//! node's new process is spawned with the parent-death signal and stays owned by the cluster; a
//! container (`[engine]` topologies) is SIGKILLed and started again by the engine, with its
//! volume and its persistence include file.

use super::draw::Scale;
use super::driver::{positive, sleep_or_stop, Schedule};
use super::nodes::NodeTarget;
use super::{Bounds, Invalid, Needs, Nemesis, NemesisContext};
use crate::duration::Dur;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};
use tokio::sync::watch;

/// SIGKILLs lock nodes and restarts them on the same port: what they remember is the scenario's `[lock] persistence`.
#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Crash {
    /// When the first injection fires, from the start of the run.
    pub start: Dur,
    /// The mean time between injections (each gap is drawn from 0.5×..1.5× of it, from the seed).
    pub every: Dur,
    /// Which lock nodes.
    pub target: NodeTarget,
    /// How long the nodes stay down before they restart (the Redlock paper asks for at least the ttl).
    #[serde(default)]
    pub restart_delay: Dur,
}

impl Nemesis for Crash {
    fn draw(scale: &Scale, rng: &mut ChaCha8Rng) -> Option<Self> {
        // Some lock nodes down for up to two leases (or back at once: a restart that lost
        // what it had not written).
        let restart_delay = scale.ttls(rng, 0.0, 2.0);
        Some(Crash {
            start: scale.start(rng),
            every: scale.every(rng, restart_delay),
            target: scale.nodes(rng),
            restart_delay,
        })
    }

    fn schedule(&self) -> Schedule {
        Schedule::recurring(self.start, self.every)
    }

    fn longest(&self) -> (Dur, &'static str) {
        (self.restart_delay, "restart_delay")
    }

    fn validate(&self, bounds: &Bounds) -> Result<(), Invalid> {
        positive("crash", "every", self.every)?;
        self.target.validate_for("crash", bounds.lock_nodes)
    }

    fn needs(&self) -> Needs {
        Needs::NODE_PROCESSES
    }

    async fn fire(
        &self,
        ctx: &NemesisContext,
        rng: &mut ChaCha8Rng,
        stop: &mut watch::Receiver<bool>,
    ) {
        let nodes = self.target.pick(&ctx.topology.lock_nodes, rng);
        let mut killed = Vec::new();
        let mut error = None;
        for name in &nodes {
            match ctx.topology.kill_node(name).await {
                Ok(true) => killed.push(name.clone()),
                Ok(false) => {}
                Err(e) => {
                    eprintln!("fencepost: crash could not kill {name}: {e}");
                    error = Some(format!("cannot kill {name}: {e}"));
                }
            }
        }
        let persistence = ctx.topology.persistence;
        let fault = ctx.fault(
            nodes.join(","),
            format!(
                "SIGKILL, restart after {}, persistence {}",
                self.restart_delay,
                persistence.name()
            ),
        );
        if killed.is_empty() {
            ctx.failed(
                fault,
                error.unwrap_or_else(|| "every target node was already down".into()),
            );
            return;
        }
        // A node already down (killed by another nemesis) is not crashed again.
        let fault = checkers::Fault {
            target: killed.join(","),
            ..fault
        };
        ctx.started(&fault);
        // On stop the node is restarted at once: every fault is healed before the run ends.
        sleep_or_stop(self.restart_delay.0, stop).await;
        let mut restarted = true;
        for name in killed {
            if let Err(e) = ctx.topology.restart_node(&name).await {
                restarted = false;
                eprintln!("fencepost: crash could not restart {name}: {e}");
            }
        }
        // A node that did not come back stays down: its window runs to the end of the history.
        if restarted {
            ctx.healed(fault);
        }
    }
}
