//! Nemeses: the fault injectors, each driven by the run's seeded schedule.
//!
//! A nemesis is a task that sleeps until its next scheduled moment, injects a fault, records its
//! start and stop in the history, and heals everything it did before it returns — at the end of
//! the run and on Ctrl-C alike. One file per fault; [`spawn`] turns a scenario's `[[nemesis]]`
//! entry into its task.

pub mod gc_pause;

use crate::scenario::NemesisSpec;
use crate::topology::Topology;
use rand_chacha::ChaCha8Rng;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use workloads::pause::PauseGate;
use workloads::record::Record;

/// Fault ids pair each start with its stop; unique across all nemeses of a run.
#[derive(Debug, Default)]
pub struct FaultIds(AtomicU64);

impl FaultIds {
    pub fn next(&self) -> u64 {
        self.0.fetch_add(1, Ordering::Relaxed) + 1
    }
}

/// What a nemesis can reach.
#[derive(Clone)]
pub struct NemesisContext {
    pub rec: Arc<dyn Record>,
    pub ids: Arc<FaultIds>,
    /// Each client's pause gate, by client id.
    pub gates: Vec<Arc<PauseGate>>,
    pub topology: Arc<Topology>,
}

/// Starts the task for one `[[nemesis]]` entry.
pub fn spawn(
    spec: &NemesisSpec,
    ctx: NemesisContext,
    rng: ChaCha8Rng,
    stop: watch::Receiver<bool>,
) -> JoinHandle<()> {
    match spec {
        NemesisSpec::GcPause {
            start,
            every,
            pause,
        } => {
            let n = gc_pause::GcPause {
                start: *start,
                every: *every,
                pause: *pause,
                gates: ctx.gates.clone(),
                rng,
                ids: ctx.ids.clone(),
            };
            tokio::spawn(n.run(stop))
        }
    }
}
