//! The search against the brute-force checker on small random histories of every model, plus
//! hand-built cases for the semantics that matter most (denials, info ops, witnesses).

use super::brute;
use super::*;
use crate::model::*;
use proptest::prelude::*;

/// How a test builds random calls for a model and what a correct object would return.
trait Gen: Model {
    /// A call by `process`, chosen by `pick`.
    fn op(&self, pick: u8, process: u32) -> Self::Op;
    /// What a correct object in `state` returns, and where it goes. `None`: the op fails
    /// (Jepsen's `:fail`, did not take effect), and the history leaves it out.
    fn execute(&self, state: &Self::State, op: &Self::Op) -> (Option<Self::Ret>, Self::State);
    /// Some return for `op`, chosen by `pick` (to corrupt a history).
    fn some_ret(&self, pick: u8, op: &Self::Op) -> Self::Ret;
}

impl Gen for Lock {
    fn op(&self, pick: u8, p: u32) -> LockOp {
        match pick % 5 {
            0 | 1 => LockOp::Acquire(p),
            2 | 3 => LockOp::Release(p),
            _ => LockOp::Extend(p),
        }
    }
    fn execute(&self, s: &Option<Owner>, op: &LockOp) -> (Option<LockRet>, Option<Owner>) {
        let (ret, next) = match op {
            LockOp::Acquire(c) if s.is_none() => (LockRet::Granted, Some(*c)),
            LockOp::Acquire(_) => (LockRet::Denied, *s),
            LockOp::Release(c) if *s == Some(*c) => (LockRet::Released, None),
            LockOp::Extend(c) if *s == Some(*c) => (LockRet::Extended, *s),
            LockOp::Release(_) | LockOp::Extend(_) => (LockRet::NotHeld, *s),
        };
        (Some(ret), next)
    }
    fn some_ret(&self, pick: u8, op: &LockOp) -> LockRet {
        lock_ret(pick, op)
    }
}

fn lock_ret(pick: u8, op: &LockOp) -> LockRet {
    match (op, pick % 2) {
        (LockOp::Acquire(_), 0) => LockRet::Granted,
        (LockOp::Acquire(_), _) => LockRet::Denied,
        (LockOp::Release(_), 0) => LockRet::Released,
        (LockOp::Extend(_), 0) => LockRet::Extended,
        (_, _) => LockRet::NotHeld,
    }
}

impl Gen for Mutex {
    fn op(&self, pick: u8, p: u32) -> LockOp {
        Lock.op(pick, p)
    }
    fn execute(&self, held: &bool, op: &LockOp) -> (Option<LockRet>, bool) {
        let (ret, next) = match op {
            LockOp::Acquire(_) if !held => (LockRet::Granted, true),
            LockOp::Acquire(_) => (LockRet::Denied, true),
            LockOp::Release(_) if *held => (LockRet::Released, false),
            LockOp::Extend(_) if *held => (LockRet::Extended, true),
            LockOp::Release(_) | LockOp::Extend(_) => (LockRet::NotHeld, *held),
        };
        (Some(ret), next)
    }
    fn some_ret(&self, pick: u8, op: &LockOp) -> LockRet {
        lock_ret(pick, op)
    }
}

impl Gen for Register {
    fn op(&self, pick: u8, _p: u32) -> RegisterOp {
        if pick & 1 == 0 {
            RegisterOp::Read
        } else {
            RegisterOp::Write((pick / 2 % 3) as i64)
        }
    }
    fn execute(&self, s: &Option<i64>, op: &RegisterOp) -> (Option<RegisterRet>, Option<i64>) {
        match op {
            RegisterOp::Read => (Some(RegisterRet::Read(*s)), *s),
            RegisterOp::Write(v) => (Some(RegisterRet::Written), Some(*v)),
        }
    }
    fn some_ret(&self, pick: u8, op: &RegisterOp) -> RegisterRet {
        match op {
            RegisterOp::Read => RegisterRet::Read((pick % 4 != 3).then_some((pick % 4) as i64)),
            RegisterOp::Write(_) => RegisterRet::Written,
        }
    }
}

