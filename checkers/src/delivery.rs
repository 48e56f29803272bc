//! Delivery: did every message reach every group that must get it, once, and in order?
//!
//! Jepsen's `queue` and `total-queue` checkers ask this of a queue: every message the server
//! acknowledged must come out (or it was *lost*), nothing that was never sent may come out
//! (*unexpected*), and what comes out comes out once (or it was *duplicated*). Redis messaging
//! makes two different promises, and this checker measures both against them:
//!
//! - **Pub/Sub is at-most-once.** A message reaches the subscribers connected when it is
//!   published, once, and is then gone: a subscriber cut off by a partition, a failover or a slow
//!   output buffer misses what was published meanwhile, silently. Loss under faults is what
//!   Pub/Sub promises; a duplicate or an unexpected message is not.
//! - **Streams consumer groups are at-least-once.** An entry `XADD` acknowledged stays in the
//!   stream; the group hands it to one of its consumers, and an entry not yet `XACK`ed stays
//!   pending and may be handed out again (`XCLAIM`, `XAUTOCLAIM`): duplicates are allowed, loss is
//!   not — unless asynchronous replication lost the entry (a replica promoted before it got the
//!   `XADD`), which is what fault injection is there to find.
//!
//! A *group* must get every message: a Pub/Sub subscriber is its own group, a Streams consumer
//! group is one group however many consumers share it. Groups are those the receipts name, plus
//! those the [`DeliveryConfig`] expects (a group that got nothing lost everything). For each
//! group and message `(producer, seq)`:
//!
//! - a publish `ok` makes the message **acknowledged**, `fail` **failed**, `info` or no
//!   completion **indeterminate** (a message published more than once — a retry with the same
//!   seq — takes the strongest outcome: acknowledged over indeterminate over failed);
//! - **lost**: acknowledged, never received by the group, and not **in flight** — its publish
//!   completed more than [`DeliveryConfig::in_flight_ns`] before the history's last op (a
//!   message acknowledged just before the end may still be on its way, and is counted apart);
//! - **duplicated**: each receipt of a message in a group beyond its first;
//! - **unexpected**: received, but never published or published and failed;
//! - **recovered**: indeterminate, and received (the publish took effect after all);
//! - **reordered**: a receipt whose seq is lower than one the group already received from the
//!   same producer (advisory: a Streams group does not promise order across its consumers);
//! - **latency**: from the publish's invocation to the group's first receipt.
//!
//! Each lost message is attributed to the fault windows its publish (invocation to completion)
//! overlapped, or to none: loss only during partitions says something different from loss in
//! quiet time. A receipt is the `ok` of a `receive` op; acks (`XACK`) are counted, not judged.

use crate::check::{Check, Evidence};
use crate::history::{FaultWindow, History, Message, Nanos, Op, OpKind, Process, Value, F};
use serde::{Deserialize, Serialize};
use std::cmp::Ordering;
use std::collections::{BTreeMap, HashMap};

use crate::check::CheckKind;

/// This check's registry entry ([`crate::registry`]).
pub const ORDER: CheckKind = CheckKind {
    id: "message_order",
    name: "per-producer message order",
    label: "message order",
    applies: |s| s.messaging,
    not_applicable: "[expect] message_order is advisory (a consumer group promises no order across its consumers): it is shown, never expected",
    expectable: false,
    advisory: true,
    floors: &[],
    judge: None,
};

/// This check's registry entry ([`crate::registry`]).
pub const DUPLICATION: CheckKind = CheckKind {
    id: "message_duplication",
    name: "message duplication",
    label: "message duplication",
    applies: |s| s.messaging,
    not_applicable: "[expect] message_duplication needs a messaging workload: [workload] kind = \"pubsub\" or \"stream\"",
    expectable: true,
    advisory: false,
    floors: &["messages"],
    judge: None,
};

/// This check's registry entry ([`crate::registry`]).
pub const LOSS: CheckKind = CheckKind {
    id: "message_loss",
    name: "message loss",
    label: "message loss",
    applies: |s| s.messaging,
    not_applicable: "[expect] message_loss needs a messaging workload: [workload] kind = \"pubsub\" or \"stream\"",
    expectable: true,
    advisory: false,
    floors: &["messages"],
    judge: None,
};

/// How many examples of each anomaly a report keeps, earliest first.
pub const EXAMPLES: usize = 5;

/// What the checker needs beyond the history.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeliveryConfig {
    /// A message whose publish completed less than this before the history's last op may still
    /// be on its way: in flight, not lost.
    pub in_flight_ns: Nanos,
    /// Groups that must receive every message, whether or not the history shows them receiving
    /// anything.
    #[serde(default)]
    pub expected_groups: Vec<String>,
}

impl Default for DeliveryConfig {
    /// One second in flight, no group expected beyond those that received something.
    fn default() -> Self {
        DeliveryConfig {
            in_flight_ns: 1_000_000_000,
            expected_groups: Vec::new(),
        }
    }
}

/// One message: its producer and the producer's sequence number.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct MessageId {
    pub producer: u32,
    pub seq: u64,
}

impl From<&Message> for MessageId {
    fn from(m: &Message) -> Self {
        MessageId {
            producer: m.producer,
            seq: m.seq,
        }
    }
}

/// Messages by what their publish said, each message once whatever the groups.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PublishCounts {
    /// `ok`: the server acknowledged them.
    pub acknowledged: u64,
    /// `fail`: certainly not sent.
    pub failed: u64,
    /// `info` or never completed: may or may not have been sent.
    pub indeterminate: u64,
}

/// What one group got (or, summed, what all groups got).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct GroupCounts {
    /// Receive ops.
    pub receipts: u64,
    /// Distinct messages received.
    pub received: u64,
    /// Acknowledged, never received, published before the in-flight margin.
    pub lost: u64,
    /// Acknowledged, not received, published within the in-flight margin of the end.
    pub in_flight: u64,
    /// Receipts beyond the first of each message.
    pub duplicated: u64,
    /// Messages received that were never published, or whose publish failed.
    pub unexpected: u64,
    /// Of the unexpected, those whose publish failed.
    pub unexpected_failed: u64,
    /// Indeterminate publishes received.
    pub recovered: u64,
    /// Receipts with a lower seq than one already received from the same producer.
    pub reordered: u64,
    /// Ack ops.
    pub acks: u64,
}

impl GroupCounts {
    fn add(&mut self, o: &GroupCounts) {
        self.receipts += o.receipts;
        self.received += o.received;
        self.lost += o.lost;
        self.in_flight += o.in_flight;
        self.duplicated += o.duplicated;
        self.unexpected += o.unexpected;
        self.unexpected_failed += o.unexpected_failed;
        self.recovered += o.recovered;
        self.reordered += o.reordered;
        self.acks += o.acks;
    }
}

/// From a publish's invocation to a group's first receipt of the message.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Latency {
    pub samples: u64,
    pub p50_ns: Nanos,
    pub p99_ns: Nanos,
    pub max_ns: Nanos,
}

impl Latency {
    /// Nearest-rank percentiles; `None` without samples.
    fn of(mut samples: Vec<Nanos>) -> Option<Latency> {
        samples.sort_unstable();
        let n = samples.len();
        let rank = |percent: usize| samples[(n * percent).div_ceil(100).max(1) - 1];
        (n > 0).then(|| Latency {
            samples: n as u64,
            p50_ns: rank(50),
            p99_ns: rank(99),
            max_ns: samples[n - 1],
        })
    }
}

/// Lost messages whose publish overlapped one fault window.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FaultLoss {
    pub kind: String,
    pub target: String,
    /// The fault's id (pairs its start and stop).
    pub id: u64,
    pub start_ns: Nanos,
    pub stop_ns: Nanos,
    pub lost: u64,
}

/// One group's delivery.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct GroupReport {
    pub group: String,
    pub counts: GroupCounts,
    pub latency: Option<Latency>,
    /// Fault windows some lost message's publish overlapped, in start order, with how many (a
    /// message counts under every window it overlapped).
    pub lost_during_faults: Vec<FaultLoss>,
    /// Lost messages whose publish overlapped no fault window.
    pub lost_outside_faults: u64,
}

