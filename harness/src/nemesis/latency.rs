//! Latency nemesis: a latency spike on chosen links (client → node), then healed.
//!
//! A Toxiproxy `latency` toxic delays every request on the link (`stream = "upstream"`, the
//! default) or every reply (`"downstream"`) by `latency` ± `jitter` (jitter from the run's
//! seeded RNG). A delay longer than a call's timeout turns the call `info`; a request delayed past
//! the lease lands after the lease ended; a reply delayed past the lease makes a library return
//! a grant whose lease has already run out.

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
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Direction {
    /// Client → node: requests.
    #[default]
    Upstream,
    /// Node → client: replies.
    Downstream,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Latency {
    pub start: Dur,
    pub every: Dur,
    pub duration: Dur,
    pub latency: Dur,
    #[serde(default)]
    pub jitter: Dur,
    pub links: Links,
    #[serde(default)]
    pub clients: Clients,
    #[serde(default)]
    pub stream: Direction,
}

impl Nemesis for Latency {
    fn fault_kind(&self) -> &'static str {
        "latency"
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
        let fault = ctx.fault(
            "latency",
            target,
            format!("{what} +{} ±{}", self.latency, self.jitter),
        );
        toxic_window(ctx, &names, toxic, fault, self.duration.0, stop).await;
    }
}