impl Gen for CasRegister {
    fn op(&self, pick: u8, _p: u32) -> CasOp {
        let v = (pick / 3 % 3) as i64;
        match pick % 3 {
            0 => CasOp::Read,
            1 => CasOp::Write(v),
            _ => CasOp::Cas {
                from: v,
                to: (pick / 9 % 3) as i64,
            },
        }
    }
    fn execute(&self, s: &Option<i64>, op: &CasOp) -> (Option<CasRet>, Option<i64>) {
        match op {
            CasOp::Read => (Some(CasRet::Read(*s)), *s),
            CasOp::Write(v) => (Some(CasRet::Written), Some(*v)),
            CasOp::Cas { from, to } if *s == Some(*from) => (Some(CasRet::Swapped), Some(*to)),
            CasOp::Cas { .. } => (None, *s),
        }
    }
    fn some_ret(&self, pick: u8, op: &CasOp) -> CasRet {
        match op {
            CasOp::Read => CasRet::Read((pick % 4 != 3).then_some((pick % 4) as i64)),
            CasOp::Write(_) => CasRet::Written,
            CasOp::Cas { .. } => CasRet::Swapped,
        }
    }
}

impl Gen for Counter {
    fn op(&self, pick: u8, _p: u32) -> CounterOp {
        if pick & 1 == 0 {
            CounterOp::Read
        } else {
            CounterOp::Add((pick / 2 % 3) as i64)
        }
    }
    fn execute(&self, s: &i64, op: &CounterOp) -> (Option<CounterRet>, i64) {
        match op {
            CounterOp::Read => (Some(CounterRet::Read(*s)), *s),
            CounterOp::Add(d) => (Some(CounterRet::Added), s + d),
        }
    }
    fn some_ret(&self, pick: u8, op: &CounterOp) -> CounterRet {
        match op {
            CounterOp::Read => CounterRet::Read((pick % 5) as i64),
            CounterOp::Add(_) => CounterRet::Added,
        }
    }
}

/// One random call: (process, gap before it, duration, op pick, outcome pick, point pick).
type Spec = (u8, u8, u8, u8, u8, u8);

/// Builds a history from specs: each process runs its calls one after another; a correct
/// object executes them at random points inside their intervals; some calls end `info` (and
/// took effect or not); `corrupt` may then change one known return.
fn build<M: Gen>(model: &M, specs: &[Spec], corrupt: u16) -> Vec<Operation<M::Op, M::Ret>> {
    build_with(model, specs, corrupt, Shape::default())
}

/// How [`build_with`] shapes a history.
#[derive(Clone, Copy, Debug)]
struct Shape {
    /// A call ends `info` when its outcome pick is a multiple of this.
    info_every: u8,
    /// Jepsen's way: a process whose call ended `info` is retired, and the client goes on as a
    /// new process (a new owner, for the lock). Otherwise the client keeps its number, as
    /// fencepost's clients do.
    retire: bool,
    /// An `info` call may take effect up to four times its length after it began, while its
    /// client (going on under its number) makes its next calls: histories in which an `info`
    /// op must take effect late to be linearizable.
    late: bool,
}

impl Default for Shape {
    fn default() -> Self {
        Shape {
            info_every: 6,
            retire: false,
            late: false,
        }
    }
}

