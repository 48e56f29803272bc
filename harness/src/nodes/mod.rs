//! Node processes: every redis-server and redis-sentinel a run starts, and their cleanup.
//!
//! Processes know no links and no topology: they are started, signalled, restarted and killed
//! here, and the topology ([`crate::topology`]) decides how clients reach them. A [`NodeSet`]
//! owns a run's nodes, Sentinels and its private folder; dropping it kills them and removes the
//! folder — on success, error and panic alike. (Ctrl-C is turned into an orderly stop by the
//! runner; SIGKILL of fencepost is covered by the children's parent-death signal.)

pub mod clock;
pub mod netns;
pub mod node;
pub mod redis_cluster;
pub mod sentinel;
pub mod spawner;
pub mod tap;

use node::{Node, NodeConfig, NodeError};
use std::path::PathBuf;

#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct NodeInfo {
    pub name: String,
    /// Its address when not 127.0.0.1 (a Redis Cluster node on the run's private network).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host: Option<String>,
    pub port: u16,
    pub pid: Option<u32>,
}

/// The resource node's name (the protected resource lives on a node of its own).
pub const RESOURCE: &str = "resource";

/// Every process a run started, and the private folder they live in.
pub struct NodeSet {
    pub nodes: Vec<Node>,
    /// Sentinels of a replicated setup (none otherwise); killed with the nodes.
    pub sentinels: Vec<sentinel::Sentinel>,
    /// The private network of a Redis Cluster's nodes (freed after they are killed).
    pub lan: Option<netns::Lan>,
    pub root: PathBuf,
    /// The server program its nodes run: the machine's redis-server unless the run chose
    /// another ([`NodeSet::run_binary`]).
    pub binary: Option<node::Binary>,
}

impl NodeSet {
    /// A fresh private folder (mode 0700, a random name part) for this run's nodes under the
    /// system temp dir ([`crate::private_dir`]): it holds their passwords and the clock library.
    pub fn new(run_id: &str) -> Result<NodeSet, crate::private_dir::PrivateError> {
        let root = crate::private_dir::create(
            &std::env::temp_dir(),
            &format!("fencepost-{}-{}", std::process::id(), run_id),
        )?;
        Ok(NodeSet {
            nodes: Vec::new(),
            sentinels: Vec::new(),
            lan: None,
            root,
            binary: None,
        })
    }

    /// Its nodes run `binary` (a server the run obtained).
    pub fn run_binary(&mut self, binary: node::Binary) {
        self.binary = Some(binary);
    }

    /// The program its nodes run.
    pub fn binary(&self) -> Result<node::Binary, NodeError> {
        match &self.binary {
            Some(b) => Ok(b.clone()),
            None => node::Binary::system(),
        }
    }

    /// Starts a node with fresh random passwords and adds it; returns its index.
    pub fn start(&mut self, config: NodeConfig) -> Result<usize, NodeError> {
        self.start_with(config, (random_password(), random_password()))
    }

    /// Starts a node with these (admin, client) passwords: a Redis Cluster's nodes share theirs
    /// (replicas log in to whichever node is their primary).
    pub fn start_with(
        &mut self,
        config: NodeConfig,
        passwords: (String, String),
    ) -> Result<usize, NodeError> {
        let dir = self.root.join(&config.name);
        let node = Node::start_binary(config, &dir, passwords, self.binary()?)?;
        self.nodes.push(node);
        Ok(self.nodes.len() - 1)
    }

    pub fn node(&self, name: &str) -> Option<&Node> {
        self.nodes.iter().find(|n| n.config.name == name)
    }

    pub fn node_mut(&mut self, name: &str) -> Option<&mut Node> {
        self.nodes.iter_mut().find(|n| n.config.name == name)
    }

    /// Name, port and PID of every node (no passwords).
    pub fn describe(&self) -> Vec<NodeInfo> {
        self.nodes
            .iter()
            .map(|n| NodeInfo {
                name: n.config.name.clone(),
                host: n.config.place.as_ref().map(|p| p.ip.clone()),
                port: n.port,
                pid: n.pid(),
            })
            .chain(self.sentinels.iter().map(|s| NodeInfo {
                name: s.name.clone(),
                host: None,
                port: s.port,
                pid: s.pid(),
            }))
            .collect()
    }

    /// Kills every node and removes the run's temporary folder.
    pub fn stop(&mut self) {
        for s in &mut self.sentinels {
            s.kill();
        }
        self.sentinels.clear();
        for n in &mut self.nodes {
            n.kill();
        }
        self.nodes.clear();
        self.lan = None;
        let _ = std::fs::remove_dir_all(&self.root);
    }
}

impl Drop for NodeSet {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Removes node folders left by fencepost processes that no longer exist (killed with SIGKILL,
/// where no cleanup code runs; their redis-servers died with them by the parent-death signal).
/// Only folders of ours that nobody else may enter: never one another user planted.
pub fn reap_stale_folders() {
    use std::os::unix::fs::MetadataExt;
    let Ok(entries) = std::fs::read_dir(std::env::temp_dir()) else {
        return;
    };
    for e in entries.flatten() {
        let name = e.file_name();
        let Some(rest) = name.to_str().and_then(|n| n.strip_prefix("fencepost-")) else {
            continue;
        };
        let Some(pid) = rest.split('-').next().and_then(|p| p.parse::<u32>().ok()) else {
            continue;
        };
        let alive = std::path::Path::new(&format!("/proc/{pid}")).exists();
        let ours = std::fs::symlink_metadata(e.path()).is_ok_and(|m| {
            m.is_dir() && m.uid() == crate::private_dir::euid() && m.mode() & 0o077 == 0
        });
        if !alive && ours && e.path().join(RESOURCE).exists() {
            let _ = std::fs::remove_dir_all(e.path());
        }
    }
}

/// Passwords come from the OS's entropy, not the run's seed: replaying a seed must not replay a
/// secret.
pub fn random_password() -> String {
    crate::private_dir::random_hex(16)
}
