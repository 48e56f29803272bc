//! From files to verdicts: fencepost's `history.jsonl` and Jepsen's `history.edn`, read into the
//! typed ops of a model, partitioned by key, checked, and explained.
//!
//! Both formats are first read into raw calls — one invocation with its completion, in the
//! vocabulary both share — and each model then takes the calls it understands. That keeps the
//! format quirks (EDN's `:value false` denials, fencepost's `Value::Denied`) in one place and the
//! models free of them. A history that cannot be a history (a completion without an invocation,
//! a value of the wrong type) is a [`CheckError`] naming the file and line (EDN) or op index
//! (fencepost), never a verdict.

use super::open_calls::OpenCalls;
use super::{
    check, Budget, InputError, Linearizability, LinearizabilityReport, Operation, Partition,
    Witness,
};
use crate::edn::{self, Edn, EdnError};
use crate::history::{self, History, Op, OpKind, ParseError, Process, Value, F};
use crate::model::*;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::path::Path;

/// Which format a history file was read as.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SourceFormat {
    /// fencepost's JSON lines.
    Fencepost,
    /// Jepsen / Knossos EDN maps.
    Edn,
}

/// Why a file could not be checked: the history is unreadable or malformed. Never a verdict.
#[derive(Debug, thiserror::Error)]
pub enum CheckError {
    #[error(transparent)]
    Jsonl(#[from] ParseError),
    #[error("{file}: {source}; Jepsen histories are EDN maps, one per line or all in one vector")]
    Edn { file: String, source: EdnError },
    #[error("{file}:{line}: {message}")]
    EdnOp {
        file: String,
        line: usize,
        message: String,
    },
    #[error("{file}: op {index}: {message}")]
    HistoryOp {
        file: String,
        index: u64,
        message: String,
    },
    #[error("{file}: {source}")]
    Input { file: String, source: InputError },
    #[error("cannot read the history {file}: {source}")]
    Read {
        file: String,
        source: std::io::Error,
    },
    #[error("{file}: no {model} ops in this history (it has {other} other client ops); pick the model that matches its ops: acquire/release → lock or mutex, read/write → register, read/write/cas → cas-register, add/read → counter")]
    NoOps {
        file: String,
        model: ModelKind,
        other: usize,
    },
}

/// A checked file: the verdict and how it was read.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Report {
    pub file: String,
    pub format: SourceFormat,
    pub model: ModelKind,
    #[serde(flatten)]
    pub outcome: LinearizabilityReport,
    /// Client ops the model does not cover (resource accesses in a lock run, …).
    pub skipped_ops: usize,
    /// A last line cut short by a killed writer (fencepost histories): read up to it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub torn_last_line: Option<usize>,
    /// EDN: the line of each op, by position (the indexes in the witness are positions).
    #[serde(skip)]
    pub lines: Vec<usize>,
}

impl Report {
    /// `fencepost check --model` exit code: 0 linearizable, 1 not, 3 unknown.
    pub fn exit_code(&self) -> i32 {
        match self.outcome.verdict {
            Linearizability::Ok => 0,
            Linearizability::Illegal => 1,
            Linearizability::Unknown => 3,
        }
    }

    fn place(&self, index: u64) -> String {
        match self.lines.get(index as usize) {
            Some(line) if self.format == SourceFormat::Edn => format!("line {line}"),
            _ => format!("op {index}"),
        }
    }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let o = &self.outcome;
        writeln!(
            f,
            "{}: {} under the {} model ({} ops in {} partition{}, {:.1} ms)",
            self.file,
            o.verdict,
            self.model,
            o.ops,
            o.partitions,
            if o.partitions == 1 { "" } else { "s" },
            o.elapsed_ms
        )?;
        writeln!(
            f,
            "  search: {} configurations explored, at most {} kept at once",
            o.configs, o.max_frontier
        )?;
        if let Some(line) = self.torn_last_line {
            writeln!(
                f,
                "  note: line {line} was cut short (a killed writer); checked the lines before it"
            )?;
        }
        if let Some(why) = &o.unknown_reason {
            writeln!(f, "  undecided: {why}")?;
        }
        if let Some(w) = &o.witness {
            let op = |x: &super::WitnessOp| {
                let end = x
                    .complete_index
                    .map_or(String::new(), |c| format!(" – {}", self.place(c)));
                format!(
                    "{}: {} ({}{})",
                    x.process,
                    x.description,
                    self.place(x.invoke_index),
                    end
                )
            };
            if let Some(key) = &w.key {
                writeln!(f, "  key: {key}")?;
            }
            writeln!(f, "  cannot linearize  {}", op(&w.op))?;
            if let Some(from) = w.window_from {
                writeln!(
                    f,
                    "  (refuted in a window: the returns of ops completed before {} counted as unknown; not linearizable even so, so not as recorded either)",
                    self.place(from)
                )?;
            }
            writeln!(
                f,
                "  after the longest linearizable prefix found ({} ops){}",
                w.prefix.len(),
                if w.prefix.len() > w.prefix_tail.len() {
                    ", ending with:"
                } else {
                    ":"
                }
            )?;
            for x in &w.prefix_tail {
                writeln!(f, "    {}", op(x))?;
            }
            writeln!(f, "  state then: {}", w.state)?;
            if !w.pending.is_empty() {
                writeln!(f, "  in flight then:")?;
                for x in &w.pending {
                    writeln!(f, "    {}", op(x))?;
                }
            }
            if let Some(why) = &w.explanation {
                writeln!(f, "  why: {why}")?;
            }
        }
        Ok(())
    }
}

