//! The client pause hook: Kleppmann's stop-the-world GC pause.
//!
//! The nemesis arms a client's gate; the next time that client passes its pause point while it
//! holds a lease (after its validity check, before its write), it stops dead — no I/O, no clock
//! checks — for the armed duration, then resumes as if nothing happened. The pause's start and
//! end are recorded as nemesis ops at the moments they really happen.

use crate::record::Record;
use checkers::{Fault, Process, F};
use std::sync::Mutex;
use std::time::Duration;

#[derive(Debug, Clone, Copy)]
struct Armed {
    id: u64,
    duration: Duration,
}

#[derive(Debug, Default)]
pub struct PauseGate {
    armed: Mutex<Option<Armed>>,
}

impl PauseGate {
    /// Arms a pause; it fires at the client's next pause point.
    pub fn arm(&self, id: u64, duration: Duration) {
        *self.armed.lock().expect("pause gate poisoned") = Some(Armed { id, duration });
    }

    pub fn is_armed(&self) -> bool {
        self.armed.lock().expect("pause gate poisoned").is_some()
    }

    /// Disarms a pause that never fired (end of run).
    pub fn disarm(&self) {
        self.armed.lock().expect("pause gate poisoned").take();
    }

    /// The pause point: stops the client if a pause is armed.
    pub async fn pause_point(&self, process: Process, rec: &dyn Record) {
        let armed = self.armed.lock().expect("pause gate poisoned").take();
        let Some(Armed { id, duration }) = armed else {
            return;
        };
        let fault = Fault {
            kind: "gc-pause".into(),
            target: process.to_string(),
            id,
            detail: format!("pause {} ms", duration.as_millis()),
        };
        rec.nemesis(F::Start, fault.clone());
        tokio::time::sleep(duration).await;
        rec.nemesis(F::Stop, fault);
    }
}
