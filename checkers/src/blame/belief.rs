//! Held: the library's answer to "do you still hold the lock?" against the leases the nodes
//! granted. "Held" while fewer than a majority of the nodes held the token, or still had a lease
//! for it that they had granted, is a belief no correct lock may report: the client goes on to
//! act on it. The lease counts as granted even when a node's clock ended it early, and a node
//! whose stream was lost counts as holding: neither is the library's to know.

use super::judge::{short, Done, Judge};
use super::{FindingKind, PROMISE_SLACK_NS};

impl Judge<'_> {
    /// `node` held `token`, or had granted it a lease, at some moment of the call.
    fn under_lease(&self, node: &str, token: &str, d: &Done) -> bool {
        let invoke = d.c.invoke_ns();
        self.rec.blind_during(node, d.from, d.at)
            || self.rec.held.iter().any(|h| {
                h.node == node
                    && h.value == token
                    && h.from_ns <= d.to
                    && if h.leases.is_empty() {
                        // No lease read from the stream (a key set without expiry): the key's
                        // own span is what the node held.
                        h.to_ns.is_none_or(|t| t + PROMISE_SLACK_NS >= invoke)
                    } else {
                        // A key whose lease ended is free on the node even before its
                        // expiry reaches the stream.
                        h.leases
                            .iter()
                            .any(|l| l.at_ns <= d.to && l.until_ns + PROMISE_SLACK_NS >= invoke)
                    }
            })
    }

    /// The library said it still holds the lock.
    pub(super) fn belief(&mut self, d: &Done) {
        let Some(token) = self.token_of(d.c.process) else {
            return;
        };
        self.judged("held");
        let under = self
            .nodes
            .iter()
            .filter(|n| self.under_lease(n, &token, d))
            .count();
        if under >= self.need || self.frozen(d) {
            return;
        }
        let last_end = self
            .rec
            .held
            .iter()
            .filter(|h| h.value == token)
            .filter_map(|h| h.leases.last().map(|l| l.until_ns).or(h.to_ns))
            .max();
        self.report.findings.push(d.finding(
            FindingKind::HeldAfterLease,
            None,
            format!(
                "held (op {}) returned held at {:.3} s, but only {under} of {} node(s) held token {} or still had a lease for it then{}: the library believed in a lock it no longer had",
                d.c.invoke.index,
                d.at as f64 / 1e9,
                self.nodes.len(),
                short(&token),
                last_end
                    .map(|t| format!(" (its last lease ended at {:.3} s)", t as f64 / 1e9))
                    .unwrap_or_default()
            ),
        ));
    }
}