/// What was called, in the vocabulary both formats share.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum CallF {
    Acquire,
    Release,
    Extend,
    Read,
    Write,
    Cas,
    Add,
}

/// The invocation's argument.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Arg {
    None,
    Int(i64),
    Cas(i64, i64),
}

/// What an `ok` completion returned.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Res {
    Granted,
    Denied,
    Released,
    NotHeld,
    Extended,
    Read(Option<i64>),
    /// Write, cas or add acknowledged.
    Done,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum End {
    Ok(Res),
    /// Did not take effect.
    Fail,
    /// `info`, or never completed.
    Unknown,
}

/// Where a call came from, for error messages.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Loc {
    Line(usize),
    Index(u64),
}

/// One invocation with its completion.
#[derive(Clone, Debug)]
pub(crate) struct RawCall {
    pub process: Process,
    pub f: CallF,
    pub arg: Arg,
    pub end: End,
    pub key: Option<String>,
    pub invoke_index: u64,
    pub complete_index: Option<u64>,
    /// The completion's place if there is one, else the invocation's.
    pub loc: Loc,
}

impl RawCall {
    fn owner(&self) -> u32 {
        match self.process {
            Process::Client(c) => c,
            Process::Nemesis => u32::MAX,
        }
    }
}

/// A model that can take raw calls. `Ok(None)`: not an op of this model (or a `fail`, which
/// did not take effect); skipped.
trait FromRaw: Model {
    #[allow(clippy::type_complexity)]
    fn convert(&self, c: &RawCall) -> Result<Option<(Self::Op, Option<Self::Ret>)>, String>;
}

fn lock_convert(c: &RawCall) -> Result<Option<(LockOp, Option<LockRet>)>, String> {
    let who = c.owner();
    let op = match c.f {
        CallF::Acquire => LockOp::Acquire(who),
        CallF::Release => LockOp::Release(who),
        CallF::Extend => LockOp::Extend(who),
        _ => return Ok(None),
    };
    let ret = match c.end {
        End::Fail => return Ok(None),
        End::Unknown => None,
        End::Ok(res) => Some(match (op, res) {
            (LockOp::Acquire(_), Res::Granted) => LockRet::Granted,
            (LockOp::Acquire(_), Res::Denied) => LockRet::Denied,
            (LockOp::Release(_), Res::Released) => LockRet::Released,
            (LockOp::Release(_) | LockOp::Extend(_), Res::NotHeld) => LockRet::NotHeld,
            (LockOp::Extend(_), Res::Extended) => LockRet::Extended,
            (_, res) => {
                return Err(format!(
                    "{:?} completed ok with {res:?}; an acquire returns granted or denied, a release released or not-held, an extend extended or not-held",
                    c.f
                ))
            }
        }),
    };
    Ok(Some((op, ret)))
}

impl FromRaw for Lock {
    fn convert(&self, c: &RawCall) -> Result<Option<(LockOp, Option<LockRet>)>, String> {
        lock_convert(c)
    }
}

impl FromRaw for Mutex {
    fn convert(&self, c: &RawCall) -> Result<Option<(LockOp, Option<LockRet>)>, String> {
        lock_convert(c)
    }
}

fn not_in_model(f: CallF, model: &str, instead: &str) -> String {
    format!("the {model} model has no {f:?} op; use --model {instead}")
}

fn read_value(c: &RawCall) -> Result<Option<i64>, String> {
    match c.end {
        End::Ok(Res::Read(v)) => Ok(v),
        End::Ok(other) => Err(format!("a read completed ok with {other:?}, not a value")),
        _ => unreachable!("only ok reads have values"),
    }
}

fn int_arg(c: &RawCall) -> Result<i64, String> {
    match c.arg {
        Arg::Int(v) => Ok(v),
        other => Err(format!(
            "{:?} needs an integer argument, got {other:?}",
            c.f
        )),
    }
}

impl FromRaw for Register {
    fn convert(&self, c: &RawCall) -> Result<Option<(RegisterOp, Option<RegisterRet>)>, String> {
        if c.end == End::Fail {
            return Ok(None);
        }
        let known = matches!(c.end, End::Ok(_));
        Ok(Some(match c.f {
            CallF::Read => (
                RegisterOp::Read,
                known
                    .then(|| read_value(c))
                    .transpose()?
                    .map(RegisterRet::Read),
            ),
            CallF::Write => (
                RegisterOp::Write(int_arg(c)?),
                known.then_some(RegisterRet::Written),
            ),
            CallF::Cas => return Err(not_in_model(c.f, "register", "cas-register")),
            CallF::Add => return Err(not_in_model(c.f, "register", "counter")),
            _ => return Ok(None),
        }))
    }
}

impl FromRaw for CasRegister {
    fn convert(&self, c: &RawCall) -> Result<Option<(CasOp, Option<CasRet>)>, String> {
        if c.end == End::Fail {
            return Ok(None);
        }
        let known = matches!(c.end, End::Ok(_));
        Ok(Some(match c.f {
            CallF::Read => (
                CasOp::Read,
                known.then(|| read_value(c)).transpose()?.map(CasRet::Read),
            ),
            CallF::Write => (CasOp::Write(int_arg(c)?), known.then_some(CasRet::Written)),
            CallF::Cas => match c.arg {
                Arg::Cas(from, to) => (CasOp::Cas { from, to }, known.then_some(CasRet::Swapped)),
                other => return Err(format!("cas needs [from to], got {other:?}")),
            },
            CallF::Add => return Err(not_in_model(c.f, "cas-register", "counter")),
            _ => return Ok(None),
        }))
    }
}

