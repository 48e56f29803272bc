//! The corpus: the schedules that showed something new (a word no earlier run's signature had,
//! or a finding group no earlier run had), and every word seen so far with the run that first
//! showed it and how many runs showed it since.
//!
//! Guided explore picks its next parent here more often than it draws a fresh schedule (as a
//! coverage-guided fuzzer does). An entry's energy is the rarity of what it shows — one over the
//! number of runs that showed its rarest word, read anew at each pick — plus five for each
//! finding group it was first to show, over one plus how often it was already picked: the
//! "rare edge" power schedules of AFLFast and libFuzzer's Entropic. Novelty at admission alone
//! (the first version: one for new words, however many) let half of all runs join at the same
//! weight, so a schedule whose words nobody else reaches (a delayed reply, in runs of a kind
//! drawn one time in twenty) weighed what a fortieth process pause with one new count did, and
//! was never picked; with rarity, the entries whose words the search keeps reaching fade as they
//! are reached, and the ones it reaches rarely are where it works next. A run that only repeats
//! a finding the search already has does not join: otherwise a fault that breaks the lock every
//! run (a pause past the lease) fills the corpus with itself.
//!
//! A word's rarity goes to the *smallest* schedule that showed it — the fewest faults — and a
//! run that shows a word with fewer faults than every entry showing it joins for that alone (AFL's
//! favoured entries, libFuzzer's `-reduce_inputs`). Without it the corpus grew its schedules:
//! adding a fault mints words, so mutants carried three faults two to five times as often as
//! fresh draws (12–55 % against 4–10 %), and the faults beside the one that mattered blinded the
//! record or changed what the clients did — the two delayed replies in the window that had
//! other faults beside them showed no late grant, the two alone did at once.

use super::signature::Signature;
use crate::scenario::Scenario;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

#[derive(Clone, Debug)]
pub struct Entry {
    /// The run that admitted it.
    pub run: usize,
    pub scenario: Scenario,
    /// Its run's signature.
    pub words: Signature,
    pub new_words: usize,
    /// Finding groups it was the first to show.
    pub new_groups: usize,
    pub picked: u32,
}

impl Entry {
    /// Its energy now: the rarity of its rarest word among every run so far — of the words it
    /// is the smallest entry to show (`top`) — five for each finding group it was first to
    /// show, shared out over its picks.
    fn energy(
        &self,
        index: usize,
        hits: &BTreeMap<String, u32>,
        top: &BTreeMap<String, usize>,
    ) -> f64 {
        let rarest = self
            .words
            .iter()
            .filter(|w| top.get(*w) == Some(&index))
            .map(|w| 1.0 / f64::from(hits.get(w).copied().unwrap_or(1).max(1)))
            .fold(0.0, f64::max);
        (rarest + 5.0 * self.new_groups as f64) / (1.0 + f64::from(self.picked))
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
    /// Every word seen, with how many runs showed it.
    pub hits: BTreeMap<String, u32>,
    /// Every word an entry showed, with the smallest entry (fewest faults) that showed it.
    pub top: BTreeMap<String, usize>,
    pub growth: Vec<Growth>,
}

impl Corpus {
    /// Takes in a finished run; returns how many of its words were new. The run joins the
    /// corpus when it showed a new word, was first to show a finding group, or showed a word
    /// with fewer faults than every entry that showed it.
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
            *self.hits.entry(w.clone()).or_insert(0) += 1;
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
        let faults = scenario.nemesis.len();
        let smaller: Vec<&String> = signature
            .iter()
            .filter(|w| {
                self.top
                    .get(*w)
                    .is_none_or(|&e| faults < self.entries[e].scenario.nemesis.len())
            })
            .collect();
        if new_words > 0 || new_groups > 0 || !smaller.is_empty() {
            let entry = self.entries.len();
            for w in smaller {
                self.top.insert(w.clone(), entry);
            }
            self.entries.push(Entry {
                run,
                scenario: scenario.clone(),
                words: signature.clone(),
                new_words,
                new_groups,
                picked: 0,
            });
        }
        new_words
    }

    /// Each entry's energy now.
    pub fn energies(&self) -> Vec<f64> {
        self.entries
            .iter()
            .enumerate()
            .map(|(i, e)| e.energy(i, &self.hits, &self.top))
            .collect()
    }

    /// A parent for the next mutant, by energy; None while the corpus is empty.
    pub fn pick(&mut self, rng: &mut ChaCha8Rng) -> Option<Pick> {
        let chosen = super::palette::weighted(&self.energies(), rng)?;
        let e = &mut self.entries[chosen];
        e.picked += 1;
        Some(Pick {
            run: e.run,
            scenario: e.scenario.clone(),
            nth: e.picked,
        })
    }
}

