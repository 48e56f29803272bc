//! Partition nemesis: cut clients off from nodes, in Jepsen's shapes, then heal.
//!
//! A partition is data (Jepsen's "grudge"): the set of client→node links that are cut. Shapes
//! are drawn over the clients and the lock nodes (the resource node too when asked):
//!
//! - `isolate-node`: one node loses every client.
//! - `isolate-client`: one client loses every node.
//! - `halves`: clients and nodes are each split in two; each half of the clients sees only its
//!   half of the nodes.
//! - `majority`: the nodes split into a majority and a minority; one group of clients sees only
//!   the majority, the other only the minority.
//! - `bridge`: the nodes split into two sides and one bridge node; each group of clients sees its
//!   side plus the bridge (so both may see a majority that overlaps only in the bridge).
//!
//! A cut link blackholes both directions in the fault proxy (packets are dropped, connections
//! stay open and time out), so calls across it end `info`. Every cut is healed when the fault
//! ends, and at the end of the run.

use super::draw::Scale;
use super::driver::{positive, sleep_or_stop, Schedule};
use super::{Bounds, Invalid, Nemesis, NemesisContext};
use crate::duration::Dur;
use crate::topology::{link, RESOURCE};
use checkers::Fault;
use rand::seq::SliceRandom;
use rand::Rng;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;
use tokio::sync::watch;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum Shape {
    /// One node loses every client.
    IsolateNode,
    /// One client loses every node.
    IsolateClient,
    /// Clients and nodes each split in two; each half of the clients sees only its half.
    Halves,
    /// Half the clients see a majority of the nodes, the other half the rest.
    Majority,
    /// Two halves that share one bridge node.
    Bridge,
}

impl Shape {
    pub fn name(self) -> &'static str {
        match self {
            Shape::IsolateNode => "isolate-node",
            Shape::IsolateClient => "isolate-client",
            Shape::Halves => "halves",
            Shape::Majority => "majority",
            Shape::Bridge => "bridge",
        }
    }
}

/// The cut links of one partition and how to describe it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Grudge {
    /// (client, node) pairs that cannot reach each other.
    pub cuts: BTreeSet<(u32, String)>,
    /// Human-readable components, e.g. `{c0 c2 | n1 n2 n3} {c1 | n4 n5}`.
    pub description: String,
}

/// Components: each is a group of clients and the nodes they can still see.
fn grudge_of(components: &[(Vec<u32>, Vec<String>)], all_nodes: &[String]) -> Grudge {
    let mut cuts = BTreeSet::new();
    for (clients, visible) in components {
        for &c in clients {
            for n in all_nodes.iter().filter(|n| !visible.contains(n)) {
                cuts.insert((c, n.clone()));
            }
        }
    }
    let description = components
        .iter()
        .map(|(cs, ns)| {
            let cs: Vec<String> = cs.iter().map(|c| format!("c{c}")).collect();
            format!("{{{} | {}}}", cs.join(" "), ns.join(" "))
        })
        .collect::<Vec<_>>()
        .join(" ");
    Grudge { cuts, description }
}

