//! The client's pause point: where client-side faults strike a lock holder.
//!
//! Every critical section passes one pause point while the client holds a lease: after its last
//! validity check, before its write. A nemesis arms a client's gate with one of two actions:
//!
//! - **pause** (Kleppmann's stop-the-world GC pause): the client stops dead — no I/O, no clock
//!   checks — for the armed duration, then resumes as if nothing happened. Start and end are
//!   recorded as nemesis ops at the moments they really happen.
//! - **rendezvous**: the client hands the nemesis a "go" channel and waits until the nemesis
//!   has set its fault up (say, a delay on this client's link to the resource, so that the write
//!   about to be sent arrives after the lease has ended). Workloads need not know what the fault
//!   is; the nemesis records it.
//! - **crash**: the client dies at the pause point as a killed process would (a Streams consumer
//!   between reading entries and acknowledging them): the pause point records the fault's start
//!   and answers [`Fired::Crash`]; the client drops its connection and state and comes back as a
//!   fresh one under a new process id, and records the fault's stop then.

use crate::record::Record;
use checkers::{Fault, Process, F};
use std::sync::Mutex;
use std::time::Duration;
use tokio::sync::oneshot;

/// What fires at the pause point.
#[derive(Debug)]
enum Armed {
    Pause {
        id: u64,
        duration: Duration,
    },
    Rendezvous {
        arrived: oneshot::Sender<oneshot::Sender<()>>,
    },
    Crash {
        id: u64,
    },
}

/// What the pause point did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fired {
    /// Nothing, a pause or a rendezvous: the client goes on.
    GoOn,
    /// The client must die here; its fault's start is recorded, the stop is the client's to record
    /// once a fresh one took its place.
    Crash(Fault),
}

#[derive(Debug, Default)]
pub struct PauseGate {
    armed: Mutex<Option<Armed>>,
}

impl PauseGate {
    fn slot(&self) -> std::sync::MutexGuard<'_, Option<Armed>> {
        self.armed.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Arms a pause; it fires at the client's next pause point.
    pub fn arm(&self, id: u64, duration: Duration) {
        *self.slot() = Some(Armed::Pause { id, duration });
    }

    /// Arms a crash; it fires at the client's next pause point.
    pub fn arm_crash(&self, id: u64) {
        *self.slot() = Some(Armed::Crash { id });
    }

    /// Arms a rendezvous: the returned receiver yields, when the client reaches its pause point,
    /// a sender the nemesis fires (or drops) to let the client go on.
    pub fn arm_rendezvous(&self) -> oneshot::Receiver<oneshot::Sender<()>> {
        let (arrived, rx) = oneshot::channel();
        *self.slot() = Some(Armed::Rendezvous { arrived });
        rx
    }

    /// Arms a rendezvous and waits for the client to reach its pause point: the sender that lets
    /// it go on, or `None` when the run stopped first (the gate is disarmed then) or the client
    /// went away.
    pub async fn rendezvous(
        &self,
        stop: &mut tokio::sync::watch::Receiver<bool>,
    ) -> Option<oneshot::Sender<()>> {
        let arrived = self.arm_rendezvous();
        tokio::select! {
            go = arrived => go.ok(),
            _ = stop.wait_for(|s| *s) => {
                self.disarm();
                None
            }
        }
    }

    pub fn is_armed(&self) -> bool {
        self.slot().is_some()
    }

    /// Disarms whatever never fired (end of run).
    pub fn disarm(&self) {
        self.slot().take();
    }

    /// The pause point.
    pub async fn pause_point(&self, process: Process, rec: &dyn Record) -> Fired {
        self.pause_point_with(process, rec, &|_| {}).await
    }

    /// The pause point of a client that runs elsewhere: `stop(true)` when a pause begins (a
    /// client process is stopped whole, its renewal threads too), `stop(false)` when it ends.
    pub async fn pause_point_with(
        &self,
        process: Process,
        rec: &dyn Record,
        stop: &(dyn Fn(bool) + Sync),
    ) -> Fired {
        let armed = self.slot().take();
        match armed {
            None => {}
            Some(Armed::Pause { id, duration }) => {
                let fault = Fault {
                    kind: "gc-pause".into(),
                    target: process.to_string(),
                    id,
                    detail: format!("pause {} ms", duration.as_millis()),
                    frozen: None,
                    bends: None,
                };
                stop(true);
                rec.nemesis(F::Start, fault.clone());
                tokio::time::sleep(duration).await;
                stop(false);
                rec.nemesis(F::Stop, fault);
            }
            Some(Armed::Rendezvous { arrived }) => {
                let (go_tx, go_rx) = oneshot::channel();
                if arrived.send(go_tx).is_ok() {
                    // Fired or dropped by the nemesis: either way, go on.
                    let _ = go_rx.await;
                }
            }
            Some(Armed::Crash { id }) => {
                let fault = Fault {
                    kind: "consumer-crash".into(),
                    target: process.to_string(),
                    id,
                    detail: "killed between read and acknowledgement".into(),
                    frozen: None,
                    bends: None,
                };
                rec.nemesis(F::Start, fault.clone());
                return Fired::Crash(fault);
            }
        }
        Fired::GoOn
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use checkers::{Nanos, OpKind, Value};
    use std::sync::atomic::{AtomicUsize, Ordering};

    #[derive(Default)]
    struct Count(AtomicUsize);
    impl Record for Count {
        fn invoke(&self, process: Process, f: F, _: Value) -> crate::record::Pending {
            crate::record::Pending {
                process,
                f,
                invoke_ns: 0,
            }
        }
        fn complete(&self, _: crate::record::Pending, _: OpKind, _: Value) {}
        fn nemesis(&self, _: F, _: Fault) {
            self.0.fetch_add(1, Ordering::Relaxed);
        }
        fn nemesis_failed(&self, _: Fault) {}
        fn now_ns(&self) -> Nanos {
            0
        }
    }

    #[tokio::test]
    async fn pause_records_start_and_stop_and_fires_once() {
        let gate = PauseGate::default();
        let rec = Count::default();
        gate.arm(1, Duration::from_millis(5));
        gate.pause_point(Process::Client(0), &rec).await;
        gate.pause_point(Process::Client(0), &rec).await;
        assert_eq!(rec.0.load(Ordering::Relaxed), 2);
        assert!(!gate.is_armed());
    }

    #[tokio::test]
    async fn rendezvous_waits_for_the_nemesis() {
        let gate = std::sync::Arc::new(PauseGate::default());
        let arrived = gate.arm_rendezvous();
        let g = gate.clone();
        let client =
            tokio::spawn(async move { g.pause_point(Process::Client(0), &Count::default()).await });
        let go = arrived.await.unwrap();
        tokio::time::sleep(Duration::from_millis(5)).await;
        assert!(!client.is_finished(), "the client must wait for go");
        go.send(()).unwrap();
        client.await.unwrap();
    }
}
