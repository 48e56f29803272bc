//! History types: what a run recorded, op by op.
//!
//! Jepsen's vocabulary: every client op is an `invoke` followed by exactly one completion,
//! `ok` (it took effect, with what it returned), `fail` (it certainly did not take effect) or
//! `info` (we do not know: a timeout or a lost connection). Nemesis ops (fault start/stop) live
//! in the same history so that checkers and charts can attribute anomalies to fault windows.
//!
//! Times are nanoseconds on one monotonic clock of the harness process (`time_ns`), so two ops
//! can be compared without trusting any node's wall clock.
//!
//! Ops are typed: `f` says what was called, `value` what was passed (on invoke) or returned (on
//! completion). A *denied* acquire or a *refused* release is an `ok` op whose value says so
//! (`Denied`, `NotHeld`): it is an observation about the lock, not Jepsen's `fail`.
//! Messaging workloads record a `publish` as a call, and each receipt (`receive`) or Streams
//! acknowledgement (`ack`) as an event: an invoke at once followed by its `ok`.
//!
//! On disk a history is JSON lines (`history.jsonl`), one [`Op`] per line, written as it happens.

mod fast_line;

use serde::{Deserialize, Serialize};
use std::fmt;

/// Nanoseconds on the harness's monotonic clock, counted from the start of the run.
pub type Nanos = u64;

/// Who performed an op.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Process {
    /// A client, numbered from 0.
    Client(u32),
    /// The fault injector.
    Nemesis,
}

impl fmt::Display for Process {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Process::Client(c) => write!(f, "client {c}"),
            Process::Nemesis => write!(f, "nemesis"),
        }
    }
}

/// Jepsen's op types.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OpKind {
    Invoke,
    /// Completed and took effect; the value says what it returned (including denials).
    Ok,
    /// Certainly did not take effect; tells nothing about the object.
    Fail,
    /// Unknown whether it took effect (timeout, lost connection).
    Info,
}

/// What was called.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum F {
    /// Lock acquire (single node or Redlock).
    Acquire,
    /// Lock release.
    Release,
    /// Lease extension.
    Extend,
    /// Asks a lock library whether it still holds its lock (its own belief, not the node's).
    Held,
    /// Read of the protected resource (or of a register/counter).
    Read,
    /// Write of the protected resource (or of a register).
    Write,
    /// Counter increment.
    Add,
    /// Compare-and-set.
    Cas,
    /// Rate-limiter request.
    Request,
    /// Nemesis: a fault begins.
    Start,
    /// Nemesis: a fault ends (healed).
    Stop,
    /// A final read taken after all clients stopped (counter state at the end of the run).
    Final,
    /// A producer sends a message (Pub/Sub `PUBLISH`, Streams `XADD`): invoked with the
    /// [`Message`]; `ok` = the server acknowledged it (replied), `fail` = certainly not sent,
    /// `info` = unknown.
    Publish,
    /// A subscriber or stream consumer got a message. A receipt is an event, not a call: an
    /// invoke immediately followed by an `ok`, both carrying the [`Message`] with its group.
    Receive,
    /// A Streams consumer acknowledged a message (`XACK`), recorded like a receipt.
    Ack,
}

/// A lock grant as the client saw it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Grant {
    /// Fencing token issued with the grant (grows with every grant on its counter).
    pub fence: u64,
    /// Random per-grant token the lock stores as the key's value.
    pub token: String,
    /// The end of validity the client computed: start of the acquire + ttl − drift margin
    /// (Redlock: − elapsed as well), on the harness's monotonic clock.
    pub validity_end_ns: Nanos,
}