/// Draws a partition of `shape` over `clients` clients and `nodes` (seeded).
pub fn draw(shape: Shape, clients: u32, nodes: &[String], rng: &mut ChaCha8Rng) -> Grudge {
    let mut cs: Vec<u32> = (0..clients).collect();
    cs.shuffle(rng);
    let mut ns: Vec<String> = nodes.to_vec();
    ns.shuffle(rng);
    let split_clients = |cs: &[u32]| {
        let k = (cs.len() / 2).max(1).min(cs.len());
        (cs[..k].to_vec(), cs[k..].to_vec())
    };
    let components: Vec<(Vec<u32>, Vec<String>)> = match shape {
        Shape::IsolateNode => {
            let victim = ns[rng.random_range(0..ns.len())].clone();
            let rest: Vec<String> = ns.iter().filter(|n| **n != victim).cloned().collect();
            vec![(cs, rest)]
        }
        Shape::IsolateClient => {
            let victim = cs[0];
            vec![(vec![victim], vec![]), (cs[1..].to_vec(), ns)]
        }
        Shape::Halves => {
            let (a, b) = split_clients(&cs);
            let k = ns.len().div_ceil(2);
            vec![(a, ns[..k].to_vec()), (b, ns[k..].to_vec())]
        }
        Shape::Majority => {
            let (a, b) = split_clients(&cs);
            let majority = ns.len() / 2 + 1;
            vec![
                (a, ns[..majority.min(ns.len())].to_vec()),
                (b, ns[majority.min(ns.len())..].to_vec()),
            ]
        }
        Shape::Bridge => {
            let (a, b) = split_clients(&cs);
            let bridge = ns[0].clone();
            let rest = &ns[1..];
            let k = rest.len() / 2;
            let mut left = rest[..k].to_vec();
            let mut right = rest[k..].to_vec();
            left.push(bridge.clone());
            right.push(bridge);
            vec![(a, left), (b, right)]
        }
    };
    grudge_of(&components, nodes)
}

/// Cuts clients off from nodes in one of Jepsen's shapes (a grudge), then heals: packets are dropped, not delayed.
#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Partition {
    /// When the first injection fires, from the start of the run.
    pub start: Dur,
    /// The mean time between injections (each gap is drawn from 0.5×..1.5× of it, from the seed).
    pub every: Dur,
    /// How long each partition lasts.
    pub duration: Dur,
    /// The partition's shape.
    pub shape: Shape,
    /// Also partition the resource node (by default only lock nodes).
    #[serde(default)]
    pub resource: bool,
    /// `isolate-client` only: draw the victim from these clients (by default any client), e.g.
    /// the subscribers of a messaging workload.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub clients: Option<Vec<u32>>,
}

impl Nemesis for Partition {
    fn draw(scale: &Scale, rng: &mut ChaCha8Rng) -> Option<Self> {
        // A grudge of any shape, for half a lease to three.
        let duration = scale.ttls(rng, 0.5, 3.0);
        Some(Partition {
            start: scale.start(rng),
            every: scale.every(rng, duration),
            duration,
            shape: scale.pick(
                rng,
                &[
                    Shape::IsolateNode,
                    Shape::IsolateClient,
                    Shape::Halves,
                    Shape::Majority,
                    Shape::Bridge,
                ],
            ),
            resource: false,
            clients: None,
        })
    }

    fn schedule(&self) -> Schedule {
        Schedule::recurring(self.start, self.every)
    }

    fn longest(&self) -> (Dur, &'static str) {
        (self.duration, "duration")
    }

    fn validate(&self, bounds: &Bounds) -> Result<(), Invalid> {
        positive("partition", "every", self.every)?;
        positive("partition", "duration", self.duration)?;
        if let Some(list) = &self.clients {
            if self.shape != Shape::IsolateClient {
                return Err(Invalid::new("clients", "[[nemesis]] partition clients = [...] chooses the victim of shape = \"isolate-client\"; other shapes split every client"));
            }
            if list.is_empty() || list.iter().any(|&c| c >= bounds.clients) {
                return Err(Invalid::new("clients", format!("[[nemesis]] partition clients = {list:?}: name one or more clients 0..{} ([run] clients = {})", bounds.clients, bounds.clients)));
            }
        }
        Ok(())
    }

