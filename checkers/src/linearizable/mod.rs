//! Linearizability checking: is there one order of the ops, consistent with real time, in which
//! the model explains every return?
//!
//! # The ideas, and why each is sound
//!
//! **Just-in-time linearization, one sweep** (Lowe, "Testing for linearizability", 2017; the
//! `linear` algorithm of Knossos). Instead of Wing–Gong–Lowe's depth-first search over which op to
//! linearize next, with backtracking over a cache of (linearized set, state), we walk the
//! history's events in order and keep the set of *configurations* a linearization could be in:
//! a model state plus the invoked ops not yet linearized. An invocation adds the op to every
//! configuration. A return of op `x` forces `x`: each configuration that has not linearized it
//! yet tries every order of its pending state-changing ops that ends with `x` (its *closure*),
//! and the configurations right after `x` form the new set. If none survives, no linearization
//! exists (every linearization, cut at `x`'s return, is one of the configurations we kept, so an
//! empty set means there is none): the history is `Illegal` and `x` is the op that cannot be
//! linearized. Ops are never linearized before they are invoked, and an op is linearized before
//! its return, so real-time order holds by construction. The sweep decides in one pass; there is
//! no exponential backtracking over an unlucky choice made early.
//!
//! **Observers are placed greedily, never branched on.** An op whose return cannot change the
//! state — a denied acquire, a refused release, a read — is linearized the moment the current
//! state satisfies it (at its invocation, or after any later step). Sound and complete: take any
//! linearization that places such an op later; remove it from there (the state sequence is
//! unchanged, as it changes nothing) and put it at the earlier point where it already fits; every
//! op that had to follow it still does, and the ops that had to precede it returned before it was
//! invoked, so were already linearized. Hence thousands of denials in flight cost a scan, not a
//! power set: this is where Porcupine, which caches every subset of commuting failed acquires as
//! its own state, runs out of memory.
//!
//! **Dominance instead of plain caching.** Configurations with the same state and the same pending
//! known-return ops are compared on what they may still do (`info` ops not yet used) and what they
//! still owe (unsatisfied observations); one with at least the options and at most the debts
//! dominates, and the dominated one is dropped (see `frontier`). Exact duplicates are the special
//! case.
//!
//! **`info` ops are interchangeable by value.** An op whose return is unknown may take effect any
//! time after its invocation, or never: it is never forced, only optionally linearized in a
//! closure. Two such ops with the same call (two timed-out `acquire`s by client 3, two `add 1`s)
//! are indistinguishable once both are invoked — neither has a return deadline — so a
//! configuration keeps a count per distinct call rather than a set of op ids. Without this,
//! k timed-out acquires by one client would make 2^k configurations that differ only in names.
//! Unknown-return ops that can change nothing (reads) are dropped up front; `fail` ops never
//! took effect and are dropped by the readers.
//! The model may widen a class ([`Model::unknown_class`]): the mutex ignores the caller, so all
//! its timed-out acquires are one class (sound when the ops of a class have the same
//! `step_unknown` from every state, which a test checks over all states).
//!
//! **What the model knows of an `info` op: it can only take effect in turn.** A model may declare
//! *alternation channels* ([`Model::toggle`]): yes/no properties of the state such that an op
//! tagged `on` can only step from a state where the property is unset and sets it, an op tagged
//! `off` the reverse, and no other step changes it. The lock has one per client ("held by c":
//! only c's acquire sets it, from free; only c's release clears it), the mutex one ("held").
//! Along any linearization the `on` and `off` steps of a channel therefore alternate: from a
//! state with the property unset, `on` steps ≤ `off` steps + 1 in every prefix, and from a set
//! state `on` ≤ `off`. A timed-out acquire of client c is an optional `on` step; however many
//! of them are pending (a client with 140 timed-out acquires is usual at 100k ops), at most
//! `[c does not hold] + (c's releases still to come: known ones pending, info ones pending,
//! and those invoked later) − (c's grants still to come)` of them can ever take effect. The
//! bound is made per position `i` of the sweep (`search::Caps`): the known releases pending in
//! the configuration, its pending `info` releases, the grants in flight at `i` that it already
//! linearized, plus `D(i)`, the largest sum over a stretch of later events of +1 per release
//! invoked (known or `info`), −1 per known grant returned (it must have taken effect by then)
//! and −1 per timed-out acquire of c invoked (a later copy can stand in for an earlier one:
//! copies are interchangeable once invoked, so a linearization that uses a pending copy while a
//! later-invoked one is unused can swap them, and then uses at most `max_t (firings by t −
//! copies invoked by t)` pending copies). The exact search lowers each count to its bound after
//! every return (and drops a class whose bound is 0). Sound both ways: the configuration with
//! the lowered count has exactly the completions of the original (one needing more copies than
//! the bound does not exist), so no linearization is lost and none is invented. The count
//! matters for dominance: two configurations whose counts differed only above the bound become
//! equal or comparable. It prunes most where processes retire (Jepsen: a process that timed out
//! never calls again, so its acquire's bound is 1) and where a client has far more timed-out
//! acquires than releases to come; on fencepost's own clients, which keep their number and
//! release after a timeout, the bound stays above the counts for most of a history and the
//! gain is small (see BENCHMARKS.md). A model without channels (the registers, the counter)
//! gets no caps.
//!
//! **P-compositionality.** Linearizability is local (Herlihy & Wing): a history is linearizable
//! iff each object's sub-history is. Independent keys (a lock per key, Jepsen's `independent`
//! tuples) are separate partitions, checked in parallel on `std::thread::scope`; the first
//! `Illegal` partition stops the others.
//!
//! **A narrow beam first, the exact search only when needed.** Many `info` ops make many
//! possible worlds (each timed-out acquire may or may not hold the lock), and the exact frontier
//! of a linearizable history can hold thousands of them. The first pass keeps only a few
//! configurations per step (one per distinct state first, then those with the most options and
//! fewest debts). Inside its closures and sets it also uses a coarser order than dominance: of
//! two configurations with the same state and pending known ops, the one with no more debts
//! (and, debts equal, no fewer options in total) stands for both, whatever their options — at
//! 100 clients this is what keeps a closure from exploring a hundred worlds that differ only in
//! which client's timed-out acquire was used. Every configuration the beam keeps is a real
//! partial linearization, so if it reaches the end the history is linearizable — sound. If it
//! runs dry after having dropped a configuration that dominance would have kept (by width or by
//! the coarse order), it proves nothing, and the exact search runs from the start: `Illegal` is
//! only ever concluded by a search that dropped nothing but dominated configurations (histories
//! without `info` ops, where the coarse order is dominance, are still decided in one pass).
//!
//! **Cheap closures at many clients.** At 100 clients a configuration pends ~200 `info` classes
//! and a closure at a free lock tries each client's timed-out acquire; what that costs is per
//! configuration reached, and none of the following changes which configurations are explored
//! or kept. Where a state's `info` steps lead is remembered per state (`unknown_steps`: from a
//! lock held by one client one class at most can step, not 200 to try). A candidate is compared
//! with a set before it is copied (`Frontier::insert_ref`), and an `info` step that absorbs no
//! observation and lands on what the beam's `seen` set already covers is dropped before its
//! configuration is built (a timed-out release undoing a timed-out acquire). Once the beam has
//! dropped a configuration it no longer asks whether its coarse sets lose anything (a dominance
//! test per drop): running dry proves nothing from then on anyway. A return that no
//! configuration still has pending leaves the set as it is (the exact search still lowers its
//! counts to the caps there).
//!
//! **A budget, not a hang.** The search checks its deadline and its memory estimate (the trail
//! arena plus the live configurations, summed over threads) every 1,024 steps and ends in
//! `Unknown` when either runs out.
//!
//! **Witness.** On `Illegal`, the search re-runs the last closure and keeps its deepest
//! configuration: the longest linearizable prefix found, the state it leaves, the ops still in
//! flight, and the op that cannot be linearized. Prefixes are stored as a shared arena of
//! (op, parent) nodes, so configurations share their common past.

