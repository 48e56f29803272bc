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

use super::{random_token, Acquired, Flaw, LeaseConfig, Released};
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

const EXTEND: &str = r#"
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return 0
"#;

/// The flawed extension ([`Flaw::RetakeOnExtend`]): a missing key is simply set again.
const EXTEND_RETAKE: &str = r#"
local v = redis.call('GET', KEYS[1])
if v == ARGV[1] then
  return redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
if not v then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
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

pub struct SingleLock {
    pub config: LeaseConfig,
    conn: Conn,
    rng: ChaCha8Rng,
    acquire: redis::Script,
    release: redis::Script,
    extend: redis::Script,
    flaw: Option<Flaw>,
}

impl SingleLock {
    pub fn new(config: LeaseConfig, conn: Conn, rng: ChaCha8Rng) -> Self {
        SingleLock {
            config,
            conn,
            rng,
            acquire: redis::Script::new(ACQUIRE),
            release: redis::Script::new(RELEASE),
            extend: redis::Script::new(EXTEND),
            flaw: None,
        }
    }

    /// The same lock with a deliberate flaw (to prove the blame checker catches it).
    pub fn flawed(mut self, flaw: Flaw) -> Self {
        if flaw == Flaw::RetakeOnExtend {
            self.extend = redis::Script::new(EXTEND_RETAKE);
        }
        self.flaw = Some(flaw);
        self
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
        // Measured from the request's start: the key may have been set at any moment after it,
        // so this is the conservative end. A reply that comes after it brings a lease that has
        // already run out: a correct lock does not hand it out.
        let valid_until = self.config.valid_until_client_ns(start, 0);
        Ok(match fence {
            Some(_) if clock.client_ns() >= valid_until && self.flaw != Some(Flaw::NoElapsed) => {
                Acquired::Lapsed
            }
            Some(fence) => self.config.grant(clock, fence, token, valid_until),
            None => Acquired::Denied,
        })
    }

    /// Moves the key's expiry a ttl from now if it still holds this grant's token.
    pub async fn extend(&mut self, grant: &Grant, clock: &Clock) -> Result<Option<u64>, CallError> {
        let start = clock.client_ns();
        let mut inv = self.extend.prepare_invoke();
        inv.key(self.config.lock_key())
            .arg(&grant.token)
            .arg(self.config.ttl_ms);
        let done: i64 =
            with_timeout(self.config.op_timeout(), inv.invoke_async(&mut self.conn)).await?;
        Ok((done == 1).then(|| self.config.valid_until_client_ns(start, 0)))
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
