//! Sentinel processes: three `redis-sentinel`s watching a primary (`n1`) and its replica (`n2`),
//! and the admin commands a replicated set-up is made of.
//!
//! - Sentinels listen on 127.0.0.1 only, monitor `n1` as master [`MASTER`] with quorum 2 and
//!   `down-after-milliseconds` from the scenario, log in to the data nodes with
//!   `auth-user`/`auth-pass`, and ask whoever connects for the admin password. They are spawned
//!   through [`spawner::spawn`] (so they die with fencepost) and owned by the
//!   [`NodeSet`](super::NodeSet) (so every exit path kills them).
//! - `link_replica` makes a replica follow its primary (through whatever address it is given:
//!   the topology puts a proxy link there, [`crate::topology::sentinel`]), and [`master_addr`]
//!   and [`role`] ask who is primary now.
//!
//! Which links clients and the replica use is the topology's business; nothing here knows one.

use super::node::{NodeError, ADMIN_USER};
use super::spawner;
use anyhow::Context;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The name Sentinel monitors the primary under.
pub const MASTER: &str = "fencepost";
/// The primary and the replica.
pub const PRIMARY: &str = "n1";
pub const REPLICA: &str = "n2";

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
pub(crate) struct Acquaintance<'a> {
    pub port: u16,
    pub myid: &'a str,
    pub replica_port: u16,
    /// (port, id) of the other Sentinels.
    pub peers: Vec<(u16, &'a str)>,
}

impl Sentinel {
    pub(crate) fn start(
        binary: &super::node::Binary,
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
        let mut cmd = match &binary.sentinel {
            Some(program) => Command::new(program),
            None => Command::new(&binary.server),
        };
        cmd.arg(&conf);
        if binary.sentinel.is_none() {
            cmd.arg("--sentinel");
        }
        cmd.stdin(Stdio::null())
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
