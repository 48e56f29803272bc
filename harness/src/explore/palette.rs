//! The fault kinds explore draws from, and how often.
//!
//! Unguided (`--random`), every kind is drawn alike. Guided, a kind earns credit when a run it
//! was part of showed new signature words or a finding, and is drawn in proportion to
//! `1 + 10 × credit per run` — the search spends its runs on the faults that paid (as a
//! coverage-guided fuzzer spends them on the mutations that did), and the floor of 1 keeps
//! every kind in play.

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
        (0..self.kinds.len())
            .map(|i| {
                if self.guided {
                    1.0 + 10.0 * self.credit[i] / f64::from(self.runs[i].max(1))
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
        // a: (3 + 5) / 2 runs → 41; b: 5 / 2 → 26; c: never ran → 1.
        assert_eq!(guided.weights(), vec![41.0, 26.0, 1.0]);
        assert!(count(&guided, &mut rng, "a") > count(&guided, &mut rng, "b"));
        assert!(
            count(&guided, &mut rng, "c") > 0,
            "a kind that never paid is still drawn"
        );
        let c = count(&random, &mut rng, "c");
        assert!(
            (1700..2300).contains(&c),
            "random draws alike: c {c} of 6000"
        );
    }
}