/// An acknowledged message a group never received.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LostMessage {
    pub producer: u32,
    pub seq: u64,
    pub group: String,
    /// The publish's invocation and acknowledgement.
    pub invoke_ns: Nanos,
    pub complete_ns: Nanos,
}

/// A message received that was never sent.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct UnexpectedMessage {
    pub producer: u32,
    pub seq: u64,
    pub group: String,
    /// The group's first receipt of it.
    pub receive_ns: Nanos,
    /// Published, but the publish failed (otherwise: never published).
    pub publish_failed: bool,
}

/// A receipt of a message the group had received before.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DuplicateReceipt {
    pub producer: u32,
    pub seq: u64,
    pub group: String,
    pub receive_ns: Nanos,
    /// Which receipt of the message this is in the group (2 for the first duplicate).
    pub nth: u64,
}

/// A receipt that came after a later message of the same producer.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReorderedReceipt {
    pub producer: u32,
    pub seq: u64,
    pub group: String,
    pub receive_ns: Nanos,
    /// The highest seq of the producer the group had received before.
    pub after_seq: u64,
}

/// What every group got of what was published.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeliveryReport {
    /// The time of the history's last op.
    pub end_ns: Nanos,
    /// The in-flight margin judged with.
    pub in_flight_ns: Nanos,
    pub published: PublishCounts,
    /// Groups by name.
    pub groups: Vec<GroupReport>,
    /// The groups' counts summed.
    pub total: GroupCounts,
    /// Over every group's first receipts.
    pub latency: Option<Latency>,
    /// Over every group, per fault window (in start order).
    pub lost_during_faults: Vec<FaultLoss>,
    pub lost_outside_faults: u64,
    pub lost_examples: Vec<LostMessage>,
    pub unexpected_examples: Vec<UnexpectedMessage>,
    pub duplicate_examples: Vec<DuplicateReceipt>,
    pub reordered_examples: Vec<ReorderedReceipt>,
    /// Ack ops, whatever their group.
    pub acks: u64,
    /// Messaging ops whose value is not a message (left out).
    pub unreadable: u64,
}

/// Whether a history has messaging in it (any publish or receipt).
pub fn applies(history: &History) -> bool {
    history
        .ops
        .iter()
        .any(|o| matches!(o.f, F::Publish | F::Receive))
}

/// A publish's outcome, weakest first.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Outcome {
    Failed,
    Indeterminate,
    Acknowledged,
}

impl Outcome {
    fn of(kind: OpKind) -> Outcome {
        match kind {
            OpKind::Ok => Outcome::Acknowledged,
            OpKind::Fail => Outcome::Failed,
            OpKind::Info | OpKind::Invoke => Outcome::Indeterminate,
        }
    }
}

/// A message's publish (all its publishes, merged).
#[derive(Clone, Copy, Debug)]
struct Sent {
    outcome: Outcome,
    /// The earliest invocation.
    invoke_ns: Nanos,
    /// The earliest completion with the outcome.
    complete_ns: Option<Nanos>,
}

impl Sent {
    fn merge(&mut self, other: Sent) {
        self.invoke_ns = self.invoke_ns.min(other.invoke_ns);
        match other.outcome.cmp(&self.outcome) {
            Ordering::Greater => {
                self.outcome = other.outcome;
                self.complete_ns = other.complete_ns;
            }
            Ordering::Equal => {
                self.complete_ns = match (self.complete_ns, other.complete_ns) {
                    (Some(a), Some(b)) => Some(a.min(b)),
                    (a, b) => a.or(b),
                }
            }
            Ordering::Less => {}
        }
    }
}

/// One group's receipts, as the history's order reveals them.
#[derive(Default)]
struct GroupState {
    /// Per message: how many receipts, and when the first came.
    got: BTreeMap<MessageId, (u64, Nanos)>,
    /// Per producer: the highest seq received so far.
    highest_seq: HashMap<u32, u64>,
    receipts: u64,
    duplicated: u64,
    reordered: u64,
    acks: u64,
}

/// Receipt examples, earliest first.
#[derive(Default)]
struct Examples {
    duplicates: Vec<DuplicateReceipt>,
    reordered: Vec<ReorderedReceipt>,
}

impl GroupState {
    fn receive(&mut self, group: &str, id: MessageId, time_ns: Nanos, ex: &mut Examples) {
        self.receipts += 1;
        let entry = self.got.entry(id).or_insert((0, time_ns));
        entry.0 += 1;
        if entry.0 > 1 {
            self.duplicated += 1;
            if ex.duplicates.len() < EXAMPLES {
                ex.duplicates.push(DuplicateReceipt {
                    producer: id.producer,
                    seq: id.seq,
                    group: group.to_string(),
                    receive_ns: time_ns,
                    nth: entry.0,
                });
            }
        }
        let highest = self.highest_seq.entry(id.producer).or_insert(id.seq);
        if id.seq < *highest {
            self.reordered += 1;
            if ex.reordered.len() < EXAMPLES {
                ex.reordered.push(ReorderedReceipt {
                    producer: id.producer,
                    seq: id.seq,
                    group: group.to_string(),
                    receive_ns: time_ns,
                    after_seq: *highest,
                });
            }
        }
        *highest = (*highest).max(id.seq);
    }
}

/// What judging one group needs besides its receipts.
struct Judge<'a> {
    sent: &'a BTreeMap<MessageId, Sent>,
    windows: &'a [FaultWindow],
    /// A publish completed after this is in flight.
    in_flight_after_ns: Nanos,
}

/// One group judged: its report, its per-window losses, its lost and unexpected messages.
struct Judged {
    report: GroupReport,
    lost_per_window: Vec<u64>,
    lost: Vec<LostMessage>,
    unexpected: Vec<UnexpectedMessage>,
    latencies: Vec<Nanos>,
}

impl Judge<'_> {
    fn group(&self, group: &str, state: &GroupState) -> Judged {
        let mut counts = GroupCounts {
            receipts: state.receipts,
            received: state.got.len() as u64,
            duplicated: state.duplicated,
            reordered: state.reordered,
            acks: state.acks,
            ..Default::default()
        };
        let mut lost_per_window = vec![0; self.windows.len()];
        let mut lost_outside_faults = 0;
        let mut lost = Vec::new();
        for (id, s) in self.sent.iter() {
            if s.outcome != Outcome::Acknowledged || state.got.contains_key(id) {
                continue;
            }
            let complete_ns = s.complete_ns.unwrap_or(Nanos::MAX);
            if complete_ns > self.in_flight_after_ns {
                counts.in_flight += 1;
                continue;
            }
            counts.lost += 1;
            let mut during_any = false;
            for (i, w) in self.windows.iter().enumerate() {
                if w.overlaps(s.invoke_ns, complete_ns) {
                    lost_per_window[i] += 1;
                    during_any = true;
                }
            }
            lost_outside_faults += u64::from(!during_any);
            lost.push(LostMessage {
                producer: id.producer,
                seq: id.seq,
                group: group.to_string(),
                invoke_ns: s.invoke_ns,
                complete_ns,
            });
        }
        let mut unexpected = Vec::new();
        let mut latencies = Vec::new();
        for (id, &(_, first_ns)) in &state.got {
            let outcome = self.sent.get(id).map(|s| (s.outcome, s.invoke_ns));
            match outcome {
                None | Some((Outcome::Failed, _)) => {
                    let publish_failed = outcome.is_some();
                    counts.unexpected += 1;
                    counts.unexpected_failed += u64::from(publish_failed);
                    unexpected.push(UnexpectedMessage {
                        producer: id.producer,
                        seq: id.seq,
                        group: group.to_string(),
                        receive_ns: first_ns,
                        publish_failed,
                    });
                }
                Some((o, invoke_ns)) => {
                    counts.recovered += u64::from(o == Outcome::Indeterminate);
                    latencies.push(first_ns.saturating_sub(invoke_ns));
                }
            }
        }
        earliest(&mut unexpected, unexpected_key);
        Judged {
            report: GroupReport {
                group: group.to_string(),
                counts,
                latency: Latency::of(latencies.clone()),
                lost_during_faults: fault_losses(self.windows, &lost_per_window),
                lost_outside_faults,
            },
            lost_per_window,
            lost,
            unexpected,
            latencies,
        }
    }
}

