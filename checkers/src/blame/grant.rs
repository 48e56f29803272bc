//! Granted: was the grant made by a majority of the nodes during the call, and returned while
//! a majority still held it?

use super::judge::short;
use super::judge::{Done, Judge};
use super::{Finding, FindingKind};
use crate::history::{Grant, Process};
use crate::node_record::Held;

impl Judge<'_> {
    /// A grant: made by a majority of nodes during the call, and returned while a majority
    /// still held it?
    pub(super) fn grant(&mut self, d: &Done, g: &Grant) {
        let token = g.token.as_str();
        let (rec, nodes, need) = (self.rec, self.nodes, self.need);
        self.last_token.insert(d.c.process, token.to_string());
        self.setting.push((token.to_string(), d.from, d.to));
        if token.is_empty() {
            self.report.grants_unjudged += 1;
            return;
        }
        let sets: Vec<&Held> = nodes
            .iter()
            .filter_map(|n| rec.set_between(n, token, d.from, d.to))
            .collect();
        // Nodes whose record misses the call might have set it unseen.
        let unseen = nodes
            .iter()
            .filter(|n| {
                rec.set_between(n, token, d.from, d.to).is_none()
                    && rec.blind_during(n, d.from, d.to)
            })
            .count();
        if sets.len() < need && sets.len() + unseen >= need {
            self.report.grants_unjudged += 1;
            return;
        }
        self.report.grants_judged += 1;
        self.judged("granted");
        if sets.len() < need {
            let finding = self.grant_not_made(d, token, sets.len());
            self.report.findings.push(finding);
            return;
        }
        // A node whose record is blind over the call (its clock bent by a fault, its stream
        // lost) cannot say when the lease it granted ends: the grant was made, its timing is
        // not judged.
        if sets.iter().any(|h| rec.blind_during(&h.node, d.from, d.to)) {
            return;
        }
        // Only an expiry makes a grant late: a key released or overwritten meanwhile
        // was live when the library answered (a foreign release is its own check's).
        // A client the harness froze during the call may return late through no fault of its
        // library's.
        let still = sets.iter().filter(|h| !h.expired_by(d.at)).count();
        if still < need && !self.frozen(d) {
            self.report
                .findings
                .push(grant_after_lease(d, still, &sets));
            return;
        }
        self.grant_validity(d, g, &sets);
    }

    /// A grant too few nodes set during the call, with what the nodes held instead.
    fn grant_not_made(&self, d: &Done, token: &str, set: usize) -> Finding {
        let (other, state) = self.held_instead(d);
        let need = self.need;
        d.finding(
            FindingKind::GrantNotMade,
            other,
            format!(
                "acquire (op {}) returned granted with token {} at {:.3} s, but {} of {} node(s) set it during the call (a majority needs {need}); {}",
                d.c.invoke.index,
                short(token),
                d.at as f64 / 1e9,
                set,
                self.nodes.len(),
                state.join(", ")
            ),
        )
    }

    /// What each node held at a grant's return (in words), and the other client whose token a
    /// node held, if any (the last such node's).
    fn held_instead(&self, d: &Done) -> (Option<Process>, Vec<String>) {
        let mut other = None;
        let state = self
            .nodes
            .iter()
            .map(|n| {
                match self.rec.held.iter().find(|h| {
                    &h.node == n && h.from_ns <= d.at && h.to_ns.is_none_or(|t| t > d.c.invoke_ns())
                }) {
                    Some(h) => {
                        let who = self.holder_of(&h.value);
                        if who.is_some() && who != Some(d.c.process) {
                            other = who;
                        }
                        format!(
                            "{n} held {} (set {:.3} s)",
                            who.map_or_else(
                                || format!("token {}", short(&h.value)),
                                |p| format!("{p}'s token")
                            ),
                            h.from_ns as f64 / 1e9
                        )
                    }
                    None => format!("{n} held nothing"),
                }
            })
            .collect();
        (other, state)
    }
}

/// A grant returned when only `still` of the nodes that set it (`sets`) held it yet.
fn grant_after_lease(d: &Done, still: usize, sets: &[&Held]) -> Finding {
    let ends: Vec<String> = sets
        .iter()
        .map(|h| {
            format!(
                "{} {} at {}",
                h.node,
                h.ended_by,
                h.to_ns
                    .map_or("—".into(), |t| format!("{:.3} s", t as f64 / 1e9))
            )
        })
        .collect();
    d.finding(
        FindingKind::GrantAfterLease,
        None,
        format!(
            "acquire (op {}) returned granted at {:.3} s, {:.0} ms after it was called, when only {still} node(s) still held its token ({}): the lease had run out before the library answered",
            d.c.invoke.index,
            d.at as f64 / 1e9,
            (d.at - d.c.invoke_ns()) as f64 / 1e6,
            ends.join(", ")
        ),
    )
}
