//! Drawing a fault nobody scripted: what `fencepost explore` asks of each plug-in.
//!
//! A hand-written scenario fixes a fault's moments and lengths; explore draws them. A length
//! means something only against the run it lands in — a 2 s pause is nothing to a 30 s lease
//! and everything to a 1 s one — so every plug-in draws its lengths as multiples of the run's
//! own [`Scale`] (the lease, the op timeout, the run's length) and its moments inside the run.
//! Each plug-in owns its draw ([`super::Nemesis::draw`]), beside its config and validation: a
//! fault explore cannot draw for a run (it needs client processes the run lacks) draws `None`,
//! and the registry keeps only draws the plug-in's own validation accepts.

use super::nodes::NodeTarget;
use super::Bounds;
use crate::duration::Dur;
use rand::Rng;
use rand_chacha::ChaCha8Rng;
use std::time::Duration;

/// What a fault's lengths are drawn against: the run it will land in.
#[derive(Debug, Clone, Copy)]
pub struct Scale {
    pub bounds: Bounds,
    /// The run's length.
    pub duration: Dur,
    /// The lock's lease.
    pub ttl: Dur,
    /// How long a client waits for one call.
    pub op_timeout: Dur,
}

impl Scale {
    /// `base × [lo, hi]`, uniform, in whole milliseconds (at least 1 ms).
    pub fn times(&self, rng: &mut ChaCha8Rng, base: Dur, lo: f64, hi: f64) -> Dur {
        let f = rng.random_range(lo..=hi);
        ms((base.0.as_secs_f64() * f * 1000.0).round().max(1.0) as u64)
    }

    /// A length around the lease: `ttl × [lo, hi]`.
    pub fn ttls(&self, rng: &mut ChaCha8Rng, lo: f64, hi: f64) -> Dur {
        self.times(rng, self.ttl, lo, hi)
    }

    /// A length around the lease or the op timeout (either, drawn): where a pause or a delay
    /// changes what a client sees.
    pub fn around_waits(&self, rng: &mut ChaCha8Rng, lo: f64, hi: f64) -> Dur {
        let base = if rng.random_bool(0.5) {
            self.ttl
        } else {
            self.op_timeout
        };
        self.times(rng, base, lo, hi)
    }

    /// A first injection: after the clients warmed up (250 ms), before the run's last quarter.
    pub fn start(&self, rng: &mut ChaCha8Rng) -> Dur {
        let last = (self.duration.ms() * 3 / 4).max(300);
        ms(rng.random_range(250..last))
    }

    /// The mean gap between injections that each last `length`: room for the lease to settle
    /// between them (1..4 ttls past the injection).
    pub fn every(&self, rng: &mut ChaCha8Rng, length: Dur) -> Dur {
        let gap = self.ttls(rng, 1.0, 4.0);
        Dur(length.0 + gap.0)
    }

    /// Some of the lock nodes: one, a minority, a majority or all (drawn alike).
    pub fn nodes(&self, rng: &mut ChaCha8Rng) -> NodeTarget {
        self.pick(
            rng,
            &[
                NodeTarget::One,
                NodeTarget::Minority,
                NodeTarget::Majority,
                NodeTarget::All,
            ],
        )
    }

    /// One of `items`, uniformly.
    pub fn pick<T: Copy>(&self, rng: &mut ChaCha8Rng, items: &[T]) -> T {
        items[rng.random_range(0..items.len())]
    }
}

/// `n` milliseconds.
pub fn ms(n: u64) -> Dur {
    Dur(Duration::from_millis(n))
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use rand::SeedableRng;

    pub fn scale(client_processes: bool) -> Scale {
        Scale {
            bounds: Bounds {
                clients: 5,
                lock_nodes: 5,
                sentinel: false,
                pause_points: true,
                client_processes,
                crash_points: false,
                redis_cluster: false,
            },
            duration: ms(10_000),
            ttl: ms(1000),
            op_timeout: ms(500),
        }
    }

    #[test]
    fn lengths_follow_the_lease_and_moments_stay_inside_the_run() {
        let s = scale(true);
        let mut rng = ChaCha8Rng::seed_from_u64(7);
        for _ in 0..1000 {
            let d = s.ttls(&mut rng, 0.5, 3.0);
            assert!((500..=3000).contains(&d.ms()), "{d}");
            let t = s.start(&mut rng);
            assert!((250..7500).contains(&t.ms()), "{t}");
            let e = s.every(&mut rng, d);
            assert!(e.ms() >= d.ms() + 1000 && e.ms() <= d.ms() + 4000, "{e}");
        }
        let long = Scale {
            ttl: ms(30_000),
            ..s
        };
        assert!(long.ttls(&mut rng, 0.5, 3.0).ms() >= 15_000);
    }
}