/// The windows with some loss, in start order.
fn fault_losses(windows: &[FaultWindow], lost_per_window: &[u64]) -> Vec<FaultLoss> {
    let mut out: Vec<FaultLoss> = windows
        .iter()
        .zip(lost_per_window)
        .filter(|(_, &n)| n > 0)
        .map(|(w, &lost)| FaultLoss {
            kind: w.fault.kind.clone(),
            target: w.fault.target.clone(),
            id: w.fault.id,
            start_ns: w.start_ns,
            stop_ns: w.stop_ns,
            lost,
        })
        .collect();
    out.sort_by_key(|f| (f.start_ns, f.id));
    out
}

/// Checks a history's messaging ops. Pure; odd ops (a receipt without a publish, a value that
/// is not a message) are counted, never a panic.
pub fn check(history: &History, cfg: &DeliveryConfig) -> DeliveryReport {
    judge_all(history, cfg).0
}

/// Every lost message (not only the report's examples), earliest first: what a chart marks.
pub fn lost_messages(history: &History, cfg: &DeliveryConfig) -> Vec<LostMessage> {
    let mut lost = judge_all(history, cfg).1;
    lost.sort_by_key(lost_key);
    lost
}

/// The configuration a report was judged with (to judge its history again).
pub fn config_of(r: &DeliveryReport) -> DeliveryConfig {
    DeliveryConfig {
        in_flight_ns: r.in_flight_ns,
        expected_groups: r.groups.iter().map(|g| g.group.clone()).collect(),
    }
}

fn judge_all(history: &History, cfg: &DeliveryConfig) -> (DeliveryReport, Vec<LostMessage>) {
    let mut delivery = Delivery::new(cfg.clone());
    history.ops.iter().for_each(|op| delivery.push(op));
    delivery.judge(&history.fault_windows())
}

/// The delivery checker as a fold over a history's ops. Whether a message was lost is known
/// only at the end (it may still arrive), and whether a receipt is a duplicate needs every
/// message a group got: so it keeps a few dozen bytes per message and group, never the ops.
pub struct Delivery {
    cfg: DeliveryConfig,
    /// Each process's open publish: its message (if its value was one) and invocation time.
    publishing: HashMap<Process, (Option<MessageId>, Nanos)>,
    sent: BTreeMap<MessageId, Sent>,
    groups: BTreeMap<String, GroupState>,
    ex: Examples,
    /// Acks by group, whatever the group (an ack alone does not make one).
    group_acks: HashMap<String, u64>,
    unreadable: u64,
    end_ns: Nanos,
}

impl Delivery {
    /// The groups expected are there from the start, even if they receive nothing.
    pub fn new(cfg: DeliveryConfig) -> Delivery {
        let groups = cfg
            .expected_groups
            .iter()
            .map(|g| (g.clone(), GroupState::default()))
            .collect();
        Delivery {
            cfg,
            publishing: HashMap::new(),
            sent: BTreeMap::new(),
            groups,
            ex: Examples::default(),
            group_acks: HashMap::new(),
            unreadable: 0,
            end_ns: 0,
        }
    }

    pub fn push(&mut self, op: &Op) {
        self.end_ns = op.time_ns;
        if op.process == Process::Nemesis {
            return;
        }
        if op.kind == OpKind::Invoke {
            if op.f == F::Publish {
                let id = match &op.value {
                    Value::Message(m) => Some(m.into()),
                    _ => None,
                };
                self.publishing.insert(op.process, (id, op.time_ns));
            }
            return;
        }
        if let Some((id, invoke_ns)) = self.publishing.remove(&op.process) {
            self.published(id, invoke_ns, Some(op));
        }
        if op.kind != OpKind::Ok || !matches!(op.f, F::Receive | F::Ack) {
            return;
        }
        let Value::Message(m) = &op.value else {
            self.unreadable += 1;
            return;
        };
        if op.f == F::Ack {
            // Counted, not judged.
            match self.group_acks.get_mut(&m.group) {
                Some(n) => *n += 1,
                None => {
                    self.group_acks.insert(m.group.clone(), 1);
                }
            }
            return;
        }
        if !self.groups.contains_key(&m.group) {
            self.groups.insert(m.group.clone(), GroupState::default());
        }
        if let Some(group) = self.groups.get_mut(&m.group) {
            group.receive(&m.group, m.into(), op.time_ns, &mut self.ex);
        }
    }

    /// A publish call ended (`completion` `None`: the history ended with it open).
    fn published(&mut self, id: Option<MessageId>, invoke_ns: Nanos, completion: Option<&Op>) {
        let Some(id) = id else {
            self.unreadable += 1;
            return;
        };
        let this = Sent {
            outcome: Outcome::of(completion.map_or(OpKind::Invoke, |o| o.kind)),
            invoke_ns,
            complete_ns: completion.map(|o| o.time_ns),
        };
        self.sent
            .entry(id)
            .and_modify(|s| s.merge(this))
            .or_insert(this);
    }

    /// The report (its losses attributed to the fault `windows` of the whole history).
    pub fn finish(self, windows: &[FaultWindow]) -> DeliveryReport {
        self.judge(windows).0
    }

    /// The report, and every lost message.
    fn judge(mut self, windows: &[FaultWindow]) -> (DeliveryReport, Vec<LostMessage>) {
        let mut open: Vec<(Option<MessageId>, Nanos)> =
            std::mem::take(&mut self.publishing).into_values().collect();
        open.sort_by_key(|&(_, t)| t);
        for (id, invoke_ns) in open {
            self.published(id, invoke_ns, None);
        }
        for (group, state) in self.groups.iter_mut() {
            state.acks = self.group_acks.get(group).copied().unwrap_or(0);
        }
        let cfg = &self.cfg;
        let mut report = DeliveryReport {
            end_ns: self.end_ns,
            in_flight_ns: cfg.in_flight_ns,
            acks: self.group_acks.values().sum(),
            unreadable: self.unreadable,
            ..Default::default()
        };
        for s in self.sent.values() {
            match s.outcome {
                Outcome::Acknowledged => report.published.acknowledged += 1,
                Outcome::Failed => report.published.failed += 1,
                Outcome::Indeterminate => report.published.indeterminate += 1,
            }
        }
        let judge = Judge {
            sent: &self.sent,
            windows,
            in_flight_after_ns: self.end_ns.saturating_sub(cfg.in_flight_ns),
        };
        let mut lost_per_window = vec![0; windows.len()];
        let mut latencies = Vec::new();
        let mut all_lost = Vec::new();
        for (group, state) in &self.groups {
            let j = judge.group(group, state);
            report.total.add(&j.report.counts);
            report.lost_outside_faults += j.report.lost_outside_faults;
            for (total, n) in lost_per_window.iter_mut().zip(&j.lost_per_window) {
                *total += n;
            }
            latencies.extend(j.latencies);
            all_lost.extend(j.lost);
            report.unexpected_examples.extend(j.unexpected);
            report.groups.push(j.report);
        }
        report.latency = Latency::of(latencies);
        report.lost_during_faults = fault_losses(windows, &lost_per_window);
        report.lost_examples = all_lost.clone();
        earliest(&mut report.lost_examples, lost_key);
        earliest(&mut report.unexpected_examples, unexpected_key);
        report.duplicate_examples = self.ex.duplicates;
        report.reordered_examples = self.ex.reordered;
        (report, all_lost)
    }
}

/// Keeps the [`EXAMPLES`] earliest (per group first, so a report never holds every loss).
fn earliest<T, K: Ord>(items: &mut Vec<T>, key: impl Fn(&T) -> K) {
    items.sort_by_key(key);
    items.truncate(EXAMPLES);
}

fn lost_key(l: &LostMessage) -> (Nanos, Nanos, u32, u64) {
    (l.complete_ns, l.invoke_ns, l.producer, l.seq)
}

