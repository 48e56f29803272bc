//! Crash-restart nemesis: SIGKILL lock nodes, then restart them on the same port.
//!
//! What a restarted node remembers is the scenario's `[lock] persistence`: nothing (`none`), the
//! AOF up to the last second (`aof-everysec`), or every acknowledged write (`aof-always`). A node
//! that restarts empty while a Redlock holder counts it in its majority lets a second client
//! take the lock (Kleppmann's crash case); the Redlock paper's remedy is a restart delayed by at
//! least the ttl, so every lease the node granted has expired before it answers again.
//!
//! The fault starts when the process is dead (killed and reaped) and stops when the restarted
//! node answers PING. Restarts go through [`crate::cluster::node::Node::restart`], so the new
//! process is spawned with the parent-death signal and stays owned by the cluster.

use super::nodes::NodeTarget;
use super::schedule::{sleep_or_stop, Schedule};
use crate::cluster::node::Persistence;
use crate::duration::Dur;
use crate::nemesis::NemesisContext;
use checkers::{Fault, F};
use rand_chacha::ChaCha8Rng;
use tokio::sync::watch;

pub struct Crash {
    pub schedule: Schedule,
    pub target: NodeTarget,
    pub restart_delay: Dur,
}

impl Crash {
    pub async fn run(
        mut self,
        ctx: NemesisContext,
        mut rng: ChaCha8Rng,
        mut stop: watch::Receiver<bool>,
    ) {
        while self.schedule.wait(&mut rng, &mut stop).await {
            let nodes = self.target.pick(&ctx.topology.lock_nodes, &mut rng);
            let mut killed = Vec::new();
            let mut persistence = None;
            {
                let mut cluster = ctx.topology.cluster();
                for name in &nodes {
                    if let Some(node) = cluster.node_mut(name) {
                        persistence = Some(node.config.persistence);
                        if node.is_running() {
                            node.kill();
                            killed.push(name.clone());
                        }
                    }
                }
            }
            if killed.is_empty() {
                continue;
            }
            let fault = Fault {
                kind: "crash".into(),
                target: killed.join(","),
                id: ctx.ids.next(),
                detail: format!(
                    "SIGKILL, restart after {}, persistence {}",
                    self.restart_delay,
                    match persistence.unwrap_or_default() {
                        Persistence::None => "none",
                        Persistence::AofEverySec => "aof-everysec",
                        Persistence::AofAlways => "aof-always",
                    }
                ),
            };
            ctx.rec.nemesis(F::Start, fault.clone());
            // On stop the node is restarted at once: every fault is healed before the run ends.
            sleep_or_stop(self.restart_delay.0, &mut stop).await;
            let mut restarted = true;
            for name in killed {
                let topology = ctx.topology.clone();
                let who = name.clone();
                let r = tokio::task::spawn_blocking(move || {
                    topology
                        .cluster()
                        .node_mut(&who)
                        .map(|n| n.restart().map_err(|e| e.to_string()))
                })
                .await;
                match r {
                    Ok(Some(Ok(()))) => {}
                    Ok(Some(Err(e))) => {
                        restarted = false;
                        eprintln!("fencepost: crash could not restart {name}: {e}");
                    }
                    Ok(None) | Err(_) => {
                        restarted = false;
                        eprintln!("fencepost: crash could not restart {name}");
                    }
                }
            }
            if restarted {
                ctx.rec.nemesis(F::Stop, fault);
            }
        }
    }
}
