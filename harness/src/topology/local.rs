//! The local set-up: lock nodes `n1..nN` (or a Redis Cluster) and the resource node started
//! here, each client reaching each node through a proxy link of its own in the embedded fault
//! proxy. The proxy reaches a node it shares the host with through the node's Unix socket.

use super::{link, ClientLinks, Setup, Spec, Topology, RESOURCE};
use crate::nodes::clock::{self, NodeClock};
use crate::nodes::node::{NodeConfig, Persistence};
use crate::nodes::{redis_cluster, NodeSet};
use crate::proxy::{Network, ProxyConfig, Registry};
use anyhow::Context;
use std::sync::Arc;

/// Starts the nodes and the proxies.
pub async fn start(spec: &Spec, run_id: &str, seed: u64) -> anyhow::Result<Topology> {
    let mut nodes = NodeSet::new(run_id).context("cannot create the nodes' temporary folder")?;
    if let Some(server) = &spec.server {
        nodes.run_binary(crate::nodes::node::Binary::of(server));
    }
    let lock_nodes: Vec<String> = match spec.redis_cluster {
        Some(_) => Vec::new(),
        None => (1..=spec.lock_nodes).map(|i| format!("n{i}")).collect(),
    };
    let clock_library = clock::install_library(&nodes.root)?;
    let mut node_clocks = Vec::new();
    for name in lock_nodes.iter().map(String::as_str).chain([RESOURCE]) {
        let preload = if name == RESOURCE {
            None
        } else {
            let control = nodes.root.join(format!("{name}.clock"));
            node_clocks.push(Arc::new(NodeClock::create(&control)?));
            Some(clock::preload(&clock_library, &control))
        };
        let persistence = if name == RESOURCE {
            Persistence::None
        } else {
            spec.persistence
        };
        nodes.start(NodeConfig {
            name: name.to_string(),
            persistence,
            preload,
            library_user: spec.library_user,
            place: None,
            cluster: None,
        })?;
    }
    let setup = match &spec.redis_cluster {
        Some((shape, key)) => {
            Setup::RedisCluster(redis_cluster::form(&mut nodes, *shape, key).await?)
        }
        None => Setup::Local,
    };

    let network = Network::Embedded(Registry::new(seed));
    let mut clients = Vec::new();
    for c in 0..spec.clients {
        let mut lock = Vec::new();
        for name in &lock_nodes {
            lock.push(proxied_url(&network, &nodes, c, name).await?);
        }
        let resource = proxied_url(&network, &nodes, c, RESOURCE).await?;
        clients.push(ClientLinks { lock, resource });
    }
    let resource_admin_url = nodes
        .node(RESOURCE)
        .expect("resource node started")
        .admin_url();
    Ok(Topology::new(
        setup,
        nodes,
        network,
        lock_nodes,
        clients,
        resource_admin_url,
        node_clocks,
        spec.persistence,
    ))
}

/// Client `client`'s URL to `node`, through a new proxy link of its own.
pub(super) async fn proxied_url(
    network: &Network,
    nodes: &NodeSet,
    client: u32,
    node: &str,
) -> anyhow::Result<String> {
    let n = nodes.node(node).expect("node started");
    // The embedded proxy reaches a node it shares the host with through the node's Unix socket,
    // sparing a loopback TCP hop's CPU on a small machine; faults act in the proxy, not in the
    // transport, so they are the same either way.
    let upstream = match (network, n.unix_socket()) {
        (Network::Embedded(_), Some(sock)) => format!("unix:{}", sock.display()),
        _ => format!("127.0.0.1:{}", n.port),
    };
    let info = network
        .create(ProxyConfig::new(link(client, node), upstream))
        .await
        .with_context(|| format!("cannot create proxy link {}", link(client, node)))?;
    let addr = info
        .listen_addr()
        .with_context(|| format!("proxy {} has no address", info.name))?;
    Ok(n.client_url_via(addr.port()))
}
