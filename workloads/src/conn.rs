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

/// The hash slot of `key` (CRC16/XMODEM of the key, or of its `{hash tag}`, mod 16384), as a
/// Redis Cluster places it.
pub fn key_slot(key: &[u8]) -> u16 {
    let tagged = key
        .iter()
        .position(|&b| b == b'{')
        .and_then(|open| {
            let rest = &key[open + 1..];
            rest.iter()
                .position(|&b| b == b'}')
                .filter(|&close| close > 0)
                .map(|close| &rest[..close])
        })
        .unwrap_or(key);
    let mut crc: u16 = 0;
    for &b in tagged {
        crc ^= (b as u16) << 8;
        for _ in 0..8 {
            crc = if crc & 0x8000 != 0 {
                (crc << 1) ^ 0x1021
            } else {
                crc << 1
            };
        }
    }
    crc % 16384
}

/// `WAIT replicas timeout_ms` on the node that holds `key` — on a cluster, the primary of the
/// key's slot (redis-rs would otherwise ask every primary): how many replicas acknowledged this
/// connection's writes there.
pub async fn wait_replicas(
    conn: &mut Conn,
    key: &str,
    replicas: u32,
    timeout_ms: u64,
) -> redis::RedisResult<i64> {
    let mut cmd = redis::cmd("WAIT");
    cmd.arg(replicas).arg(timeout_ms);
    match conn {
        Conn::Node(c) => cmd.query_async(c).await,
        Conn::Cluster(c) => {
            use redis::cluster_routing::{Route, RoutingInfo, SingleNodeRoutingInfo, SlotAddr};
            let route = Route::new(key_slot(key.as_bytes()), SlotAddr::Master);
            let v = c
                .route_command(
                    &cmd,
                    RoutingInfo::SingleNode(SingleNodeRoutingInfo::SpecificNode(route)),
                )
                .await?;
            redis::from_redis_value(&v)
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

#[cfg(test)]
mod tests {
    use super::key_slot;

    #[test]
    fn slots_match_redis() {
        // Values from CLUSTER KEYSLOT on redis-server 7.0.
        assert_eq!(key_slot(b"foo"), 12182);
        assert_eq!(key_slot(b"123456789"), 12739);
        assert_eq!(key_slot(b"{user1000}.following"), key_slot(b"user1000"));
        assert_eq!(key_slot(b"foo{}{bar}"), key_slot(b"foo{}{bar}"));
        assert_eq!(key_slot(b"{}foo"), 9500);
    }
}
