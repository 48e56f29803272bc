//! The fault kinds explore draws from, and how often.
//!
//! Unguided (`--random`), every kind is drawn alike. Guided, a kind earns credit when a run it
//! was part of showed something new — 1 for new signature words (however many: a fault that
//! makes the record noisy mints many words a run, and counting them let such faults starve the
//! quiet ones), 5 for each finding group no earlier run had (a repeat of a known finding earns
//! nothing: a gc-pause that breaks mutual exclusion every run says nothing new the tenth time) —
//! and is drawn in proportion to
//! `1 + 10 × ((credit + m) / (runs + 1) + m × √(2 ln(N + 1) / (runs + 1)))`, where `m` is the
//! credit an average run earned and `N` all kinds' runs together: the search spends its runs on
//! the faults that paid (as a coverage-guided fuzzer spends them on the mutations that did),
//! while a kind that has had few runs counts as average until its runs say otherwise, and the
//! second term — UCB1's exploration bonus, in units of an average run's credit — grows for a
//! kind the longer it goes untried. Without it, kinds that minted words early took the runs for
//! good: `latency`, the fault every late grant needs, got 2 of the first 101 runs of a
//! python-redis-lock explore (random draws give it about one run in six).

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
                    let tried = f64::from(self.runs[i] + 1);
                    let bonus = mean * (2.0 * f64::from(runs + 1).ln() / tried).sqrt();
                    1.0 + 10.0 * ((self.credit[i] + mean) / tried + bonus)
                } else {
                    1.0
                }
            })
            .collect()
    }

    /// A kind, by weight; None when there is none.
    pub fn pick(&self, rng: &mut ChaCha8Rng) -> Option<&'static str> {
        weighted(&self.weights(), rng).map(|i| self.kinds[i])
    }

    /// One of `among` (kinds of a schedule), by weight; None when none of them is a kind of
    /// this palette.
    pub fn pick_among(&self, among: &[&str], rng: &mut ChaCha8Rng) -> Option<&'static str> {
        let w: Vec<f64> = self
            .weights()
            .into_iter()
            .zip(&self.kinds)
            .map(|(w, k)| if among.contains(k) { w } else { 0.0 })
            .collect();
        weighted(&w, rng).map(|i| self.kinds[i])
    }

    /// A run with these faults ended: it showed `new_words` and `new_groups` findings no
    /// earlier run had.
    pub fn credit(&mut self, faults: &[String], new_words: usize, new_groups: usize) {
        for (i, k) in self.kinds.iter().enumerate() {
            if faults.iter().any(|f| f == k) {
                self.runs[i] += 1;
                self.credit[i] += novelty(new_words, new_groups);
            }
        }
    }
}

/// An index drawn in proportion to `weights` (never one of weight 0); None when they sum to
/// nothing.
pub fn weighted(weights: &[f64], rng: &mut ChaCha8Rng) -> Option<usize> {
    let total: f64 = weights.iter().sum();
    if total <= 0.0 {
        return None;
    }
    let mut x = rng.random_range(0.0..total);
    let last = weights.iter().rposition(|w| *w > 0.0)?;
    for (i, w) in weights.iter().enumerate() {
        if x < *w {
            return Some(i);
        }
        x -= w;
    }
    Some(last)
}

/// What a run showed that no earlier run had: 1 for new words (however many), 5 for each new
/// finding group. The corpus and the palette reward the same thing.
pub fn novelty(new_words: usize, new_groups: usize) -> f64 {
    f64::from(u8::from(new_words > 0)) + 5.0 * new_groups as f64
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
            p.credit(&["a".into()], 3, 0);
            p.credit(&["a".into()], 1, 0);
            p.credit(&["b".into()], 0, 0);
            p.credit(&["a".into(), "b".into()], 0, 1);
        }
        let mut rng = ChaCha8Rng::seed_from_u64(2);
        let count = |p: &Palette, rng: &mut ChaCha8Rng, k: &str| {
            (0..6000).filter(|_| p.pick(rng) == Some(k)).count()
        };
        // Three new words earn what one does. Credit 12 over 5 kind-runs: an average run earned
        // 2.4. a: (7 + 2.4) / 4; b: (5 + 2.4) / 3; c, never run, counts as average: 2.4 / 1;
        // each with 2.4 × √(2 ln 6 / (runs + 1)) for being tried less.
        let w = guided.weights();
        let bonus = |tried: f64| 2.4 * (2.0 * 6f64.ln() / tried).sqrt();
        let want = [
            1.0 + 10.0 * (9.4 / 4.0 + bonus(4.0)),
            1.0 + 10.0 * (7.4 / 3.0 + bonus(3.0)),
            1.0 + 10.0 * (2.4 + bonus(1.0)),
        ];
        assert!(
            w.iter().zip(want).all(|(a, b)| (a - b).abs() < 1e-9),
            "{w:?}"
        );
        // A finding group earns more than new words; a repeat of one earns nothing.
        let mut repeat = guided.clone();
        for _ in 0..10 {
            repeat.credit(&["b".into()], 0, 0);
        }
        assert!(repeat.weights()[1] < guided.weights()[1] / 3.0);
        assert!(count(&guided, &mut rng, "b") > count(&guided, &mut rng, "a") * 9 / 10);
        // A kind that ran and earned nothing sinks below the kinds that paid, without reaching
        // the floor.
        let mut dull = guided.clone();
        for _ in 0..20 {
            dull.credit(&["c".into()], 0, 0);
        }
        let w = dull.weights();
        assert!(w[2] > 1.0 && w[2] < w[1] / 2.0, "{w:?}");
        // And one left untried while the others run on is drawn again: after 200 runs of a and b
        // (a paying now and then), c — tried once, for nothing — weighs as much as b, which ran
        // 100 times for nothing.
        let mut busy = Palette::new(vec!["a", "b", "c"], true);
        busy.credit(&["c".into()], 0, 0);
        for i in 0..100 {
            busy.credit(&["a".into()], usize::from(i % 10 == 0), 0);
            busy.credit(&["b".into()], 0, 0);
        }
        let w = busy.weights();
        assert!(w[2] > w[1], "{w:?}");
        // Among a schedule's kinds: only those, by weight (c, which paid nothing, seldom).
        let among: Vec<_> = (0..3000)
            .map(|_| dull.pick_among(&["b", "c", "z"], &mut rng).unwrap())
            .collect();
        let c_share = among.iter().filter(|k| **k == "c").count();
        assert!(among.iter().all(|k| *k == "b" || *k == "c"));
        assert!((100..1000).contains(&c_share), "c {c_share} of 3000: {w:?}");
        assert_eq!(dull.pick_among(&["z"], &mut rng), None);
        let c = count(&random, &mut rng, "c");
        assert!(
            (1700..2300).contains(&c),
            "random draws alike: c {c} of 6000"
        );
    }
}