/// A fault as recorded by the nemesis.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Fault {
    /// Fault kind, e.g. `gc-pause`, `partition`, `latency`, `clock-jump`, `node-pause`, `crash`.
    pub kind: String,
    /// What it hits, in words a report can show (`client 2`, `n1,n2 | n3,n4,n5`).
    pub target: String,
    /// Pairs a start with its stop.
    pub id: u64,
    /// Free-form detail (`pause 1500ms`, `+10s`).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub detail: String,
    /// The client process (its number) this fault freezes while it lasts (a `SIGSTOP`): an
    /// answer it computed before the stop reaches the harness stale by the stop.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub frozen: Option<u32>,
    /// The lock nodes whose wall clock this fault bends, and since when (it bends them before it
    /// confirms the bend and records its start). Until the fault's stop the nodes' record cannot
    /// place their expiries on the history's clock: a key may expire early, or outlive its
    /// reading when the clock steps back.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bends: Option<BentClocks>,
}

/// Lock nodes whose clocks a fault bends, from `from_ns` on.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BentClocks {
    pub nodes: Vec<String>,
    pub from_ns: Nanos,
}

/// A message of a messaging workload (Pub/Sub or Streams), as the producer sent it or a consumer
/// got it.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Message {
    /// The producer that published it.
    pub producer: u32,
    /// The producer's sequence number: `(producer, seq)` names one message.
    pub seq: u64,
    /// On receipts and acks: the delivery group that must get every message once (a Pub/Sub
    /// subscriber is its own group, `s2`; a Streams consumer group's consumers share its name,
    /// `g1`). Empty on publishes.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub group: String,
}

/// An op's payload: arguments on invoke, result on completion.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Value {
    /// No payload.
    None,
    /// Acquire/extend arguments.
    Lease { key: String, ttl_ms: u64 },
    /// Release argument: the grant being released.
    Held { key: String, fence: u64 },
    /// Extend argument: the grant being extended, and the ttl asked for from now.
    Extension {
        key: String,
        fence: u64,
        ttl_ms: u64,
    },
    /// Acquire granted.
    Granted(Grant),
    /// Acquire denied: the lock was held by someone (an observation, not a failure).
    Denied,
    /// Acquire that the node granted, but whose lease had run out by the time the reply came:
    /// the client does not use it (a correct lock subtracts the time the acquire took).
    Lapsed,
    /// Release took effect (deleted a key).
    Released,
    /// Release refused: the key was not ours (compare-and-delete saw another token or none).
    NotHeld,
    /// Extension granted with a new validity end.
    Extended { validity_end_ns: Nanos },
    /// What a lock library believes about its lock (the answer to `held`).
    Belief { held: bool },
    /// Resource access (invoke): the token presented (None = unfenced client without token).
    Access {
        fence: Option<u64>,
        /// For writes, the value written.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        write: Option<i64>,
    },
    /// Resource access accepted; for reads the value read.
    Accepted { value: i64 },
    /// Resource access rejected by fencing: the highest token the resource had seen.
    Rejected { highest: u64 },
    /// A plain integer (register write/read, counter add/read).
    Int(i64),
    /// Compare-and-set arguments.
    CasArgs { from: i64, to: i64 },
    /// Rate-limiter decision.
    Admitted(bool),
    /// Nemesis fault.
    Fault(Fault),
    /// A message published, received or acknowledged.
    Message(Message),
    /// Why an op failed or is indeterminate.
    Error(String),
}

/// One event of a history.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Op {
    /// Position in the history, 0-based, strictly increasing.
    pub index: u64,
    /// Monotonic nanoseconds since the start of the run.
    pub time_ns: Nanos,
    pub process: Process,
    #[serde(rename = "type")]
    pub kind: OpKind,
    pub f: F,
    pub value: Value,
}

impl Op {
    pub fn is_invoke(&self) -> bool {
        self.kind == OpKind::Invoke
    }
}

/// A whole history, in index order.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct History {
    pub ops: Vec<Op>,
}

/// An invocation paired with its completion (if the history has one).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Call {
    pub process: Process,
    pub f: F,
    pub invoke: Op,
    /// `None` when the history ended before the op completed (same meaning as `info`).
    pub completion: Option<Op>,
}

