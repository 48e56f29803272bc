//! Released: a release's answer against what the nodes did with the client's token during the
//! call. "Released" while no node held the token at any moment of the call is an answer about a
//! key that was not the client's (it had expired, or was never set); "not released" while the
//! call's own `DEL` removed the token from a majority leaves a client that believes it still has
//! something to clean up, or that its lock was stolen.

use super::judge::{short, Done, Judge};
use super::{FindingKind, PROMISE_SLACK_NS};

impl Judge<'_> {
    /// The token was on `node` at some moment of the call (an expiry placed by our reading of
    /// the node's clock may be early by the reading's error).
    fn held_during(&self, node: &str, token: &str, d: &Done) -> bool {
        self.rec.held.iter().any(|h| {
            h.node == node
                && h.value == token
                && h.from_ns <= d.to
                && h.to_ns
                    .is_none_or(|t| t + PROMISE_SLACK_NS >= d.c.invoke_ns())
        })
    }

    /// Some node's record misses part of the call.
    fn blind(&self, d: &Done) -> bool {
        self.nodes
            .iter()
            .any(|n| self.rec.blind_during(n, d.from, d.to))
    }

    /// The library said it released the lock.
    pub(super) fn released(&mut self, d: &Done) {
        let Some(token) = self.token_of(d.c.process) else {
            return;
        };
        if self.blind(d) {
            return;
        }
        self.judged("released");
        if self.nodes.iter().any(|n| self.held_during(n, &token, d)) {
            return;
        }
        let ended: Vec<String> = self
            .rec
            .held
            .iter()
            .filter(|h| h.value == token)
            .filter_map(|h| {
                Some(format!(
                    "{} {} at {:.3} s",
                    h.node,
                    h.ended_by,
                    h.to_ns? as f64 / 1e9
                ))
            })
            .collect();
        self.report.findings.push(d.finding(
            FindingKind::ReleaseNotOwned,
            None,
            format!(
                "release (op {}) returned released at {:.3} s, but no node held token {} at any moment of the call ({}): the key was not the client's to release",
                d.c.invoke.index,
                d.at as f64 / 1e9,
                short(&token),
                if ended.is_empty() { "no node ever held it".to_string() } else { ended.join(", ") }
            ),
        ));
    }

    /// The library said the lock was not held, so nothing was released.
    pub(super) fn not_released(&mut self, d: &Done) {
        let Some(token) = self.token_of(d.c.process) else {
            return;
        };
        if self.blind(d) {
            return;
        }
        self.judged("released");
        let deleted: Vec<&str> = self
            .nodes
            .iter()
            .filter(|n| {
                self.rec.held.iter().any(|h| {
                    &h.node == *n
                        && h.value == token
                        && h.deleted()
                        && h.to_ns.is_some_and(|t| d.from <= t && t <= d.to)
                })
            })
            .map(String::as_str)
            .collect();
        if deleted.len() < self.need {
            return;
        }
        self.report.findings.push(d.finding(
            FindingKind::ReleaseDenied,
            None,
            format!(
                "release (op {}) returned not released at {:.3} s, but during the call {} deleted token {} (a majority needs {}): the release took effect and the library said it did not",
                d.c.invoke.index,
                d.at as f64 / 1e9,
                deleted.join(", "),
                short(&token),
                self.need
            ),
        ));
    }
}