impl FromRaw for Counter {
    fn convert(&self, c: &RawCall) -> Result<Option<(CounterOp, Option<CounterRet>)>, String> {
        if c.end == End::Fail {
            return Ok(None);
        }
        let known = matches!(c.end, End::Ok(_));
        Ok(Some(match c.f {
            CallF::Read => {
                let ret = match known.then(|| read_value(c)).transpose()? {
                    None => None,
                    Some(Some(v)) => Some(CounterRet::Read(v)),
                    Some(None) => {
                        return Err("a counter read returned nil; counters start at 0".into())
                    }
                };
                (CounterOp::Read, ret)
            }
            CallF::Add => (
                CounterOp::Add(int_arg(c)?),
                known.then_some(CounterRet::Added),
            ),
            CallF::Write | CallF::Cas => return Err(not_in_model(c.f, "counter", "cas-register")),
            _ => return Ok(None),
        }))
    }
}

fn op_error(file: &str, loc: Loc, message: String) -> CheckError {
    match loc {
        Loc::Line(line) => CheckError::EdnOp {
            file: file.to_string(),
            line,
            message,
        },
        Loc::Index(index) => CheckError::HistoryOp {
            file: file.to_string(),
            index,
            message,
        },
    }
}

/// Converts, partitions by key and checks. Returns the outcome, how many calls the model does
/// not cover, and how many failed (did not take effect).
fn run<M: FromRaw>(
    model: &M,
    calls: &[RawCall],
    budget: &Budget,
    file: &str,
) -> Result<(LinearizabilityReport, usize, usize), CheckError> {
    type Ops<M> = Vec<Operation<<M as Model>::Op, <M as Model>::Ret>>;
    let mut parts: BTreeMap<Option<String>, Ops<M>> = BTreeMap::new();
    let (mut skipped, mut failed) = (0, 0);
    for c in calls {
        match model.convert(c) {
            Err(message) => return Err(op_error(file, c.loc, message)),
            Ok(None) if c.end == End::Fail => failed += 1,
            Ok(None) => skipped += 1,
            Ok(Some((op, ret))) => parts.entry(c.key.clone()).or_default().push(Operation {
                op,
                ret,
                process: c.process,
                invoke_index: c.invoke_index,
                complete_index: c.complete_index,
            }),
        }
    }
    let partitions = parts
        .into_iter()
        .map(|(key, ops)| Partition { key, ops })
        .collect();
    let outcome = check(model, partitions, budget).map_err(|source| CheckError::Input {
        file: file.to_string(),
        source,
    })?;
    Ok((outcome, skipped, failed))
}

fn run_kind(
    kind: ModelKind,
    calls: &[RawCall],
    budget: &Budget,
    file: &str,
) -> Result<(LinearizabilityReport, usize, usize), CheckError> {
    match kind {
        ModelKind::Mutex => run(&Mutex, calls, budget, file),
        ModelKind::Lock => run(&Lock, calls, budget, file),
        ModelKind::Register => run(&Register::default(), calls, budget, file),
        ModelKind::CasRegister => run(&CasRegister::default(), calls, budget, file),
        ModelKind::Counter => run(&Counter, calls, budget, file),
    }
}

/// fencepost's history into raw calls, and how many client calls no model covers. Resource
/// accesses, rate-limiter requests, messaging ops and nemesis ops are not linearizability ops
/// and are left out. Reads the ops in place (no clones): a 100k-op history is mostly parsing already.
/// Assumes [`History::validate`] passed.
pub(crate) fn history_calls(history: &History) -> Result<(Vec<RawCall>, usize), (u64, String)> {
    let mut calls = CallBuilder::default();
    for op in &history.ops {
        calls.push(op)?;
    }
    Ok((calls.out, calls.other))
}

/// [`history_calls`] one op at a time, for a reader that does not keep the history.
#[derive(Default)]
pub(crate) struct CallBuilder {
    out: Vec<RawCall>,
    /// Per client, the open call's slot in `out` (None: an invocation left out).
    open: OpenCalls<Option<usize>>,
    /// Client calls no model covers.
    other: usize,
}

