//! What the checkers are told about a scenario: which apply (from the scenario's shape, through
//! the check registry), the limiter's promise, the faults that must take effect, the evidence
//! floors, the budgets. The judging reads it; the scenario stays data.

use crate::scenario::{expect, Scenario};
use checkers::delivery::DeliveryConfig;
use checkers::run::{CheckOptions, LockOptions};
use checkers::window::WindowSpec;

/// What the checkers are told about this scenario.
pub fn check_options(s: &Scenario) -> CheckOptions {
    let shape = expect::shape(s);
    CheckOptions {
        lock: shape.lock.then_some(LockOptions {
            release_by_del: shape.release_by_del,
        }),
        resource: shape.resource,
        counter: shape.counter,
        window: match (s.workload.limit, s.workload.window) {
            (Some(limit), Some(w)) if s.workload.kind.is_limiter() => Some(WindowSpec {
                limit: s.expect.rate_window_limit.unwrap_or(limit),
                window_ns: w.ns(),
                aligned: s.expect.rate_window_aligned,
            }),
            _ => None,
        },
        faults: fault_minimums(s),
        minimums: s.evidence.minimums(),
        availability_gap_ns: s.expect.availability_gap.map(|d| d.ns()),
        // Read from the run folder, when the run tapped its nodes.
        blame: None,
        delivery: s.workload.kind.is_messaging().then(|| DeliveryConfig {
            // Receivers read for the drain after the stop; a publish that completed within it
            // of the end may still be on its way.
            in_flight_ns: 100_000_000,
            expected_groups: crate::scenario::workload::expected_groups(
                s.workload.kind,
                s.workload.producers.unwrap_or(0),
                s.run.clients,
            ),
        }),
        shape: Some(shape),
        budget: s
            .workload
            .kind
            .uses_lock()
            .then_some(checkers::linearizable::Budget {
                time_ms: 5_000,
                memory_mb: 256,
            }),
    }
}

/// Each fault kind the scenario injects, with the injections that must take effect: the
/// per-nemesis minimum times the nemeses of that kind.
fn fault_minimums(s: &Scenario) -> Vec<(String, u64)> {
    let per = s.evidence.minimums().faults;
    let mut out: Vec<(String, u64)> = Vec::new();
    for n in &s.nemesis {
        let kind = n.kind();
        match out.iter_mut().find(|(k, _)| k == kind) {
            Some((_, m)) => *m += per,
            None => out.push((kind.to_string(), per)),
        }
    }
    out
}
