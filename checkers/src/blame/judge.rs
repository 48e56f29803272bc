//! Blame's walk over the calls: what the nodes recorded, who owns each token, which answer each
//! call gave; the judgements themselves live in the files named after the answer.

use super::{BlameReport, Finding, FindingKind, ARRIVAL_NS, EARLY_NS};
use crate::history::{Call, FaultWindow, Nanos, OpKind, Process, Value, F};
use crate::node_record::{NodeRecord, NodesRecord};
use std::collections::HashMap;

/// [`super::check`]'s state as it walks the calls: what the nodes recorded, who owns each
/// token, and the windows in which owners were (re)setting their tokens.
pub(super) struct Judge<'a> {
    pub(super) rec: &'a NodeRecord,
    pub(super) nodes: &'a [String],
    /// Nodes that make a majority of `nodes`.
    pub(super) need: usize,
    /// token → owner, from every grant.
    pub(super) owner: HashMap<String, Process>,
    /// Windows in which each token's owner was calling the library to (re)set it.
    pub(super) setting: Vec<(String, Nanos, Nanos)>,
    /// Each client's latest granted token (what its extensions, releases and beliefs are about).
    pub(super) last_token: HashMap<Process, String>,
    /// The run's faults: a client frozen by one during a call may answer stale.
    faults: &'a [FaultWindow],
    pub(super) report: BlameReport,
}

/// One completed call, with the window in which its effect may show in a node's stream.
pub(super) struct Done<'c> {
    pub(super) c: &'c Call,
    /// When it returned.
    pub(super) at: Nanos,
    /// The window its effect may show in: from a little before the invocation to a little
    /// after the return.
    pub(super) from: Nanos,
    pub(super) to: Nanos,
}

impl Done<'_> {
    /// A finding about this call.
    pub(super) fn finding(
        &self,
        kind: FindingKind,
        other: Option<Process>,
        detail: String,
    ) -> Finding {
        Finding {
            kind,
            process: self.c.process,
            index: self.c.invoke.index,
            invoke_ns: self.c.invoke_ns(),
            complete_ns: self.at,
            other,
            detail,
        }
    }
}

fn majority(n: usize) -> usize {
    n / 2 + 1
}

impl<'a> Judge<'a> {
    pub(super) fn new(calls: &[Call], input: &'a NodesRecord, faults: &'a [FaultWindow]) -> Self {
        Judge {
            rec: &input.record,
            nodes: &input.nodes,
            need: majority(input.nodes.len()),
            owner: token_owners(calls),
            setting: Vec::new(),
            last_token: HashMap::new(),
            faults,
            report: BlameReport::default(),
        }
    }

    pub(super) fn holder_of(&self, token: &str) -> Option<Process> {
        self.owner.get(token).copied()
    }

    /// Counts one judged answer of `what` kind.
    pub(super) fn judged(&mut self, what: &str) {
        *self
            .report
            .answers_judged
            .entry(what.to_string())
            .or_default() += 1;
    }

    /// The client's process was frozen by a fault (stopped) at some moment of the call: an
    /// answer it computed before the stop reaches the harness stale by the stop.
    pub(super) fn frozen(&self, d: &Done) -> bool {
        let Process::Client(p) = d.c.process else {
            return false;
        };
        self.faults
            .iter()
            .any(|w| w.fault.frozen == Some(p) && w.overlaps(d.c.invoke_ns(), d.at))
    }

    /// The client's current token (its latest grant's), if it reported one.
    pub(super) fn token_of(&self, p: Process) -> Option<String> {
        self.last_token.get(&p).filter(|t| !t.is_empty()).cloned()
    }

    /// Judges one call that returned an answer; calls that failed or whose outcome is unknown
    /// said nothing to judge.
    pub(super) fn call(&mut self, c: &Call) {
        let Some(at) = c.complete_ns() else {
            return;
        };
        let done = Done {
            c,
            at,
            from: c.invoke_ns().saturating_sub(EARLY_NS),
            to: at + ARRIVAL_NS,
        };
        if c.outcome() != OpKind::Ok {
            return;
        }
        match (c.f, c.result()) {
            (F::Acquire, Some(Value::Granted(g))) => self.grant(&done, g),
            (F::Extend, Some(Value::Extended { validity_end_ns })) => {
                self.extension(&done, *validity_end_ns)
            }
            (F::Release, Some(Value::Released)) => self.released(&done),
            (F::Release, Some(Value::NotHeld)) => self.not_released(&done),
            (F::Held, Some(Value::Belief { held: true })) => self.belief(&done),
            _ => {}
        }
    }
}

/// token → owner, from every grant that named its token.
fn token_owners(calls: &[Call]) -> HashMap<String, Process> {
    let mut owner = HashMap::new();
    for c in calls {
        if let (F::Acquire, OpKind::Ok, Some(Value::Granted(g))) = (c.f, c.outcome(), c.result()) {
            if !g.token.is_empty() {
                owner.insert(g.token.clone(), c.process);
            }
        }
    }
    owner
}

pub(super) fn key_of(rec: &NodeRecord, node: &str, token: &str) -> String {
    rec.held
        .iter()
        .find(|h| h.node == node && h.value == token)
        .map_or_else(String::new, |h| h.key.clone())
}

pub(crate) fn short(token: &str) -> String {
    // A binary token (read as lossy UTF-8) is shown escaped, never as raw control bytes.
    token
        .chars()
        .take(12)
        .flat_map(|c| {
            if c.is_control() || c == char::REPLACEMENT_CHARACTER {
                format!("\\u{{{:x}}}", c as u32).chars().collect::<Vec<_>>()
            } else {
                vec![c]
            }
        })
        .collect()
}