impl Call {
    pub fn invoke_ns(&self) -> Nanos {
        self.invoke.time_ns
    }
    /// Completion time, or `None` for an op that never completed.
    pub fn complete_ns(&self) -> Option<Nanos> {
        self.completion.as_ref().map(|c| c.time_ns)
    }
    pub fn outcome(&self) -> OpKind {
        self.completion.as_ref().map_or(OpKind::Info, |c| c.kind)
    }
    pub fn result(&self) -> Option<&Value> {
        self.completion.as_ref().map(|c| &c.value)
    }
}

/// A history that cannot be a history: an error, never a verdict.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum MalformedHistory {
    #[error("op index {index} at position {position} is out of order (expected > {previous}); indexes must strictly increase")]
    IndexOrder {
        position: usize,
        index: u64,
        previous: u64,
    },
    #[error("op {index}: time {time_ns} ns goes back in time (previous op at {previous_ns} ns); times are monotonic")]
    TimeOrder {
        index: u64,
        time_ns: Nanos,
        previous_ns: Nanos,
    },
    #[error("op {index}: {field} = {value} is out of range (at most {max}); times and durations are nanoseconds or milliseconds of a run")]
    OutOfRange {
        index: u64,
        field: &'static str,
        value: u64,
        max: u64,
    },
    #[error("op {index}: {process} completes an op it never invoked")]
    CompletionWithoutInvoke { index: u64, process: Process },
    #[error("op {index}: {process} invokes while its op {pending} is still open; a process does one op at a time")]
    DoubleInvoke {
        index: u64,
        process: Process,
        pending: u64,
    },
    #[error("op {index}: completion `{completion:?}` does not match invocation `{invoke:?}` of {process}")]
    MismatchedCompletion {
        index: u64,
        process: Process,
        invoke: F,
        completion: F,
    },
}

/// The latest time a history may name: 2^62 ns (146 years), so that a time plus any duration
/// a history names still fits a u64 (readers refuse more: [`Op::out_of_range`]).
pub const MAX_TIME_NS: Nanos = 1 << 62;
/// The longest duration in milliseconds a history (or a node's record) may name, and the
/// latest wall-clock millisecond: [`MAX_TIME_NS`] in ms.
pub const MAX_MS: u64 = MAX_TIME_NS / 1_000_000;

impl Op {
    /// The first number of this op outside what a history may hold — (field, value, the most
    /// allowed) — so that no arithmetic on times and durations can overflow.
    pub fn out_of_range(&self) -> Option<(&'static str, u64, u64)> {
        let over = |field, v: u64, max| (v > max).then_some((field, v, max));
        over("time_ns", self.time_ns, MAX_TIME_NS).or(match &self.value {
            Value::Lease { ttl_ms, .. } | Value::Extension { ttl_ms, .. } => {
                over("ttl_ms", *ttl_ms, MAX_MS)
            }
            Value::Granted(g) => over("validity_end_ns", g.validity_end_ns, MAX_TIME_NS),
            Value::Extended { validity_end_ns } => {
                over("validity_end_ns", *validity_end_ns, MAX_TIME_NS)
            }
            _ => None,
        })
    }
}

/// [`History::validate`] one op at a time, for readers that do not keep the history.
#[derive(Default)]
pub struct Validator {
    position: usize,
    /// The previous op's index and time.
    previous: Option<(u64, Nanos)>,
    /// Each process's open invocation: its index and function.
    open: std::collections::HashMap<Process, (u64, F)>,
}