impl CallBuilder {
    fn push(&mut self, op: &Op) -> Result<(), (u64, String)> {
        let (out, open) = (&mut self.out, &mut self.open);
        let Process::Client(client) = op.process else {
            return Ok(());
        };
        if op.kind == OpKind::Invoke {
            let f = match op.f {
                F::Acquire => Some(CallF::Acquire),
                F::Release => Some(CallF::Release),
                F::Extend => Some(CallF::Extend),
                F::Read => Some(CallF::Read),
                F::Write => Some(CallF::Write),
                F::Add => Some(CallF::Add),
                F::Cas => Some(CallF::Cas),
                F::Request
                | F::Start
                | F::Stop
                | F::Final
                | F::Held
                | F::Publish
                | F::Receive
                | F::Ack => None,
            };
            let (arg, key) = match &op.value {
                // The protected resource, not a register.
                Value::Access { .. } => (Arg::None, None),
                Value::Lease { key, .. }
                | Value::Held { key, .. }
                | Value::Extension { key, .. } => (Arg::None, Some(key.clone())),
                Value::Int(v) => (Arg::Int(*v), None),
                Value::CasArgs { from, to } => (Arg::Cas(*from, *to), None),
                _ => (Arg::None, None),
            };
            let f = f.filter(|_| !matches!(op.value, Value::Access { .. }));
            let Some(f) = f else {
                self.other += 1;
                open.insert(client, None);
                return Ok(());
            };
            open.insert(client, Some(out.len()));
            out.push(RawCall {
                process: op.process,
                f,
                arg,
                end: End::Unknown,
                key,
                invoke_index: op.index,
                complete_index: None,
                loc: Loc::Index(op.index),
            });
            return Ok(());
        }
        let Some(Some(slot)) = open.remove(client) else {
            return Ok(());
        };
        let call = &mut out[slot];
        call.complete_index = Some(op.index);
        call.loc = Loc::Index(op.index);
        call.end = match op.kind {
            OpKind::Info | OpKind::Invoke => End::Unknown,
            OpKind::Fail => End::Fail,
            OpKind::Ok => End::Ok(match (&op.value, call.f) {
                (Value::Granted(_), _) => Res::Granted,
                // A lapsed grant: the caller held it, briefly; as a mutex op, a denial (the lock
                // was held at some instant of the call, by the caller itself).
                (Value::Denied | Value::Lapsed, _) => Res::Denied,
                (Value::Released, _) => Res::Released,
                (Value::NotHeld, _) => Res::NotHeld,
                (Value::Extended { .. }, _) => Res::Extended,
                (Value::Int(v), CallF::Read) => Res::Read(Some(*v)),
                (Value::None, CallF::Read) => Res::Read(None),
                (Value::Int(_) | Value::None | Value::CasArgs { .. }, _) => Res::Done,
                (other, f) => {
                    return Err((
                        op.index,
                        format!("{f:?} completed ok with {other:?}, which no model reads"),
                    ))
                }
            }),
        };
        Ok(())
    }
}

/// An op map as either reading of an EDN element gives it: the fields the reader needs.
enum OpMap<'a> {
    Flat(edn::Flat<'a>),
    Tree(Edn),
}

impl OpMap<'_> {
    fn keyword(&self, key: &str) -> Option<&str> {
        match self {
            OpMap::Flat(f) => f.keyword(key),
            OpMap::Tree(t) => t.get(key).and_then(Edn::as_keyword),
        }
    }

    /// The value at `key` as a tree, when present.
    fn value_of(&self, key: &str) -> Option<Edn> {
        match self {
            OpMap::Flat(f) => f.get(key).map(|a| a.to_edn()),
            OpMap::Tree(t) => t.get(key).cloned(),
        }
    }

    /// `Some(Ok(n))` for an integer, `Some(Err(()))` for anything else, `None` when absent.
    fn int(&self, key: &str) -> Option<Result<i64, ()>> {
        match self {
            OpMap::Flat(f) => f.get(key).map(|a| match a {
                edn::Atom::Scalar(edn::Scalar::Int(i)) => Ok(i),
                _ => Err(()),
            }),
            OpMap::Tree(t) => t.get(key).map(|v| v.as_int().ok_or(())),
        }
    }

    /// `:value` as a tree (`nil` when absent); the flat reading allocates only for a tuple.
    fn value(&self) -> std::borrow::Cow<'_, Edn> {
        match self {
            OpMap::Flat(f) => {
                std::borrow::Cow::Owned(f.get("value").map_or(Edn::Nil, edn::Atom::to_edn))
            }
            OpMap::Tree(t) => std::borrow::Cow::Borrowed(t.get("value").unwrap_or(&Edn::Nil)),
        }
    }
}

/// Jepsen's EDN history into raw calls, plus each op's line (by position), one element at a
/// time ([`edn::items`] on a text, [`edn::for_each_item`] on a file): memory is the calls, not
/// the file's trees.
struct EdnCalls<'f> {
    file: &'f str,
    calls: Vec<RawCall>,
    open: OpenCalls<usize>,
    lines: Vec<usize>,
}

impl<'f> EdnCalls<'f> {
    /// `bytes`: the history's size, if known. A call is two elements of ~85 bytes (Jepsen's
    /// lock ops): reserving for that saves regrowing (and copying) a million calls.
    fn new(file: &'f str, bytes: usize) -> Self {
        EdnCalls {
            file,
            calls: Vec::with_capacity(bytes / 170),
            open: OpenCalls::default(),
            lines: Vec::with_capacity(bytes / 85),
        }
    }

    fn push(&mut self, item: edn::Item<'_>) -> Result<(), CheckError> {
        let position = self.lines.len();
        let line = item.line;
        self.lines.push(line);
        let op = self.op_map(item.element, line)?;
        let kind = self.kind(&op, line)?;
        let Some(process) = self.process(&op, line)? else {
            // :nemesis and friends are not client ops
            return Ok(());
        };
        let f = self.f(&op, line)?;
        let value = op.value();
        let value = value.as_ref();
        let index = position as u64;
        if kind == OpKind::Invoke {
            self.invoke(process, f, value, line, index)
        } else {
            self.complete(process, f, kind, value, line, index)
        }
    }

    /// An error in the op at `line`.
    #[cold]
    fn err(&self, line: usize, message: String) -> CheckError {
        CheckError::EdnOp {
            file: self.file.to_string(),
            line,
            message,
        }
    }