mod frontier;
mod open_calls;
mod positions;
mod search;
mod unknown_steps;

pub mod generate;
pub mod read;

#[cfg(test)]
mod brute;
#[cfg(test)]
mod read_tests;
#[cfg(test)]
mod tests;

use crate::history::Process;
use crate::model::Model;
use search::{Found, GaveUp, Search, Shared};
use serde::{Deserialize, Serialize};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

pub use read::{
    check_file, check_history, check_text, detect_format, explain_lease, CheckError, Report,
    SourceFormat,
};

use crate::check::CheckKind;

/// This check's registry entry ([`crate::registry`]).
pub const LOCK_KIND: CheckKind = CheckKind {
    id: "linearizability",
    name: "lock as a mutex with owners",
    label: "linearizability",
    applies: |s| s.lock,
    not_applicable: "[expect] linearizability is advisory (lease expiry is not an op of the mutex model): it is shown, never expected",
    expectable: false,
    advisory: true,
    floors: &[],
    judge: None,
};

/// Width of the first, under-approximating pass (see `Search::beam`).
const BEAM: usize = 8;

/// One call as the search sees it: the typed op, its return (if known), and where its invocation
/// and completion stand in the history's total order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Operation<O, R> {
    pub op: O,
    /// `None`: unknown whether it took effect (`info`, or never completed).
    pub ret: Option<R>,
    pub process: Process,
    /// Position of the invocation in the history (fencepost: the op's `index`).
    pub invoke_index: u64,
    /// Position of the completion; required when `ret` is known.
    pub complete_index: Option<u64>,
}

