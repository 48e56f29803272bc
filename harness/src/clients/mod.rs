//! Clients: the one place that builds every workload's clients from a scenario.
//!
//! Each workload kind is one file that builds its clients on the topology — [`lock`] (contend for
//! the lock and increment the protected resource), [`counter`] (`INCR`, and the lock-guarded
//! read-modify-write counter), [`limiter`] (fixed and sliding windows) and [`messaging`]
//! (Pub/Sub and Streams producers and receivers). Every client gets
//! its own RNG derived from the run's seed and its name ([`crate::seed`]), its own pause gate and
//! clock (what client-side faults act on), and reaches its nodes through its own proxy links.
//! A combination the clients cannot run was refused when the scenario loaded; nothing here
//! falls back to something else.

pub mod counter;
pub mod limiter;
pub mod lock;
pub mod messaging;
pub mod process;

use crate::handles::{ClientClock, ClientHandle};
use crate::recorder::Recorder;
use crate::scenario::workload::WorkloadKind;
use crate::scenario::Scenario;
use crate::topology::Topology;
use std::sync::Arc;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use workloads::clock::Clock;
use workloads::cycle::WorkloadConfig;
use workloads::lock::LeaseConfig;
use workloads::pause::PauseGate;
use workloads::record::Record;

type Start = Box<dyn FnOnce(watch::Receiver<bool>) -> JoinHandle<()> + Send>;

/// What every client builder gets.
pub struct Build<'a> {
    pub scenario: &'a Scenario,
    pub topology: &'a Arc<Topology>,
    pub run_seed: u64,
    pub rec: &'a Arc<dyn Record>,
    /// The same recorder, for clients that record calls with their own times.
    pub recorder: &'a Arc<Recorder>,
    /// The history's clock; each client gets an independent copy it can skew alone.
    pub clock: &'a Clock,
    pub run_dir: &'a std::path::Path,
    /// The client process adapter, when the scenario runs one.
    pub external: Option<&'a process::Plan>,
}

impl Build<'_> {
    /// A new in-process client's handle (its own pause gate and its own clock), and that clock.
    pub fn handle(&self) -> (ClientHandle, Clock) {
        let clock = self.clock.independent();
        let handle = ClientHandle {
            gate: Arc::new(PauseGate::default()),
            clock: ClientClock::InProcess(clock.clone()),
            process: None,
            crash_point: false,
            cycle: Default::default(),
            field: Default::default(),
        };
        (handle, clock)
    }

    /// The lease every lock client of the scenario asks for.
    pub fn lease(&self) -> LeaseConfig {
        let l = &self.scenario.lock;
        LeaseConfig {
            name: LOCK_NAME.into(),
            ttl_ms: l.ttl.ms(),
            drift_ms: l.drift.ms(),
            op_timeout_ms: l.op_timeout.ms(),
        }
    }

    /// How a lock-workload client paces itself, through the cycle hooks of its `handle` (where
    /// faults change its pacing).
    pub fn pacing(&self, handle: &ClientHandle) -> WorkloadConfig {
        let w = &self.scenario.workload;
        WorkloadConfig {
            think_ms_max: w.think_max.ms(),
            retry_ms_min: w.retry_min.ms(),
            retry_ms_max: w.retry_max.ms(),
            idle_ms_max: w.idle_max.ms(),
            hooks: handle.cycle.clone(),
        }
    }

    /// Client `id`'s RNG, derived from the run seed and its name.
    pub fn rng(&self, id: u32, part: &str) -> rand_chacha::ChaCha8Rng {
        crate::seed::rng(self.run_seed, &format!("client/{id}/{part}"))
    }
}

/// The clients of a run, built and not yet started.
#[derive(Default)]
pub struct Clients {
    starts: Vec<Start>,
    /// Each client as nemeses reach it, by client id.
    pub handles: Vec<ClientHandle>,
    /// What runs once after the clients stopped.
    finish: Option<Finish>,
    /// What a client process loaded (library, version, …), when clients are processes.
    pub info: Option<process::protocol::ClientInfo>,
}

impl Clients {
    fn add(&mut self, handle: ClientHandle, start: Start) {
        self.handles.push(handle);
        self.starts.push(start);
    }

    /// Starts every client.
    pub fn spawn(&mut self, stop: &watch::Receiver<bool>) -> Vec<JoinHandle<()>> {
        self.starts.drain(..).map(|s| s(stop.clone())).collect()
    }

    /// After the clients stopped: the counter's final read, or the stream's replay, as one more
    /// process.
    pub async fn finish(&self, b: &Build<'_>) -> anyhow::Result<()> {
        match &self.finish {
            Some(Finish::Counter(f)) => f.run(b).await,
            Some(Finish::StreamReplay) => messaging::replay(b).await,
            None => Ok(()),
        }
    }
}

/// One last read after the clients stopped.
enum Finish {
    /// The counter's value (counter workloads).
    Counter(counter::FinalRead),
    /// The whole stream (Streams workloads).
    StreamReplay,
}

/// Builds the scenario's clients.
pub async fn build(b: &Build<'_>) -> anyhow::Result<Clients> {
    if let Some(plan) = b.external {
        return process::build(b, plan).await;
    }
    match b.scenario.workload.kind {
        WorkloadKind::Lock => lock::build(b).await,
        WorkloadKind::Counter | WorkloadKind::RmwCounter => counter::build(b).await,
        WorkloadKind::FixedWindow | WorkloadKind::SlidingWindow => limiter::build(b).await,
        WorkloadKind::Pubsub | WorkloadKind::Stream => messaging::build(b).await,
    }
}

/// A client's reconnecting connection through its proxy link.
/// The lock every lock client of fencepost's own contends for.
pub const LOCK_NAME: &str = "guard";

/// The key a workload writes on the lock nodes (or the Redis Cluster): the lock's, or the
/// `INCR` counter's.
pub fn workload_key(kind: WorkloadKind) -> String {
    match kind {
        WorkloadKind::Counter => workloads::counter::INCR_KEY.to_string(),
        _ => workloads::lock::lock_key(LOCK_NAME),
    }
}
