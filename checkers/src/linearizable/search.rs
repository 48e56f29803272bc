//! The search over one partition: just-in-time linearization, swept once over the history.
//!
//! See the [module header](super) for the ideas and why each pruning is sound. In short: walk
//! the history's events in order, keeping the set of configurations a linearization could be in
//! right now; an op is linearized only when its return forces it (or greedily, for observers);
//! at a return, every configuration that has not linearized the op yet explores the orders of
//! pending state-changing ops that end with it.

use super::frontier::{Config, Frontier};
use super::Operation;
use crate::model::Model;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Instant;

/// No trail node: the empty linearization.
const ROOT: u32 = u32::MAX;

/// State shared by the searches of all partitions of one check.
pub(crate) struct Shared {
    /// Set when any partition is illegal (the others may stop) or the budget ran out.
    pub stop: AtomicBool,
    pub mem_bytes: AtomicUsize,
    pub mem_limit_bytes: usize,
    pub deadline: Instant,
}

/// Why a search gave up.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum GaveUp {
    Time,
    Memory,
    /// Another partition decided the verdict first.
    Cancelled,
}

/// What one partition's search found.
pub(crate) enum Found<S> {
    Linearizable,
    Illegal {
        /// The op whose return no configuration could reach.
        op: u32,
        /// The longest linearization found before it, in order (op ids).
        prefix: Vec<u32>,
        /// The state after that prefix.
        state: S,
        /// Ops invoked but not linearized in that configuration (besides `op`).
        pending: Vec<u32>,
    },
    GaveUp(GaveUp),
    /// The beam dropped configurations and then none was left: no verdict; search exactly.
    BeamDied,
}

/// Counters for the closing report.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Counters {
    pub configs: u64,
    pub max_frontier: usize,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Role {
    /// Known return, changes state: linearized at the latest at its return.
    Mutator,
    /// Known return, never changes state: linearized the moment a state satisfies it.
    Observer,
    /// Unknown return: may be linearized any time after its invocation, or never. Ops with the
    /// same `Op` are interchangeable and share a class.
    Optional(u32),
    /// Unknown return and can change nothing: constrains nothing.
    Dropped,
}

#[derive(Clone, Copy)]
enum Event {
    Invoke(u32),
    Return(u32),
}

struct Best<S> {
    depth: u32,
    trail: u32,
    state: Option<S>,
    pending: Vec<u32>,
}

pub(crate) struct Search<'a, M: Model> {
    model: &'a M,
    ops: &'a [Operation<M::Op, M::Ret>],
    roles: Vec<Role>,
    /// Per class: the ops in it, in invocation order.
    class_ids: Vec<Vec<u32>>,
    /// Per class: how many of its ops have been invoked so far in the sweep.
    class_invoked: Vec<u32>,
    /// Trail nodes: (op id, parent node).
    arena: Vec<(u32, u32)>,
    shared: &'a Shared,
    ticks: u64,
    /// Keep at most this many configurations (an under-approximation: see [`Search::beam`]).
    beam: Option<usize>,
    /// Whether the beam ever dropped a configuration.
    pruned: bool,
    published_bytes: usize,
    live_bytes: usize,
    pub counters: Counters,
}

impl<'a, M: Model> Search<'a, M> {
    /// `ops` must be sorted by invocation, with distinct event positions (checked by the caller).
    pub fn new(model: &'a M, ops: &'a [Operation<M::Op, M::Ret>], shared: &'a Shared) -> Self {
        let mut classes: std::collections::HashMap<&M::Op, u32> = Default::default();
        let mut class_ids: Vec<Vec<u32>> = Vec::new();
        let roles = ops
            .iter()
            .enumerate()
            .map(|(id, o)| match &o.ret {
                Some(ret) if model.is_observer(&o.op, ret) => Role::Observer,
                Some(_) => Role::Mutator,
                None if model.is_read_only(&o.op) => Role::Dropped,
                None => {
                    let class = *classes.entry(&o.op).or_insert_with(|| {
                        class_ids.push(Vec::new());
                        (class_ids.len() - 1) as u32
                    });
                    class_ids[class as usize].push(id as u32);
                    Role::Optional(class)
                }
            })
            .collect();
        let class_invoked = vec![0; class_ids.len()];
        Search {
            model,
            ops,
            roles,
            class_ids,
            class_invoked,
            arena: Vec::new(),
            shared,
            ticks: 0,
            beam: None,
            pruned: false,
            published_bytes: 0,
            live_bytes: 0,
            counters: Counters::default(),
        }
    }

