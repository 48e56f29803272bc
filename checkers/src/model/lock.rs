//! The lock as a linearizable object: a mutex with owners.
//!
//! `acquire(c)` is granted iff the lock is free and then it is held by `c`; it is denied iff the
//! lock is held (by anyone, `c` included). `release(c)` takes effect iff the lock is held by `c`,
//! and is refused otherwise. A granted extension means the lock is held by the caller; a refused
//! one that it is not. Denials and refusals are observations, not failures: they constrain when
//! the lock was held. Lease expiry is not an op of this model, so a lock whose lease expired under
//! its holder shows up here as a violation; the reader explains that case in plain words.

use super::{Model, Need, Toggle};

/// Who holds or asks for the lock (the client's number).
pub type Owner = u32;

/// A call on the lock, with its caller.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum LockOp {
    Acquire(Owner),
    Release(Owner),
    Extend(Owner),
}

impl LockOp {
    pub fn caller(self) -> Owner {
        match self {
            LockOp::Acquire(c) | LockOp::Release(c) | LockOp::Extend(c) => c,
        }
    }
}

/// What a lock call returned.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum LockRet {
    /// Acquire succeeded.
    Granted,
    /// Acquire found the lock held.
    Denied,
    /// Release deleted the caller's lock.
    Released,
    /// Release or extension found the lock not held by the caller.
    NotHeld,
    /// Extension found the lock held by the caller.
    Extended,
}

/// The lock with owners.
#[derive(Clone, Copy, Debug, Default)]
pub struct Lock;

impl Model for Lock {
    /// `None`: free; `Some(c)`: held by `c`.
    type State = Option<Owner>;
    type Op = LockOp;
    type Ret = LockRet;

    fn init(&self) -> Self::State {
        None
    }

    fn step(&self, state: &Self::State, op: &LockOp, ret: &LockRet) -> Option<Self::State> {
        let held_by_caller = *state == Some(op.caller());
        match (op, ret) {
            (LockOp::Acquire(c), LockRet::Granted) => state.is_none().then_some(Some(*c)),
            (LockOp::Acquire(_), LockRet::Denied) => state.is_some().then_some(*state),
            (LockOp::Release(_), LockRet::Released) => held_by_caller.then_some(None),
            (LockOp::Release(_) | LockOp::Extend(_), LockRet::NotHeld) => {
                (!held_by_caller).then_some(*state)
            }
            (LockOp::Extend(_), LockRet::Extended) => held_by_caller.then_some(*state),
            _ => None,
        }
    }

    fn step_unknown(&self, state: &Self::State, op: &LockOp) -> Option<Self::State> {
        match op {
            LockOp::Acquire(c) => state.is_none().then_some(Some(*c)),
            LockOp::Release(c) => (*state == Some(*c)).then_some(None),
            LockOp::Extend(_) => None,
        }
    }

    fn is_observer(&self, _op: &LockOp, ret: &LockRet) -> bool {
        matches!(ret, LockRet::Denied | LockRet::NotHeld | LockRet::Extended)
    }

    fn is_read_only(&self, op: &LockOp) -> bool {
        matches!(op, LockOp::Extend(_))
    }

    /// One channel per client: "held by this client". Only the client's own acquire (from free)
    /// sets it and only its own release clears it; another client's acquire or release leaves it
    /// unset. So a client's timed-out acquires can take effect at most once more than its
    /// releases (known and timed-out) that are still to come.
    fn toggle(&self, op: &LockOp, ret: Option<&LockRet>) -> Option<Toggle> {
        lock_toggle(op, ret, op.caller())
    }

    fn toggled(&self, state: &Self::State, channel: u32) -> bool {
        *state == Some(channel)
    }