fn unexpected_key(u: &UnexpectedMessage) -> (Nanos, u32, u64) {
    (u.receive_ns, u.producer, u.seq)
}

/// The three list entries: loss, duplication, order.
/// `min_messages`: the acknowledged messages and the receipts each needs to say `valid`.
pub fn entries(r: &DeliveryReport, min_messages: u64) -> Vec<Check> {
    vec![
        loss_entry(r, min_messages),
        duplication_entry(r, min_messages),
        order_entry(r, min_messages),
    ]
}

const NO_RECEIPTS: &str = "no receipts to judge";

fn receipts_evidence(r: &DeliveryReport, min_messages: u64) -> Evidence {
    Evidence::new("receipts", r.total.receipts, min_messages)
}

/// Lost and unexpected messages, as a list entry.
pub fn loss_entry(r: &DeliveryReport, min_messages: u64) -> Check {
    let first = r
        .lost_examples
        .iter()
        .map(|l| l.complete_ns)
        .chain(r.unexpected_examples.iter().map(|u| u.receive_ns))
        .min();
    Check::judged(
        &LOSS,
        "every acknowledged publish against each group's receipts (lost: acknowledged, never received, not in flight at the end), and every receipt against the publishes (unexpected: never sent, or its publish failed)",
        r.total.lost + r.total.unexpected,
        vec![
            Evidence::new("acknowledged messages", r.published.acknowledged, min_messages),
            receipts_evidence(r, min_messages),
        ],
    )
    .headline(loss_headline(r))
    .details(loss_details(r))
    .first_violation(first)
}

/// Receipts beyond the first of a message in a group, as a list entry.
pub fn duplication_entry(r: &DeliveryReport, min_messages: u64) -> Check {
    let headline = if r.total.receipts == 0 {
        NO_RECEIPTS.to_string()
    } else if r.total.duplicated == 0 {
        format!(
            "no message received twice in {} ({})",
            groups_words(r, "any of"),
            counted(r.total.receipts, "receipt")
        )
    } else {
        format!(
            "{}: {}",
            counted(r.total.duplicated, "duplicate receipt"),
            per_group(r, |c| c.duplicated)
        )
    };
    let details = r
        .duplicate_examples
        .iter()
        .map(|d| {
            format!(
                "group {} received producer {} seq {} for the {} time at {}",
                d.group,
                d.producer,
                d.seq,
                ordinal(d.nth),
                secs(d.receive_ns)
            )
        })
        .collect();
    Check::judged(
        &DUPLICATION,
        "each group's receipts: a message received more than once in one group",
        r.total.duplicated,
        vec![receipts_evidence(r, min_messages)],
    )
    .headline(headline)
    .details(details)
    .first_violation(r.duplicate_examples.first().map(|d| d.receive_ns))
}

/// Receipts out of per-producer order, as an advisory list entry.
pub fn order_entry(r: &DeliveryReport, min_messages: u64) -> Check {
    let headline = if r.total.receipts == 0 {
        NO_RECEIPTS.to_string()
    } else if r.total.reordered == 0 {
        format!(
            "each producer's messages received in order in {} ({})",
            groups_words(r, "every one of"),
            counted(r.total.receipts, "receipt")
        )
    } else {
        format!(
            "{} after a later message of the same producer: {}",
            counted(r.total.reordered, "receipt"),
            per_group(r, |c| c.reordered)
        )
    };
    let mut details: Vec<String> = r
        .reordered_examples
        .iter()
        .map(|o| {
            format!(
                "group {} received producer {} seq {} at {}, after seq {}",
                o.group,
                o.producer,
                o.seq,
                secs(o.receive_ns),
                o.after_seq
            )
        })
        .collect();
    details.push("advisory: a Streams consumer group hands entries to several consumers and promises no order across them".into());
    let check = Check::judged(
        &ORDER,
        "each group's receipts in history order: a lower seq received after a higher one from the same producer",
        r.total.reordered,
        vec![receipts_evidence(r, min_messages)],
    )
    .headline(headline)
    .details(details)
    .first_violation(r.reordered_examples.first().map(|o| o.receive_ns));
    check
}

fn loss_headline(r: &DeliveryReport) -> String {
    let acked = r.published.acknowledged;
    let mut parts: Vec<String> = Vec::new();
    for g in &r.groups {
        let c = &g.counts;
        if c.lost > 0 {
            parts.push(format!(
                "{} of {} lost in group {} ({})",
                thousands(c.lost),
                counted(acked, "acknowledged message"),
                g.group,
                fault_phrase(g)
            ));
        }
        if c.unexpected > 0 {
            let failed = match c.unexpected_failed {
                0 => String::new(),
                1 if c.unexpected == 1 => " (its publish failed)".into(),
                n if n == c.unexpected => " (their publish failed)".into(),
                n => format!(" ({} of them after their publish failed)", thousands(n)),
            };
            parts.push(format!(
                "{} received in group {} never sent{failed}",
                counted(c.unexpected, "message"),
                g.group
            ));
        }
    }
    if parts.is_empty() {
        return all_delivered(r);
    }
    let more = parts.len().saturating_sub(3);
    parts.truncate(3);
    let mut line = parts.join("; ");
    if more > 0 {
        line.push_str(&format!("; and {more} more"));
    }
    line
}

/// The headline of a run without loss.
fn all_delivered(r: &DeliveryReport) -> String {
    if r.groups.is_empty() {
        return format!(
            "{} and no receipt: no group to judge delivery in",
            counted(r.published.acknowledged, "acknowledged message")
        );
    }
    let mut line = format!(
        "all {} reached {}",
        counted(r.published.acknowledged, "acknowledged message"),
        groups_words(r, "each of")
    );
    if r.total.in_flight > 0 {
        line.push_str(&format!(
            "; {} still in flight at the end",
            thousands(r.total.in_flight)
        ));
    }
    let indeterminate = counted(r.published.indeterminate, "message");
    match (r.published.indeterminate, r.groups.len()) {
        (0, _) => {}
        (_, 1) => line.push_str(&format!(
            "; {} of {indeterminate} with an indeterminate publish recovered",
            thousands(r.total.recovered)
        )),
        _ => line.push_str(&format!(
            "; {indeterminate} with an indeterminate publish, recovered {} time(s) over {} groups",
            thousands(r.total.recovered),
            r.groups.len()
        )),
    }
    line
}

/// Where a group's losses happened: "all 12 published during partition #3".
fn fault_phrase(g: &GroupReport) -> String {
    let lost = g.counts.lost;
    let out = g.lost_outside_faults;
    match &g.lost_during_faults[..] {
        [] if lost == 1 => "published outside any fault".into(),
        [] => format!("all {} published outside any fault", thousands(lost)),
        [w] if out == 0 && lost == 1 => format!("published during {} #{}", w.kind, w.id),
        [w] if out == 0 => format!(
            "all {} published during {} #{}",
            thousands(lost),
            w.kind,
            w.id
        ),
        windows => {
            let mut parts: Vec<String> = windows
                .iter()
                .take(3)
                .map(|w| format!("{} during {} #{}", thousands(w.lost), w.kind, w.id))
                .collect();
            if windows.len() > 3 {
                let more = windows.len() as u64 - 3;
                parts.push(format!("more during {}", counted(more, "other fault")));
            }
            if out > 0 {
                parts.push(format!("{} outside any fault", thousands(out)));
            }
            parts.join(", ")
        }
    }
}

