//! The recording hook: how a workload writes its ops into the run's history.
//!
//! Workloads do not know where the history goes (the harness journals it to disk); they only
//! promise to call [`Record::invoke`] before an op and [`Record::complete`] after it, exactly once.

use checkers::{Fault, Nanos, OpKind, Process, Value, F};

/// An invoked op awaiting its completion.
#[derive(Debug, Clone, Copy)]
#[must_use = "every invoked op must be completed"]
pub struct Pending {
    pub process: Process,
    pub f: F,
    pub invoke_ns: Nanos,
}

pub trait Record: Send + Sync {
    /// Records an invocation and returns the handle to complete it with.
    fn invoke(&self, process: Process, f: F, value: Value) -> Pending;
    /// Records the completion of an invoked op.
    fn complete(&self, pending: Pending, kind: OpKind, value: Value);
    /// Records a nemesis op: a fault's start (once it took effect) or its stop.
    fn nemesis(&self, f: F, fault: Fault);
    /// Records an injection that did not take effect: a failed nemesis start, no window.
    fn nemesis_failed(&self, fault: Fault);
    /// Now, on the history's monotonic clock.
    fn now_ns(&self) -> Nanos;
}
