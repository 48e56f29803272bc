//! Counter workloads: the counters analytics and inventories rely on.
//!
//! - [`IncrClient`]: `INCR` on the primary, with occasional `GET`s. Each `INCR` is an `add`
//!   (invoked with `Int(1)`, `ok` with the value `INCR` returned); each `GET` a `read`. Under
//!   Sentinel failover, acknowledged `INCR`s that had not reached the replica are lost.
//! - [`RmwClient`]: the read-modify-write counter teams guard with a lock — acquire, `GET`, think,
//!   `SET value+1`, release. The whole GET…SET is one `add` (`ok` with the value written), and the
//!   acquire and release are recorded too, so the mutual-exclusion checker sees the grants and the
//!   counter checker sees the increments two overlapping holders overwrote.
//!
//! After the clients stop, [`final_read`] reads the counter once more (`final`): with nothing
//! indeterminate it must equal the acknowledged count.

use crate::clock::Clock;
use crate::conn::Conn;
use crate::cycle::{self, sleep_or_stop, LockCycle};
use crate::lock::{Acquired, LockClient, Released};
use crate::outcome::{with_timeout, CallError};
use crate::pause::PauseGate;
use crate::primary::Primary;
use crate::record::Record;
use checkers::{Grant, OpKind, Process, Value, F};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;

/// The `INCR` counter's key.
pub const INCR_KEY: &str = "fencepost:counter:incr";
/// The read-modify-write counter's key (on the storage node).
pub const RMW_KEY: &str = "fencepost:counter:rmw";

/// Timing of a counter client.
#[derive(Debug, Clone)]
pub struct CounterConfig {
    /// Pause between ops: uniform in 0..=think_ms_max.
    pub think_ms_max: u64,
    /// One op in `read_one_in` is a read (the rest are increments); 0 = never read.
    pub read_one_in: u32,
    pub op_timeout: Duration,
}

/// An `INCR` counter client.
pub struct IncrClient {
    pub id: u32,
    pub primary: Primary,
    pub rec: Arc<dyn Record>,
    pub rng: ChaCha8Rng,
    pub config: CounterConfig,
    /// After each `INCR`, `WAIT` for replicas: an increment they did not acknowledge in time is
    /// `info` (the primary applied it; a failover may lose it), not `ok`.
    pub wait: Option<WaitReplicas>,
}

impl IncrClient {
    pub async fn run(mut self, mut stop: watch::Receiver<bool>) {
        let process = Process::Client(self.id);
        while !*stop.borrow() {
            let read = self.config.read_one_in > 0
                && self.rng.random_range(0..self.config.read_one_in) == 0;
            if read {
                let p = self.rec.invoke(process, F::Read, Value::None);
                match self.call(redis::cmd("GET").arg(INCR_KEY).clone()).await {
                    Ok(v) => self.rec.complete(p, OpKind::Ok, Value::Int(v.unwrap_or(0))),
                    Err(e) => self.rec.complete(p, e.kind(), e.value()),
                }
            } else {
                let p = self.rec.invoke(process, F::Add, Value::Int(1));
                match self.call(redis::cmd("INCR").arg(INCR_KEY).clone()).await {
                    Ok(v) => {
                        let value = Value::Int(v.unwrap_or(0));
                        let kind = match self.wait {
                            Some(w) => match self.wait_replicas(w).await {
                                Ok(n) if w.met_by(n) => OpKind::Ok,
                                _ => OpKind::Info,
                            },
                            None => OpKind::Ok,
                        };
                        self.rec.complete(p, kind, value)
                    }
                    Err(e) => self.rec.complete(p, e.kind(), e.value()),
                }
            }
            let think = self.rng.random_range(0..=self.config.think_ms_max);
            sleep_or_stop(think, &mut stop).await;
        }
    }

    async fn wait_replicas(&mut self, w: WaitReplicas) -> Result<i64, CallError> {
        let r = match self.primary.conn().await {
            Ok(conn) => w.on(conn, INCR_KEY, self.config.op_timeout).await,
            Err(e) => Err(e),
        };
        if let Err(e) = &r {
            self.primary.saw(e);
        }
        r
    }

    async fn call(&mut self, cmd: redis::Cmd) -> Result<Option<i64>, CallError> {
        let timeout = self.config.op_timeout;
        let r = match self.primary.conn().await {
            Ok(conn) => with_timeout(timeout, cmd.query_async(conn)).await,
            Err(e) => Err(e),
        };
        if let Err(e) = &r {
            self.primary.saw(e);
        }
        r
    }
}

/// Builds a lock client on a connection to the (current) lock node.
pub type MakeLock = Box<dyn Fn(Conn, ChaCha8Rng) -> LockClient + Send + Sync>;

