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

use crate::nodes::node::Persistence;
use crate::nodes::{NodeInfo, NodeSet};
use crate::proxy::{Network, ProxyConfig, ToxiproxyClient};
use crate::topology::{link, ClientLinks, Setup, Spec, Topology, RESOURCE};
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
struct Credentials {
    client_user: String,
    client_password: String,
    admin_user: String,
    admin_password: String,
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
async fn proxy_port(
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

fn url(user: &str, password: &str, address: &str) -> String {
    format!("redis://{user}:{password}@{address}/")
}

/// Connects to the given topology: sweeps a dead run's proxies off the shared Toxiproxy, takes
/// this run's lease, brings the node containers back to running (with an engine), clears
/// fencepost's keys on every node and applies the scenario's persistence, takes over the nodes'
/// clocks, creates the client→node proxies, and returns a topology the runner drives like a
/// local one (with no processes of its own).
pub async fn start(
    t: &RemoteTopology,
    file: &Path,
    spec: &Spec,
    run_id: &str,
) -> anyhow::Result<Topology> {
    t.supports(spec, file)?;
    let creds = t.credentials(file)?;
    let nodes: Vec<&RemoteNode> = t.lock_nodes.iter().take(spec.lock_nodes as usize).collect();
    let all: Vec<&RemoteNode> = nodes.iter().copied().chain([&t.resource]).collect();
    let name_of = |n: &RemoteNode| -> String {
        if std::ptr::eq(n, &t.resource) {
            RESOURCE.to_string()
        } else {
            n.name.clone()
        }
    };
    let admin: HashMap<String, String> = all
        .iter()
        .map(|n| {
            (
                name_of(n),
                url(&creds.admin_user, &creds.admin_password, &n.address),
            )
        })
        .collect();

    let api = ToxiproxyClient::new(&t.toxiproxy)
        .with_context(|| format!("{}: bad toxiproxy URL", file.display()))?;
    api.version().await.with_context(|| {
        format!(
            "Toxiproxy at {} does not answer; start it or fix `toxiproxy` in {}",
            t.toxiproxy,
            file.display()
        )
    })?;
    let prefix = lease::prefix(run_id);
    let swept = lease::sweep(&api, &prefix)
        .await
        .with_context(|| format!("cannot list the proxies on {}", t.toxiproxy))?;
    if !swept.deleted.is_empty() {
        eprintln!(
            "fencepost: removed {} proxies a dead run left on {}: {}",
            swept.deleted.len(),
            t.toxiproxy,
            swept.deleted.join(", ")
        );
    }
    // A run that pauses, kills, skews or reconfigures nodes needs them to itself; a run with
    // network faults only can share them.
    let persistence = spec.persistence;
    let controls_nodes = t.engine.is_some()
        && (persistence != Persistence::None
            || spec
                .faults
                .iter()
                .any(|(_, needs)| needs.node_processes || needs.node_clocks));
    let others_control = !swept.live_engine_runs.is_empty();
    // The resource node keeps nothing across a restart, as on local runs.
    let persistence_of = |n: &RemoteNode| {
        if std::ptr::eq(n, &t.resource) {
            Persistence::None
        } else {
            persistence
        }
    };
    if controls_nodes && others_control {
        anyhow::bail!(
            "another fencepost run ({}) is injecting node faults through {} now; wait for it to end (two runs cannot pause and crash the same containers)",
            swept.live_engine_runs.join(", "),
            t.toxiproxy
        );
    }
    let lease = lease::Lease::take(&api, &prefix, t.resource.upstream(), controls_nodes)
        .await
        .with_context(|| format!("cannot create this run's lease on {}", t.toxiproxy))?;

    let mut node_clocks = Vec::new();
    // Whether the nodes' include files now carry the scenario's persistence (then it is also
    // set on the running nodes).
    let mut configured = false;
    let engine = match &t.engine {
        // With another run faulting the containers now, a paused one is its, not a leftover.
        Some(_) if others_control => None,
        None => None,
        Some(config) => {
            // Every node of the topology, not only the ones this scenario uses: a dead run may
            // have left any of them paused or stopped.
            let names: Vec<String> = t
                .lock_nodes
                .iter()
                .chain([&t.resource])
                .map(name_of)
                .collect();
            let engine = Engine::connect(config, &names)
                .await
                .with_context(|| format!("{}: [engine]", file.display()))?;
            let done = engine
                .restore()
                .await
                .context("cannot bring the node containers back to running")?;
            if !done.is_empty() {
                eprintln!(
                    "fencepost: a dead run left node containers stopped: {}",
                    done.join(", ")
                );
            }
            match &config.control_dir {
                Some(dir) if controls_nodes => {
                    let lock: Vec<&str> = nodes.iter().map(|n| n.name.as_str()).collect();
                    let includes: Vec<(String, Persistence)> = all
                        .iter()
                        .map(|n| (name_of(n), persistence_of(n)))
                        .collect();
                    node_clocks = control::prepare(dir, &lock, &includes)?;
                    configured = true;
                }
                _ => {}
            }
            // Only a run that faults the nodes restores them at its end.
            controls_nodes.then(|| std::sync::Arc::new(engine))
        }
    };
    // Sentinel's set-up: the first lock node as primary, the second as its replica.
    let sentinel_plan = match (t.sentinels.as_slice(), t.lock_nodes.get(..2)) {
        ([], _) | (_, None) => None,
        (sentinels, Some([primary, replica])) => {
            let node = |n: &RemoteNode| sentinel::DataNode {
                name: n.name.clone(),
                address: n.address.clone(),
                upstream: n.upstream().to_string(),
                admin_url: url(&creds.admin_user, &creds.admin_password, &n.address),
            };
            Some(sentinel::SentinelPlan {
                sentinel_urls: sentinels.iter().map(|a| format!("redis://{a}/")).collect(),
                primary: node(primary),
                replica: node(replica),
                proxy_listen_host: t.proxy_listen_host.clone(),
                proxy_host: t.proxy_host.clone(),
                client_user: creds.client_user.clone(),
                client_password: creds.client_password.clone(),
                admin_user: creds.admin_user.clone(),
                admin_password: creds.admin_password.clone(),
            })
        }
        (_, Some(_)) => None,
    };
    if let Some(plan) = &sentinel_plan {
        // A killed failover run leaves n1 a replica of n2 and the Sentinels watching them.
        if t.engine.is_some() && !others_control {
            plan.reset()
                .await
                .context("cannot reset the Sentinels and the replica a dead run left")?;
        }
    }
    for n in &all {
        let url = &admin[&name_of(n)];
        wait_answers(url, Duration::from_secs(20))
            .await
            .map_err(|e| anyhow::anyhow!("node {} at {}: {e}", n.name, n.address))?;
    }

    // A clean slate: the lock, fence and resource keys a previous run left, and the scenario's
    // persistence on the running nodes (the include file carries it across a restart).
    for n in &all {
        let mut conn = admin_connection(&admin[&name_of(n)], n).await?;
        let keys: Vec<String> = redis::cmd("KEYS")
            .arg("fencepost:*")
            .query_async(&mut conn)
            .await?;
        if !keys.is_empty() {
            let _: i64 = redis::cmd("DEL").arg(&keys).query_async(&mut conn).await?;
        }
        if configured {
            for (k, v) in persistence_of(n).directives() {
                let _: () = redis::cmd("CONFIG")
                    .arg("SET")
                    .arg(k)
                    .arg(v)
                    .query_async(&mut conn)
                    .await
                    .with_context(|| format!("CONFIG SET {k} {v} on node {}", n.name))?;
            }
        }
    }
    if let Some(engine) = &engine {
        if spec.faults.iter().any(|(_, needs)| needs.node_clocks) {
            for (n, nc) in nodes.iter().zip(&node_clocks) {
                control::take_clock(engine, &n.name, &admin[&n.name], nc).await?;
            }
        }
    }

    let network = Network::External(api.scoped(&prefix));
    let lock_nodes: Vec<String> = nodes.iter().map(|n| n.name.clone()).collect();
    let mut clients = Vec::new();
    for c in 0..spec.clients {
        let mut lock = Vec::new();
        for n in &all {
            let proxy = link(c, &name_of(n));
            let port = proxy_port(&network, &proxy, n.upstream(), &t.proxy_listen_host)
                .await
                .with_context(|| format!("through {}", t.toxiproxy))?;
            lock.push(url(
                &creds.client_user,
                &creds.client_password,
                &format!("{}:{port}", t.proxy_host),
            ));
        }
        let resource = lock.pop().expect("the resource link was created last");
        clients.push(ClientLinks { lock, resource });
    }

    let nodes = NodeSet::new(run_id).context("cannot create the run's temporary folder")?;
    let remote = Remote {
        nodes: all
            .iter()
            .map(|n| NodeInfo {
                name: name_of(n),
                host: None,
                port: port_of(&n.address),
                pid: None,
            })
            .collect(),
        admin: admin.clone(),
        engine,
        lease,
        sentinel: sentinel_plan.filter(|_| spec.sentinel.is_some()),
        replication: None,
    };
    Ok(Topology::new(
        Setup::Remote(Box::new(remote)),
        nodes,
        network,
        lock_nodes,
        clients,
        admin[RESOURCE].clone(),
        node_clocks,
        persistence,
    ))
}

async fn admin_connection(
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

fn port_of(address: &str) -> u16 {
    address
        .rsplit(':')
        .next()
        .and_then(|p| p.parse().ok())
        .unwrap_or(0)
}
