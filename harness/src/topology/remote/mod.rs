//! Remote set-ups: run against Redis that fencepost did not start, behind a real Toxiproxy.
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
//! With an `[engine]` (a container engine, [`engine`]) the nodes are containers fencepost may
//! control, and node faults come back: pauses, crashes and restarts through the engine, clock
//! faults through the clock library the containers preload from a shared control folder, and
//! the scenario's persistence through an include file in that folder.
//!
//! Runs share a Toxiproxy safely: every proxy name carries the run's prefix, and a run's
//! heartbeat lets the next run tell a dead run's proxies from a live one's ([`lease`]).

pub mod control;
pub mod engine;
pub mod lease;
pub mod sentinel;
mod start;

pub use start::start;

use crate::nodes::node::Persistence;
use crate::nodes::NodeInfo;
use crate::proxy::{Network, ProxyConfig};
use crate::topology::Spec;
use anyhow::Context;
use engine::{Engine, EngineConfig};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

/// A node given by address.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RemoteNode {
    pub name: String,
    /// `host:port` where fencepost's admin connection reaches the node (start-of-run reset,
    /// the resource's log at the end).
    pub address: String,
    /// `host:port` where Toxiproxy reaches the node (default: `address`).
    #[serde(default)]
    pub upstream: Option<String>,
}

