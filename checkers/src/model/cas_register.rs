//! A compare-and-set register, as in Knossos's `cas-register`: read, write, and `cas(from, to)`
//! which succeeds iff the value is `from`. A cas that did not match is Jepsen's `:fail` (it did
//! not take effect) and never reaches the model.

use super::{show_value, Model};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum CasOp {
    Read,
    Write(i64),
    Cas { from: i64, to: i64 },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum CasRet {
    /// The value read (`None` = nil).
    Read(Option<i64>),
    Written,
    /// The compare-and-set matched and wrote.
    Swapped,
}

#[derive(Clone, Copy, Debug, Default)]
pub struct CasRegister {
    pub initial: Option<i64>,
}

impl Model for CasRegister {
    type State = Option<i64>;
    type Op = CasOp;
    type Ret = CasRet;

    fn init(&self) -> Option<i64> {
        self.initial
    }

    fn step(&self, state: &Option<i64>, op: &CasOp, ret: &CasRet) -> Option<Option<i64>> {
        match (op, ret) {
            (CasOp::Read, CasRet::Read(v)) => (v == state).then_some(*state),
            (CasOp::Write(v), CasRet::Written) => Some(Some(*v)),
            (CasOp::Cas { from, to }, CasRet::Swapped) => {
                (*state == Some(*from)).then_some(Some(*to))
            }
            _ => None,
        }
    }

    fn step_unknown(&self, state: &Option<i64>, op: &CasOp) -> Option<Option<i64>> {
        match op {
            CasOp::Read => None,
            CasOp::Write(v) => Some(Some(*v)),
            CasOp::Cas { from, to } => (*state == Some(*from)).then_some(Some(*to)),
        }
    }

    fn is_observer(&self, op: &CasOp, _ret: &CasRet) -> bool {
        match op {
            CasOp::Read => true,
            CasOp::Write(_) => false,
            CasOp::Cas { from, to } => from == to,
        }
    }

    fn is_read_only(&self, op: &CasOp) -> bool {
        match op {
            CasOp::Read => true,
            CasOp::Write(_) => false,
            CasOp::Cas { from, to } => from == to,
        }
    }

    fn describe_op(&self, op: &CasOp, ret: Option<&CasRet>) -> String {
        let maybe = if ret.is_none() {
            " (may or may not have taken effect)"
        } else {
            ""
        };
        match (op, ret) {
            (CasOp::Read, Some(CasRet::Read(v))) => format!("read → {}", show_value(*v)),
            (CasOp::Read, _) => "read → unknown".to_string(),
            (CasOp::Write(v), _) => format!("write {v}{maybe}"),
            (CasOp::Cas { from, to }, _) => format!("cas {from} → {to}{maybe}"),
        }
    }

    fn describe_state(&self, state: &Option<i64>) -> String {
        format!("value {}", show_value(*state))
    }
}
