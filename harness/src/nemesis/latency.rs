//! Latency nemesis: a latency spike on chosen links (client → node), then healed.
//!
//! A Toxiproxy `latency` toxic on the upstream stream delays every request on the link by
//! `latency` ± `jitter` (jitter from the run's seeded RNG). A delay longer than a call's timeout
//! turns the call `info`; one longer than the lease lets a request land after the lease ended.

use super::links::{select, toxic_window, Clients, Links};
use super::schedule::Schedule;
use crate::duration::Dur;
use crate::nemesis::NemesisContext;
use crate::proxy::{Stream, Toxic};
use checkers::Fault;
use rand_chacha::ChaCha8Rng;
use tokio::sync::watch;

const TOXIC: &str = "fencepost_latency";

pub struct Latency {
    pub schedule: Schedule,
    pub duration: Dur,
    pub latency: Dur,
    pub jitter: Dur,
    pub links: Links,
    pub clients: Clients,
}

impl Latency {
    pub async fn run(
        mut self,
        ctx: NemesisContext,
        mut rng: ChaCha8Rng,
        mut stop: watch::Receiver<bool>,
    ) {
        while self.schedule.wait(&mut rng, &mut stop).await {
            let (names, target) = select(&ctx.topology, self.links, self.clients, &mut rng);
            let toxic =
                Toxic::latency(Stream::Upstream, self.latency.ms(), self.jitter.ms()).named(TOXIC);
            let fault = Fault {
                kind: "latency".into(),
                target,
                id: ctx.ids.next(),
                detail: format!("+{} ±{}", self.latency, self.jitter),
            };
            toxic_window(&ctx, &names, toxic, fault, self.duration.0, &mut stop).await;
        }
    }
}
