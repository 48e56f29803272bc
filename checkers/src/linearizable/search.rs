//! The search over one partition: just-in-time linearization, swept once over the history.
//!
//! See the [module header](super) for the ideas and why each pruning is sound. In short: walk
//! the history's events in order, keeping the set of configurations a linearization could be in
//! right now; an op is linearized only when its return forces it (or greedily, for observers);
//! at a return, every configuration that has not linearized the op yet explores the orders of
//! pending state-changing ops that end with it.

use super::frontier::{options_of, Config, Frontier, Order};
use super::unknown_steps::{pair, UnknownSteps};
use super::Operation;
use crate::model::{Model, Need};
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
    /// Where to look for a refutation when the beam dies.
    pub windows: super::Windows,
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
    /// The beam dropped configurations and then none was left when op `at` returned: no
    /// verdict; search exactly.
    BeamDied {
        at: u32,
    },
    /// The sweep reached the position it was told to stop at (see [`Search::until`]) with
    /// configurations left: no verdict.
    Stopped,
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

impl<S: Clone> Best<S> {
    /// Keeps `cur` if it is the deepest configuration reached so far (its pending ops besides
    /// `target`).
    #[inline]
    fn record(&mut self, cur: &Config<S>, target: u32) {
        if self.state.is_none() || cur.depth > self.depth {
            self.depth = cur.depth;
            self.trail = cur.trail;
            self.state = Some(cur.state.clone());
            self.pending = cur
                .mandatory
                .iter()
                .chain(&cur.observers)
                .copied()
                .filter(|&id| id != target)
                .collect();
        }
    }
}

/// Where one round of a closure puts what its steps reach.
struct Layer<'x, S> {
    target: u32,
    target_is_mutator: bool,
    /// Configurations right after the target.
    out: &'x mut Frontier<S>,
    /// Configurations the closure (or another of the same return) already reached.
    seen: &'x mut Frontier<S>,
    /// Configurations to explore in the next round.
    configs: Vec<Config<S>>,
}

pub(crate) struct Search<'a, M: Model> {
    model: &'a M,
    ops: &'a [Operation<M::Op, M::Ret>],
    roles: Vec<Role>,
    /// The position after which the expiring classes are dropped, and which classes expire
    /// (see [`Search::expiring`]); `None` once done.
    expiry: Option<(u64, Vec<bool>)>,
    /// Per class: the ops in it, in invocation order.
    class_ids: Vec<Vec<u32>>,
    /// Per class: how many of its ops have been invoked so far in the sweep.
    class_invoked: Vec<u32>,
    /// Per class: the op that stands for its members.
    class_ops: Vec<M::Op>,
    /// Where each state's `info` steps lead, remembered (see `unknown_steps`).
    unknown_steps: UnknownSteps<M::State>,
    /// Scratch for a closure step: (slot in `optional`, state after).
    moves: Vec<(usize, M::State)>,
    /// Scratch for [`Search::enables`]: the pending known ops illegal in the configuration's
    /// state, and the states a second `info` step reaches.
    illegal_before: Vec<u32>,
    seconds: Vec<M::State>,
    /// Alternation channels (see [`Caps`]); `None` when the model declares none.
    caps: Option<Caps>,
    /// The event being processed (caps are computed for the configurations right after it).
    at_event: u32,
    /// Trail nodes: (op id, parent node).
    arena: Vec<(u32, u32)>,
    shared: &'a Shared,
    ticks: u64,
    /// Keep at most this many configurations (an under-approximation: see [`Search::beam`]).
    beam: Option<usize>,
    /// Whether the beam ever dropped a configuration.
    pruned: bool,
    /// Stop (with [`Found::Stopped`]) at the first event past this history position.
    until: Option<u64>,
    /// Every `info` class may be used as often as wanted (see [`Search::unlimited`]).
    unlimited: bool,
    /// This search's own deadline, besides the shared one.
    deadline: Option<Instant>,
    published_bytes: usize,
    live_bytes: usize,
    pub counters: Counters,
}

impl<'a, M: Model> Search<'a, M> {
    /// `ops` must be sorted by invocation, with distinct event positions (checked by the caller).
    pub fn new(model: &'a M, ops: &'a [Operation<M::Op, M::Ret>], shared: &'a Shared) -> Self {
        Self::expiring(model, ops, shared, None)
    }

