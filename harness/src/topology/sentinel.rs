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
/// as a node process, its links and the replication link in the proxy, then the Sentinels. The
/// node set's lock is never held across an await.
pub async fn start(topology: &Topology, settings: SentinelSettings) -> anyhow::Result<Replication> {
    let network = &topology.network;
    let n1_links: Vec<String> = topology.clients.iter().map(|c| c.lock[0].clone()).collect();
    let (primary_port, admin, client, root) = {
        let nodes = topology.nodes();
        let n1 = nodes
            .node(PRIMARY)
            .context("the primary n1 was not started")?;
        (
            n1.port,
            n1.admin_password.clone(),
            n1.client_password.clone(),
            nodes.root.clone(),
        )
    };
    let replica = Node::start(
        NodeConfig {
            name: REPLICA.into(),
            persistence: Persistence::None,
            preload: None,
            library_user: false,
            place: None,
            cluster: None,
        },
        &root.join(REPLICA),
        (admin.clone(), client),
    )?;
    let replica_port = replica.port;
    let replica_admin = replica.admin_url();
    let mut via_ports = Vec::new();
    for c in 0..n1_links.len() as u32 {
        let info = network
            .create(ProxyConfig::new(
                link(c, REPLICA),
                format!("127.0.0.1:{replica_port}"),
            ))
            .await
            .with_context(|| format!("cannot create proxy link c{c}-{REPLICA}"))?;
        via_ports.push(info.listen_addr().context("proxy without address")?.port());
    }
    let (primary, replica_addr) = (
        format!("127.0.0.1:{primary_port}"),
        format!("127.0.0.1:{replica_port}"),
    );
    let client_links = n1_links
        .iter()
        .zip(&via_ports)
        .map(|(n1_url, &p)| {
            vec![
                (primary.clone(), n1_url.clone()),
                (replica_addr.clone(), replica.client_url_via(p)),
            ]
        })
        .collect();
    topology.nodes().nodes.push(replica);

    let repl = network
        .create(ProxyConfig::new(
            REPL_LINK,
            format!("127.0.0.1:{primary_port}"),
        ))
        .await
        .context("cannot create the replication link")?;
    let repl_port = repl.listen_addr().context("proxy without address")?.port();
    let primary_admin = topology
        .nodes()
        .node(PRIMARY)
        .context("n1 is gone")?
        .admin_url();
    link_replica(
        &primary_admin,
        &replica_admin,
        (ADMIN_USER, &admin),
        ("127.0.0.1", repl_port),
        &[],
    )
    .await?;

    let mut sentinel_urls = Vec::new();
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
    for i in 1..=settings.sentinels {
        let name = format!("s{i}");
        let me = (i - 1) as usize;
        let known = Acquaintance {
            port: ports[me],
            myid: &ids[me],
            replica_port,
            peers: (0..ports.len())
                .filter(|&j| j != me)
                .map(|j| (ports[j], ids[j].as_str()))
                .collect(),
        };
        let s = Sentinel::start(
            &name,
            &root.join(&name),
            primary_port,
            &admin,
            settings,
            known,
        )?;
        sentinel_urls.push(s.url());
        topology.nodes().sentinels.push(s);
    }
    await_acquaintance(&sentinel_urls, settings.sentinels).await?;
    let replication = Replication {
        sentinel_urls,
        admin: vec![
            (primary.clone(), primary_admin),
            (replica_addr.clone(), replica_admin),
        ],
        primary,
        replica: replica_addr,
        client_links,
        settings,
    };
    Ok(replication)
}
