//! One redis-server process: its port, folder, passwords and life cycle.
//!
//! Each node listens on 127.0.0.1 only, on a free port, with its own temporary folder, no
//! snapshots (`save ''`) unless a scenario asks for persistence, and least-privilege ACLs: the
//! `default` user is off, the harness logs in as `fencepost-admin`, and clients as
//! `fencepost-client`, allowed only the commands and the `fencepost:*` keys the workloads use.
//! Passwords are random per run.

use super::spawner;
use crate::servers::on_path;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub const ADMIN_USER: &str = "fencepost-admin";
pub const CLIENT_USER: &str = "fencepost-client";

/// Commands the lock, resource and counter workloads need; everything else is refused.
const CLIENT_COMMANDS: &str = "+ping +auth +hello +client|setname +select \
+eval +evalsha +script|load +script|exists +get +set +del +incr +incrby +rpush +lrange +time \
+expire +pexpire +pttl +zadd +zremrangebyscore +zcard +wait \
+publish +subscribe +unsubscribe +xadd +xgroup|create +xreadgroup +xack +xautoclaim";

#[derive(Debug, thiserror::Error)]
pub enum NodeError {
    #[error("redis-server was not found on PATH; install it with `sudo apt-get install redis-server` (Debian/Ubuntu), then run again")]
    MissingRedis,
    #[error("cannot prepare node {node}: {source}")]
    Io {
        node: String,
        source: std::io::Error,
    },
    #[error("node {node} (port {port}) did not answer PING within {waited_ms} ms; last lines of its log:\n{log}")]
    NotReady {
        node: String,
        port: u16,
        waited_ms: u128,
        log: String,
    },
    #[error("redis-server for node {node} (port {port}) exited at start ({status}); last lines of its log:\n{log}")]
    Exited {
        node: String,
        port: u16,
        status: String,
        log: String,
    },
}

/// Persistence of a node (what a crash-restart keeps).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Persistence {
    /// Nothing survives a restart.
    #[default]
    None,
    /// AOF, fsync every second.
    AofEverySec,
    /// AOF, fsync on every write.
    AofAlways,
}

impl Persistence {
    /// The redis.conf directives that give this persistence (also sent as CONFIG SET to nodes
    /// fencepost did not start).
    pub fn directives(self) -> &'static [(&'static str, &'static str)] {
        match self {
            Persistence::None => &[("appendonly", "no")],
            Persistence::AofEverySec => &[("appendonly", "yes"), ("appendfsync", "everysec")],
            Persistence::AofAlways => &[("appendonly", "yes"), ("appendfsync", "always")],
        }
    }

    /// [`directives`](Self::directives) as config-file lines.
    pub fn config_text(self) -> String {
        self.directives()
            .iter()
            .map(|(k, v)| format!("{k} {v}\n"))
            .collect()
    }

    /// The scenario's word for it.
    pub fn name(self) -> &'static str {
        match self {
            Persistence::None => "none",
            Persistence::AofEverySec => "aof-everysec",
            Persistence::AofAlways => "aof-always",
        }
    }
}

/// Settings for one node.
#[derive(Debug, Clone)]
pub struct NodeConfig {
    pub name: String,
    pub persistence: Persistence,
    /// Extra `LD_PRELOAD` library (the clock library) and its environment.
    pub preload: Option<(PathBuf, Vec<(String, String)>)>,
    /// Let lock libraries in client processes log in: the `default` user, with the client
    /// password, may run everything but administration on any key (libraries name their own
    /// keys and need commands fencepost's own clients do not). Off otherwise.
    pub library_user: bool,
    /// Its own network namespace and address (a Redis Cluster node); 127.0.0.1 otherwise.
    pub place: Option<Place>,
    /// A Redis Cluster member.
    pub cluster: Option<ClusterMember>,
}

/// Where a node listens when not on 127.0.0.1: a namespace of the run's private network.
#[derive(Debug, Clone)]
pub struct Place {
    pub netns: std::sync::Arc<super::netns::NetNs>,
    pub ip: String,
}

/// A Redis Cluster node's settings.
#[derive(Debug, Clone, Copy)]
pub struct ClusterMember {
    /// `cluster-node-timeout`: how long a peer may not answer before it is suspected failing.
    pub node_timeout_ms: u64,
}

/// What clients of a Redis Cluster run beyond the workloads' commands: slot discovery and
/// ASK redirects.
const CLUSTER_CLIENT_COMMANDS: &str =
    "+cluster|slots +cluster|shards +cluster|nodes +asking +readonly";

/// The port a node in a namespace of its own listens on (the namespace has no other user).
pub const PLACED_PORT: u16 = 6379;

/// The server program a node runs, and how its Sentinels are started.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Binary {
    pub server: PathBuf,
    /// `redis-sentinel` for the machine's own server (its package ships it); None: the server
    /// itself with `--sentinel` (an obtained build has no separate program).
    pub sentinel: Option<PathBuf>,
}