/// A parent picked for the next mutant.
pub struct Pick {
    /// The run it came from.
    pub run: usize,
    pub scenario: Scenario,
    /// How many times it has been picked, this time included: on its first two picks its
    /// boundary is tried before anything else is (see [`super::mutate::between_waits_of`]).
    pub nth: u32,
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    fn library_scenario(name: &str) -> Scenario {
        Scenario::load(
            &std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                .join(format!("../scenarios/libraries/{name}.toml")),
        )
        .unwrap()
    }

    fn words(w: &[&str]) -> Signature {
        w.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn only_runs_with_new_words_or_new_findings_join_and_productive_ones_are_picked_more() {
        let s = library_scenario("process-stop");
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
        // Words by runs: a 3, b 1, c 2. Energy: run 1 its rarest word b, 1; run 3 5 for its
        // finding (a is run 1's, the first as small to show it); run 4 c's 1/2. Each pick shares
        // an entry's energy out further (energy over picks + 1), so over many picks each entry's
        // share goes as the square root of its energy: 2.3 : 1 : 0.7.
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        let mut by_run = BTreeMap::new();
        for _ in 0..3000 {
            *by_run.entry(c.pick(&mut rng).unwrap().run).or_insert(0u32) += 1;
        }
        assert!(by_run[&3] > 2 * by_run[&1], "{by_run:?}");
        assert!(
            by_run[&1] > 6 * by_run[&4] / 5 && by_run[&1] < 2 * by_run[&4],
            "{by_run:?}"
        );
    }

    #[test]
    fn an_entry_fades_as_its_words_become_common_and_a_rare_one_keeps_its_pull() {
        let s = library_scenario("reply-delay");
        let mut c = Corpus::default();
        // Run 1 shows a word the search then reaches in every run; run 2 one nobody else does.
        c.admit(1, &s, &words(&["common", "pause"]), 0, 1.0, 1);
        c.admit(2, &s, &words(&["common", "delayed-reply"]), 0, 2.0, 2);
        let e = c.energies();
        assert_eq!(
            e,
            vec![1.0, 1.0],
            "alike at first: each shows a word no other run did"
        );
        for run in 3..23 {
            c.admit(run, &s, &words(&["common", "pause"]), 0, run as f64, run);
        }
        let e = c.energies();
        assert!(
            e[0] < 0.05 && e[1] == 1.0,
            "the pause fades as every run reaches it, the delayed reply keeps its pull: {e:?}"
        );
        assert_eq!(c.entries.len(), 2, "repeats do not join");
    }

    #[test]
    fn a_word_s_rarity_goes_to_the_smallest_schedule_that_showed_it() {
        let one = library_scenario("reply-delay");
        let mut two = one.clone();
        two.nemesis
            .extend(library_scenario("process-stop").nemesis.iter().cloned());
        let mut three = two.clone();
        three.nemesis.push(two.nemesis[1].clone());
        let mut c = Corpus::default();
        // Three faults show the late reply first; a larger schedule showing it again does not
        // join; two faults showing it join without a new word and take its rarity.
        assert_eq!(
            c.admit(1, &three, &words(&["late-reply", "x"]), 0, 1.0, 1),
            2
        );
        c.admit(2, &three, &words(&["late-reply"]), 0, 2.0, 2);
        assert_eq!(c.entries.len(), 1, "as large, nothing new: not admitted");
        assert_eq!(c.admit(3, &two, &words(&["late-reply"]), 0, 3.0, 3), 0);
        assert_eq!(c.entries.len(), 2, "smaller: admitted");
        // late-reply was shown by 3 runs, x by 1: run 1 keeps x's pull, run 3 has late-reply's.
        let e = c.energies();
        assert!(
            (e[0] - 1.0).abs() < 1e-9 && (e[1] - 1.0 / 3.0).abs() < 1e-9,
            "{e:?}"
        );
        // One fault: smaller again; run 3 is left with nothing it is the smallest to show.
        c.admit(4, &one, &words(&["late-reply"]), 0, 4.0, 4);
        let e = c.energies();
        assert_eq!(e[1], 0.0, "{e:?}");
        assert!((e[2] - 0.25).abs() < 1e-9, "{e:?}");
        let mut rng = ChaCha8Rng::seed_from_u64(8);
        assert!((0..200).all(|_| c.pick(&mut rng).unwrap().run != 3));
    }

    #[test]
    fn an_entrys_picks_are_counted_from_one() {
        let s = library_scenario("process-stop");
        let mut c = Corpus::default();
        c.admit(1, &s, &words(&["a"]), 0, 1.0, 1);
        c.admit(2, &s, &words(&["b"]), 0, 2.0, 2);
        let mut rng = ChaCha8Rng::seed_from_u64(2);
        let mut picks: BTreeMap<usize, Vec<u32>> = BTreeMap::new();
        for _ in 0..50 {
            let p = c.pick(&mut rng).unwrap();
            picks.entry(p.run).or_default().push(p.nth);
        }
        assert_eq!(picks.len(), 2, "{picks:?}");
        for nths in picks.values() {
            assert!(nths.iter().copied().eq(1..=nths.len() as u32), "{picks:?}");
        }
    }
}
