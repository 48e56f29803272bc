//! Sentinel in containers: the `[sentinel]` set-up of a scenario, made out of a topology's
//! running Sentinels and its first two lock nodes.
//!
//! Locally fencepost starts the replica and the Sentinels itself ([`crate::topology::sentinel`]).
//! Here they run already (the compose file's `sentinel-*` services monitor nothing), and a run
//! configures them with commands, the same facts the local set-up writes into config files:
//! `n2` replicates `n1` through this run's replication proxy (so the failover nemesis can delay
//! the stream) and announces its own address (or `n1` would see the proxy's); each Sentinel is
//! told to monitor `n1` (`SENTINEL MONITOR`, `SENTINEL SET`) and finds the replica and its
//! peers as Sentinel always does. Sentinel names nodes by IP, so the clients' links are keyed by
//! the nodes' resolved addresses.
//!
//! [`SentinelPlan::reset`] undoes it all — no Sentinel monitors anything, both nodes are
//! primaries — at the end of a run, and at the start of the next one when a run was killed
//! (after a failover `n1` is a replica of `n2`, and would refuse every write of the next run).

use crate::nodes::sentinel::{
    admin_conn, await_acquaintance, link_replica, SentinelSettings, MASTER, REPLICA,
};
use crate::topology::sentinel::{Replication, REPL_LINK};
use crate::topology::{link, Topology};
use anyhow::Context;

/// A data node as the set-up needs it.
#[derive(Debug, Clone)]
pub struct DataNode {
    pub name: String,
    /// `host:port` as the topology file gives it (resolved at the start of each run).
    pub address: String,
    /// Where the proxies reach it.
    pub upstream: String,
    pub admin_url: String,
}

/// What a run needs to set up Sentinel on an external topology.
#[derive(Debug, Clone)]
pub struct SentinelPlan {
    pub sentinel_urls: Vec<String>,
    pub primary: DataNode,
    pub replica: DataNode,
    pub proxy_listen_host: String,
    pub proxy_host: String,
    /// The clients' credentials, for their URLs through the replica's proxies.
    pub client_user: String,
    pub client_password: String,
    pub admin_user: String,
    pub admin_password: String,
}

impl SentinelPlan {
    /// No Sentinel monitors [`MASTER`]; both data nodes are primaries.
    pub async fn reset(&self) -> anyhow::Result<()> {
        for url in &self.sentinel_urls {
            let mut c = admin_conn(url).await?;
            // "No such master with that name" when there is nothing to remove.
            let _: redis::RedisResult<()> = redis::cmd("SENTINEL")
                .arg("REMOVE")
                .arg(MASTER)
                .query_async(&mut c)
                .await;
        }
        for node in [&self.primary, &self.replica] {
            let mut c = admin_conn(&node.admin_url).await?;
            let _: () = redis::cmd("REPLICAOF")
                .arg("NO")
                .arg("ONE")
                .query_async(&mut c)
                .await
                .with_context(|| format!("REPLICAOF NO ONE on {}", node.name))?;
            let _: () = redis::cmd("CONFIG")
                .arg("SET")
                .arg("replica-announce-ip")
                .arg("")
                .query_async(&mut c)
                .await
                .with_context(|| format!("CONFIG SET replica-announce-ip on {}", node.name))?;
        }
        Ok(())
    }

    /// Sets up replication and Sentinel for this run (see the module's header).
    pub async fn start(
        &self,
        topology: &Topology,
        settings: SentinelSettings,
    ) -> anyhow::Result<Replication> {
        self.reset().await?;
        let primary = resolve(&self.primary.address).await?;
        let replica = resolve(&self.replica.address).await?;

        let mut client_links = Vec::new();
        for (c, links) in topology.clients.iter().enumerate() {
            let port = self
                .proxy(topology, &link(c as u32, REPLICA), &self.replica.upstream)
                .await?;
            let via = super::url(
                &self.client_user,
                &self.client_password,
                &format!("{}:{port}", self.proxy_host),
            );
            client_links.push(vec![
                (primary.clone(), links.lock[0].clone()),
                (replica.clone(), via),
            ]);
        }
        let repl_port = self
            .proxy(topology, REPL_LINK, &self.primary.upstream)
            .await?;

        let replica_ip = replica.rsplit_once(':').map_or("", |(ip, _)| ip);
        link_replica(
            &self.primary.admin_url,
            &self.replica.admin_url,
            (&self.admin_user, &self.admin_password),
            (&self.proxy_host, repl_port),
            &[("replica-announce-ip", replica_ip)],
        )
        .await?;

        let (ip, port) = primary
            .rsplit_once(':')
            .context("a resolved address has a port")?;
        let quorum = settings.sentinels / 2 + 1;
        let urls = &self.sentinel_urls[..settings.sentinels as usize];
        for url in urls {
            let mut c = admin_conn(url).await?;
            let _: () = redis::cmd("SENTINEL")
                .arg("MONITOR")
                .arg(MASTER)
                .arg(ip)
                .arg(port)
                .arg(quorum)
                .query_async(&mut c)
                .await
                .with_context(|| format!("SENTINEL MONITOR on {url}"))?;
            let _: () = redis::cmd("SENTINEL")
                .arg("SET")
                .arg(MASTER)
                .arg("down-after-milliseconds")
                .arg(settings.down_after_ms)
                .arg("failover-timeout")
                .arg(settings.failover_timeout_ms)
                .arg("parallel-syncs")
                .arg(1)
                .arg("auth-user")
                .arg(&self.admin_user)
                .arg("auth-pass")
                .arg(&self.admin_password)
                .query_async(&mut c)
                .await
                .with_context(|| format!("SENTINEL SET on {url}"))?;
        }
        await_acquaintance(urls, settings.sentinels).await?;
        let replication = Replication {
            sentinel_urls: urls.to_vec(),
            admin: vec![
                (primary.clone(), self.primary.admin_url.clone()),
                (replica.clone(), self.replica.admin_url.clone()),
            ],
            primary,
            replica,
            client_links,
            settings,
        };
        Ok(replication)
    }

    /// Creates proxy `name` (in the run's scope) to `upstream`; returns its port.
    async fn proxy(&self, topology: &Topology, name: &str, upstream: &str) -> anyhow::Result<u16> {
        super::proxy_port(&topology.network, name, upstream, &self.proxy_listen_host).await
    }
}

/// `host:port` → `ip:port` (the first IPv4 address), as Sentinel will name the node.
async fn resolve(address: &str) -> anyhow::Result<String> {
    let addrs = tokio::net::lookup_host(address)
        .await
        .with_context(|| format!("cannot resolve {address}"))?;
    let mut first = None;
    for a in addrs {
        if a.is_ipv4() {
            return Ok(a.to_string());
        }
        first.get_or_insert(a);
    }
    first
        .map(|a| a.to_string())
        .with_context(|| format!("{address} resolves to no address"))
}
