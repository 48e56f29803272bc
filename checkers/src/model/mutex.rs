//! Knossos's mutex: acquire succeeds iff free, release succeeds iff held — by anyone.
//!
//! The same calls as the [`lock`](super::lock) model with the owners ignored: a release by a
//! client that does not hold the lock frees it. Useful to compare with Knossos verdicts; the
//! `lock` model is the one that matches what a Redis lock promises.

use super::lock::{describe_lock_op, LockOp, LockRet};
use super::Model;

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

    fn describe_op(&self, op: &LockOp, ret: Option<&LockRet>) -> String {
        describe_lock_op(op, ret)
    }

    fn describe_state(&self, held: &bool) -> String {
        if *held { "held" } else { "free" }.to_string()
    }
}
