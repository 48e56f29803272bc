//! Foreign releases: did a release delete a lock another client held?
//!
//! Only a release by plain `DEL` can (the `naive` lock, the pattern the Redis docs warn about): a
//! compare-and-delete release deletes nothing but its own token, so this checker applies to locks
//! that release by `DEL` and is not run for the others. A release that deleted a key
//! (`Released`) while another client's grant surely held the key ([`crate::lease`]) for the
//! whole release call deleted that client's lock. Judged by time alone: fencing tokens are never
//! compared, so grants from different masters cannot be mistaken for one sequence.

use crate::check::{Check, Evidence, Minimums};
use crate::history::{Call, Nanos, Process, Value};
use crate::lease::leases;
use serde::{Deserialize, Serialize};

use crate::check::CheckKind;

/// This check's registry entry ([`crate::registry`]).
pub const KIND: CheckKind = CheckKind {
    id: "foreign_release",
    name: "release of another client's lock",
    label: "foreign release",
    applies: |s| s.lock && s.release_by_del,
    not_applicable: "[expect] foreign_release applies to a lock released by plain DEL ([lock] kind = \"naive\"): a compare-and-delete release can only delete its own token, so no other lock's release can be judged this way",
    expectable: true,
    advisory: false,
    floors: &["releases"],
    judge: None,
};

/// A release that deleted a lock granted to another client.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ForeignRelease {
    pub process: Process,
    pub fence: u64,
    /// History index of the release's invocation.
    pub index: u64,
    pub invoke_ns: Nanos,
    /// The holder whose lock was deleted.
    pub victim: Option<Process>,
    pub victim_fence: Option<u64>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ForeignReleaseReport {
    pub releases: u64,
    pub foreign_releases: Vec<ForeignRelease>,
}

pub fn check(calls: &[Call]) -> ForeignReleaseReport {
    let all = leases(calls);
    let mut report = ForeignReleaseReport::default();
    for l in &all {
        let Some(r) = &l.release else { continue };
        report.releases += 1;
        let (Some(Value::Released), Some(done)) = (&r.result, r.complete_ns) else {
            continue;
        };
        // The holder whose key surely lived through the whole release call.
        let victim = all
            .iter()
            .filter(|o| o.process != l.process && o.covers(r.invoke_ns, done))
            .max_by_key(|o| o.start_ns);
        if let Some(v) = victim {
            report.foreign_releases.push(ForeignRelease {
                process: l.process,
                fence: l.fence,
                index: r.index,
                invoke_ns: r.invoke_ns,
                victim: Some(v.process),
                victim_fence: Some(v.fence),
            });
        }
    }
    report
}

pub fn entry(r: &ForeignReleaseReport, min: &Minimums) -> Check {
    let n = r.foreign_releases.len() as u64;
    let details = r
        .foreign_releases
        .iter()
        .take(3)
        .map(|f| {
            let victim = match (f.victim, f.victim_fence) {
                (Some(v), Some(fence)) => format!("{v}'s lock (fence {fence})"),
                _ => "another client's lock".into(),
            };
            format!(
                "release by {} (fence {}, op {}) at {:.3} s deleted {victim}",
                f.process,
                f.fence,
                f.index,
                f.invoke_ns as f64 / 1e9
            )
        })
        .collect();
    Check::judged(
        &KIND,
        "releases by plain DEL that deleted a key while another client's grant surely held it",
        n,
        vec![Evidence::new("releases", r.releases, min.releases)],
    )
    .headline(format!("{n} release(s) deleted another client's lock"))
    .details(details)
    .first_violation(r.foreign_releases.iter().map(|f| f.invoke_ns).min())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixture::B;
    use crate::history::F;

    #[test]
    fn refused_release_is_not_a_foreign_release() {
        let mut b = B::default();
        b.acquire(0, 5, 0, 1).access(6, 8, 0, 1, F::Write);
        b.acquire(150, 155, 1, 2).access(156, 158, 1, 2, F::Write);
        b.release(200, 201, 0, 1, Value::NotHeld);
        let r = check(&b.history().calls());
        assert!(r.foreign_releases.is_empty());
    }

    #[test]
    fn naive_release_of_another_clients_lock_is_named() {
        // Client 1 holds fence 2 (its key surely lives 100 ms from 150 ns); client 0's DEL
        // returns 1 inside that.
        let mut b = B::default();
        b.acquire(0, 5, 0, 1).access(6, 8, 0, 1, F::Write);
        b.acquire(150, 155, 1, 2).access(156, 158, 1, 2, F::Read);
        b.release(200, 201, 0, 1, Value::Released);
        b.access(210, 212, 1, 2, F::Write)
            .release(213, 214, 1, 2, Value::NotHeld);
        let r = check(&b.history().calls());
        assert_eq!(r.foreign_releases.len(), 1);
        let fr = &r.foreign_releases[0];
        assert_eq!(fr.process, Process::Client(0));
        assert_eq!(fr.victim, Some(Process::Client(1)));
        assert_eq!(fr.victim_fence, Some(2));
    }

    #[test]
    fn a_release_after_the_other_lease_ended_deleted_nothing_of_its() {
        // In milliseconds: client 0's 100 ms lease ran out before client 1 took the lock.
        const MS: u64 = 1_000_000;
        let mut b = B::default();
        b.acquire(0, 5 * MS, 0, 1);
        b.acquire(150 * MS, 155 * MS, 1, 2)
            .release(160 * MS, 161 * MS, 1, 2, Value::Released);
        b.release(200 * MS, 201 * MS, 0, 1, Value::Released);
        assert!(check(&b.history().calls()).foreign_releases.is_empty());
    }
}