    /// The element as an op map, or why it is not one.
    #[inline]
    fn op_map<'i>(&self, element: edn::Element<'i>, line: usize) -> Result<OpMap<'i>, CheckError> {
        match element {
            edn::Element::Flat(f) => Ok(OpMap::Flat(f)),
            edn::Element::Value(v) if v.is_map() => Ok(OpMap::Tree(v)),
            edn::Element::Value(v) => Err(self.err(line, format!("expected an op map like {{:type :invoke, :f :read, :value nil, :process 0}}, found `{v}`"))),
        }
    }

    /// `:type`.
    #[inline]
    fn kind(&self, op: &OpMap, line: usize) -> Result<OpKind, CheckError> {
        match op.keyword("type") {
            Some("invoke") => Ok(OpKind::Invoke),
            Some("ok") => Ok(OpKind::Ok),
            Some("fail") => Ok(OpKind::Fail),
            Some("info") => Ok(OpKind::Info),
            _ => Err(self.err(
                line,
                "an op needs :type :invoke, :ok, :fail or :info".into(),
            )),
        }
    }

    /// `:process`: a client's number, or `None` for a process that is not a client (a keyword
    /// such as `:nemesis`).
    #[inline]
    fn process(&self, op: &OpMap, line: usize) -> Result<Option<u32>, CheckError> {
        let out_of_range = |shown: String| {
            self.err(
                line,
                format!(":process {shown} is out of range: a client process is a whole number 0..={} (a keyword such as :nemesis names a process that is not a client)", u32::MAX),
            )
        };
        match op.int("process") {
            Some(Ok(p)) if (0..=u32::MAX as i64).contains(&p) => Ok(Some(p as u32)),
            Some(Ok(p)) => Err(out_of_range(p.to_string())),
            Some(Err(())) if op.keyword("process").is_some() => Ok(None),
            // a number no i64 holds (read as a float), a string, a vector: never dropped silently
            Some(Err(())) => {
                let shown = op
                    .value_of("process")
                    .map_or_else(String::new, |v| v.to_string());
                Err(out_of_range(crate::quote::clip(&shown).into_owned()))
            }
            None => Err(self.err(
                line,
                "an op needs :process (a client number, or a keyword such as :nemesis)".into(),
            )),
        }
    }

    /// `:f`.
    #[inline]
    fn f(&self, op: &OpMap, line: usize) -> Result<CallF, CheckError> {
        match op.keyword("f") {
            Some("acquire") => Ok(CallF::Acquire),
            Some("release") => Ok(CallF::Release),
            Some("extend") => Ok(CallF::Extend),
            Some("read") => Ok(CallF::Read),
            Some("write") => Ok(CallF::Write),
            Some("cas") => Ok(CallF::Cas),
            Some("add") => Ok(CallF::Add),
            other => Err(self.err(
                line,
                format!(
                    "unsupported :f {}; expected :acquire, :release, :extend, :read, :write, :cas or :add",
                    other.map_or("(missing)".to_string(), |f| format!(":{f}"))
                ),
            )),
        }
    }

    /// An invocation opens a call for its process (which must have none open).
    #[inline]
    fn invoke(
        &mut self,
        process: u32,
        f: CallF,
        value: &Edn,
        line: usize,
        index: u64,
    ) -> Result<(), CheckError> {
        if let Some(pending) = self.open.get(process) {
            return Err(self.err(
                line,
                format!(
                    "process {process} invokes while its op from line {} is still open; a process does one op at a time",
                    self.lines[self.calls[pending].invoke_index as usize]
                ),
            ));
        }
        let (key, arg) = edn_arg(f, value).map_err(|m| self.err(line, m))?;
        self.open.insert(process, self.calls.len());
        self.calls.push(RawCall {
            process: Process::Client(process),
            f,
            arg,
            end: End::Unknown,
            key,
            invoke_index: index,
            complete_index: None,
            loc: Loc::Line(line),
        });
        Ok(())
    }

    /// A completion ends its process's open call (of the same `:f`).
    #[inline]
    fn complete(
        &mut self,
        process: u32,
        f: CallF,
        kind: OpKind,
        value: &Edn,
        line: usize,
        index: u64,
    ) -> Result<(), CheckError> {
        let Some(i) = self.open.remove(process) else {
            return Err(self.err(
                line,
                format!("process {process} completes an op it never invoked"),
            ));
        };
        let call_f = self.calls[i].f;
        if call_f != f {
            return Err(self.err(
                line,
                format!("completion :f {f:?} does not match the invocation's {call_f:?}"),
            ));
        }
        let end = match kind {
            OpKind::Fail => End::Fail,
            OpKind::Info | OpKind::Invoke => End::Unknown,
            OpKind::Ok => End::Ok(
                edn_res(f, value, self.calls[i].key.as_deref()).map_err(|m| self.err(line, m))?,
            ),
        };
        let call = &mut self.calls[i];
        call.complete_index = Some(index);
        call.loc = Loc::Line(line);
        call.end = end;
        Ok(())
    }
}

/// [`EdnCalls`] of a whole text.
fn edn_calls(file: &str, text: &str) -> Result<(Vec<RawCall>, Vec<usize>), CheckError> {
    let mut calls = EdnCalls::new(file, text.len());
    for item in edn::items(text) {
        calls.push(item.map_err(|source| CheckError::Edn {
            file: file.to_string(),
            source,
        })?)?;
    }
    Ok((calls.calls, calls.lines))
}

/// How much of an EDN file is held at a time.
pub(crate) const EDN_PIECE_BYTES: usize = 1 << 20;

