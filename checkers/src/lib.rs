//! fencepost's checkers: pure functions from a recorded history to a verdict.
//!
//! No tokio, no Redis, no file system beyond parsing text handed in: every checker can be re-run
//! offline on a saved run (`fencepost check RUN_DIR`).
//!
//! - [`exclusion`]: lease-aware mutual exclusion over the clients' critical spans.
//! - [`fencing`]: accesses the resource accepted out of token order, and those it prevented.
//! - [`lost_updates`]: increments overwritten at the resource, end to end.
//! - [`counter`]: increments lost or duplicated, judged by bounds (Jepsen's counter).
//! - [`window`]: rate limiters admitting more than their limit in some interval of length W.
//! - [`linearizable`]: is there one real-time-respecting order of the ops that a sequential
//!   [`model`] explains? (the lock as a mutex with owners, registers, counters), with
//!   [`edn`] to read Jepsen's `history.edn`.
//! - [`run`]: all of them over one run, merged into one verdict.

pub mod counter;
pub mod edn;
pub mod exclusion;
pub mod fencing;
pub mod history;
pub mod linearizable;
pub mod lost_updates;
pub mod model;
pub mod resource_log;
pub mod run;
pub mod verdict;
pub mod window;

pub use history::{
    Call, Fault, FaultWindow, Grant, History, MalformedHistory, Nanos, Op, OpKind, Process, Value,
    F,
};
pub use resource_log::{Access, AccessOp, ResourceLog};
pub use verdict::Validity;
