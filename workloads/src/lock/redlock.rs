//! Redlock: one lock over N independent Redis nodes (no replication between them), granted by a
//! majority within the lease.
//!
//! Acquire: `SET key token NX PX ttl` on every node at once, each with a short per-node timeout;
//! granted iff a majority (N/2+1) said OK and the time spent is below the ttl. The grant's
//! validity is `ttl − elapsed − drift`, with `drift = ttl × drift_factor + drift_ms` (Redlock's
//! 1 % + 2 ms by default), counted from the end of the acquire — that is, it ends at
//! `start + ttl − drift` on the client's own clock. When not granted, the client deletes its
//! token from every node (compare-and-delete) and the workload retries after a random delay.
//! Extension re-arms the ttl by a Lua compare-and-`PEXPIRE` on a majority, within validity.
//!
//! Redlock's safety rests on timing: every node's clock must run at about the rate of the
//! client's, no node may forget a key it granted, and no holder may outlive its validity. The
//! faults this project injects break each assumption (a node's clock jumps; a node crashes and
//! restarts empty; a client pauses).
//!
//! ## Fencing tokens: the max-of-majority scheme, and what it guarantees
//!
//! Each node keeps a counter `C_n` next to the lock key. Phase 1 (acquire) on node n: if the
//! `SET NX` succeeds, `INCR C_n` in the same script and return it. The client takes the largest
//! (counter, node) pair among the OK answers: `c* = max C_n`, and the fence is
//! `c* × 100 + node number` (so fences from different nodes never tie; N ≤ 15). Phase 2
//! (confirm), on every node that said OK: if the node still holds *our token*, raise `C_n` to at
//! least `c*`, atomically with that check. The grant stands only if a majority confirmed, within
//! validity; otherwise it is released like any failed acquire.
//!
//! Guarantee. Let G1 and G2 be granted, and n a node that confirmed G1 and granted G2 (a
//! confirming majority and a granting majority always share one). If n kept its data and let G2
//! in *after* G1 held it — the usual case, G1's key expired or was released before G2's `SET NX`
//! — then G1's confirm ran while G1's key was on n, hence before G2's `INCR` on n, so
//! `fence(G2) > fence(G1)`. In particular, when Redlock itself keeps mutual exclusion, fences
//! strictly increase in grant order, and a fenced resource refuses a paused holder once its
//! successor has touched the resource. It also survives a node whose *clock* jumps: the earlier
//! holder confirmed on that node before the jump expired its key, so the later one still
//! outranks it. Tokens of two grants are distinct whenever the node that supplied each maximum
//! never repeats a counter value, i.e. kept its data.
//!
//! Where it fails. A node that restarts without its data (no persistence, or `everysec` losing
//! the last second) restarts its counter at 0: a later grant whose majority is that node plus
//! nodes that missed the earlier grants can get a *lower* fence than a live earlier holder, or
//! the same one, and then a fenced resource either refuses the new holder or (on a tie) lets both
//! in. Nothing here is consensus: it orders grants only as far as the nodes remember them.
//! Kleppmann's conclusion stands — correctness needs a lock service that is a consensus system —
//! and the crash-restart scenario is where this scheme is expected to break.

use super::{random_token, Acquired, LeaseConfig, Released};
use crate::clock::Clock;
use crate::conn::Conn;
use crate::outcome::{with_timeout, CallError};
use checkers::Grant;
use rand_chacha::ChaCha8Rng;
use std::time::Duration;
use tokio::task::JoinSet;

/// Phase 1 on one node: take the key and count the grant.
const ACQUIRE: &str = r#"
if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then
  return redis.call('INCR', KEYS[2])
end
return false
"#;

/// Phase 2 on one node: while the key is still ours, raise the counter to the grant's maximum.
const CONFIRM: &str = r#"
if redis.call('GET', KEYS[1]) == ARGV[1] then
  local c = tonumber(redis.call('GET', KEYS[2]) or '0')
  if c < tonumber(ARGV[2]) then redis.call('SET', KEYS[2], ARGV[2]) end
  return 1
