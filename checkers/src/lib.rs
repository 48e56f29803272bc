//! fencepost's checkers: pure functions from a recorded history to a verdict.
//!
//! No tokio, no Redis, no file system beyond parsing text handed in: every checker can be re-run
//! offline on a saved run (`fencepost check RUN_DIR`).

pub mod history;
pub mod verdict;

pub use history::{
    Call, Fault, FaultWindow, Grant, History, MalformedHistory, Nanos, Op, OpKind, Process, Value,
    F,
};
pub use verdict::Validity;
