//! Knossos's mutex: acquire succeeds iff free, release succeeds iff held — by anyone.
//!
//! The same calls as the [`lock`](super::lock) model with the owners ignored: a release by a
//! client that does not hold the lock frees it. Useful to compare with Knossos verdicts; the
//! `lock` model is the one that matches what a Redis lock promises.

use super::lock::{describe_lock_op, lock_needs_on, lock_toggle, LockOp, LockRet};
use super::{Model, Need, Toggle};

#[derive(Clone, Copy, Debug, Default)]
pub struct Mutex;

impl Model for Mutex {
    /// `true`: held.
    type State = bool;
    type Op = LockOp;
    type Ret = LockRet;

    fn init(&self) -> bool {
        false
    }

    fn step(&self, held: &bool, op: &LockOp, ret: &LockRet) -> Option<bool> {
        let held = *held;
        match (op, ret) {
            (LockOp::Acquire(_), LockRet::Granted) => (!held).then_some(true),
            (LockOp::Acquire(_), LockRet::Denied) => held.then_some(true),
            (LockOp::Release(_), LockRet::Released) => held.then_some(false),
            (LockOp::Release(_) | LockOp::Extend(_), LockRet::NotHeld) => (!held).then_some(false),
            (LockOp::Extend(_), LockRet::Extended) => held.then_some(true),
            _ => None,
        }
    }

    fn step_unknown(&self, held: &bool, op: &LockOp) -> Option<bool> {
        match op {
            LockOp::Acquire(_) => (!*held).then_some(true),
            LockOp::Release(_) => held.then_some(false),
            LockOp::Extend(_) => None,
        }
    }

    fn is_observer(&self, _op: &LockOp, ret: &LockRet) -> bool {
        matches!(ret, LockRet::Denied | LockRet::NotHeld | LockRet::Extended)
    }

    fn is_read_only(&self, op: &LockOp) -> bool {
        matches!(op, LockOp::Extend(_))
    }

    /// The caller does not matter: all timed-out acquires are alike, and so are all releases.
    fn unknown_class(&self, op: &LockOp) -> LockOp {
        match op {
            LockOp::Acquire(_) => LockOp::Acquire(0),
            LockOp::Release(_) => LockOp::Release(0),
            LockOp::Extend(_) => LockOp::Extend(0),
        }
    }

    /// One channel, "held": any acquire sets it, any release clears it.
    fn toggle(&self, op: &LockOp, ret: Option<&LockRet>) -> Option<Toggle> {
        lock_toggle(op, ret, 0)
    }

    fn toggled(&self, held: &bool, _channel: u32) -> bool {
        *held
    }

    /// As for the [`lock`](super::lock) model, owners aside: an `info` acquire can move later to
    /// just before the first op that needs the lock held (a denial, a release → released, an
    /// extension → extended), an `info` release to just before the first that needs it free.
    fn lazy_unknown(&self) -> bool {
        true
    }

    /// A denial, a release → released and an extend → extended need the lock held.
    fn needs_on(&self, op: &LockOp, ret: &LockRet) -> Option<Need> {
        lock_needs_on(op, ret, 0)
    }

    fn describe_op(&self, op: &LockOp, ret: Option<&LockRet>) -> String {
        describe_lock_op(op, ret)
    }

    fn describe_state(&self, held: &bool) -> String {
        if *held { "held" } else { "free" }.to_string()
    }
}