    /// An `info` acquire of `c` that took effect (free → c) can move later, to just before the
    /// first op after it that needs the lock held (a denial; `c`'s release → released or
    /// extend → extended): until then the lock stays `c`'s, and the only ops legal in between
    /// are other clients' refused releases and extensions, legal on a free lock too (grants and
    /// acquires need it free, `c`'s refusals need it not `c`'s; an `info` release of `c` right
    /// after it undoes it, and both are dropped). An `info` release of `c` (c → free) can move
    /// later to just before the first op that needs the lock not `c`'s (a grant, an `info`
    /// acquire, `c`'s refusals), for the same reason the other way round. Moving an `info` op
    /// later keeps it after its invocation and has no return to stay before. So some
    /// linearization takes every `info` step just before an op it enables: chains are at most
    /// two long (a release of `c` enabling an acquire of `d` that `d`'s release needs).
    fn lazy_unknown(&self) -> bool {
        true
    }

    /// A denial needs the lock held by anyone; the caller's release → released or extend →
    /// extended needs it held by the caller.
    fn needs_on(&self, op: &LockOp, ret: &LockRet) -> Option<Need> {
        lock_needs_on(op, ret, op.caller())
    }

    fn describe_op(&self, op: &LockOp, ret: Option<&LockRet>) -> String {
        describe_lock_op(op, ret)
    }

    fn describe_state(&self, state: &Self::State) -> String {
        match state {
            None => "free".to_string(),
            Some(c) => format!("held by client {c}"),
        }
    }
}

/// Shared by the mutex and the lock: a granted (or possibly granted) acquire sets `channel`, a
/// release that (possibly) took effect clears it; denials, refusals and extensions change
/// nothing.
pub(crate) fn lock_toggle(op: &LockOp, ret: Option<&LockRet>, channel: u32) -> Option<Toggle> {
    match (op, ret) {
        (LockOp::Acquire(_), None | Some(LockRet::Granted)) => Some(Toggle { channel, on: true }),
        (LockOp::Release(_), None | Some(LockRet::Released)) => Some(Toggle { channel, on: false }),
        _ => None,
    }
}

/// Shared by the mutex and the lock: what a known return needs set (`channel`: the caller's).
pub(crate) fn lock_needs_on(op: &LockOp, ret: &LockRet, channel: u32) -> Option<Need> {
    match (op, ret) {
        (LockOp::Acquire(_), LockRet::Denied) => Some(Need::Any),
        (LockOp::Release(_), LockRet::Released) | (LockOp::Extend(_), LockRet::Extended) => {
            Some(Need::Channel(channel))
        }
        _ => None,
    }
}

/// Shared by the mutex and the lock: `acquire → denied (lock held)`. The caller is the op's
/// process, which reports name beside it.
pub(crate) fn describe_lock_op(op: &LockOp, ret: Option<&LockRet>) -> String {
    let verb = match op {
        LockOp::Acquire(_) => "acquire",
        LockOp::Release(_) => "release",
        LockOp::Extend(_) => "extend",
    };
    let ret = match ret {
        None => "unknown (may or may not have taken effect)",
        Some(LockRet::Granted) => "granted",
        Some(LockRet::Denied) => "denied (lock held)",
        Some(LockRet::Released) => "released",
        Some(LockRet::NotHeld) => "refused (not held by the caller)",
        Some(LockRet::Extended) => "extended",
    };
    format!("{verb} → {ret}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn release_needs_the_caller_to_hold_it() {
        let m = Lock;
        let held = m.step(&None, &LockOp::Acquire(1), &LockRet::Granted);
        assert_eq!(held, Some(Some(1)));
        assert_eq!(
            m.step(&Some(1), &LockOp::Release(2), &LockRet::Released),
            None
        );
        assert_eq!(
            m.step(&Some(1), &LockOp::Release(2), &LockRet::NotHeld),
            Some(Some(1))
        );
        assert_eq!(
            m.step(&Some(1), &LockOp::Release(1), &LockRet::Released),
            Some(None)
        );
        assert_eq!(
            m.step(&Some(1), &LockOp::Acquire(1), &LockRet::Denied),
            Some(Some(1))
        );
        assert_eq!(m.step(&None, &LockOp::Acquire(1), &LockRet::Denied), None);
    }
}