impl Validator {
    /// Checks the next op against the ones before it.
    pub fn push(&mut self, op: &Op) -> Result<(), MalformedHistory> {
        let position = self.position;
        self.position += 1;
        if let Some((field, value, max)) = op.out_of_range() {
            return Err(MalformedHistory::OutOfRange {
                index: op.index,
                field,
                value,
                max,
            });
        }
        if let Some((index, time_ns)) = self.previous {
            if op.index <= index {
                return Err(MalformedHistory::IndexOrder {
                    position,
                    index: op.index,
                    previous: index,
                });
            }
            if op.time_ns < time_ns {
                return Err(MalformedHistory::TimeOrder {
                    index: op.index,
                    time_ns: op.time_ns,
                    previous_ns: time_ns,
                });
            }
        }
        self.previous = Some((op.index, op.time_ns));
        if op.process == Process::Nemesis {
            return Ok(());
        }
        match op.kind {
            OpKind::Invoke => {
                if let Some((pending, _)) = self.open.insert(op.process, (op.index, op.f)) {
                    return Err(MalformedHistory::DoubleInvoke {
                        index: op.index,
                        process: op.process,
                        pending,
                    });
                }
            }
            _ => match self.open.remove(&op.process) {
                None => {
                    return Err(MalformedHistory::CompletionWithoutInvoke {
                        index: op.index,
                        process: op.process,
                    })
                }
                Some((_, f)) if f != op.f => {
                    return Err(MalformedHistory::MismatchedCompletion {
                        index: op.index,
                        process: op.process,
                        invoke: f,
                        completion: op.f,
                    })
                }
                Some(_) => {}
            },
        }
        Ok(())
    }
}

impl History {
    pub fn new(ops: Vec<Op>) -> Self {
        History { ops }
    }

    /// Checks the shape of the history: increasing indexes, monotonic times, every completion
    /// after an invocation of the same process and function. Nemesis ops are exempt from the
    /// pairing rule (starts and stops pair by fault id, not by process).
    pub fn validate(&self) -> Result<(), MalformedHistory> {
        let mut v = Validator::default();
        self.ops.iter().try_for_each(|op| v.push(op))
    }

    /// Pairs every client invocation with its completion, in invocation order. Ops still open at
    /// the end of the history get `completion: None`. Assumes [`History::validate`] passed.
    pub fn calls(&self) -> Vec<Call> {
        let mut calls: Vec<Call> = Vec::new();
        let mut open: std::collections::HashMap<Process, usize> = Default::default();
        for op in &self.ops {
            if op.process == Process::Nemesis {
                continue;
            }
            if op.kind == OpKind::Invoke {
                open.insert(op.process, calls.len());
                calls.push(Call {
                    process: op.process,
                    f: op.f,
                    invoke: op.clone(),
                    completion: None,
                });
            } else if let Some(i) = open.remove(&op.process) {
                calls[i].completion = Some(op.clone());
            }
        }
        calls
    }

    /// Fault windows: each nemesis start that took effect paired with its stop by fault id. A
    /// fault never stopped runs to the end of the history.
    pub fn fault_windows(&self) -> Vec<FaultWindow> {
        let mut windows = FaultWindows::default();
        self.ops.iter().for_each(|op| windows.push(op));
        windows.finish(self.ops.last().map_or(0, |o| o.time_ns))
    }
}

/// [`History::fault_windows`] one op at a time: a run has a few faults a second at most, so
/// their windows are kept whole while the ops stream by.
#[derive(Clone, Debug, Default)]
pub struct FaultWindows {
    windows: Vec<FaultWindow>,
    /// Injections that failed after bending nodes' clocks (a clock fault whose confirmation
    /// timed out): no window — nothing took effect as asked — but the clocks were bent from
    /// `bends.from_ns` until the failure was recorded (the nemesis restores them at once).
    failed_bends: Vec<FaultWindow>,
}

impl FaultWindows {
    pub fn push(&mut self, op: &Op) {
        if op.process != Process::Nemesis {
            return;
        }
        let Value::Fault(fault) = &op.value else {
            return;
        };
        // A failed injection: nothing to heal, no window; a bend it made is kept apart.
        if op.kind == OpKind::Fail {
            if let Some(b) = &fault.bends {
                self.failed_bends.push(FaultWindow {
                    fault: fault.clone(),
                    start_ns: b.from_ns.min(op.time_ns),
                    stop_ns: op.time_ns,
                    healed: true,
                });
            }
            return;
        }
        match op.f {
            F::Start => self.windows.push(FaultWindow {
                fault: fault.clone(),
                start_ns: op.time_ns,
                stop_ns: op.time_ns,
                healed: false,
            }),
            F::Stop => {
                if let Some(w) = self
                    .windows
                    .iter_mut()
                    .rev()
                    .find(|w| w.fault.id == fault.id && !w.healed)
                {
                    w.stop_ns = op.time_ns;
                    w.healed = true;
                }
            }
            _ => {}
        }
    }

