//! The lock nodes' own record of the lock keys: what each node held, when.
//!
//! fencepost reads every lock node's replication stream — the node's own account of the effects
//! it applied, with values: a script's `SET` arrives as `SET key value PXAT ms`, an extension as
//! `PEXPIREAT`, an expiry or a release as `DEL` — and journals each change of a lock key with the
//! moment it arrived (`node-events.jsonl`), plus the node's wall clock now and then (expiry times
//! are on it). From that this module rebuilds, per node, the intervals in which the key surely
//! held a given token: from the `SET`'s arrival until the first of the next change, the key's
//! expiry on the node's clock, or a lost stream (a crash: the node's state is unknown until it is
//! read again).

use crate::history::{FaultWindow, Nanos};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// One journaled change, as it arrived.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct NodeEvent {
    /// Arrival, on the history's clock.
    pub time_ns: Nanos,
    pub node: String,
    #[serde(flatten)]
    pub change: Change,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "kebab-case")]
pub enum Change {
    /// The key now holds `value`, expiring at `expire_at_ms` on the node's clock (if it expires).
    Set {
        key: String,
        value: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        expire_at_ms: Option<u64>,
    },
    /// The key's expiry moved (an extension).
    Expire { key: String, expire_at_ms: u64 },
    /// A `SET` with an expiry relative to when the node applied it (`PX`/`EX`): how Redis before
    /// 7.0 sends it down its replication stream (7.0 and later send `PXAT`). The record anchors
    /// it on the node's clock as last read, carried forward to the arrival — later than the node
    /// applied it by the stream's delay, so the lease is read at least as long as it was.
    SetFor {
        key: String,
        value: String,
        ttl_ms: u64,
    },
    /// An expiry moved relative to when the node applied it (`PEXPIRE`/`EXPIRE` before 7.0),
    /// anchored as [`Change::SetFor`] is.
    ExpireIn { key: String, ttl_ms: u64 },
    /// The key is gone (a release, or the node expiring it).
    Del { key: String },
    /// The key as read directly after (re)connecting: its value and remaining ttl, if any.
    Snapshot {
        key: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        value: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pttl_ms: Option<u64>,
    },
    /// The stream was lost (the node crashed or restarted): its state is unknown until the next
    /// snapshot.
    Lost,
    /// A command the record cannot read changed the key: it is not a string lock (a sorted-set
    /// lease, a hash). What the node holds in it is unknown from here on: the node is blind for
    /// the rest of the run, and nothing is judged against it.
    Unreadable { key: String, command: String },
    /// The node's wall clock at `time_ns` (`TIME`), to place expiries; `rtt_ns`: how long the
    /// `TIME` request took (the reading is older than `time_ns` by up to that), 0 when not
    /// measured.
    Clock {
        node_ms: u64,
        #[serde(default, skip_serializing_if = "is_zero")]
        rtt_ns: u64,
    },
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

impl NodeEvent {
    /// The first number outside what a record may hold — (field, value, the most allowed) — so
    /// that no arithmetic on times can overflow.
    pub fn out_of_range(&self) -> Option<(&'static str, u64, u64)> {
        use crate::history::{MAX_MS, MAX_TIME_NS};
        let over = |field, v: u64, max| (v > max).then_some((field, v, max));
        over("time_ns", self.time_ns, MAX_TIME_NS).or(match &self.change {
            Change::Set {
                expire_at_ms: Some(ms),
                ..
            }
            | Change::Expire {
                expire_at_ms: ms, ..
            } => over("expire_at_ms", *ms, MAX_MS),
            Change::SetFor { ttl_ms, .. } | Change::ExpireIn { ttl_ms, .. } => {
                over("ttl_ms", *ttl_ms, MAX_MS)
            }
            Change::Snapshot {
                pttl_ms: Some(ms), ..
            } => over("pttl_ms", *ms, MAX_MS),
            Change::Clock { node_ms, rtt_ns } => {
                over("node_ms", *node_ms, MAX_MS).or_else(|| over("rtt_ns", *rtt_ns, MAX_TIME_NS))
            }
            _ => None,
        })
    }
}

/// The lock nodes' own record, and which nodes a client's library was given (the first `n` lock
/// nodes): what the checks that judge a lock's answers read.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct NodesRecord {
    pub record: NodeRecord,
    /// The lock nodes each client was given, in order.
    pub nodes: Vec<String>,
}

