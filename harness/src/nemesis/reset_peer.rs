//! Reset nemesis: connection resets (TCP RST) on chosen links.
//!
//! A Toxiproxy `reset_peer` toxic resets every connection on the link at its next byte; it stays
//! for `hold` so the clients' reconnections are reset too, then it is removed and they
//! reconnect. A call whose connection is reset mid-flight is `info`: the command may have run.

use super::links::{select, toxic_window, Clients, Links};
use super::schedule::Schedule;
use crate::duration::Dur;
use crate::nemesis::NemesisContext;
use crate::proxy::{Stream, Toxic, ToxicKind};
use checkers::Fault;
use rand_chacha::ChaCha8Rng;
use tokio::sync::watch;

const TOXIC: &str = "fencepost_reset";

pub struct Reset {
    pub schedule: Schedule,
    pub hold: Dur,
    pub links: Links,
    pub clients: Clients,
}

impl Reset {
    pub async fn run(
        mut self,
        ctx: NemesisContext,
        mut rng: ChaCha8Rng,
        mut stop: watch::Receiver<bool>,
    ) {
        while self.schedule.wait(&mut rng, &mut stop).await {
            let (names, target) = select(&ctx.topology, self.links, self.clients, &mut rng);
            let toxic =
                Toxic::new(Stream::Upstream, ToxicKind::ResetPeer { timeout_ms: 0 }).named(TOXIC);
            let fault = Fault {
                kind: "reset".into(),
                target,
                id: ctx.ids.next(),
                detail: format!("hold {}", self.hold),
            };
            toxic_window(&ctx, &names, toxic, fault, self.hold.0, &mut stop).await;
        }
    }
}