fn loss_details(r: &DeliveryReport) -> Vec<String> {
    let mut details: Vec<String> = r
        .lost_during_faults
        .iter()
        .take(EXAMPLES)
        .map(|w| {
            format!(
                "{} #{} on {} ({}): {} published during it",
                w.kind,
                w.id,
                w.target,
                span(w.start_ns, w.stop_ns),
                counted(w.lost, "lost message")
            )
        })
        .collect();
    if r.total.lost > 0 && r.lost_outside_faults > 0 {
        details.push(format!(
            "{} published outside any fault",
            counted(r.lost_outside_faults, "lost message")
        ));
    }
    details.extend(r.lost_examples.iter().map(|l| {
        format!(
            "lost in group {}: producer {} seq {}, published {}",
            l.group,
            l.producer,
            l.seq,
            span(l.invoke_ns, l.complete_ns)
        )
    }));
    details.extend(r.unexpected_examples.iter().map(|u| {
        format!(
            "group {} received producer {} seq {} at {}, {}",
            u.group,
            u.producer,
            u.seq,
            secs(u.receive_ns),
            if u.publish_failed {
                "whose publish failed"
            } else {
                "which was never published"
            }
        )
    }));
    if r.total.in_flight > 0 {
        details.push(format!(
            "{} acknowledged within {} of the end and not yet received (counted per group): in flight, not lost",
            counted(r.total.in_flight, "message"),
            secs(r.in_flight_ns)
        ));
    }
    if r.unreadable > 0 {
        details.push(format!(
            "{} without a message value left out",
            counted(r.unreadable, "messaging op")
        ));
    }
    details
}

/// The groups, quantified: "group s1", "each of 2 groups (s1, s2)", "no group".
fn groups_words(r: &DeliveryReport, quantifier: &str) -> String {
    let names: Vec<&str> = r.groups.iter().map(|g| g.group.as_str()).collect();
    match names[..] {
        [] => "no group".into(),
        [one] => format!("group {one}"),
        _ => {
            let mut shown = names.iter().take(5).copied().collect::<Vec<_>>().join(", ");
            if names.len() > 5 {
                shown.push_str(", …");
            }
            format!("{quantifier} {} groups ({shown})", names.len())
        }
    }
}

/// "5 in group s1, 2 in group g1" over the groups where `count` is not 0.
fn per_group(r: &DeliveryReport, count: impl Fn(&GroupCounts) -> u64) -> String {
    let parts: Vec<String> = r
        .groups
        .iter()
        .filter(|g| count(&g.counts) > 0)
        .map(|g| format!("{} in group {}", thousands(count(&g.counts)), g.group))
        .collect();
    let more = parts.len().saturating_sub(5);
    let mut line = parts.into_iter().take(5).collect::<Vec<_>>().join(", ");
    if more > 0 {
        line.push_str(&format!(", and {more} more group(s)"));
    }
    line
}

/// "1 message", "1,034 messages".
fn counted(n: u64, what: &str) -> String {
    format!("{} {what}{}", thousands(n), if n == 1 { "" } else { "s" })
}

/// 1034 → "1,034".
fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

fn ordinal(n: u64) -> String {
    let suffix = match (n % 10, n % 100) {
        (_, 11..=13) => "th",
        (1, _) => "st",
        (2, _) => "nd",
        (3, _) => "rd",
        _ => "th",
    };
    format!("{n}{suffix}")
}

fn secs(ns: Nanos) -> String {
    format!("{:.3} s", ns as f64 / 1e9)
}

