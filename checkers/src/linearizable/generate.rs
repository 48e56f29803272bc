//! Histories for benchmarks and tests, from seeded simulations.
//!
//! - [`LockSim`]: a correct lock (one server, instant processing) and retrying clients, with
//!   ~200 µs one-way latency, holds of 0–1 ms and retries after 0–0.6 ms — the workload that
//!   makes Porcupine run out of memory. Its `bad` variant flips one denied acquire, halfway
//!   through, to granted while another client surely holds the lock (its grant returned before
//!   the flipped acquire began, its release began after the flipped acquire ended), so the
//!   result is certainly not linearizable.
//! - [`RegisterSim`]: Jepsen etcd-style register histories: a few processes doing reads, writes
//!   and compare-and-sets on a linearizable register, some of which time out (`info`) after
//!   having taken effect or not; a process that timed out is replaced by a new one, as in Jepsen.
//!
//! Everything replays from the seed ([`SplitMix64`], no dependency).

use crate::edn::Edn;
use crate::history::{Grant, History, Op, OpKind, Process, Value, F};
use std::cmp::Reverse;
use std::collections::BinaryHeap;

/// SplitMix64: a tiny seeded generator, so histories replay from a seed without a dependency.
#[derive(Clone, Debug)]
pub struct SplitMix64(u64);

impl SplitMix64 {
    pub fn new(seed: u64) -> Self {
        SplitMix64(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (n > 0).
    pub fn below(&mut self, n: u64) -> u64 {
        ((self.next_u64() as u128 * n as u128) >> 64) as u64
    }

    /// Uniform in `lo..=hi`.
    pub fn range(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.below(hi - lo + 1)
    }
}

/// A correct lock with retrying clients.
#[derive(Clone, Copy, Debug)]
pub struct LockSim {
    /// Calls (invocation + completion pairs) to record.
    pub calls: usize,
    pub clients: u32,
    pub seed: u64,
    /// Flip one denied acquire halfway through to granted while another client holds the lock.
    pub bad: bool,
    pub latency_min_ns: u64,
    pub latency_max_ns: u64,
    pub hold_max_ns: u64,
    pub retry_max_ns: u64,
    /// Chance, in percent, that a call times out (`info`): half of those never reached the
    /// lock, half took effect and lost their reply. A client whose acquire timed out releases
    /// (its token) before trying again, as a careful client does.
    pub info_percent: u64,
    /// After a lost reply the client releases whatever the call was and whatever the lock's
    /// state, without an oracle (so many of those releases find the lock not held), and after a
    /// lost release it releases again; otherwise (the default) it releases again after a lost
    /// release only while it still holds the lock.
    pub blind_release: bool,
    /// Pause before the next acquire after a release (default: `retry_max_ns`). Long next to
    /// the holds, the lock is often free: every free moment is one where a still-open `info`
    /// acquire may take effect.
    pub think_max_ns: u64,
    /// Client 0's calls never lose their reply (the others' do as `info_percent` says), so its
    /// holds are sure even late in a history where every other client has an `info` release
    /// open: with open `info` releases everywhere no denial is surely inside a hold, and a
    /// `bad` history needs one to flip.
    pub sure_client: bool,
}

impl LockSim {
    /// The benchmark's workload: ~200 µs one-way, hold 0–1 ms, retry after 0–0.6 ms.
    pub fn new(calls: usize, clients: u32, seed: u64, bad: bool) -> Self {
        LockSim {
            calls,
            clients,
            seed,
            bad,
            latency_min_ns: 150_000,
            latency_max_ns: 250_000,
            hold_max_ns: 1_000_000,
            retry_max_ns: 600_000,
            info_percent: 0,
            blind_release: false,
            think_max_ns: 600_000,
            sure_client: false,
        }
    }

    /// The shape of histories from clients that go on after a lost reply (fencepost's own, a
    /// Jepsen client that reconnects): `info_percent` of calls lose their reply, the client
    /// then always releases (no oracle), and thinks long next to its holds, so the lock is
    /// often free (about a quarter of the time taken, whatever the number of clients).
    pub fn going_on(calls: usize, clients: u32, seed: u64, bad: bool, info_percent: u64) -> Self {
        let mut sim = LockSim::new(calls, clients, seed, bad);
        sim.info_percent = info_percent;
        sim.blind_release = true;
        // A cycle holds ~0.5 ms plus ~4 one-way trips (~0.8 ms): think ~4 × clients × that.
        sim.think_max_ns = 2 * 4 * clients as u64 * 1_300_000;
        sim.sure_client = true;
        sim
    }

    pub const KEY: &'static str = "lock";
    const TTL_MS: u64 = 30_000;

    /// Runs the simulation.
    pub fn history(&self) -> History {
        let mut run = LockRun::new(self);
        while let Some(Reverse((t, _, c, step))) = run.queue.pop() {
            // Drawn for every event, even one that ends a client (the seed's sequence).
            let lat = run.rng.range(self.latency_min_ns, self.latency_max_ns);
            if let Some((at, next)) = run.step(t, c, step, lat) {
                run.schedule(at, c, next);
            }
        }
        let mut history = History::new(run.ops);
        if self.bad {
            flip_denial(&mut history);
        }
        history
    }

    fn timeout(&self, c: u32, rng: &mut SplitMix64) -> Timeout {
        if self.info_percent == 0
            || rng.below(100) >= self.info_percent
            || (self.sure_client && c == 0)
        {
            Timeout::No
        } else if rng.below(2) == 0 {
            Timeout::Lost
        } else {
            Timeout::ReplyLost
        }
    }
}

/// What a client does next in [`LockSim`], and when the lock or the client sees it.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Step {
    StartAcquire,
    /// (timed out)
    ArriveAcquire(bool),
    /// (granted, timed out)
    ReturnAcquire(bool, bool),
    StartRelease,
    ArriveRelease(bool),
    ReturnRelease(bool, bool),
}

/// One run of a [`LockSim`]: the event queue, the lock's state and the ops recorded so far.
struct LockRun<'s> {
    sim: &'s LockSim,
    rng: SplitMix64,
    /// (time, sequence number, client, step), earliest first.
    queue: BinaryHeap<Reverse<(u64, u64, u32, Step)>>,
    seq: u64,
    holder: Option<u32>,
    fence: u64,
    /// Each client's latest fence.
    fences: Vec<u64>,
    /// Calls started so far.
    started: usize,
    ops: Vec<Op>,
}

