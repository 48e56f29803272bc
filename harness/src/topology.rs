//! The topology of a run: which nodes exist and how each client reaches each of them.
//!
//! Lock nodes `n1..nN` and the `resource` node are real redis-servers. Every client reaches every
//! node through its own proxy link `c{client}-{node}` in the fault proxy, so any partition over
//! clients and nodes compiles to a set of cut links, and a delay can be put on one client's path
//! to one node.
//!
//! Lock nodes run with the clock library preloaded, each with its own control file
//! ([`NodeClock`]), so a clock nemesis can bend one node's wall clock at run time; with no skew
//! the library reads the real time from the vDSO, at the cost of a few ns per call.

use crate::cluster::clock::{self, NodeClock};
use crate::cluster::node::{NodeConfig, Persistence};
use crate::cluster::redis_cluster::{self, ClusterMap, ClusterSpec};
use crate::cluster::{spawner, Cluster, NodeInfo};
use crate::external::engine::State;
use crate::proxy::{Network, ProxyConfig, Registry};
use anyhow::Context;
use std::sync::{Arc, Mutex, MutexGuard};

/// A node [`Topology::pause_node`] stopped, for [`Topology::resume_node`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Paused {
    /// A local redis-server, SIGSTOPped (by PID: a restarted node is another process).
    Process(u32),
    /// A container, frozen by the engine.
    Container,
}

/// The resource node's name.
pub const RESOURCE: &str = "resource";

/// What nodes a scenario needs.
#[derive(Debug, Clone)]
pub struct TopologySpec {
    pub lock_nodes: u32,
    pub clients: u32,
    pub persistence: Persistence,
    /// Client processes of lock libraries log in (see [`NodeConfig::library_user`]).
    pub library_user: bool,
    /// A Redis Cluster in place of the lock nodes, and the workload's key on it.
    pub redis_cluster: Option<(ClusterSpec, String)>,
}

/// Connection URLs of one client, each through its own proxy link.
#[derive(Debug, Clone)]
pub struct ClientLinks {
    /// One per lock node, in node order.
    pub lock: Vec<String>,
    pub resource: String,
}

pub struct Topology {
    pub cluster: Arc<Mutex<Cluster>>,
    pub network: Network,
    /// Lock node names, `n1..nN`.
    pub lock_nodes: Vec<String>,
    pub clients: Vec<ClientLinks>,
    /// Admin URL of the resource node (direct, never through the proxy).
    pub resource_admin_url: String,
    /// Each lock node's clock control, in node order.
    pub node_clocks: Vec<Arc<NodeClock>>,
    /// The Redis Cluster the lock or counter lives on (then there are no lock nodes `n1..nN`;
    /// clients reach the cluster's nodes directly on its private network).
    pub redis_cluster: Option<ClusterMap>,
    /// Nodes of an external topology (fencepost started none of them); empty for local runs.
    pub external_nodes: Vec<NodeInfo>,
    /// Admin URLs of an external topology's nodes, by name (direct, not through a proxy).
    pub external_admin: std::collections::HashMap<String, String>,
    /// The node containers of an external topology with an `[engine]`: node faults act on them.
    pub engine: Option<Arc<crate::external::engine::Engine>>,
    /// The heartbeat of a run on a shared Toxiproxy (external topologies only).
    pub lease: Option<crate::external::lease::Lease>,
    /// What the lock nodes keep across a crash.
    pub persistence: Persistence,
    /// Sentinel on an external topology (its Sentinels run already; a run configures them).
    pub external_sentinel: Option<crate::external::sentinel::SentinelPlan>,
    /// How many faults cut each link now: two overlapping partitions may cut the same link, and
    /// it is healed when the last of them heals.
    pub cuts: tokio::sync::Mutex<std::collections::HashMap<String, u32>>,
}

/// The proxy link name for a client and a node.
pub fn link(client: u32, node: &str) -> String {
    format!("c{client}-{node}")
}