fn build_with<M: Gen>(
    model: &M,
    specs: &[Spec],
    corrupt: u16,
    shape: Shape,
) -> Vec<Operation<M::Op, M::Ret>> {
    struct Planned<O> {
        process: u32,
        op: O,
        start: f64,
        end: f64,
        point: f64,
        info: bool,
        took_effect: bool,
    }
    let mut clock = [0f64; 4];
    let mut generation = [0u32; 4];
    let mut planned: Vec<Planned<M::Op>> = specs
        .iter()
        .map(|&(p, gap, dur, pick, outcome, point)| {
            let slot = (p % 4) as usize;
            let p = slot as u32 + 4 * generation[slot];
            let start = clock[slot] + (gap % 8) as f64 + 0.01 * (slot + 1) as f64;
            let end = start + 1.0 + (dur % 12) as f64;
            clock[slot] = end;
            let frac = (point as f64 + 0.5) / 256.0;
            let info = outcome % shape.info_every.max(1) == 0;
            if info && shape.retire {
                generation[slot] += 1;
            }
            let stretch = if info && shape.late { 4.0 } else { 1.0 };
            Planned {
                process: p,
                op: model.op(pick, p),
                start,
                end,
                point: start + frac * stretch * (end - start),
                info,
                took_effect: !info || outcome % 12 < 6,
            }
        })
        .collect();
    // Execute at the linearization points.
    let mut order: Vec<usize> = (0..planned.len()).collect();
    order.sort_by(|&a, &b| planned[a].point.total_cmp(&planned[b].point));
    let mut rets: Vec<Option<M::Ret>> = vec![None; planned.len()];
    let mut failed = vec![false; planned.len()];
    let mut state = model.init();
    for &i in &order {
        if !planned[i].took_effect {
            continue;
        }
        let (ret, next) = model.execute(&state, &planned[i].op);
        state = next;
        if !planned[i].info {
            failed[i] = ret.is_none();
            rets[i] = ret;
        }
    }
    // Positions: every start and end, in time order.
    let mut times: Vec<(f64, usize, bool)> = Vec::new();
    for (i, c) in planned.iter().enumerate() {
        times.push((c.start, i, false));
        if !c.info {
            times.push((c.end, i, true));
        }
    }
    times.sort_by(|a, b| a.0.total_cmp(&b.0));
    let mut invoke_index = vec![0u64; planned.len()];
    let mut complete_index = vec![None; planned.len()];
    for (pos, &(_, i, end)) in times.iter().enumerate() {
        if end {
            complete_index[i] = Some(pos as u64);
        } else {
            invoke_index[i] = pos as u64;
        }
    }
    let mut ops: Vec<Operation<M::Op, M::Ret>> = planned
        .drain(..)
        .enumerate()
        .filter(|(i, _)| !failed[*i])
        .map(|(i, c)| Operation {
            op: c.op,
            ret: rets[i].clone(),
            process: crate::history::Process::Client(c.process),
            invoke_index: invoke_index[i],
            complete_index: complete_index[i],
        })
        .collect();
    // Corrupt one known return in about half of the histories (the first one, from a
    // chosen start, that the pick actually changes).
    let known: Vec<usize> = (0..ops.len()).filter(|&i| ops[i].ret.is_some()).collect();
    if corrupt & 1 == 0 {
        for k in 0..known.len() {
            let i = known[(corrupt as usize / 2 + k) % known.len()];
            let ret = model.some_ret((corrupt >> 8) as u8, &ops[i].op);
            if ops[i].ret.as_ref() != Some(&ret) {
                ops[i].ret = Some(ret);
                break;
            }
        }
    }
    ops
}

fn agree<M: Gen>(model: &M, specs: &[Spec], corrupt: u16) -> Result<bool, TestCaseError> {
    agree_on(model, build(model, specs, corrupt))
}

fn agree_on<M: Gen>(model: &M, ops: Vec<Operation<M::Op, M::Ret>>) -> Result<bool, TestCaseError> {
    let expected = brute::linearizable(model, &ops);
    let outcome = check_ops(model, ops.clone(), &Budget::default()).expect("well-formed");
    let got = match outcome.verdict {
        Linearizability::Ok => true,
        Linearizability::Illegal => false,
        Linearizability::Unknown => return Err(TestCaseError::fail("unknown on a tiny history")),
    };
    prop_assert_eq!(
        got,
        expected,
        "search and brute force disagree on {:#?}",
        ops
    );
    // A one-wide beam drops configurations all the time: its answer must still be exact.
    let partitions = vec![Partition {
        key: None,
        ops: ops.clone(),
    }];
    let narrow = check_with_beam(model, partitions, &Budget::default(), 1).expect("well-formed");
    prop_assert_eq!(
        narrow.verdict == Linearizability::Ok,
        expected,
        "the beam's fallback disagrees with brute force on {:#?}",
        ops
    );
    // The exact search alone (no beam first), where the caps on `info` counts apply.
    let partitions = vec![Partition {
        key: None,
        ops: ops.clone(),
    }];
    let exact = check_with_beam(model, partitions, &Budget::default(), 0).expect("well-formed");
    prop_assert_eq!(
        exact.verdict == Linearizability::Ok,
        expected,
        "the exact search disagrees with brute force on {:#?}",
        ops
    );
    // A refutation in a window, as if the beam had died at any return: never of a
    // linearizable history.
    prop_assert!(
        !(expected && refuted_in_a_window(model, &ops, false)),
        "a refutation in a window refutes a linearizable history: {:#?}",
        ops
    );
    Ok(expected)
}

