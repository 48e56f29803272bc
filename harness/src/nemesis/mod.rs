//! Nemeses: the fault injectors, each driven by the run's seeded schedule.
//!
//! A nemesis is a task that sleeps until its next scheduled moment, injects a fault, records its
//! start and stop in the history, and heals everything it did before it returns — at the end of
//! the run and on Ctrl-C alike.

pub mod gc_pause;

use std::sync::atomic::{AtomicU64, Ordering};

/// Fault ids pair each start with its stop; unique across all nemeses of a run.
#[derive(Debug, Default)]
pub struct FaultIds(AtomicU64);

impl FaultIds {
    pub fn next(&self) -> u64 {
        self.0.fetch_add(1, Ordering::Relaxed) + 1
    }
}
