//! Bandwidth nemesis: a link that drains slowly — a congested path, or a reader that takes its
//! time — then healed.
//!
//! A Toxiproxy `bandwidth` toxic passes at most `rate_kb_per_s` kilobytes per second in one
//! direction, and holds back the sender beyond that (the proxy stops reading, so the sender's
//! socket fills), as a slow reader's TCP window would. On a subscriber's link, downstream, that
//! is the slow Pub/Sub subscriber: the server's output buffer for it grows until
//! `client-output-buffer-limit pubsub` closes the connection, and what was published meanwhile is
//! gone.

use super::driver::{positive, Schedule};
use super::latency::Direction;
use super::links::{select, toxic_hold, Clients, Links};
use super::{Bounds, Invalid, Nemesis, NemesisContext};
use crate::duration::Dur;
use crate::proxy::{Stream, Toxic, ToxicKind};
use crate::topology::link;
use checkers::Fault;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};
use tokio::sync::watch;

const TOXIC: &str = "fencepost_bandwidth";

/// A link that drains slowly (Toxiproxy's `bandwidth` toxic): a congested path, a slow reader.
#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Bandwidth {
    /// When the first injection fires, from the start of the run.
    pub start: Dur,
    /// The mean time between injections (each gap is drawn from 0.5×..1.5× of it, from the seed).
    pub every: Dur,
    /// How long each injection lasts.
    pub duration: Dur,
    /// Kilobytes (1000 bytes) per second.
    pub rate_kb_per_s: u64,
    /// Which links: client → lock nodes, client → resource, or both.
    pub links: Links,
    /// Whose links: one client (drawn each time) or every client.
    #[serde(default)]
    pub clients: Clients,
    /// This client's links only (instead of `clients`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client: Option<u32>,
    /// Which direction: requests (upstream) or replies (downstream).
    #[serde(default)]
    pub stream: Direction,
}

impl Nemesis for Bandwidth {
    fn schedule(&self) -> Schedule {
        Schedule::recurring(self.start, self.every)
    }

    fn longest(&self) -> (Dur, &'static str) {
        (self.duration, "duration")
    }

    fn validate(&self, bounds: &Bounds) -> Result<(), Invalid> {
        positive("bandwidth", "every", self.every)?;
        positive("bandwidth", "duration", self.duration)?;
        if self.rate_kb_per_s == 0 {
            return Err(Invalid::new(
                "rate_kb_per_s",
                "[[nemesis]] bandwidth: rate_kb_per_s must be > 0 (0 would mean unlimited)",
            ));
        }
        match self.client {
            Some(c) if c >= bounds.clients => Err(Invalid::new(
                "client",
                format!(
                    "[[nemesis]] bandwidth: client {c} does not exist: the run has clients 0..{}",
                    bounds.clients.saturating_sub(1)
                ),
            )),
            _ => Ok(()),
        }
    }

    async fn fire(
        &self,
        ctx: &NemesisContext,
        rng: &mut ChaCha8Rng,
        stop: &mut watch::Receiver<bool>,
    ) {
        let (names, target) = match self.client {
            Some(c) => {
                let (all, _) = select(&ctx.topology, self.links, Clients::All, rng);
                let prefix = link(c, "");
                let mine: Vec<String> =
                    all.into_iter().filter(|l| l.starts_with(&prefix)).collect();
                let target = mine.join(",");
                (mine, target)
            }
            None => select(&ctx.topology, self.links, self.clients, rng),
        };
        let (stream, what) = match self.stream {
            Direction::Upstream => (Stream::Upstream, "requests"),
            Direction::Downstream => (Stream::Downstream, "replies"),
        };
        let toxic = Toxic::new(
            stream,
            ToxicKind::Bandwidth {
                rate_kb_per_s: self.rate_kb_per_s,
            },
        )
        .named(TOXIC);
        let fault = ctx.fault(target, format!("{what} at {} KB/s", self.rate_kb_per_s));
        // The nodes behind the slowed links: did they drop a client for its unread replies?
        let nodes: Vec<String> = names
            .iter()
            .filter_map(|l| l.split_once('-').map(|(_, n)| n.to_string()))
            .collect();
        let before = buffer_closes(ctx, &nodes);
        match toxic_hold(ctx, &names, toxic, fault, self.duration.0, stop).await {
            Ok(fault) => {
                let closed = buffer_closes(ctx, &nodes).saturating_sub(before);
                ctx.healed(Fault {
                    detail: format!(
                        "{}; the node closed {closed} client connection(s) for their output buffer limit meanwhile",
                        fault.detail
                    ),
                    ..fault
                })
            }
            Err((fault, e)) => ctx.failed(fault, e),
        }
    }
}

/// Lines in `nodes`' logs where redis-server closed a client for passing its output buffer
/// limit (`client-output-buffer-limit`).
fn buffer_closes(ctx: &NemesisContext, nodes: &[String]) -> usize {
    let cluster = ctx.topology.nodes();
    nodes
        .iter()
        .filter_map(|n| cluster.node(n))
        .map(|n| {
            std::fs::read_to_string(n.log_path())
                .unwrap_or_default()
                .matches("for overcoming of output buffer limits")
                .count()
        })
        .sum()
}