/// After the grant, wait for replicas before acting (`WAIT numreplicas timeout`).
#[derive(Debug, Clone, Copy)]
pub struct WaitReplicas {
    pub replicas: u32,
    pub timeout_ms: u64,
}

impl WaitReplicas {
    /// `WAIT` on the node holding `key`, within its own timeout plus the call's: how many
    /// replicas acknowledged.
    async fn on(self, conn: &mut Conn, key: &str, op_timeout: Duration) -> Result<i64, CallError> {
        with_timeout(
            op_timeout + Duration::from_millis(self.timeout_ms),
            crate::conn::wait_replicas(conn, key, self.replicas, self.timeout_ms),
        )
        .await
    }

    /// Whether `acknowledged` replicas are enough.
    fn met_by(self, acknowledged: i64) -> bool {
        acknowledged >= self.replicas as i64
    }
}

/// A lock-protected read-modify-write counter client.
pub struct RmwClient {
    pub id: u32,
    /// Where the lock lives (a fixed node, or the primary Sentinel names).
    pub lock_node: Primary,
    pub make_lock: MakeLock,
    /// The counter's storage node.
    pub storage: Conn,
    pub clock: Clock,
    pub rec: Arc<dyn Record>,
    pub gate: Arc<PauseGate>,
    pub rng: ChaCha8Rng,
    pub config: crate::cycle::WorkloadConfig,
    pub op_timeout: Duration,
    pub wait: Option<WaitReplicas>,
    lock: Option<(Option<String>, LockClient)>,
}