/// The ops on one independent object (e.g. one lock key).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Partition<O, R> {
    /// `None` for a history of one object.
    pub key: Option<String>,
    pub ops: Vec<Operation<O, R>>,
}

/// How long and how much memory the search may take before answering `Unknown`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Budget {
    pub time_ms: u64,
    pub memory_mb: u64,
}

impl Default for Budget {
    fn default() -> Self {
        Budget {
            time_ms: 10_000,
            memory_mb: 384,
        }
    }
}

/// The verdict.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Linearizability {
    /// A linearization exists.
    Ok,
    /// None exists; see the witness.
    Illegal,
    /// The budget ran out first.
    Unknown,
}

impl Linearizability {
    /// In the run's terms: `Ok` is valid, `Illegal` invalid.
    pub fn validity(self) -> crate::Validity {
        match self {
            Linearizability::Ok => crate::Validity::Valid,
            Linearizability::Illegal => crate::Validity::Invalid,
            Linearizability::Unknown => crate::Validity::Unknown,
        }
    }
}

impl std::fmt::Display for Linearizability {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Linearizability::Ok => "linearizable",
            Linearizability::Illegal => "not linearizable",
            Linearizability::Unknown => "unknown",
        })
    }
}

/// An op named for a report: who, where in the history, and what in words.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct WitnessOp {
    pub process: Process,
    pub invoke_index: u64,
    pub complete_index: Option<u64>,
    pub description: String,
}

/// Why a history is not linearizable, ready for a report to draw.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Witness {
    /// The partition (lock key, independent key), if the history had several.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
    /// The op that cannot be linearized: no order of the ops before its return explains it.
    pub op: WitnessOp,
    /// The longest linearizable prefix found: invocation indexes, in linearization order.
    pub prefix: Vec<u64>,
    /// The last ops of that prefix, described (at most [`Witness::TAIL`]).
    pub prefix_tail: Vec<WitnessOp>,
    /// The model state after the prefix, in words.
    pub state: String,
    /// Ops in flight at that point (invoked, not linearized), besides `op`.
    pub pending: Vec<WitnessOp>,
    /// A plain-words explanation when the reader knows one (e.g. an expired lease).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub explanation: Option<String>,
    /// The history position from which the refutation judged returns: ops completed before it
    /// counted as unknown (a history not linearizable even so is not linearizable as it is).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub window_from: Option<u64>,
}

impl Witness {
    /// How many prefix ops are described in `prefix_tail`.
    pub const TAIL: usize = 12;
}