impl<'s> LockRun<'s> {
    /// Every client starts with an acquire, after a random pause.
    fn new(sim: &'s LockSim) -> Self {
        let mut run = LockRun {
            sim,
            rng: SplitMix64::new(sim.seed),
            queue: BinaryHeap::new(),
            seq: 0,
            holder: None,
            fence: 0,
            fences: vec![0u64; sim.clients as usize],
            started: 0,
            ops: Vec::with_capacity(sim.calls * 2),
        };
        for c in 0..sim.clients {
            let at = run.rng.below(sim.retry_max_ns + 1);
            run.schedule(at, c, Step::StartAcquire);
        }
        run
    }

    fn schedule(&mut self, at: u64, c: u32, step: Step) {
        self.queue.push(Reverse((at, self.seq, c, step)));
        self.seq += 1;
    }

    fn record(&mut self, t: u64, c: u32, kind: OpKind, f: F, value: Value) {
        self.ops.push(Op {
            index: self.ops.len() as u64,
            time_ns: t,
            process: Process::Client(c),
            kind,
            f,
            value,
        })
    }

    /// A pause before the client's next call.
    fn retry_pause(&mut self) -> u64 {
        self.rng.below(self.sim.retry_max_ns + 1)
    }

    /// A pause before the next acquire after a release.
    fn think_pause(&mut self) -> u64 {
        self.rng.below(self.sim.think_max_ns + 1)
    }

