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
//! A coarse set ([`Order::Coarse`]) compares debts only (options break ties): an
//! under-approximation for the beam, which proves nothing by dropping and so may drop anything.
//!
//! A candidate is compared before it is copied ([`Frontier::insert_ref`]): in a closure most of
//! the configurations reached are already covered, and copying one (its `info` counts are a pair
//! per client and kind of call, hundreds at 100 clients) only to drop it was much of the cost. A
//! set only asked "seen before?" under the coarse order, once the beam no longer needs to know
//! what it lost, stores the total of the options, not the options
//! ([`Frontier::membership_only`]).

use std::borrow::Borrow;
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

struct Key<S> {
    state: S,
    mandatory: Vec<u32>,
}

/// A key, owned or borrowed from a configuration: lets the map be searched without a copy.
trait KeyParts<S> {
    fn parts(&self) -> (&S, &[u32]);
}

impl<S> KeyParts<S> for Key<S> {
    fn parts(&self) -> (&S, &[u32]) {
        (&self.state, &self.mandatory)
    }
}

/// The key of a configuration, borrowed.
struct Probe<'a, S> {
    state: &'a S,
    mandatory: &'a [u32],
}

impl<S> KeyParts<S> for Probe<'_, S> {
    fn parts(&self) -> (&S, &[u32]) {
        (self.state, self.mandatory)
    }
}

impl<'a, S: 'a> Borrow<dyn KeyParts<S> + 'a> for Key<S> {
    fn borrow(&self) -> &(dyn KeyParts<S> + 'a) {
        self
    }
}

// One hash and one equality for owned and borrowed keys alike, as `Borrow` requires.
impl<S: Hash> Hash for dyn KeyParts<S> + '_ {
    fn hash<H: Hasher>(&self, h: &mut H) {
        let (state, mandatory) = self.parts();
        state.hash(h);
        mandatory.hash(h);
    }
}

impl<S: Eq> PartialEq for dyn KeyParts<S> + '_ {
    fn eq(&self, other: &Self) -> bool {
        self.parts() == other.parts()
    }
}

impl<S: Eq> Eq for dyn KeyParts<S> + '_ {}

impl<S: Hash> Hash for Key<S> {
    fn hash<H: Hasher>(&self, h: &mut H) {
        (self as &dyn KeyParts<S>).hash(h)
    }
}

impl<S: Eq> PartialEq for Key<S> {
    fn eq(&self, other: &Self) -> bool {
        self.parts() == other.parts()
    }
}

impl<S: Eq> Eq for Key<S> {}

struct Rest {
    /// Empty in a [`Frontier::membership_only`] set that compares totals only.
    optional: Vec<(u32, u32)>,
    observers: Vec<u32>,
    trail: u32,
    depth: u32,
    /// Sum of the optional counts: a cheap necessary condition for dominance.
    options: u64,
}

/// What the orders compare, borrowed from a stored entry or from a candidate.
#[derive(Clone, Copy)]
struct View<'a> {
    optional: &'a [(u32, u32)],
    observers: &'a [u32],
    options: u64,
}

impl Rest {
    fn view(&self) -> View<'_> {
        View {
            optional: &self.optional,
            observers: &self.observers,
            options: self.options,
        }
    }
}

pub(crate) fn options_of(optional: &[(u32, u32)]) -> u64 {
    optional.iter().map(|&(_, n)| n as u64).sum()
}

/// `a.optional ⊇ b.optional` (as multisets) and `a.observers ⊆ b.observers`.
fn dominates(a: View, b: View) -> bool {
    a.options >= b.options
        && a.optional.len() >= b.optional.len()
        && a.observers.len() <= b.observers.len()
        && superset_counts(a.optional, b.optional)
        && subset(a.observers, b.observers)
}

/// The beam's looser order: at most the debts, and when no fewer, at least as many options in
/// total. Not a dominance (the options may differ); only the beam, which proves nothing by
/// dropping, uses it.
fn covers(a: View, b: View) -> bool {
    subset(a.observers, b.observers)
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

pub(crate) type FxBuild = BuildHasherDefault<FxHasher>;

/// How a set compares two configurations with the same state and pending known ops.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Order {
    /// [`dominates`]: drops only what another configuration can stand for.
    Dominance,
    /// [`covers`], the beam's under-approximation. With `watch_loss` the set notes when it
    /// dropped a configuration that dominance would have kept ([`Frontier::lossy`]). That is a
    /// dominance test per drop, so a beam that has already dropped something (and so can prove
    /// nothing by running dry) does not ask.
    Coarse { watch_loss: bool },
}