/// What the search decided, with the witness and how much work it took.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LinearizabilityReport {
    pub verdict: Linearizability,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub witness: Option<Witness>,
    /// Why the verdict is `Unknown`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unknown_reason: Option<String>,
    pub partitions: usize,
    pub ops: usize,
    /// Configurations explored in closures.
    pub configs: u64,
    /// Largest configuration set kept at once (one partition).
    pub max_frontier: usize,
    pub elapsed_ms: f64,
}

/// The ops handed in cannot be a history: an error, never a verdict.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum InputError {
    #[error("op invoked at index {invoke_index} has a known return but no completion index; give the completion's index, or no return for an op whose outcome is unknown")]
    ReturnWithoutCompletion { invoke_index: u64 },
    #[error("op invoked at index {invoke_index} completes at index {complete_index}, not after its invocation")]
    CompletionBeforeInvoke {
        invoke_index: u64,
        complete_index: u64,
    },
    #[error("index {index} is used by two events; every invocation and completion needs its own position")]
    DuplicateIndex { index: u64 },
}

fn validate<O, R>(ops: &[Operation<O, R>]) -> Result<(), InputError> {
    let mut positions = Vec::with_capacity(ops.len() * 2);
    for o in ops {
        positions.push(o.invoke_index);
        match (o.complete_index, &o.ret) {
            (None, Some(_)) => {
                return Err(InputError::ReturnWithoutCompletion {
                    invoke_index: o.invoke_index,
                })
            }
            (Some(c), _) if c <= o.invoke_index => {
                return Err(InputError::CompletionBeforeInvoke {
                    invoke_index: o.invoke_index,
                    complete_index: c,
                })
            }
            (Some(c), _) => positions.push(c),
            (None, None) => {}
        }
    }
    match self::positions::first_duplicate(&positions) {
        Some(index) => Err(InputError::DuplicateIndex { index }),
        None => Ok(()),
    }
}

/// Checks one object's ops.
pub fn check_ops<M: Model>(
    model: &M,
    ops: Vec<Operation<M::Op, M::Ret>>,
    budget: &Budget,
) -> Result<LinearizabilityReport, InputError> {
    check(model, vec![Partition { key: None, ops }], budget)
}

/// Checks independent partitions, in parallel; the history is linearizable iff every partition
/// is. `Illegal` in any partition wins over `Unknown` in another.
pub fn check<M: Model>(
    model: &M,
    partitions: Vec<Partition<M::Op, M::Ret>>,
    budget: &Budget,
) -> Result<LinearizabilityReport, InputError> {
    check_with_beam(model, partitions, budget, BEAM)
}

/// [`check`] with the width of the first pass given (tests use 1, to exercise the fallback, and
/// 0 to skip the first pass and search exactly from the start).
pub(crate) fn check_with_beam<M: Model>(
    model: &M,
    partitions: Vec<Partition<M::Op, M::Ret>>,
    budget: &Budget,
    beam: usize,
) -> Result<LinearizabilityReport, InputError> {
    check_tuned(model, partitions, budget, beam, Windows::default())
}

/// The refutation windows (see [`refute_in_windows`]): tests use tiny ones, so that the
/// property tests' small histories exercise them, and an unsound cut to show they catch one.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Windows {
    pub sizes: &'static [u64],
    /// Drop the ops completed before the cut instead of relaxing them to unknown returns:
    /// unsound (a release dropped leaves its grant's lock held), kept for the test that shows
    /// the property tests catch an unsound rule.
    #[cfg(test)]
    pub unsound_drop: bool,
}

impl Default for Windows {
    fn default() -> Self {
        Windows {
            sizes: &WINDOWS,
            #[cfg(test)]
            unsound_drop: false,
        }
    }
}

/// [`check_with_beam`] with the refutation windows given.
pub(crate) fn check_tuned<M: Model>(
    model: &M,
    mut partitions: Vec<Partition<M::Op, M::Ret>>,
    budget: &Budget,
    beam: usize,
    windows: Windows,
) -> Result<LinearizabilityReport, InputError> {
    let started = Instant::now();
    for p in &mut partitions {
        validate(&p.ops)?;
        p.ops.sort_by_key(|o| o.invoke_index);
    }
    // Biggest first, so the long pole starts early.
    partitions.sort_by_key(|p| std::cmp::Reverse(p.ops.len()));
    let shared = Shared {
        stop: AtomicBool::new(false),
        mem_bytes: AtomicUsize::new(0),
        mem_limit_bytes: (budget.memory_mb as usize).saturating_mul(1 << 20),
        deadline: started + Duration::from_millis(budget.time_ms),
        windows,
    };
    let results = search_partitions(model, &partitions, &shared, beam);
    let mut report = merge_partitions(model, &partitions, results, budget);
    report.elapsed_ms = started.elapsed().as_secs_f64() * 1e3;
    Ok(report)
}