/// [`EdnCalls`] of a file read a piece at a time.
fn edn_file_calls(file: &str, path: &Path) -> Result<(Vec<RawCall>, Vec<usize>), CheckError> {
    let io = |source: std::io::Error| CheckError::Read {
        file: file.to_string(),
        source,
    };
    let reader = std::fs::File::open(path).map_err(io)?;
    let bytes = reader.metadata().map_or(0, |m| m.len() as usize);
    let mut calls = EdnCalls::new(file, bytes);
    edn::for_each_item(reader, EDN_PIECE_BYTES, |item| calls.push(item)).map_err(|e| match e {
        edn::ChunkError::Edn(source) => CheckError::Edn {
            file: file.to_string(),
            source,
        },
        edn::ChunkError::Io(source) => io(source),
        edn::ChunkError::Each(e) => e,
    })?;
    Ok((calls.calls, calls.lines))
}

/// Jepsen's `independent` tuples: `[key value]`. A plain cas argument is `[from to]` of
/// integers; an independent one `[key [from to]]`.
fn split_key(f: CallF, value: &Edn) -> (Option<String>, &Edn) {
    match value.as_seq() {
        Some([k, inner]) if f != CallF::Cas || inner.as_seq().is_some() => {
            (Some(k.to_string()), inner)
        }
        _ => (None, value),
    }
}

fn edn_arg(f: CallF, value: &Edn) -> Result<(Option<String>, Arg), String> {
    match f {
        CallF::Acquire | CallF::Release | CallF::Extend => Ok((None, Arg::None)),
        CallF::Read => Ok((split_key(f, value).0, Arg::None)),
        CallF::Write | CallF::Add => {
            let (key, v) = split_key(f, value);
            match v {
                Edn::Int(i) => Ok((key, Arg::Int(*i))),
                other => {
                    Err(format!(":{f:?} needs an integer :value, got `{other}`").to_lowercase())
                }
            }
        }
        CallF::Cas => {
            let (key, v) = split_key(f, value);
            match v.as_seq() {
                Some([Edn::Int(a), Edn::Int(b)]) => Ok((key, Arg::Cas(*a, *b))),
                _ => Err(format!(
                    ":cas needs :value [from to] of integers, got `{v}`"
                )),
            }
        }
    }
}

fn edn_res(f: CallF, value: &Edn, key: Option<&str>) -> Result<Res, String> {
    let refused = matches!(value, Edn::Bool(false));
    Ok(match f {
        // A denial is written {:type :ok, :f :acquire, :value false}.
        CallF::Acquire if refused => Res::Denied,
        CallF::Acquire => Res::Granted,
        CallF::Release if refused => Res::NotHeld,
        CallF::Release => Res::Released,
        CallF::Extend if refused => Res::NotHeld,
        CallF::Extend => Res::Extended,
        CallF::Read => {
            let v = if key.is_some() {
                split_key(f, value).1
            } else {
                value
            };
            match v {
                Edn::Nil => Res::Read(None),
                Edn::Int(i) => Res::Read(Some(*i)),
                other => {
                    return Err(format!(
                        "a read returned `{other}`; expected an integer or nil"
                    ))
                }
            }
        }
        CallF::Write | CallF::Cas | CallF::Add => Res::Done,
    })
}

/// Is this text EDN (rather than fencepost's JSON lines)?
pub fn detect_format(text: &str) -> SourceFormat {
    let mut chars = text.chars().filter(|c| !c.is_whitespace() && *c != ',');
    match chars.next() {
        Some(';') | Some('#') => SourceFormat::Edn,
        Some('[') | Some('(') => SourceFormat::Edn,
        Some('{') => match chars.next() {
            Some('"') | Some('}') => SourceFormat::Fencepost,
            _ => SourceFormat::Edn,
        },
        _ => SourceFormat::Fencepost,
    }
}

/// Checks a history file's text: detects EDN or fencepost JSON lines, reads it into the model's
/// ops, and decides. `file` names the file in errors and in the report.
pub fn check_text(
    model: ModelKind,
    file: &str,
    text: &str,
    budget: &Budget,
) -> Result<Report, CheckError> {
    match detect_format(text) {
        SourceFormat::Edn => {
            let (calls, lines) = edn_calls(file, text)?;
            decide(model, file, budget, Read::edn(calls, lines)).map(|(report, _)| report)
        }
        SourceFormat::Fencepost => check_jsonl(
            model,
            file,
            || Ok(std::io::Cursor::new(text.as_bytes())),
            budget,
        ),
    }
}

/// [`check_text`] on a file, never holding its text whole: fencepost JSON lines are read a line
/// at a time (and the few lines a lock violation's explanation needs, again), EDN a piece at a
/// time.
pub fn check_file(model: ModelKind, path: &Path, budget: &Budget) -> Result<Report, CheckError> {
    use std::io::Read as _;
    let file = path.display().to_string();
    let io = |source: std::io::Error| CheckError::Read {
        file: file.clone(),
        source,
    };
    let mut head = Vec::new();
    std::fs::File::open(path)
        .map_err(io)?
        .take(4096)
        .read_to_end(&mut head)
        .map_err(io)?;
    match detect_format(&String::from_utf8_lossy(&head)) {
        SourceFormat::Edn => {
            let (calls, lines) = edn_file_calls(&file, path)?;
            decide(model, &file, budget, Read::edn(calls, lines)).map(|(report, _)| report)
        }
        SourceFormat::Fencepost => check_jsonl(
            model,
            &file,
            || std::fs::File::open(path).map(std::io::BufReader::new),
            budget,
        ),
    }
}

