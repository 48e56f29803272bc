//! The cycle every lock-workload client repeats — in this process or driven through a client
//! process — whatever it does while it holds the lock:
//! acquire; on a grant, do the work and release, then idle; on a denial or an uncertain answer,
//! back off for a random delay. One loop for every workload, so they all pace alike and all stop
//! the same way (the cycle in progress is finished first; sleeps end at once on stop).

use checkers::Grant;
use rand::Rng;
use rand_chacha::ChaCha8Rng;
use std::time::Duration;
use tokio::sync::watch;

/// Timing of the cycle (all from the scenario).
#[derive(Debug, Clone)]
pub struct WorkloadConfig {
    /// Think time between read and write, drawn uniformly from 0..=think_ms_max.
    pub think_ms_max: u64,
    /// Delay before retrying a denied or uncertain acquire: uniform in [min, max].
    pub retry_ms_min: u64,
    pub retry_ms_max: u64,
    /// Pause between a release and the next acquire: uniform in 0..=idle_ms_max.
    pub idle_ms_max: u64,
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
        let delay_ms = match client.acquire().await {
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
        sleep_or_stop(delay_ms, &mut stop).await;
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