/// What the search found in one partition (by its place in the list), and its counters.
type Searched<S> = (usize, Found<S>, search::Counters, Option<u64>);

/// Searches every partition, on as many threads as there are cores (and partitions); the
/// results in partition order.
fn search_partitions<M: Model>(
    model: &M,
    partitions: &[Partition<M::Op, M::Ret>],
    shared: &Shared,
    beam: usize,
) -> Vec<Searched<M::State>> {
    let threads = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .min(partitions.len())
        .max(1);
    let next = AtomicUsize::new(0);
    let results = std::sync::Mutex::new(Vec::with_capacity(partitions.len()));
    let work = || loop {
        let i = next.fetch_add(1, Ordering::Relaxed);
        let Some(p) = partitions.get(i) else { break };
        let (found, counters, window_from) = search_partition(model, p, shared, beam);
        if matches!(found, Found::Illegal { .. }) {
            shared.stop.store(true, Ordering::Relaxed);
        }
        results
            .lock()
            .expect("a search thread panicked")
            .push((i, found, counters, window_from));
    };
    if threads == 1 {
        work();
    } else {
        std::thread::scope(|s| {
            for _ in 0..threads {
                s.spawn(work);
            }
        });
    }
    let mut results = results.into_inner().expect("a search thread panicked");
    results.sort_by_key(|r| r.0);
    results
}

/// One partition: the beam first, then (if it ran dry) refutations in windows before where
/// it died, then the exact search. With the window a refutation found, if one did.
fn search_partition<M: Model>(
    model: &M,
    p: &Partition<M::Op, M::Ret>,
    shared: &Shared,
    beam: usize,
) -> (Found<M::State>, search::Counters, Option<u64>) {
    // A narrow beam first: it proves most linearizable histories at once, even where the
    // exact frontier would hold thousands of possible worlds (many `info` ops). Only when
    // it runs dry is the exact search needed, for `Illegal` must rule out every world.
    let (mut found, mut counters) = if beam == 0 {
        (Found::BeamDied { at: 0 }, search::Counters::default())
    } else {
        Search::new(model, &p.ops, shared).beam(beam).run()
    };
    let mut window_from = None;
    if let Found::BeamDied { at } = found {
        found = Found::Stopped;
        if beam > 0 {
            if let Some((refuted, from)) = refute_in_windows(model, p, shared, at, &mut counters) {
                found = refuted;
                window_from = Some(from);
            }
        }
        if matches!(found, Found::Stopped) {
            let (exact, more) = Search::new(model, &p.ops, shared).run();
            found = exact;
            counters.configs += more.configs;
            counters.max_frontier = counters.max_frontier.max(more.max_frontier);
        }
    }
    (found, counters, window_from)
}

/// The ops `marked` (by op id) given unknown returns.
fn relax<O: Clone, R: Clone>(ops: &[Operation<O, R>], marked: &[bool]) -> Vec<Operation<O, R>> {
    ops.iter()
        .zip(marked)
        .map(|(o, &relaxed)| {
            if relaxed {
                Operation {
                    ret: None,
                    complete_index: None,
                    ..o.clone()
                }
            } else {
                o.clone()
            }
        })
        .collect()
}

/// Windows, in events before the return where the beam died, that [`refute_in_windows`] tries.
const WINDOWS: [u64; 3] = [512, 8_192, 131_072];

