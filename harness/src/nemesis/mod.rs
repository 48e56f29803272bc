//! Nemeses: the fault injectors, each driven by the run's seeded schedule.
//!
//! A nemesis is a task that sleeps until its next scheduled moment, injects a fault, records its
//! start and stop in the history, and heals everything it did before it returns — at the end of
//! the run and on Ctrl-C alike. One file per fault; [`spawn`] turns a scenario's `[[nemesis]]`
//! entry into its task.

pub mod clock;
pub mod crash;
pub mod cut_links;
pub mod delayed_write;
pub mod failover;
pub mod gc_pause;
pub mod latency;
pub mod links;
pub mod node_pause;
pub mod nodes;
pub mod partition;
pub mod reset;
pub mod schedule;

use crate::scenario::NemesisSpec;
use crate::topology::Topology;
use delayed_write::DelayedWrite;
use gc_pause::GcPause;
use latency::Latency;
use partition::Partition;
use rand_chacha::ChaCha8Rng;
use reset::Reset;
use schedule::Schedule;
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
    /// Each client's own clock (what its validity arithmetic reads), by client id.
    pub clocks: Vec<workloads::clock::Clock>,
}

/// Starts the task for one `[[nemesis]]` entry.
pub fn spawn(
    spec: &NemesisSpec,
    ctx: NemesisContext,
    rng: ChaCha8Rng,
    stop: watch::Receiver<bool>,
) -> JoinHandle<()> {
    let (start, every) = spec.schedule();
    let schedule = Schedule::new(start, every);
    match *spec {
        NemesisSpec::NodePause { target, pause, .. } => tokio::spawn(
            node_pause::NodePause {
                schedule,
                target,
                pause,
            }
            .run(ctx, rng, stop),
        ),
        NemesisSpec::Clock {
            target,
            client,
            fault,
            offset,
            period,
            rate,
            hold,
            ..
        } => tokio::spawn(
            clock::ClockNemesis {
                schedule,
                target,
                client,
                fault,
                offset,
                period,
                rate,
                hold,
            }
            .run(ctx, rng, stop),
        ),
        NemesisSpec::Crash {
            target,
            restart_delay,
            ..
        } => tokio::spawn(
            crash::Crash {
                schedule,
                target,
                restart_delay,
            }
            .run(ctx, rng, stop),
        ),
        NemesisSpec::CutLinks { start, ref links } => tokio::spawn(
            cut_links::CutLinks {
                start,
                links: links.clone(),
            }
            .run(ctx, stop),
        ),
        NemesisSpec::GcPause { pause, .. } => {
            tokio::spawn(GcPause { schedule, pause }.run(ctx, rng, stop))
        }
        NemesisSpec::Partition {
            duration,
            shape,
            resource,
            ..
        } => tokio::spawn(
            Partition {
                schedule,
                shape,
                duration,
                resource,
            }
            .run(ctx, rng, stop),
        ),
        NemesisSpec::Latency {
            duration,
            latency,
            jitter,
            links,
            clients,
            ..
        } => tokio::spawn(
            Latency {
                schedule,
                duration,
                latency,
                jitter,
                links,
                clients,
            }
            .run(ctx, rng, stop),
        ),
        NemesisSpec::ResetPeer {
            hold,
            links,
            clients,
            ..
        } => tokio::spawn(
            Reset {
                schedule,
                hold,
                links,
                clients,
            }
            .run(ctx, rng, stop),
        ),
        NemesisSpec::DelayedWrite { delay, .. } => {
            tokio::spawn(DelayedWrite { schedule, delay }.run(ctx, rng, stop))
        }
        NemesisSpec::Failover {
            repl_delay,
            lead,
            pause,
            hold_holder,
            ..
        } => tokio::spawn(
            failover::Failover {
                schedule,
                repl_delay,
                lead,
                pause,
                hold_holder,
            }
            .run(ctx, rng, stop),
        ),
    }
}
