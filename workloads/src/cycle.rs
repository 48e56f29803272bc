//! The cycle every lock-workload client repeats — in this process or driven through a client
//! process — whatever it does while it holds the lock:
//! acquire; on a grant, do the work and release, then idle; on a denial or an uncertain answer,
//! back off for a random delay. One loop for every workload, so they all pace alike and all stop
//! the same way (the cycle in progress is finished first; sleeps end at once on stop).
//!
//! Two faults reach into the cycle itself, through the [`CycleHooks`] a client shares with its
//! handle, so in-process clients and client processes honour them alike: a contention burst
//! (every delay of the cycle — think, retry, idle — drops to zero while it lasts) and a fault
//! aimed at the client's next acquire (it lands a set time after the call started, while the
//! call is still in flight, or learns that the call returned first).

use checkers::Grant;
use rand::Rng;
use rand_chacha::ChaCha8Rng;
use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::watch;

/// Timing of the cycle (all from the scenario), and the hooks faults reach it through.
#[derive(Debug, Clone)]
pub struct WorkloadConfig {
    /// Think time between read and write, drawn uniformly from 0..=think_ms_max.
    pub think_ms_max: u64,
    /// Delay before retrying a denied or uncertain acquire: uniform in [min, max].
    pub retry_ms_min: u64,
    pub retry_ms_max: u64,
    /// Pause between a release and the next acquire: uniform in 0..=idle_ms_max.
    pub idle_ms_max: u64,
    /// Shared with the client's handle: what faults change in this client's cycle.
    pub hooks: CycleHooks,
}

impl WorkloadConfig {
    /// One think time (ms), drawn from the seed; 0 during a contention burst (the draw is made
    /// all the same, so a burst does not shift the rest of the client's seeded draws).
    pub fn think_ms(&self, rng: &mut ChaCha8Rng) -> u64 {
        let think = rng.random_range(0..=self.think_ms_max);
        if self.hooks.bursting() {
            0
        } else {
            think
        }
    }
}

/// What a fault aimed at a client's next acquire learns when it lands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Landing {
    /// The acquire was still in flight `after` it started: the fault lands inside it.
    InFlight,
    /// The acquire returned first, after this long: the fault did not land.
    Returned(Duration),
}

/// A fault aimed at a client's next acquire.
pub struct Aim {
    /// How long after the acquire started the fault lands (sub-millisecond delays are waited
    /// for precisely, off the runtime's timer wheel).
    pub after: Duration,
    /// Called once, at the landing, on the client's own task (so what it does happens before
    /// the client sees the acquire's answer).
    pub land: Box<dyn FnOnce(Landing) + Send>,
}

/// What faults reach in a client's cycle: shared (cheap clones) between the client's pacing and
/// its handle, where nemeses set them.
#[derive(Clone, Default)]
pub struct CycleHooks {
    burst: Arc<AtomicBool>,
    aim: Arc<Mutex<Option<Aim>>>,
}

impl std::fmt::Debug for CycleHooks {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CycleHooks")
            .field("burst", &self.bursting())
            .field("aimed", &self.is_aimed())
            .finish()
    }
}

impl CycleHooks {
    /// Starts (true) or ends (false) a contention burst: no think, retry or idle delay while it
    /// lasts.
    pub fn set_burst(&self, on: bool) {
        self.burst.store(on, Ordering::SeqCst);
    }

    pub fn bursting(&self) -> bool {
        self.burst.load(Ordering::SeqCst)
    }

    fn slot(&self) -> std::sync::MutexGuard<'_, Option<Aim>> {
        self.aim.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Aims a fault at the client's next acquire (replacing one not yet taken).
    pub fn aim(&self, aim: Aim) {
        *self.slot() = Some(aim);
    }

    /// Whether a fault is aimed and not yet taken by an acquire.
    pub fn is_aimed(&self) -> bool {
        self.slot().is_some()
    }

    /// Takes back an aimed fault no acquire took (true), or finds it already taken (false).
    pub fn disarm(&self) -> bool {
        self.slot().take().is_some()
    }

    fn take_aim(&self) -> Option<Aim> {
        self.slot().take()
    }
}

/// What a client does in each step of the cycle.
#[allow(async_fn_in_trait)] // used with concrete types only: their futures' Send is known
pub trait LockCycle {
    /// The grant and the end of its validity on the client's clock, or None.
    async fn acquire(&mut self) -> Option<(Grant, u64)>;
    /// The work done under the grant (the client checks the validity itself).
    async fn work(&mut self, grant: &Grant, valid_until_client_ns: u64);
    async fn release(&mut self, grant: &Grant);
    /// The client's seeded RNG and its timing, for the idle and back-off delays.
    fn pacing(&mut self) -> (&mut ChaCha8Rng, &WorkloadConfig);
}