/// Whether a refutation in windows of 1 to 8 events before some known return (as if the beam
/// had died there) finds the history not linearizable (`unsound_drop`: dropping the ops before
/// the cut instead of relaxing their returns).
fn refuted_in_a_window<M: Model>(
    model: &M,
    ops: &[Operation<M::Op, M::Ret>],
    unsound_drop: bool,
) -> bool {
    let mut sorted = ops.to_vec();
    sorted.sort_by_key(|o| o.invoke_index);
    let p = Partition {
        key: None,
        ops: sorted,
    };
    let shared = search::Shared {
        stop: std::sync::atomic::AtomicBool::new(false),
        mem_bytes: std::sync::atomic::AtomicUsize::new(0),
        mem_limit_bytes: 64 << 20,
        deadline: std::time::Instant::now() + std::time::Duration::from_secs(10),
        windows: super::Windows {
            sizes: &[1, 2, 3, 5, 8],
            unsound_drop,
        },
    };
    (0..p.ops.len() as u32)
        .filter(|&at| p.ops[at as usize].ret.is_some())
        .any(|at| {
            let mut counters = search::Counters::default();
            super::refute_in_windows(model, &p, &shared, at, &mut counters).is_some()
        })
}

/// Histories where a third to a half of the calls end `info`, some with the client going on
/// under its number (fencepost), some retired (Jepsen): what the caps on `info` counts prune.
fn agree_many_info<M: Gen>(
    model: &M,
    specs: &[Spec],
    corrupt: u16,
    retire: bool,
    info_every: u8,
) -> Result<bool, TestCaseError> {
    let shape = Shape {
        info_every: 2 + info_every % 2,
        retire,
        late: info_every & 2 != 0,
    };
    agree_on(model, build_with(model, specs, corrupt, shape))
}

/// 1 to `most` random calls, drawn from `rng` (for the tests that tally over seeded histories).
fn random_specs(rng: &mut generate::SplitMix64, most: u64) -> Vec<Spec> {
    let n = 1 + rng.below(most) as usize;
    (0..n)
        .map(|_| {
            let b = rng.next_u64().to_le_bytes();
            (b[0], b[1], b[2], b[3], b[4], b[5])
        })
        .collect()
}

fn many_specs() -> impl Strategy<Value = Vec<Spec>> {
    prop::collection::vec(any::<Spec>(), 1..=9)
}

fn specs() -> impl Strategy<Value = Vec<Spec>> {
    prop::collection::vec(any::<Spec>(), 1..=8)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(10_000))]

    #[test]
    fn lock_agrees_with_brute_force(specs in specs(), corrupt in any::<u16>()) {
        agree(&Lock, &specs, corrupt)?;
    }

    #[test]
    fn mutex_agrees_with_brute_force(specs in specs(), corrupt in any::<u16>()) {
        agree(&Mutex, &specs, corrupt)?;
    }

    #[test]
    fn lock_with_many_info_ops_agrees_with_brute_force(
        specs in many_specs(),
        corrupt in any::<u16>(),
        retire in any::<bool>(),
        info_every in any::<u8>(),
    ) {
        agree_many_info(&Lock, &specs, corrupt, retire, info_every)?;
    }

    #[test]
    fn mutex_with_many_info_ops_agrees_with_brute_force(
        specs in many_specs(),
        corrupt in any::<u16>(),
        retire in any::<bool>(),
        info_every in any::<u8>(),
    ) {
        agree_many_info(&Mutex, &specs, corrupt, retire, info_every)?;
    }

    #[test]
    fn register_agrees_with_brute_force(specs in specs(), corrupt in any::<u16>()) {
        agree(&Register::default(), &specs, corrupt)?;
    }

    #[test]
    fn cas_register_agrees_with_brute_force(specs in specs(), corrupt in any::<u16>()) {
        agree(&CasRegister::default(), &specs, corrupt)?;
    }

    #[test]
    fn counter_agrees_with_brute_force(specs in specs(), corrupt in any::<u16>()) {
        agree(&Counter, &specs, corrupt)?;
    }
}

