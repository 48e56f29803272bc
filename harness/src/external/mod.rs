//! External topology: run against Redis that fencepost did not start, behind a real Toxiproxy.
//!
//! A topology file (`--topology FILE`, TOML) names the lock nodes and the resource node by
//! address, and a Toxiproxy API URL. Credentials are read from the environment (the file names
//! the variables, never the secrets). fencepost then starts no Redis itself: it creates one
//! Toxiproxy proxy per client per node through the HTTP API, reaches the nodes only through
//! them, and offers only the faults it can really inject there — network faults through
//! Toxiproxy, and client-side faults (pauses, delayed writes) in its own process. A scenario that
//! asks for anything else (pausing, killing or skewing a node it does not control, persistence
//! it cannot configure) is refused before anything starts, naming what is missing.
//!
//! Limitation: proxy names are `c{client}-{node}`, so two fencepost runs must not share one
//! Toxiproxy at the same time.

use crate::cluster::{Cluster, NodeInfo};
use crate::proxy::{Network, ProxyConfig, ToxiproxyClient};
use crate::scenario::Scenario;
use crate::topology::{link, ClientLinks, Topology, RESOURCE};
use anyhow::Context;
use serde::{Deserialize, Serialize};
use std::path::Path;
use std::sync::{Arc, Mutex};

/// A node given by address.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExternalNode {
    pub name: String,
    /// `host:port` where fencepost's admin connection reaches the node (start-of-run reset,
    /// the resource's log at the end).
    pub address: String,
    /// `host:port` where Toxiproxy reaches the node (default: `address`).
    #[serde(default)]
    pub upstream: Option<String>,
}

impl ExternalNode {
    fn upstream(&self) -> &str {
        self.upstream.as_deref().unwrap_or(&self.address)
    }
}

/// Names of the environment variables holding the credentials.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CredentialVars {
    #[serde(default = "d_client_user")]
    pub client_user: String,
    #[serde(default = "d_client_password")]
    pub client_password: String,
    #[serde(default = "d_admin_user")]
    pub admin_user: String,
    #[serde(default = "d_admin_password")]
    pub admin_password: String,
}

fn d_client_user() -> String {
    "FENCEPOST_CLIENT_USER".into()
}
fn d_client_password() -> String {
    "FENCEPOST_CLIENT_PASSWORD".into()
}
fn d_admin_user() -> String {
    "FENCEPOST_ADMIN_USER".into()
}
fn d_admin_password() -> String {
    "FENCEPOST_ADMIN_PASSWORD".into()
}

impl Default for CredentialVars {
    fn default() -> Self {
        CredentialVars {
            client_user: d_client_user(),
            client_password: d_client_password(),
            admin_user: d_admin_user(),
            admin_password: d_admin_password(),
        }
    }
}

/// The topology file.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExternalTopology {
    /// Toxiproxy's HTTP API, e.g. `http://toxiproxy:8474`.
    pub toxiproxy: String,
    /// Host Toxiproxy binds its proxies on (`0.0.0.0` in a container).
    #[serde(default = "d_localhost")]
    pub proxy_listen_host: String,
    /// Host fencepost dials to reach Toxiproxy's proxies (`toxiproxy` in compose).
    #[serde(default = "d_localhost")]
    pub proxy_host: String,
    pub lock_nodes: Vec<ExternalNode>,
    pub resource: ExternalNode,
    #[serde(default)]
    pub credentials: CredentialVars,
}

fn d_localhost() -> String {
    "127.0.0.1".into()
}

/// Credentials read from the environment.
struct Credentials {
    client_user: String,
    client_password: String,
    admin_user: String,
    admin_password: String,
}

impl ExternalTopology {
    pub fn load(path: &Path) -> anyhow::Result<ExternalTopology> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read the topology file {}", path.display()))?;
        let t: ExternalTopology = toml::from_str(&text).map_err(|e| {
            let line = e.span().map_or(1, |s| {
                text[..s.start.min(text.len())].matches('\n').count() + 1
            });
            anyhow::anyhow!(
                "{}:{line}: {}",
                path.display(),
                e.message().lines().next().unwrap_or("")
            )
        })?;
        if t.lock_nodes.is_empty() {
            anyhow::bail!(
                "{}: the topology names no [[lock_nodes]]; add at least one",
                path.display()
            );
        }
        Ok(t)
    }

    fn credentials(&self, file: &Path) -> anyhow::Result<Credentials> {
        let var = |name: &str| {
            std::env::var(name).map_err(|_| {
                anyhow::anyhow!(
                    "{}: the environment variable {name} is not set; export it (credentials are read from the environment, never from the file)",
                    file.display()
                )
            })
        };
        let c = &self.credentials;
        Ok(Credentials {
            client_user: var(&c.client_user)?,
            client_password: var(&c.client_password)?,
            admin_user: var(&c.admin_user)?,
            admin_password: var(&c.admin_password)?,
        })
    }

    /// Refuses a scenario that needs a fault or a setting this topology cannot provide.
    pub fn supports(&self, scenario: &Scenario, file: &Path) -> anyhow::Result<()> {
        let refuse = |what: String| {
            Err(anyhow::anyhow!(
                "scenario {} cannot run on the external topology {}: {what}",
                scenario.name,
                file.display()
            ))
        };
        for n in &scenario.nemesis {
            if let Some(needs) = n.plugin().needs().describe() {
                return refuse(format!(
                    "its `{}` nemesis needs {needs}, and this topology gives fencepost no control of the nodes' processes; run it on nodes fencepost starts (drop --topology)",
                    n.kind()
                ));
            }
        }
        let wanted = scenario.lock.nodes as usize;
        if wanted > self.lock_nodes.len() {
            return refuse(format!(
                "its lock needs {wanted} nodes and the topology names {}",
                self.lock_nodes.len()
            ));
        }
        if scenario.cluster.is_some() {
            return refuse(
                "a [cluster] scenario starts its own Redis Cluster on a private network; drop --topology"
                    .into(),
            );
        }
        if scenario.client.is_some() {
            return refuse(
                "client processes ([client]) run on nodes fencepost starts so far; drop --topology"
                    .into(),
            );
        }
        if scenario.workload.kind != crate::scenario::workload::WorkloadKind::Lock {
            return refuse("only the lock workload runs on external topologies so far".into());
        }
        Ok(())
    }
}