    /// Searches only the `width` most promising configurations at each step. Every kept
    /// configuration is a real partial linearization, so reaching the end still proves the
    /// history linearizable; but when the beam runs dry after dropping some, nothing is proven
    /// and the search answers [`Found::BeamDied`] (the caller then searches exactly).
    pub fn beam(mut self, width: usize) -> Self {
        self.beam = Some(width);
        self
    }

    fn events(&self) -> Vec<Event> {
        let mut events: Vec<(u64, Event)> = Vec::with_capacity(self.ops.len() * 2);
        for (id, o) in self.ops.iter().enumerate() {
            let id = id as u32;
            match self.roles[id as usize] {
                Role::Dropped => {}
                Role::Optional(_) => events.push((o.invoke_index, Event::Invoke(id))),
                Role::Mutator | Role::Observer => {
                    events.push((o.invoke_index, Event::Invoke(id)));
                    if let Some(at) = o.complete_index {
                        events.push((at, Event::Return(id)));
                    }
                }
            }
        }
        events.sort_unstable_by_key(|e| e.0);
        events.into_iter().map(|e| e.1).collect()
    }

    /// Sweeps the history once. Returns the verdict for this partition.
    pub fn run(mut self) -> (Found<M::State>, Counters) {
        let found = self.sweep();
        self.shared
            .mem_bytes
            .fetch_sub(self.published_bytes, Ordering::Relaxed);
        (found, self.counters)
    }

    fn sweep(&mut self) -> Found<M::State> {
        let mut frontier = vec![Config {
            state: self.model.init(),
            mandatory: Vec::new(),
            optional: Vec::new(),
            observers: Vec::new(),
            trail: ROOT,
            depth: 0,
        }];
        for event in self.events() {
            match event {
                Event::Invoke(id) => self.invoke(&mut frontier, id),
                Event::Return(id) => {
                    let mut forced = Vec::new();
                    let mut next = Frontier::new();
                    for c in frontier.drain(..) {
                        if self.is_pending(&c, id) {
                            forced.push(c);
                        } else {
                            next.insert(c);
                        }
                    }
                    // One `seen` for all forced configurations: a configuration reached from one
                    // that another already reached (or dominated) needs no second exploration.
                    let mut seen = Frontier::new();
                    for c in &forced {
                        if let Err(why) = self.closure(c, id, &mut next, &mut seen, None) {
                            return Found::GaveUp(why);
                        }
                    }
                    if next.is_empty() {
                        if self.pruned {
                            return Found::BeamDied;
                        }
                        return self.illegal(&forced, id);
                    }
                    self.counters.max_frontier = self.counters.max_frontier.max(next.len());
                    self.live_bytes = next.bytes();
                    frontier = next.into_configs();
                    if let Some(width) = self.beam.filter(|&w| frontier.len() > w) {
                        // Most options, fewest debts first; ties: the longest linearization.
                        frontier.sort_by_cached_key(|c| {
                            let options: u64 = c.optional.iter().map(|&(_, n)| n as u64).sum();
                            (
                                c.observers.len(),
                                std::cmp::Reverse(options),
                                std::cmp::Reverse(c.depth),
                            )
                        });
                        // One of each distinct (state, pending) first: the world that
                        // survives is more often told apart by its state than by its options.
                        let mut seen_keys = std::collections::HashSet::new();
                        let (mut kept, mut rest): (Vec<_>, Vec<_>) =
                            frontier.into_iter().partition(|c| {
                                seen_keys.insert((c.state.clone(), c.mandatory.clone()))
                            });
                        kept.truncate(width);
                        let room = width - kept.len();
                        rest.truncate(room);
                        kept.append(&mut rest);
                        frontier = kept;
                        self.pruned = true;
                    }
                    if let Err(why) = self.tick() {
                        return Found::GaveUp(why);
                    }
                }
            }
        }
        Found::Linearizable
    }

