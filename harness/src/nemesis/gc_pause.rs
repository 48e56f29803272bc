//! GC-pause nemesis: Kleppmann's first failure.
//!
//! At seeded moments it picks a client (seeded) and arms that client's pause gate; the client
//! stops dead at its next pause point while holding the lock — after its validity check, before
//! its write — for longer than its lease, then resumes and writes. The gate records the fault's
//! start and stop at the moments the pause really begins and ends, so a pause that never fired
//! (no client reached its pause point) is never in the history.

use super::draw::Scale;
use super::driver::{positive, Schedule};
use super::{Bounds, Invalid, Nemesis, NemesisContext};
use crate::duration::Dur;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};
use tokio::sync::watch;

/// Stops a client dead while it holds the lock — after its validity check, before its write — for longer than its lease (Kleppmann's GC pause).
#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct GcPause {
    /// When the first injection fires, from the start of the run.
    pub start: Dur,
    /// The mean time between injections (each gap is drawn from 0.5×..1.5× of it, from the seed).
    pub every: Dur,
    /// How long the client stops; longer than the ttl to make the lease expire.
    pub pause: Dur,
}

impl Nemesis for GcPause {
    fn draw(scale: &Scale, rng: &mut ChaCha8Rng) -> Option<Self> {
        // A holder stopped from a third of its lease to three leases.
        let pause = scale.ttls(rng, 0.3, 3.0);
        Some(GcPause {
            start: scale.start(rng),
            every: scale.every(rng, pause),
            pause,
        })
    }

    fn schedule(&self) -> Schedule {
        Schedule::recurring(self.start, self.every)
    }

    fn longest(&self) -> (Dur, &'static str) {
        (self.pause, "pause")
    }

    fn runs_on_redis_cluster(&self) -> bool {
        true
    }

    fn validate(&self, bounds: &Bounds) -> Result<(), Invalid> {
        positive("gc-pause", "every", self.every)?;
        positive("gc-pause", "pause", self.pause)?;
        if !bounds.pause_points {
            return Err(Invalid::new("kind", "[[nemesis]] gc-pause stops a client at its pause point while it holds the lock; this workload's clients hold no lock: use [workload] kind = \"lock\" or \"rmw-counter\""));
        }
        Ok(())
    }

    async fn fire(
        &self,
        ctx: &NemesisContext,
        rng: &mut ChaCha8Rng,
        _stop: &mut watch::Receiver<bool>,
    ) {
        if let Some(c) = ctx.idle_client(rng, |_| true) {
            c.gate.arm(ctx.ids.next(), self.pause.0);
        }
    }

    fn finish(&self, ctx: &NemesisContext) {
        ctx.gates().for_each(|g| g.disarm());
    }
}