impl NodesRecord {
    /// The record as the run's faults leave it: a node whose clock a fault bent is blind from
    /// the bend until its key settles again after the fault ([`NodeRecord::bent`]).
    pub fn bent_by(&self, windows: &[FaultWindow]) -> NodesRecord {
        let mut r = self.clone();
        for w in windows {
            if let Some(b) = &w.fault.bends {
                for node in &b.nodes {
                    r.record.bent(node, b.from_ns.min(w.start_ns), w.stop_ns);
                }
            }
        }
        r
    }
}

/// An interval in which a node surely held `value` in a lock key.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Held {
    pub node: String,
    pub key: String,
    pub value: String,
    pub from_ns: Nanos,
    /// When it surely ended (a change arrived, or the expiry passed); `None`: still held at the
    /// end of the record.
    pub to_ns: Option<Nanos>,
    /// How it ended, in words.
    pub ended_by: String,
    /// The `SET` that began it re-set the same value after the node had surely let it go — a
    /// `DEL` (the node expiring or releasing it), a lost stream or another value came between —
    /// so another client could have held the key meanwhile.
    pub retaken_after_ns: Option<Nanos>,
    /// Each lease the node granted this holding (the `SET`'s expiry, then each extension's), in
    /// order: when it arrived and when it was to end on the history's clock. Empty when the key
    /// does not expire or no reading of the node's clock places its expiry.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub leases: Vec<Lease>,
}

/// A lease as the node granted it: `until_ns` is where its expiry (on the node's clock) fell on
/// the history's clock when it was granted — read generously, by whichever of the node's clock
/// readings just before and just after places it later, so that a clock that jumped in between
/// never shortens it. What the node granted, not when it happened to expire: a node clock that
/// jumps later expires the key early, which is the node's fault, not the library's.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Lease {
    /// When the grant (a `SET`, `PEXPIREAT` or snapshot) arrived.
    pub at_ns: Nanos,
    pub until_ns: Nanos,
}

impl Held {
    /// The lease in force at `at`: the latest granted by then (the first, if none was yet).
    pub fn lease_at(&self, at: Nanos) -> Option<Lease> {
        self.leases
            .iter()
            .rev()
            .find(|l| l.at_ns <= at)
            .or(self.leases.first())
            .copied()
    }

    /// Someone deleted it (a `DEL` that was not the node expiring it).
    pub fn deleted(&self) -> bool {
        self.ended_by == DELETED
    }

    /// The latest lease granted in `from..=to` (an extension's).
    pub fn lease_granted_between(&self, from: Nanos, to: Nanos) -> Option<Lease> {
        self.leases
            .iter()
            .rev()
            .find(|l| from <= l.at_ns && l.at_ns <= to)
            .copied()
    }

    /// The node let it expire by `at` (not a release, an overwrite or a lost stream).
    pub fn expired_by(&self, at: Nanos) -> bool {
        self.to_ns.is_some_and(|t| t <= at)
            && (self.ended_by == EXPIRED || self.ended_by == EXPIRED_DEL)
    }
}

/// Every node's holdings, rebuilt from the journal.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct NodeRecord {
    pub held: Vec<Held>,
    /// Nodes whose stream was ever lost (crashes): judgements about them are weaker.
    pub nodes: BTreeMap<String, u64>,
    /// When each node's record begins (its first event).
    pub first_ns: BTreeMap<String, Nanos>,
    /// Spans in which a node's stream was lost (from the loss to the snapshot read on
    /// reconnecting; open-ended if it never came back), or a fault bent its clock
    /// ([`NodeRecord::bent`]): what it did then is not on record.
    pub blind: Vec<(String, Nanos, Option<Nanos>)>,
    /// When each node's lock key changed (a `SET`, `DEL` or snapshot arrived): what settles the
    /// key's state again after its clock was bent.
    pub settled: BTreeMap<String, Vec<Nanos>>,
}

/// How a holding ended when the node's clock passed its expiry (by our reading of that clock).
const EXPIRED: &str = "expired on the node's clock";
/// How a holding ended when the node's `DEL` came at its expiry (the node expiring it).
const EXPIRED_DEL: &str = "expired (the node's DEL)";
/// How far our reading of a node's clock may be off when we place an expiry: the reading is in
/// whole milliseconds and arrives late by the stream's lag.
const EXPIRY_SLACK_NS: Nanos = 5_000_000;
/// How a holding ended when someone deleted it (a release).
const DELETED: &str = "deleted";
/// How a holding ended when the node's stream was lost (a crash): its fate is not on record.
const LOST: &str = "stream lost (node down)";

