//! Loop-starve nemesis: the thread running a lock library's timers stays busy while its client
//! holds the lock.
//!
//! A process need not stop for its renewal to come late: a CPU-bound stretch on the asyncio or
//! Node event loop, or on the thread a library's watchdog runs on, delays every timer due
//! meanwhile (redisson#5698: renewals delayed past the lease by busy event loops). Where
//! `process-pause` stops the whole process, this keeps it running: while a seeded client process
//! holds the lock — in its critical section, after its read — the harness sends the client
//! protocol's `starve` for `starve` ms, and the adapter busy-loops that thread without yielding.
//! The fault starts when `starve` is sent and stops at its reply; then the critical section goes
//! on (the library's `held`, the write) with whatever the late timers did. Client processes
//! whose adapter says `supports.starve` in its hello only.

use super::draw::Scale;
use super::driver::{positive, Schedule};
use super::{field, Bounds, Invalid, Nemesis, NemesisContext};
use crate::duration::Dur;
use crate::handles::FieldFault;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};
use tokio::sync::watch;

/// Keeps a lock holder's timer thread (its event loop) busy without yielding while it holds the lock, so its renewals fire late (client processes whose adapter says supports.starve).
#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct LoopStarve {
    /// When the first injection fires, from the start of the run.
    pub start: Dur,
    /// The mean time between injections (each gap is drawn from 0.5×..1.5× of it, from the seed).
    pub every: Dur,
    /// How long the thread stays busy; longer than the ttl to make a renewal come too late.
    pub starve: Dur,
}

impl Nemesis for LoopStarve {
    fn draw(scale: &Scale, rng: &mut ChaCha8Rng) -> Option<Self> {
        let starve = scale.ttls(rng, 0.3, 3.0);
        Some(LoopStarve {
            start: scale.start(rng),
            every: scale.every(rng, starve),
            starve,
        })
    }

    fn schedule(&self) -> Schedule {
        Schedule::recurring(self.start, self.every)
    }

    fn longest(&self) -> (Dur, &'static str) {
        (self.starve, "starve")
    }

    fn validate(&self, bounds: &Bounds) -> Result<(), Invalid> {
        positive("loop-starve", "every", self.every)?;
        positive("loop-starve", "starve", self.starve)?;
        if !self.starve.0.subsec_nanos().is_multiple_of(1_000_000) {
            return Err(Invalid::new(
                "starve",
                format!("[[nemesis]] loop-starve: starve = \"{}\" is not whole milliseconds: the client protocol's starve takes ms; write e.g. \"1500ms\"", self.starve),
            ));
        }
        if !bounds.client_processes {
            return Err(Invalid::new("kind", "[[nemesis]] loop-starve busies a client process's event loop (the client protocol's starve): add a [client] section (or --client NAME); for fencepost's own in-process clients use gc-pause"));
        }
        Ok(())
    }

    async fn fire(
        &self,
        ctx: &NemesisContext,
        rng: &mut ChaCha8Rng,
        stop: &mut watch::Receiver<bool>,
    ) {
        field::arm_and_wait(
            ctx,
            rng,
            FieldFault::Starve {
                ms: self.starve.ms(),
            },
            format!(
                "timer thread busy for {} while holding the lock",
                self.starve
            ),
            |s| {
                (!s.starve).then(|| {
                    format!(
                        "the adapter {} does not answer starve: its hello lacks supports.starve",
                        s.adapter
                    )
                })
            },
            "critical section",
            stop,
        )
        .await;
    }

    fn finish(&self, ctx: &NemesisContext) {
        for c in &ctx.clients {
            c.field.disarm();
        }
    }
}