/// **Refutation in a window.** The beam died at op `at`'s return, so the first return no
/// linearization explains is there or later. The exact search must carry every world from the
/// start to there, and with many `info` ops open the worlds multiply. But a history whose
/// known-return ops completed before a cut are *relaxed* to unknown returns (each may take the
/// effect `step_unknown` gives, between its invocation and the cut, or none) admits every
/// linearization of the original — a known return's step is either no change or the one
/// effect `step_unknown` names (a property test checks this for every model), and it took
/// place before its return, so before the cut — so if the relaxed history is not
/// linearizable, neither is the original. (Left open after the cut, a relaxed release would
/// excuse any later grant: the cut is their deadline.) Before the cut, relaxed ops force no
/// branching; only the window's own worlds are carried. Each window is searched exactly up to
/// as far past the death as it is long, with a share of the time left; a window in which a
/// linearization survives proves nothing and the next, larger one is tried, then the whole
/// history. Every `info` class may be used as often as wanted in these searches (a further
/// relaxation: see [`Search::unlimited`]). Returns the verdict and the cut (a history
/// position).
fn refute_in_windows<M: Model>(
    model: &M,
    p: &Partition<M::Op, M::Ret>,
    shared: &Shared,
    at: u32,
    counters: &mut search::Counters,
) -> Option<(Found<M::State>, u64)> {
    let died = p.ops[at as usize].complete_index?;
    for &window in shared.windows.sizes {
        let cut = died.checked_sub(window)?;
        let until = died + window;
        let before_cut = |o: &Operation<M::Op, M::Ret>| {
            o.ret.is_some() && o.complete_index.is_some_and(|c| c < cut)
        };
        #[cfg(test)]
        if shared.windows.unsound_drop {
            let dropped: Vec<_> = p.ops.iter().filter(|o| !before_cut(o)).cloned().collect();
            let none = vec![false; dropped.len()];
            let (found, _) = Search::expiring(model, &dropped, shared, Some((&none, cut)))
                .until(until, Instant::now() + Duration::from_secs(5))
                .unlimited()
                .run();
            if matches!(found, Found::Illegal { .. }) {
                return Some((found, cut));
            }
            continue;
        }
        let kept = window_ops(model, p, cut, until, before_cut);
        let marked: Vec<bool> = kept.iter().map(|&i| before_cut(&p.ops[i])).collect();
        let ops: Vec<Operation<M::Op, M::Ret>> = kept.iter().map(|&i| p.ops[i].clone()).collect();
        let relaxed = relax(&ops, &marked);
        let left = shared.deadline.saturating_duration_since(Instant::now());
        let (found, more) = Search::expiring(model, &relaxed, shared, Some((&marked, cut)))
            .until(until, Instant::now() + left / 4)
            .unlimited()
            .run();
        counters.configs += more.configs;
        counters.max_frontier = counters.max_frontier.max(more.max_frontier);
        match found {
            // Op ids of the window's list, back to the partition's.
            Found::Illegal {
                op,
                prefix,
                state,
                pending,
            } => {
                let id = |i: u32| kept[i as usize] as u32;
                let found = Found::Illegal {
                    op: id(op),
                    prefix: prefix.into_iter().map(id).collect(),
                    state,
                    pending: pending.into_iter().map(id).collect(),
                };
                return Some((found, cut));
            }
            Found::GaveUp(GaveUp::Cancelled | GaveUp::Memory) => return None,
            _ => {}
        }
    }
    None
}

/// The ops a window's search needs, by index into `p.ops` (sorted by invocation): none invoked
/// after `until` (the search stops there); and, for a lazy model, whose `info` classes the
/// window search uses as often as wanted ([`Search::unlimited`]), one op per class of those
/// that are `info` or relaxed (`before_cut`) and invoked before the cut — the earliest, so the
/// class is there from the same moment: more copies add nothing. A 1M-op history's window
/// is then a few thousand ops, not a copy of the whole history per try.
fn window_ops<M: Model>(
    model: &M,
    p: &Partition<M::Op, M::Ret>,
    cut: u64,
    until: u64,
    before_cut: impl Fn(&Operation<M::Op, M::Ret>) -> bool,
) -> Vec<usize> {
    let lazy = model.lazy_unknown();
    let mut classes: std::collections::HashSet<(M::Op, bool)> = Default::default();
    let mut kept = Vec::new();
    for (i, o) in p.ops.iter().enumerate() {
        if o.invoke_index > until {
            break;
        }
        let relaxed = before_cut(o);
        let pooled = lazy && (relaxed || (o.ret.is_none() && o.invoke_index < cut));
        if pooled
            && (model.is_read_only(&o.op) || !classes.insert((model.unknown_class(&o.op), relaxed)))
        {
            continue;
        }
        kept.push(i);
    }
    kept
}