/// The generator behind the property tests must exercise both verdicts and info ops, or
/// agreement would prove little.
#[test]
fn random_histories_cover_both_verdicts_and_info_ops() {
    fn tally<M: Gen>(model: &M) -> (usize, usize, usize) {
        let mut rng = generate::SplitMix64::new(7);
        let (mut ok, mut illegal, mut with_info) = (0, 0, 0);
        for _ in 0..2_000 {
            let specs = random_specs(&mut rng, 8);
            let ops = build(model, &specs, rng.next_u64() as u16);
            with_info += ops.iter().any(|o| o.ret.is_none()) as usize;
            if brute::linearizable(model, &ops) {
                ok += 1
            } else {
                illegal += 1
            }
        }
        (ok, illegal, with_info)
    }
    for (name, (ok, illegal, info)) in [
        ("lock", tally(&Lock)),
        ("mutex", tally(&Mutex)),
        ("register", tally(&Register::default())),
        ("cas-register", tally(&CasRegister::default())),
        ("counter", tally(&Counter)),
    ] {
        println!("{name}: {ok} ok, {illegal} illegal, {info} with info ops");
        assert!(
            ok >= 400 && illegal >= 200 && info >= 400,
            "{name}: {ok} ok, {illegal} illegal, {info} with info ops"
        );
    }
}

/// The property tests catch an unsound rule: cutting a window by dropping the ops before it
/// (instead of relaxing their returns to unknown) calls linearizable histories illegal, and
/// the same random histories the property tests draw show it.
#[test]
fn an_unsound_window_cut_disagrees_with_brute_force() {
    let mut rng = generate::SplitMix64::new(29);
    let (mut tried, mut wrong) = (0, 0);
    for _ in 0..3_000 {
        let specs = random_specs(&mut rng, 9);
        let shape = Shape {
            info_every: 2 + rng.below(2) as u8,
            retire: false,
            late: rng.below(2) == 0,
        };
        let ops = build_with(&Lock, &specs, rng.next_u64() as u16, shape);
        let expected = brute::linearizable(&Lock, &ops);
        tried += 1;
        // The sound cut never refutes a linearizable history; the unsound one must.
        assert!(
            !(expected && refuted_in_a_window(&Lock, &ops, false)),
            "{ops:#?}"
        );
        wrong += (expected && refuted_in_a_window(&Lock, &ops, true)) as usize;
    }
    println!("an unsound cut: {wrong} of {tried} histories refuted though linearizable");
    assert!(wrong >= 10, "{wrong} of {tried}");
}

/// The many-`info` histories must be mostly `info`, and both verdicts must be common.
#[test]
fn many_info_histories_cover_both_verdicts() {
    fn tally<M: Gen>(model: &M, retire: bool) -> (usize, usize, usize) {
        let mut rng = generate::SplitMix64::new(11);
        let (mut ok, mut illegal, mut info) = (0, 0, 0);
        for _ in 0..1_000 {
            let specs = random_specs(&mut rng, 9);
            let shape = Shape {
                info_every: 2 + rng.below(2) as u8,
                retire,
                late: rng.below(2) == 0,
            };
            let ops = build_with(model, &specs, rng.next_u64() as u16, shape);
            info += (ops.iter().filter(|o| o.ret.is_none()).count() >= 3) as usize;
            if brute::linearizable(model, &ops) {
                ok += 1
            } else {
                illegal += 1
            }
        }
        (ok, illegal, info)
    }
    for retire in [false, true] {
        for (name, (ok, illegal, info)) in [
            ("lock", tally(&Lock, retire)),
            ("mutex", tally(&Mutex, retire)),
        ] {
            println!("{name}, retire {retire}: {ok} ok, {illegal} illegal, {info} with ≥ 3 info");
            assert!(
                ok >= 200 && illegal >= 150 && info >= 300,
                "{name}, retire {retire}: {ok} ok, {illegal} illegal, {info} with ≥ 3 info"
            );
        }
    }
}

