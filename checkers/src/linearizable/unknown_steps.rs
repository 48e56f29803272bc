//! Which `info` ops can take effect from a state, remembered per state.
//!
//! A closure tries every pending `info` class from every configuration it reaches. At 100
//! clients a configuration holds ~200 classes (each client's timed-out acquires and releases),
//! and from most states (the lock held by one client) one of them at most can step: scanning
//! them all, for every configuration, was most of the closure's own work. The model is pure, so
//! what [`Model::step_unknown`] does from a state is the same every time: the first time a state
//! is met every class is tried once, and those that step are kept with the state each leads to.
//! A configuration then pairs that list with its own pending classes.
//!
//! Bounded, in calls spent building and in entries kept: a model with ever-new states (a counter,
//! a register of many values) stops filling the table, and its new states are scanned as before.

use super::frontier::FxBuild;
use crate::model::Model;
use std::collections::HashMap;
use std::hash::Hash;

/// `step_unknown` calls the table may spend building entries (a one-off cost per state).
const SCANS: usize = 1 << 22;
/// Steps the table may keep, over all states.
const ENTRIES: usize = 1 << 16;

pub(crate) struct UnknownSteps<S> {
    /// Per state: (class, state after it), sorted by class.
    map: HashMap<S, Vec<(u32, S)>, FxBuild>,
    scans_left: usize,
    entries_left: usize,
}

impl<S: Clone + Eq + Hash> UnknownSteps<S> {
    pub fn new() -> Self {
        UnknownSteps {
            map: HashMap::default(),
            scans_left: SCANS,
            entries_left: ENTRIES,
        }
    }

    /// The classes whose op (`representatives[class]`) can take effect from `state`, sorted by
    /// class, each with the state it leads to; `None` when `state` is new and the table is full.
    pub fn from<M: Model<State = S>>(
        &mut self,
        model: &M,
        state: &S,
        representatives: &[M::Op],
    ) -> Option<&[(u32, S)]> {
        if !self.map.contains_key(state) {
            if self.scans_left < representatives.len() {
                return None;
            }
            self.scans_left -= representatives.len();
            let steps: Vec<(u32, S)> = representatives
                .iter()
                .enumerate()
                .filter_map(|(class, op)| Some((class as u32, model.step_unknown(state, op)?)))
                .collect();
            if self.entries_left < steps.len() {
                return None;
            }
            self.entries_left -= steps.len();
            self.map.insert(state.clone(), steps);
        }
        self.map.get(state).map(Vec::as_slice)
    }
}

/// Pairs a configuration's pending classes (`optional`, sorted by class) with the steps from its
/// state (sorted by class): calls `found(slot in optional, state after)` for each class in
/// both, in class order. Searches the longer list for each entry of the shorter.
pub(crate) fn pair<S>(
    optional: &[(u32, u32)],
    steps: &[(u32, S)],
    mut found: impl FnMut(usize, &S),
) {
    if steps.len() <= optional.len() {
        for (class, state) in steps {
            if let Ok(slot) = optional.binary_search_by_key(class, |e| e.0) {
                found(slot, state);
            }
        }
    } else {
        for (slot, (class, _)) in optional.iter().enumerate() {
            if let Ok(i) = steps.binary_search_by_key(class, |e| e.0) {
                found(slot, &steps[i].1);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Lock, LockOp};

    #[test]
    fn the_table_gives_what_step_unknown_gives() {
        let reps: Vec<LockOp> = (0..6)
            .flat_map(|c| [LockOp::Acquire(c), LockOp::Release(c)])
            .collect();
        let mut table = UnknownSteps::new();
        for state in [None, Some(0), Some(3), None, Some(3)] {
            let want: Vec<(u32, Option<u32>)> = reps
                .iter()
                .enumerate()
                .filter_map(|(class, op)| Some((class as u32, Lock.step_unknown(&state, op)?)))
                .collect();
            let got = table.from(&Lock, &state, &reps).expect("room").to_vec();
            assert_eq!(got, want, "from {state:?}");
        }
    }

    #[test]
    fn a_full_table_answers_none_not_a_wrong_list() {
        let reps: Vec<LockOp> = (0..4).map(LockOp::Acquire).collect();
        let mut table = UnknownSteps::new();
        table.scans_left = 5;
        assert_eq!(table.from(&Lock, &None, &reps).map(<[_]>::len), Some(4));
        // Known states still answer; a new one would need 4 more calls.
        assert_eq!(table.from(&Lock, &Some(1), &reps), None);
        assert_eq!(table.from(&Lock, &None, &reps).map(<[_]>::len), Some(4));
    }

    #[test]
    fn pairing_finds_the_classes_in_both_lists_whichever_is_longer() {
        let steps: Vec<(u32, char)> = vec![(1, 'a'), (4, 'b'), (7, 'c')];
        let short = [(4, 2), (9, 1)];
        let long = [(0, 1), (1, 1), (2, 1), (3, 1), (7, 5)];
        for (optional, want) in [
            (&short[..], vec![(0, 'b')]),
            (&long[..], vec![(1, 'a'), (4, 'c')]),
            (&[][..], vec![]),
        ] {
            let mut got = Vec::new();
            pair(optional, &steps, |slot, s| got.push((slot, *s)));
            assert_eq!(got, want);
        }
    }
}
