//! Reset-peer nemesis: connection resets (TCP RST) on chosen links.
//!
//! A Toxiproxy `reset_peer` toxic resets every connection on the link at its next byte; it stays
//! for `hold` so the clients' reconnections are reset too, then it is removed and they
//! reconnect. A call whose connection is reset mid-flight is `info`: the command may have run.

use super::driver::{positive, Schedule};
use super::links::{select, toxic_window, Clients, Links};
use super::{Bounds, Invalid, Nemesis, NemesisContext};
use crate::duration::Dur;
use crate::proxy::{Stream, Toxic, ToxicKind};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};
use tokio::sync::watch;

const TOXIC: &str = "fencepost_reset";

/// Resets connections (TCP RST) on chosen links, and keeps resetting new ones for `hold`.
#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ResetPeer {
    /// When the first injection fires, from the start of the run.
    pub start: Dur,
    /// The mean time between injections (each gap is drawn from 0.5×..1.5× of it, from the seed).
    pub every: Dur,
    /// How long new connections keep being reset.
    pub hold: Dur,
    /// Which links: client → lock nodes, client → resource, or both.
    pub links: Links,
    /// Whose links: one client (drawn each time) or every client.
    #[serde(default)]
    pub clients: Clients,
}

impl Nemesis for ResetPeer {
    fn schedule(&self) -> Schedule {
        Schedule::recurring(self.start, self.every)
    }

    fn longest(&self) -> (Dur, &'static str) {
        (self.hold, "hold")
    }

    fn validate(&self, _bounds: &Bounds) -> Result<(), Invalid> {
        positive("reset-peer", "every", self.every)?;
        positive("reset-peer", "hold", self.hold)
    }

    async fn fire(
        &self,
        ctx: &NemesisContext,
        rng: &mut ChaCha8Rng,
        stop: &mut watch::Receiver<bool>,
    ) {
        let (names, target) = select(&ctx.topology, self.links, self.clients, rng);
        let toxic =
            Toxic::new(Stream::Upstream, ToxicKind::ResetPeer { timeout_ms: 0 }).named(TOXIC);
        let fault = ctx.fault(target, format!("hold {}", self.hold));
        toxic_window(ctx, &names, toxic, fault, self.hold.0, stop).await;
    }
}