/// The partitions' findings as one report (its time not yet set): `Illegal` in any partition
/// (the first's witness) wins over `Unknown` in another.
fn merge_partitions<M: Model>(
    model: &M,
    partitions: &[Partition<M::Op, M::Ret>],
    results: Vec<Searched<M::State>>,
    budget: &Budget,
) -> LinearizabilityReport {
    let mut report = LinearizabilityReport {
        verdict: Linearizability::Ok,
        witness: None,
        unknown_reason: None,
        partitions: partitions.len(),
        ops: partitions.iter().map(|p| p.ops.len()).sum(),
        configs: results.iter().map(|r| r.2.configs).sum(),
        max_frontier: results.iter().map(|r| r.2.max_frontier).max().unwrap_or(0),
        elapsed_ms: 0.0,
    };
    for (i, found, _, window_from) in results {
        let p = &partitions[i];
        match found {
            Found::Linearizable => {}
            Found::Illegal {
                op,
                prefix,
                state,
                pending,
            } => {
                if report.verdict != Linearizability::Illegal {
                    report.verdict = Linearizability::Illegal;
                    report.unknown_reason = None;
                    report.witness = Some(witness(
                        model,
                        p,
                        window_from,
                        op,
                        &prefix,
                        &state,
                        &pending,
                    ));
                }
            }
            Found::BeamDied { .. } | Found::Stopped => {
                unreachable!("the exact search follows a beam that ran dry or a window")
            }
            Found::GaveUp(why) => {
                if report.verdict == Linearizability::Ok {
                    report.verdict = Linearizability::Unknown;
                    report.unknown_reason = Some(gave_up_reason(why, budget));
                }
            }
        }
    }
    report
}

/// Why a search gave up, in words.
fn gave_up_reason(why: GaveUp, budget: &Budget) -> String {
    match why {
        GaveUp::Time => format!(
            "the time budget of {} ms ran out (raise it with a larger budget)",
            budget.time_ms
        ),
        GaveUp::Memory => format!("the memory budget of {} MB ran out", budget.memory_mb),
        GaveUp::Cancelled => "the search was cancelled".to_string(),
    }
}

/// An op for the witness; one that completed before `window_from` as the refutation saw it:
/// its return unknown.
fn describe<M: Model>(
    model: &M,
    o: &Operation<M::Op, M::Ret>,
    window_from: Option<u64>,
) -> WitnessOp {
    let relaxed = window_from.is_some_and(|from| o.complete_index.is_some_and(|c| c < from));
    WitnessOp {
        process: o.process,
        invoke_index: o.invoke_index,
        complete_index: o.complete_index,
        description: model.describe_op(&o.op, if relaxed { None } else { o.ret.as_ref() }),
    }
}

fn witness<M: Model>(
    model: &M,
    p: &Partition<M::Op, M::Ret>,
    window_from: Option<u64>,
    op: u32,
    prefix: &[u32],
    state: &M::State,
    pending: &[u32],
) -> Witness {
    let tail_from = prefix.len().saturating_sub(Witness::TAIL);
    let mut pending: Vec<WitnessOp> = pending
        .iter()
        .map(|&id| describe(model, &p.ops[id as usize], window_from))
        .collect();
    pending.sort_by_key(|o| o.invoke_index);
    Witness {
        key: p.key.clone(),
        op: describe(model, &p.ops[op as usize], window_from),
        prefix: prefix
            .iter()
            .map(|&id| p.ops[id as usize].invoke_index)
            .collect(),
        prefix_tail: prefix[tail_from..]
            .iter()
            .map(|&id| describe(model, &p.ops[id as usize], window_from))
            .collect(),
        state: model.describe_state(state),
        pending,
        explanation: None,
        window_from,
    }
}