/// Undominated configurations.
pub(crate) struct Frontier<S> {
    map: HashMap<Key<S>, Vec<Rest>, FxBuild>,
    len: usize,
    bytes: usize,
    order: Order,
    /// Whether stored entries keep their options (see [`Frontier::membership_only`]).
    keep_options: bool,
    /// Whether the coarse order dropped a configuration that dominance would have kept.
    lossy: bool,
}

impl<S: Clone + Eq + Hash> Frontier<S> {
    /// An exact set: dominance only.
    pub fn new() -> Self {
        Self::ordered(Order::Dominance)
    }

    pub fn ordered(order: Order) -> Self {
        Frontier {
            map: HashMap::default(),
            len: 0,
            bytes: 0,
            order,
            keep_options: true,
            lossy: false,
        }
    }

    /// For a set only asked whether a configuration was seen, never turned back into
    /// configurations: under the coarse order without `watch_loss` only the total of the
    /// options is compared, so the options themselves are not stored.
    pub fn membership_only(mut self) -> Self {
        self.keep_options = self.order != (Order::Coarse { watch_loss: false });
        self
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Whether the coarse order dropped a configuration no other dominated: then the set is an
    /// under-approximation, and its running dry proves nothing. Only noted with `watch_loss`.
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
        let options = options_of(&c.optional);
        let key = Key {
            state: c.state,
            mandatory: c.mandatory,
        };
        let bucket = self.map.entry(key).or_default();
        let view = View {
            optional: &c.optional,
            observers: &c.observers,
            options,
        };
        let Some(dropped) = admit(bucket, view, self.order, &mut self.lossy) else {
            return false;
        };
        let optional = if self.keep_options {
            c.optional
        } else {
            Vec::new()
        };
        bucket.push(Rest {
            optional,
            observers: c.observers,
            trail: c.trail,
            depth: c.depth,
            options,
        });
        self.len = self.len + 1 - dropped;
        self.bytes += bytes;
        true
    }

    /// Like [`Frontier::insert`] for a configuration the caller keeps using: compared first,
    /// copied only when kept.
    pub fn insert_ref(&mut self, c: &Config<S>) -> bool {
        let options = options_of(&c.optional);
        let view = View {
            optional: &c.optional,
            observers: &c.observers,
            options,
        };
        let probe = Probe {
            state: &c.state,
            mandatory: &c.mandatory,
        };
        let rest = |keep_options: bool| Rest {
            optional: if keep_options {
                c.optional.clone()
            } else {
                Vec::new()
            },
            observers: c.observers.clone(),
            trail: c.trail,
            depth: c.depth,
            options,
        };
        match self.map.get_mut(&probe as &dyn KeyParts<S>) {
            Some(bucket) => {
                let Some(dropped) = admit(bucket, view, self.order, &mut self.lossy) else {
                    return false;
                };
                bucket.push(rest(self.keep_options));
                self.len = self.len + 1 - dropped;
            }
            None => {
                let key = Key {
                    state: c.state.clone(),
                    mandatory: c.mandatory.clone(),
                };
                self.map.insert(key, vec![rest(self.keep_options)]);
                self.len += 1;
            }
        }
        self.bytes += c.bytes();
        true
    }

    /// Whether an entry stands for a configuration with this key, these debts and this many
    /// options, when that is all the set's order looks at (the coarse order, loss not watched):
    /// lets a caller drop a step before building its configuration. `None` for other orders.
    pub fn covers_debts(
        &self,
        state: &S,
        mandatory: &[u32],
        observers: &[u32],
        options: u64,
    ) -> Option<bool> {
        if self.order != (Order::Coarse { watch_loss: false }) {
            return None;
        }
        let view = View {
            optional: &[],
            observers,
            options,
        };
        let probe = Probe { state, mandatory };
        let bucket = self.map.get(&probe as &dyn KeyParts<S>);
        Some(bucket.is_some_and(|b| b.iter().any(|e| covers(e.view(), view))))
    }

