//! Node-pause nemesis: SIGSTOP lock nodes' redis-servers, then SIGCONT them.
//!
//! A stopped redis-server accepts no command — calls to it block until they time out (`info`) —
//! but its keys' TTLs run on, because Redis expires by the wall clock: when it resumes, every
//! lease that ended meanwhile is gone at once. To a Redlock client a paused minority is a slow
//! network; a paused majority stops all grants. The pause starts when the signal is delivered and
//! ends when SIGCONT is; a node that was crashed and restarted meanwhile is not signalled again
//! (its PID changed).

use super::nodes::NodeTarget;
use super::schedule::{sleep_or_stop, Schedule};
use crate::cluster::spawner;
use crate::duration::Dur;
use crate::nemesis::NemesisContext;
use checkers::{Fault, F};
use rand_chacha::ChaCha8Rng;
use tokio::sync::watch;

pub struct NodePause {
    pub schedule: Schedule,
    pub target: NodeTarget,
    pub pause: Dur,
}

impl NodePause {
    pub async fn run(
        mut self,
        ctx: NemesisContext,
        mut rng: ChaCha8Rng,
        mut stop: watch::Receiver<bool>,
    ) {
        while self.schedule.wait(&mut rng, &mut stop).await {
            let nodes = self.target.pick(&ctx.topology.lock_nodes, &mut rng);
            let mut stopped: Vec<(String, u32)> = Vec::new();
            for name in &nodes {
                let Some(pid) = pid_of(&ctx, name) else {
                    continue; // down (crashed, not yet restarted): nothing to pause
                };
                match spawner::signal(pid, libc::SIGSTOP) {
                    Ok(()) => stopped.push((name.clone(), pid)),
                    Err(e) => eprintln!("fencepost: node-pause could not stop {name}: {e}"),
                }
            }
            if stopped.is_empty() {
                continue;
            }
            let fault = Fault {
                kind: "node-pause".into(),
                target: stopped
                    .iter()
                    .map(|(n, _)| n.as_str())
                    .collect::<Vec<_>>()
                    .join(","),
                id: ctx.ids.next(),
                detail: format!("SIGSTOP {} ({})", self.pause, self.target),
            };
            ctx.rec.nemesis(F::Start, fault.clone());
            sleep_or_stop(self.pause.0, &mut stop).await;
            for (name, pid) in &stopped {
                if pid_of(&ctx, name) == Some(*pid) {
                    if let Err(e) = spawner::signal(*pid, libc::SIGCONT) {
                        eprintln!("fencepost: node-pause could not resume {name}: {e}");
                    }
                }
            }
            ctx.rec.nemesis(F::Stop, fault);
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
