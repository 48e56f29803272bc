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
    /// The client, the start, the end, and the history index that orders intervals with equal
    /// times (the grant's completion).
    fn bounds(&self) -> (Process, Nanos, Nanos, u64);
}

/// The order of a whole-history sweep: by start, then end, then index.
pub fn order<T: Interval>(x: &T) -> (Nanos, Nanos, u64) {
    let (_, start_ns, end_ns, index) = x.bounds();
    (start_ns, end_ns, index)
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
        let (sp, ss, se, _) = s.bounds();
        for a in &self.live {
            let (ap, a_start, a_end, _) = a.bounds();
            if ap != sp && ss < a_end && a_start < se {
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
        self.live.retain(|a| a.bounds().2 > horizon);
    }

    /// Final intervals kept.
    pub fn kept(&self) -> usize {
        self.live.len()
    }
}
