//! Sentinel failover: a primary (`n1`), a replica (`n2`) and three Sentinels.
//!
//! Redis replication is asynchronous: the primary acknowledges a write before the replica has it.
//! When Sentinel promotes the replica, whatever had not crossed the replication link is gone — an
//! acknowledged `INCR`, or the lock key a client was just granted. To make that window as wide as
//! a real network can make it, the replica replicates **through the fault proxy** (link
//! `repl-n2-n1`), so a nemesis can delay the replication stream.
//!
//! - `n2` starts with `n1`'s passwords (after a failover each replicates from the other as
//!   `fencepost-admin`), and `REPLICAOF` the proxy in front of `n1`.
//! - Three `redis-sentinel` processes listen on 127.0.0.1 only, monitor `n1` as master
//!   [`MASTER`] with quorum 2 and `down-after-milliseconds` from the scenario, and log in to the
//!   data nodes with `auth-user`/`auth-pass`. They are spawned through [`spawner::spawn`] (so they
//!   die with fencepost) and owned by the [`Cluster`](super::Cluster) (so every exit path kills them).
//! - The setup waits until the replica's link is up and every Sentinel knows the replica and the
//!   two other Sentinels: a failover attempted before that would not happen.
//! - Clients reach each data node through their own links `c{client}-n1`, `c{client}-n2`, and
//!   find the primary by asking a Sentinel ([`workloads::primary`]).

use super::node::{free_port, Node, NodeConfig, NodeError, Persistence, ADMIN_USER};
use super::spawner;
use crate::proxy::ProxyConfig;
use anyhow::Context;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The name Sentinel monitors the primary under.
pub const MASTER: &str = "fencepost";
/// The primary and the replica.
pub const PRIMARY: &str = "n1";
pub const REPLICA: &str = "n2";
/// The proxy link the replica replicates through.
pub const REPL_LINK: &str = "repl-n2-n1";

/// Sentinel settings from the scenario.
#[derive(Debug, Clone, Copy)]
pub struct SentinelSettings {
    pub sentinels: u32,
    pub down_after_ms: u64,
    pub failover_timeout_ms: u64,
}

/// redis-server 7.0's `repl-diskless-sync-delay`, restored after the first sync.
const DISKLESS_SYNC_DELAY_S: u32 = 5;

/// One redis-sentinel process.
#[derive(Debug)]
pub struct Sentinel {
    pub name: String,
    pub port: u16,
    pub dir: PathBuf,
    /// What it asks of whoever connects (the nodes' admin password).
    password: String,
    child: Option<Child>,
}

/// What a Sentinel is told at start that it would otherwise learn over seconds: its own id,
/// the replica (INFO polling) and the other Sentinels (hello messages every 2 s). The same facts,
/// sooner; each Sentinel still checks them as it runs.
struct Acquaintance<'a> {
    port: u16,
    myid: &'a str,
    replica_port: u16,
    /// (port, id) of the other Sentinels.
    peers: Vec<(u16, &'a str)>,
}