    /// Client `c`'s `step` at `t` (one-way latency `lat`): what it does next, and when; `None`
    /// once every call has started.
    fn step(&mut self, t: u64, c: u32, step: Step, lat: u64) -> Option<(u64, Step)> {
        Some(match step {
            Step::StartAcquire | Step::StartRelease if self.started >= self.sim.calls => {
                return None
            }
            Step::StartAcquire => self.start_acquire(t, c, lat),
            Step::ArriveAcquire(timed_out) => {
                let granted = self.holder.is_none();
                if granted {
                    self.holder = Some(c);
                    self.fence += 1;
                    self.fences[c as usize] = self.fence;
                }
                (t + lat, Step::ReturnAcquire(granted, timed_out))
            }
            Step::ReturnAcquire(_, true) => {
                let value = Value::Error("timeout".into());
                self.record(t, c, OpKind::Info, F::Acquire, value);
                (t + self.retry_pause(), Step::StartRelease)
            }
            Step::ReturnAcquire(granted, false) => self.return_acquire(t, c, granted),
            Step::StartRelease => self.start_release(t, c, lat),
            Step::ArriveRelease(timed_out) => {
                let released = self.holder == Some(c);
                if released {
                    self.holder = None;
                }
                (t + lat, Step::ReturnRelease(released, timed_out))
            }
            Step::ReturnRelease(_, true) => {
                let value = Value::Error("timeout".into());
                self.record(t, c, OpKind::Info, F::Release, value);
                // Still held if the release never arrived: clean up again (a blind client
                // always does).
                let next = if self.sim.blind_release || self.holder == Some(c) {
                    Step::StartRelease
                } else {
                    Step::StartAcquire
                };
                (t + self.retry_pause(), next)
            }
            Step::ReturnRelease(released, false) => {
                let value = if released {
                    Value::Released
                } else {
                    Value::NotHeld
                };
                self.record(t, c, OpKind::Ok, F::Release, value);
                (t + self.think_pause(), Step::StartAcquire)
            }
        })
    }

    fn start_acquire(&mut self, t: u64, c: u32, lat: u64) -> (u64, Step) {
        self.started += 1;
        let value = Value::Lease {
            key: LockSim::KEY.to_string(),
            ttl_ms: LockSim::TTL_MS,
        };
        self.record(t, c, OpKind::Invoke, F::Acquire, value);
        match self.sim.timeout(c, &mut self.rng) {
            Timeout::No => (t + lat, Step::ArriveAcquire(false)),
            Timeout::Lost => (t + 2 * lat, Step::ReturnAcquire(false, true)),
            Timeout::ReplyLost => (t + lat, Step::ArriveAcquire(true)),
        }
    }

    /// A reply that arrived: hold for a while after a grant, retry after a denial.
    fn return_acquire(&mut self, t: u64, c: u32, granted: bool) -> (u64, Step) {
        let fence = self.fences[c as usize];
        let value = if granted {
            Value::Granted(Grant {
                fence,
                token: format!("t{fence}"),
                validity_end_ns: t + LockSim::TTL_MS * 1_000_000,
            })
        } else {
            Value::Denied
        };
        self.record(t, c, OpKind::Ok, F::Acquire, value);
        if granted {
            (
                t + self.rng.below(self.sim.hold_max_ns + 1),
                Step::StartRelease,
            )
        } else {
            (t + self.retry_pause(), Step::StartAcquire)
        }
    }

    fn start_release(&mut self, t: u64, c: u32, lat: u64) -> (u64, Step) {
        self.started += 1;
        let value = Value::Held {
            key: LockSim::KEY.to_string(),
            fence: self.fences[c as usize],
        };
        self.record(t, c, OpKind::Invoke, F::Release, value);
        match self.sim.timeout(c, &mut self.rng) {
            Timeout::No => (t + lat, Step::ArriveRelease(false)),
            Timeout::Lost => (t + 2 * lat, Step::ReturnRelease(false, true)),
            Timeout::ReplyLost => (t + lat, Step::ArriveRelease(true)),
        }
    }
}

enum Timeout {
    No,
    /// The request never reached the lock.
    Lost,
    /// The lock acted; the reply was lost.
    ReplyLost,
}