impl Binary {
    /// The machine's redis-server (and redis-sentinel) on PATH.
    pub fn system() -> Result<Binary, NodeError> {
        Ok(Binary {
            server: redis_server_path()?,
            sentinel: Some(on_path("redis-sentinel").unwrap_or_else(|| "redis-sentinel".into())),
        })
    }

    /// The binary of a resolved server.
    pub fn of(server: &crate::servers::Server) -> Binary {
        Binary {
            server: server.binary.clone(),
            sentinel: if server.system {
                on_path("redis-sentinel")
            } else {
                None
            },
        }
    }
}

/// A running (or stopped) redis-server.
#[derive(Debug)]
pub struct Node {
    pub config: NodeConfig,
    /// The program it runs (and runs again on a restart).
    pub binary: Binary,
    pub port: u16,
    pub dir: PathBuf,
    pub admin_password: String,
    pub client_password: String,
    child: Option<Child>,
}

/// Finds redis-server on PATH.
pub fn redis_server_path() -> Result<PathBuf, NodeError> {
    on_path("redis-server").ok_or(NodeError::MissingRedis)
}

/// A free port on 127.0.0.1 (the OS picks it; a race with another process is caught by the
/// readiness check and retried by the caller).
pub fn free_port() -> std::io::Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

impl Node {
    /// Starts a node of the machine's redis-server in `dir` (created if needed) and waits
    /// until it answers PING.
    pub fn start(
        config: NodeConfig,
        dir: &Path,
        passwords: (String, String),
    ) -> Result<Node, NodeError> {
        Node::start_binary(config, dir, passwords, Binary::system()?)
    }

    /// [`Node::start`] with a server of the run's choosing.
    pub fn start_binary(
        config: NodeConfig,
        dir: &Path,
        passwords: (String, String),
        binary: Binary,
    ) -> Result<Node, NodeError> {
        let server = binary.server.clone();
        let io = |source| NodeError::Io {
            node: config.name.clone(),
            source,
        };
        crate::private_dir::subdir(dir).map_err(|e| io(std::io::Error::other(e)))?;
        let mut last_err = None;
        for _attempt in 0..5 {
            let port = match config.place {
                Some(_) => PLACED_PORT,
                None => free_port().map_err(io)?,
            };
            let mut node = Node {
                config: config.clone(),
                binary: binary.clone(),
                port,
                dir: dir.to_path_buf(),
                admin_password: passwords.0.clone(),
                client_password: passwords.1.clone(),
                child: None,
            };
            node.write_config()
                .map_err(|e| io(std::io::Error::other(e)))?;
            node.spawn(&server).map_err(io)?;
            match node.wait_ready(Duration::from_secs(10)) {
                Ok(()) => return Ok(node),
                // Another process took the port between our probe and redis's bind: retry.
                Err(NodeError::Exited { ref log, .. })
                    if log.contains("Address already in use") =>
                {
                    node.kill();
                    last_err = Some(NodeError::NotReady {
                        node: node.config.name.clone(),
                        port,
                        waited_ms: 0,
                        log: log.clone(),
                    });
                }
                Err(e) => return Err(e),
            }
        }
        Err(last_err.expect("at least one attempt"))
    }

    fn config_path(&self) -> PathBuf {
        self.dir.join("redis.conf")
    }

    pub fn log_path(&self) -> PathBuf {
        self.dir.join("redis.log")
    }

    /// Writes redis.conf (it holds both passwords: mode 0600, never through a symlink).
    fn write_config(&self) -> Result<(), crate::private_dir::PrivateError> {
        let persistence = self.config.persistence.config_text();
        let cluster = match self.config.cluster {
            None => String::new(),
            Some(c) => format!(
                "cluster-enabled yes\ncluster-config-file nodes.conf\ncluster-node-timeout {}\n\
                 repl-diskless-sync-delay 0\nmasteruser {ADMIN_USER}\nmasterauth {}\n",
                c.node_timeout_ms, self.admin_password
            ),
        };
        let client_commands = match self.config.cluster {
            None => CLIENT_COMMANDS.to_string(),
            Some(_) => format!("{CLIENT_COMMANDS} {CLUSTER_CLIENT_COMMANDS}"),
        };
        let conf = format!(
            "bind {host}\nport {port}\nprotected-mode yes\ndaemonize no\ndir {dir}\nlogfile {log}\n\
             save \"\"\n{persistence}{cluster}\
             {default_user}\n\
             user {ADMIN_USER} on >{admin} ~* &* +@all\n\
             user {CLIENT_USER} on >{client} ~fencepost:* resetchannels &fencepost:* -@all {client_commands}\n\
             {unix}",
            unix = self.unix_socket().map_or_else(String::new, |p| {
                format!("unixsocket {}\nunixsocketperm 700\n", p.display())
            }),
            default_user = if self.config.library_user {
                format!(
                    "user default on >{} ~* &* +@all -@admin -flushall -flushdb -swapdb -keys",
                    self.client_password
                )
            } else {
                // Off, but with the rights the AOF loader borrows from it (7.0 replays
                // MULTI/EXEC from the AOF as `default`: without them a restart loads nothing).
                "user default off ~* &* +@all".to_string()
            },
            host = self.host(),
            port = self.port,
            dir = self.dir.display(),
            log = self.log_path().display(),
            admin = self.admin_password,
            client = self.client_password,
        );
        crate::private_dir::write_secret(&self.config_path(), conf.as_bytes())
    }