/// The record's key for `member` of the sorted-set lease at `key` (a lock kept as a sorted set
/// of holders, each scored with its lease's end): every member is a holding of its own, and a
/// `DEL` of the set ends them all.
pub fn member_key(key: &str, member: &str) -> String {
    format!("{key}[{member}]")
}
const UNREADABLE: &str = "changed by a command the record cannot read";

/// How long before a key's SET a clock reading may have been taken and still place its expiry:
/// the reading just before it, at the tap's 100 ms sampling (with room for a late one).
const READING_BEFORE_NS: Nanos = 250_000_000;

/// The last value a node's key held, to tell a re-take from an extension.
struct Last {
    value: String,
    end_ns: Nanos,
    /// The node surely let it go (its `DEL`, a lost stream, another value), not only by our
    /// reading of its clock.
    gone: bool,
}

/// The node's wall clock → the history's clock, from its latest `Clock` sample.
#[derive(Clone, Copy, Debug)]
struct Sample {
    time_ns: Nanos,
    node_ms: u64,
    /// The `TIME` request's round trip: how much older than `time_ns` the reading may be.
    rtt_ns: Nanos,
}

impl Sample {
    fn node_ns(&self) -> i128 {
        self.node_ms as i128 * 1_000_000
    }

    /// When the node's clock reads `at_ms`, on the history's clock (as of this sample).
    fn when(&self, at_ms: u64) -> Nanos {
        let delta_ns = (at_ms as i128 - self.node_ms as i128) * 1_000_000;
        (self.time_ns as i128 + delta_ns).max(0) as Nanos
    }
}

/// A (node, key) pair.
type Slot = (String, String);

/// [`NodeRecord::from_events`] as it reads the journal: the record so far, and what is still
/// open per node and key.
#[derive(Default)]
struct Rebuild {
    r: NodeRecord,
    /// Every clock reading per node, read ahead of the pass: whether a node's clock stayed
    /// steady across a span is known only from the reading after it.
    ahead: BTreeMap<String, Vec<Sample>>,
    /// (node, key) → (open holding index, its expiry on the node's clock)
    open: BTreeMap<Slot, (usize, Option<u64>)>,
    clocks: BTreeMap<String, Sample>,
    /// The last value each (node, key) held, when it ended, and whether the node surely let it
    /// go then: to spot a re-take. An expiry placed by our reading of the node's clock is not
    /// sure (the reading is a millisecond coarse and the stream arrives late); the node itself
    /// sends a `DEL` when it expires a key, before any later write of it.
    last: BTreeMap<Slot, Last>,
    /// The node's previous event: a holding still open then had not expired yet (a clock that
    /// jumped in between makes the extrapolated expiry earlier than that; it was not).
    seen: BTreeMap<String, Nanos>,
    /// Every clock reading per node, in arrival order: to place granted leases afterwards.
    readings: BTreeMap<String, Vec<Sample>>,
    /// (holding, arrival, expiry on the node's clock): the leases to place at the end.
    granted: Vec<(usize, Nanos, u64)>,
}

impl Rebuild {
    /// One journaled event: the expiries it shows were due end their holdings first, then the
    /// change itself applies.
    fn event(&mut self, e: &NodeEvent) {
        *self.r.nodes.entry(e.node.clone()).or_default() += 0;
        self.r.first_ns.entry(e.node.clone()).or_insert(e.time_ns);
        let previous = self.seen.insert(e.node.clone(), e.time_ns).unwrap_or(0);
        self.expire_due(e, previous);
        let absolute = self.absolute(e);
        match absolute.as_ref().unwrap_or(&e.change) {
            Change::Clock { node_ms, rtt_ns } => {
                let sample = Sample {
                    time_ns: e.time_ns,
                    node_ms: *node_ms,
                    rtt_ns: *rtt_ns,
                };
                self.clocks.insert(e.node.clone(), sample);
                self.readings
                    .entry(e.node.clone())
                    .or_default()
                    .push(sample);
            }
            Change::Set {
                key,
                value,
                expire_at_ms,
            } => {
                self.settle(e);
                self.set(e, key, value, *expire_at_ms)
            }
            Change::Expire { key, expire_at_ms } => {
                if let Some(o) = self.open.get_mut(&(e.node.clone(), key.clone())) {
                    o.1 = Some(*expire_at_ms);
                    self.granted.push((o.0, e.time_ns, *expire_at_ms));
                }
            }
            // Relative, with no clock reading to anchor it yet: the expiry is unknown (the
            // node's own `DEL` ends the holding).
            Change::ExpireIn { key, .. } => {
                if let Some(o) = self.open.get_mut(&(e.node.clone(), key.clone())) {
                    o.1 = None;
                }
            }
            // Always made absolute above.
            Change::SetFor { .. } => {}
            Change::Del { key } => {
                self.settle(e);
                self.del(e, key)
            }
            Change::Lost => self.lost(e),
            Change::Unreadable { .. } => self.unreadable(e),
            Change::Snapshot {
                key,
                value,
                pttl_ms,
            } => {
                self.settle(e);
                self.snapshot(e, key, value.as_deref(), *pttl_ms)
            }
        }
    }

