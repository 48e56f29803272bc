//! GC-pause nemesis: Kleppmann's first failure.
//!
//! At seeded moments it picks a client (seeded) and arms that client's pause gate; the client
//! stops dead at its next pause point while holding the lock — after its validity check, before
//! its write — for longer than its lease, then resumes and writes. The start and end are
//! recorded by the gate at the moments the pause really begins and ends.

use crate::duration::Dur;
use crate::nemesis::FaultIds;
use rand::Rng;
use rand_chacha::ChaCha8Rng;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;
use workloads::pause::PauseGate;

pub struct GcPause {
    pub start: Dur,
    pub every: Dur,
    pub pause: Dur,
    pub gates: Vec<Arc<PauseGate>>,
    pub rng: ChaCha8Rng,
    pub ids: Arc<FaultIds>,
}

impl GcPause {
    /// Runs the schedule until `stop`; then disarms pauses that never fired.
    pub async fn run(mut self, mut stop: watch::Receiver<bool>) {
        let mut wait = self.start.0;
        loop {
            tokio::select! {
                _ = tokio::time::sleep(wait) => {}
                _ = stop.wait_for(|s| *s) => break,
            }
            // Arm a client that has no pause pending (a pause still waiting for its client to
            // take the lock stays armed: it is the same fault, not a new one).
            let idle: Vec<usize> = (0..self.gates.len())
                .filter(|&i| !self.gates[i].is_armed())
                .collect();
            if !idle.is_empty() {
                let c = idle[self.rng.random_range(0..idle.len())];
                self.gates[c].arm(self.ids.next(), self.pause.0);
            }
            let every_ns = self.every.ns();
            wait = Duration::from_nanos(
                self.rng
                    .random_range(every_ns / 2..=every_ns + every_ns / 2),
            );
        }
        for g in &self.gates {
            g.disarm();
        }
    }
}