/// The alternation channels the lock and mutex declare must hold for every state, op and
/// return, and the mutex's `info` classes must really be interchangeable.
#[test]
fn toggles_and_unknown_classes_keep_their_contracts() {
    fn check<M: Model<Op = LockOp, Ret = LockRet>>(m: &M, states: &[M::State], channels: &[u32]) {
        let rets = [
            LockRet::Granted,
            LockRet::Denied,
            LockRet::Released,
            LockRet::NotHeld,
            LockRet::Extended,
        ];
        for s in states {
            for op in [0, 1, 2]
                .iter()
                .flat_map(|&c| [LockOp::Acquire(c), LockOp::Release(c), LockOp::Extend(c)])
            {
                let class = m.unknown_class(&op);
                assert_eq!(m.step_unknown(s, &op), m.step_unknown(s, &class), "{op:?}");
                assert_eq!(m.toggle(&op, None), m.toggle(&class, None), "{op:?}");
                let steps = rets
                    .iter()
                    .filter_map(|r| Some((m.toggle(&op, Some(r)), m.step(s, &op, r)?)))
                    .chain(m.step_unknown(s, &op).map(|n| (m.toggle(&op, None), n)));
                for (toggle, next) in steps {
                    for &k in channels {
                        match toggle {
                            Some(t) if t.channel == k => {
                                assert_eq!(m.toggled(s, k), !t.on, "{s:?} {op:?}");
                                assert_eq!(m.toggled(&next, k), t.on, "{s:?} {op:?}");
                            }
                            _ => assert_eq!(
                                m.toggled(s, k),
                                m.toggled(&next, k),
                                "{s:?} {op:?} channel {k}"
                            ),
                        }
                    }
                }
            }
        }
    }
    check(&Lock, &[None, Some(0), Some(1), Some(2)], &[0, 1, 2]);
    check(&Mutex, &[false, true], &[0]);
}

/// `step_unknown` must be exactly "some return that changes the state" of `step`.
#[test]
fn step_unknown_matches_step_over_all_returns() {
    let lock_rets = [
        LockRet::Granted,
        LockRet::Denied,
        LockRet::Released,
        LockRet::NotHeld,
        LockRet::Extended,
    ];
    for s in [None, Some(0), Some(1)] {
        for op in [0, 1]
            .iter()
            .flat_map(|&c| [LockOp::Acquire(c), LockOp::Release(c), LockOp::Extend(c)])
        {
            let changes: Vec<_> = lock_rets
                .iter()
                .filter_map(|r| Lock.step(&s, &op, r))
                .filter(|n| *n != s)
                .collect();
            assert_eq!(
                changes.first().copied(),
                Lock.step_unknown(&s, &op),
                "{s:?} {op:?}"
            );
            for r in &lock_rets {
                if Lock.is_observer(&op, r) {
                    assert!(Lock.step(&s, &op, r).is_none_or(|n| n == s));
                }
            }
        }
    }
}

fn lock_op(
    process: u32,
    op: LockOp,
    ret: Option<LockRet>,
    invoke_index: u64,
    complete_index: Option<u64>,
) -> Operation<LockOp, LockRet> {
    Operation {
        op,
        ret,
        process: crate::history::Process::Client(process),
        invoke_index,
        complete_index,
    }
}

#[test]
fn a_grant_while_another_surely_holds_is_illegal_with_a_witness() {
    use LockOp::*;
    use LockRet::*;
    let ops = vec![
        lock_op(1, Acquire(1), Some(Granted), 0, Some(1)),
        lock_op(2, Acquire(2), Some(Denied), 2, Some(3)),
        lock_op(2, Acquire(2), Some(Granted), 4, Some(5)),
        lock_op(1, Release(1), Some(Released), 6, Some(7)),
    ];
    let out = check_ops(&Lock, ops, &Budget::default()).unwrap();
    assert_eq!(out.verdict, Linearizability::Illegal);
    let w = out.witness.unwrap();
    assert_eq!(w.op.invoke_index, 4);
    assert_eq!(w.prefix, vec![0, 2]);
    assert_eq!(w.state, "held by client 1");
}