impl Sentinel {
    fn start(
        name: &str,
        dir: &Path,
        primary_port: u16,
        admin_password: &str,
        s: SentinelSettings,
        known: Acquaintance<'_>,
    ) -> Result<Sentinel, NodeError> {
        let io = |source| NodeError::Io {
            node: name.to_string(),
            source,
        };
        crate::private_dir::subdir(dir).map_err(|e| io(std::io::Error::other(e)))?;
        let port = known.port;
        let conf = dir.join("sentinel.conf");
        let quorum = s.sentinels / 2 + 1;
        let mut introductions = format!(
            "sentinel myid {}\nsentinel known-replica {MASTER} 127.0.0.1 {}\n",
            known.myid, known.replica_port
        );
        for (peer_port, peer_id) in &known.peers {
            introductions.push_str(&format!(
                "sentinel known-sentinel {MASTER} 127.0.0.1 {peer_port} {peer_id}\n"
            ));
        }
        // Sentinels answer only those who know the admin password (and use it with each
        // other): another local user must not be able to ask for a failover or reconfigure one.
        // The file holds the password: private, never written through a symlink.
        crate::private_dir::write_secret(
            &conf,
            format!(
                "port {port}\nbind 127.0.0.1\nprotected-mode no\ndaemonize no\ndir {dir}\n\
                 logfile {dir}/sentinel.log\n\
                 requirepass {admin_password}\nsentinel sentinel-pass {admin_password}\n\
                 sentinel monitor {MASTER} 127.0.0.1 {primary_port} {quorum}\n\
                 sentinel down-after-milliseconds {MASTER} {down}\n\
                 sentinel failover-timeout {MASTER} {failover}\n\
                 sentinel parallel-syncs {MASTER} 1\n\
                 sentinel auth-user {MASTER} {ADMIN_USER}\n\
                 sentinel auth-pass {MASTER} {admin_password}\n{introductions}",
                dir = dir.display(),
                down = s.down_after_ms,
                failover = s.failover_timeout_ms,
            )
            .as_bytes(),
        )
        .map_err(|e| io(std::io::Error::other(e)))?;
        let mut cmd = Command::new(sentinel_path().ok_or(NodeError::MissingRedis)?);
        cmd.arg(&conf)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        let child = spawner::spawn(cmd).map_err(io)?;
        let mut sentinel = Sentinel {
            name: name.to_string(),
            port,
            dir: dir.to_path_buf(),
            password: admin_password.to_string(),
            child: Some(child),
        };
        let started = Instant::now();
        while started.elapsed() < Duration::from_secs(10) {
            if let Some(Ok(Some(status))) = sentinel.child.as_mut().map(|c| c.try_wait()) {
                sentinel.child = None;
                return Err(NodeError::Exited {
                    node: name.to_string(),
                    port,
                    status: status.to_string(),
                    log: std::fs::read_to_string(dir.join("sentinel.log")).unwrap_or_default(),
                });
            }
            if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
                return Ok(sentinel);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        Err(NodeError::NotReady {
            node: name.to_string(),
            port,
            waited_ms: started.elapsed().as_millis(),
            log: std::fs::read_to_string(dir.join("sentinel.log")).unwrap_or_default(),
        })
    }

    /// Its URL, with the password it asks for.
    pub fn url(&self) -> String {
        format!("redis://:{}@127.0.0.1:{}/", self.password, self.port)
    }

    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(|c| c.id())
    }

    /// SIGKILLs and reaps the process. Idempotent.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for Sentinel {
    fn drop(&mut self) {
        self.kill();
    }
}

fn sentinel_path() -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .map(|d| d.join("redis-sentinel"))
        .find(|p| p.is_file())
}

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