/// Flips the first denied acquire from the middle on whose whole interval another client surely
/// held the lock (from the start when there is none after the middle). Panics if there is none
/// at all (a history with no contention).
///
/// "Surely" counts `info` ops: a release whose reply was lost may take effect any time after it
/// was invoked, so a holder with such a release before the flipped call's end might have lost
/// the lock at any moment, and its holds are not used. (They were, and the "bad" histories with
/// 10 % info were linearizable after all: the checker said so, rightly.) With many timed-out
/// releases the only sure holds are early in the history, so such a flip lands early.
fn flip_denial(history: &mut History) {
    let calls = history.calls();
    // Per process, the invocation index of its first release with an unknown outcome.
    let mut first_unknown_release: std::collections::HashMap<Process, u64> = Default::default();
    for call in &calls {
        let unknown = call
            .completion
            .as_ref()
            .is_none_or(|c| c.kind == OpKind::Info);
        if call.f == F::Release && unknown {
            first_unknown_release
                .entry(call.process)
                .or_insert(call.invoke.index);
        }
    }
    // Surely-held intervals: from a grant's return to the same client's next release invocation.
    let mut held: Vec<(u64, u64, Process)> = Vec::new();
    let mut granted_at: std::collections::HashMap<Process, u64> = Default::default();
    for call in &calls {
        match (call.f, call.result()) {
            (F::Acquire, Some(Value::Granted(_))) => {
                granted_at.insert(call.process, call.completion.as_ref().unwrap().index);
            }
            (F::Release, _) => {
                if let Some(from) = granted_at.remove(&call.process) {
                    held.push((from, call.invoke.index, call.process));
                }
            }
            _ => {}
        }
    }
    let middle = history.ops.len() as u64 / 2;
    let surely_held = |c: &&crate::history::Call| {
        let done = c.completion.as_ref().unwrap();
        c.result() == Some(&Value::Denied)
            && held.iter().any(|&(from, to, p)| {
                p != c.process
                    && from < c.invoke.index
                    && to > done.index
                    && first_unknown_release
                        .get(&p)
                        .is_none_or(|&r| r > done.index)
            })
    };
    let victim = calls
        .iter()
        .filter(|c| c.invoke.index >= middle)
        .find(surely_held)
        .or_else(|| calls.iter().find(surely_held))
        .expect("a contended lock history has a denial inside someone's hold");
    let done = victim.completion.as_ref().unwrap();
    history.ops[done.index as usize].value = Value::Granted(Grant {
        fence: 0,
        token: "flipped".into(),
        validity_end_ns: done.time_ns + LockSim::TTL_MS * 1_000_000,
    });
}

/// Jepsen etcd-style register histories.
#[derive(Clone, Copy, Debug)]
pub struct RegisterSim {
    pub calls: usize,
    /// Processes running at once (a timed-out one is replaced by a fresh process).
    pub concurrency: u32,
    /// Chance, in percent, that a call times out (`info`).
    pub info_percent: u64,
    /// Use compare-and-set besides read and write.
    pub cas: bool,
    pub seed: u64,
}

impl RegisterSim {
    /// ~80 calls, 4 in flight, ~15 of them `info`.
    pub fn etcd(seed: u64) -> Self {
        RegisterSim {
            calls: 80,
            concurrency: 4,
            info_percent: 19,
            cas: true,
            seed,
        }
    }

    pub fn history(&self) -> History {
        let planned = self.plan();
        let results = execute(&planned);
        History::new(in_time_order(&planned, &results))
    }

    /// Plans every call: its process, invoke, effect and completion times, op, and whether it
    /// times out and (then) takes effect.
    fn plan(&self) -> Vec<Planned> {
        let mut rng = SplitMix64::new(self.seed);
        let mut planned: Vec<Planned> = Vec::with_capacity(self.calls);
        // Per slot of concurrency: when its process is free again, and which process it is.
        let mut clocks: Vec<(u64, u32)> = (0..self.concurrency).map(|p| (0, p)).collect();
        let mut next_process = self.concurrency;
        for _ in 0..self.calls {
            let slot = rng.below(self.concurrency as u64) as usize;
            let (clock, process) = clocks[slot];
            let invoke = clock + rng.range(10_000, 500_000);
            let effect = invoke + rng.range(50_000, 2_000_000);
            let info = rng.below(100) < self.info_percent;
            let complete = if info {
                invoke + 5_000_000
            } else {
                effect + rng.range(50_000, 2_000_000)
            };
            let v = rng.below(5) as i64;
            let (f, arg) = match rng.below(if self.cas { 4 } else { 2 }) {
                0 => (F::Read, Value::None),
                1 => (F::Write, Value::Int(v)),
                _ => (
                    F::Cas,
                    Value::CasArgs {
                        from: rng.below(5) as i64,
                        to: v,
                    },
                ),
            };
            planned.push(Planned {
                process,
                invoke,
                effect,
                complete,
                f,
                arg,
                info,
                takes_effect: !info || rng.below(2) == 0,
            });
            clocks[slot] = if info {
                next_process += 1;
                (complete, next_process - 1)
            } else {
                (complete, process)
            };
        }
        planned
    }
}