    /// A relative expiry ([`Change::SetFor`], [`Change::ExpireIn`]) as the absolute one the
    /// node applied, on its clock as last read; a `SET` with no expiry when there is no reading
    /// yet (the node's own `DEL` will end it).
    fn absolute(&self, e: &NodeEvent) -> Option<Change> {
        let at = |ttl_ms: u64| self.node_ms_at(e).map(|now| now + ttl_ms);
        match &e.change {
            Change::SetFor { key, value, ttl_ms } => Some(Change::Set {
                key: key.clone(),
                value: value.clone(),
                expire_at_ms: at(*ttl_ms),
            }),
            Change::ExpireIn { key, ttl_ms } => at(*ttl_ms).map(|ms| Change::Expire {
                key: key.clone(),
                expire_at_ms: ms,
            }),
            _ => None,
        }
    }

    /// The node's clock at `e`'s arrival, carried forward from its latest reading.
    fn node_ms_at(&self, e: &NodeEvent) -> Option<u64> {
        self.clocks
            .get(&e.node)
            .map(|s| s.node_ms + e.time_ns.saturating_sub(s.time_ns) / 1_000_000)
    }

    fn settle(&mut self, e: &NodeEvent) {
        self.r
            .settled
            .entry(e.node.clone())
            .or_default()
            .push(e.time_ns);
    }

    /// Ends the open holding of `key` on `node` (if any) at `at`, `how` in words.
    fn close(&mut self, node: &str, key: &str, at: Nanos, how: &str) {
        if let Some((i, _)) = self.open.remove(&(node.to_string(), key.to_string())) {
            let h = &mut self.r.held[i];
            let end = at.max(h.from_ns);
            h.to_ns = Some(end);
            h.ended_by = how.to_string();
            self.last.insert(
                (node.to_string(), key.to_string()),
                Last {
                    value: h.value.clone(),
                    end_ns: end,
                    gone: how != EXPIRED,
                },
            );
        }
    }

    /// Opens a holding of `value` in `key` on `e.node` from `e`'s arrival.
    fn begin(
        &mut self,
        e: &NodeEvent,
        key: &str,
        value: &str,
        exp: Option<u64>,
        retaken: Option<Nanos>,
    ) {
        self.open
            .insert((e.node.clone(), key.to_string()), (self.r.held.len(), exp));
        if let Some(ms) = exp {
            self.granted.push((self.r.held.len(), e.time_ns, ms));
        }
        self.r.held.push(Held {
            node: e.node.clone(),
            key: key.to_string(),
            value: value.to_string(),
            from_ns: e.time_ns,
            to_ns: None,
            ended_by: String::new(),
            retaken_after_ns: retaken,
            leases: Vec::new(),
        });
    }

    /// Expiries due by `e`'s arrival end their holdings on its node (never before the node's
    /// `previous` event).
    /// Whether reading `s` of `node`'s clock places the expiry of a key set at `set_ns`, as
    /// seen at `at_ns`: a reading taken after the SET does; one taken just before does when
    /// the node's next reading after `at_ns` shows its clock ran steadily from one to the other
    /// (no jump between: a node stopped right after the SET answers no `TIME` until it resumes,
    /// and its key may expire meanwhile).
    fn placed_by(&self, node: &str, s: &Sample, set_ns: Nanos, at_ns: Nanos) -> bool {
        if s.time_ns >= set_ns {
            return true;
        }
        if s.time_ns + READING_BEFORE_NS < set_ns {
            return false;
        }
        let Some(next) = self
            .ahead
            .get(node)
            .and_then(|r| r.iter().find(|n| n.time_ns >= at_ns))
        else {
            return false;
        };
        let ran_ns = (next.node_ms as i128 - s.node_ms as i128) * 1_000_000;
        let took_ns = next.time_ns as i128 - s.time_ns as i128;
        let error_ns = (2_000_000 + s.rtt_ns + next.rtt_ns) as i128;
        (ran_ns - took_ns).abs() <= error_ns
    }

