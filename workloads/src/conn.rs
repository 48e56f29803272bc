//! Connections to Redis nodes that survive the faults a run injects.
//!
//! A partition, a reset or a crash-restart breaks TCP connections; a real client reconnects. A
//! `ConnectionManager` reconnects in the background when a call finds its connection dropped,
//! so the call that saw the break is recorded `info` and later calls work again once the network
//! heals. Each connection attempt is bounded, so a blackholed node cannot hang a client.
//!
//! A Redis Cluster is one [`Conn`] too: redis-rs's cluster connection routes each command by its
//! key's hash slot, follows `MOVED` (and refreshes its slot map) and `ASK` redirects, and
//! reconnects to nodes by itself — so the locks and counters run on a cluster unchanged.

use crate::outcome::CallError;
use redis::aio::{ConnectionLike, ConnectionManager, ConnectionManagerConfig};
use redis::cluster::ClusterClientBuilder;
use redis::cluster_async::ClusterConnection;
use redis::{Cmd, Pipeline, RedisFuture, Value};
use std::time::Duration;

/// A client's connection to one node, or to a Redis Cluster.
#[derive(Clone)]
pub enum Conn {
    Node(ConnectionManager),
    Cluster(ClusterConnection),
}

impl ConnectionLike for Conn {
    fn req_packed_command<'a>(&'a mut self, cmd: &'a Cmd) -> RedisFuture<'a, Value> {
        match self {
            Conn::Node(c) => c.req_packed_command(cmd),
            Conn::Cluster(c) => c.req_packed_command(cmd),
        }
    }

    fn req_packed_commands<'a>(
        &'a mut self,
        cmd: &'a Pipeline,
        offset: usize,
        count: usize,
    ) -> RedisFuture<'a, Vec<Value>> {
        match self {
            Conn::Node(c) => c.req_packed_commands(cmd, offset, count),
            Conn::Cluster(c) => c.req_packed_commands(cmd, offset, count),
        }
    }

    fn get_db(&self) -> i64 {
        match self {
            Conn::Node(c) => c.get_db(),
            Conn::Cluster(c) => c.get_db(),
        }
    }
}

/// Connects to a Redis Cluster through any of `urls` (all with the same user), with bounded
/// attempts and few retries: a redirect is followed, a timeout is the caller's `info`.
pub async fn connect_cluster(urls: &[String], timeout: Duration) -> Result<Conn, CallError> {
    let client = ClusterClientBuilder::new(urls.to_vec())
        .connection_timeout(timeout)
        .response_timeout(timeout)
        .retries(2)
        .min_retry_wait(10)
        .max_retry_wait(200)
        .build()
        .map_err(|e| CallError::Refused(format!("bad cluster URLs: {e}")))?;
    match tokio::time::timeout(timeout * 4, client.get_async_connection()).await {
        Ok(r) => r.map(Conn::Cluster).map_err(CallError::from),
        Err(_) => Err(CallError::Indeterminate(format!(
            "connecting to the cluster timed out after {} ms",
            (timeout * 4).as_millis()
        ))),
    }
}

/// Connects (as the user in `url`) with bounded attempts.
pub async fn connect(url: &str, timeout: Duration) -> Result<Conn, CallError> {
    let client =
        redis::Client::open(url).map_err(|e| CallError::Refused(format!("bad redis URL: {e}")))?;
    let config = ConnectionManagerConfig::new()
        .set_connection_timeout(timeout)
        .set_response_timeout(timeout)
        .set_number_of_retries(2)
        .set_max_delay(200);
    match tokio::time::timeout(
        timeout * 4,
        ConnectionManager::new_with_config(client, config),
    )
    .await
    {
        Ok(r) => r.map(Conn::Node).map_err(CallError::from),
        Err(_) => Err(CallError::Indeterminate(format!(
            "connecting timed out after {} ms",
            (timeout * 4).as_millis()
        ))),
    }
}
