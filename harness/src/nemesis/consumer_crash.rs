//! Consumer-crash nemesis: a Streams consumer dies between reading entries and acknowledging
//! them, as a killed worker process would.
//!
//! At seeded moments it picks a consumer (seeded) and arms its gate with a crash; the consumer
//! crashes at its next pause point — right after `XREADGROUP` handed it entries, before `XACK` —
//! and the gate records the fault's start then. The consumer comes back after the workload's
//! `restart_delay` as a fresh one (a new consumer name and process id) and records the stop. The
//! entries it read stay pending under the dead consumer's name until another consumer claims them
//! (`XAUTOCLAIM`): that is what the run measures. A crash armed but never reached (no entries
//! came) is never in the history.

use super::driver::{positive, Schedule};
use super::{Bounds, Invalid, Nemesis, NemesisContext};
use crate::duration::Dur;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};
use tokio::sync::watch;

/// A Streams consumer dies between reading entries and acknowledging them, and comes back as a fresh consumer.
#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ConsumerCrash {
    /// When the first injection fires, from the start of the run.
    pub start: Dur,
    /// The mean time between injections (each gap is drawn from 0.5×..1.5× of it, from the seed).
    pub every: Dur,
}

impl Nemesis for ConsumerCrash {
    fn schedule(&self) -> Schedule {
        Schedule::recurring(self.start, self.every)
    }

    fn longest(&self) -> (Dur, &'static str) {
        (Dur::default(), "")
    }

    fn validate(&self, bounds: &Bounds) -> Result<(), Invalid> {
        positive("consumer-crash", "every", self.every)?;
        if !bounds.crash_points {
            return Err(Invalid::new("kind", "[[nemesis]] consumer-crash kills a Streams consumer between read and acknowledgement: use [workload] kind = \"stream\""));
        }
        Ok(())
    }

    async fn fire(
        &self,
        ctx: &NemesisContext,
        rng: &mut ChaCha8Rng,
        _stop: &mut watch::Receiver<bool>,
    ) {
        if let Some(c) = ctx.idle_client(rng, |c| c.crash_point) {
            c.gate.arm_crash(ctx.ids.next());
        }
    }

    fn finish(&self, ctx: &NemesisContext) {
        ctx.gates().for_each(|g| g.disarm());
    }
}