    pub fn into_configs(self) -> Vec<Config<S>> {
        debug_assert!(
            self.keep_options,
            "a membership-only set has no options to give"
        );
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

/// Decides whether a candidate joins `bucket` (the entries with its key): `None` when an entry
/// stands for it, else how many entries it stands for (they are removed).
fn admit(bucket: &mut Vec<Rest>, c: View, order: Order, lossy: &mut bool) -> Option<usize> {
    let (stands_for, watch): (fn(View, View) -> bool, bool) = match order {
        Order::Dominance => (dominates, false),
        Order::Coarse { watch_loss } => (covers, watch_loss),
    };
    if bucket.iter().any(|e| stands_for(e.view(), c)) {
        if watch && !bucket.iter().any(|e| dominates(e.view(), c)) {
            *lossy = true;
        }
        return None;
    }
    let before = bucket.len();
    let mut lost = false;
    bucket.retain(|e| {
        let drop = stands_for(c, e.view());
        lost |= drop && watch && !dominates(c, e.view());
        !drop
    });
    *lossy |= lost;
    Some(before - bucket.len())
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

    /// Sorted ids from the bits of `mask`, offset by `base`.
    fn ids(mask: u8, base: u32) -> Vec<u32> {
        (0..4)
            .filter(|i| mask >> i & 1 == 1)
            .map(|i| base + i)
            .collect()
    }

    fn small_config(parts: (u8, u8, [u8; 3], u8)) -> Config<u8> {
        let (state, mandatory, counts, observers) = parts;
        Config {
            state: state % 3,
            mandatory: ids(mandatory % 4, 1),
            optional: (0..3)
                .filter(|&k| counts[k] % 4 != 0)
                .map(|k| (k as u32, (counts[k] % 4) as u32))
                .collect(),
            observers: ids(observers % 8, 10),
            trail: 0,
            depth: 0,
        }
    }

    fn sorted(f: Frontier<u8>) -> Vec<String> {
        let mut v: Vec<String> = f
            .into_configs()
            .iter()
            .map(|c| format!("{:?}", (c.state, &c.mandatory, &c.optional, &c.observers)))
            .collect();
        v.sort();
        v
    }

    proptest::proptest! {
        /// Inserting by reference (compared before copied, found through the borrowed key)
        /// keeps and drops exactly what inserting by value does, under every order; so does a
        /// membership-only set, and what it says it covers before an insert is what the insert
        /// drops; and all agree with a plain list that applies the order.
        #[test]
        fn inserting_by_reference_or_by_value_keeps_the_same_set(
            parts in proptest::collection::vec(
                (0u8..3, 0u8..4, proptest::array::uniform3(0u8..4), 0u8..8),
                0..40,
            ),
        ) {
            for order in [
                Order::Dominance,
                Order::Coarse { watch_loss: true },
                Order::Coarse { watch_loss: false },
            ] {
                let mut by_value = Frontier::ordered(order);
                let mut by_ref = Frontier::ordered(order);
                let mut seen = Frontier::ordered(order).membership_only();
                let mut list: Vec<Config<u8>> = Vec::new();
                let stands_for = |a: &Config<u8>, b: &Config<u8>| match order {
                    Order::Dominance => dominates(view_of(a), view_of(b)),
                    Order::Coarse { .. } => covers(view_of(a), view_of(b)),
                };
                for &p in &parts {
                    let c = small_config(p);
                    let same_key = |e: &Config<u8>| e.state == c.state && e.mandatory == c.mandatory;
                    let want = !list.iter().any(|e| same_key(e) && stands_for(e, &c));
                    if want {
                        list.retain(|e| !(same_key(e) && stands_for(&c, e)));
                        list.push(c.clone());
                    }
                    let covered = seen.covers_debts(
                        &c.state,
                        &c.mandatory,
                        &c.observers,
                        options_of(&c.optional),
                    );
                    if order == (Order::Coarse { watch_loss: false }) {
                        proptest::prop_assert_eq!(covered, Some(!want));
                    } else {
                        proptest::prop_assert_eq!(covered, None);
                    }
                    proptest::prop_assert_eq!(by_ref.insert_ref(&c), want);
                    proptest::prop_assert_eq!(seen.insert_ref(&c), want);
                    proptest::prop_assert_eq!(by_value.insert(c), want);
                    proptest::prop_assert_eq!(by_value.len(), list.len());
                    proptest::prop_assert_eq!(by_ref.len(), list.len());
                    proptest::prop_assert_eq!(seen.len(), list.len());
                }
                proptest::prop_assert_eq!(by_ref.lossy(), by_value.lossy());
                if order == (Order::Coarse { watch_loss: false }) {
                    proptest::prop_assert!(!by_value.lossy());
                }
                let mut want: Vec<String> = list
                    .iter()
                    .map(|c| format!("{:?}", (c.state, &c.mandatory, &c.optional, &c.observers)))
                    .collect();
                want.sort();
                proptest::prop_assert_eq!(sorted(by_ref), want.clone());
                proptest::prop_assert_eq!(sorted(by_value), want);
            }
        }
    }

    fn view_of(c: &Config<u8>) -> View<'_> {
        View {
            optional: &c.optional,
            observers: &c.observers,
            options: options_of(&c.optional),
        }
    }
}
