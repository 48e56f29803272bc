//! Lock clients: the patterns teams use to guard work with Redis, correct and otherwise.
//!
//! - [`single::SingleLock`]: `SET key token NX PX ttl`, released by a Lua compare-and-delete.
//! - [`naive::NaiveLock`]: the same acquire, released by plain `DEL` (the Redis docs warn
//!   against it; it exists so the checkers can prove they catch it).
//! - [`redlock::Redlock`]: the same acquire on N independent nodes, granted by a majority within
//!   the lease, with a max-of-majority fencing scheme (see [`redlock`] for what it guarantees).
//!
//! Every lock returns a [`Grant`] with a fencing token (see [`single`] for what the token does and
//! does not guarantee) and a validity end computed on the client's own [`Clock`].

pub mod naive;
pub mod redlock;
pub mod single;

use crate::clock::Clock;
use crate::outcome::CallError;
use checkers::Grant;
use std::time::Duration;

/// The key of lock `name` (hash-tagged: see [`LeaseConfig::name`]).
pub fn lock_key(name: &str) -> String {
    format!("fencepost:lock:{{{name}}}")
}

/// Lease parameters shared by every lock client.
#[derive(Debug, Clone)]
pub struct LeaseConfig {
    /// Name of the lock; keys are `fencepost:lock:{NAME}` and `fencepost:fence:{NAME}`, with the
    /// braces: a hash tag, so both keys live in one Redis Cluster slot (the acquire script
    /// touches both, and a cluster refuses a script whose keys span slots).
    pub name: String,
    pub ttl_ms: u64,
    /// Subtracted from the ttl when the client computes its validity end (clock drift margin).
    pub drift_ms: u64,
    /// Deadline for one call to a node; missing it makes the op `info`.
    pub op_timeout_ms: u64,
}

impl LeaseConfig {
    pub fn lock_key(&self) -> String {
        lock_key(&self.name)
    }
    pub fn fence_key(&self) -> String {
        format!("fencepost:fence:{{{}}}", self.name)
    }
    pub fn op_timeout(&self) -> Duration {
        Duration::from_millis(self.op_timeout_ms)
    }
    /// The validity end a client computes, on its own clock, for a grant requested at
    /// `start_client_ns` that took `elapsed_ns` to obtain: start + ttl − elapsed − drift.
    pub fn valid_until_client_ns(&self, start_client_ns: u64, elapsed_ns: u64) -> u64 {
        let ttl_ns = self.ttl_ms * 1_000_000;
        start_client_ns
            + ttl_ns
                .saturating_sub(self.drift_ms * 1_000_000)
                .saturating_sub(elapsed_ns)
    }

    /// Builds the grant record: the history stores the validity end in true time.
    pub fn grant(
        &self,
        clock: &Clock,
        fence: u64,
        token: String,
        valid_until_client_ns: u64,
    ) -> Acquired {
        Acquired::Granted {
            grant: Grant {
                fence,
                token,
                validity_end_ns: clock.to_true_ns(valid_until_client_ns),
            },
            valid_until_client_ns,
        }
    }
}

/// What an acquire returned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Acquired {
    Granted {
        grant: Grant,
        /// The validity end on the client's own clock (what its checks compare against).
        valid_until_client_ns: u64,
    },
    /// Someone else held the lock (an observation).
    Denied,
    /// The node granted it, but the lease had run out by the time the reply came: not used.
    Lapsed,
}

/// Deliberate flaws, to prove the blame checker catches a lock that gives answers no correct
/// lock may give. Never used by the scenarios that judge fencepost's own locks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flaw {
    /// Return a grant however long the acquire took (no time subtracted from the lease).
    NoElapsed,
    /// Extend by re-setting the key when it is gone (re-taking an expired lease).
    RetakeOnExtend,
}

/// What a release returned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Released {
    Released,
    /// The key was not ours (or gone): nothing deleted.
    NotHeld,
}

/// A lock client, dispatched by kind (typed, not by string).
pub enum LockClient {
    Single(single::SingleLock),
    Naive(naive::NaiveLock),
    Redlock(redlock::Redlock),
}

impl LockClient {
    pub async fn acquire(&mut self, clock: &Clock) -> Result<Acquired, CallError> {
        match self {
            LockClient::Single(l) => l.acquire(clock).await,
            LockClient::Naive(l) => l.acquire(clock).await,
            LockClient::Redlock(l) => l.acquire(clock).await,
        }
    }

    /// Extends the lease; the new validity end on the client's clock, or `None` when the key
    /// was no longer this grant's. Only the single-instance lock extends.
    pub async fn extend(&mut self, grant: &Grant, clock: &Clock) -> Result<Option<u64>, CallError> {
        match self {
            LockClient::Single(l) => l.extend(grant, clock).await,
            _ => Err(CallError::Refused("this lock does not extend".into())),
        }
    }

    pub async fn release(&mut self, grant: &Grant) -> Result<Released, CallError> {
        match self {
            LockClient::Single(l) => l.release(grant).await,
            LockClient::Naive(l) => l.release(grant).await,
            LockClient::Redlock(l) => l.release(grant).await,
        }
    }

    pub fn config(&self) -> &LeaseConfig {
        match self {
            LockClient::Single(l) => &l.config,
            LockClient::Naive(l) => &l.inner.config,
            LockClient::Redlock(l) => &l.config,
        }
    }
}

/// A random per-grant token (the value the lock key holds).
pub fn random_token(rng: &mut impl rand::Rng) -> String {
    format!("{:032x}", rng.random::<u128>())
}
