//! Cut-links nemesis: fixed client→node links cut from `start` to the end of the run.
//!
//! Not a partition generator (that is [`super::partition`]): it is the network backdrop of a
//! choreographed scenario, written link by link — Kleppmann's "client 1 cannot reach D and E,
//! client 2 cannot reach A and B", against which a clock jump or a crash on C then plays. Cut
//! links blackhole both directions, so calls across them time out (`info`).

use super::driver::Schedule;
use super::partition::cut_for;
use super::{Bounds, Invalid, Nemesis, NemesisContext};
use crate::duration::Dur;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};
use tokio::sync::watch;

/// Cuts fixed client → node links from `start` to the end of the run: the network backdrop of a choreographed scenario.
#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CutLinks {
    /// When the first injection fires, from the start of the run.
    #[serde(default)]
    pub start: Dur,
    /// Links named `c{client}-{node}`, e.g. `c0-n4` or `c1-resource`.
    pub links: Vec<String>,
}

impl Nemesis for CutLinks {
    fn schedule(&self) -> Schedule {
        Schedule::once(self.start)
    }

    fn longest(&self) -> (Dur, &'static str) {
        // Healed at once when the run stops.
        (Dur::default(), "")
    }

    fn validate(&self, bounds: &Bounds) -> Result<(), Invalid> {
        if self.links.is_empty() {
            return Err(Invalid::new(
                "links",
                "[[nemesis]] cut-links: links is empty; name links like \"c0-n4\"",
            ));
        }
        for l in &self.links {
            let ok = l
                .strip_prefix('c')
                .and_then(|r| r.split_once('-'))
                .is_some_and(|(c, node)| {
                    let client_ok = c.parse::<u32>().is_ok_and(|c| c < bounds.clients);
                    let node_ok = node == crate::topology::RESOURCE
                        || node
                            .strip_prefix('n')
                            .and_then(|k| k.parse::<u32>().ok())
                            .is_some_and(|k| (1..=bounds.lock_nodes).contains(&k));
                    client_ok && node_ok
                });
            if !ok {
                return Err(Invalid::new("links", format!("[[nemesis]] cut-links: link `{l}` does not exist: use c{{client}}-{{node}} with clients 0..{} and nodes n1..n{} or resource", bounds.clients, bounds.lock_nodes)));
            }
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
            self.links.join(","),
            format!("{} link(s) cut until the end of the run", self.links.len()),
        );
        cut_for(ctx, fault, &self.links, stop, None).await;
    }
}
