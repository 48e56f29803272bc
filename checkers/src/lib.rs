//! fencepost's checkers: pure functions from a recorded history to a verdict.
//!
//! No tokio, no Redis, no file system beyond parsing text handed in: every checker can be re-run
//! offline on a saved run (`fencepost check RUN_DIR`).
//!
//! - [`check`]: the one shape every checker's conclusion takes (verdict, evidence, headline).
//! - [`exclusion`]: lease-aware mutual exclusion over the clients' critical spans.
//! - [`sweep`]: overlapping intervals of different clients, found as a history streams by
//!   (mutual exclusion's spans, double grant's leases).
//! - [`double_grant`]: grants the lock gave while another grant's key surely lived
//!   ([`lease`]); [`foreign_release`]: `DEL` releases that deleted another client's lock.
//! - [`fencing`]: accesses the resource accepted out of token order, and those it prevented.
//! - [`lost_updates`]: increments overwritten at the resource, end to end.
//! - [`counter`]: increments lost or duplicated, judged by bounds (Jepsen's counter).
//! - [`delivery`]: messages (Pub/Sub, Streams) lost, duplicated, unexpected or out of order,
//!   per delivery group (Jepsen's queue checkers).
//! - [`window`]: rate limiters admitting more than their limit in some interval of length W.
//! - [`linearizable`]: is there one real-time-respecting order of the ops that a sequential
//!   [`model`] explains? (the lock as a mutex with owners, registers, counters), with
//!   [`edn`] to read Jepsen's `history.edn`.
//! - [`availability`]: the longest stretch without acknowledged work.
//! - [`blame`]: answers a lock library gave that no correct lock may give, judged against the
//!   lock nodes' own record of their keys ([`node_record`]).
//! - [`faults`]: whether the faults a scenario injects took effect.
//! - [`run`]: all of them over one run, as a list, merged into one verdict.

pub mod ahead;
pub mod availability;
pub mod blame;
pub mod check;
pub mod counter;
pub mod delivery;
pub mod double_grant;
pub mod edn;
pub mod exclusion;
pub mod faults;
pub mod fencing;
#[cfg(test)]
mod fixture;
pub mod foreign_release;
pub mod history;
pub mod lease;
pub mod linearizable;
pub mod lost_updates;
pub mod model;
pub mod node_record;
pub mod orphan_lock;
pub mod quote;
pub mod registry;
pub mod resource_log;
pub mod run;
pub mod sweep;
pub mod verdict;
pub mod window;

pub use check::{Check, Evidence, Minimums};
pub use history::{
    Call, Fault, FaultWindow, Grant, History, MalformedHistory, Message, Nanos, Op, OpKind,
    Process, Value, F,
};
pub use resource_log::{Access, AccessOp, ResourceLog};
pub use verdict::Validity;
