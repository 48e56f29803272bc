//! The corpus: the schedules that showed something new (a word no earlier run's signature had,
//! or a finding group no earlier run had), and every word seen so far with the run that first
//! showed it.
//!
//! Guided explore picks its next parent here more often than it draws a fresh schedule (as a
//! coverage-guided fuzzer does): an entry's weight grows with its novelty (`palette::novelty`:
//! new words count once however many, a new finding group five) and shrinks with how often it
//! was already picked, so the search keeps working where it was rewarded without starving the
//! rest. A run that only repeats a finding the search already has does not join: otherwise a
//! fault that breaks the lock every run (a pause past the lease) fills the corpus with itself.

use super::palette::novelty;
use super::signature::Signature;
use crate::scenario::Scenario;
use rand::Rng;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

#[derive(Clone, Debug)]
pub struct Entry {
    /// The run that admitted it.
    pub run: usize,
    pub scenario: Scenario,
    pub new_words: usize,
    /// Finding groups it was the first to show.
    pub new_groups: usize,
    pub picked: u32,
}

impl Entry {
    fn weight(&self) -> f64 {
        novelty(self.new_words, self.new_groups) / (1.0 + self.picked as f64)
    }
}

/// How the words grew: one point per run that added some.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct Growth {
    /// Seconds since explore began.
    pub at_s: f64,
    /// Runs finished by then.
    pub runs: usize,
    /// Distinct words by then.
    pub words: usize,
}

#[derive(Default)]
pub struct Corpus {
    pub entries: Vec<Entry>,
    /// Every word seen, with the run that first showed it.
    pub seen: BTreeMap<String, usize>,
    pub growth: Vec<Growth>,
}

impl Corpus {
    /// Takes in a finished run; returns how many of its words were new. The run joins the
    /// corpus when it showed a new word or was first to show a finding group.
    pub fn admit(
        &mut self,
        run: usize,
        scenario: &Scenario,
        signature: &Signature,
        new_groups: usize,
        at_s: f64,
        runs: usize,
    ) -> usize {
        let mut new_words = 0;
        for w in signature {
            if !self.seen.contains_key(w) {
                self.seen.insert(w.clone(), run);
                new_words += 1;
            }
        }
        if new_words > 0 {
            self.growth.push(Growth {
                at_s,
                runs,
                words: self.seen.len(),
            });
        }
        if new_words > 0 || new_groups > 0 {
            self.entries.push(Entry {
                run,
                scenario: scenario.clone(),
                new_words,
                new_groups,
                picked: 0,
            });
        }
        new_words
    }

    /// A parent for the next mutant, by weight; None while the corpus is empty.
    pub fn pick(&mut self, rng: &mut ChaCha8Rng) -> Option<(usize, Scenario)> {
        let total: f64 = self.entries.iter().map(Entry::weight).sum();
        if self.entries.is_empty() || total <= 0.0 {
            return None;
        }
        let mut x = rng.random_range(0.0..total);
        let mut chosen = self.entries.len() - 1;
        for (i, e) in self.entries.iter().enumerate() {
            if x < e.weight() {
                chosen = i;
                break;
            }
            x -= e.weight();
        }
        let e = &mut self.entries[chosen];
        e.picked += 1;
        Some((e.run, e.scenario.clone()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    fn words(w: &[&str]) -> Signature {
        w.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn only_runs_with_new_words_or_new_findings_join_and_productive_ones_are_picked_more() {
        let s = crate::scenario::Scenario::load(
            &std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("../scenarios/libraries/process-stop.toml"),
        )
        .unwrap();
        let mut c = Corpus::default();
        assert_eq!(c.admit(1, &s, &words(&["a", "b"]), 0, 1.0, 1), 2);
        assert_eq!(c.admit(2, &s, &words(&["a"]), 0, 2.0, 2), 0);
        assert_eq!(c.admit(3, &s, &words(&["a"]), 1, 3.0, 3), 0);
        assert_eq!(c.admit(4, &s, &words(&["c"]), 0, 4.0, 4), 1);
        // A repeat of a finding (no new group) and no new word: not admitted.
        assert_eq!(c.admit(5, &s, &words(&["c"]), 0, 5.0, 5), 0);
        assert_eq!(
            c.entries.iter().map(|e| e.run).collect::<Vec<_>>(),
            vec![1, 3, 4]
        );
        assert_eq!(c.growth.last().unwrap().words, 3);
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        let mut by_run = BTreeMap::new();
        for _ in 0..3000 {
            *by_run.entry(c.pick(&mut rng).unwrap().0).or_insert(0u32) += 1;
        }
        // Run 3 (a new finding) is picked about twice as often as runs 1 and 4 (new words: two
        // and one, alike) — each pick lowers an entry's weight, so rewards even out over picks.
        assert!(
            by_run[&3] > 2 * by_run[&4] && by_run[&3] > 2 * by_run[&1],
            "{by_run:?}"
        );
        assert!(by_run[&1].abs_diff(by_run[&4]) < 150, "{by_run:?}");
    }
}
