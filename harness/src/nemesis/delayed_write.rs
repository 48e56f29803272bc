//! Delayed-write nemesis: Kleppmann's delayed packet.
//!
//! A holder checks its lease, then sends its write; the network holds the write back until
//! after the lease has ended and another client has taken the lock; then it lands. No client
//! ever *believed* two holders existed (the write was sent in time), so the client-side
//! mutual-exclusion checker sees nothing — only the resource can tell, by its fencing token.
//!
//! Mechanics: the nemesis meets a chosen client at its pause point (after the validity check,
//! before the write), adds a `latency` toxic of `delay` to that client's link to the resource
//! (upstream only), lets the client send, and removes the toxic once the delayed write has
//! passed.

use super::driver::{positive, sleep_or_stop, Schedule};
use super::{Bounds, Invalid, Nemesis, NemesisContext};
use crate::duration::Dur;
use crate::proxy::{Stream, Toxic};
use crate::topology::{link, RESOURCE};
use rand::Rng;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};
use std::time::Duration;
use tokio::sync::watch;

const TOXIC: &str = "fencepost_delayed_write";

/// Holds a holder's write back in the network until its lease has ended and another client holds the lock (Kleppmann's delayed packet).
#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DelayedWrite {
    /// When the first injection fires, from the start of the run.
    pub start: Dur,
    /// The mean time between injections (each gap is drawn from 0.5×..1.5× of it, from the seed).
    pub every: Dur,
    /// How long the write is held back.
    pub delay: Dur,
}

impl Nemesis for DelayedWrite {
    fn schedule(&self) -> Schedule {
        Schedule::recurring(self.start, self.every)
    }

    fn longest(&self) -> (Dur, &'static str) {
        (self.delay, "delay")
    }

    fn validate(&self, bounds: &Bounds) -> Result<(), Invalid> {
        positive("delayed-write", "every", self.every)?;
        positive("delayed-write", "delay", self.delay)?;
        if !bounds.pause_points {
            return Err(Invalid::new("kind", "[[nemesis]] delayed-write holds back a holder's write at its pause point; this workload's clients hold no lock: use [workload] kind = \"lock\""));
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
        // Wait for the client to reach its pause point holding the lock (or the run to end).
        let Some(go) = ctx.clients[c].gate.rendezvous(stop).await else {
            return;
        };
        let l = link(c as u32, RESOURCE);
        let toxic = Toxic::latency(Stream::Upstream, self.delay.ms(), 0).named(TOXIC);
        let fault = ctx.fault(
            format!("c{c} → {RESOURCE}"),
            format!("write held back {}", self.delay),
        );
        if let Err(e) = ctx.topology.network.add_toxic(&l, toxic).await {
            let _ = go.send(());
            ctx.failed(fault, format!("cannot delay {l}: {e}"));
            return;
        }
        ctx.started(&fault);
        let _ = go.send(());
        // The write passes the proxy `delay` after it is sent; keep the toxic a little longer.
        sleep_or_stop(self.delay.0 + Duration::from_millis(200), stop).await;
        let _ = ctx.topology.network.remove_toxic(&l, TOXIC).await;
        ctx.healed(fault);
    }

    fn finish(&self, ctx: &NemesisContext) {
        ctx.gates().for_each(|g| g.disarm());
    }
}