    fn expire_due(&mut self, e: &NodeEvent, previous: Nanos) {
        let Some(s) = self.clocks.get(&e.node).copied() else {
            return;
        };
        // Only a reading taken after the key was set, or just before (a node stopped right
        // after the SET answers no TIME until it resumes), places its expiry: an older one
        // could predate a clock that jumped back and put it in the past. (A clock a fault
        // bends is blind in the record anyway: [`NodeRecord::bent`].)
        let due: Vec<(String, Nanos)> = self
            .open
            .iter()
            .filter(|((n, _), (i, _))| {
                *n == e.node && self.placed_by(&e.node, &s, self.r.held[*i].from_ns, e.time_ns)
            })
            .filter_map(|((_, k), (_, exp))| {
                let at = s.when((*exp)?).max(previous);
                (at <= e.time_ns).then(|| (k.clone(), at))
            })
            .collect();
        for (k, at) in due {
            self.close(&e.node, &k, at, EXPIRED);
        }
    }

    /// A `SET`: the same value again goes on holding (with the new expiry); another value
    /// overwrites, and may re-take a value the node had let go.
    fn set(&mut self, e: &NodeEvent, key: &str, value: &str, expire_at_ms: Option<u64>) {
        let slot = (e.node.clone(), key.to_string());
        // The value the key already holds, set again (a SET-style extension, or the
        // SET a snapshot taken on reconnecting already showed): the holding goes on
        // with the new expiry.
        let held = &self.r.held;
        if let Some(o) = self
            .open
            .get_mut(&slot)
            .filter(|o| held[o.0].value == value)
        {
            o.1 = expire_at_ms;
            if let Some(ms) = expire_at_ms {
                self.granted.push((o.0, e.time_ns, ms));
            }
            return;
        }
        // A re-set of a value the key still held is an extension, not a re-take.
        let retaken = (!self.open.contains_key(&slot))
            .then(|| self.last.get(&slot))
            .flatten()
            .filter(|l| l.gone && l.value == value)
            .map(|l| l.end_ns);
        self.close(&e.node, key, e.time_ns, "overwritten");
        self.begin(e, key, value, expire_at_ms, retaken);
    }

    /// A `DEL`: the node expiring the key (at its expiry, within our reading's error), or
    /// someone deleting it.
    /// The members of the sorted-set lease at `key` on `node` still open ([`member_key`]).
    fn open_members(&self, node: &str, key: &str) -> Vec<String> {
        let prefix = format!("{key}[");
        self.open
            .keys()
            .filter(|(n, k)| n == node && k.starts_with(&prefix))
            .map(|(_, k)| k.clone())
            .collect()
    }

    fn del(&mut self, e: &NodeEvent, key: &str) {
        // A sorted-set lease deleted whole (released, or expired by the set's own expiry):
        // each member still open goes with it, each judged by its own lease.
        for m in self.open_members(&e.node, key) {
            self.del(e, &m);
        }
        let slot = (e.node.clone(), key.to_string());
        // The node's own word that a key we placed as expired is gone.
        if let Some(l) = self.last.get_mut(&slot) {
            l.gone = true;
        }
        // A DEL at (or within our reading's error of) the key's expiry is the node
        // expiring it; earlier, someone deleted it. The error: the reading's whole
        // milliseconds and its lag, at least the sample's own measured round trip (a loaded
        // machine answers `TIME` late, and the reading is then older than it looks).
        let expiring = match (self.open.get(&slot), self.clocks.get(&e.node)) {
            (Some(&(i, Some(exp))), Some(s))
                if self.placed_by(&e.node, s, self.r.held[i].from_ns, e.time_ns) =>
            {
                let slack = EXPIRY_SLACK_NS.max(1_000_000 + s.rtt_ns);
                s.when(exp) <= e.time_ns + slack
            }
            _ => false,
        };
        let how = if expiring { EXPIRED_DEL } else { DELETED };
        self.close(&e.node, key, e.time_ns, how);
    }

