//! The topology of a run: which set-up its nodes form, and how each client reaches each node.
//!
//! One [`Topology`] for every kind of set-up ([`Setup`]): lock nodes `n1..nN` and the `resource`
//! node started here ([`local`]); the same with a replica and Sentinels ([`sentinel`]); a Redis
//! Cluster on a private network started here; or nodes fencepost did not start, behind a real
//! Toxiproxy ([`remote`]). [`build`] makes the one a [`Spec`] asks for. The topology owns every
//! link: each client reaches each node through its own proxy link `c{client}-{node}` in the fault
//! proxy, so any partition over clients and nodes compiles to a set of cut links, and a delay can
//! be put on one client's path to one node. The processes ([`crate::nodes`]) know no links.
//!
//! Lock nodes run with the clock library preloaded, each with its own control file
//! ([`NodeClock`]), so a clock nemesis can bend one node's wall clock at run time; with no skew
//! the library reads the real time from the vDSO, at the cost of a few ns per call.

pub mod local;
pub mod remote;
pub mod sentinel;

use crate::nodes::clock::NodeClock;
use crate::nodes::node::Persistence;
use crate::nodes::redis_cluster::{ClusterMap, ClusterSpec};
use crate::nodes::sentinel::SentinelSettings;
use crate::nodes::{spawner, NodeInfo, NodeSet};
use crate::proxy::Network;
use remote::engine::State;
use std::path::Path;
use std::sync::{Arc, Mutex, MutexGuard};
use workloads::primary::{Primary, SentinelTarget};

pub use crate::nodes::RESOURCE;
pub use sentinel::Replication;

/// A node [`Topology::pause_node`] stopped, for [`Topology::resume_node`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Paused {
    /// A local redis-server, SIGSTOPped (by PID: a restarted node is another process).
    Process(u32),
    /// A container, frozen by the engine.
    Container,
}

/// What a fault needs of the set-up beyond the network (remote set-ups offer the network only,
/// unless their nodes are containers fencepost controls).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Needs {
    /// Signals to the nodes' processes (pause, kill, restart).
    pub node_processes: bool,
    /// The nodes' wall clocks (the preload clock library on processes fencepost starts).
    pub node_clocks: bool,
}

impl Needs {
    /// Signals to the nodes' processes, and nothing more.
    pub const NODE_PROCESSES: Needs = Needs {
        node_processes: true,
        node_clocks: false,
    };

    /// In words, for a refusal; `None` when the network alone will do.
    pub fn describe(&self) -> Option<&'static str> {
        if self.node_clocks {
            Some("skewing the nodes' wall clocks (the LD_PRELOAD clock library on processes fencepost starts)")
        } else if self.node_processes {
            Some("signals to the redis-server processes (SIGSTOP/SIGCONT, SIGKILL and restart)")
        } else {
            None
        }
    }
}

