//! Which proxy links a network fault hits: one client's or every client's, to the lock nodes,
//! the resource, or both.

use super::driver::sleep_or_stop;
use crate::nemesis::NemesisContext;
use crate::proxy::Toxic;
use crate::topology::{link, Topology, RESOURCE};
use checkers::Fault;
use rand::Rng;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};
use std::time::Duration;
use tokio::sync::watch;

/// Which nodes' links.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum Links {
    /// Client → lock node(s).
    Lock,
    /// Client → resource.
    Resource,
    /// Both.
    All,
}

/// Whose links.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, schemars::JsonSchema,
)]
#[serde(rename_all = "kebab-case")]
pub enum Clients {
    /// One client, drawn from the seed each time.
    #[default]
    One,
    /// Every client.
    All,
}

/// The link names, and a description for the history.
pub fn select(
    topology: &Topology,
    links: Links,
    clients: Clients,
    rng: &mut ChaCha8Rng,
) -> (Vec<String>, String) {
    let n = topology.clients.len() as u32;
    let who: Vec<u32> = match clients {
        Clients::One => vec![rng.random_range(0..n)],
        Clients::All => (0..n).collect(),
    };
    let mut nodes: Vec<&str> = Vec::new();
    if matches!(links, Links::Lock | Links::All) {
        nodes.extend(topology.lock_nodes.iter().map(String::as_str));
    }
    if matches!(links, Links::Resource | Links::All) {
        nodes.push(RESOURCE);
    }
    let names = who
        .iter()
        .flat_map(|&c| nodes.iter().map(move |node| link(c, node)))
        .collect();
    let whom = match clients {
        Clients::One => format!("c{}", who[0]),
        Clients::All => "all clients".to_string(),
    };
    (names, format!("{whom} → {}", nodes.join(",")))
}

/// Adds `toxic` to every link in `names`, records `fault` once all took, holds for `hold` (or
/// until the run stops), removes the toxic, and records the heal (or the failure).
pub async fn toxic_window(
    ctx: &NemesisContext,
    names: &[String],
    toxic: Toxic,
    fault: Fault,
    hold: Duration,
    stop: &mut watch::Receiver<bool>,
) {
    match toxic_hold(ctx, names, toxic, fault, hold, stop).await {
        Ok(fault) => ctx.healed(fault),
        Err((fault, e)) => ctx.failed(fault, e),
    }
}

/// [`toxic_window`] without the last record: the toxic is removed, and the caller records the
/// heal (`Ok`, perhaps with more detail) or the failure (`Err`, with why).
pub async fn toxic_hold(
    ctx: &NemesisContext,
    names: &[String],
    toxic: Toxic,
    fault: Fault,
    hold: Duration,
    stop: &mut watch::Receiver<bool>,
) -> Result<Fault, (Fault, String)> {
    let mut added = Vec::new();
    let mut error = None;
    for l in names {
        match ctx.topology.network.add_toxic(l, toxic.clone()).await {
            Ok(_) => added.push(l),
            Err(e) => {
                error = Some(format!("cannot add the toxic to {l}: {e}"));
                break;
            }
        }
    }
    if error.is_none() {
        ctx.started(&fault);
        sleep_or_stop(hold, stop).await;
    }
    for l in added {
        let _ = ctx.topology.network.remove_toxic(l, &toxic.name).await;
    }
    match error {
        None => Ok(fault),
        Some(e) => Err((fault, e)),
    }
}
