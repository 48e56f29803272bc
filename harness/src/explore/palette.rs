//! The fault kinds explore draws from, and how often.
//!
//! Unguided (`--random`), every kind is drawn alike. Guided, a kind earns credit when a run it
//! was part of showed new signature words or a finding, and is drawn in proportion to
//! `1 + 10 × (credit + m) / (runs + 1)`, where `m` is the credit an average run earned: the
//! search spends its runs on the faults that paid (as a coverage-guided fuzzer spends them on
//! the mutations that did), while a kind that has had few runs counts as average until its
//! runs say otherwise — an unlucky first run does not bury it — and the floor of 1 keeps every
//! kind in play.

use rand::Rng;
use rand_chacha::ChaCha8Rng;

#[derive(Clone, Debug)]
pub struct Palette {
    kinds: Vec<&'static str>,
    runs: Vec<u32>,
    credit: Vec<f64>,
    guided: bool,
}

impl Palette {
    pub fn new(kinds: Vec<&'static str>, guided: bool) -> Palette {
        let n = kinds.len();
        Palette {
            kinds,
            runs: vec![0; n],
            credit: vec![0.0; n],
            guided,
        }
    }

    pub fn kinds(&self) -> &[&'static str] {
        &self.kinds
    }

    /// Each kind's weight now.
    pub fn weights(&self) -> Vec<f64> {
        let runs: u32 = self.runs.iter().sum();
        let mean = self.credit.iter().sum::<f64>() / f64::from(runs.max(1));
        (0..self.kinds.len())
            .map(|i| {
                if self.guided {
                    1.0 + 10.0 * (self.credit[i] + mean) / f64::from(self.runs[i] + 1)
                } else {
                    1.0
                }
            })
            .collect()
    }

    /// A kind, by weight; None when there is none.
    pub fn pick(&self, rng: &mut ChaCha8Rng) -> Option<&'static str> {
        let w = self.weights();
        let total: f64 = w.iter().sum();
        if self.kinds.is_empty() || total <= 0.0 {
            return None;
        }
        let mut x = rng.random_range(0.0..total);
        for (i, wi) in w.iter().enumerate() {
            if x < *wi {
                return Some(self.kinds[i]);
            }
            x -= wi;
        }
        self.kinds.last().copied()
    }

    /// A run with these faults ended: it showed `new_words` and maybe a finding.
    pub fn credit(&mut self, faults: &[String], new_words: usize, finding: bool) {
        for (i, k) in self.kinds.iter().enumerate() {
            if faults.iter().any(|f| f == k) {
                self.runs[i] += 1;
                self.credit[i] += new_words as f64 + if finding { 5.0 } else { 0.0 };
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn guided_draws_the_kinds_that_paid_more_and_random_draws_alike() {
        let mut guided = Palette::new(vec!["a", "b", "c"], true);
        let mut random = Palette::new(vec!["a", "b", "c"], false);
        for p in [&mut guided, &mut random] {
            p.credit(&["a".into()], 3, false);
            p.credit(&["b".into()], 0, false);
            p.credit(&["a".into(), "b".into()], 0, true);
        }
        let mut rng = ChaCha8Rng::seed_from_u64(2);
        let count = |p: &Palette, rng: &mut ChaCha8Rng, k: &str| {
            (0..6000).filter(|_| p.pick(rng) == Some(k)).count()
        };
        // Credit 13 over 4 kind-runs: an average run earned 3.25. a: (8 + 3.25) / 3 → 38.5;
        // b: (5 + 3.25) / 3 → 28.5; c, never run, counts as average: 3.25 / 1 → 33.5.
        assert_eq!(guided.weights(), vec![38.5, 28.5, 33.5]);
        assert!(count(&guided, &mut rng, "a") > count(&guided, &mut rng, "b"));
        // A kind that ran and earned nothing sinks towards the floor, without reaching it.
        let mut dull = guided.clone();
        for _ in 0..20 {
            dull.credit(&["c".into()], 0, false);
        }
        let w = dull.weights();
        assert!(w[2] > 1.0 && w[2] < w[1] / 5.0, "{w:?}");
        let c = count(&random, &mut rng, "c");
        assert!(
            (1700..2300).contains(&c),
            "random draws alike: c {c} of 6000"
        );
    }
}
