//! Contention-burst nemesis: every client hammers the lock at once.
//!
//! A lock that behaves under a steady trickle of clients can break when they all pile in: a
//! refresh racing a release under heavy contention (redis-semaphore#205), scripts and replies
//! interleaving as they never do at low load. For `duration`, every client of the run drops
//! the delays of its cycle — think, retry and idle — to zero (a shared flag its pacing reads,
//! in-process clients and client processes alike), then goes back to its pace. A client
//! process's long section (`[client] long_section`) still runs its length, extending as it
//! goes: that holder's extends race everyone else's hammering. The fault starts when the flag
//! is raised and stops when it is lowered; a cycle already asleep finishes its sleep first.

use super::draw::Scale;
use super::driver::{positive, sleep_or_stop, Schedule};
use super::{Bounds, Invalid, Nemesis, NemesisContext};
use crate::duration::Dur;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};
use tokio::sync::watch;

/// Every client drops its think, retry and idle delays to zero for a while and hammers the lock (a burst of contention).
#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ContentionBurst {
    /// When the first injection fires, from the start of the run.
    pub start: Dur,
    /// The mean time between injections (each gap is drawn from 0.5×..1.5× of it, from the seed).
    pub every: Dur,
    /// How long each burst lasts.
    pub duration: Dur,
}

impl Nemesis for ContentionBurst {
    fn draw(scale: &Scale, rng: &mut ChaCha8Rng) -> Option<Self> {
        let duration = scale.ttls(rng, 1.0, 4.0);
        Some(ContentionBurst {
            start: scale.start(rng),
            every: scale.every(rng, duration),
            duration,
        })
    }

    fn schedule(&self) -> Schedule {
        Schedule::recurring(self.start, self.every)
    }

    fn longest(&self) -> (Dur, &'static str) {
        (self.duration, "duration")
    }

    fn runs_on_redis_cluster(&self) -> bool {
        true
    }

    fn validate(&self, bounds: &Bounds) -> Result<(), Invalid> {
        positive("contention-burst", "every", self.every)?;
        positive("contention-burst", "duration", self.duration)?;
        if !bounds.pause_points {
            return Err(Invalid::new("kind", "[[nemesis]] contention-burst drops the delays of the lock cycle; this workload's clients take no lock: use [workload] kind = \"lock\" or \"rmw-counter\""));
        }
        Ok(())
    }

    async fn fire(
        &self,
        ctx: &NemesisContext,
        _rng: &mut ChaCha8Rng,
        stop: &mut watch::Receiver<bool>,
    ) {
        let fault = ctx.fault(
            "every client",
            format!(
                "no think, retry or idle delay for {} ({} clients)",
                self.duration,
                ctx.clients.len()
            ),
        );
        ctx.clients.iter().for_each(|c| c.cycle.set_burst(true));
        ctx.started(&fault);
        sleep_or_stop(self.duration.0, stop).await;
        ctx.clients.iter().for_each(|c| c.cycle.set_burst(false));
        ctx.healed(fault);
    }

    fn finish(&self, ctx: &NemesisContext) {
        ctx.clients.iter().for_each(|c| c.cycle.set_burst(false));
    }
}
