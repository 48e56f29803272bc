//! The Sentinel set-up: a primary (`n1`), its replica (`n2`) and three Sentinels, and how each
//! client reaches whichever data node is primary.
//!
//! Redis replication is asynchronous: the primary acknowledges a write before the replica has it.
//! When Sentinel promotes the replica, whatever had not crossed the replication link is gone — an
//! acknowledged `INCR`, or the lock key a client was just granted. To make that window as wide as
//! a real network can make it, the replica replicates **through the fault proxy** (link
//! [`REPL_LINK`]), so a nemesis can delay the replication stream.
//!
//! - `n2` starts with `n1`'s passwords (after a failover each replicates from the other as
//!   `fencepost-admin`), and `REPLICAOF` the proxy in front of `n1`.
//! - The setup waits until the replica's link is up and every Sentinel knows the replica and the
//!   two other Sentinels: a failover attempted before that would not happen.
//! - Clients reach each data node through their own links `c{client}-n1`, `c{client}-n2`, and
//!   find the primary by asking a Sentinel ([`workloads::primary`]).

use super::{link, Topology};
use crate::nodes::node::{free_port, Node, NodeConfig, Persistence, ADMIN_USER};
use crate::nodes::sentinel::{
    await_acquaintance, link_replica, master_addr, Acquaintance, Sentinel, SentinelSettings,
    PRIMARY, REPLICA,
};
use crate::proxy::ProxyConfig;
use anyhow::Context;

/// The proxy link the replica replicates through.
pub const REPL_LINK: &str = "repl-n2-n1";

/// What the rest of the run needs to know about the replicated setup.
#[derive(Debug, Clone)]
pub struct Replication {
    pub sentinel_urls: Vec<String>,
    /// The first primary's and the replica's addresses, as Sentinel names them (`ip:port`).
    pub primary: String,
    pub replica: String,
    /// Per client: (a data node's address, the client's proxied URL to it).
    pub client_links: Vec<Vec<(String, String)>>,
    /// (a data node's address, its admin URL, direct).
    pub admin: Vec<(String, String)>,
    pub settings: SentinelSettings,
}

impl Replication {
    /// Admin URL of the data node at `addr` (direct).
    pub fn admin_url(&self, addr: &str) -> Option<String> {
        self.admin
            .iter()
            .find(|(a, _)| a == addr)
            .map(|(_, u)| u.clone())
    }

    /// The admin URL of the node the first answering Sentinel names primary.
    pub async fn primary_admin_url(&self) -> anyhow::Result<String> {
        let addr = master_addr(&self.sentinel_urls).await?;
        self.admin_url(&addr)
            .ok_or_else(|| anyhow::anyhow!("Sentinel names {addr}, no node of this run"))
    }
}

/// Starts the replica and the Sentinels next to a topology whose `n1` is running: the replica
/// as a node process with its client links, the replication link in the proxy, then the
/// Sentinels. The node set's lock is never held across an await.
pub async fn start(topology: &Topology, settings: SentinelSettings) -> anyhow::Result<Replication> {
    let primary = primary_of(topology)?;
    let (replica, client_links) = start_replica(topology, &primary).await?;
    let repl = topology
        .network
        .create(ProxyConfig::new(
            REPL_LINK,
            format!("127.0.0.1:{}", primary.port),
        ))
        .await
        .context("cannot create the replication link")?;
    let repl_port = repl.listen_addr().context("proxy without address")?.port();
    link_replica(
        &primary.admin_url,
        &replica.admin_url,
        (ADMIN_USER, &primary.admin_password),
        ("127.0.0.1", repl_port),
        &[],
    )
    .await?;
    let sentinel_urls = start_sentinels(topology, &primary, replica.port, settings)?;
    await_acquaintance(&sentinel_urls, settings.sentinels).await?;
    let (primary_addr, replica_addr) = (
        format!("127.0.0.1:{}", primary.port),
        format!("127.0.0.1:{}", replica.port),
    );
    Ok(Replication {
        sentinel_urls,
        admin: vec![
            (primary_addr.clone(), primary.admin_url),
            (replica_addr.clone(), replica.admin_url),
        ],
        primary: primary_addr,
        replica: replica_addr,
        client_links,
        settings,
    })
}