end
return 0
"#;

const RELEASE: &str = r#"
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
"#;

const EXTEND: &str = r#"
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return 0
"#;

/// Fences are `counter × FENCE_NODES + node number`.
pub const FENCE_NODES: u64 = 100;

/// Redlock's own settings (the lease itself is in [`LeaseConfig`]; its `drift_ms` is the fixed
/// part of the drift margin).
#[derive(Debug, Clone)]
pub struct RedlockConfig {
    /// Proportional part of the drift margin (Redlock: 0.01 of the ttl).
    pub drift_factor: f64,
    /// Deadline for one node's answer; short, so an unreachable node does not eat the lease.
    pub node_timeout_ms: u64,
}

impl Default for RedlockConfig {
    fn default() -> Self {
        RedlockConfig {
            drift_factor: 0.01,
            node_timeout_ms: 50,
        }
    }
}

/// The fence of a grant whose largest counter `counter` came from node `node_index` (0-based).
pub fn fence_of(counter: u64, node_index: usize) -> u64 {
    counter * FENCE_NODES + node_index as u64 + 1
}

/// What an extension returned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Extension {
    /// A majority re-armed the ttl in time; the new validity end on the client's clock.
    Extended { valid_until_client_ns: u64 },
    /// Too late or too few nodes: the lock is lost.
    Lost,
}

/// One node's answer.
#[derive(Debug)]
enum Vote {
    /// Phase 1 granted, with the node's counter.
    Granted(u64),
    /// The key was held (by another token, or by a leftover of ours).
    Held,
    Failed(CallError),
}

/// A client's connection to one lock node. A connection found broken (reset, refused, a node
/// that crashed) is replaced by a fresh one at its next use, within the node timeout, as a
/// real Redlock client opens a new socket; a call that merely timed out (a cut link, a paused
/// node) keeps its connection.
struct NodeConn {
    conn: Conn,
    /// Where to reconnect; `None` keeps the connection as it is.
    url: Option<String>,
    broken: bool,
}

pub struct Redlock {
    pub config: LeaseConfig,
    pub redlock: RedlockConfig,
    nodes: Vec<std::sync::Mutex<NodeConn>>,
    rng: ChaCha8Rng,
    acquire: redis::Script,
    confirm: redis::Script,
    release: redis::Script,
    extend: redis::Script,
}

impl Redlock {
    /// `nodes` are the client's connections to the N lock nodes, in node order.
    pub fn new(
        config: LeaseConfig,
        redlock: RedlockConfig,
        nodes: Vec<Conn>,
        rng: ChaCha8Rng,
    ) -> Self {
        let nodes = nodes
            .into_iter()
            .map(|conn| {
                std::sync::Mutex::new(NodeConn {
                    conn,
                    url: None,
                    broken: false,
                })
            })
            .collect();
        Redlock {
            config,
            redlock,
            nodes,
            rng,
            acquire: redis::Script::new(ACQUIRE),
            confirm: redis::Script::new(CONFIRM),
            release: redis::Script::new(RELEASE),
            extend: redis::Script::new(EXTEND),
        }
    }

    /// Reconnects to a node whose connection broke, at these URLs (in node order).
    pub fn reconnecting(self, urls: Vec<String>) -> Self {
        for (n, url) in self.nodes.iter().zip(urls) {
            n.lock().unwrap_or_else(|p| p.into_inner()).url = Some(url);
        }
        self
    }

    pub fn quorum(&self) -> usize {
        self.nodes.len() / 2 + 1
    }

    /// The drift margin: ttl × drift_factor + drift_ms, in ns.
    pub fn drift_ns(&self) -> u64 {
        let ttl_ns = self.config.ttl_ms as f64 * 1e6;
        (ttl_ns * self.redlock.drift_factor) as u64 + self.config.drift_ms * 1_000_000
    }