/// Starts the replica and the Sentinels next to a topology whose `n1` is running, and keeps
/// what the run needs in `cluster.replication`. The cluster's lock is never held across an await.
pub async fn start(
    topology: &crate::topology::Topology,
    settings: SentinelSettings,
) -> anyhow::Result<Replication> {
    let network = &topology.network;
    let n1_links: Vec<String> = topology.clients.iter().map(|c| c.lock[0].clone()).collect();
    let (primary_port, admin, client, root) = {
        let cluster = topology.cluster();
        let n1 = cluster
            .node(PRIMARY)
            .context("the primary n1 was not started")?;
        (
            n1.port,
            n1.admin_password.clone(),
            n1.client_password.clone(),
            cluster.root.clone(),
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
                crate::topology::link(c, REPLICA),
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
    topology.cluster().nodes.push(replica);

    let repl = network
        .create(ProxyConfig::new(
            REPL_LINK,
            format!("127.0.0.1:{primary_port}"),
        ))
        .await
        .context("cannot create the replication link")?;
    let repl_port = repl.listen_addr().context("proxy without address")?.port();
    let primary_admin = topology
        .cluster()
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
                super::random_password(),
                &super::random_password()[..8]
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
        topology.cluster().sentinels.push(s);
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
    topology.cluster().replication = Some(replication.clone());
    Ok(replication)
}

/// Makes the replica replicate `master` (the proxy in front of the primary) as the admin user
/// `login`: both nodes log in to their master with it (after a failover each replicates the
/// other), `replica_settings` go to the replica, and the first full sync starts at once (7.0's
/// default waits 5 s for more replicas to share it); the default is back once the replica is
/// linked, so the run sees stock settings.
pub(crate) async fn link_replica(
    primary_admin: &str,
    replica_admin: &str,
    login: (&str, &str),
    master: (&str, u16),
    replica_settings: &[(&str, &str)],
) -> anyhow::Result<()> {
    for (url, extra) in [(primary_admin, &[][..]), (replica_admin, replica_settings)] {
        let mut c = admin_conn(url).await?;
        for (k, v) in [
            ("masteruser", login.0),
            ("masterauth", login.1),
            ("repl-diskless-sync-delay", "0"),
        ]
        .iter()
        .chain(extra)
        {
            let _: () = redis::cmd("CONFIG")
                .arg("SET")
                .arg(k)
                .arg(v)
                .query_async(&mut c)
                .await
                .with_context(|| format!("CONFIG SET {k}"))?;
        }
    }
    let mut r = admin_conn(replica_admin).await?;
    let _: () = redis::cmd("REPLICAOF")
        .arg(master.0)
        .arg(master.1)
        .query_async(&mut r)
        .await
        .context("REPLICAOF")?;
    wait_for(
        Duration::from_secs(15),
        "the replica's link to its primary",
        || async {
            let info: String = redis::cmd("INFO")
                .arg("replication")
                .query_async(&mut r.clone())
                .await
                .ok()?;
            info.contains("master_link_status:up").then_some(())
        },
    )
    .await?;
    for url in [primary_admin, replica_admin] {
        let mut c = admin_conn(url).await?;
        let _: () = redis::cmd("CONFIG")
            .arg("SET")
            .arg("repl-diskless-sync-delay")
            .arg(DISKLESS_SYNC_DELAY_S)
            .query_async(&mut c)
            .await
            .context("CONFIG SET repl-diskless-sync-delay")?;
    }
    Ok(())
}

/// Waits until each of the `sentinels` Sentinels at `urls` knows the replica and every other
/// Sentinel: a failover attempted before that would not happen.
pub(crate) async fn await_acquaintance(urls: &[String], sentinels: u32) -> anyhow::Result<()> {
    let others = sentinels.saturating_sub(1) as i64;
    for url in urls {
        let c = admin_conn(url).await?;
        wait_for(
            Duration::from_secs(30),
            "every Sentinel to know the replica and the other Sentinels",
            || async {
                let fields: Vec<String> = redis::cmd("SENTINEL")
                    .arg("master")
                    .arg(MASTER)
                    .query_async(&mut c.clone())
                    .await
                    .ok()?;
                let get = |k: &str| {
                    fields
                        .iter()
                        .position(|f| f == k)
                        .and_then(|i| fields.get(i + 1))
                        .and_then(|v| v.parse::<i64>().ok())
                };
                (get("num-slaves")? >= 1 && get("num-other-sentinels")? >= others).then_some(())
            },
        )
        .await?;
    }
    Ok(())
}

pub(crate) async fn admin_conn(url: &str) -> anyhow::Result<redis::aio::MultiplexedConnection> {
    let client = redis::Client::open(url)?;
    tokio::time::timeout(
        Duration::from_secs(5),
        client.get_multiplexed_async_connection(),
    )
    .await
    .map_err(|_| anyhow::anyhow!("connecting to a data node or Sentinel timed out"))?
    .context("cannot connect to a data node or Sentinel")
}

pub(crate) async fn wait_for<F, Fut>(
    limit: Duration,
    what: &str,
    mut probe: F,
) -> anyhow::Result<()>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<()>>,
{
    let started = Instant::now();
    while started.elapsed() < limit {
        if tokio::time::timeout(Duration::from_secs(1), probe())
            .await
            .ok()
            .flatten()
            .is_some()
        {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    anyhow::bail!("waited {} ms for {what}", limit.as_millis())
}

/// The address (`ip:port`) of the node the first answering Sentinel names as primary.
pub async fn master_addr(sentinel_urls: &[String]) -> anyhow::Result<String> {
    for url in sentinel_urls {
        let Ok(mut c) = admin_conn(url).await else {
            continue;
        };
        let r: Option<Option<(String, String)>> = tokio::time::timeout(
            Duration::from_secs(1),
            redis::cmd("SENTINEL")
                .arg("get-master-addr-by-name")
                .arg(MASTER)
                .query_async(&mut c),
        )
        .await
        .ok()
        .and_then(Result::ok);
        if let Some(Some((ip, port))) = r {
            return Ok(format!("{ip}:{port}"));
        }
    }
    anyhow::bail!("no Sentinel named a primary")
}

/// A data node's role (`master` or `slave`), asked directly.
pub async fn role(admin_url: &str) -> anyhow::Result<String> {
    let mut c = admin_conn(admin_url).await?;
    let v: redis::Value = tokio::time::timeout(
        Duration::from_secs(1),
        redis::cmd("ROLE").query_async(&mut c),
    )
    .await
    .map_err(|_| anyhow::anyhow!("ROLE timed out"))??;
    match v {
        redis::Value::Array(items) => match items.first() {
            Some(redis::Value::BulkString(b)) => Ok(String::from_utf8_lossy(b).into_owned()),
            Some(redis::Value::SimpleString(s)) => Ok(s.clone()),
            other => anyhow::bail!("unexpected ROLE reply {other:?}"),
        },
        other => anyhow::bail!("unexpected ROLE reply {other:?}"),
    }
}
