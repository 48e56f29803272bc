//! The one schedule driver every nemesis runs on.
//!
//! A nemesis fires first at `start`, then — if it recurs — every `every` on average (each gap
//! drawn uniformly from 0.5×..1.5×, from the nemesis's own seeded RNG), until the run stops; then
//! its [`Nemesis::finish`] undoes whatever is still armed. A firing is one
//! [`Nemesis::fire`]: the plug-in injects, records, holds and heals; the driver only decides
//! when.

use super::{Nemesis, NemesisContext};
use crate::duration::Dur;
use rand::Rng;
use rand_chacha::ChaCha8Rng;
use std::time::{Duration, Instant};
use tokio::sync::watch;

/// When a nemesis fires.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Schedule {
    pub start: Dur,
    /// `None`: once, at `start`.
    pub every: Option<Dur>,
}

impl Schedule {
    pub fn recurring(start: Dur, every: Dur) -> Schedule {
        Schedule {
            start,
            every: Some(every),
        }
    }

    pub fn once(start: Dur) -> Schedule {
        Schedule { start, every: None }
    }
}

/// Runs `nemesis` on its schedule until `stop` turns true.
pub async fn drive<N: Nemesis>(
    nemesis: N,
    ctx: NemesisContext,
    mut rng: ChaCha8Rng,
    mut stop: watch::Receiver<bool>,
) {
    let schedule = nemesis.schedule();
    let mut wait = schedule.start.0;
    while sleep_or_stop(wait, &mut stop).await {
        nemesis.fire(&ctx, &mut rng, &mut stop).await;
        let Some(every) = schedule.every else { break };
        let every_ns = every.ns().max(1);
        wait = Duration::from_nanos(rng.random_range(every_ns / 2..=every_ns + every_ns / 2));
    }
    nemesis.finish(&ctx);
}

/// Sleeps for `d`; false when the run stopped first.
pub async fn sleep_or_stop(d: Duration, stop: &mut watch::Receiver<bool>) -> bool {
    if *stop.borrow() {
        return false;
    }
    tokio::select! {
        _ = tokio::time::sleep(d) => true,
        _ = stop.wait_for(|s| *s) => false,
    }
}

/// Refuses a zero duration where the fault needs one.
pub fn positive(kind: &str, key: &'static str, d: Dur) -> Result<(), super::Invalid> {
    if d.0.is_zero() {
        return Err(super::Invalid::new(
            key,
            format!("[[nemesis]] {kind}: {key} must be > 0"),
        ));
    }
    Ok(())
}

/// The longest a nemesis waits for a promotion or a demotion before giving up on it.
pub const PATIENCE: Duration = Duration::from_secs(30);

/// Polls `probe` every 50 ms until it holds (true), the run stops or [`PATIENCE`] runs out.
pub async fn wait_until<F, Fut>(stop: &mut watch::Receiver<bool>, mut probe: F) -> bool
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let started = Instant::now();
    while started.elapsed() < PATIENCE {
        if probe().await {
            return true;
        }
        if !sleep_or_stop(Duration::from_millis(50), stop).await {
            return false;
        }
    }
    false
}
