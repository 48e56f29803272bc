//! Extended, and renewed: did the nodes extend (or re-set) the client's token, without
//! re-taking a lapsed lease? And did a background renewal re-take one?

use super::judge::{key_of, short};
use super::judge::{Done, Judge};
use super::{Finding, FindingKind};
use crate::history::{Nanos, Process};
use crate::node_record::Held;

impl Judge<'_> {
    /// An extension: did the nodes extend (or re-set) the client's token, and without
    /// re-taking a lapsed lease?
    pub(super) fn extension(&mut self, d: &Done, validity_end_ns: Nanos) {
        let (rec, nodes, need) = (self.rec, self.nodes, self.need);
        let Some(token) = self
            .last_token
            .get(&d.c.process)
            .filter(|t| !t.is_empty())
            .cloned()
        else {
            return;
        };
        self.setting.push((token.clone(), d.from, d.to));
        let extended = nodes
            .iter()
            .filter(|n| {
                // The token was held across the call (its expiry moved), or re-set in it.
                rec.at(n, &key_of(rec, n, &token), d.c.invoke_ns())
                    .is_some_and(|h| h.value == token)
                    || rec.set_between(n, &token, d.from, d.to).is_some()
            })
            .count();
        let retook = nodes
            .iter()
            .filter_map(|n| rec.set_between(n, &token, d.from, d.to))
            .find(|h| h.retaken_after_ns.is_some());
        self.judged("extended");
        if let Some(h) = retook {
            self.report.findings.push(extension_retook(d, &token, h));
        } else if extended < need
            && extended
                + nodes
                    .iter()
                    .filter(|n| rec.blind_during(n, d.c.invoke_ns(), d.to))
                    .count()
                < need
        {
            self.report.findings.push(d.finding(
                FindingKind::ExtendNotMade,
                None,
                format!(
                    "extend (op {}) returned extended at {:.3} s, but {extended} of {} node(s) held or re-set token {} during the call",
                    d.c.invoke.index,
                    d.at as f64 / 1e9,
                    nodes.len(),
                    short(&token)
                ),
            ));
        } else if !nodes
            .iter()
            .any(|n| rec.blind_during(n, d.c.invoke_ns(), d.to))
        {
            // (A node blind over the call cannot say when the lease it extended ends.)
            self.extension_validity(d, &token, validity_end_ns);
        }
    }

    /// Renewals: a token re-set after it lapsed, outside every call of its owner's.
    pub(super) fn renewals(&mut self) {
        for h in self
            .rec
            .held
            .iter()
            .filter(|h| h.retaken_after_ns.is_some())
        {
            let during_call = self
                .setting
                .iter()
                .any(|(t, from, to)| *t == h.value && *from <= h.from_ns && h.from_ns <= *to);
            if during_call || !self.nodes.contains(&h.node) {
                continue;
            }
            let Some(p) = self.holder_of(&h.value) else {
                continue;
            };
            self.report.findings.push(renewal_retook(h, p));
        }
    }
}

/// An extension that re-set `token` on `h.node` after the node had let it go.
fn extension_retook(d: &Done, token: &str, h: &Held) -> Finding {
    d.finding(
        FindingKind::ExtendRetook,
        None,
        format!(
            "extend (op {}) at {:.3} s re-set token {} on {} after the node had let it go at {:.3} s: the lease lapsed in between and was taken again, so another client could have held the lock meanwhile",
            d.c.invoke.index,
            d.c.invoke_ns() as f64 / 1e9,
            short(token),
            h.node,
            h.retaken_after_ns.unwrap_or(0) as f64 / 1e9
        ),
    )
}

/// A node re-set `p`'s token after letting it go, with no call of `p`'s running.
fn renewal_retook(h: &Held, p: Process) -> Finding {
    Finding {
        kind: FindingKind::RenewalRetook,
        process: p,
        index: 0,
        invoke_ns: h.from_ns,
        complete_ns: h.from_ns,
        other: None,
        detail: format!(
            "{} re-set {p}'s token {} at {:.3} s after letting it go at {:.3} s, with no acquire or extend of {p} running: a background renewal re-took a lapsed lease",
            h.node,
            short(&h.value),
            h.from_ns as f64 / 1e9,
            h.retaken_after_ns.unwrap_or(0) as f64 / 1e9
        ),
    }
}