impl Topology {
    /// Starts the nodes and the proxies.
    pub async fn start(spec: &TopologySpec, run_id: &str, seed: u64) -> anyhow::Result<Topology> {
        let mut cluster =
            Cluster::new(run_id).context("cannot create the nodes' temporary folder")?;
        let lock_nodes: Vec<String> = match spec.redis_cluster {
            Some(_) => Vec::new(),
            None => (1..=spec.lock_nodes).map(|i| format!("n{i}")).collect(),
        };
        let clock_library = clock::install_library(&cluster.root)?;
        let mut node_clocks = Vec::new();
        for name in lock_nodes.iter().map(String::as_str).chain([RESOURCE]) {
            let preload = if name == RESOURCE {
                None
            } else {
                let control = cluster.root.join(format!("{name}.clock"));
                node_clocks.push(Arc::new(NodeClock::create(&control)?));
                Some(clock::preload(&clock_library, &control))
            };
            let persistence = if name == RESOURCE {
                Persistence::None
            } else {
                spec.persistence
            };
            cluster.start(NodeConfig {
                name: name.to_string(),
                persistence,
                preload,
                library_user: spec.library_user,
                place: None,
                cluster: None,
            })?;
        }
        let redis_cluster = match &spec.redis_cluster {
            Some((shape, key)) => Some(redis_cluster::form(&mut cluster, *shape, key).await?),
            None => None,
        };

        let network = Network::Embedded(Registry::new(seed));
        let mut clients = Vec::new();
        for c in 0..spec.clients {
            let mut lock = Vec::new();
            for name in &lock_nodes {
                lock.push(proxied_url(&network, &cluster, c, name).await?);
            }
            let resource = proxied_url(&network, &cluster, c, RESOURCE).await?;
            clients.push(ClientLinks { lock, resource });
        }
        let resource_admin_url = cluster
            .node(RESOURCE)
            .expect("resource node started")
            .admin_url();
        Ok(Topology {
            cluster: Arc::new(Mutex::new(cluster)),
            network,
            lock_nodes,
            clients,
            resource_admin_url,
            node_clocks,
            redis_cluster,
            external_nodes: Vec::new(),
            external_admin: Default::default(),
            engine: None,
            lease: None,
            persistence: spec.persistence,
            external_sentinel: None,
            cuts: Default::default(),
        })
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
        let mut cluster = self.cluster();
        let node = cluster.node_mut(name)?;
        if node.is_running() {
            node.pid()
        } else {
            None
        }
    }

    /// Stops node `name` from running anything (SIGSTOP, or the container's freezer).
    pub async fn pause_node(&self, name: &str) -> Result<Paused, String> {
        if let Some(engine) = &self.engine {
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
                let engine = self.engine.as_ref().ok_or("no container engine")?;
                match engine.state(name).await.map_err(|e| e.to_string())? {
                    State::Paused => engine.unpause(name).await.map_err(|e| e.to_string()),
                    _ => Ok(()),
                }
            }
        }
    }

    /// SIGKILLs node `name` (its process, or its container); `false` when it was already down.
    pub async fn kill_node(&self, name: &str) -> Result<bool, String> {
        if let Some(engine) = &self.engine {
            if engine.state(name).await.map_err(|e| e.to_string())? == State::Down {
                return Ok(false);
            }
            return engine
                .kill(name)
                .await
                .map(|()| true)
                .map_err(|e| e.to_string());
        }
        let mut cluster = self.cluster();
        let node = cluster
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
        if let Some(engine) = &self.engine {
            engine.start(name).await.map_err(|e| e.to_string())?;
            let url = self
                .admin_url(name)
                .ok_or_else(|| format!("no node {name}"))?;
            return crate::external::wait_answers(&url, std::time::Duration::from_secs(20)).await;
        }
        let topology = self.clone();
        let who = name.to_string();
        tokio::task::spawn_blocking(move || {
            topology
                .cluster()
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
        if let Some(url) = self.external_admin.get(name) {
            return Some(url.clone());
        }
        self.cluster().node(name).map(|n| n.admin_url())
    }

    pub fn cluster(&self) -> MutexGuard<'_, Cluster> {
        self.cluster.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn describe(&self) -> Vec<NodeInfo> {
        if self.external_nodes.is_empty() {
            self.cluster().describe()
        } else {
            self.external_nodes.clone()
        }
    }

    /// Heals every network fault, then stops the proxies and the nodes.
    pub async fn stop(&self) {
        for clock in &self.node_clocks {
            clock.reset();
        }
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
        if let Some(plan) = &self.external_sentinel {
            if let Err(e) = plan.reset().await {
                eprintln!("fencepost: could not reset the Sentinels and the replica: {e:#}");
            }
        }
        match &self.network {
            // On someone else's Toxiproxy, remove only the proxies this run created.
            Network::External(_) => {
                if let Some(lease) = &self.lease {
                    lease.release().await;
                }
            }
            Network::Embedded(_) => {
                let _ = self.network.heal_all().await;
            }
        }
        if let Network::Embedded(r) = &self.network {
            r.shutdown().await;
        }
        self.cluster().stop();
    }
}

async fn proxied_url(
    network: &Network,
    cluster: &Cluster,
    client: u32,
    node: &str,
) -> anyhow::Result<String> {
    let n = cluster.node(node).expect("node started");
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