    /// A lost stream: the node goes blind, and every holding open on it ends.
    fn lost(&mut self, e: &NodeEvent) {
        *self.r.nodes.entry(e.node.clone()).or_default() += 1;
        self.go_blind(e, LOST);
    }

    /// A lock key changed by a command the record cannot read: blind until the end of the run
    /// (no snapshot follows: the key is not a string to read).
    fn unreadable(&mut self, e: &NodeEvent) {
        self.go_blind(e, UNREADABLE);
    }

    /// `e.node` goes blind from `e` (until a snapshot), and every holding open on it ends `how`.
    fn go_blind(&mut self, e: &NodeEvent, how: &str) {
        if !self.r.is_blind(&e.node) {
            self.r.blind.push((e.node.clone(), e.time_ns, None));
        }
        let keys: Vec<String> = self
            .open
            .keys()
            .filter(|(n, _)| *n == e.node)
            .map(|(_, k)| k.clone())
            .collect();
        for k in keys {
            self.close(&e.node, &k, e.time_ns, how);
        }
    }

    /// A key read on (re)connecting: the node sees again, and the key holds what was read.
    fn snapshot(&mut self, e: &NodeEvent, key: &str, value: Option<&str>, pttl_ms: Option<u64>) {
        if let Some(b) = self
            .r
            .blind
            .iter_mut()
            .find(|b| b.0 == e.node && b.2.is_none())
        {
            b.2 = Some(e.time_ns);
        }
        self.close(&e.node, key, e.time_ns, "re-read");
        if let Some(v) = value {
            let exp = pttl_ms.and_then(|p| self.node_ms_at(e).map(|now| now + p));
            self.begin(e, key, v, exp, None);
        }
    }

    /// Expiries after the last event still end their holdings, by the node's last known clock.
    fn expire_after_the_end(&mut self) {
        let pending: Vec<(String, String, Nanos)> = self
            .open
            .iter()
            .filter_map(|((n, k), (i, exp))| {
                let s = self
                    .clocks
                    .get(n)
                    .filter(|s| s.time_ns >= self.r.held[*i].from_ns)?;
                let last = self.seen.get(n).copied().unwrap_or(0);
                Some((n.clone(), k.clone(), s.when((*exp)?).max(last)))
            })
            .collect();
        for (n, k, at) in pending {
            self.close(&n, &k, at, EXPIRED);
        }
    }

    /// Places every granted lease on the history's clock ([`Lease`]).
    fn place_leases(&mut self) {
        for &(i, at_ns, expire_at_ms) in &self.granted {
            let node = &self.r.held[i].node;
            let Some(readings) = self.readings.get(node) else {
                continue;
            };
            // The node's clock at the grant's arrival, by the reading before and the one after;
            // the earlier estimate places the expiry later.
            let after = readings.partition_point(|s| s.time_ns < at_ns);
            let estimates = [
                after
                    .checked_sub(1)
                    .map(|b| readings[b].node_ns() + (at_ns - readings[b].time_ns) as i128),
                readings
                    .get(after)
                    .map(|a| a.node_ns() - (a.time_ns - at_ns) as i128),
            ];
            let Some(node_now_ns) = estimates.into_iter().flatten().min() else {
                continue;
            };
            let left_ns = (expire_at_ms as i128 * 1_000_000 - node_now_ns).max(0);
            let until_ns = (at_ns as i128 + left_ns).min(Nanos::MAX as i128) as Nanos;
            self.r.held[i].leases.push(Lease { at_ns, until_ns });
        }
    }
}

impl NodeRecord {
    /// Rebuilds holdings from journaled events (in arrival order).
    pub fn from_events(events: &[NodeEvent]) -> NodeRecord {
        let mut rebuild = Rebuild::default();
        for e in events {
            if let Change::Clock { node_ms, rtt_ns } = e.change {
                rebuild
                    .ahead
                    .entry(e.node.clone())
                    .or_default()
                    .push(Sample {
                        time_ns: e.time_ns,
                        node_ms,
                        rtt_ns,
                    });
            }
        }
        for e in events {
            rebuild.event(e);
        }
        rebuild.expire_after_the_end();
        rebuild.place_leases();
        rebuild.r
    }

