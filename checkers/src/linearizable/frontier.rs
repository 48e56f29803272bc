//! A set of search configurations that keeps only the undominated ones.
//!
//! Two configurations with the same model state and the same completed-but-unlinearized ops
//! (`mandatory`) differ only in what they still may do (`optional`: pending `info` ops, as a
//! multiset of interchangeable ops) and what they still owe (`observers`: pending observations not
//! yet satisfied). `a` dominates `b` when `a.optional ⊇ b.optional` and `a.observers ⊆
//! b.observers`: every way `b` can finish the history, `a` can too (it has at least the same moves
//! and at most the same debts), so `b` is dropped. Dominance is preserved by every step of the
//! search (invocations add the same op to both, a linearization open to `b` is open to `a` and
//! leaves the same state, absorbing observers shrinks both debts alike), which is why dropping
//! `b` loses no linearization. Equal configurations dominate each other: exact deduplication is
//! the special case.
//!
//! A coarse set ([`Frontier::with_coarse`]) compares debts only (options break ties): an
//! under-approximation for the beam, which proves nothing by dropping and so may drop anything.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hash, Hasher};

/// One node of the search: a model state plus what is still pending.
#[derive(Clone, Debug)]
pub(crate) struct Config<S> {
    pub state: S,
    /// Ops invoked, not yet linearized, whose completion is known (they must be linearized
    /// before they return). Sorted op ids.
    pub mandatory: Vec<u32>,
    /// Ops with unknown completion not (yet) linearized, as (class, count), sorted by class.
    pub optional: Vec<(u32, u32)>,
    /// Observations invoked and not yet satisfied by any state since. Sorted op ids.
    pub observers: Vec<u32>,
    /// The linearization so far, as a node of the shared trail arena.
    pub trail: u32,
    /// Length of that linearization.
    pub depth: u32,
}

impl<S> Config<S> {
    /// Rough heap+inline footprint, for the memory budget.
    pub fn bytes(&self) -> usize {
        std::mem::size_of::<Self>()
            + 4 * (self.mandatory.capacity() + self.observers.capacity())
            + 8 * self.optional.capacity()
    }
}

#[derive(PartialEq, Eq, Hash)]
struct Key<S> {
    state: S,
    mandatory: Vec<u32>,
}

struct Rest {
    optional: Vec<(u32, u32)>,
    observers: Vec<u32>,
    trail: u32,
    depth: u32,
    /// Sum of the optional counts: a cheap necessary condition for dominance.
    options: u64,
}

/// `a.optional ⊇ b.optional` (as multisets) and `a.observers ⊆ b.observers`.
fn dominates(a: &Rest, b: &Rest) -> bool {
    a.options >= b.options
        && a.optional.len() >= b.optional.len()
        && a.observers.len() <= b.observers.len()
        && superset_counts(&a.optional, &b.optional)
        && subset(&a.observers, &b.observers)
}

/// The beam's looser order: at most the debts, and when no fewer, at least as many options in
/// total. Not a dominance (the options may differ); only the beam, which proves nothing by
/// dropping, uses it.
fn covers(a: &Rest, b: &Rest) -> bool {
    subset(&a.observers, &b.observers)
        && (a.observers.len() < b.observers.len() || a.options >= b.options)
}

fn superset_counts(a: &[(u32, u32)], b: &[(u32, u32)]) -> bool {
    let mut i = 0;
    for &(class, need) in b {
        while i < a.len() && a[i].0 < class {
            i += 1;
        }
        if i == a.len() || a[i].0 != class || a[i].1 < need {
            return false;
        }
    }
    true
}

fn subset(a: &[u32], b: &[u32]) -> bool {
    if a.len() > b.len() {
        return false;
    }
    let mut j = 0;
    for &x in a {
        while j < b.len() && b[j] < x {
            j += 1;
        }
        if j == b.len() || b[j] != x {
            return false;
        }
    }
    true
}

/// FxHash: the states and id lists hashed here are small and not attacker-chosen.
#[derive(Default)]
pub(crate) struct FxHasher(u64);

impl Hasher for FxHasher {
    fn write(&mut self, bytes: &[u8]) {
        for chunk in bytes.chunks(8) {
            let mut word = [0u8; 8];
            word[..chunk.len()].copy_from_slice(chunk);
            self.write_u64(u64::from_le_bytes(word));
        }
    }
    fn write_u8(&mut self, n: u8) {
        self.write_u64(n as u64)
    }
    fn write_u32(&mut self, n: u32) {
        self.write_u64(n as u64)
    }
    fn write_u64(&mut self, n: u64) {
        self.0 = (self.0.rotate_left(5) ^ n).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
    }
    fn write_usize(&mut self, n: usize) {
        self.write_u64(n as u64)
    }
    fn finish(&self) -> u64 {
        self.0
    }
}