impl RemoteNode {
    pub(crate) fn upstream(&self) -> &str {
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
pub struct RemoteTopology {
    /// Toxiproxy's HTTP API, e.g. `http://toxiproxy:8474`.
    pub toxiproxy: String,
    /// Host Toxiproxy binds its proxies on (`0.0.0.0` in a container).
    #[serde(default = "d_localhost")]
    pub proxy_listen_host: String,
    /// Host fencepost dials to reach Toxiproxy's proxies (`toxiproxy` in compose).
    #[serde(default = "d_localhost")]
    pub proxy_host: String,
    pub lock_nodes: Vec<RemoteNode>,
    pub resource: RemoteNode,
    #[serde(default)]
    pub credentials: CredentialVars,
    /// The container engine that runs the nodes, for node faults.
    #[serde(default)]
    pub engine: Option<EngineConfig>,
    /// Sentinels (`host:port`) monitoring nothing until a `[sentinel]` scenario's run tells them
    /// to watch the first lock node, with the second as its replica.
    #[serde(default)]
    pub sentinels: Vec<String>,
}

fn d_localhost() -> String {
    "127.0.0.1".into()
}

/// Credentials read from the environment.
pub(crate) struct Credentials {
    pub(crate) client_user: String,
    pub(crate) client_password: String,
    pub(crate) admin_user: String,
    pub(crate) admin_password: String,
}

impl RemoteTopology {
    pub fn load(path: &Path) -> anyhow::Result<RemoteTopology> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read the topology file {}", path.display()))?;
        let t: RemoteTopology = toml::from_str(&text).map_err(|e| {
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

    /// The admin user and password from the environment.
    pub fn admin_login(&self) -> anyhow::Result<(String, String)> {
        let c = self.credentials(Path::new("the topology file"))?;
        Ok((c.admin_user, c.admin_password))
    }

    pub(crate) fn credentials(&self, file: &Path) -> anyhow::Result<Credentials> {
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

    /// Refuses a set-up that needs a fault or a setting this topology cannot provide.
    pub fn supports(&self, spec: &Spec, file: &Path) -> anyhow::Result<()> {
        let refuse = |what: String| {
            Err(anyhow::anyhow!(
                "scenario {} cannot run on the external topology {}: {what}",
                spec.scenario,
                file.display()
            ))
        };
        let control = self.engine.as_ref().and_then(|e| e.control_dir.as_ref());
        for (kind, needs) in &spec.faults {
            let missing = match (&self.engine, control) {
                (None, _) => needs.describe().map(|what| {
                    format!("{what}, and this topology gives fencepost no control of the nodes; add an [engine] for containers, or run it on nodes fencepost starts (drop --topology)")
                }),
                (Some(_), None) if needs.node_clocks => Some(
                    "skewing the nodes' wall clocks, and [engine] names no control_dir shared with the nodes; add control_dir (see docker/compose.yml)".to_string(),
                ),
                (Some(_), _) => None,
            };
            if let Some(m) = missing {
                return refuse(format!("its `{kind}` nemesis needs {m}"));
            }
        }
        let persistence = spec.persistence;
        if persistence != Persistence::None && control.is_none() {
            return refuse(format!(
                "its [lock] persistence = \"{}\" must reach the nodes' config, and only an [engine] with a control_dir shared with the nodes can do that",
                persistence.name()
            ));
        }
        if let Some(s) = &spec.sentinel {
            if self.engine.is_none() {
                return refuse("its [sentinel] set-up fails the primary over by pausing it, and this topology has no [engine]".into());
            }
            if (self.sentinels.len() as u32) < s.sentinels {
                return refuse(format!(
                    "its [sentinel] set-up needs {} Sentinels and the topology lists {} (`sentinels = [\"host:port\", …]`)",
                    s.sentinels,
                    self.sentinels.len()
                ));
            }
            if self.lock_nodes.len() < 2 {
                return refuse(
                    "its [sentinel] set-up needs a second lock node as the replica".into(),
                );
            }
        }
        let wanted = spec.lock_nodes as usize;
        if wanted > self.lock_nodes.len() {
            return refuse(format!(
                "its lock needs {wanted} nodes and the topology names {}",
                self.lock_nodes.len()
            ));
        }
        if spec.redis_cluster.is_some() {
            return refuse(
                "a [cluster] scenario starts its own Redis Cluster on a private network; drop --topology"
                    .into(),
            );
        }
        if spec.client_processes {
            return refuse(
                "client processes ([client]) run on nodes fencepost starts so far; drop --topology"
                    .into(),
            );
        }
        let (workload, runs_remote) = spec.workload;
        if !runs_remote {
            return refuse(format!(
                "only the lock and counter workloads run on external topologies so far, not `{workload}`"
            ));
        }
        Ok(())
    }
}

/// What only a remote set-up has: the nodes as named, their admin URLs, the containers
/// fencepost controls, its lease on the shared Toxiproxy, and its Sentinels.
pub struct Remote {
    /// The nodes (fencepost started none of them).
    pub nodes: Vec<NodeInfo>,
    /// Admin URLs by node name (direct, not through a proxy).
    pub admin: HashMap<String, String>,
    /// The node containers, when the topology has an `[engine]` and this run faults the nodes.
    pub engine: Option<Arc<Engine>>,
    /// The heartbeat of this run on the shared Toxiproxy.
    pub lease: lease::Lease,
    /// The topology's Sentinels, when the scenario uses them (a run configures them).
    pub sentinel: Option<sentinel::SentinelPlan>,
    /// The replicated set-up the Sentinels were configured into, once they were.
    pub replication: Option<super::Replication>,
}

impl Remote {
    /// Leaves the set-up as the run found it: containers running, Sentinels watching nothing,
    /// this run's proxies removed from the shared Toxiproxy.
    pub async fn stop(&self) {
        if let Some(engine) = &self.engine {
            match engine.restore().await {
                Ok(done) if done.is_empty() => {}
                Ok(done) => eprintln!(
                    "fencepost: restored the node containers: {}",
                    done.join(", ")
                ),
                Err(e) => eprintln!("fencepost: could not restore the node containers: {e}"),
            }
        }
        if let Some(plan) = &self.sentinel {
            if let Err(e) = plan.reset().await {
                eprintln!("fencepost: could not reset the Sentinels and the replica: {e:#}");
            }
        }
        self.lease.release().await;
    }
}

/// Creates proxy `name` (in the network's scope) to `upstream`, listening on `listen_host` at a
/// port the server picks; returns that port.
pub(crate) async fn proxy_port(
    network: &Network,
    name: &str,
    upstream: &str,
    listen_host: &str,
) -> anyhow::Result<u16> {
    let info = network
        .create(ProxyConfig::new(name, upstream).listen(format!("{listen_host}:0")))
        .await
        .with_context(|| format!("cannot create proxy {name}"))?;
    info.listen
        .rsplit(':')
        .next()
        .and_then(|p| p.parse().ok())
        .with_context(|| format!("proxy {name} has no port (listen = {})", info.listen))
}

pub(crate) fn url(user: &str, password: &str, address: &str) -> String {
    format!("redis://{user}:{password}@{address}/")
}

pub(crate) async fn admin_connection(
    url: &str,
    n: &RemoteNode,
) -> anyhow::Result<redis::aio::MultiplexedConnection> {
    let client = redis::Client::open(url).context("bad node address")?;
    tokio::time::timeout(
        Duration::from_secs(5),
        client.get_multiplexed_async_connection(),
    )
    .await
    .map_err(|_| anyhow::anyhow!("node {} at {} did not answer within 5 s", n.name, n.address))?
    .with_context(|| {
        format!(
            "cannot connect to node {} at {} as the admin user",
            n.name, n.address
        )
    })
}

/// Waits until the node at `url` answers PING (a container just started, or unpaused).
pub async fn wait_answers(url: &str, limit: Duration) -> Result<(), String> {
    let client = redis::Client::open(url).map_err(|e| e.to_string())?;
    let deadline = tokio::time::Instant::now() + limit;
    let mut last = String::from("no answer");
    while tokio::time::Instant::now() < deadline {
        let attempt = async {
            let mut conn = client
                .get_multiplexed_async_connection()
                .await
                .map_err(|e| e.to_string())?;
            redis::cmd("PING")
                .query_async::<String>(&mut conn)
                .await
                .map_err(|e| e.to_string())
        };
        match tokio::time::timeout(Duration::from_millis(500), attempt).await {
            Ok(Ok(_)) => return Ok(()),
            Ok(Err(e)) => last = e,
            Err(_) => last = "no answer within 500 ms".into(),
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    Err(format!(
        "did not answer PING within {} s: {last}",
        limit.as_secs()
    ))
}

pub(crate) fn port_of(address: &str) -> u16 {
    address
        .rsplit(':')
        .next()
        .and_then(|p| p.parse().ok())
        .unwrap_or(0)
}