fn url(user: &str, password: &str, address: &str) -> String {
    format!("redis://{user}:{password}@{address}/")
}

/// Connects to the given topology: clears fencepost's keys on every node, creates the
/// client→node proxies through Toxiproxy's API, and returns a topology the runner drives like a
/// local one (with no processes of its own).
pub async fn start(
    t: &ExternalTopology,
    file: &Path,
    scenario: &Scenario,
    run_id: &str,
) -> anyhow::Result<Topology> {
    t.supports(scenario, file)?;
    let creds = t.credentials(file)?;
    let nodes: Vec<&ExternalNode> = t
        .lock_nodes
        .iter()
        .take(scenario.lock.nodes as usize)
        .collect();

    // A clean slate: the lock, fence and resource keys a previous run left.
    for n in nodes.iter().copied().chain([&t.resource]) {
        let admin = url(&creds.admin_user, &creds.admin_password, &n.address);
        let client = redis::Client::open(admin.as_str()).context("bad node address")?;
        let mut conn = tokio::time::timeout(
            std::time::Duration::from_secs(5),
            client.get_multiplexed_async_connection(),
        )
        .await
        .map_err(|_| anyhow::anyhow!("node {} at {} did not answer within 5 s", n.name, n.address))?
        .with_context(|| {
            format!(
                "cannot connect to node {} at {} as the admin user",
                n.name, n.address
            )
        })?;
        let keys: Vec<String> = redis::cmd("KEYS")
            .arg("fencepost:*")
            .query_async(&mut conn)
            .await?;
        if !keys.is_empty() {
            let _: i64 = redis::cmd("DEL").arg(&keys).query_async(&mut conn).await?;
        }
    }

    let client = ToxiproxyClient::new(&t.toxiproxy)
        .with_context(|| format!("{}: bad toxiproxy URL", file.display()))?;
    client.version().await.with_context(|| {
        format!(
            "Toxiproxy at {} does not answer; start it or fix `toxiproxy` in {}",
            t.toxiproxy,
            file.display()
        )
    })?;
    let network = Network::External(client);

    let lock_nodes: Vec<String> = nodes.iter().map(|n| n.name.clone()).collect();
    let mut clients = Vec::new();
    for c in 0..scenario.run.clients {
        let mut lock = Vec::new();
        for n in nodes.iter().copied().chain([&t.resource]) {
            let name = if std::ptr::eq(n, &t.resource) {
                RESOURCE
            } else {
                n.name.as_str()
            };
            let proxy = link(c, name);
            let _ = network.delete(&proxy).await; // a stale proxy of an earlier run
            let info = network
                .create(
                    ProxyConfig::new(proxy.clone(), n.upstream())
                        .listen(format!("{}:0", t.proxy_listen_host)),
                )
                .await
                .with_context(|| format!("cannot create proxy {proxy} through {}", t.toxiproxy))?;
            let port = info
                .listen
                .rsplit(':')
                .next()
                .and_then(|p| p.parse::<u16>().ok())
                .with_context(|| {
                    format!(
                        "Toxiproxy gave proxy {proxy} no port (listen = {})",
                        info.listen
                    )
                })?;
            lock.push(url(
                &creds.client_user,
                &creds.client_password,
                &format!("{}:{port}", t.proxy_host),
            ));
        }
        let resource = lock.pop().expect("the resource link was created last");
        clients.push(ClientLinks { lock, resource });
    }

    let cluster = Cluster::new(run_id).context("cannot create the run's temporary folder")?;
    Ok(Topology {
        cluster: Arc::new(Mutex::new(cluster)),
        network,
        lock_nodes,
        clients,
        resource_admin_url: url(
            &creds.admin_user,
            &creds.admin_password,
            &t.resource.address,
        ),
        node_clocks: Vec::new(),
        redis_cluster: None,
        cuts: Default::default(),
        external_nodes: nodes
            .iter()
            .copied()
            .chain([&t.resource])
            .map(|n| NodeInfo {
                name: n.name.clone(),
                host: None,
                port: port_of(&n.address),
                pid: None,
            })
            .collect(),
    })
}

fn port_of(address: &str) -> u16 {
    address
        .rsplit(':')
        .next()
        .and_then(|p| p.parse().ok())
        .unwrap_or(0)
}
