//! The naive lock: the single-instance acquire, released by plain `DEL`.
//!
//! The Redis docs warn against this release: a client whose lease expired (a pause, a slow
//! network) deletes whatever key is there now — the next holder's lock — and lets a third client
//! in. It exists so the checkers can prove they catch exactly that.

use super::{single::SingleLock, Acquired, Released};
use crate::clock::Clock;
use crate::conn::Conn;
use crate::outcome::{with_timeout, CallError};
use checkers::Grant;

pub struct NaiveLock {
    pub inner: SingleLock,
    conn: Conn,
}

impl NaiveLock {
    pub fn new(inner: SingleLock, conn: Conn) -> Self {
        NaiveLock { inner, conn }
    }

    pub async fn acquire(&mut self, clock: &Clock) -> Result<Acquired, CallError> {
        self.inner.acquire(clock).await
    }

    pub async fn release(&mut self, _grant: &Grant) -> Result<Released, CallError> {
        let key = self.inner.config.lock_key();
        let deleted: i64 = with_timeout(
            self.inner.config.op_timeout(),
            redis::cmd("DEL").arg(key).query_async(&mut self.conn),
        )
        .await?;
        Ok(if deleted == 1 {
            Released::Released
        } else {
            Released::NotHeld
        })
    }
}