    /// The clock bends of failed injections ([`FaultWindows::failed_bends`]'s field).
    pub fn failed_bends(&self) -> &[FaultWindow] {
        &self.failed_bends
    }

    /// The windows, those never healed running to `end_ns` (the history's last op).
    pub fn finish(mut self, end_ns: Nanos) -> Vec<FaultWindow> {
        for w in self.windows.iter_mut().filter(|w| !w.healed) {
            w.stop_ns = end_ns;
        }
        self.windows
    }
}

/// [`History::calls`] one op at a time, for checkers that read a history as it streams by: a
/// call is handed out when it completes (a process does one op at a time, so each process's
/// calls come in its own order), and the calls still open at the end by [`CallStream::finish`].
#[derive(Default)]
pub struct CallStream {
    /// Each process's open invocation.
    open: std::collections::HashMap<Process, Op>,
}

impl CallStream {
    /// The call `op` completes, if it completes one (nemesis ops and invocations give none).
    pub fn push(&mut self, op: &Op) -> Option<Call> {
        if op.process == Process::Nemesis {
            return None;
        }
        if op.kind == OpKind::Invoke {
            self.open.insert(op.process, op.clone());
            return None;
        }
        let invoke = self.open.remove(&op.process)?;
        Some(Call {
            process: op.process,
            f: invoke.f,
            invoke,
            completion: Some(op.clone()),
        })
    }

    /// The calls the history ended with still open, in invocation order.
    pub fn finish(self) -> Vec<Call> {
        let mut open: Vec<Op> = self.open.into_values().collect();
        open.sort_by_key(|o| o.index);
        open.into_iter()
            .map(|invoke| Call {
                process: invoke.process,
                f: invoke.f,
                invoke,
                completion: None,
            })
            .collect()
    }
}

/// A fault's active interval.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FaultWindow {
    pub fault: Fault,
    pub start_ns: Nanos,
    pub stop_ns: Nanos,
    /// False when the history ended before the stop was recorded.
    pub healed: bool,
}

impl FaultWindow {
    /// Whether the fault was active at some instant of `[from_ns, to_ns]` (both ends included).
    pub fn overlaps(&self, from_ns: Nanos, to_ns: Nanos) -> bool {
        self.start_ns <= to_ns && self.stop_ns >= from_ns
    }

    /// The faults of `windows` active at some instant of `[from_ns, to_ns]`: what an anomaly in
    /// that stretch can be attributed to.
    pub fn faults_during(windows: &[FaultWindow], from_ns: Nanos, to_ns: Nanos) -> Vec<Fault> {
        windows
            .iter()
            .filter(|w| w.overlaps(from_ns, to_ns))
            .map(|w| w.fault.clone())
            .collect()
    }
}

/// Errors reading a history file.
#[derive(Debug, thiserror::Error)]
pub enum ParseError {
    #[error("{file}:{line}: {message}")]
    Line {
        file: String,
        line: usize,
        message: String,
    },
    #[error("{file}: {source}")]
    Malformed {
        file: String,
        source: MalformedHistory,
    },
}

/// A history read from JSON lines, with what could not be read.
#[derive(Debug)]
pub struct ReadHistory {
    pub history: History,
    /// A last line cut short (the harness was killed mid-write): its line number. Everything
    /// before it was read.
    pub torn_last_line: Option<usize>,
}

/// The ops of `history.jsonl`, one at a time (so a reader keeps only what it needs). A
/// malformed line in the middle is an error naming file and line; a malformed *last* line without
/// a trailing newline is a torn write: the stream ends, and [`JsonlOps::torn_last_line`] says so.
/// Reads from any buffered reader: a file of any length is read a line at a time.
pub struct JsonlOps<R> {
    file: String,
    reader: R,
    line: String,
    line_no: usize,
    torn_last_line: Option<usize>,
    /// Bytes read so far.
    offset: u64,
    /// Where each op's line starts, by op index, when asked for (and while op `k` has index
    /// `k`, as fencepost writes them; `None` once one does not).
    line_offsets: Option<Vec<u64>>,
}

