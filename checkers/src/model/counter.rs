//! A counter: `add(d)` adds `d`, `read` returns the sum so far (starting at 0).

use super::Model;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum CounterOp {
    Add(i64),
    Read,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum CounterRet {
    Added,
    Read(i64),
}

#[derive(Clone, Copy, Debug, Default)]
pub struct Counter;

impl Model for Counter {
    type State = i64;
    type Op = CounterOp;
    type Ret = CounterRet;

    fn init(&self) -> i64 {
        0
    }

    fn step(&self, state: &i64, op: &CounterOp, ret: &CounterRet) -> Option<i64> {
        match (op, ret) {
            (CounterOp::Add(d), CounterRet::Added) => state.checked_add(*d),
            (CounterOp::Read, CounterRet::Read(v)) => (v == state).then_some(*state),
            _ => None,
        }
    }

    fn step_unknown(&self, state: &i64, op: &CounterOp) -> Option<i64> {
        match op {
            CounterOp::Add(0) | CounterOp::Read => None,
            CounterOp::Add(d) => state.checked_add(*d),
        }
    }

    fn is_observer(&self, op: &CounterOp, _ret: &CounterRet) -> bool {
        matches!(op, CounterOp::Read | CounterOp::Add(0))
    }

    fn is_read_only(&self, op: &CounterOp) -> bool {
        matches!(op, CounterOp::Read | CounterOp::Add(0))
    }

    fn describe_op(&self, op: &CounterOp, ret: Option<&CounterRet>) -> String {
        match (op, ret) {
            (CounterOp::Add(d), Some(_)) => format!("add {d}"),
            (CounterOp::Add(d), None) => format!("add {d} (may or may not have taken effect)"),
            (CounterOp::Read, Some(CounterRet::Read(v))) => format!("read → {v}"),
            (CounterOp::Read, _) => "read → unknown".to_string(),
        }
    }

    fn describe_state(&self, state: &i64) -> String {
        format!("value {state}")
    }
}
