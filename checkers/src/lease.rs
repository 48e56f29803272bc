//! What a grant proves about the lock's key on the node(s) that granted it.
//!
//! An acquire asks for a ttl; the node sets the key at some instant inside the call
//! (`[invoke, complete]`), and the key lives a ttl from that instant. Whatever the instant, the
//! key surely holds the holder's token from the acquire's completion until a ttl after the
//! acquire's *invocation* — unless its holder released it first (from the release's invocation
//! on, it may be gone) or extended it (an extension that took effect moves the end to a ttl
//! after the extension's invocation). A Redlock grant proves the same of a majority of nodes.
//!
//! This is a lower bound of what the node(s) held, read off the history alone, and it assumes
//! the nodes' clocks keep time (that is the point: a node whose clock jumps, or that restarts
//! empty, breaks it). Nodes' wall clocks and the history's monotonic clock may drift apart a
//! little; [`SLACK_PPM`] and [`SLACK_NS`] are taken off the end so that no drift within NTP's
//! bounds makes an interval claim more than the node held.

use crate::history::{Call, Nanos, OpKind, Process, Value, F};

/// Taken off every lease: 1 ms plus 0.1 % of the ttl (NTP keeps clocks within 500 ppm).
pub const SLACK_NS: Nanos = 1_000_000;
pub const SLACK_PPM: u64 = 1_000;

/// One grant and the interval its key surely lived.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Lease {
    pub process: Process,
    pub fence: u64,
    pub acquire_invoke_ns: Nanos,
    /// The acquire's completion: the start of the surely-live interval.
    pub start_ns: Nanos,
    /// Where the surely-live interval ends (≤ start when it proves nothing).
    pub end_ns: Nanos,
    /// History index of the acquire's completion.
    pub index: u64,
    /// The release under this grant, if one was invoked.
    pub release: Option<ReleaseCall>,
}

/// A release, as the history recorded it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReleaseCall {
    pub invoke_ns: Nanos,
    pub complete_ns: Option<Nanos>,
    pub index: u64,
    /// `Released` when the release deleted a key.
    pub result: Option<Value>,
}

impl Lease {
    /// Whether the key surely lived throughout `[from, to]`.
    pub fn covers(&self, from: Nanos, to: Nanos) -> bool {
        self.start_ns <= from && to < self.end_ns
    }
}

fn lease_end(from_ns: Nanos, ttl_ms: u64) -> Nanos {
    let ttl_ns = ttl_ms.saturating_mul(1_000_000);
    from_ns.saturating_add(ttl_ns.saturating_sub(ttl_ns / 1_000_000 * SLACK_PPM + SLACK_NS))
}

/// Every grant in `calls` with the interval its key surely lived. Grants whose acquire did not
/// record the ttl asked for prove nothing and are left out.
pub fn leases(calls: &[Call]) -> Vec<Lease> {
    let mut stream = LeaseStream::default();
    let mut out: Vec<Lease> = calls.iter().filter_map(|c| stream.push(c)).collect();
    out.extend(stream.finish());
    out.sort_by_key(|l| (l.acquire_invoke_ns, l.index));
    out
}

/// [`leases`] one call at a time (each client's calls in its own order): a lease is handed out
/// once final — released, replaced by its client's next grant, or open when the history ends.
#[derive(Default)]
pub struct LeaseStream {
    open: std::collections::HashMap<Process, Lease>,
}

impl LeaseStream {
    /// Reads a call; returns the lease it made final, if any.
    pub fn push(&mut self, call: &Call) -> Option<Lease> {
        match (call.f, call.outcome(), call.result()) {
            (F::Acquire, OpKind::Ok, Some(Value::Granted(g))) => {
                let Value::Lease { ttl_ms, .. } = call.invoke.value else {
                    return None;
                };
                let done = call.completion.as_ref().expect("ok has a completion");
                let lease = Lease {
                    process: call.process,
                    fence: g.fence,
                    acquire_invoke_ns: call.invoke_ns(),
                    start_ns: done.time_ns,
                    end_ns: lease_end(call.invoke_ns(), ttl_ms),
                    index: done.index,
                    release: None,
                };
                self.open.insert(call.process, lease)
            }
            (F::Extend, OpKind::Ok, Some(Value::Extended { .. })) => {
                let Value::Extension { fence, ttl_ms, .. } = call.invoke.value else {
                    return None;
                };
                if let Some(l) = self.open.get_mut(&call.process) {
                    if l.fence == fence && l.release.is_none() {
                        l.end_ns = l.end_ns.max(lease_end(call.invoke_ns(), ttl_ms));
                    }
                }
                None
            }
            (F::Release, _, _) => {
                let Value::Held { fence, .. } = call.invoke.value else {
                    return None;
                };
                let mut l = self.open.remove(&call.process)?;
                if l.fence == fence {
                    l.end_ns = l.end_ns.min(call.invoke_ns());
                    l.release = Some(ReleaseCall {
                        invoke_ns: call.invoke_ns(),
                        complete_ns: call.complete_ns(),
                        index: call.invoke.index,
                        result: call.result().cloned(),
                    });
                }
                Some(l)
            }
            _ => None,
        }
    }

    /// The earliest start of a lease not yet final.
    pub fn earliest_open_ns(&self) -> Option<Nanos> {
        self.open.values().map(|l| l.start_ns).min()
    }

    /// The leases still open, by grant.
    pub fn finish(self) -> Vec<Lease> {
        let mut open: Vec<Lease> = self.open.into_values().collect();
        open.sort_by_key(|l| l.index);
        open
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_end_is_a_ttl_after_the_invocation_less_the_slack() {
        // 300 ms ttl: 0.3 ms + 1 ms slack.
        assert_eq!(lease_end(1_000, 300), 1_000 + 300_000_000 - 1_300_000);
    }
}
