//! GC-pause nemesis: Kleppmann's first failure.
//!
//! At seeded moments it picks a client (seeded) and arms that client's pause gate; the client
//! stops dead at its next pause point while holding the lock — after its validity check, before
//! its write — for longer than its lease, then resumes and writes. The start and end are
//! recorded by the gate at the moments the pause really begins and ends.

use super::schedule::Schedule;
use crate::duration::Dur;
use crate::nemesis::NemesisContext;
use rand::Rng;
use rand_chacha::ChaCha8Rng;
use tokio::sync::watch;

pub struct GcPause {
    pub schedule: Schedule,
    pub pause: Dur,
}

impl GcPause {
    /// Runs the schedule until `stop`; then disarms pauses that never fired.
    pub async fn run(
        mut self,
        ctx: NemesisContext,
        mut rng: ChaCha8Rng,
        mut stop: watch::Receiver<bool>,
    ) {
        while self.schedule.wait(&mut rng, &mut stop).await {
            // Arm a client that has no pause pending (a pause still waiting for its client to
            // take the lock stays armed: it is the same fault, not a new one).
            let idle: Vec<usize> = (0..ctx.gates.len())
                .filter(|&i| !ctx.gates[i].is_armed())
                .collect();
            if !idle.is_empty() {
                let c = idle[rng.random_range(0..idle.len())];
                ctx.gates[c].arm(ctx.ids.next(), self.pause.0);
            }
        }
        for g in &ctx.gates {
            g.disarm();
        }
    }
}