    async fn fire(
        &self,
        ctx: &NemesisContext,
        rng: &mut ChaCha8Rng,
        stop: &mut watch::Receiver<bool>,
    ) {
        let mut nodes = ctx.topology.lock_nodes.clone();
        if self.resource {
            nodes.push(RESOURCE.to_string());
        }
        let clients = ctx.topology.clients.len() as u32;
        let grudge = match &self.clients {
            Some(list) => {
                let victim = list[rng.random_range(0..list.len())];
                let others: Vec<u32> = (0..clients).filter(|&c| c != victim).collect();
                grudge_of(&[(vec![victim], vec![]), (others, nodes.clone())], &nodes)
            }
            None => draw(self.shape, clients, &nodes, rng),
        };
        let fault = ctx.fault(
            grudge.description.clone(),
            format!("{}, {} link(s) cut", self.shape.name(), grudge.cuts.len()),
        );
        let links: Vec<String> = grudge.cuts.iter().map(|(c, n)| link(*c, n)).collect();
        cut_for(ctx, fault, &links, stop, Some(self.duration.0)).await;
    }
}

/// Cuts `links`, records `fault` once all are cut (or its failure, healing what was cut), holds
/// for `hold` (`None`: until the run stops), heals and records the stop.
pub async fn cut_for(
    ctx: &NemesisContext,
    fault: Fault,
    links: &[String],
    stop: &mut watch::Receiver<bool>,
    hold: Option<std::time::Duration>,
) {
    let mut cut = Vec::new();
    let mut error = None;
    for l in links {
        match ctx.topology.cut(l).await {
            Ok(()) => cut.push(l),
            Err(e) => {
                error = Some(format!("cannot cut {l}: {e}"));
                break;
            }
        }
    }
    if error.is_none() {
        ctx.started(&fault);
        match hold {
            Some(d) => {
                sleep_or_stop(d, stop).await;
            }
            None => {
                let _ = stop.wait_for(|s| *s).await;
            }
        }
    }
    for l in cut {
        if let Err(e) = ctx.topology.heal(l).await {
            eprintln!("fencepost: {} could not heal {l}: {e}", fault.kind);
        }
    }
    match error {
        None => ctx.healed(fault),
        Some(e) => ctx.failed(fault, e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    fn nodes(n: usize) -> Vec<String> {
        (1..=n).map(|i| format!("n{i}")).collect()
    }

    #[test]
    fn isolate_node_cuts_one_node_from_every_client() {
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        let g = draw(Shape::IsolateNode, 4, &nodes(5), &mut rng);
        assert_eq!(g.cuts.len(), 4);
        let victims: BTreeSet<&String> = g.cuts.iter().map(|(_, n)| n).collect();
        assert_eq!(victims.len(), 1);
    }

    #[test]
    fn isolate_client_cuts_one_client_from_every_node() {
        let mut rng = ChaCha8Rng::seed_from_u64(2);
        let g = draw(Shape::IsolateClient, 4, &nodes(5), &mut rng);
        assert_eq!(g.cuts.len(), 5);
        let victims: BTreeSet<u32> = g.cuts.iter().map(|(c, _)| *c).collect();
        assert_eq!(victims.len(), 1);
    }

    #[test]
    fn majority_gives_each_side_a_disjoint_node_set() {
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        let g = draw(Shape::Majority, 4, &nodes(5), &mut rng);
        // Two clients see 3 nodes (cut from 2), two see 2 (cut from 3).
        assert_eq!(g.cuts.len(), 2 * 2 + 2 * 3);
    }

    #[test]
    fn bridge_leaves_the_bridge_node_visible_to_all() {
        let mut rng = ChaCha8Rng::seed_from_u64(4);
        let all = nodes(5);
        let g = draw(Shape::Bridge, 4, &all, &mut rng);
        let cut_nodes: BTreeSet<&String> = g.cuts.iter().map(|(_, n)| n).collect();
        assert_eq!(
            cut_nodes.len(),
            4,
            "every node but the bridge is cut from someone"
        );
    }

    #[test]
    fn draws_are_reproducible_from_the_seed() {
        let a = draw(
            Shape::Halves,
            6,
            &nodes(5),
            &mut ChaCha8Rng::seed_from_u64(9),
        );
        let b = draw(
            Shape::Halves,
            6,
            &nodes(5),
            &mut ChaCha8Rng::seed_from_u64(9),
        );
        assert_eq!(a, b);
    }
}
