//! Overlapping intervals of different clients, found as a history streams by.
//!
//! Two checkers ask the same question of different intervals — mutual exclusion of critical
//! spans, double grants of surely-live leases: did two clients' intervals overlap? An interval's
//! end is known only once it is final (its client released, took another grant, or the history
//! ended), so each pair is judged when the later of the two becomes final, against the final
//! intervals kept. A final interval is forgotten once it ends no later than the *horizon*: the
//! earliest start of any interval not yet final, and the present (an interval that starts later
//! begins at a grant completed after now, and overlap is strict). Memory then follows how many
//! intervals can overlap one open interval, not the length of the history.

use crate::history::{Nanos, Process};

/// An interval a client held something over.
pub trait Interval {
    fn process(&self) -> Process;
    fn start_ns(&self) -> Nanos;
    fn end_ns(&self) -> Nanos;
    /// History index that orders intervals with equal times (the grant's completion).
    fn index(&self) -> u64;
}

/// The order of a whole-history sweep: by start, then end, then index.
pub fn order<T: Interval>(x: &T) -> (Nanos, Nanos, u64) {
    (x.start_ns(), x.end_ns(), x.index())
}

/// The final intervals that may still overlap an interval not yet final.
pub struct Sweep<T> {
    live: Vec<T>,
}

impl<T> Default for Sweep<T> {
    fn default() -> Self {
        Sweep { live: Vec::new() }
    }
}

impl<T: Interval> Sweep<T> {
    /// `s` is final: `found(earlier, later)` for every kept interval of another client it
    /// overlaps (strictly), earlier by [`order`]; then `s` is kept.
    pub fn close(&mut self, s: T, mut found: impl FnMut(&T, &T)) {
        for a in &self.live {
            if a.process() != s.process() && s.start_ns() < a.end_ns() && a.start_ns() < s.end_ns()
            {
                if order(a) <= order(&s) {
                    found(a, &s);
                } else {
                    found(&s, a);
                }
            }
        }
        self.live.push(s);
    }

    /// Forgets the final intervals that end at or before `horizon`.
    pub fn forget(&mut self, horizon: Nanos) {
        self.live.retain(|a| a.end_ns() > horizon);
    }

    /// Final intervals kept.
    pub fn kept(&self) -> usize {
        self.live.len()
    }
}
