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

use super::schedule::{sleep_or_stop, Schedule};
use crate::duration::Dur;
use crate::nemesis::NemesisContext;
use crate::proxy::{Stream, Toxic};
use crate::topology::{link, RESOURCE};
use checkers::{Fault, F};
use rand::Rng;
use rand_chacha::ChaCha8Rng;
use std::time::Duration;
use tokio::sync::watch;

const TOXIC: &str = "fencepost_delayed_write";

pub struct DelayedWrite {
    pub schedule: Schedule,
    pub delay: Dur,
}

impl DelayedWrite {
    pub async fn run(
        mut self,
        ctx: NemesisContext,
        mut rng: ChaCha8Rng,
        mut stop: watch::Receiver<bool>,
    ) {
        while self.schedule.wait(&mut rng, &mut stop).await {
            let c = rng.random_range(0..ctx.gates.len());
            let arrived = ctx.gates[c].arm_rendezvous();
            // Wait for the client to reach its pause point holding the lock (or the run to end).
            let go = tokio::select! {
                go = arrived => match go { Ok(go) => go, Err(_) => continue },
                _ = stop.wait_for(|s| *s) => { ctx.gates[c].disarm(); break; }
            };
            let l = link(c as u32, RESOURCE);
            let toxic = Toxic::latency(Stream::Upstream, self.delay.ms(), 0).named(TOXIC);
            let added = ctx.topology.network.add_toxic(&l, toxic).await;
            let fault = Fault {
                kind: "delayed-write".into(),
                target: format!("c{c} → {RESOURCE}"),
                id: ctx.ids.next(),
                detail: format!("write held back {}", self.delay),
            };
            ctx.rec.nemesis(F::Start, fault.clone());
            let _ = go.send(());
            // The write passes the proxy `delay` after it is sent; keep the toxic a little longer.
            let _ = sleep_or_stop(self.delay.0 + Duration::from_millis(200), &mut stop).await;
            if added.is_ok() {
                let _ = ctx.topology.network.remove_toxic(&l, TOXIC).await;
            }
            ctx.rec.nemesis(F::Stop, fault);
        }
    }
}
