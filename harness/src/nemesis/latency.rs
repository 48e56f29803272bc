//! Latency nemesis: a latency spike on chosen links (client → node), then healed.
//!
//! A Toxiproxy `latency` toxic delays every request on the link (`stream = "upstream"`, the
//! default) or every reply (`"downstream"`) by `latency` ± `jitter` (jitter from the run's
//! seeded RNG). A delay longer than a call's timeout turns the call `info`; a request delayed past
//! the lease lands after the lease ended; a reply delayed past the lease makes a library return
//! a grant whose lease has already run out.

use super::draw::Scale;
use super::driver::{positive, Schedule};
use super::links::{select, toxic_window, Clients, Links};
use super::{Bounds, Invalid, Nemesis, NemesisContext};
use crate::duration::Dur;
use crate::proxy::{Stream, Toxic};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};
use tokio::sync::watch;

const TOXIC: &str = "fencepost_latency";

/// Which direction a toxic delays.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, schemars::JsonSchema,
)]
#[serde(rename_all = "kebab-case")]
pub enum Direction {
    /// Client → node: requests.
    #[default]
    Upstream,
    /// Node → client: replies.
    Downstream,
}

/// A latency spike on chosen links (Toxiproxy's `latency` toxic): requests or replies delayed.
#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Latency {
    /// When the first injection fires, from the start of the run.
    pub start: Dur,
    /// The mean time between injections (each gap is drawn from 0.5×..1.5× of it, from the seed).
    pub every: Dur,
    /// How long each injection lasts.
    pub duration: Dur,
    /// The delay added on the link.
    pub latency: Dur,
    /// Up to this much more or less, drawn per packet from the seed.
    #[serde(default)]
    pub jitter: Dur,
    /// Which links: client → lock nodes, client → resource, or both.
    pub links: Links,
    /// Whose links: one client (drawn each time) or every client.
    #[serde(default)]
    pub clients: Clients,
    /// Which direction: requests (upstream) or replies (downstream).
    #[serde(default)]
    pub stream: Direction,
}

impl Nemesis for Latency {
    fn draw(scale: &Scale, rng: &mut ChaCha8Rng) -> Option<Self> {
        // A delay around the lease or the op timeout (a late grant, or a timeout that is not
        // a failure), held for one to three leases past itself.
        let latency = scale.around_waits(rng, 0.3, 2.0);
        let duration = Dur(latency.0 + scale.ttls(rng, 0.5, 3.0).0);
        Some(Latency {
            start: scale.start(rng),
            every: scale.every(rng, duration),
            duration,
            latency,
            jitter: Dur::default(),
            links: Links::Lock,
            clients: scale.pick(rng, &[Clients::One, Clients::All]),
            stream: scale.pick(rng, &[Direction::Upstream, Direction::Downstream]),
        })
    }

    fn schedule(&self) -> Schedule {
        Schedule::recurring(self.start, self.every)
    }

    fn longest(&self) -> (Dur, &'static str) {
        (self.duration, "duration")
    }

    fn validate(&self, _bounds: &Bounds) -> Result<(), Invalid> {
        positive("latency", "every", self.every)?;
        positive("latency", "duration", self.duration)?;
        positive("latency", "latency", self.latency)
    }

    async fn fire(
        &self,
        ctx: &NemesisContext,
        rng: &mut ChaCha8Rng,
        stop: &mut watch::Receiver<bool>,
    ) {
        let (names, target) = select(&ctx.topology, self.links, self.clients, rng);
        let (stream, what) = match self.stream {
            Direction::Upstream => (Stream::Upstream, "requests"),
            Direction::Downstream => (Stream::Downstream, "replies"),
        };
        let toxic = Toxic::latency(stream, self.latency.ms(), self.jitter.ms()).named(TOXIC);
        let fault = ctx.fault(target, format!("{what} +{} ±{}", self.latency, self.jitter));
        toxic_window(ctx, &names, toxic, fault, self.duration.0, stop).await;
    }
}