/// One call of a [`RegisterSim`], planned before anything runs.
struct Planned {
    process: u32,
    invoke: u64,
    effect: u64,
    complete: u64,
    f: F,
    arg: Value,
    /// Timed out: its completion is `info`.
    info: bool,
    takes_effect: bool,
}

/// Runs the planned calls on a register at their effect times: each call's completion (`info`
/// for a timed-out one, whatever it did).
fn execute(planned: &[Planned]) -> Vec<(OpKind, Value)> {
    let mut order: Vec<usize> = (0..planned.len()).collect();
    order.sort_by_key(|&i| (planned[i].effect, i));
    let mut state: Option<i64> = None;
    let mut results: Vec<(OpKind, Value)> = vec![(OpKind::Info, Value::None); planned.len()];
    for i in order {
        let p = &planned[i];
        if !p.takes_effect {
            continue;
        }
        let result = match (&p.f, &p.arg) {
            (F::Read, _) => (OpKind::Ok, state.map_or(Value::None, Value::Int)),
            (F::Write, Value::Int(v)) => {
                state = Some(*v);
                (OpKind::Ok, Value::Int(*v))
            }
            (F::Cas, Value::CasArgs { from, to }) if state == Some(*from) => {
                state = Some(*to);
                (OpKind::Ok, p.arg.clone())
            }
            _ => (OpKind::Fail, p.arg.clone()),
        };
        if !p.info {
            results[i] = result;
        }
    }
    results
}

/// The invocations and completions of the planned calls, in time order.
fn in_time_order(planned: &[Planned], results: &[(OpKind, Value)]) -> Vec<Op> {
    let mut events: Vec<(u64, usize, bool)> = Vec::with_capacity(planned.len() * 2);
    for (i, p) in planned.iter().enumerate() {
        events.push((p.invoke, i, false));
        events.push((p.complete, i, true));
    }
    events.sort();
    events
        .into_iter()
        .enumerate()
        .map(|(index, (t, i, done))| {
            let p = &planned[i];
            let (kind, value) = if done {
                results[i].clone()
            } else {
                (OpKind::Invoke, p.arg.clone())
            };
            Op {
                index: index as u64,
                time_ns: t,
                process: Process::Client(p.process),
                kind,
                f: p.f,
                value,
            }
        })
        .collect()
}

/// Writes a lock or register history the way Jepsen would (`history.edn`, one map per line):
/// denials as `{:type :ok, :f :acquire, :value false}`, cas arguments as `[from to]`.
pub fn to_edn(history: &History) -> String {
    let mut out = String::with_capacity(history.ops.len() * 64);
    for op in &history.ops {
        let Process::Client(p) = op.process else {
            continue;
        };
        let kind = match op.kind {
            OpKind::Invoke => "invoke",
            OpKind::Ok => "ok",
            OpKind::Fail => "fail",
            OpKind::Info => "info",
        };
        let f = match op.f {
            F::Acquire => "acquire",
            F::Release => "release",
            F::Extend => "extend",
            F::Read => "read",
            F::Write => "write",
            F::Cas => "cas",
            F::Add => "add",
            _ => continue,
        };
        let value = match &op.value {
            Value::Denied | Value::NotHeld => Edn::Bool(false),
            Value::Granted(_) | Value::Released | Value::Extended { .. } => Edn::Bool(true),
            Value::Int(v) => Edn::Int(*v),
            Value::CasArgs { from, to } => Edn::Vector(vec![Edn::Int(*from), Edn::Int(*to)]),
            _ => Edn::Nil,
        };
        out.push_str(&format!(
            "{{:type :{kind}, :f :{f}, :value {value}, :process {p}, :time {}, :index {}}}\n",
            op.time_ns, op.index
        ));
    }
    out
}

/// Writes a history as fencepost's JSON lines.
pub fn to_jsonl(history: &History) -> String {
    let mut out = String::with_capacity(history.ops.len() * 120);
    for op in &history.ops {
        out.push_str(&serde_json::to_string(op).expect("ops serialize"));
        out.push('\n');
    }
    out
}