/// What a history file gave the model.
struct Read {
    calls: Vec<RawCall>,
    other: usize,
    lines: Vec<usize>,
    torn_last_line: Option<usize>,
    format: SourceFormat,
}

impl Read {
    fn edn(calls: Vec<RawCall>, lines: Vec<usize>) -> Read {
        Read {
            calls,
            other: 0,
            lines,
            torn_last_line: None,
            format: SourceFormat::Edn,
        }
    }
}

/// Fencepost JSON lines, streamed: each op is checked and turned into calls as it is read, and
/// dropped; `open` gives the lines again when a violation is explained.
fn check_jsonl<R: std::io::BufRead + std::io::Seek + Send>(
    model: ModelKind,
    file: &str,
    open: impl Fn() -> std::io::Result<R>,
    budget: &Budget,
) -> Result<Report, CheckError> {
    let reader = open().map_err(|source| CheckError::Read {
        file: file.to_string(),
        source,
    })?;
    let mut valid = history::Validator::default();
    let mut calls = CallBuilder::default();
    let ops = history::JsonlOps::new(file, reader)
        .keeping_line_offsets()
        .read_ahead_to_end(|op| {
            valid.push(&op).map_err(|source| ParseError::Malformed {
                file: file.to_string(),
                source,
            })?;
            calls
                .push(&op)
                .map_err(|(index, message)| CheckError::HistoryOp {
                    file: file.to_string(),
                    index,
                    message,
                })
        })?;
    let read = Read {
        calls: calls.out,
        other: calls.other,
        lines: Vec::new(),
        torn_last_line: ops.torn_last_line(),
        format: SourceFormat::Fencepost,
    };
    let (mut report, calls) = decide(model, file, budget, read)?;
    if let Some(w) = report.outcome.witness.as_mut() {
        if matches!(model, ModelKind::Lock | ModelKind::Mutex) {
            w.explanation = match ops.line_offsets() {
                Some(offsets) => explain_lease_by_offsets(file, &open, offsets, &calls, w)?,
                None => explain_lease_streamed(file, &open, w)?,
            };
        }
    }
    Ok(report)
}

/// Runs the search on what was read; gives the calls back.
fn decide(
    model: ModelKind,
    file: &str,
    budget: &Budget,
    read: Read,
) -> Result<(Report, Vec<RawCall>), CheckError> {
    let (outcome, skipped, failed) = run_kind(model, &read.calls, budget, file)?;
    let skipped_ops = skipped + read.other;
    if outcome.ops == 0 && failed == 0 {
        return Err(CheckError::NoOps {
            file: file.to_string(),
            model,
            other: skipped_ops,
        });
    }
    let report = Report {
        file: file.to_string(),
        format: read.format,
        model,
        outcome,
        skipped_ops,
        torn_last_line: read.torn_last_line,
        lines: read.lines,
    };
    Ok((report, read.calls))
}

/// Checks a run's own history (already read): what the harness calls after every run, with
/// `ModelKind::Lock` for the lock's acquire/release ops. On `Illegal` the witness carries a
/// plain explanation when an expired lease is what broke mutual exclusion.
pub fn check_history(
    model: ModelKind,
    history: &History,
    budget: &Budget,
) -> Result<LinearizabilityReport, CheckError> {
    const FILE: &str = "history";
    history.validate().map_err(|source| ParseError::Malformed {
        file: FILE.to_string(),
        source,
    })?;
    let (calls, _) = history_calls(history).map_err(|(index, message)| CheckError::HistoryOp {
        file: FILE.to_string(),
        index,
        message,
    })?;
    let (mut outcome, _, _) = run_kind(model, &calls, budget, FILE)?;
    if let Some(w) = outcome.witness.as_mut() {
        if matches!(model, ModelKind::Lock | ModelKind::Mutex) {
            w.explanation = explain_lease(history, w);
        }
    }
    Ok(outcome)
}

/// When the op that cannot be linearized came after the lock holder's lease ran out, say so:
/// the lock model has no expiry, so an expired lease looks to it like a second holder.
pub fn explain_lease(history: &History, w: &Witness) -> Option<String> {
    explain_lease_in(history, w).ok().flatten()
}

/// [`explain_lease`] from only the calls the witness names, which `kept` reads (given the
/// invocations wanted, it returns them and their completions, in history order) — first the last
/// 64 of its prefix, more only when the holder is not among them — so a violation in a
/// million-op history does not bring the whole history back into memory. The answer is the same
/// as [`explain_lease`] on the whole history.
fn explain_lease_from(
    w: &Witness,
    mut kept: impl FnMut(&std::collections::HashSet<u64>) -> Result<Vec<Op>, CheckError>,
) -> Result<Option<String>, CheckError> {
    let mut tail = 64usize;
    loop {
        let from = w.prefix.len().saturating_sub(tail);
        let mut wanted: std::collections::HashSet<u64> = w.prefix[from..].iter().copied().collect();
        wanted.insert(w.op.invoke_index);
        let part = Witness {
            prefix: w.prefix[from..].to_vec(),
            ..w.clone()
        };
        match explain_lease_in(&History::new(kept(&wanted)?), &part) {
            Ok(found) => return Ok(found),
            Err(NoHolder) if from == 0 => return Ok(None),
            Err(NoHolder) => tail = tail.saturating_mul(16),
        }
    }
}

