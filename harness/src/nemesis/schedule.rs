//! When a recurring fault fires: first at `start`, then every `every` on average (each gap drawn
//! uniformly from 0.5×..1.5×, from the nemesis's seeded RNG), until the run stops.

use crate::duration::Dur;
use rand::Rng;
use rand_chacha::ChaCha8Rng;
use std::time::Duration;
use tokio::sync::watch;

pub struct Schedule {
    pub start: Dur,
    pub every: Dur,
    next: Option<Duration>,
}

impl Schedule {
    pub fn new(start: Dur, every: Dur) -> Schedule {
        Schedule {
            start,
            every,
            next: None,
        }
    }

    /// Sleeps until the next firing; false when the run stopped first.
    pub async fn wait(&mut self, rng: &mut ChaCha8Rng, stop: &mut watch::Receiver<bool>) -> bool {
        let wait = match self.next {
            None => self.start.0,
            Some(_) => {
                let every_ns = self.every.ns().max(1);
                Duration::from_nanos(rng.random_range(every_ns / 2..=every_ns + every_ns / 2))
            }
        };
        self.next = Some(wait);
        sleep_or_stop(wait, stop).await
    }
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