type FxBuild = BuildHasherDefault<FxHasher>;

/// Undominated configurations.
pub(crate) struct Frontier<S> {
    map: HashMap<Key<S>, Vec<Rest>, FxBuild>,
    len: usize,
    bytes: usize,
    /// Use [`covers`] instead of [`dominates`] (the beam's under-approximation).
    coarse: bool,
    /// Whether the coarse order dropped a configuration that dominance would have kept.
    lossy: bool,
}

impl<S: Clone + Eq + Hash> Frontier<S> {
    pub fn new() -> Self {
        Self::with_coarse(false)
    }

    /// With `coarse`, a configuration is dropped when another with the same state and pending
    /// known ops has no more debts and (debts equal) no fewer options in total, whatever the
    /// options are: an under-approximation, for the beam only.
    pub fn with_coarse(coarse: bool) -> Self {
        Frontier {
            map: HashMap::default(),
            len: 0,
            bytes: 0,
            coarse,
            lossy: false,
        }
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Whether the coarse order dropped a configuration no other dominated: then the set is an
    /// under-approximation, and its running dry proves nothing.
    pub fn lossy(&self) -> bool {
        self.lossy
    }

    /// Rough footprint of what was inserted (dropped entries are not subtracted).
    pub fn bytes(&self) -> usize {
        self.bytes
    }

    /// Inserts `c` unless an existing configuration dominates it; drops those it dominates.
    /// Returns whether `c` was kept.
    pub fn insert(&mut self, c: Config<S>) -> bool {
        let bytes = c.bytes();
        let key = Key {
            state: c.state,
            mandatory: c.mandatory,
        };
        let options = c.optional.iter().map(|&(_, n)| n as u64).sum();
        let rest = Rest {
            optional: c.optional,
            observers: c.observers,
            trail: c.trail,
            depth: c.depth,
            options,
        };
        let order = if self.coarse { covers } else { dominates };
        let bucket = self.map.entry(key).or_default();
        if bucket.iter().any(|e| order(e, &rest)) {
            if self.coarse && !bucket.iter().any(|e| dominates(e, &rest)) {
                self.lossy = true;
            }
            return false;
        }
        let before = bucket.len();
        let mut lossy = false;
        bucket.retain(|e| {
            let drop = order(&rest, e);
            lossy |= drop && self.coarse && !dominates(&rest, e);
            !drop
        });
        self.lossy |= lossy;
        self.len -= before - bucket.len();
        bucket.push(rest);
        self.len += 1;
        self.bytes += bytes;
        true
    }

    /// Like [`Frontier::insert`] for a configuration the caller keeps using.
    pub fn insert_clone(&mut self, c: &Config<S>) -> bool {
        self.insert(c.clone())
    }

    pub fn into_configs(self) -> Vec<Config<S>> {
        let mut out = Vec::with_capacity(self.len);
        for (key, bucket) in self.map {
            for rest in bucket {
                out.push(Config {
                    state: key.state.clone(),
                    mandatory: key.mandatory.clone(),
                    optional: rest.optional,
                    observers: rest.observers,
                    trail: rest.trail,
                    depth: rest.depth,
                });
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(optional: Vec<(u32, u32)>, observers: Vec<u32>) -> Config<u8> {
        Config {
            state: 0,
            mandatory: vec![1],
            optional,
            observers,
            trail: 0,
            depth: 0,
        }
    }

    #[test]
    fn more_options_and_fewer_debts_dominate() {
        let mut f = Frontier::new();
        assert!(f.insert(config(vec![(0, 1)], vec![5, 7])));
        // Fewer options, same debts: dominated.
        assert!(!f.insert(config(vec![], vec![5, 7])));
        // More options, fewer debts: replaces the first.
        assert!(f.insert(config(vec![(0, 2)], vec![7])));
        assert_eq!(f.len(), 1);
        // Incomparable: kept beside it.
        assert!(f.insert(config(vec![(0, 3)], vec![5, 7])));
        assert_eq!(f.len(), 2);
        // Duplicate: dropped.
        assert!(!f.insert(config(vec![(0, 3)], vec![5, 7])));
        assert_eq!(f.into_configs().len(), 2);
    }
}
