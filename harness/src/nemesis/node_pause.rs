//! Node-pause nemesis: SIGSTOP lock nodes' redis-servers (or freeze their containers), then let
//! them run again.
//!
//! A stopped redis-server accepts no command — calls to it block until they time out (`info`) —
//! but its keys' TTLs run on, because Redis expires by the wall clock: when it resumes, every
//! lease that ended meanwhile is gone at once. To a Redlock client a paused minority is a slow
//! network; a paused majority stops all grants. The pause starts when the signal is delivered and
//! ends when SIGCONT is; a node that was crashed and restarted meanwhile is not signalled again
//! (its PID changed). On a container topology the engine's pause (the cgroup freezer) stands in
//! for SIGSTOP.

use super::draw::Scale;
use super::driver::{positive, sleep_or_stop, Schedule};
use super::nodes::NodeTarget;
use super::{Bounds, Invalid, Needs, Nemesis, NemesisContext};
use crate::duration::Dur;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};
use tokio::sync::watch;

/// SIGSTOPs lock nodes (or freezes their containers), then lets them run again: their keys expire meanwhile by the wall clock.
#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NodePause {
    /// When the first injection fires, from the start of the run.
    pub start: Dur,
    /// The mean time between injections (each gap is drawn from 0.5×..1.5× of it, from the seed).
    pub every: Dur,
    /// Which lock nodes.
    pub target: NodeTarget,
    /// How long the nodes stay stopped.
    pub pause: Dur,
}

impl Nemesis for NodePause {
    fn draw(scale: &Scale, rng: &mut ChaCha8Rng) -> Option<Self> {
        let pause = scale.around_waits(rng, 0.3, 3.0);
        Some(NodePause {
            start: scale.start(rng),
            every: scale.every(rng, pause),
            target: scale.nodes(rng),
            pause,
        })
    }

    fn schedule(&self) -> Schedule {
        Schedule::recurring(self.start, self.every)
    }

    fn longest(&self) -> (Dur, &'static str) {
        (self.pause, "pause")
    }

    fn validate(&self, bounds: &Bounds) -> Result<(), Invalid> {
        positive("node-pause", "every", self.every)?;
        positive("node-pause", "pause", self.pause)?;
        self.target.validate_for("node-pause", bounds.lock_nodes)
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
        let fault = ctx.fault(
            nodes.join(","),
            format!("SIGSTOP {} ({})", self.pause, self.target),
        );
        let mut stopped = Vec::new();
        let mut error = None;
        for name in &nodes {
            match ctx.topology.pause_node(name).await {
                Ok(p) => stopped.push((name, p)),
                Err(e) => {
                    error = Some(format!("cannot stop {name}: {e}"));
                    break;
                }
            }
        }
        if error.is_none() {
            ctx.started(&fault);
            sleep_or_stop(self.pause.0, stop).await;
        }
        for (name, paused) in stopped {
            if let Err(e) = ctx.topology.resume_node(name, paused).await {
                eprintln!("fencepost: node-pause could not resume {name}: {e}");
            }
        }
        match error {
            None => ctx.healed(fault),
            Some(e) => ctx.failed(fault, e),
        }
    }
}