    fn node_timeout(&self) -> Duration {
        Duration::from_millis(self.redlock.node_timeout_ms)
    }

    /// Runs `script` on the nodes in `which`, all at once; answers by node index.
    async fn on_nodes<T>(
        &self,
        script: &redis::Script,
        which: &[usize],
        args: &[String],
    ) -> Vec<(usize, Result<T, CallError>)>
    where
        T: redis::FromRedisValue + Send + 'static,
    {
        let mut set = JoinSet::new();
        for &i in which {
            let script = script.clone();
            let (mut conn, reconnect) = {
                let n = self.nodes[i].lock().unwrap_or_else(|p| p.into_inner());
                let reconnect = n.url.clone().filter(|_| n.broken);
                (n.conn.clone(), reconnect)
            };
            let keys = [self.config.lock_key(), self.config.fence_key()];
            let args = args.to_vec();
            let timeout = self.node_timeout();
            set.spawn(async move {
                let mut fresh = None;
                if let Some(url) = reconnect {
                    match crate::conn::connect(&url, timeout).await {
                        Ok(c) => {
                            conn = c.clone();
                            fresh = Some(c);
                        }
                        Err(e) => return (i, Err(e), None),
                    }
                }
                let mut inv = script.prepare_invoke();
                for k in &keys {
                    inv.key(k);
                }
                for a in &args {
                    inv.arg(a);
                }
                (
                    i,
                    with_timeout(timeout, inv.invoke_async(&mut conn)).await,
                    fresh,
                )
            });
        }
        let mut out = Vec::with_capacity(which.len());
        while let Some(joined) = set.join_next().await {
            let Ok((i, answer, fresh)) = joined else {
                continue;
            };
            let mut n = self.nodes[i].lock().unwrap_or_else(|p| p.into_inner());
            if let Some(c) = fresh {
                n.conn = c;
            }
            // Broken, not merely slow: a timeout leaves the connection in place.
            n.broken =
                matches!(&answer, Err(CallError::Indeterminate(m)) if !m.starts_with("timed out"));
            out.push((i, answer));
        }
        out.sort_by_key(|(i, _)| *i);
        out
    }

    fn all(&self) -> Vec<usize> {
        (0..self.nodes.len()).collect()
    }

    pub async fn acquire(&mut self, clock: &Clock) -> Result<Acquired, CallError> {
        let token = random_token(&mut self.rng);
        let start = clock.client_ns();
        let answers: Vec<(usize, Result<Option<u64>, CallError>)> = self
            .on_nodes(
                &self.acquire,
                &self.all(),
                &[token.clone(), self.config.ttl_ms.to_string()],
            )
            .await;
        let votes: Vec<(usize, Vote)> = answers
            .into_iter()
            .map(|(i, r)| {
                let v = match r {
                    Ok(Some(c)) => Vote::Granted(c),
                    Ok(None) => Vote::Held,
                    Err(e) => Vote::Failed(e),
                };
                (i, v)
            })
            .collect();
        let granted: Vec<(usize, u64)> = votes
            .iter()
            .filter_map(|(i, v)| match v {
                Vote::Granted(c) => Some((*i, *c)),
                _ => None,
            })
            .collect();

        let mut why = format!(
            "no majority: {} of {} nodes granted (need {})",
            granted.len(),
            self.nodes.len(),
            self.quorum()
        );
        if granted.len() >= self.quorum() {
            let (best_node, best) = granted
                .iter()
                .copied()
                .max_by_key(|&(i, c)| (c, i))
                .expect("a majority is not empty");
            let which: Vec<usize> = granted.iter().map(|&(i, _)| i).collect();
            let confirms: Vec<(usize, Result<i64, CallError>)> = self
                .on_nodes(&self.confirm, &which, &[token.clone(), best.to_string()])
                .await;
            let confirmed = confirms.iter().filter(|(_, r)| matches!(r, Ok(1))).count();
            let elapsed = clock.client_ns().saturating_sub(start);
            let ttl_ns = self.config.ttl_ms * 1_000_000;
            let drift = self.drift_ns();
            if confirmed >= self.quorum() && elapsed + drift < ttl_ns {
                // validity = ttl − elapsed − drift from now, i.e. it ends at start + ttl − drift.
                let valid_until = start + ttl_ns - drift;
                return Ok(self
                    .config
                    .grant(clock, fence_of(best, best_node), token, valid_until));
            }
            why = if confirmed < self.quorum() {
                format!(
                    "only {confirmed} of {} granting nodes confirmed (need {})",
                    which.len(),
                    self.quorum()
                )
            } else {
                format!(
                    "validity exhausted: acquiring took {} ms of a {} ms ttl (drift {} ms)",
                    elapsed / 1_000_000,
                    self.config.ttl_ms,
                    drift / 1_000_000
                )
            };
        }

        // Not granted: give back whatever we took, everywhere.
        let _: Vec<(usize, Result<i64, CallError>)> =
            self.on_nodes(&self.release, &self.all(), &[token]).await;
        if votes.iter().any(|(_, v)| matches!(v, Vote::Held)) && granted.len() < self.quorum() {
            // An observation: some node held the lock for someone else.
            return Ok(Acquired::Denied);
        }
        let refused = votes
            .iter()
            .all(|(_, v)| matches!(v, Vote::Failed(CallError::Refused(_))));
        if refused {
            return Err(CallError::Refused(why));
        }
        Err(CallError::Indeterminate(why))
    }

