//! Validity: how long the library said the lock is the client's, against the lease the nodes
//! granted. A client acts inside the validity its library promised; a promise past the lease
//! (a validity computed from a wall clock that stepped back, an extension that reports the ttl
//! asked for while the script set less) lets it act after another client may hold the lock —
//! and that is the library's answer, not physics.
//!
//! The lease is the one the nodes *granted* ([`crate::node_record::Lease`]), placed generously,
//! not when the key happened to expire: a node whose clock jumps ends its leases early, which no
//! library can know. For a Redlock the lease is the majority's: the need-th latest end among
//! the nodes that set the token.

use super::judge::{short, Done, Judge};
use super::{FindingKind, PROMISE_SLACK_NS};
use crate::history::{Grant, Nanos};
use crate::node_record::Held;

impl Judge<'_> {
    /// The validity a grant promised, against the leases its `SET`s were given.
    pub(super) fn grant_validity(&mut self, d: &Done, g: &Grant, sets: &[&Held]) {
        let ends: Vec<Nanos> = sets
            .iter()
            .filter_map(|h| h.lease_granted_between(d.from, d.to).map(|l| l.until_ns))
            .collect();
        self.validity(
            d,
            g.validity_end_ns,
            ends,
            FindingKind::ValidityBeyondLease,
            &g.token,
        );
    }

    /// The validity an extension promised, against the leases the nodes granted the token
    /// during the call.
    pub(super) fn extension_validity(&mut self, d: &Done, token: &str, promised_ns: Nanos) {
        let ends: Vec<Nanos> = self
            .nodes
            .iter()
            .filter_map(|n| {
                self.rec
                    .held
                    .iter()
                    .filter(|h| &h.node == n && h.value == token)
                    .filter_map(|h| h.lease_granted_between(d.from, d.to))
                    .map(|l| l.until_ns)
                    .max()
            })
            .collect();
        self.validity(
            d,
            promised_ns,
            ends,
            FindingKind::ExtendValidityBeyondLease,
            token,
        );
    }

    /// A promise ending at `promised_ns` against the lease ends `ends` of the nodes that
    /// granted one; judged only when a majority's leases are on record.
    fn validity(
        &mut self,
        d: &Done,
        promised_ns: Nanos,
        mut ends: Vec<Nanos>,
        kind: FindingKind,
        token: &str,
    ) {
        // A validity of 0 (ending at the return) says the lease is already over: no promise.
        if promised_ns <= d.at || ends.len() < self.need {
            return;
        }
        ends.sort_unstable_by(|a, b| b.cmp(a));
        let lease_end = ends[self.need - 1];
        self.judged("validity");
        let margin_us = (lease_end as i64 - promised_ns as i64) / 1_000;
        let closest = self.report.closest_validity_us.get_or_insert(margin_us);
        *closest = (*closest).min(margin_us);
        if promised_ns <= lease_end + PROMISE_SLACK_NS || self.frozen(d) {
            return;
        }
        let what = if kind == FindingKind::ValidityBeyondLease {
            "acquire"
        } else {
            "extend"
        };
        self.report.findings.push(d.finding(
            kind,
            None,
            format!(
                "{what} (op {}) returned at {:.3} s promising the lock until {:.3} s ({:.0} ms from the return), but the nodes granted token {} a lease only until {:.3} s: the library promised {:.0} ms more than the nodes gave",
                d.c.invoke.index,
                d.at as f64 / 1e9,
                promised_ns as f64 / 1e9,
                promised_ns.saturating_sub(d.at) as f64 / 1e6,
                short(token),
                lease_end as f64 / 1e9,
                -(margin_us as f64) / 1e3
            ),
        ));
    }
}