/// "12.000–15.250 s".
fn span(from_ns: Nanos, to_ns: Nanos) -> String {
    format!("{:.3}–{:.3} s", from_ns as f64 / 1e9, to_ns as f64 / 1e9)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::history::{Fault, Op, Process};
    use crate::Validity;

    /// Builds messaging histories: producers are clients 0.., consumers clients 100..
    #[derive(Default)]
    struct H {
        ops: Vec<Op>,
    }

    const CONSUMER: u32 = 100;

    fn msg(producer: u32, seq: u64, group: &str) -> Value {
        Value::Message(Message {
            producer,
            seq,
            group: group.into(),
        })
    }

    impl H {
        fn push(&mut self, t: u64, process: Process, kind: OpKind, f: F, value: Value) {
            let index = self.ops.len() as u64;
            self.ops.push(Op {
                index,
                time_ns: t,
                process,
                kind,
                f,
                value,
            });
        }
        /// A publish by `process`, completing at `t1` with `kind` (`None`: never completes).
        fn publish_by(
            mut self,
            process: u32,
            t0: u64,
            end: Option<(u64, OpKind)>,
            producer: u32,
            seq: u64,
        ) -> Self {
            let p = Process::Client(process);
            self.push(t0, p, OpKind::Invoke, F::Publish, msg(producer, seq, ""));
            if let Some((t1, kind)) = end {
                self.push(t1, p, kind, F::Publish, msg(producer, seq, ""));
            }
            self
        }
        fn publish(self, t0: u64, t1: u64, kind: OpKind, producer: u32, seq: u64) -> Self {
            self.publish_by(producer, t0, Some((t1, kind)), producer, seq)
        }
        fn event(
            mut self,
            f: F,
            t: u64,
            consumer: u32,
            group: &str,
            producer: u32,
            seq: u64,
        ) -> Self {
            let p = Process::Client(CONSUMER + consumer);
            self.push(t, p, OpKind::Invoke, f, msg(producer, seq, group));
            self.push(t, p, OpKind::Ok, f, msg(producer, seq, group));
            self
        }
        fn receive(self, t: u64, group: &str, producer: u32, seq: u64) -> Self {
            self.event(F::Receive, t, 0, group, producer, seq)
        }
        fn fault(mut self, t: u64, f: F, kind: &str, id: u64) -> Self {
            let fault = Fault {
                kind: kind.into(),
                target: "n1 | n2,n3".into(),
                id,
                detail: String::new(),
                frozen: None,
                bends: None,
            };
            self.push(t, Process::Nemesis, OpKind::Info, f, Value::Fault(fault));
            self
        }
        /// Interleaves the ops in time order (stable), numbers them, validates.
        fn history(mut self) -> History {
            self.ops.sort_by_key(|o| o.time_ns);
            for (i, o) in self.ops.iter_mut().enumerate() {
                o.index = i as u64;
            }
            let h = History::new(self.ops);
            h.validate().unwrap();
            h
        }
        fn check(self, cfg: &DeliveryConfig) -> DeliveryReport {
            check(&self.history(), cfg)
        }
    }

    /// No in-flight margin: every unreceived acknowledged message is lost.
    fn strict() -> DeliveryConfig {
        DeliveryConfig {
            in_flight_ns: 0,
            expected_groups: Vec::new(),
        }
    }

    fn verdicts(r: &DeliveryReport) -> Vec<(String, Validity)> {
        entries(r, 1)
            .into_iter()
            .map(|c| (c.id, c.verdict))
            .collect()
    }

    fn group<'a>(r: &'a DeliveryReport, name: &str) -> &'a GroupCounts {
        &r.groups.iter().find(|g| g.group == name).unwrap().counts
    }

    #[test]
    fn a_fault_free_history_delivered_in_order_is_valid_on_every_check() {
        let mut h = H::default();
        for seq in 0..10 {
            let t = seq * 100;
            h = h
                .publish(t, t + 10, OpKind::Ok, 0, seq)
                .receive(t + 20, "s1", 0, seq)
                .receive(t + 30, "s2", 0, seq);
        }
        let r = h.check(&strict());
        assert_eq!(r.published.acknowledged, 10);
        assert_eq!(r.total.receipts, 20);
        assert_eq!(r.total.received, 20);
        assert_eq!(
            (r.total.lost, r.total.duplicated, r.total.unexpected),
            (0, 0, 0)
        );
        for (id, v) in verdicts(&r) {
            assert_eq!(v, Validity::Valid, "{id}");
        }
        assert_eq!(
            loss_entry(&r, 1).headline,
            "all 10 acknowledged messages reached each of 2 groups (s1, s2)"
        );
        assert!(order_entry(&r, 1).advisory);
    }

    #[test]
    fn an_acknowledged_message_never_received_is_lost() {
        let r = H::default()
            .publish(0, 10, OpKind::Ok, 0, 1)
            .publish(20, 30, OpKind::Ok, 0, 2)
            .receive(40, "s1", 0, 1)
            .check(&strict());
        assert_eq!(r.total.lost, 1);
        assert_eq!(
            r.lost_examples,
            vec![LostMessage {
                producer: 0,
                seq: 2,
                group: "s1".into(),
                invoke_ns: 20,
                complete_ns: 30
            }]
        );
        let e = loss_entry(&r, 1);
        assert_eq!(e.verdict, Validity::Invalid);
        assert_eq!(e.violations, 1);
        assert_eq!(e.first_violation_ns, Some(30));
        assert_eq!(
            e.headline,
            "1 of 2 acknowledged messages lost in group s1 (published outside any fault)"
        );
    }

    #[test]
    fn every_lost_message_is_listed_for_the_chart_beyond_the_examples() {
        let mut h = H::default();
        for seq in 1..=(EXAMPLES as u64 + 3) {
            h = h.publish(seq * 10, seq * 10 + 5, OpKind::Ok, 0, seq);
        }
        let h = h
            .receive(500, "s1", 0, 1)
            .receive(510, "s2", 0, 2)
            .history();
        let r = check(&h, &strict());
        assert_eq!(r.lost_examples.len(), EXAMPLES);
        let all = lost_messages(&h, &config_of(&r));
        assert_eq!(all.len() as u64, r.total.lost);
        assert!(all.windows(2).all(|w| lost_key(&w[0]) <= lost_key(&w[1])));
        assert_eq!(all[0].seq, 1, "s2 never got seq 1");
    }

    #[test]
    fn an_extra_receipt_in_one_group_is_a_duplicate_and_not_across_groups() {
        let r = H::default()
            .publish(0, 10, OpKind::Ok, 0, 1)
            .receive(20, "g1", 0, 1)
            .receive(30, "g1", 0, 1)
            .receive(40, "g1", 0, 1)
            .receive(50, "g2", 0, 1)
            .check(&strict());
        assert_eq!(group(&r, "g1").duplicated, 2);
        assert_eq!(group(&r, "g2").duplicated, 0);
        assert_eq!(r.total.lost, 0);
        let e = duplication_entry(&r, 1);
        assert_eq!(e.verdict, Validity::Invalid);
        assert_eq!(e.violations, 2);
        assert_eq!(e.headline, "2 duplicate receipts: 2 in group g1");
        assert_eq!(e.first_violation_ns, Some(30));
        assert!(e.details[1].contains("3rd time"), "{:?}", e.details);
        assert_eq!(loss_entry(&r, 1).verdict, Validity::Valid);
    }

    #[test]
    fn a_message_never_sent_is_unexpected() {
        let r = H::default()
            .publish(0, 10, OpKind::Ok, 0, 1)
            .receive(20, "s1", 0, 1)
            .receive(30, "s1", 7, 99)
            .check(&strict());
        assert_eq!(r.total.unexpected, 1);
        assert_eq!(r.total.unexpected_failed, 0);
        assert!(!r.unexpected_examples[0].publish_failed);
        let e = loss_entry(&r, 1);
        assert_eq!(e.verdict, Validity::Invalid);
        assert_eq!(e.headline, "1 message received in group s1 never sent");
    }

    #[test]
    fn a_message_whose_publish_failed_is_unexpected_when_received() {
        let r = H::default()
            .publish(0, 10, OpKind::Fail, 0, 1)
            .publish(20, 30, OpKind::Ok, 0, 2)
            .receive(40, "s1", 0, 1)
            .receive(50, "s1", 0, 2)
            .check(&strict());
        assert_eq!(r.published.failed, 1);
        assert_eq!((r.total.unexpected, r.total.unexpected_failed), (1, 1));
        assert!(r.unexpected_examples[0].publish_failed);
        assert_eq!(
            loss_entry(&r, 1).headline,
            "1 message received in group s1 never sent (its publish failed)"
        );
        // A failed publish not received is neither lost nor unexpected.
        let r = H::default()
            .publish(0, 10, OpKind::Fail, 0, 1)
            .publish(20, 30, OpKind::Ok, 0, 2)
            .receive(50, "s1", 0, 2)
            .check(&strict());
        assert_eq!((r.total.lost, r.total.unexpected), (0, 0));
    }

    #[test]
    fn a_lower_seq_after_a_higher_one_of_the_same_producer_is_reordered() {
        let mut h = H::default();
        for seq in 1..=3 {
            h = h
                .publish(seq * 10, seq * 10 + 1, OpKind::Ok, 0, seq)
                .publish(seq * 10, seq * 10 + 1, OpKind::Ok, 1, seq);
        }
        let r = h
            // Producer 0: 1, 3, 2 (2 is reordered); producer 1: 3, 1, 2 (both reordered).
            .receive(100, "g1", 0, 1)
            .receive(101, "g1", 1, 3)
            .receive(102, "g1", 0, 3)
            .receive(103, "g1", 1, 1)
            .receive(104, "g1", 0, 2)
            .receive(105, "g1", 1, 2)
            // Another group's order is its own.
            .receive(106, "g2", 0, 1)
            .receive(107, "g2", 0, 2)
            .receive(108, "g2", 0, 3)
            .check(&strict());
        assert_eq!(group(&r, "g1").reordered, 3);
        assert_eq!(group(&r, "g2").reordered, 0);
        assert_eq!(
            r.reordered_examples[0],
            ReorderedReceipt {
                producer: 1,
                seq: 1,
                group: "g1".into(),
                receive_ns: 103,
                after_seq: 3
            }
        );
        let e = order_entry(&r, 1);
        assert_eq!(e.verdict, Validity::Invalid);
        assert!(e.advisory);
        assert_eq!(
            e.headline,
            "3 receipts after a later message of the same producer: 3 in group g1"
        );
        assert_eq!(
            loss_entry(&r, 1).verdict,
            Validity::Invalid,
            "g2 lost producer 1's"
        );
    }

    #[test]
    fn an_indeterminate_publish_received_is_recovered_and_one_never_received_is_not_lost() {
        let r = H::default()
            .publish(0, 10, OpKind::Info, 0, 1)
            .publish_by(1, 20, None, 1, 1)
            .publish(30, 40, OpKind::Info, 0, 2)
            .publish(50, 60, OpKind::Ok, 0, 3)
            .receive(70, "s1", 0, 1)
            .receive(80, "s1", 1, 1)
            .receive(90, "s1", 0, 3)
            .check(&strict());
        assert_eq!(r.published.indeterminate, 3);
        assert_eq!(r.total.recovered, 2);
        assert_eq!((r.total.lost, r.total.unexpected), (0, 0));
        for (id, v) in verdicts(&r) {
            assert_eq!(v, Validity::Valid, "{id}");
        }
    }

    #[test]
    fn a_message_acknowledged_just_before_the_end_is_in_flight_not_lost() {
        let cfg = DeliveryConfig {
            in_flight_ns: 100,
            expected_groups: Vec::new(),
        };
        let r = H::default()
            .publish(0, 10, OpKind::Ok, 0, 1)
            .receive(20, "s1", 0, 1)
            .publish(500, 899, OpKind::Ok, 0, 2)
            .publish(900, 901, OpKind::Ok, 0, 3)
            .publish(950, 1000, OpKind::Ok, 0, 4)
            .check(&cfg);
        assert_eq!(r.end_ns, 1000);
        // Completed at 899 < 1000 − 100: lost; at 901 and 1000: in flight.
        assert_eq!((r.total.lost, r.total.in_flight), (1, 2));
        assert_eq!(r.lost_examples[0].seq, 2);
        let e = loss_entry(&r, 1);
        assert!(
            e.details.iter().any(|d| d.contains("in flight")),
            "{:?}",
            e.details
        );
    }

    #[test]
    fn loss_is_attributed_to_the_fault_window_its_publish_overlapped() {
        let r = H::default()
            .publish(0, 10, OpKind::Ok, 0, 1)
            .fault(100, F::Start, "partition", 3)
            .publish(150, 160, OpKind::Ok, 0, 2)
            // Invoked before the stop, acknowledged after: overlaps.
            .publish(190, 210, OpKind::Ok, 0, 3)
            .fault(200, F::Stop, "partition", 3)
            .publish(300, 310, OpKind::Ok, 0, 4)
            .publish(400, 410, OpKind::Ok, 0, 5)
            .receive(420, "s1", 0, 1)
            .receive(430, "s1", 0, 5)
            .check(&strict());
        assert_eq!(r.total.lost, 3);
        assert_eq!(r.lost_outside_faults, 1);
        assert_eq!(r.lost_during_faults.len(), 1);
        let w = &r.lost_during_faults[0];
        assert_eq!(
            (w.kind.as_str(), w.id, w.start_ns, w.stop_ns, w.lost),
            ("partition", 3, 100, 200, 2)
        );
        assert_eq!(r.groups[0].lost_during_faults, r.lost_during_faults);
        assert_eq!(
            loss_entry(&r, 1).headline,
            "3 of 5 acknowledged messages lost in group s1 (2 during partition #3, 1 outside any fault)"
        );
    }

    #[test]
    fn the_headline_names_the_one_fault_all_losses_happened_in() {
        let mut h = H::default().fault(1_000, F::Start, "partition", 3);
        for seq in 0..1_034 {
            let t = seq * 10;
            h = h.publish(t, t + 5, OpKind::Ok, 0, seq);
            h = h.receive(t + 7, "s1", 0, seq);
            if !(100..112).contains(&seq) {
                h = h.receive(t + 8, "s2", 0, seq);
            }
        }
        let h = h.fault(1_200, F::Stop, "partition", 3);
        let r = h.check(&strict());
        assert_eq!(
            loss_entry(&r, 1).headline,
            "12 of 1,034 acknowledged messages lost in group s2 (all 12 published during partition #3)"
        );
    }

    #[test]
    fn an_expected_group_that_received_nothing_lost_everything() {
        let cfg = DeliveryConfig {
            in_flight_ns: 0,
            expected_groups: vec!["s1".into(), "s2".into()],
        };
        let r = H::default()
            .publish(0, 10, OpKind::Ok, 0, 1)
            .publish(20, 30, OpKind::Ok, 0, 2)
            .receive(40, "s1", 0, 1)
            .receive(50, "s1", 0, 2)
            .check(&cfg);
        assert_eq!(r.groups.len(), 2);
        assert_eq!(group(&r, "s2").receipts, 0);
        assert_eq!(group(&r, "s2").lost, 2);
        assert_eq!(loss_entry(&r, 1).verdict, Validity::Invalid);
        // Without the expectation, nothing says s2 exists.
        let r = H::default()
            .publish(0, 10, OpKind::Ok, 0, 1)
            .receive(40, "s1", 0, 1)
            .check(&strict());
        assert_eq!(r.groups.len(), 1);
    }

    #[test]
    fn a_retried_publish_counts_once_with_its_strongest_outcome() {
        let r = H::default()
            .publish(0, 10, OpKind::Fail, 0, 1)
            .publish(20, 30, OpKind::Info, 0, 1)
            .publish(40, 50, OpKind::Ok, 0, 1)
            .receive(60, "s1", 0, 1)
            .check(&strict());
        assert_eq!(
            r.published,
            PublishCounts {
                acknowledged: 1,
                failed: 0,
                indeterminate: 0
            }
        );
        assert_eq!((r.total.unexpected, r.total.recovered), (0, 0));
        // Latency from the first attempt.
        assert_eq!(r.latency.as_ref().unwrap().max_ns, 60);
    }

    #[test]
    fn latency_is_from_publish_to_each_groups_first_receipt() {
        let mut h = H::default();
        for seq in 0..100 {
            let t = seq * 1_000;
            h = h
                .publish(t, t + 1, OpKind::Ok, 0, seq)
                .receive(t + seq + 1, "g1", 0, seq)
                .receive(t + 999, "g1", 0, seq);
        }
        let r = h.check(&strict());
        let l = r.latency.unwrap();
        assert_eq!(
            (l.samples, l.p50_ns, l.p99_ns, l.max_ns),
            (100, 50, 99, 100)
        );
    }

    #[test]
    fn acks_are_counted_per_group() {
        let r = H::default()
            .publish(0, 10, OpKind::Ok, 0, 1)
            .receive(20, "g1", 0, 1)
            .event(F::Ack, 30, 1, "g1", 0, 1)
            .event(F::Ack, 40, 1, "g9", 0, 1)
            .check(&strict());
        assert_eq!(r.acks, 2);
        assert_eq!(group(&r, "g1").acks, 1);
        assert_eq!(r.groups.len(), 1, "groups come from receipts");
    }

    #[test]
    fn odd_ops_are_counted_never_a_panic() {
        let mut h = H::default().publish(0, 10, OpKind::Ok, 0, 1);
        h.push(
            20,
            Process::Client(5),
            OpKind::Invoke,
            F::Publish,
            Value::None,
        );
        h.push(30, Process::Client(5), OpKind::Ok, F::Publish, Value::None);
        h.push(
            40,
            Process::Client(6),
            OpKind::Invoke,
            F::Receive,
            Value::Int(1),
        );
        h.push(
            40,
            Process::Client(6),
            OpKind::Ok,
            F::Receive,
            Value::Int(1),
        );
        let r = h.receive(50, "", 0, 1).check(&strict());
        assert_eq!(r.unreadable, 2);
        assert_eq!(r.total.received, 1);
        assert!(loss_entry(&r, 1)
            .details
            .iter()
            .any(|d| d.contains("left out")));
    }

    #[test]
    fn an_empty_history_is_unknown() {
        let r = check(&History::default(), &DeliveryConfig::default());
        for (id, v) in verdicts(&r) {
            assert_eq!(v, Validity::Unknown, "{id}");
        }
        // Publishes nobody received, and no group expected: nothing to judge, not "all reached".
        let r = H::default()
            .publish(0, 10, OpKind::Ok, 0, 1)
            .check(&strict());
        assert_eq!(loss_entry(&r, 1).verdict, Validity::Unknown);
        assert_eq!(
            loss_entry(&r, 1).headline,
            "1 acknowledged message and no receipt: no group to judge delivery in"
        );
        assert_eq!(duplication_entry(&r, 1).headline, "no receipts to judge");
        assert!(!applies(&History::default()));
    }

    #[test]
    fn numbers_read_well() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1_034), "1,034");
        assert_eq!(thousands(12_345_678), "12,345,678");
        assert_eq!(counted(1, "message"), "1 message");
        assert_eq!(ordinal(2), "2nd");
        assert_eq!(ordinal(12), "12th");
        assert_eq!(ordinal(23), "23rd");
    }

    mod brute {
        //! Random histories against a recount written as plainly as possible.

        use super::*;
        use proptest::prelude::*;

        /// (producer, seq, outcome: 0 ok / 1 fail / 2 info / 3 never completes, invoke, duration)
        type Pub = (u32, u64, u8, u64, u64);
        /// (group, producer, seq, time)
        type Recv = (u8, u32, u64, u64);
        /// (start, duration)
        type Win = (u64, u64);

        fn history(pubs: &[Pub], recvs: &[Recv], wins: &[Win]) -> History {
            let mut h = H::default();
            for (i, &(producer, seq, outcome, t0, d)) in pubs.iter().enumerate() {
                let end = match outcome {
                    0 => Some((t0 + d, OpKind::Ok)),
                    1 => Some((t0 + d, OpKind::Fail)),
                    2 => Some((t0 + d, OpKind::Info)),
                    _ => None,
                };
                // One process per publish: they may overlap.
                h = h.publish_by(i as u32, t0, end, producer, seq);
            }
            for &(g, producer, seq, t) in recvs {
                h = h.event(F::Receive, t, 0, &format!("g{g}"), producer, seq);
            }
            for (i, &(start, d)) in wins.iter().enumerate() {
                h = h.fault(start, F::Start, "partition", i as u64).fault(
                    start + d,
                    F::Stop,
                    "partition",
                    i as u64,
                );
            }
            h.history()
        }

        /// What the checker should have found, recounted from the specs.
        struct Expected {
            published: PublishCounts,
            groups: Vec<(String, GroupCounts, Option<Latency>)>,
            lost_per_window: Vec<u64>,
            lost_outside_faults: u64,
        }

        fn recount(
            pubs: &[Pub],
            recvs: &[Recv],
            wins: &[Win],
            expected_groups: &[u8],
            end: u64,
            in_flight: u64,
        ) -> Expected {
            let mut ids: Vec<(u32, u64)> = pubs.iter().map(|p| (p.0, p.1)).collect();
            ids.sort();
            ids.dedup();
            // Per message: outcome (2 ok, 1 indeterminate, 0 failed), first invoke, first ack.
            let sent = |id: (u32, u64)| -> Option<(u8, u64, u64)> {
                let mine: Vec<&Pub> = pubs.iter().filter(|p| (p.0, p.1) == id).collect();
                if mine.is_empty() {
                    return None;
                }
                let outcome = if mine.iter().any(|p| p.2 == 0) {
                    2
                } else if mine.iter().any(|p| p.2 >= 2) {
                    1
                } else {
                    0
                };
                let invoke = mine.iter().map(|p| p.3).min().unwrap();
                let acked = mine
                    .iter()
                    .filter(|p| p.2 == 0)
                    .map(|p| p.3 + p.4)
                    .min()
                    .unwrap_or(0);
                Some((outcome, invoke, acked))
            };
            let mut published = PublishCounts::default();
            for &id in &ids {
                match sent(id).unwrap().0 {
                    2 => published.acknowledged += 1,
                    1 => published.indeterminate += 1,
                    _ => published.failed += 1,
                }
            }
            let mut names: Vec<u8> = recvs.iter().map(|r| r.0).collect();
            names.extend(expected_groups);
            names.sort();
            names.dedup();
            // Receipts in history order: by time, ties in the order pushed.
            let mut ordered: Vec<Recv> = recvs.to_vec();
            ordered.sort_by_key(|r| r.3);
            let mut lost_per_window = vec![0; wins.len()];
            let mut lost_outside_faults = 0;
            let mut groups = Vec::new();
            for g in names {
                let mine: Vec<Recv> = ordered.iter().copied().filter(|r| r.0 == g).collect();
                let mut c = GroupCounts {
                    receipts: mine.len() as u64,
                    ..Default::default()
                };
                let mut got: Vec<(u32, u64)> = mine.iter().map(|r| (r.1, r.2)).collect();
                got.sort();
                got.dedup();
                c.received = got.len() as u64;
                c.duplicated = c.receipts - c.received;
                for (i, r) in mine.iter().enumerate() {
                    if mine[..i].iter().any(|e| e.1 == r.1 && e.2 > r.2) {
                        c.reordered += 1;
                    }
                }
                let mut latencies = Vec::new();
                for &id in &got {
                    let first = mine.iter().find(|r| (r.1, r.2) == id).unwrap().3;
                    match sent(id) {
                        None => c.unexpected += 1,
                        Some((0, _, _)) => {
                            c.unexpected += 1;
                            c.unexpected_failed += 1;
                        }
                        Some((o, invoke, _)) => {
                            if o == 1 {
                                c.recovered += 1;
                            }
                            latencies.push(first.saturating_sub(invoke));
                        }
                    }
                }
                for &id in &ids {
                    let (o, invoke, acked) = sent(id).unwrap();
                    if o != 2 || got.contains(&id) {
                        continue;
                    }
                    if acked > end.saturating_sub(in_flight) {
                        c.in_flight += 1;
                        continue;
                    }
                    c.lost += 1;
                    let mut during = false;
                    for (w, &(start, d)) in wins.iter().enumerate() {
                        if start <= acked && start + d >= invoke {
                            lost_per_window[w] += 1;
                            during = true;
                        }
                    }
                    if !during {
                        lost_outside_faults += 1;
                    }
                }
                latencies.sort();
                let latency = (!latencies.is_empty()).then(|| {
                    let n = latencies.len();
                    Latency {
                        samples: n as u64,
                        p50_ns: latencies[(n * 50).div_ceil(100) - 1],
                        p99_ns: latencies[(n * 99).div_ceil(100) - 1],
                        max_ns: latencies[n - 1],
                    }
                });
                groups.push((format!("g{g}"), c, latency));
            }
            Expected {
                published,
                groups,
                lost_per_window,
                lost_outside_faults,
            }
        }

        fn pubs() -> impl Strategy<Value = Vec<Pub>> {
            prop::collection::vec((0..3u32, 0..8u64, 0..4u8, 0..100u64, 0..20u64), 0..25)
        }

        fn recvs() -> impl Strategy<Value = Vec<Recv>> {
            prop::collection::vec((0..3u8, 0..3u32, 0..10u64, 0..150u64), 0..40)
        }

        fn wins() -> impl Strategy<Value = Vec<Win>> {
            prop::collection::vec((0..150u64, 0..50u64), 0..3)
        }

        /// Agreement proves little unless the random histories show every anomaly.
        #[test]
        fn random_histories_exercise_every_anomaly() {
            use proptest::strategy::ValueTree;
            use proptest::test_runner::TestRunner;
            let mut runner = TestRunner::deterministic();
            let strategy = (pubs(), recvs(), wins());
            let cfg = DeliveryConfig {
                in_flight_ns: 40,
                expected_groups: Vec::new(),
            };
            let mut seen = [0; 8];
            for _ in 0..400 {
                let (p, r, w) = strategy.new_tree(&mut runner).unwrap().current();
                let report = check(&history(&p, &r, &w), &cfg);
                let t = &report.total;
                let found = [
                    t.lost,
                    t.in_flight,
                    t.duplicated,
                    t.unexpected - t.unexpected_failed,
                    t.unexpected_failed,
                    t.recovered,
                    t.reordered,
                    report.lost_during_faults.len() as u64 * report.lost_outside_faults,
                ];
                for (n, f) in seen.iter_mut().zip(found) {
                    *n += u32::from(f > 0);
                }
            }
            assert!(seen.iter().all(|&n| n >= 10), "{seen:?}");
        }

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(400))]

            #[test]
            fn every_count_agrees_with_a_plain_recount(
                pubs in pubs(),
                recvs in recvs(),
                wins in wins(),
                expected_groups in prop::collection::vec(0..4u8, 0..2),
                in_flight in 0..40u64,
            ) {
                let h = history(&pubs, &recvs, &wins);
                let cfg = DeliveryConfig {
                    in_flight_ns: in_flight,
                    expected_groups: expected_groups.iter().map(|g| format!("g{g}")).collect(),
                };
                let r = check(&h, &cfg);
                let end = h.ops.last().map_or(0, |o| o.time_ns);
                let want = recount(&pubs, &recvs, &wins, &expected_groups, end, in_flight);
                prop_assert_eq!(&r.published, &want.published);
                let got: Vec<(String, GroupCounts, Option<Latency>)> = r
                    .groups
                    .iter()
                    .map(|g| (g.group.clone(), g.counts.clone(), g.latency.clone()))
                    .collect();
                prop_assert_eq!(&got, &want.groups);
                let mut total = GroupCounts::default();
                for (_, c, _) in &want.groups {
                    total.add(c);
                }
                prop_assert_eq!(&r.total, &total);
                prop_assert_eq!(r.lost_outside_faults, want.lost_outside_faults);
                let per_window: Vec<(u64, u64)> =
                    r.lost_during_faults.iter().map(|w| (w.id, w.lost)).collect();
                let mut want_per_window: Vec<(u64, u64)> = want
                    .lost_per_window
                    .iter()
                    .enumerate()
                    .filter(|(_, &n)| n > 0)
                    .map(|(i, &n)| (i as u64, n))
                    .collect();
                want_per_window.sort_by_key(|&(i, _)| (wins[i as usize].0, i));
                prop_assert_eq!(per_window, want_per_window);
                prop_assert_eq!(r.lost_examples.len() as u64, total.lost.min(EXAMPLES as u64));
                let loss = loss_entry(&r, 1);
                prop_assert_eq!(loss.violations, total.lost + total.unexpected);
                prop_assert_eq!(
                    loss.verdict == Validity::Invalid,
                    total.lost + total.unexpected > 0
                );
                prop_assert_eq!(duplication_entry(&r, 1).violations, total.duplicated);
                prop_assert_eq!(order_entry(&r, 1).violations, total.reordered);
            }
        }
    }
}