    /// A search in which the `info` ops `expiring.0` marks (by op id) can take effect only
    /// up to history position `expiring.1`: ops relaxed from known returns that completed by
    /// then (see `refute_in_windows`). They get classes of their own, dropped from every
    /// configuration once the sweep passes that position (not taking effect is always
    /// allowed).
    pub fn expiring(
        model: &'a M,
        ops: &'a [Operation<M::Op, M::Ret>],
        shared: &'a Shared,
        expiring: Option<(&[bool], u64)>,
    ) -> Self {
        let mut classes: std::collections::HashMap<(M::Op, bool), u32> = Default::default();
        let mut class_expires: Vec<bool> = Vec::new();
        let mut class_ids: Vec<Vec<u32>> = Vec::new();
        let roles = ops
            .iter()
            .enumerate()
            .map(|(id, o)| match &o.ret {
                Some(ret) if model.is_observer(&o.op, ret) => Role::Observer,
                Some(_) => Role::Mutator,
                None if model.is_read_only(&o.op) => Role::Dropped,
                None => {
                    let expires = expiring.is_some_and(|(marked, _)| marked[id]);
                    let class = *classes
                        .entry((model.unknown_class(&o.op), expires))
                        .or_insert_with(|| {
                            class_ids.push(Vec::new());
                            class_expires.push(expires);
                            (class_ids.len() - 1) as u32
                        });
                    class_ids[class as usize].push(id as u32);
                    Role::Optional(class)
                }
            })
            .collect();
        let class_invoked = vec![0; class_ids.len()];
        let class_ops = class_ids
            .iter()
            .map(|members| ops[members[0] as usize].op.clone())
            .collect();
        Search {
            model,
            ops,
            roles,
            expiry: expiring.map(|(_, at)| (at, class_expires)),
            class_ids,
            class_invoked,
            class_ops,
            unknown_steps: UnknownSteps::new(),
            moves: Vec::new(),
            illegal_before: Vec::new(),
            seconds: Vec::new(),
            caps: None,
            at_event: 0,
            arena: Vec::new(),
            shared,
            ticks: 0,
            beam: None,
            pruned: false,
            until: None,
            unlimited: false,
            deadline: None,
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

    /// Stops at the first event past history position `until` (a refutation in a window of
    /// the history need not sweep the rest) or at `deadline`, whichever comes first.
    pub fn until(mut self, until: u64, deadline: Instant) -> Self {
        self.until = Some(until);
        self.deadline = Some(deadline);
        self
    }

    /// Lets every `info` class be used as often as wanted once invoked: more than the history
    /// allows, so only for a refutation (a history not linearizable even so is not as it
    /// is). The configurations then differ in states and debts, not in which client's copy
    /// each used: with many clients, each holding a few open `info` acquires, those were
    /// thousands of configurations per state.
    /// Only for a lazy model (see [`Model::lazy_unknown`]): there every `info` step enables a
    /// pending op, so unlimited copies cannot run away (a counter's unlimited `add` would make
    /// new states forever); for others this does nothing.
    pub fn unlimited(mut self) -> Self {
        self.unlimited = self.model.lazy_unknown();
        self
    }

    /// Where an event stands in the history.
    fn position(&self, event: Event) -> u64 {
        match event {
            Event::Invoke(id) => self.ops[id as usize].invoke_index,
            Event::Return(id) => self.ops[id as usize]
                .complete_index
                .expect("a return has a completion"),
        }
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
        super::positions::in_order(events)
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
        let mut events = self.events();
        // A search told to stop at `until` sees the history as ending there: what comes later
        // cannot matter to its answer (it only ever concludes `Illegal` before then), so the
        // caps count only the ops up to there.
        if let Some(until) = self.until {
            let kept = events.partition_point(|&e| self.position(e) <= until);
            events.truncate(kept);
        }
        // The caps serve the exact search's dominance; the beam's coarse order ignores counts.
        if self.beam.is_none() {
            self.caps = Caps::new(
                self.model,
                self.ops,
                &self.roles,
                self.class_ids.len(),
                &events,
            );
        }
        for (at, event) in events.into_iter().enumerate() {
            if self
                .expiry
                .as_ref()
                .is_some_and(|(p, _)| self.position(event) > *p)
            {
                if let Err(why) = self.expire(&mut frontier) {
                    return Found::GaveUp(why);
                }
            }
            self.at_event = at as u32;
            let toggle = self.toggle_of(event);
            if let Some(caps) = &mut self.caps {
                caps.pass(event, &toggle);
            }
            match event {
                Event::Invoke(id) => self.invoke(&mut frontier, id),
                Event::Return(id) => {
                    if let Err(found) = self.at_return(&mut frontier, id) {
                        return found;
                    }
                }
            }
        }
        if self.until.is_some() {
            return Found::Stopped;
        }
        Found::Linearizable
    }

    /// The expiring classes' last chance, then their end. A lazy search takes an `info` step
    /// only where it enables an op, but an expiring op must take effect by its deadline even
    /// when what needs it comes later, and what it needs in turn may be a chain of steps (a
    /// grant, an `info` release of it, then an expiring acquire): so here every configuration
    /// may take any pending steps — known ops, `info` ops, expiring or not — in any order, as a
    /// closure without a target does (narrower rules of which step enables which lost such
    /// chains: the property tests found them), absorbing the observations each state satisfies
    /// and keeping every configuration reached. Then the
    /// expiring classes are dropped from all (not taking effect is always allowed), and
    /// configurations that differed only there coincide.
    fn expire(&mut self, frontier: &mut Vec<Config<M::State>>) -> Result<(), GaveUp> {
        let Some((_, expires)) = self.expiry.take() else {
            return Ok(());
        };
        let model = self.model;
        let mut out = self.frontier();
        let mut seen = self.frontier().membership_only();
        let mut layer: Vec<Config<M::State>> = std::mem::take(frontier);
        while !layer.is_empty() {
            let mut next = Vec::new();
            for cur in &layer {
                self.tick()?;
                let mut ended = cur.clone();
                ended
                    .optional
                    .retain(|(class, _)| !expires[*class as usize]);
                out.insert(ended);
                // Pending known ops may go first (an expiring op may need their effect).
                let mut steps: Vec<Config<M::State>> = Vec::new();
                for &y in &cur.mandatory {
                    steps.extend(self.after_known(cur, y));
                }
                for slot in 0..cur.optional.len() {
                    let class = cur.optional[slot].0;
                    let Some(state) =
                        model.step_unknown(&cur.state, &self.class_ops[class as usize])
                    else {
                        continue;
                    };
                    // With a lazy model (whose states are few: a lock's holder) an expiring
                    // class is used as often as wanted here: more than the history allows, so
                    // a further relaxation, still sound for a refutation; and the
                    // configurations then differ in debts and states only, not in which
                    // client's copy each used (at 100 clients, what made this explode). A
                    // counter's unlimited `add` would never end.
                    let unlimited =
                        self.unlimited || (expires[class as usize] && model.lazy_unknown());
                    steps.push(self.after_unknown(cur, slot, state, unlimited));
                }
                for mut n in steps {
                    self.counters.configs += 1;
                    self.absorb(&mut n);
                    if seen.insert_ref(&n) {
                        next.push(n);
                    }
                }
            }
            layer = next;
        }
        *frontier = out.into_configs();
        Ok(())
    }

    /// Op `id` returns: the configurations that have not linearized it yet must now; then the
    /// exact search lowers the counts to the caps, the beam keeps its width, and the budget is
    /// checked. `Err`: the sweep ends here, with that answer.
    #[inline]
    fn at_return(
        &mut self,
        frontier: &mut Vec<Config<M::State>>,
        id: u32,
    ) -> Result<(), Found<M::State>> {
        // When every configuration has linearized the op already, nothing is explored and the
        // set stands as it is (a rebuild would at most drop a configuration an observation's
        // invocation left dominated: optional).
        if frontier.iter().any(|c| self.is_pending(c, id)) {
            *frontier = self.force(std::mem::take(frontier), id)?;
        }
        if self.caps.is_some() && self.beam.is_none() {
            self.cap_frontier(frontier).map_err(Found::GaveUp)?;
        }
        if let Some(width) = self.beam.filter(|&w| frontier.len() > w) {
            self.narrow_to_beam(frontier, width);
        }
        self.tick().map_err(Found::GaveUp)
    }

    /// The configurations right after op `id`'s return: those that linearized it already, and
    /// the closures of those that had not (which must now). None left: `Illegal` (or, after the
    /// beam dropped some, no verdict).
    fn force(
        &mut self,
        frontier: Vec<Config<M::State>>,
        id: u32,
    ) -> Result<Vec<Config<M::State>>, Found<M::State>> {
        let mut forced = Vec::new();
        let mut next = self.frontier();
        for c in frontier {
            if self.is_pending(&c, id) {
                forced.push(c);
            } else {
                next.insert(c);
            }
        }
        // One `seen` for all forced configurations: a configuration reached from one that
        // another already reached (or dominated) needs no second exploration.
        let mut seen = self.frontier().membership_only();
        for c in &forced {
            self.closure(c, id, &mut next, &mut seen, None)
                .map_err(Found::GaveUp)?;
        }
        // The beam's coarse sets may have dropped worlds too.
        self.pruned |= seen.lossy() || next.lossy();
        if next.is_empty() {
            if self.pruned {
                return Err(Found::BeamDied { at: id });
            }
            return Err(self.illegal(&forced, id));
        }
        self.counters.max_frontier = self.counters.max_frontier.max(next.len());
        self.live_bytes = next.bytes();
        Ok(next.into_configs())
    }

    /// Lowers the counts to what can still take effect; configurations that differed only
    /// above the bounds now coincide or dominate each other.
    fn cap_frontier(&mut self, frontier: &mut Vec<Config<M::State>>) -> Result<(), GaveUp> {
        let mut changed = false;
        for c in frontier.iter_mut() {
            changed |= self.cap(c);
        }
        if changed {
            let mut capped = Frontier::new();
            for c in frontier.drain(..) {
                self.tick()?;
                capped.insert(c);
            }
            *frontier = capped.into_configs();
        }
        Ok(())
    }

    /// Keeps the beam's `width` most promising configurations (see [`Search::beam`]).
    fn narrow_to_beam(&mut self, frontier: &mut Vec<Config<M::State>>, width: usize) {
        // Most options, fewest debts first; ties: the world whose last `info` step was of the
        // most recently invoked class, then the longest linearization.
        frontier.sort_by_cached_key(|c| {
            let options: u64 = c.optional.iter().map(|&(_, n)| n as u64).sum();
            (
                c.observers.len(),
                std::cmp::Reverse(options),
                std::cmp::Reverse(self.recency(c.trail)),
                std::cmp::Reverse(c.depth),
            )
        });
        // One of each distinct (state, pending) first: the world that
        // survives is more often told apart by its state than by its options.
        let mut seen_keys = std::collections::HashSet::new();
        let (mut kept, mut rest): (Vec<_>, Vec<_>) = std::mem::take(frontier)
            .into_iter()
            .partition(|c| seen_keys.insert((c.state.clone(), c.mandatory.clone())));
        kept.truncate(width);
        let room = width - kept.len();
        rest.truncate(room);
        kept.append(&mut rest);
        *frontier = kept;
        self.pruned = true;
    }

    /// How recently the class of the last `info` op in a linearization (looking back a few
    /// steps from `trail`) had a member invoked: its latest member's invocation index, 0 when
    /// none is near the end. An `info` op takes effect, if at all, soon after it is sent in
    /// most systems, so among worlds alike in debts and options the beam keeps those that used
    /// the freshest `info` op first. A preference only: any order keeps the beam sound.
    fn recency(&self, mut trail: u32) -> u64 {
        for _ in 0..16 {
            if trail == ROOT {
                break;
            }
            let (id, parent) = self.arena[trail as usize];
            if let Role::Optional(class) = self.roles[id as usize] {
                let invoked = self.class_invoked[class as usize] as usize;
                let latest = self.class_ids[class as usize][invoked.max(1) - 1];
                return self.ops[latest as usize].invoke_index;
            }
            trail = parent;
        }
        0
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

    /// A configuration set: exact, or the beam's coarse one (which notes what it loses only
    /// while the beam has lost nothing yet: after that, running dry proves nothing anyway).
    fn frontier(&self) -> Frontier<M::State> {
        Frontier::ordered(match self.beam {
            Some(_) => Order::Coarse {
                watch_loss: !self.pruned,
            },
            None => Order::Dominance,
        })
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
        if !seen.insert_ref(c) && best.is_none() {
            return Ok(());
        }
        let mut layer = vec![c.clone()];
        while !layer.is_empty() {
            let mut next = Layer {
                target,
                target_is_mutator,
                out: &mut *out,
                seen: &mut *seen,
                configs: Vec::new(),
            };
            for cur in &layer {
                self.tick()?;
                self.live_bytes_hint(next.seen.bytes() + next.out.bytes());
                if let Some(best) = best.as_deref_mut() {
                    best.record(cur, target);
                }
                if target_is_mutator {
                    self.linearize_target(cur, &mut next);
                }
                // Pending state-changing ops with known returns, then pending info ops.
                self.step_known(cur, &mut next);
                self.step_unknown(cur, &mut next);
            }
            layer = next.configs;
        }
        Ok(())
    }

    /// The closure's target (a state-changing op) right after `cur`, if the model allows it.
    #[inline]
    fn linearize_target(&mut self, cur: &Config<M::State>, next: &mut Layer<'_, M::State>) {
        let target = next.target;
        let o = &self.ops[target as usize];
        if let Some(state) = self.model.step(&cur.state, &o.op, o.ret.as_ref().unwrap()) {
            let mut n = cur.clone();
            n.state = state;
            remove_sorted(&mut n.mandatory, target);
            n.trail = push(&mut self.arena, n.trail, target);
            n.depth += 1;
            self.absorb(&mut n);
            next.out.insert(n);
        }
    }

    /// `cur` stepped by each pending state-changing op with a known return (but the target).
    #[inline]
    fn step_known(&mut self, cur: &Config<M::State>, next: &mut Layer<'_, M::State>) {
        for &y in &cur.mandatory {
            if y == next.target {
                continue;
            }
            if let Some(n) = self.after_known(cur, y) {
                self.settle(n, next);
            }
        }
    }

    /// `cur` after its pending known op `y`, if the model allows that from `cur`'s state.
    fn after_known(&mut self, cur: &Config<M::State>, y: u32) -> Option<Config<M::State>> {
        let o = &self.ops[y as usize];
        let ret = o.ret.as_ref().expect("known ops have returns");
        let state = self.model.step(&cur.state, &o.op, ret)?;
        let mut n = cur.clone();
        n.state = state;
        remove_sorted(&mut n.mandatory, y);
        n.trail = push(&mut self.arena, n.trail, y);
        n.depth += 1;
        Some(n)
    }

    /// `cur` after an `info` op of the class in `slot` took effect, leading to `state`: the
    /// earliest unused op of the class names it (interchangeable ops), and the class's count
    /// drops by one unless its copies are `unlimited`.
    fn after_unknown(
        &mut self,
        cur: &Config<M::State>,
        slot: usize,
        state: M::State,
        unlimited: bool,
    ) -> Config<M::State> {
        let (class, count) = cur.optional[slot];
        let used = self.class_invoked[class as usize] - count;
        let y = self.class_ids[class as usize][used as usize];
        let mut n = cur.clone();
        n.state = state;
        if !unlimited {
            if count == 1 {
                n.optional.remove(slot);
            } else {
                n.optional[slot].1 -= 1;
            }
        }
        n.trail = push(&mut self.arena, n.trail, y);
        n.depth += 1;
        n
    }

    /// `cur` stepped by each pending `info` class that can step from its state (the earliest
    /// unused op of the class stands for it).
    #[inline]
    fn step_unknown(&mut self, cur: &Config<M::State>, next: &mut Layer<'_, M::State>) {
        let mut moves = std::mem::take(&mut self.moves);
        self.unknown_moves(cur, &mut moves);
        if self.model.lazy_unknown() && !moves.is_empty() {
            self.list_illegal_before(cur);
            moves.retain(|(_, state)| self.enables(cur, state));
        }
        let options = options_of(&cur.optional);
        let spent = !self.unlimited as u64;
        for (slot, state) in moves.drain(..) {
            if self.known_covered(cur, &state, options - spent, next.seen) {
                self.counters.configs += 1;
                continue;
            }
            let n = self.after_unknown(cur, slot, state, self.unlimited);
            self.settle(n, next);
        }
        self.moves = moves;
    }

    /// Lists `cur`'s pending known ops illegal in its state, for [`Search::enables`].
    fn list_illegal_before(&mut self, cur: &Config<M::State>) {
        let (model, ops) = (self.model, self.ops);
        self.illegal_before.clear();
        self.illegal_before
            .extend(
                cur.mandatory
                    .iter()
                    .chain(&cur.observers)
                    .copied()
                    .filter(|&id| {
                        let o = &ops[id as usize];
                        let ret = o.ret.as_ref().expect("known ops have returns");
                        model.step(&cur.state, &o.op, ret).is_none()
                    }),
            );
    }

    /// Whether an `info` step from `cur`'s state to `after` enables a pending op with a known
    /// return (legal after the step, not before), or an `info` step that does from a state
    /// other than `cur`'s (a release of one client freeing the lock for another's acquire):
    /// with a lazy model, the only `info` steps some linearization takes (see
    /// [`Model::lazy_unknown`]).
    fn enables(&mut self, cur: &Config<M::State>, after: &M::State) -> bool {
        let (model, ops) = (self.model, self.ops);
        let legal = |state: &M::State, id: u32| {
            let o = &ops[id as usize];
            let ret = o.ret.as_ref().expect("known ops have returns");
            model.step(state, &o.op, ret).is_some()
        };
        // Enabled: illegal before the step (listed once per configuration), legal after it.
        if self.illegal_before.iter().any(|&id| legal(after, id)) {
            return true;
        }
        // A second `info` step, to a state other than `cur`'s, enabling a pending op still
        // illegal after the first. Where `info` steps lead from `after` is remembered per state
        // (from a lock held by one client, one class at most steps: not 200 to try).
        let mut seconds = std::mem::take(&mut self.seconds);
        seconds.clear();
        match self.unknown_steps.from(model, after, &self.class_ops) {
            Some(steps) => seconds.extend(
                steps
                    .iter()
                    .filter(|(class, two)| {
                        *two != cur.state
                            && cur.optional.binary_search_by_key(class, |e| e.0).is_ok()
                    })
                    .map(|(_, two)| two.clone()),
            ),
            None => seconds.extend(cur.optional.iter().filter_map(|(class, _)| {
                model
                    .step_unknown(after, &self.class_ops[*class as usize])
                    .filter(|two| *two != cur.state)
            })),
        }
        let enabled = !seconds.is_empty()
            && cur
                .mandatory
                .iter()
                .chain(&cur.observers)
                .filter(|&&id| !legal(after, id))
                .any(|&id| seconds.iter().any(|two| legal(two, id)));
        self.seconds = seconds;
        enabled
    }

    /// The `info` steps `cur` can take, into `moves`: (slot in `cur.optional`, state after).
    /// Only the classes that can step from this state (remembered per state).
    #[inline]
    fn unknown_moves(&mut self, cur: &Config<M::State>, moves: &mut Vec<(usize, M::State)>) {
        match self
            .unknown_steps
            .from(self.model, &cur.state, &self.class_ops)
        {
            Some(steps) => pair(&cur.optional, steps, |slot, state| {
                moves.push((slot, state.clone()))
            }),
            None => {
                for (slot, (class, _)) in cur.optional.iter().enumerate() {
                    let op = &self.class_ops[*class as usize];
                    if let Some(state) = self.model.step_unknown(&cur.state, op) {
                        moves.push((slot, state));
                    }
                }
            }
        }
    }

    /// Whether `seen` already covers the configuration an `info` step from `cur` to `state`
    /// would make (`options` left), known without building it: when the step absorbs no pending
    /// observation, its debts are `cur`'s, and a coarse `seen` compares no more than debts and
    /// the total of options. Most `info` steps in a closure at many clients end there (a
    /// timed-out release undoing a timed-out acquire), and copying their configuration only to
    /// drop it was much of the cost.
    fn known_covered(
        &self,
        cur: &Config<M::State>,
        state: &M::State,
        options: u64,
        seen: &Frontier<M::State>,
    ) -> bool {
        if seen.covers_debts(state, &cur.mandatory, &cur.observers, options) != Some(true) {
            return false;
        }
        !cur.observers.iter().any(|&id| {
            let o = &self.ops[id as usize];
            let ret = o.ret.as_ref().expect("observers have returns");
            self.model.step(state, &o.op, ret).is_some()
        })
    }

    /// After a step in the closure: absorb observations; if that linearized the target (an
    /// observation), the configuration is done; otherwise explore it further unless dominated.
    fn settle(&mut self, mut n: Config<M::State>, next: &mut Layer<'_, M::State>) {
        self.counters.configs += 1;
        self.absorb(&mut n);
        if !next.target_is_mutator && n.observers.binary_search(&next.target).is_err() {
            next.out.insert(n);
        } else if next.seen.insert_ref(&n) {
            next.configs.push(n);
        }
    }

    /// The channel an event's op flips, for [`Caps::pass`].
    fn toggle_of(&self, event: Event) -> Option<(u32, bool)> {
        let id = match event {
            Event::Invoke(id) | Event::Return(id) => id,
        };
        self.caps
            .as_ref()
            .and_then(|caps| caps.known_toggle[id as usize])
    }

    /// Lowers each pending `info` count to what can still take effect (see [`Caps`]).
    /// Returns whether a count changed.
    fn cap(&mut self, c: &mut Config<M::State>) -> bool {
        let Some(caps) = &mut self.caps else {
            return false;
        };
        if c.optional.is_empty() {
            return false;
        }
        caps.apply(self.model, self.at_event, c)
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
        let now = Instant::now();
        if now >= self.shared.deadline || self.deadline.is_some_and(|d| now >= d) {
            return Err(GaveUp::Time);
        }
        Ok(())
    }
}

/// How many pending `info` ops of each class can still take effect, from the model's
/// alternation channels ([`Model::toggle`]); the module header has the argument. For a class
/// that sets channel `k` (a client's timed-out acquires), in a configuration with state `s` right
/// after event `i`, at most
///
/// `[k unset in s] + (known unsetting ops of k pending in the configuration) + (pending info ops
/// unsetting k) + (known setting ops of k in flight at i but already linearized here) + D(i)`
///
/// of its pending copies can ever be used, where `D(i)` is the largest sum, over a stretch of
/// events right after `i`, of +1 per invocation of an op unsetting `k` (known or info), −1 per
/// return of a known op setting `k`, −1 per invocation of another copy of the class. Unsetting
/// classes likewise, with the roles swapped.
struct Caps {
    /// Per op id, for known-return state-changing ops: (dense channel, sets).
    known_toggle: Vec<Option<(u32, bool)>>,
    /// Per class: (dense channel, sets).
    class_toggle: Vec<Option<(u32, bool)>>,
    /// The model's id of each dense channel.
    channel_ids: Vec<u32>,
    /// Per class: (event index, `D` from just before that event), in event order.
    suffix: Vec<Vec<(u32, i32)>>,
    /// Per class: the first entry of `suffix` not yet passed.
    cursor: Vec<u32>,
    /// Per (channel, sets) slot `2k + sets`: known ops invoked and not yet returned.
    in_flight: Vec<u32>,
    /// Scratch per slot: the configuration's pending known ops and info pool.
    mandatory: Vec<u32>,
    pool: Vec<u32>,
    touched: Vec<usize>,
    /// With a lazy model, the caps from needs (see [`Needs`]).
    needs: Option<Needs>,
}

/// **Caps from needs** (lazy models only). In a lazy linearization every `info` step that sets
/// channel `c` comes just before an op it enables, and those ops need `c` or any channel set
/// ([`Model::needs_on`]); distinct steps setting `c` come before distinct ops (a step that
/// clears `c` lies between two of them). So the steps setting `c` still to come are at most
/// the ops needing `c` or any channel not yet linearized: pending in the configuration, or
/// invoked later. And the steps clearing `c` still to come are at most one per time `c` is
/// set: `[c set now]` + the known ops setting `c` not yet linearized + that first bound. The
/// exact search lowers counts to these as to the alternation bound, whichever is smaller. At
/// low contention, with few denials, the counts of long-open `info` acquires fall to a handful
/// and the configurations that differ only in which client's copy they used coincide.
struct Needs {
    /// Per op id: the need slot (0: any channel; 1 + k: dense channel k).
    need_of: Vec<Option<u32>>,
    /// Per need slot: the event indices at which ops with that need are invoked.
    invokes: Vec<Vec<u32>>,
    /// Per dense channel: the event indices at which known ops setting it are invoked.
    on_invokes: Vec<Vec<u32>>,
    /// Scratch per need slot: the configuration's pending ops with that need.
    pending: Vec<u32>,
    touched: Vec<usize>,
}

impl Needs {
    fn new<M: Model>(
        model: &M,
        ops: &[Operation<M::Op, M::Ret>],
        roles: &[Role],
        events: &[Event],
        known_toggle: &[Toggle],
        channel_ids: &[u32],
    ) -> Needs {
        let dense: std::collections::HashMap<u32, u32> = channel_ids
            .iter()
            .enumerate()
            .map(|(k, &id)| (id, k as u32))
            .collect();
        let need_of: Vec<Option<u32>> = ops
            .iter()
            .enumerate()
            .map(|(id, o)| match (roles[id], &o.ret) {
                (Role::Mutator | Role::Observer, Some(ret)) => match model.needs_on(&o.op, ret)? {
                    Need::Any => Some(0),
                    Need::Channel(c) => dense.get(&c).map(|k| 1 + k),
                },
                _ => None,
            })
            .collect();
        let mut invokes = vec![Vec::new(); 1 + channel_ids.len()];
        let mut on_invokes = vec![Vec::new(); channel_ids.len()];
        for (at, event) in events.iter().enumerate() {
            let Event::Invoke(id) = *event else { continue };
            if let Some(slot) = need_of[id as usize] {
                invokes[slot as usize].push(at as u32);
            }
            if let (Role::Mutator, Some((k, true))) =
                (roles[id as usize], known_toggle[id as usize])
            {
                on_invokes[k as usize].push(at as u32);
            }
        }
        Needs {
            need_of,
            pending: vec![0; invokes.len()],
            invokes,
            on_invokes,
            touched: Vec::new(),
        }
    }

    /// Counts the configuration's pending ops per need (undo with [`Needs::clear`]).
    fn count(&mut self, c_mandatory: &[u32], c_observers: &[u32]) {
        for &id in c_mandatory.iter().chain(c_observers) {
            if let Some(slot) = self.need_of[id as usize] {
                self.pending[slot as usize] += 1;
                self.touched.push(slot as usize);
            }
        }
    }

    fn clear(&mut self) {
        for slot in self.touched.drain(..) {
            self.pending[slot] = 0;
        }
    }

    /// How many of `list` (event indices) lie after event `at`.
    fn later(list: &[u32], at: u32) -> u64 {
        (list.len() - list.partition_point(|&e| e <= at)) as u64
    }

    /// Ops needing channel `k` (or any) not yet linearized, after event `at`.
    fn setting(&self, k: u32, at: u32) -> u64 {
        let rem = |slot: usize| self.pending[slot] as u64 + Self::later(&self.invokes[slot], at);
        rem(0) + rem(1 + k as usize)
    }
}

/// A channel an op flips: (dense channel, sets).
type Toggle = Option<(u32, bool)>;

impl Caps {
    fn new<M: Model>(
        model: &M,
        ops: &[Operation<M::Op, M::Ret>],
        roles: &[Role],
        classes: usize,
        events: &[Event],
    ) -> Option<Caps> {
        let (known_toggle, class_toggle, channel_ids) = toggles(model, ops, roles, classes);
        if class_toggle.iter().all(Option::is_none) {
            return None;
        }
        let channels = channel_ids.len();
        let weights = class_weights(events, roles, &known_toggle, &class_toggle, channels);
        let needs = model
            .lazy_unknown()
            .then(|| Needs::new(model, ops, roles, events, &known_toggle, &channel_ids));
        Some(Caps {
            needs,
            known_toggle,
            class_toggle,
            channel_ids,
            suffix: weights.into_iter().map(suffix_maxima).collect(),
            cursor: vec![0; classes],
            in_flight: vec![0; 2 * channels],
            mandatory: vec![0; 2 * channels],
            pool: vec![0; 2 * channels],
            touched: Vec::new(),
        })
    }

    /// Keeps the in-flight counts of known ops up to date; call for every event, in order.
    fn pass(&mut self, event: Event, toggle: &Option<(u32, bool)>) {
        if let Some((k, sets)) = *toggle {
            let slot = 2 * k as usize + sets as usize;
            match event {
                Event::Invoke(_) => self.in_flight[slot] += 1,
                Event::Return(_) => self.in_flight[slot] -= 1,
            }
        }
    }

    /// Lowers the counts of `c`, a configuration right after event `at`, to their bounds.
    fn apply<M: Model>(&mut self, model: &M, at: u32, c: &mut Config<M::State>) -> bool {
        let mut changed = false;
        if let Some(needs) = &mut self.needs {
            needs.count(&c.mandatory, &c.observers);
        }
        for &id in &c.mandatory {
            if let Some((k, sets)) = self.known_toggle[id as usize] {
                let slot = 2 * k as usize + sets as usize;
                self.mandatory[slot] += 1;
                self.touched.push(slot);
            }
        }
        for &(class, n) in &c.optional {
            if let Some((k, sets)) = self.class_toggle[class as usize] {
                let slot = 2 * k as usize + sets as usize;
                self.pool[slot] += n;
                self.touched.push(slot);
            }
        }
        let mut i = 0;
        while i < c.optional.len() {
            let (class, n) = c.optional[i];
            let Some((k, sets)) = self.class_toggle[class as usize] else {
                i += 1;
                continue;
            };
            let list = &self.suffix[class as usize];
            let cursor = &mut self.cursor[class as usize];
            while (*cursor as usize) < list.len() && list[*cursor as usize].0 <= at {
                *cursor += 1;
            }
            let d = list.get(*cursor as usize).map_or(0, |e| e.1) as u64;
            let (this, other) = (
                2 * k as usize + sets as usize,
                2 * k as usize + !sets as usize,
            );
            let undone = model.toggled(&c.state, self.channel_ids[k as usize]) != sets;
            let mut cap = undone as u64
                + self.mandatory[other] as u64
                + self.pool[other] as u64
                + (self.in_flight[this] - self.mandatory[this]) as u64
                + d;
            if let Some(needs) = &self.needs {
                let setting = needs.setting(k, at);
                cap = cap.min(if sets {
                    setting
                } else {
                    // Known ops setting k not yet linearized: pending, or invoked later.
                    let on = self.mandatory[2 * k as usize + 1] as u64
                        + Needs::later(&needs.on_invokes[k as usize], at);
                    undone as u64 + on + setting
                });
            }
            if (n as u64) <= cap {
                i += 1;
                continue;
            }
            changed = true;
            if cap == 0 {
                c.optional.remove(i);
            } else {
                c.optional[i].1 = cap as u32;
                i += 1;
            }
        }
        for slot in self.touched.drain(..) {
            self.mandatory[slot] = 0;
            self.pool[slot] = 0;
        }
        if let Some(needs) = &mut self.needs {
            needs.clear();
        }
        changed
    }
}

/// The channel each known-return state-changing op flips (per op id) and each `info` class
/// flips (per class), numbered densely; and the model's id of each dense channel.
fn toggles<M: Model>(
    model: &M,
    ops: &[Operation<M::Op, M::Ret>],
    roles: &[Role],
    classes: usize,
) -> (Vec<Toggle>, Vec<Toggle>, Vec<u32>) {
    let mut dense: std::collections::HashMap<u32, u32> = Default::default();
    let mut channel_ids = Vec::new();
    let mut channel = |c: u32| {
        *dense.entry(c).or_insert_with(|| {
            channel_ids.push(c);
            (channel_ids.len() - 1) as u32
        })
    };
    let mut known_toggle = vec![None; ops.len()];
    let mut class_toggle = vec![None; classes];
    for (id, o) in ops.iter().enumerate() {
        match roles[id] {
            Role::Mutator => {
                known_toggle[id] = model
                    .toggle(&o.op, o.ret.as_ref())
                    .map(|t| (channel(t.channel), t.on));
            }
            Role::Optional(class) if class_toggle[class as usize].is_none() => {
                class_toggle[class as usize] = model
                    .toggle(&o.op, None)
                    .map(|t| (channel(t.channel), t.on));
            }
            _ => {}
        }
    }
    (known_toggle, class_toggle, channel_ids)
}

/// What an event does to a channel: (channel, sets, the `info` class it invokes a copy of,
/// invocation), or `None` when it flips none.
#[inline]
fn event_toggle(
    event: Event,
    roles: &[Role],
    known_toggle: &[Toggle],
    class_toggle: &[Toggle],
) -> Option<(u32, bool, Option<u32>, bool)> {
    match event {
        Event::Invoke(id) => match roles[id as usize] {
            Role::Mutator => known_toggle[id as usize].map(|(k, sets)| (k, sets, None, true)),
            Role::Optional(class) => {
                class_toggle[class as usize].map(|(k, sets)| (k, sets, Some(class), true))
            }
            _ => None,
        },
        Event::Return(id) => match known_toggle[id as usize] {
            Some((k, sets)) if roles[id as usize] == Role::Mutator => Some((k, sets, None, false)),
            _ => None,
        },
    }
}

/// Per class, its weighted events in order: (event index, weight), for the `D` of [`Caps`].
fn class_weights(
    events: &[Event],
    roles: &[Role],
    known_toggle: &[Toggle],
    class_toggle: &[Toggle],
    channels: usize,
) -> Vec<Vec<(u32, i32)>> {
    // The classes of each channel.
    let mut by_channel: Vec<Vec<u32>> = vec![Vec::new(); channels];
    for (class, t) in class_toggle.iter().enumerate() {
        if let Some((k, _)) = t {
            by_channel[*k as usize].push(class as u32);
        }
    }
    let mut weights: Vec<Vec<(u32, i32)>> = vec![Vec::new(); class_toggle.len()];
    for (at, &event) in events.iter().enumerate() {
        let Some((k, sets, of_class, invoke)) =
            event_toggle(event, roles, known_toggle, class_toggle)
        else {
            continue;
        };
        for &class in &by_channel[k as usize] {
            let (_, class_sets) = class_toggle[class as usize].expect("listed by channel");
            // +1: one more op that can undo the class's effect; −1: a known op doing the
            // class's effect, which must be done by its return, or a fresh copy of the class.
            let w = if invoke && sets != class_sets {
                1
            } else if (!invoke && sets == class_sets) || of_class == Some(class) {
                -1
            } else {
                0
            };
            if w != 0 {
                weights[class as usize].push((at as u32, w));
            }
        }
    }
    weights
}

/// Each entry's weight replaced by the largest sum of weights over a stretch starting there
/// (never below 0): `D` just before that event.
fn suffix_maxima(mut list: Vec<(u32, i32)>) -> Vec<(u32, i32)> {
    let mut d = 0i32;
    for e in list.iter_mut().rev() {
        d = (e.1 + d).max(0);
        e.1 = d;
    }
    list
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
