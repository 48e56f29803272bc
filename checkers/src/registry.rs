//! The check registry: every check a run can have, in one list, in report order.
//!
//! A check's id is what a scenario's `[expect]` names (`mutual_exclusion = "holds"`), what
//! results.json, the suite and the matrix key their counts by, and what the page and JUnit show
//! by name. Everything about a check that is not its computation lives in its registry line: its
//! name for people, when it applies (from the run's [`Shape`]), why not and the fix when a
//! scenario expects it where it cannot apply, whether a scenario may state an expectation of it,
//! whether it is advisory (shown, not merged), and the evidence floors it reads
//! ([`crate::Minimums`] fields). The scenario's expectations, the judging, the page, JUnit and
//! the matrix read this list; nothing downstream lists check ids by hand.
//!
//! Adding a check: its file (the checker, whose [`crate::Check`] names its registry entry) and
//! one line below.

/// What a run is, as far as which checks apply: computed from the scenario by the harness.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Shape {
    /// Clients take a lock.
    pub lock: bool,
    /// The lock is released by a plain `DEL` (it can delete another client's key).
    pub release_by_del: bool,
    /// Clients access the protected resource.
    pub resource: bool,
    /// Clients count (`INCR`, or a lock-guarded read-modify-write).
    pub counter: bool,
    /// Clients ask a rate limiter.
    pub limiter: bool,
    /// Producers publish and receivers receive.
    pub messaging: bool,
    /// The scenario states the longest stretch without acknowledged work it allows.
    pub availability: bool,
    /// The lock nodes' own record is read (taps on nodes fencepost starts, not behind Sentinel).
    pub nodes_record: bool,
    /// The scenario injects faults.
    pub faults: bool,
}

/// One check's registry entry.
#[derive(Debug)]
pub struct CheckKind {
    /// Stable id: `[expect]` keys, results.json and tallies.
    pub id: &'static str,
    /// For people.
    pub name: &'static str,
    /// A short name, for table columns and tallies.
    pub label: &'static str,
    /// Whether it applies to a run of this shape.
    pub applies: fn(&Shape) -> bool,
    /// Why an expectation of it cannot apply, and the fix.
    pub not_applicable: &'static str,
    /// A scenario may state an expectation of it (`[expect] id = "holds" | "violated"`).
    pub expectable: bool,
    /// Shown, but not merged into the run's verdict.
    pub advisory: bool,
    /// The [`crate::Minimums`] fields it needs before it may say `valid`.
    pub floors: &'static [&'static str],
}

macro_rules! registry {
    ($($konst:ident = $id:literal, $name:literal, $label:literal, applies $applies:expr,
       expectable $expectable:literal, advisory $advisory:literal, floors [$($floor:literal),*],
       not_applicable $not:literal;)*) => {
        $(
            #[doc = concat!("The `", $id, "` check.")]
            pub const $konst: CheckKind = CheckKind {
                id: $id,
                name: $name,
                label: $label,
                applies: $applies,
                not_applicable: $not,
                expectable: $expectable,
                advisory: $advisory,
                floors: &[$($floor),*],
            };
        )*

        /// Every check, in report order.
        pub const CHECKS: &[CheckKind] = &[$($konst),*];
    };
}

registry! {
    MUTUAL_EXCLUSION = "mutual_exclusion", "mutual exclusion", "mutual exclusion", applies |s| s.lock,
        expectable true, advisory false, floors ["grants"],
        not_applicable "[expect] mutual_exclusion needs clients that take the lock: [workload] kind = \"lock\" or \"rmw-counter\"";
    DOUBLE_GRANT = "double_grant", "double grant", "double grant", applies |s| s.lock,
        expectable true, advisory false, floors ["grants"],
        not_applicable "[expect] double_grant needs clients that take the lock: [workload] kind = \"lock\" or \"rmw-counter\"";
    FOREIGN_RELEASE = "foreign_release", "release of another client's lock", "foreign release",
        applies |s| s.lock && s.release_by_del,
        expectable true, advisory false, floors ["releases"],
        not_applicable "[expect] foreign_release applies to a lock released by plain DEL ([lock] kind = \"naive\"): a compare-and-delete release can only delete its own token, so no other lock's release can be judged this way";
    LINEARIZABILITY = "linearizability", "lock as a mutex with owners", "linearizability", applies |s| s.lock,
        expectable false, advisory true, floors [],
        not_applicable "[expect] linearizability is advisory (lease expiry is not an op of the mutex model): it is shown, never expected";
    BLAME = "blame", "blame (the library's answers, against the nodes' own record)", "blame",
        applies |s| s.lock && s.nodes_record,
        expectable true, advisory false, floors ["grants"],
        not_applicable "[expect] blame judges a lock's answers against the lock nodes' own record: it needs [workload] kind = \"lock\" and no [sentinel]";
    FENCING = "fencing", "fencing", "fencing", applies |s| s.resource,
        expectable true, advisory false, floors ["accesses"],
        not_applicable "[expect] fencing judges the protected resource, which only [workload] kind = \"lock\" uses";
    LOST_UPDATES = "lost_updates", "lost updates", "lost updates", applies |s| s.resource,
        expectable true, advisory false, floors ["writes"],
        not_applicable "[expect] lost_updates judges the protected resource, which only [workload] kind = \"lock\" uses";
    COUNTER = "counter", "counter (lost or duplicated increments)", "counter", applies |s| s.counter,
        expectable true, advisory false, floors ["adds"],
        not_applicable "[expect] counter needs [workload] kind = \"counter\" or \"rmw-counter\"";
    RATE_WINDOW = "rate_window", "rate window", "rate window", applies |s| s.limiter,
        expectable true, advisory false, floors ["admitted", "rejected"],
        not_applicable "[expect] rate_window needs a rate-limiter workload";
    AVAILABILITY = "availability", "availability", "availability", applies |s| s.availability,
        expectable true, advisory false, floors [],
        not_applicable "[expect] availability needs availability_gap = \"8s\": the longest the workload may go without acknowledged work";
    MESSAGE_LOSS = "message_loss", "message loss", "message loss", applies |s| s.messaging,
        expectable true, advisory false, floors ["messages"],
        not_applicable "[expect] message_loss needs a messaging workload: [workload] kind = \"pubsub\" or \"stream\"";
    MESSAGE_DUPLICATION = "message_duplication", "message duplication", "message duplication", applies |s| s.messaging,
        expectable true, advisory false, floors ["messages"],
        not_applicable "[expect] message_duplication needs a messaging workload: [workload] kind = \"pubsub\" or \"stream\"";
    MESSAGE_ORDER = "message_order", "per-producer message order", "message order", applies |s| s.messaging,
        expectable false, advisory true, floors [],
        not_applicable "[expect] message_order is advisory (a consumer group promises no order across its consumers): it is shown, never expected";
    FAULTS = "faults", "faults took effect", "faults", applies |s| s.faults,
        expectable false, advisory false, floors ["faults"],
        not_applicable "[expect] faults is not an expectation: every fault of a scenario must take effect, or nothing is met ([evidence] faults sets how often)";
}

/// The entry of check `id`.
pub fn get(id: &str) -> Option<&'static CheckKind> {
    CHECKS.iter().find(|c| c.id == id)
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
