//! Process-kill nemesis: kill a client process in the middle of its critical section.
//!
//! At a seeded moment it picks a client; when that client next reaches its pause point holding
//! a grant (after its validity check, before its write), its whole process group is SIGKILLed.
//! The lock it held is left to expire on the nodes; the slot starts a fresh process, which the
//! history records under a new process id (Jepsen's way: a process whose op ended unknown is
//! never reused). The fault starts when the process is dead. Client processes only.

use super::draw::Scale;
use super::driver::{positive, Schedule};
use super::{Bounds, Invalid, Nemesis, NemesisContext};
use crate::duration::Dur;
use rand::Rng;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};
use tokio::sync::watch;

/// SIGKILLs a client process in its critical section; a fresh process takes the slot (client processes only).
#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ProcessKill {
    /// When the first injection fires, from the start of the run.
    pub start: Dur,
    /// The mean time between injections (each gap is drawn from 0.5×..1.5× of it, from the seed).
    pub every: Dur,
}

impl Nemesis for ProcessKill {
    fn draw(scale: &Scale, rng: &mut ChaCha8Rng) -> Option<Self> {
        Some(ProcessKill {
            start: scale.start(rng),
            every: scale.ttls(rng, 1.0, 4.0),
        })
    }

    fn schedule(&self) -> Schedule {
        Schedule::recurring(self.start, self.every)
    }

    fn longest(&self) -> (Dur, &'static str) {
        (Dur::default(), "")
    }

    fn validate(&self, bounds: &Bounds) -> Result<(), Invalid> {
        positive("process-kill", "every", self.every)?;
        if !bounds.client_processes {
            return Err(Invalid::new("kind", "[[nemesis]] process-kill kills client processes: add a [client] section (or --client NAME)"));
        }
        Ok(())
    }

    async fn fire(
        &self,
        ctx: &NemesisContext,
        rng: &mut ChaCha8Rng,
        stop: &mut watch::Receiver<bool>,
    ) {
        let c = rng.random_range(0..ctx.clients.len());
        let client = &ctx.clients[c];
        let Some(p) = client.process.clone() else {
            return;
        };
        let Some(go) = client.gate.rendezvous(stop).await else {
            return;
        };
        let fault = ctx.fault(
            format!("client slot {c}"),
            "SIGKILL of the process group mid critical section",
        );
        match p.kill() {
            Ok(()) => {
                ctx.started(&fault);
                let _ = go.send(());
                ctx.healed(fault);
            }
            Err(e) => {
                let _ = go.send(());
                ctx.failed(fault, e);
            }
        }
    }

    fn finish(&self, ctx: &NemesisContext) {
        ctx.gates().for_each(|g| g.disarm());
    }
}