    /// Compare-and-delete on every node. `Released` when the token was still on a majority (the
    /// client still held the lock); `NotHeld` when it had already lost it.
    pub async fn release(&mut self, grant: &Grant) -> Result<Released, CallError> {
        let answers: Vec<(usize, Result<i64, CallError>)> = self
            .on_nodes(
                &self.release,
                &self.all(),
                std::slice::from_ref(&grant.token),
            )
            .await;
        let deleted = answers.iter().filter(|(_, r)| matches!(r, Ok(1))).count();
        if deleted >= self.quorum() {
            return Ok(Released::Released);
        }
        let answered = answers.iter().filter(|(_, r)| r.is_ok()).count();
        if deleted + (self.nodes.len() - answered) >= self.quorum() {
            // Unreachable nodes may or may not have deleted: cannot tell which.
            let first = answers
                .into_iter()
                .find_map(|(_, r)| r.err())
                .unwrap_or_else(|| CallError::Indeterminate("no answer".into()));
            return Err(first);
        }
        Ok(Released::NotHeld)
    }

    /// Re-arms the ttl on a majority, if asked within validity; the new validity ends at
    /// `start + ttl − drift` of this extension.
    pub async fn extend(
        &mut self,
        clock: &Clock,
        grant: &Grant,
        valid_until_client_ns: u64,
    ) -> Result<Extension, CallError> {
        let start = clock.client_ns();
        if start >= valid_until_client_ns {
            return Ok(Extension::Lost);
        }
        let answers: Vec<(usize, Result<i64, CallError>)> = self
            .on_nodes(
                &self.extend,
                &self.all(),
                &[grant.token.clone(), self.config.ttl_ms.to_string()],
            )
            .await;
        let extended = answers.iter().filter(|(_, r)| matches!(r, Ok(1))).count();
        let now = clock.client_ns();
        let ttl_ns = self.config.ttl_ms * 1_000_000;
        let drift = self.drift_ns();
        if extended >= self.quorum() && now < valid_until_client_ns && now - start + drift < ttl_ns
        {
            return Ok(Extension::Extended {
                valid_until_client_ns: start + ttl_ns - drift,
            });
        }
        Ok(Extension::Lost)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fences_from_different_nodes_never_tie_and_the_counter_dominates() {
        assert_eq!(fence_of(12, 2), 1203);
        assert_ne!(fence_of(7, 0), fence_of(7, 3));
        assert!(fence_of(8, 0) > fence_of(7, 14));
    }
}