    fn spawn(&mut self, server: &Path) -> std::io::Result<()> {
        let mut cmd = Command::new(server);
        cmd.arg(self.config_path())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        if let Some((lib, env)) = &self.config.preload {
            cmd.env("LD_PRELOAD", lib);
            for (k, v) in env {
                cmd.env(k, v);
            }
        }
        let netns = self.config.place.as_ref().map(|p| p.netns.fd());
        self.child = Some(spawner::spawn_in(cmd, netns)?);
        Ok(())
    }

    /// Waits until the node answers an authenticated PING.
    pub fn wait_ready(&mut self, limit: Duration) -> Result<(), NodeError> {
        let started = Instant::now();
        while started.elapsed() < limit {
            if let Some(child) = self.child.as_mut() {
                if let Ok(Some(status)) = child.try_wait() {
                    self.child = None;
                    return Err(NodeError::Exited {
                        node: self.config.name.clone(),
                        port: self.port,
                        status: status.to_string(),
                        log: tail(&self.log_path(), 8),
                    });
                }
            }
            if self.ping().is_ok() {
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        Err(NodeError::NotReady {
            node: self.config.name.clone(),
            port: self.port,
            waited_ms: started.elapsed().as_millis(),
            log: tail(&self.log_path(), 8),
        })
    }

    fn ping(&self) -> std::io::Result<()> {
        let mut s = TcpStream::connect((self.host(), self.port))?;
        s.set_read_timeout(Some(Duration::from_millis(500)))?;
        write!(s, "AUTH {ADMIN_USER} {}\r\nPING\r\n", self.admin_password)?;
        let mut buf = [0u8; 64];
        let mut got = Vec::new();
        while !got.ends_with(b"+PONG\r\n") {
            let n = s.read(&mut buf)?;
            if n == 0 || got.len() > 256 {
                return Err(std::io::Error::other("no PONG"));
            }
            got.extend_from_slice(&buf[..n]);
        }
        Ok(())
    }

    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(|c| c.id())
    }

    pub fn is_running(&mut self) -> bool {
        matches!(self.child.as_mut().map(|c| c.try_wait()), Some(Ok(None)))
    }

    /// The address it listens on.
    pub fn host(&self) -> &str {
        self.config.place.as_ref().map_or("127.0.0.1", |p| &p.ip)
    }

    /// URL for the harness's admin connection.
    pub fn admin_url(&self) -> String {
        format!(
            "redis://{ADMIN_USER}:{}@{}:{}/",
            self.admin_password,
            self.host(),
            self.port
        )
    }

    /// URL for a client connection to `port` (the node's own, or a proxy in front of it).
    pub fn client_url_via(&self, port: u16) -> String {
        format!(
            "redis://{CLIENT_USER}:{}@127.0.0.1:{port}/",
            self.client_password
        )
    }

    /// The node's Unix socket, in its own folder (mode 700): fencepost's proxies reach the node
    /// through it, a hop that costs a fraction of a loopback TCP one (BENCHMARKS.md, fault
    /// proxy). None when the folder's path is too long for a socket address; the proxies then
    /// use the TCP port.
    pub fn unix_socket(&self) -> Option<PathBuf> {
        let path = self.dir.join("redis.sock");
        // sun_path holds 108 bytes, with the terminating NUL
        (path.as_os_str().len() < 100).then_some(path)
    }

    /// URL for a client connection straight to the node.
    pub fn client_url(&self) -> String {
        format!(
            "redis://{CLIENT_USER}:{}@{}:{}/",
            self.client_password,
            self.host(),
            self.port
        )
    }

    /// SIGKILLs the process and reaps it. Idempotent. SIGKILL also ends a SIGSTOPped process.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Restarts a killed node on the same port with the same folder (its AOF, if any).
    pub fn restart(&mut self) -> Result<(), NodeError> {
        self.kill();
        let server = self.binary.server.clone();
        let name = self.config.name.clone();
        self.spawn(&server)
            .map_err(|source| NodeError::Io { node: name, source })?;
        self.wait_ready(Duration::from_secs(10))
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        self.kill();
    }
}

/// The last `lines` lines of a log file (or "(no log)").
pub(crate) fn tail(path: &Path, lines: usize) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_else(|_| "(no log)".into());
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}
