//! Node-pause nemesis: SIGSTOP lock nodes' redis-servers, then SIGCONT them.
//!
//! A stopped redis-server accepts no command — calls to it block until they time out (`info`) —
//! but its keys' TTLs run on, because Redis expires by the wall clock: when it resumes, every
//! lease that ended meanwhile is gone at once. To a Redlock client a paused minority is a slow
//! network; a paused majority stops all grants. The pause starts when the signal is delivered and
//! ends when SIGCONT is; a node that was crashed and restarted meanwhile is not signalled again
//! (its PID changed).

use super::driver::{positive, sleep_or_stop, Schedule};
use super::nodes::NodeTarget;
use super::{Bounds, Invalid, Needs, Nemesis, NemesisContext};
use crate::cluster::spawner;
use crate::duration::Dur;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};
use tokio::sync::watch;

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NodePause {
    pub start: Dur,
    pub every: Dur,
    pub target: NodeTarget,
    /// How long the nodes stay stopped.
    pub pause: Dur,
}

impl Nemesis for NodePause {
    fn fault_kind(&self) -> &'static str {
        "node-pause"
    }

    fn schedule(&self) -> Schedule {
        Schedule::recurring(self.start, self.every)
    }

    fn longest(&self) -> Dur {
        self.pause
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
            "node-pause",
            nodes.join(","),
            format!("SIGSTOP {} ({})", self.pause, self.target),
        );
        let mut stopped: Vec<(&String, u32)> = Vec::new();
        let mut error = None;
        for name in &nodes {
            let result = match pid_of(ctx, name) {
                Some(pid) => spawner::signal(pid, libc::SIGSTOP)
                    .map(|()| pid)
                    .map_err(|e| e.to_string()),
                None => Err("it is down (crashed, not yet restarted)".into()),
            };
            match result {
                Ok(pid) => stopped.push((name, pid)),
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
        for (name, pid) in &stopped {
            // A node crashed and restarted meanwhile has another PID: not ours to signal.
            if pid_of(ctx, name) == Some(*pid) {
                if let Err(e) = spawner::signal(*pid, libc::SIGCONT) {
                    eprintln!("fencepost: node-pause could not resume {name}: {e}");
                }
            }
        }
        match error {
            None => ctx.healed(fault),
            Some(e) => ctx.failed(fault, e),
        }
    }
}

/// The PID of a running lock node.
pub fn pid_of(ctx: &NemesisContext, name: &str) -> Option<u32> {
    let mut cluster = ctx.topology.cluster();
    let node = cluster.node_mut(name)?;
    if node.is_running() {
        node.pid()
    } else {
        None
    }
}
