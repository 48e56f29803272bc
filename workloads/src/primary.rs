//! The node a client writes to: a fixed node, or the primary that Sentinel names.
//!
//! With Sentinel, a client does what the Redis client libraries do: ask a Sentinel
//! (`SENTINEL get-master-addr-by-name`) for the primary's address, connect, and ask again when a
//! call breaks or the node answers `READONLY` (it was demoted). Sentinel answers with the node's
//! real address; the client reaches that node through its own proxy link, so `links` maps each
//! node's real address (`ip:port`, as Sentinel names it) to the client's proxied URL. Between two discoveries the client keeps talking
//! to the node it found — which is how, after a failover, clients of a paused-then-resumed old
//! primary keep writing to it until Sentinel demotes it.

use crate::conn::{self, Conn};
use crate::outcome::{with_timeout, CallError};
use std::time::Duration;

/// How to find the primary through Sentinel.
#[derive(Debug, Clone)]
pub struct SentinelTarget {
    /// Sentinel URLs (direct; Sentinels are not under test here).
    pub sentinels: Vec<String>,
    /// The monitored master's name.
    pub master: String,
    /// (a data node's address as Sentinel names it, `ip:port`; this client's proxied URL to it).
    pub links: Vec<(String, String)>,
}

pub struct Primary {
    timeout: Duration,
    target: Option<SentinelTarget>,
    /// The node in use (its address; empty for a fixed node) and the connection to it.
    current: Option<(String, Conn)>,
    /// Set after an error: rediscover before the next call.
    stale: bool,
}

impl Primary {
    /// A fixed node, connected once (reconnects by itself after breaks).
    pub async fn fixed(url: &str, timeout: Duration) -> Result<Primary, CallError> {
        Ok(Self::connected(conn::connect(url, timeout).await?, timeout))
    }

    /// A connection made elsewhere (a Redis Cluster's, which finds each key's primary itself).
    pub fn connected(conn: Conn, timeout: Duration) -> Primary {
        Primary {
            timeout,
            target: None,
            current: Some((String::new(), conn)),
            stale: false,
        }
    }

    /// The primary named by Sentinel; discovered lazily on the first call.
    pub fn via_sentinel(target: SentinelTarget, timeout: Duration) -> Primary {
        Primary {
            timeout,
            target: Some(target),
            current: None,
            stale: true,
        }
    }

    /// The connection to use for the next call.
    pub async fn conn(&mut self) -> Result<&mut Conn, CallError> {
        if self.stale {
            if let Some(target) = self.target.clone() {
                let addr = self.discover(&target).await?;
                if self.current.as_ref().map(|c| c.0.as_str()) != Some(addr.as_str()) {
                    let url = target
                        .links
                        .iter()
                        .find(|(a, _)| *a == addr)
                        .map(|(_, u)| u.clone())
                        .ok_or_else(|| {
                            CallError::Refused(format!(
                                "Sentinel names {addr}, which is no node of this run"
                            ))
                        })?;
                    self.current = Some((addr, conn::connect(&url, self.timeout).await?));
                }
            }
            self.stale = false;
        }
        match self.current.as_mut() {
            Some((_, c)) => Ok(c),
            None => Err(CallError::Indeterminate("no primary known".into())),
        }
    }

    /// Address of the node in use (empty for a fixed node).
    pub fn addr(&self) -> Option<&str> {
        self.current.as_ref().map(|c| c.0.as_str())
    }

    /// Tells the primary that a call failed: with Sentinel, rediscover before the next call.
    pub fn saw(&mut self, e: &CallError) {
        let _ = e;
        if self.target.is_some() {
            self.stale = true;
        }
    }

    async fn discover(&self, target: &SentinelTarget) -> Result<String, CallError> {
        let mut last = CallError::Indeterminate("no Sentinel configured".into());
        for url in &target.sentinels {
            match ask(url, &target.master, self.timeout).await {
                Ok(addr) => return Ok(addr),
                Err(e) => last = e,
            }
        }
        Err(last)
    }
}

async fn ask(url: &str, master: &str, timeout: Duration) -> Result<String, CallError> {
    let client =
        redis::Client::open(url).map_err(|e| CallError::Refused(format!("bad URL: {e}")))?;
    let mut c = with_timeout(timeout, client.get_multiplexed_async_connection()).await?;
    let addr: Option<(String, String)> = with_timeout(
        timeout,
        redis::cmd("SENTINEL")
            .arg("get-master-addr-by-name")
            .arg(master)
            .query_async(&mut c),
    )
    .await?;
    let (ip, port) =
        addr.ok_or_else(|| CallError::Indeterminate(format!("Sentinel knows no `{master}`")))?;
    Ok(format!("{ip}:{port}"))
}
