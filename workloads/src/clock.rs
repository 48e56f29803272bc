//! The client's clock: what its validity arithmetic uses.
//!
//! The history is stamped by the harness's monotonic clock. A lock client computes its validity
//! end on *its own* clock, which a clock nemesis may skew (offset) or speed up/slow down (rate),
//! as a VM migration or NTP step would. With no skew the two clocks agree.

use checkers::Nanos;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Instant;

/// A monotonic clock shared by the recorder and the clients, with an optional skew for clients.
#[derive(Debug, Clone)]
pub struct Clock {
    origin: Instant,
    skew: Arc<Skew>,
}

#[derive(Debug, Default)]
struct Skew {
    offset_ns: AtomicI64,
    /// Rate in parts per million (1_000_000 = real time).
    rate_ppm: AtomicU64,
    anchor_ns: AtomicU64,
}

impl Clock {
    pub fn new() -> Self {
        let skew = Skew {
            rate_ppm: AtomicU64::new(1_000_000),
            ..Default::default()
        };
        Clock {
            origin: Instant::now(),
            skew: Arc::new(skew),
        }
    }

    /// A clock with the same origin (history times stay comparable) and its own skew, for a
    /// client whose clock is bent alone.
    pub fn independent(&self) -> Clock {
        let skew = Skew {
            rate_ppm: AtomicU64::new(1_000_000),
            ..Default::default()
        };
        Clock {
            origin: self.origin,
            skew: Arc::new(skew),
        }
    }

    /// Back to true time: no offset, rate 1.
    pub fn reset_skew(&self) {
        self.skew.anchor_ns.store(0, Ordering::Relaxed);
        self.skew.rate_ppm.store(1_000_000, Ordering::Relaxed);
        self.skew.offset_ns.store(0, Ordering::Relaxed);
    }

    /// True time since the origin: what the history uses.
    pub fn true_ns(&self) -> Nanos {
        self.origin.elapsed().as_nanos() as Nanos
    }

    /// The (possibly skewed) time a client believes it is.
    pub fn client_ns(&self) -> Nanos {
        let t = self.true_ns();
        let anchor = self.skew.anchor_ns.load(Ordering::Relaxed);
        let rate = self.skew.rate_ppm.load(Ordering::Relaxed);
        let offset = self.skew.offset_ns.load(Ordering::Relaxed);
        let since = t.saturating_sub(anchor) as u128 * rate as u128 / 1_000_000;
        (anchor as i128 + since as i128 + offset as i128).max(0) as Nanos
    }

    /// Maps a client-clock instant back to true time (for recording validity ends).
    pub fn to_true_ns(&self, client_ns: Nanos) -> Nanos {
        let anchor = self.skew.anchor_ns.load(Ordering::Relaxed) as i128;
        let rate = self.skew.rate_ppm.load(Ordering::Relaxed).max(1) as i128;
        let offset = self.skew.offset_ns.load(Ordering::Relaxed) as i128;
        let since = (client_ns as i128 - offset - anchor) * 1_000_000 / rate;
        (anchor + since).max(0) as Nanos
    }

    /// Jumps the client clock by `offset_ns` (cumulative) and sets its rate from now on.
    pub fn skew(&self, offset_ns: i64, rate_ppm: u64) {
        // Re-anchor so the rate change applies from now, keeping the current reading continuous.
        let now_true = self.true_ns();
        let reading = self.client_ns() as i128;
        self.skew.anchor_ns.store(now_true, Ordering::Relaxed);
        self.skew.rate_ppm.store(rate_ppm.max(1), Ordering::Relaxed);
        let base_offset = reading - now_true as i128;
        self.skew
            .offset_ns
            .store((base_offset + offset_ns as i128) as i64, Ordering::Relaxed);
    }
}

impl Default for Clock {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unskewed_clock_agrees_with_true_time() {
        let c = Clock::new();
        let a = c.true_ns();
        let b = c.client_ns();
        assert!(b >= a && b - a < 5_000_000);
    }

    #[test]
    fn an_independent_clock_skews_alone_and_resets() {
        let shared = Clock::new();
        let own = shared.independent();
        own.skew(-5_000_000_000, 1_000_000);
        assert!(shared.client_ns() > own.client_ns() + 4_000_000_000 || own.client_ns() == 0);
        own.reset_skew();
        assert!(own.client_ns().abs_diff(shared.client_ns()) < 5_000_000);
    }

    #[test]
    fn jump_moves_client_time_and_maps_back() {
        let c = Clock::new();
        c.skew(10_000_000_000, 1_000_000);
        let t = c.true_ns();
        let client = c.client_ns();
        assert!(client >= t + 10_000_000_000 - 1_000_000, "{client} vs {t}");
        let back = c.to_true_ns(client);
        assert!(back.abs_diff(t) < 5_000_000);
    }
}