impl RmwClient {
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        id: u32,
        lock_node: Primary,
        make_lock: MakeLock,
        storage: Conn,
        clock: Clock,
        rec: Arc<dyn Record>,
        gate: Arc<PauseGate>,
        rng: ChaCha8Rng,
        config: crate::cycle::WorkloadConfig,
        op_timeout: Duration,
        wait: Option<WaitReplicas>,
    ) -> Self {
        RmwClient {
            id,
            lock_node,
            make_lock,
            storage,
            clock,
            rec,
            gate,
            rng,
            config,
            op_timeout,
            wait,
            lock: None,
        }
    }

    fn process(&self) -> Process {
        Process::Client(self.id)
    }

    pub async fn run(mut self, stop: watch::Receiver<bool>) {
        cycle::run(&mut self, stop).await;
    }

    /// The lock client on the current lock node, rebuilt when Sentinel names another node.
    async fn lock(&mut self) -> Result<&mut LockClient, CallError> {
        let conn = self.lock_node.conn().await?.clone();
        let addr = self.lock_node.addr().map(str::to_string);
        if self.lock.as_ref().map(|l| &l.0) != Some(&addr) {
            let rng = ChaCha8Rng::seed_from_u64(self.rng.random());
            self.lock = Some((addr, (self.make_lock)(conn, rng)));
        }
        Ok(&mut self.lock.as_mut().expect("just set").1)
    }

    async fn acquire(&mut self) -> Option<(Grant, u64)> {
        let (key, ttl_ms) = {
            let c = match self.lock.as_ref() {
                Some((_, l)) => l.config().clone(),
                None => match self.lock().await {
                    Ok(l) => l.config().clone(),
                    Err(e) => {
                        self.lock_node.saw(&e);
                        return None;
                    }
                },
            };
            (c.lock_key(), c.ttl_ms)
        };
        let p = self
            .rec
            .invoke(self.process(), F::Acquire, Value::Lease { key, ttl_ms });
        let clock = self.clock.clone();
        let r = match self.lock().await {
            Ok(l) => l.acquire(&clock).await,
            Err(e) => Err(e),
        };
        let r = match (r, self.wait) {
            (
                Ok(Acquired::Granted {
                    grant,
                    valid_until_client_ns,
                }),
                Some(w),
            ) => {
                // Part of the acquire: the client acts only on a grant its replicas have.
                match self.wait_replicas(w).await {
                    Ok(n) if w.met_by(n) => Ok((
                        Acquired::Granted {
                            grant,
                            valid_until_client_ns,
                        },
                        true,
                    )),
                    Ok(_) => Ok((
                        Acquired::Granted {
                            grant,
                            valid_until_client_ns,
                        },
                        false,
                    )),
                    Err(e) => Err(e),
                }
            }
            (r, _) => r.map(|a| (a, true)),
        };
        match r {
            Ok((
                Acquired::Granted {
                    grant,
                    valid_until_client_ns,
                },
                durable,
            )) => {
                self.rec
                    .complete(p, OpKind::Ok, Value::Granted(grant.clone()));
                if durable {
                    Some((grant, valid_until_client_ns))
                } else {
                    // Not replicated in time: give it back without acting on it.
                    self.release(&grant).await;
                    None
                }
            }
            Ok((Acquired::Denied, _)) => {
                self.rec.complete(p, OpKind::Ok, Value::Denied);
                None
            }
            Ok((Acquired::Lapsed, _)) => {
                self.rec.complete(p, OpKind::Ok, Value::Lapsed);
                None
            }
            Err(e) => {
                self.lock_node.saw(&e);
                self.rec.complete(p, e.kind(), e.value());
                None
            }
        }
    }

    fn lease_key(&self) -> String {
        self.lock
            .as_ref()
            .map(|(_, l)| l.config().lock_key())
            .unwrap_or_default()
    }

    async fn wait_replicas(&mut self, w: WaitReplicas) -> Result<i64, CallError> {
        let key = self.lease_key();
        let timeout = self.op_timeout;
        w.on(self.lock_node.conn().await?, &key, timeout).await
    }

    fn still_valid(&self, valid_until_client_ns: u64) -> bool {
        self.clock.client_ns() < valid_until_client_ns
    }

    /// GET, think, SET value+1: one `add`.
    async fn increment(&mut self, valid_until: u64) {
        if !self.still_valid(valid_until) {
            return;
        }
        let p = self.rec.invoke(self.process(), F::Add, Value::Int(1));
        let read: Result<Option<i64>, CallError> = with_timeout(
            self.op_timeout,
            redis::cmd("GET")
                .arg(RMW_KEY)
                .query_async(&mut self.storage),
        )
        .await;
        let current = match read {
            Ok(v) => v.unwrap_or(0),
            Err(e) => {
                // Nothing written yet: a failed or lost GET is a failed add.
                self.rec.complete(p, OpKind::Fail, e.value());
                return;
            }
        };
        let think = self.config.think_ms(&mut self.rng);
        tokio::time::sleep(Duration::from_millis(think)).await;
        if !self.still_valid(valid_until) {
            self.rec.complete(
                p,
                OpKind::Fail,
                Value::Error("lease ran out before the write; nothing written".into()),
            );
            return;
        }
        self.gate
            .pause_point(self.process(), self.rec.as_ref())
            .await;
        let next = current + 1;
        let written: Result<(), CallError> = with_timeout(
            self.op_timeout,
            redis::cmd("SET")
                .arg(RMW_KEY)
                .arg(next)
                .query_async(&mut self.storage),
        )
        .await;
        match written {
            Ok(()) => self.rec.complete(p, OpKind::Ok, Value::Int(next)),
            Err(e) => self.rec.complete(p, e.kind(), e.value()),
        }
    }

    async fn release(&mut self, grant: &Grant) {
        let key = match self.lock.as_ref() {
            Some((_, l)) => l.config().lock_key(),
            None => return,
        };
        let args = Value::Held {
            key,
            fence: grant.fence,
        };
        let p = self.rec.invoke(self.process(), F::Release, args);
        let r = match self.lock().await {
            Ok(l) => l.release(grant).await,
            Err(e) => Err(e),
        };
        match r {
            Ok(Released::Released) => self.rec.complete(p, OpKind::Ok, Value::Released),
            Ok(Released::NotHeld) => self.rec.complete(p, OpKind::Ok, Value::NotHeld),
            Err(e) => {
                self.lock_node.saw(&e);
                self.rec.complete(p, e.kind(), e.value());
            }
        }
    }
}

/// Reads the counter once more after every client stopped, as `process`, recorded `final`.
pub async fn final_read(
    conn: &mut (impl redis::aio::ConnectionLike + Send),
    key: &str,
    rec: &dyn Record,
    process: Process,
) {
    let p = rec.invoke(process, F::Final, Value::None);
    let r: Result<Option<i64>, CallError> = with_timeout(
        Duration::from_secs(5),
        redis::cmd("GET").arg(key).query_async(conn),
    )
    .await;
    match r {
        Ok(v) => rec.complete(p, OpKind::Ok, Value::Int(v.unwrap_or(0))),
        Err(e) => rec.complete(p, e.kind(), e.value()),
    }
}

impl LockCycle for RmwClient {
    async fn acquire(&mut self) -> Option<(Grant, u64)> {
        RmwClient::acquire(self).await
    }
    async fn work(&mut self, _grant: &Grant, valid_until_client_ns: u64) {
        self.increment(valid_until_client_ns).await;
    }
    async fn release(&mut self, grant: &Grant) {
        RmwClient::release(self, grant).await;
    }
    fn pacing(&mut self) -> (&mut ChaCha8Rng, &crate::cycle::WorkloadConfig) {
        (&mut self.rng, &self.config)
    }
}