    fn is_pending(&self, c: &Config<M::State>, id: u32) -> bool {
        match self.roles[id as usize] {
            Role::Mutator => c.mandatory.binary_search(&id).is_ok(),
            Role::Observer => c.observers.binary_search(&id).is_ok(),
            Role::Optional(_) | Role::Dropped => false,
        }
    }

    fn invoke(&mut self, frontier: &mut [Config<M::State>], id: u32) {
        match self.roles[id as usize] {
            Role::Mutator => {
                for c in frontier {
                    c.mandatory.push(id); // ids grow with invocation: stays sorted
                }
            }
            Role::Optional(class) => {
                self.class_invoked[class as usize] += 1;
                for c in frontier {
                    match c.optional.binary_search_by_key(&class, |e| e.0) {
                        Ok(i) => c.optional[i].1 += 1,
                        Err(i) => c.optional.insert(i, (class, 1)),
                    }
                }
            }
            Role::Observer => {
                let o = &self.ops[id as usize];
                let ret = o.ret.as_ref().expect("observers have returns");
                for c in frontier {
                    if self.model.step(&c.state, &o.op, ret).is_some() {
                        // Greedy: an observation that fits now is placed now.
                        c.trail = push(&mut self.arena, c.trail, id);
                        c.depth += 1;
                    } else {
                        c.observers.push(id);
                    }
                }
            }
            Role::Dropped => {}
        }
    }

    /// Linearizes every pending observation the current state satisfies.
    fn absorb(&mut self, c: &mut Config<M::State>) {
        let (model, ops, arena) = (self.model, self.ops, &mut self.arena);
        let state = &c.state;
        let (trail, depth) = (&mut c.trail, &mut c.depth);
        c.observers.retain(|&id| {
            let o = &ops[id as usize];
            let fits = model
                .step(
                    state,
                    &o.op,
                    o.ret.as_ref().expect("observers have returns"),
                )
                .is_some();
            if fits {
                *trail = push(arena, *trail, id);
                *depth += 1;
            }
            !fits
        });
    }

    /// All ways `c` can linearize pending state-changing ops and then `target`; the
    /// configurations right after `target` go into `out`. With `best`, also records the deepest
    /// configuration reached (for the witness).
    fn closure(
        &mut self,
        c: &Config<M::State>,
        target: u32,
        out: &mut Frontier<M::State>,
        seen: &mut Frontier<M::State>,
        mut best: Option<&mut Best<M::State>>,
    ) -> Result<(), GaveUp> {
        let target_is_mutator = self.roles[target as usize] == Role::Mutator;
        if !seen.insert_clone(c) && best.is_none() {
            return Ok(());
        }
        let mut layer = vec![c.clone()];
        while !layer.is_empty() {
            let mut next_layer = Vec::new();
            for cur in &layer {
                self.tick()?;
                self.live_bytes_hint(seen.bytes() + out.bytes());
                if let Some(best) = best.as_deref_mut() {
                    if best.state.is_none() || cur.depth > best.depth {
                        best.depth = cur.depth;
                        best.trail = cur.trail;
                        best.state = Some(cur.state.clone());
                        best.pending = cur
                            .mandatory
                            .iter()
                            .chain(&cur.observers)
                            .copied()
                            .filter(|&id| id != target)
                            .collect();
                    }
                }
                if target_is_mutator {
                    let o = &self.ops[target as usize];
                    if let Some(state) = self.model.step(&cur.state, &o.op, o.ret.as_ref().unwrap())
                    {
                        let mut n = cur.clone();
                        n.state = state;
                        remove_sorted(&mut n.mandatory, target);
                        n.trail = push(&mut self.arena, n.trail, target);
                        n.depth += 1;
                        self.absorb(&mut n);
                        out.insert(n);
                    }
                }
                // Pending state-changing ops with known returns, then pending info ops.
                for &y in &cur.mandatory {
                    if y == target {
                        continue;
                    }
                    let o = &self.ops[y as usize];
                    let Some(state) = self.model.step(&cur.state, &o.op, o.ret.as_ref().unwrap())
                    else {
                        continue;
                    };
                    let mut n = cur.clone();
                    n.state = state;
                    remove_sorted(&mut n.mandatory, y);
                    n.trail = push(&mut self.arena, n.trail, y);
                    n.depth += 1;
                    self.settle(n, target, target_is_mutator, out, seen, &mut next_layer);
                }
                for (slot, &(class, count)) in cur.optional.iter().enumerate() {
                    let members = &self.class_ids[class as usize];
                    let representative = &self.ops[members[0] as usize].op;
                    let Some(state) = self.model.step_unknown(&cur.state, representative) else {
                        continue;
                    };
                    // Interchangeable ops: name the earliest one not yet used.
                    let used = self.class_invoked[class as usize] - count;
                    let y = members[used as usize];
                    let mut n = cur.clone();
                    n.state = state;
                    if count == 1 {
                        n.optional.remove(slot);
                    } else {
                        n.optional[slot].1 -= 1;
                    }
                    n.trail = push(&mut self.arena, n.trail, y);
                    n.depth += 1;
                    self.settle(n, target, target_is_mutator, out, seen, &mut next_layer);
                }
            }
            layer = next_layer;
        }
        Ok(())
    }