/// What set-up a run needs: built from its scenario by the runner (a scenario is data and knows
/// no topology).
#[derive(Debug, Clone)]
pub struct Spec {
    /// The scenario's name, for refusals.
    pub scenario: String,
    pub lock_nodes: u32,
    pub clients: u32,
    pub persistence: Persistence,
    /// Client processes of lock libraries log in (see [`crate::nodes::node::NodeConfig`]).
    pub library_user: bool,
    /// A Redis Cluster in place of the lock nodes, and the workload's key on it.
    pub redis_cluster: Option<(ClusterSpec, String)>,
    /// A replica and Sentinels next to the primary `n1`.
    pub sentinel: Option<SentinelSettings>,
    /// Each fault's kind and what it needs of the nodes.
    pub faults: Vec<(&'static str, Needs)>,
    /// The clients are processes of their own (`[client]`).
    pub client_processes: bool,
    /// The workload's name, and whether it runs on remote set-ups (lock and counters do).
    pub workload: (&'static str, bool),
    /// The server the nodes run (resolved and checked before the topology is built); None for
    /// nodes fencepost did not start.
    pub server: Option<std::sync::Arc<crate::servers::Server>>,
}

/// Connection URLs of one client, each through its own proxy link.
#[derive(Debug, Clone)]
pub struct ClientLinks {
    /// One per lock node, in node order.
    pub lock: Vec<String>,
    pub resource: String,
}

/// The kind of set-up, and what only that kind has.
pub enum Setup {
    /// Lock nodes and the resource node, started here.
    Local,
    /// The primary `n1`, its replica `n2` and Sentinels, started here.
    Sentinel(Replication),
    /// A Redis Cluster on a private network, started here (no lone lock nodes: clients reach
    /// the cluster's nodes directly on the network).
    RedisCluster(ClusterMap),
    /// Nodes fencepost did not start.
    Remote(Box<remote::Remote>),
}

pub struct Topology {
    pub setup: Setup,
    /// The processes this run started (none for a remote set-up: its private folder only).
    pub nodes: Arc<Mutex<NodeSet>>,
    pub network: Network,
    /// Lock node names, `n1..nN`.
    pub lock_nodes: Vec<String>,
    pub clients: Vec<ClientLinks>,
    /// Admin URL of the resource node (direct, never through the proxy).
    pub resource_admin_url: String,
    /// Each lock node's clock control, in node order.
    pub node_clocks: Vec<Arc<NodeClock>>,
    /// What the lock nodes keep across a crash.
    pub persistence: Persistence,
    /// How many faults cut each link now: two overlapping partitions may cut the same link, and
    /// it is healed when the last of them heals.
    cuts: tokio::sync::Mutex<std::collections::HashMap<String, u32>>,
}

/// The proxy link name for a client and a node.
pub fn link(client: u32, node: &str) -> String {
    format!("c{client}-{node}")
}

/// Builds the set-up `spec` asks for: against `remote` (a topology file fencepost did not start)
/// when given, else on nodes it starts — with a replica and Sentinels, or as a Redis Cluster,
/// when the spec says. A set-up that fails half-way is torn down before the error returns.
pub async fn build(
    spec: &Spec,
    remote: Option<(&remote::RemoteTopology, &Path)>,
    run_id: &str,
    seed: u64,
) -> anyhow::Result<Topology> {
    let mut topology = match remote {
        Some((t, file)) => remote::start(t, file, spec, run_id).await?,
        None => local::start(spec, run_id, seed).await?,
    };
    let Some(settings) = spec.sentinel else {
        return Ok(topology);
    };
    let started = match &topology.setup {
        Setup::Remote(r) => match &r.sentinel {
            Some(plan) => plan.start(&topology, settings).await,
            None => Err(anyhow::anyhow!("the remote topology has no Sentinels")),
        },
        _ => sentinel::start(&topology, settings).await,
    };
    match started {
        Ok(replication) => {
            match &mut topology.setup {
                Setup::Remote(r) => r.replication = Some(replication),
                setup => *setup = Setup::Sentinel(replication),
            }
            Ok(topology)
        }
        Err(e) => {
            topology.stop().await;
            Err(anyhow::anyhow!(
                "cannot start the replica and Sentinels: {e:#}"
            ))
        }
    }
}

impl Topology {
    /// A topology of `setup` with no links cut.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn new(
        setup: Setup,
        nodes: NodeSet,
        network: Network,
        lock_nodes: Vec<String>,
        clients: Vec<ClientLinks>,
        resource_admin_url: String,
        node_clocks: Vec<Arc<NodeClock>>,
        persistence: Persistence,
    ) -> Topology {
        Topology {
            setup,
            nodes: Arc::new(Mutex::new(nodes)),
            network,
            lock_nodes,
            clients,
            resource_admin_url,
            node_clocks,
            persistence,
            cuts: Default::default(),
        }
    }

    /// The Redis Cluster the lock or counter lives on, if the set-up is one.
    pub fn redis_cluster(&self) -> Option<&ClusterMap> {
        match &self.setup {
            Setup::RedisCluster(map) => Some(map),
            _ => None,
        }
    }

    /// The replicated set-up's addresses, when Sentinel watches the primary.
    pub fn replication(&self) -> Option<&Replication> {
        match &self.setup {
            Setup::Sentinel(r) => Some(r),
            Setup::Remote(r) => r.replication.as_ref(),
            _ => None,
        }
    }

    /// The node containers fencepost controls, for a remote set-up with an engine.
    fn engine(&self) -> Option<&Arc<remote::engine::Engine>> {
        match &self.setup {
            Setup::Remote(r) => r.engine.as_ref(),
            _ => None,
        }
    }

    /// Cuts `link` for one more fault (the first cut blackholes it).
    pub async fn cut(&self, link: &str) -> Result<(), crate::proxy::ProxyError> {
        let mut cuts = self.cuts.lock().await;
        let n = cuts.get(link).copied().unwrap_or(0);
        if n == 0 {
            self.network.cut(link).await?;
        }
        cuts.insert(link.to_string(), n + 1);
        Ok(())
    }

    /// One fault's cut of `link` ends (the last one heals it).
    pub async fn heal(&self, link: &str) -> Result<(), crate::proxy::ProxyError> {
        let mut cuts = self.cuts.lock().await;
        let n = cuts.get(link).copied().unwrap_or(0);
        if n <= 1 {
            cuts.remove(link);
            self.network.heal(link).await
        } else {
            cuts.insert(link.to_string(), n - 1);
            Ok(())
        }
    }

    /// The PID of lock node `name`'s redis-server while it runs (local nodes only).
    pub fn running_pid(&self, name: &str) -> Option<u32> {
        let mut nodes = self.nodes();
        let node = nodes.node_mut(name)?;
        if node.is_running() {
            node.pid()
        } else {
            None
        }
    }

    /// Stops node `name` from running anything (SIGSTOP, or the container's freezer).
    pub async fn pause_node(&self, name: &str) -> Result<Paused, String> {
        if let Some(engine) = self.engine() {
            return engine
                .pause(name)
                .await
                .map(|()| Paused::Container)
                .map_err(|e| e.to_string());
        }
        let pid = self
            .running_pid(name)
            .ok_or("it is down (crashed, not yet restarted)")?;
        spawner::signal(pid, libc::SIGSTOP)
            .map(|()| Paused::Process(pid))
            .map_err(|e| e.to_string())
    }

    /// Lets a paused node run again. A node crashed and restarted meanwhile is not paused any
    /// more, and is left alone.
    pub async fn resume_node(&self, name: &str, paused: Paused) -> Result<(), String> {
        match paused {
            Paused::Process(pid) if self.running_pid(name) == Some(pid) => {
                spawner::signal(pid, libc::SIGCONT).map_err(|e| e.to_string())
            }
            Paused::Process(_) => Ok(()),
            Paused::Container => {
                let engine = self.engine().ok_or("no container engine")?;
                match engine.state(name).await.map_err(|e| e.to_string())? {
                    State::Paused => engine.unpause(name).await.map_err(|e| e.to_string()),
                    _ => Ok(()),
                }
            }
        }
    }

    /// SIGKILLs node `name` (its process, or its container); `false` when it was already down.
    pub async fn kill_node(&self, name: &str) -> Result<bool, String> {
        if let Some(engine) = self.engine() {
            if engine.state(name).await.map_err(|e| e.to_string())? == State::Down {
                return Ok(false);
            }
            return engine
                .kill(name)
                .await
                .map(|()| true)
                .map_err(|e| e.to_string());
        }
        let mut nodes = self.nodes();
        let node = nodes
            .node_mut(name)
            .ok_or_else(|| format!("no node {name}"))?;
        if !node.is_running() {
            return Ok(false);
        }
        node.kill();
        Ok(true)
    }

    /// Restarts node `name` (killed or not): a local one on a blocking thread (its port, its
    /// folder, its persistence), a container by starting it again (its volume, its include
    /// file); returns once the node answers PING.
    pub async fn restart_node(self: &Arc<Self>, name: &str) -> Result<(), String> {
        if let Some(engine) = self.engine() {
            engine.start(name).await.map_err(|e| e.to_string())?;
            let url = self
                .admin_url(name)
                .ok_or_else(|| format!("no node {name}"))?;
            return remote::wait_answers(&url, std::time::Duration::from_secs(20)).await;
        }
        let topology = self.clone();
        let who = name.to_string();
        tokio::task::spawn_blocking(move || {
            topology
                .nodes()
                .node_mut(&who)
                .ok_or_else(|| format!("no node {who}"))?
                .restart()
                .map_err(|e| e.to_string())
        })
        .await
        .unwrap_or_else(|e| Err(e.to_string()))
    }

    /// The clock control of lock node `name`.
    pub fn node_clock(&self, name: &str) -> Option<&NodeClock> {
        let i = self.lock_nodes.iter().position(|n| n == name)?;
        self.node_clocks.get(i).map(|c| c.as_ref())
    }

    /// The admin URL of node `name` (direct, not through the proxy).
    pub fn admin_url(&self, name: &str) -> Option<String> {
        if let Setup::Remote(r) = &self.setup {
            return r.admin.get(name).cloned();
        }
        self.nodes().node(name).map(|n| n.admin_url())
    }

    /// The processes this run started.
    pub fn nodes(&self) -> MutexGuard<'_, NodeSet> {
        self.nodes.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Name, address and PID of every node (no passwords).
    pub fn describe(&self) -> Vec<NodeInfo> {
        match &self.setup {
            Setup::Remote(r) => r.nodes.clone(),
            _ => self.nodes().describe(),
        }
    }

    /// Client `id`'s way to the node it writes to: its link to `n1`, its links to whichever
    /// data node Sentinel names (a replicated set-up), or the Redis Cluster.
    pub async fn primary_for(
        &self,
        id: u32,
        timeout: std::time::Duration,
    ) -> anyhow::Result<Primary> {
        if let Some(r) = self.replication() {
            let target = SentinelTarget {
                sentinels: r.sentinel_urls.clone(),
                master: crate::nodes::sentinel::MASTER.into(),
                links: r.client_links[id as usize].clone(),
            };
            return Ok(Primary::via_sentinel(target, timeout));
        }
        Ok(Primary::connected(
            self.lock_conn(id, timeout).await?,
            timeout,
        ))
    }

    /// Client `id`'s connection for the lock (or `INCR` counter): to the Redis Cluster when the
    /// set-up is one, else over its proxy link to the first lock node.
    pub async fn lock_conn(
        &self,
        id: u32,
        timeout: std::time::Duration,
    ) -> anyhow::Result<workloads::conn::Conn> {
        match self.redis_cluster() {
            Some(map) => workloads::conn::connect_cluster(&map.client_urls(), timeout)
                .await
                .map_err(|e| {
                    anyhow::anyhow!("cannot connect client {id} to the Redis Cluster: {e}")
                }),
            None => connect(&self.clients[id as usize].lock[0], timeout).await,
        }
    }

    /// The admin URL of the node holding the counter at the end of the run: `n1`, or the
    /// primary Sentinel names.
    pub async fn primary_admin_url(&self) -> anyhow::Result<String> {
        if let Some(r) = self.replication() {
            return r.primary_admin_url().await;
        }
        let n1 = self.lock_nodes.first().map(String::as_str).unwrap_or("n1");
        self.admin_url(n1)
            .ok_or_else(|| anyhow::anyhow!("node {n1} is gone"))
    }

    /// Heals every network fault, then stops the proxies and the nodes.
    pub async fn stop(&self) {
        for clock in &self.node_clocks {
            clock.reset();
        }
        if let Setup::Remote(r) = &self.setup {
            r.stop().await;
        }
        match &self.network {
            // On someone else's Toxiproxy, remove only the proxies this run created (the
            // remote set-up's lease did).
            Network::External(_) => {}
            Network::Embedded(registry) => {
                let _ = self.network.heal_all().await;
                registry.shutdown().await;
            }
        }
        self.nodes().stop();
    }
}

/// A client's connection to `url`, within `timeout`.
pub async fn connect(
    url: &str,
    timeout: std::time::Duration,
) -> anyhow::Result<workloads::conn::Conn> {
    workloads::conn::connect(url, timeout)
        .await
        .map_err(|e| anyhow::anyhow!("cannot connect a client to {}: {e}", redact(url)))
}

/// A URL with its credentials hidden, for messages.
pub fn redact(url: &str) -> String {
    match (url.find("://"), url.find('@')) {
        (Some(a), Some(b)) => format!("{}://…@{}", &url[..a], &url[b + 1..]),
        _ => url.to_string(),
    }
}
