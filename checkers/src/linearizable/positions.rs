//! Event positions: the numbers that order a history's invocations and completions (an op's
//! index in the file, or Jepsen's `:index`). They are distinct and nearly dense, so checking
//! them for duplicates and putting events in their order need no sort: a bit or a slot per
//! position does it in one pass (sorting two million of them was a tenth of a million-op
//! check). Positions spread too thinly for that are sorted as before.

/// Positions spread over more than this many times their count (plus a little) are sorted.
const SPREAD: u64 = 4;

/// The span of positions from the smallest, if dense enough for a slot per position.
fn dense_span(min: u64, max: u64, count: usize) -> Option<usize> {
    let span = max - min + 1;
    (span <= SPREAD * count as u64 + 64).then_some(span as usize)
}

/// The smallest position that appears more than once, if any.
pub(crate) fn first_duplicate(positions: &[u64]) -> Option<u64> {
    let (Some(&min), Some(&max)) = (positions.iter().min(), positions.iter().max()) else {
        return None;
    };
    let Some(span) = dense_span(min, max, positions.len()) else {
        let mut sorted = positions.to_vec();
        sorted.sort_unstable();
        return sorted.windows(2).find(|w| w[0] == w[1]).map(|w| w[0]);
    };
    let mut seen = vec![0u64; span.div_ceil(64)];
    let mut duplicate: Option<u64> = None;
    for &p in positions {
        let i = (p - min) as usize;
        let (word, bit) = (i / 64, 1u64 << (i % 64));
        if seen[word] & bit != 0 {
            duplicate = Some(duplicate.map_or(p, |d| d.min(p)));
        }
        seen[word] |= bit;
    }
    duplicate
}

/// The items in order of their positions (ties, which validated events never have, in their
/// given order).
pub(crate) fn in_order<T>(mut items: Vec<(u64, T)>) -> Vec<T> {
    let min = items.iter().map(|e| e.0).min().unwrap_or(0);
    let max = items.iter().map(|e| e.0).max().unwrap_or(0);
    let Some(span) = dense_span(min, max, items.len()).filter(|_| !items.is_empty()) else {
        items.sort_by_key(|e| e.0);
        return items.into_iter().map(|e| e.1).collect();
    };
    let mut slots: Vec<Option<T>> = std::iter::repeat_with(|| None).take(span).collect();
    let mut tied = Vec::new();
    for (p, t) in items {
        let slot = &mut slots[(p - min) as usize];
        if slot.is_some() {
            tied.push((p, t));
        } else {
            *slot = Some(t);
        }
    }
    if tied.is_empty() {
        return slots.into_iter().flatten().collect();
    }
    // Put back in order: each slot's item before the ones that tied with it.
    let mut all: Vec<(u64, T)> = slots
        .into_iter()
        .enumerate()
        .filter_map(|(i, t)| t.map(|t| (min + i as u64, t)))
        .collect();
    all.extend(tied);
    all.sort_by_key(|e| e.0);
    all.into_iter().map(|e| e.1).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Dense, sparse and tied positions: the same answers as sorting.
    #[test]
    fn agree_with_sorting() {
        let mut x = 11u64;
        let mut next = |n: u64| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x % n
        };
        for case in 0..3_000 {
            let len = next(60) as usize;
            let spread = [2, 5, 1_000, u64::MAX / 4][case % 4];
            let base = next(1 << 40);
            let positions: Vec<u64> = (0..len)
                .map(|_| base + next(spread.max(1) * 4 + 1))
                .collect();
            let mut sorted = positions.clone();
            sorted.sort_unstable();
            let want = sorted.windows(2).find(|w| w[0] == w[1]).map(|w| w[0]);
            assert_eq!(first_duplicate(&positions), want, "{positions:?}");
            let items: Vec<(u64, usize)> = positions.iter().copied().zip(0..).collect();
            let mut want = items.clone();
            want.sort_by_key(|e| e.0);
            let want: Vec<usize> = want.into_iter().map(|e| e.1).collect();
            assert_eq!(in_order(items), want, "{positions:?}");
        }
        assert_eq!(first_duplicate(&[]), None);
        assert_eq!(in_order(Vec::<(u64, u8)>::new()), Vec::<u8>::new());
    }
}