    /// After a step in the closure: absorb observations; if that linearized the target (an
    /// observation), the configuration is done; otherwise explore it further unless dominated.
    fn settle(
        &mut self,
        mut n: Config<M::State>,
        target: u32,
        target_is_mutator: bool,
        out: &mut Frontier<M::State>,
        seen: &mut Frontier<M::State>,
        next_layer: &mut Vec<Config<M::State>>,
    ) {
        self.counters.configs += 1;
        self.absorb(&mut n);
        if !target_is_mutator && n.observers.binary_search(&target).is_err() {
            out.insert(n);
        } else if seen.insert_clone(&n) {
            next_layer.push(n);
        }
    }

    fn illegal(&mut self, forced: &[Config<M::State>], target: u32) -> Found<M::State> {
        let mut best = Best {
            depth: 0,
            trail: ROOT,
            state: None,
            pending: Vec::new(),
        };
        let mut scratch = Frontier::new();
        for c in forced {
            let mut seen = Frontier::new();
            if let Err(why) = self.closure(c, target, &mut scratch, &mut seen, Some(&mut best)) {
                return Found::GaveUp(why);
            }
        }
        let mut prefix = Vec::with_capacity(best.depth as usize);
        let mut node = best.trail;
        while node != ROOT {
            let (id, parent) = self.arena[node as usize];
            prefix.push(id);
            node = parent;
        }
        prefix.reverse();
        Found::Illegal {
            op: target,
            prefix,
            state: best.state.unwrap_or_else(|| self.model.init()),
            pending: best.pending,
        }
    }

    fn live_bytes_hint(&mut self, closure_bytes: usize) {
        self.live_bytes = self.live_bytes.max(closure_bytes);
    }

    /// Budget and cancellation, checked every few thousand steps.
    fn tick(&mut self) -> Result<(), GaveUp> {
        self.ticks += 1;
        if self.ticks & 1023 != 0 {
            return Ok(());
        }
        let bytes = self.arena.len() * 8 + self.live_bytes;
        if bytes >= self.published_bytes {
            self.shared
                .mem_bytes
                .fetch_add(bytes - self.published_bytes, Ordering::Relaxed);
        } else {
            self.shared
                .mem_bytes
                .fetch_sub(self.published_bytes - bytes, Ordering::Relaxed);
        }
        self.published_bytes = bytes;
        if self.shared.stop.load(Ordering::Relaxed) {
            return Err(GaveUp::Cancelled);
        }
        if self.shared.mem_bytes.load(Ordering::Relaxed) > self.shared.mem_limit_bytes {
            return Err(GaveUp::Memory);
        }
        if Instant::now() >= self.shared.deadline {
            return Err(GaveUp::Time);
        }
        Ok(())
    }
}

fn push(arena: &mut Vec<(u32, u32)>, parent: u32, id: u32) -> u32 {
    arena.push((id, parent));
    (arena.len() - 1) as u32
}

fn remove_sorted(v: &mut Vec<u32>, x: u32) {
    if let Ok(i) = v.binary_search(&x) {
        v.remove(i);
    }
}
