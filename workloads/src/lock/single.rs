//! Single-instance lock: `SET key token NX PX ttl`, released by compare-and-delete.
//!
//! The pattern from the Redis docs. Acquire runs one Lua script that sets the key only if absent
//! and, in the same atomic step, `INCR`s a fencing counter on the same node, so every grant comes
//! with a token one larger than the grant before it.
//!
//! What the fencing token guarantees: on one lock node that keeps its data, tokens are strictly
//! increasing in grant order, so a resource that rejects any token lower than the highest it has
//! seen refuses a holder whose lease was superseded. What it does not: it says nothing when the
//! lock node loses its counter (restart without persistence, failover to a replica that had not
//! received the INCR) — tokens can then repeat or go back; it does not stop a stale holder that
//! reaches the resource *before* the newer holder does (that is still safe: the stale access is
//! ordered first); and it protects only a resource that checks it.

use super::{random_token, Acquired, LeaseConfig, Released};
use crate::clock::Clock;
use crate::conn::Conn;
use crate::outcome::{with_timeout, CallError};
use checkers::Grant;
use rand_chacha::ChaCha8Rng;

const ACQUIRE: &str = r#"
if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then
  return redis.call('INCR', KEYS[2])
end
return false
"#;

const RELEASE: &str = r#"
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
"#;

pub struct SingleLock {
    pub config: LeaseConfig,
    conn: Conn,
    rng: ChaCha8Rng,
    acquire: redis::Script,
    release: redis::Script,
}

impl SingleLock {
    pub fn new(config: LeaseConfig, conn: Conn, rng: ChaCha8Rng) -> Self {
        SingleLock {
            config,
            conn,
            rng,
            acquire: redis::Script::new(ACQUIRE),
            release: redis::Script::new(RELEASE),
        }
    }

    pub async fn acquire(&mut self, clock: &Clock) -> Result<Acquired, CallError> {
        let token = random_token(&mut self.rng);
        let start = clock.client_ns();
        let mut inv = self.acquire.prepare_invoke();
        inv.key(self.config.lock_key())
            .key(self.config.fence_key())
            .arg(&token)
            .arg(self.config.ttl_ms);
        let fence: Option<u64> =
            with_timeout(self.config.op_timeout(), inv.invoke_async(&mut self.conn)).await?;
        Ok(match fence {
            // Measured from the request's start: the key may have been set at any moment after
            // it, so this is the conservative end (no elapsed term on a single node).
            Some(fence) => self.config.grant(
                clock,
                fence,
                token,
                self.config.valid_until_client_ns(start, 0),
            ),
            None => Acquired::Denied,
        })
    }

    pub async fn release(&mut self, grant: &Grant) -> Result<Released, CallError> {
        let mut inv = self.release.prepare_invoke();
        inv.key(self.config.lock_key()).arg(&grant.token);
        let deleted: i64 =
            with_timeout(self.config.op_timeout(), inv.invoke_async(&mut self.conn)).await?;
        Ok(if deleted == 1 {
            Released::Released
        } else {
            Released::NotHeld
        })
    }
}