/// Streams the ops of `text` (see [`JsonlOps`]).
pub fn jsonl_ops<'a>(file: &str, text: &'a str) -> JsonlOps<&'a [u8]> {
    JsonlOps::new(file, text.as_bytes())
}

impl<R: std::io::BufRead> JsonlOps<R> {
    /// Streams the ops `reader` yields; `file` names it in errors.
    pub fn new(file: &str, reader: R) -> JsonlOps<R> {
        JsonlOps {
            file: file.to_string(),
            reader,
            line: String::new(),
            line_no: 0,
            torn_last_line: None,
            offset: 0,
            line_offsets: None,
        }
    }

    /// Also notes where each op's line starts (8 bytes per op), so that a few ops can be read
    /// again without reading the file again ([`JsonlOps::line_offsets`]).
    pub fn keeping_line_offsets(mut self) -> Self {
        self.line_offsets = Some(Vec::new());
        self
    }

    /// Where the line of the op with index `k` starts, at `[k]`: when asked for, and when the
    /// ops read were numbered 0, 1, 2, … (otherwise `None`).
    pub fn line_offsets(&self) -> Option<&[u64]> {
        self.line_offsets.as_deref()
    }

    /// The line number of a torn last line, once the stream has ended.
    pub fn torn_last_line(&self) -> Option<usize> {
        self.torn_last_line
    }

    fn error(&self, message: String) -> ParseError {
        ParseError::Line {
            file: self.file.clone(),
            line: self.line_no,
            message,
        }
    }
}

/// What a line says first: enough to decide whether to read the rest.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Head {
    pub index: u64,
    pub process: Process,
    pub kind: OpKind,
}

impl<R: std::io::BufRead> JsonlOps<R> {
    /// The next op `keep` accepts by its [`Head`] (called once per op, in order): the rest of a
    /// line is read only when it is kept, so picking a few ops out of a long file costs little
    /// more than reading it. A line whose head is not in fencepost's own layout is read whole
    /// first, then judged the same way.
    pub fn next_kept(
        &mut self,
        keep: &mut impl FnMut(&Head) -> bool,
    ) -> Option<Result<Op, ParseError>> {
        self.read(keep)
    }

    fn read(&mut self, keep: &mut impl FnMut(&Head) -> bool) -> Option<Result<Op, ParseError>> {
        loop {
            self.line.clear();
            let line_start = self.offset;
            match self.reader.read_line(&mut self.line) {
                Ok(0) => return None,
                Ok(n) => self.offset += n as u64,
                Err(e) => {
                    self.line_no += 1;
                    return Some(Err(self.error(format!("cannot read: {e}"))));
                }
            }
            self.line_no += 1;
            let complete = self.line.ends_with('\n');
            let line = self.line.trim_end_matches(['\n', '\r']);
            if line.trim().is_empty() {
                continue;
            }
            let judged = match fast_line::head(line) {
                Some(head) if !keep(&head) => continue,
                Some(_) => true,
                None => false,
            };
            let parsed = match fast_line::parse(line) {
                Some(op) => Ok(op),
                None => serde_json::from_str::<Op>(line),
            };
            return match parsed {
                Ok(op) => {
                    let head = Head {
                        index: op.index,
                        process: op.process,
                        kind: op.kind,
                    };
                    if !judged && !keep(&head) {
                        continue;
                    }
                    if let Some(offsets) = &mut self.line_offsets {
                        if offsets.len() as u64 == op.index {
                            offsets.push(line_start);
                        } else {
                            self.line_offsets = None;
                        }
                    }
                    Some(Ok(op))
                }
                Err(_) if !complete => {
                    self.torn_last_line = Some(self.line_no);
                    None
                }
                Err(e) => Some(Err(self.error(format!("not a history op ({e}); each line must be one JSON op as fencepost writes them")))),
            };
        }
    }
}