/// [`explain_lease_from`] reading the file again from the start (fencepost JSONL), every other
/// line read no further than its head.
fn explain_lease_streamed<R: std::io::BufRead>(
    file: &str,
    open: &impl Fn() -> std::io::Result<R>,
    w: &Witness,
) -> Result<Option<String>, CheckError> {
    explain_lease_from(w, |wanted| {
        let reader = open().map_err(|source| CheckError::Read {
            file: file.to_string(),
            source,
        })?;
        let mut open: std::collections::HashSet<Process> = Default::default();
        // The witness's invocations and their completions.
        let mut keep = |h: &history::Head| {
            if h.process == Process::Nemesis {
                false
            } else if h.kind == OpKind::Invoke {
                let keep = wanted.contains(&h.index);
                if keep {
                    open.insert(h.process);
                }
                keep
            } else {
                open.remove(&h.process)
            }
        };
        let mut ops = history::JsonlOps::new(file, reader);
        let mut kept = Vec::new();
        while let Some(op) = ops.next_kept(&mut keep) {
            kept.push(op?);
        }
        Ok(kept)
    })
}

/// [`explain_lease_from`] reading only the lines it needs, where the first reading noted them
/// (`offsets`, by op index; `calls`, in invocation order, pair each invocation with its
/// completion): a few hundred lines instead of the file again.
fn explain_lease_by_offsets<R: std::io::BufRead + std::io::Seek>(
    file: &str,
    open: &impl Fn() -> std::io::Result<R>,
    offsets: &[u64],
    calls: &[RawCall],
    w: &Witness,
) -> Result<Option<String>, CheckError> {
    let io = |source: std::io::Error| CheckError::Read {
        file: file.to_string(),
        source,
    };
    explain_lease_from(w, |wanted| {
        let mut lines: Vec<u64> = Vec::with_capacity(wanted.len() * 2);
        for &invoke in wanted {
            lines.push(invoke);
            let call = calls
                .binary_search_by_key(&invoke, |c| c.invoke_index)
                .ok()
                .and_then(|i| calls[i].complete_index);
            lines.extend(call);
        }
        lines.sort_unstable();
        lines.dedup();
        let mut reader = open().map_err(io)?;
        let mut kept = Vec::with_capacity(lines.len());
        for index in lines {
            let Some(&offset) = offsets.get(index as usize) else {
                continue;
            };
            reader.seek(std::io::SeekFrom::Start(offset)).map_err(io)?;
            if let Some(op) = history::JsonlOps::new(file, &mut reader).next() {
                kept.push(op?);
            }
        }
        Ok(kept)
    })
}

/// No acquire or release in the witness's prefix took effect.
struct NoHolder;

fn explain_lease_in(history: &History, w: &Witness) -> Result<Option<String>, NoHolder> {
    // Only the calls the witness names, paired in place: (invocation, completion).
    let mut wanted: std::collections::HashSet<u64> = w.prefix.iter().copied().collect();
    wanted.insert(w.op.invoke_index);
    let mut calls: HashMap<u64, (&history::Op, Option<&history::Op>)> =
        HashMap::with_capacity(wanted.len());
    let mut open: HashMap<Process, u64> = HashMap::new();
    for op in &history.ops {
        if op.process == Process::Nemesis {
            continue;
        }
        if op.kind == OpKind::Invoke {
            if wanted.contains(&op.index) {
                open.insert(op.process, op.index);
                calls.insert(op.index, (op, None));
            } else {
                open.remove(&op.process);
            }
        } else if let Some(index) = open.remove(&op.process) {
            if let Some(call) = calls.get_mut(&index) {
                call.1 = Some(op);
            }
        }
    }
    // The holder after the prefix: the last acquire or release in it that took effect.
    let took_effect = |(_, done): &(&history::Op, Option<&history::Op>), effect: &Value| {
        done.is_none_or(|d| {
            d.kind != OpKind::Ok
                || match effect {
                    Value::Granted(_) => matches!(d.value, Value::Granted(_)),
                    other => d.value == *other,
                }
        })
    };
    let granted = Value::Granted(history::Grant {
        fence: 0,
        token: String::new(),
        validity_end_ns: 0,
    });
    let last = w
        .prefix
        .iter()
        .rev()
        .find_map(|index| {
            let call = calls.get(index)?;
            match call.0.f {
                F::Acquire if took_effect(call, &granted) => Some(Some(*call)),
                F::Release if took_effect(call, &Value::Released) => Some(None),
                _ => None,
            }
        })
        .ok_or(NoHolder)?;
    let Some((holder, Some(holder_done))) = last else {
        return Ok(None);
    };
    let Value::Granted(grant) = &holder_done.value else {
        return Ok(None);
    };
    let Some((x, x_done)) = calls.get(&w.op.invoke_index) else {
        return Ok(None);
    };
    let at_ns = x_done.map_or(x.time_ns, |d| d.time_ns);
    if grant.validity_end_ns > at_ns {
        return Ok(None);
    }
    let ms = |ns: u64| ns as f64 / 1e6;
    let what = if x.process == holder.process {
        "its own later call found the lock no longer its"
    } else {
        "another client was then told the lock was free"
    };
    Ok(Some(format!(
        "{}'s lease (granted at op {}, valid until {:.1} ms) had expired by {:.1} ms, when {} ended: \
         Redis frees an expired key while its holder may still believe it holds the lock, so {what}. \
         The lock model has no lease expiry, so it reports this as a second holder; whether any \
         client acted on the expired lease is the mutual-exclusion checker's verdict.",
        holder.process,
        holder.index,
        ms(grant.validity_end_ns),
        ms(at_ns),
        w.op.description
    )))
}