#[test]
fn a_denial_needs_the_lock_held_at_some_instant_of_it() {
    use LockOp::*;
    use LockRet::*;
    // Denied while nobody could hold the lock: illegal.
    let lonely = vec![lock_op(2, Acquire(2), Some(Denied), 0, Some(1))];
    let out = check_ops(&Lock, lonely, &Budget::default()).unwrap();
    assert_eq!(out.verdict, Linearizability::Illegal);
    // Denied while client 1's acquire was in flight: fine.
    let overlapping = vec![
        lock_op(1, Acquire(1), Some(Granted), 0, Some(3)),
        lock_op(2, Acquire(2), Some(Denied), 1, Some(2)),
    ];
    let out = check_ops(&Lock, overlapping, &Budget::default()).unwrap();
    assert_eq!(out.verdict, Linearizability::Ok);
    // A timed-out acquire may have taken effect: the denial is explained by it.
    let info = vec![
        lock_op(1, Acquire(1), None, 0, Some(1)),
        lock_op(2, Acquire(2), Some(Denied), 2, Some(3)),
    ];
    let out = check_ops(&Lock, info, &Budget::default()).unwrap();
    assert_eq!(out.verdict, Linearizability::Ok);
}

#[test]
fn many_timed_out_acquires_of_one_client_stay_cheap() {
    use LockOp::*;
    use LockRet::*;
    // 200 timed-out acquires by client 1, then client 2 alternates grants and releases.
    let mut ops: Vec<_> = (0..200)
        .map(|i| lock_op(1, Acquire(1), None, i, None))
        .collect();
    for k in 0..100u64 {
        let at = 1_000 + 4 * k;
        ops.push(lock_op(2, Acquire(2), Some(Granted), at, Some(at + 1)));
        ops.push(lock_op(2, Release(2), Some(Released), at + 2, Some(at + 3)));
    }
    let out = check_ops(&Lock, ops, &Budget::default()).unwrap();
    assert_eq!(out.verdict, Linearizability::Ok);
    assert!(out.max_frontier <= 4, "frontier {}", out.max_frontier);
}

#[test]
fn malformed_input_is_an_error_not_a_verdict() {
    use LockOp::*;
    use LockRet::*;
    let ops = vec![
        lock_op(1, Acquire(1), Some(Granted), 0, Some(1)),
        lock_op(2, Acquire(2), Some(Denied), 1, Some(2)),
    ];
    assert_eq!(
        check_ops(&Lock, ops, &Budget::default()).unwrap_err(),
        InputError::DuplicateIndex { index: 1 }
    );
}

#[test]
fn the_budget_ends_in_unknown() {
    use LockOp::*;
    use LockRet::*;
    let ops: Vec<_> = (0..5_000u64)
        .flat_map(|k| {
            let at = 4 * k;
            [
                lock_op(1, Acquire(1), Some(Granted), at, Some(at + 1)),
                lock_op(1, Release(1), Some(Released), at + 2, Some(at + 3)),
            ]
        })
        .collect();
    let budget = Budget {
        time_ms: 0,
        memory_mb: 384,
    };
    let out = check_ops(&Lock, ops, &budget).unwrap();
    assert_eq!(out.verdict, Linearizability::Unknown);
    assert!(out.unknown_reason.unwrap().contains("time budget"));
}

#[test]
fn the_memory_budget_ends_in_unknown() {
    use LockOp::*;
    use LockRet::*;
    let ops: Vec<_> = (0..5_000u64)
        .flat_map(|k| {
            let at = 4 * k;
            [
                lock_op(1, Acquire(1), Some(Granted), at, Some(at + 1)),
                lock_op(1, Release(1), Some(Released), at + 2, Some(at + 3)),
            ]
        })
        .collect();
    let budget = Budget {
        time_ms: 60_000,
        memory_mb: 0,
    };
    let out = check_ops(&Lock, ops, &budget).unwrap();
    assert_eq!(out.verdict, Linearizability::Unknown);
    assert!(out.unknown_reason.unwrap().contains("memory budget"));
}