impl<R: std::io::BufRead> Iterator for JsonlOps<R> {
    type Item = Result<Op, ParseError>;

    fn next(&mut self) -> Option<Self::Item> {
        self.read(&mut |_| true)
    }
}

impl<R: std::io::BufRead + Send> JsonlOps<R> {
    /// Hands every op to `each`, in order, while a second thread reads the lines ahead
    /// ([`crate::ahead`]): on two cores, reading and what `each` does overlap. Stops at the
    /// first error, of either; returns the torn last line, if any.
    pub fn read_ahead<E: From<ParseError>>(
        self,
        each: impl FnMut(Op) -> Result<(), E>,
    ) -> Result<Option<usize>, E> {
        self.read_ahead_to_end(each).map(|ops| ops.torn_last_line())
    }

    /// [`JsonlOps::read_ahead`], returning the reader at its end (its torn line, its line
    /// offsets).
    pub fn read_ahead_to_end<E: From<ParseError>>(
        self,
        mut each: impl FnMut(Op) -> Result<(), E>,
    ) -> Result<JsonlOps<R>, E> {
        crate::ahead::ahead(self, |op| each(op?))
    }
}

/// Parses `history.jsonl` whole (see [`jsonl_ops`] for what is an error and what a torn write).
pub fn parse_jsonl(file: &str, text: &str) -> Result<ReadHistory, ParseError> {
    let mut read = jsonl_ops(file, text);
    let ops = read.by_ref().collect::<Result<Vec<Op>, ParseError>>()?;
    let history = History::new(ops);
    history.validate().map_err(|source| ParseError::Malformed {
        file: file.to_string(),
        source,
    })?;
    Ok(ReadHistory {
        history,
        torn_last_line: read.torn_last_line(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn op(index: u64, time_ns: u64, c: u32, kind: OpKind, f: F, value: Value) -> Op {
        Op {
            index,
            time_ns,
            process: Process::Client(c),
            kind,
            f,
            value,
        }
    }

    #[test]
    fn a_failed_clock_injection_leaves_no_window_but_its_bend() {
        let fault = |bends: Option<BentClocks>| Fault {
            kind: "clock".into(),
            target: "n1".into(),
            id: 1,
            detail: String::new(),
            frozen: None,
            bends,
        };
        let nemesis = |time_ns, kind, value| Op {
            index: 0,
            time_ns,
            process: Process::Nemesis,
            kind,
            f: F::Start,
            value,
        };
        let mut w = FaultWindows::default();
        let bent = Some(BentClocks {
            nodes: vec!["n1".into()],
            from_ns: 40,
        });
        w.push(&nemesis(90, OpKind::Fail, Value::Fault(fault(bent))));
        w.push(&nemesis(95, OpKind::Fail, Value::Fault(fault(None))));
        assert_eq!(w.failed_bends().len(), 1);
        assert_eq!(
            (w.failed_bends()[0].start_ns, w.failed_bends()[0].stop_ns),
            (40, 90)
        );
        assert!(w.finish(100).is_empty(), "no window for a failed injection");
    }

    #[test]
    fn roundtrips_json_lines() {
        let ops = vec![
            op(
                0,
                10,
                0,
                OpKind::Invoke,
                F::Acquire,
                Value::Lease {
                    key: "k".into(),
                    ttl_ms: 100,
                },
            ),
            op(
                1,
                20,
                0,
                OpKind::Ok,
                F::Acquire,
                Value::Granted(Grant {
                    fence: 1,
                    token: "t".into(),
                    validity_end_ns: 90,
                }),
            ),
        ];
        let text: String = ops
            .iter()
            .map(|o| serde_json::to_string(o).unwrap() + "\n")
            .collect();
        let read = parse_jsonl("h", &text).unwrap();
        assert_eq!(read.history.ops, ops);
        assert_eq!(read.torn_last_line, None);
    }

    #[test]
    fn messages_roundtrip_and_omit_an_empty_group() {
        let published = Message {
            producer: 3,
            seq: 7,
            group: String::new(),
        };
        let line = serde_json::to_string(&op(
            0,
            1,
            0,
            OpKind::Invoke,
            F::Publish,
            Value::Message(published.clone()),
        ))
        .unwrap();
        assert!(
            line.contains(r#""f":"publish","value":{"message":{"producer":3,"seq":7}}"#),
            "{line}"
        );
        let received = op(
            1,
            2,
            1,
            OpKind::Ok,
            F::Receive,
            Value::Message(Message {
                group: "g1".into(),
                ..published
            }),
        );
        let line = serde_json::to_string(&received).unwrap();
        assert!(line.contains(r#""group":"g1""#), "{line}");
        assert_eq!(serde_json::from_str::<Op>(&line).unwrap(), received);
    }

    #[test]
    fn torn_last_line_is_reported_not_fatal() {
        let first =
            serde_json::to_string(&op(0, 1, 0, OpKind::Invoke, F::Read, Value::None)).unwrap();
        let text = format!("{first}\n{{\"index\":1,\"ti");
        let read = parse_jsonl("h", &text).unwrap();
        assert_eq!(read.history.ops.len(), 1);
        assert_eq!(read.torn_last_line, Some(2));
    }

    #[test]
    fn bad_middle_line_names_the_line() {
        let first =
            serde_json::to_string(&op(0, 1, 0, OpKind::Invoke, F::Read, Value::None)).unwrap();
        let text = format!("{first}\nnot json\n{first}\n");
        let err = parse_jsonl("h.jsonl", &text).unwrap_err().to_string();
        assert!(err.starts_with("h.jsonl:2:"), "{err}");
    }

    #[test]
    fn completion_without_invoke_is_malformed() {
        let h = History::new(vec![op(0, 1, 0, OpKind::Ok, F::Read, Value::Int(1))]);
        assert!(matches!(
            h.validate(),
            Err(MalformedHistory::CompletionWithoutInvoke { .. })
        ));
    }

    #[test]
    fn out_of_order_indexes_are_malformed() {
        let h = History::new(vec![
            op(1, 1, 0, OpKind::Invoke, F::Read, Value::None),
            op(1, 2, 0, OpKind::Ok, F::Read, Value::Int(1)),
        ]);
        assert!(matches!(
            h.validate(),
            Err(MalformedHistory::IndexOrder { .. })
        ));
    }

    #[test]
    fn reading_ahead_keeps_order_errors_and_the_torn_line() {
        let h = crate::linearizable::generate::LockSim::new(6_000, 7, 5, false).history();
        let text = crate::linearizable::generate::to_jsonl(&h);
        let mut got = Vec::new();
        let torn = jsonl_ops("h", &text)
            .read_ahead(|op| -> Result<(), ParseError> {
                got.push(op);
                Ok(())
            })
            .unwrap();
        assert_eq!(got, h.ops, "every op, in order, across batches");
        assert_eq!(torn, None);
        // A torn last line ends the stream and is reported.
        let cut = &text[..text.len() - 7];
        let mut n = 0;
        let torn = jsonl_ops("h", cut)
            .read_ahead(|_| -> Result<(), ParseError> {
                n += 1;
                Ok(())
            })
            .unwrap();
        assert_eq!((n, torn), (h.ops.len() - 1, Some(h.ops.len())));
        // A bad line in the middle is the error, with its line.
        let bad = text.replacen("\"index\":9000,", "\"index\":x,", 1);
        let e = jsonl_ops("h", &bad)
            .read_ahead(|_| -> Result<(), ParseError> { Ok(()) })
            .unwrap_err();
        assert!(e.to_string().starts_with("h:9001:"), "{e}");
        // The consumer's error stops the reading.
        let mut seen = 0;
        let e = jsonl_ops("h", &text)
            .read_ahead(|_| {
                seen += 1;
                if seen == 10 {
                    Err(ParseError::Line {
                        file: "h".into(),
                        line: 10,
                        message: "stop".into(),
                    })
                } else {
                    Ok(())
                }
            })
            .unwrap_err();
        assert!(e.to_string().contains("stop"));
        assert_eq!(seen, 10);
    }
}