/// What the set-up needs of a data node it started.
struct DataNode {
    port: u16,
    admin_url: String,
    admin_password: String,
    client_password: String,
    /// The run's private folder (the replica's and the Sentinels' live beside it).
    root: std::path::PathBuf,
}

/// The primary `n1`, as the topology started it.
fn primary_of(topology: &Topology) -> anyhow::Result<DataNode> {
    let nodes = topology.nodes();
    let n1 = nodes
        .node(PRIMARY)
        .context("the primary n1 was not started")?;
    Ok(DataNode {
        port: n1.port,
        admin_url: n1.admin_url(),
        admin_password: n1.admin_password.clone(),
        client_password: n1.client_password.clone(),
        root: nodes.root.clone(),
    })
}

/// Starts the replica `n2` with `n1`'s passwords (after a failover each replicates from the
/// other) and gives each client a link to it; returns it and each client's links to both data
/// nodes, keyed by the address Sentinel will name them by.
async fn start_replica(
    topology: &Topology,
    primary: &DataNode,
) -> anyhow::Result<(DataNode, Vec<Vec<(String, String)>>)> {
    let binary = topology.nodes().binary()?;
    let node = Node::start_binary(
        NodeConfig {
            name: REPLICA.into(),
            persistence: Persistence::None,
            preload: None,
            library_user: false,
            place: None,
            cluster: None,
        },
        &primary.root.join(REPLICA),
        (
            primary.admin_password.clone(),
            primary.client_password.clone(),
        ),
        binary,
    )?;
    let mut client_links = Vec::new();
    let (primary_addr, replica_addr) = (
        format!("127.0.0.1:{}", primary.port),
        format!("127.0.0.1:{}", node.port),
    );
    for (c, links) in (0u32..).zip(&topology.clients) {
        let info = topology
            .network
            .create(ProxyConfig::new(
                link(c, REPLICA),
                format!("127.0.0.1:{}", node.port),
            ))
            .await
            .with_context(|| format!("cannot create proxy link c{c}-{REPLICA}"))?;
        let via = info.listen_addr().context("proxy without address")?.port();
        client_links.push(vec![
            (primary_addr.clone(), links.lock[0].clone()),
            (replica_addr.clone(), node.client_url_via(via)),
        ]);
    }
    let replica = DataNode {
        port: node.port,
        admin_url: node.admin_url(),
        admin_password: node.admin_password.clone(),
        client_password: node.client_password.clone(),
        root: primary.root.clone(),
    };
    topology.nodes().nodes.push(node);
    Ok((replica, client_links))
}

/// Starts the Sentinels, each told its own id, the replica and its peers (facts it would
/// otherwise learn over seconds); returns their URLs.
fn start_sentinels(
    topology: &Topology,
    primary: &DataNode,
    replica_port: u16,
    settings: SentinelSettings,
) -> anyhow::Result<Vec<String>> {
    let mut ports = Vec::new();
    for _ in 0..settings.sentinels {
        ports.push(free_port().context("no free port for a Sentinel")?);
    }
    let ids: Vec<String> = (0..settings.sentinels)
        .map(|_| {
            format!(
                "{}{}",
                crate::nodes::random_password(),
                &crate::nodes::random_password()[..8]
            )
        })
        .collect();
    let mut urls = Vec::new();
    for me in 0..ports.len() {
        let name = format!("s{}", me + 1);
        let known = Acquaintance {
            port: ports[me],
            myid: &ids[me],
            replica_port,
            peers: (0..ports.len())
                .filter(|&j| j != me)
                .map(|j| (ports[j], ids[j].as_str()))
                .collect(),
        };
        let binary = topology.nodes().binary()?;
        let s = Sentinel::start(
            &binary,
            &name,
            &primary.root.join(&name),
            primary.port,
            &primary.admin_password,
            settings,
            known,
        )?;
        urls.push(s.url());
        topology.nodes().sentinels.push(s);
    }
    Ok(urls)
}
