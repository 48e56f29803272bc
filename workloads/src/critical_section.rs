//! The lock workload: clients contend for one lock and, while holding it, increment the
//! protected counter by read–think–write.
//!
//! One client's loop: acquire (retrying after a random delay when denied or unsure); read the
//! counter under the grant's token; think; check the lease is still valid on its own clock; pass
//! the pause point (where a GC pause nemesis may stop it); write the counter back incremented;
//! release. Every call is recorded as invoke then ok / fail / info.

use crate::clock::Clock;
use crate::cycle::{self, LockCycle, WorkloadConfig};
use crate::lock::{Acquired, LockClient, Released};
use crate::outcome::CallError;
use crate::pause::PauseGate;
use crate::record::Record;
use crate::resource::{AccessResult, ResourceClient};
use checkers::{Grant, OpKind, Process, Value, F};
use rand_chacha::ChaCha8Rng;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;

/// Everything one client needs.
pub struct Client {
    pub id: u32,
    pub lock: LockClient,
    pub resource: ResourceClient,
    pub clock: Clock,
    pub rec: Arc<dyn Record>,
    pub gate: Arc<PauseGate>,
    pub rng: ChaCha8Rng,
    pub config: WorkloadConfig,
}

impl Client {
    fn process(&self) -> Process {
        Process::Client(self.id)
    }

    /// Runs until `stop` turns true; the critical section in progress is finished first.
    pub async fn run(mut self, stop: watch::Receiver<bool>) {
        cycle::run(&mut self, stop).await;
    }

    async fn acquire(&mut self) -> Option<(Grant, u64)> {
        let config = self.lock.config();
        let args = Value::Lease {
            key: config.lock_key(),
            ttl_ms: config.ttl_ms,
        };
        let p = self.rec.invoke(self.process(), F::Acquire, args);
        match self.lock.acquire(&self.clock).await {
            Ok(Acquired::Granted {
                grant,
                valid_until_client_ns,
            }) => {
                self.rec
                    .complete(p, OpKind::Ok, Value::Granted(grant.clone()));
                Some((grant, valid_until_client_ns))
            }
            Ok(Acquired::Denied) => {
                self.rec.complete(p, OpKind::Ok, Value::Denied);
                None
            }
            Ok(Acquired::Lapsed) => {
                self.rec.complete(p, OpKind::Ok, Value::Lapsed);
                None
            }
            Err(e) => {
                self.rec.complete(p, e.kind(), e.value());
                None
            }
        }
    }

    fn still_valid(&self, valid_until_client_ns: u64) -> bool {
        self.clock.client_ns() < valid_until_client_ns
    }

    async fn critical_section(&mut self, grant: &Grant, valid_until: u64) {
        if !self.still_valid(valid_until) {
            return;
        }
        let fence = Some(grant.fence);
        let p = self.rec.invoke(
            self.process(),
            F::Read,
            Value::Access { fence, write: None },
        );
        let read = self.resource.read(fence).await;
        let Some(current) = self.complete_access(p, read) else {
            return;
        };

        let think = self.config.think_ms(&mut self.rng);
        tokio::time::sleep(Duration::from_millis(think)).await;
        if !self.still_valid(valid_until) {
            return;
        }
        // Past the validity check: a pause here is how a client acts on an expired lease.
        self.gate
            .pause_point(self.process(), self.rec.as_ref())
            .await;

        let next = current + 1;
        let p = self.rec.invoke(
            self.process(),
            F::Write,
            Value::Access {
                fence,
                write: Some(next),
            },
        );
        let written = self.resource.write(fence, next).await;
        self.complete_access(p, written);
    }

    /// Records an access's completion; returns the value when it was accepted.
    fn complete_access(
        &self,
        p: crate::record::Pending,
        r: Result<AccessResult, CallError>,
    ) -> Option<i64> {
        match r {
            Ok(AccessResult::Accepted(v)) => {
                self.rec
                    .complete(p, OpKind::Ok, Value::Accepted { value: v });
                Some(v)
            }
            Ok(AccessResult::Rejected(highest)) => {
                self.rec
                    .complete(p, OpKind::Ok, Value::Rejected { highest });
                None
            }
            Err(e) => {
                self.rec.complete(p, e.kind(), e.value());
                None
            }
        }
    }

    async fn release(&mut self, grant: &Grant) {
        let args = Value::Held {
            key: self.lock.config().lock_key(),
            fence: grant.fence,
        };
        let p = self.rec.invoke(self.process(), F::Release, args);
        match self.lock.release(grant).await {
            Ok(Released::Released) => self.rec.complete(p, OpKind::Ok, Value::Released),
            Ok(Released::NotHeld) => self.rec.complete(p, OpKind::Ok, Value::NotHeld),
            Err(e) => self.rec.complete(p, e.kind(), e.value()),
        }
    }
}

impl LockCycle for Client {
    async fn acquire(&mut self) -> Option<(Grant, u64)> {
        Client::acquire(self).await
    }
    async fn work(&mut self, grant: &Grant, valid_until_client_ns: u64) {
        self.critical_section(grant, valid_until_client_ns).await;
    }
    async fn release(&mut self, grant: &Grant) {
        Client::release(self, grant).await;
    }
    fn pacing(&mut self) -> (&mut ChaCha8Rng, &WorkloadConfig) {
        (&mut self.rng, &self.config)
    }
}
