//! "Did you mean": the closest known name to one a user mistyped, and the list to choose from.
//!
//! Every place that takes a name from a user — a scenario, a fault kind, an adapter, a library,
//! a suite's `--only` — answers an unknown one the same way: the nearest name when one is close
//! (a typo), and every name it knows.

/// Edit distance (insertions, deletions, substitutions) between two short names.
fn distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut diag = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let next = (diag + usize::from(ca != *cb))
                .min(row[j] + 1)
                .min(row[j + 1] + 1);
            diag = row[j + 1];
            row[j + 1] = next;
        }
    }
    row[b.len()]
}

/// The known name closest to `input`, if it is close enough to be a typo of it.
pub fn closest<'a>(input: &str, known: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    let limit = (input.chars().count() / 3).max(2);
    known
        .into_iter()
        .map(|k| (distance(input, k), k))
        .filter(|(d, _)| *d <= limit)
        .min_by_key(|(d, k)| (*d, *k))
        .map(|(_, k)| k)
}

/// " (did you mean `x`?)" or "".
pub fn did_you_mean<'a>(input: &str, known: impl IntoIterator<Item = &'a str>) -> String {
    closest(input, known).map_or_else(String::new, |k| format!(" (did you mean `{k}`?)"))
}

/// `input` is unknown: "unknown WHAT `input` (did you mean `x`?); the WHATs are a, b, c".
pub fn unknown<S: AsRef<str>>(what: &str, input: &str, known: &[S]) -> String {
    let names: Vec<&str> = known.iter().map(AsRef::as_ref).collect();
    format!(
        "unknown {what} `{}`{}; known: {}",
        checkers::quote::clip(input),
        did_you_mean(input, names.iter().copied()),
        if names.is_empty() {
            "none".to_string()
        } else {
            names.join(", ")
        }
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_typo_finds_its_name_and_a_stranger_none() {
        let known = ["gc-pause", "gc-pause-fenced", "baseline", "partition"];
        assert_eq!(closest("gc-pase", known), Some("gc-pause"));
        assert_eq!(closest("basline", known), Some("baseline"));
        assert_eq!(closest("partiton", known), Some("partition"));
        assert_eq!(closest("nosuch", known), None);
        assert_eq!(distance("kitten", "sitting"), 3);
        let msg = unknown("scenario", "gc-pase", &known);
        assert!(msg.contains("did you mean `gc-pause`?"), "{msg}");
        assert!(msg.contains("baseline, partition"), "{msg}");
    }
}