    /// The holding of `value` on `node` that began nearest after `from` (and before `to`).
    pub fn set_between(&self, node: &str, value: &str, from: Nanos, to: Nanos) -> Option<&Held> {
        self.held
            .iter()
            .filter(|h| h.node == node && h.value == value && h.from_ns >= from && h.from_ns <= to)
            .min_by_key(|h| h.from_ns)
    }

    /// `node`'s record misses some of `from..=to`: before its first event, or while its stream
    /// was lost. Nothing it did then can be held against a client.
    pub fn blind_during(&self, node: &str, from: Nanos, to: Nanos) -> bool {
        self.first_ns.get(node).is_none_or(|first| from < *first)
            || self
                .blind
                .iter()
                .any(|(n, lost, back)| n == node && *lost <= to && back.is_none_or(|b| from < b))
    }

    fn is_blind(&self, node: &str) -> bool {
        self.blind.iter().any(|b| b.0 == node && b.2.is_none())
    }

    /// A fault bent `node`'s clock over `from..=to`. Expiries are placed by the node's clock, so
    /// they are not on record then — a key may expire early, or outlive our reading when the
    /// clock steps back — nor after, until a change of its key settles it again: a blind span,
    /// as a lost stream is.
    pub fn bent(&mut self, node: &str, from: Nanos, to: Nanos) {
        let until = self
            .settled
            .get(node)
            .and_then(|t| t.iter().find(|&&x| x > to).copied());
        self.blind.push((node.to_string(), from, until));
    }

    /// What `node` surely held in `key` at `at`.
    pub fn at(&self, node: &str, key: &str, at: Nanos) -> Option<&Held> {
        self.held.iter().find(|h| {
            h.node == node && h.key == key && h.from_ns <= at && h.to_ns.is_none_or(|t| at < t)
        })
    }
}

/// Reads `node-events.jsonl` (one event per line; a torn last line is skipped).
pub fn parse(text: &str) -> Result<Vec<NodeEvent>, String> {
    let lines: Vec<&str> = text.lines().collect();
    let complete = text.ends_with('\n');
    let mut out = Vec::new();
    for (i, l) in lines.iter().enumerate() {
        if l.trim().is_empty() {
            continue;
        }
        match serde_json::from_str::<NodeEvent>(l) {
            Ok(e) => {
                if let Some((field, v, max)) = e.out_of_range() {
                    return Err(format!(
                        "line {}: {field} = {v} is out of range (at most {max})",
                        i + 1
                    ));
                }
                out.push(e)
            }
            Err(_) if i + 1 == lines.len() && !complete => {}
            Err(e) => return Err(format!("line {}: {e}", i + 1)),
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixture::{node_event as ev, one_node};

    fn member(key: &str, m: &str) -> Change {
        Change::Snapshot {
            key: member_key(key, m),
            value: Some(m.into()),
            pttl_ms: Some(500),
        }
    }

    #[test]
    fn a_sorted_set_read_again_holds_the_members_read() {
        // Member `a` held from 10 ms (expiring at 1 000 ms); the stream is lost at 100 ms (the
        // node restarted); the set read again at 300 ms holds only `b`, set meanwhile.
        let zadd = Change::Set {
            key: member_key("k", "a"),
            value: "a".into(),
            expire_at_ms: Some(1_001_000),
        };
        let reread = Change::Snapshot {
            key: "k".into(),
            value: None,
            pttl_ms: None,
        };
        let r = one_node(vec![
            ev(10, zadd.clone()),
            ev(100, Change::Lost),
            ev(300, reread.clone()),
            ev(300, member("k", "b")),
        ])
        .record;
        let a = r.held.iter().find(|h| h.value == "a").unwrap();
        assert_eq!(a.to_ns, Some(100_000_000), "{a:?}");
        let b = r.held.iter().find(|h| h.value == "b").unwrap();
        assert_eq!((b.from_ns, b.retaken_after_ns), (300_000_000, None));
        assert_eq!(b.leases.last().map(|l| l.until_ns), Some(800_000_000));
        // A member read again as still held begins again at the re-read, and is no re-take.
        let r = one_node(vec![
            ev(10, zadd),
            ev(100, Change::Lost),
            ev(300, reread),
            ev(300, member("k", "a")),
        ])
        .record;
        let again: Vec<_> = r.held.iter().filter(|h| h.value == "a").collect();
        assert_eq!(again.len(), 2, "{again:?}");
        assert!(
            again.iter().all(|h| h.retaken_after_ns.is_none()),
            "{again:?}"
        );
    }
}
