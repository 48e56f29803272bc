//! The check registry: every check a run can have, in one list, in report order.
//!
//! A check's id is what a scenario's `[expect]` names (`mutual_exclusion = "holds"`), what
//! results.json, the suite and the matrix key their counts by, and what the page and JUnit show
//! by name. Everything about a check that is not its computation is its [`CheckKind`], declared
//! in the check's own file: its name and short label, when it applies (from the run's [`Shape`]),
//! why not and the fix when a scenario expects it where it cannot apply, whether a scenario may
//! state an expectation of it, whether it is advisory (shown, not merged), the evidence floors it
//! reads ([`crate::Minimums`] fields), and — for a check that reads the whole history — how it
//! judges. The scenario's expectations, the judging, the page, JUnit and the matrix read this
//! list; nothing downstream lists check ids by hand.
//!
//! Adding a check: its file (the checker and its `KIND`) and one line below.

pub use crate::check::{CheckKind, Judging, Shape};

/// Every check, in report order.
pub const CHECKS: &[&CheckKind] = &[
    &crate::exclusion::KIND,
    &crate::double_grant::KIND,
    &crate::foreign_release::KIND,
    &crate::linearizable::LOCK_KIND,
    &crate::blame::KIND,
    &crate::orphan_lock::KIND,
    &crate::fencing::KIND,
    &crate::lost_updates::KIND,
    &crate::counter::KIND,
    &crate::window::KIND,
    &crate::availability::KIND,
    &crate::delivery::LOSS,
    &crate::delivery::DUPLICATION,
    &crate::delivery::ORDER,
    &crate::faults::KIND,
];

/// The entry of check `id`.
pub fn get(id: &str) -> Option<&'static CheckKind> {
    CHECKS.iter().copied().find(|c| c.id == id)
}

/// The name of check `id` (the id itself for one the registry does not know: an old run's).
pub fn name(id: &str) -> &str {
    get(id).map_or(id, |c| c.name)
}

/// The short name of check `id`, for columns and tallies.
pub fn label(id: &str) -> &str {
    get(id).map_or(id, |c| c.label)
}

/// Where check `id` stands in report order (unknown ids last).
pub fn position(id: &str) -> usize {
    CHECKS
        .iter()
        .position(|c| c.id == id)
        .unwrap_or(CHECKS.len())
}

/// The checks a scenario may state an expectation of, applying to a run of this shape.
pub fn expectable(shape: &Shape) -> impl Iterator<Item = &'static CheckKind> + '_ {
    CHECKS
        .iter()
        .copied()
        .filter(move |c| c.expectable && (c.applies)(shape))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_unique_and_floors_name_minimums() {
        let mut ids: Vec<&str> = CHECKS.iter().map(|c| c.id).collect();
        ids.sort_unstable();
        ids.dedup();
        assert_eq!(ids.len(), CHECKS.len());
        let known = [
            "grants", "accesses", "writes", "releases", "adds", "admitted", "rejected", "faults",
            "messages",
        ];
        for c in CHECKS {
            for f in c.floors {
                assert!(known.contains(f), "{}: floor {f}", c.id);
            }
            assert!(c.not_applicable.contains(c.id), "{}", c.id);
        }
    }
}
