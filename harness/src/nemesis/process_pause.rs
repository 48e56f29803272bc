//! Process-pause nemesis: stop a client process dead at a seeded moment, whatever it is doing.
//!
//! Where `gc-pause` stops a holder at its pause point (after its validity check, before its
//! write), this stops a client process at a random moment — mid-acquire, mid-renewal, between
//! ops — with SIGSTOP to its whole process group, so every thread stops, a library's renewal
//! thread included, as a stop-the-world pause or a frozen VM would; SIGCONT after `pause`.
//! The fault starts when the signal was delivered. Client processes only (`[client]`).

use super::driver::{positive, sleep_or_stop, Schedule};
use super::{Bounds, Invalid, Nemesis, NemesisContext};
use crate::duration::Dur;
use rand::Rng;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};
use tokio::sync::watch;

/// SIGSTOPs a client process's whole group at a random moment, renewal threads included, then SIGCONTs it (client processes only).
#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ProcessPause {
    /// When the first injection fires, from the start of the run.
    pub start: Dur,
    /// The mean time between injections (each gap is drawn from 0.5×..1.5× of it, from the seed).
    pub every: Dur,
    /// How long the process stays stopped.
    pub pause: Dur,
}

impl Nemesis for ProcessPause {
    fn schedule(&self) -> Schedule {
        Schedule::recurring(self.start, self.every)
    }

    fn longest(&self) -> (Dur, &'static str) {
        (self.pause, "pause")
    }

    fn validate(&self, bounds: &Bounds) -> Result<(), Invalid> {
        positive("process-pause", "every", self.every)?;
        positive("process-pause", "pause", self.pause)?;
        if !bounds.client_processes {
            return Err(Invalid::new("kind", "[[nemesis]] process-pause stops client processes: add a [client] section (or --client NAME); for fencepost's own in-process clients use gc-pause"));
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
        let mut fault = ctx.fault(
            format!("client slot {c}"),
            format!("SIGSTOP of the process group for {}", self.pause),
        );
        let Some(p) = ctx.clients[c].process.clone() else {
            ctx.failed(fault, "the client is not a process");
            return;
        };
        // Whatever the process answers across the stop may be stale by it.
        fault.frozen = p.process();
        if let Err(e) = p.stop() {
            ctx.failed(fault, e);
            return;
        }
        ctx.started(&fault);
        sleep_or_stop(self.pause.0, stop).await;
        let _ = p.cont();
        ctx.healed(fault);
    }
}