/// Runs the cycle until `stop` turns true.
pub async fn run<C: LockCycle>(client: &mut C, mut stop: watch::Receiver<bool>) {
    while !*stop.borrow() {
        let hooks = client.pacing().1.hooks.clone();
        let acquired = match hooks.take_aim() {
            Some(aim) => aimed(client.acquire(), aim).await,
            None => client.acquire().await,
        };
        let delay_ms = match acquired {
            Some((grant, valid_until)) => {
                client.work(&grant, valid_until).await;
                client.release(&grant).await;
                let (rng, c) = client.pacing();
                rng.random_range(0..=c.idle_ms_max)
            }
            None => {
                let (rng, c) = client.pacing();
                rng.random_range(c.retry_ms_min..=c.retry_ms_max)
            }
        };
        // A burst hammers the lock: the delay is drawn (the seeded sequence stays the same) but
        // not slept; the task still yields, so a call that fails at once cannot hog its thread.
        if hooks.bursting() {
            tokio::task::yield_now().await;
        } else {
            sleep_or_stop(delay_ms, &mut stop).await;
        }
    }
}

/// Runs `call` (polled first, so it has been sent before anything lands) and lands `aim` inside
/// it once `aim.after` has passed — or tells it the call returned first.
async fn aimed<T>(call: impl Future<Output = T>, aim: Aim) -> T {
    let started = Instant::now();
    let mut call = std::pin::pin!(call);
    let land = aim.land;
    tokio::select! {
        biased;
        r = &mut call => {
            land(Landing::Returned(started.elapsed()));
            r
        }
        _ = precise_sleep(aim.after) => {
            land(Landing::InFlight);
            call.await
        }
    }
}

/// Sleeps `d`; below 2 ms by yielding until it has passed (the runtime's timers tick in whole
/// milliseconds, too coarse to land inside a call that takes a fraction of one; the task is
/// polled again at once, and so is the call it races, so the landing is exact to a few µs).
async fn precise_sleep(d: Duration) {
    if d >= Duration::from_millis(2) {
        return tokio::time::sleep(d).await;
    }
    let until = Instant::now() + d;
    while Instant::now() < until {
        tokio::task::yield_now().await;
    }
}

/// Resolves once `stop` turns true (its guard released: usable in a `select!` whose branches
/// await).
pub async fn stopped(stop: &mut watch::Receiver<bool>) {
    let _ = stop.wait_for(|s| *s).await;
}

/// Sleeps `ms`, or less if `stop` turns true first.
pub async fn sleep_or_stop(ms: u64, stop: &mut watch::Receiver<bool>) {
    tokio::select! {
        _ = tokio::time::sleep(Duration::from_millis(ms)) => {}
        _ = stop.wait_for(|s| *s) => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::mpsc;

    fn aim_at(after: Duration) -> (Aim, mpsc::Receiver<Landing>) {
        let (tx, rx) = mpsc::channel();
        let aim = Aim {
            after,
            land: Box::new(move |l| tx.send(l).unwrap()),
        };
        (aim, rx)
    }

    #[tokio::test]
    async fn an_aimed_fault_lands_inside_a_slow_call_and_misses_a_fast_one() {
        let (aim, rx) = aim_at(Duration::from_micros(300));
        let r = aimed(
            async {
                tokio::time::sleep(Duration::from_millis(20)).await;
                7
            },
            aim,
        )
        .await;
        assert_eq!((r, rx.recv().unwrap()), (7, Landing::InFlight));
        let (aim, rx) = aim_at(Duration::from_millis(50));
        assert_eq!(aimed(async { 8 }, aim).await, 8);
        assert!(matches!(rx.recv().unwrap(), Landing::Returned(_)));
    }

    #[test]
    fn a_burst_zeroes_the_think_time_but_keeps_the_draws() {
        use rand::SeedableRng;
        let config = WorkloadConfig {
            think_ms_max: 50,
            retry_ms_min: 1,
            retry_ms_max: 2,
            idle_ms_max: 3,
            hooks: CycleHooks::default(),
        };
        let mut a = ChaCha8Rng::seed_from_u64(1);
        let mut b = ChaCha8Rng::seed_from_u64(1);
        config.hooks.set_burst(true);
        assert_eq!(config.think_ms(&mut a), 0);
        config.hooks.set_burst(false);
        let _ = b.random_range(0..=50u64);
        assert_eq!(config.think_ms(&mut a), config.think_ms(&mut b));
    }
}
