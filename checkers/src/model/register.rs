//! A read/write register, as in Knossos: reads return the last value written (`nil` before any
//! write, unless an initial value is given).

use super::{show_value, Model};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum RegisterOp {
    Read,
    Write(i64),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum RegisterRet {
    /// The value read (`None` = nil).
    Read(Option<i64>),
    Written,
}

#[derive(Clone, Copy, Debug, Default)]
pub struct Register {
    pub initial: Option<i64>,
}

impl Model for Register {
    type State = Option<i64>;
    type Op = RegisterOp;
    type Ret = RegisterRet;

    fn init(&self) -> Option<i64> {
        self.initial
    }

    fn step(&self, state: &Option<i64>, op: &RegisterOp, ret: &RegisterRet) -> Option<Option<i64>> {
        match (op, ret) {
            (RegisterOp::Read, RegisterRet::Read(v)) => (v == state).then_some(*state),
            (RegisterOp::Write(v), RegisterRet::Written) => Some(Some(*v)),
            _ => None,
        }
    }

    fn step_unknown(&self, _state: &Option<i64>, op: &RegisterOp) -> Option<Option<i64>> {
        match op {
            RegisterOp::Read => None,
            RegisterOp::Write(v) => Some(Some(*v)),
        }
    }

    fn is_observer(&self, op: &RegisterOp, _ret: &RegisterRet) -> bool {
        matches!(op, RegisterOp::Read)
    }

    fn is_read_only(&self, op: &RegisterOp) -> bool {
        matches!(op, RegisterOp::Read)
    }

    fn describe_op(&self, op: &RegisterOp, ret: Option<&RegisterRet>) -> String {
        match (op, ret) {
            (RegisterOp::Read, Some(RegisterRet::Read(v))) => format!("read → {}", show_value(*v)),
            (RegisterOp::Read, _) => "read → unknown".to_string(),
            (RegisterOp::Write(v), Some(_)) => format!("write {v}"),
            (RegisterOp::Write(v), None) => format!("write {v} (may or may not have taken effect)"),
        }
    }

    fn describe_state(&self, state: &Option<i64>) -> String {
        format!("value {}", show_value(*state))
    }
}
