//! All of a run's checkers at once: the verdict a report shows.
//!
//! Each checker judges what it can see — the mutual-exclusion checker the clients' beliefs, the
//! fencing and lost-update checkers the resource's own log — and their verdicts merge with
//! Jepsen's priority. A run without a resource log (the harness died before reading it) gets
//! `unknown` from the resource checkers, never `valid`.

use crate::counter::{self, CounterReport};
use crate::exclusion::{self, ExclusionReport};
use crate::fencing::{self, FencingReport};
use crate::history::{History, OpKind, Value, F};
use crate::lost_updates::{self, LostUpdateReport};
use crate::resource_log::ResourceLog;
use crate::verdict::Validity;
use crate::window::{self, WindowReport, WindowSpec};
use serde::{Deserialize, Serialize};

/// Counts of what happened, for summaries.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct OpCounts {
    pub invocations: u64,
    pub ok: u64,
    pub fail: u64,
    pub info: u64,
    pub grants: u64,
    pub denials: u64,
    pub faults: u64,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunChecks {
    pub counts: OpCounts,
    pub exclusion: ExclusionReport,
    pub exclusion_validity: Validity,
    pub fencing: Option<FencingReport>,
    pub fencing_validity: Validity,
    pub lost_updates: Option<LostUpdateReport>,
    pub lost_updates_validity: Validity,
    /// Counter workloads: increments lost or duplicated (None when the history has no adds).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub counter: Option<CounterReport>,
    #[serde(default = "valid")]
    pub counter_validity: Validity,
    /// Rate limiters: over-admission in some interval of length W (None without requests).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub window: Option<WindowReport>,
    #[serde(default = "valid")]
    pub window_validity: Validity,
    /// Time of the first violation any checker found (history clock).
    pub first_violation_ns: Option<u64>,
    pub validity: Validity,
}

pub fn counts(history: &History) -> OpCounts {
    let mut c = OpCounts::default();
    for op in &history.ops {
        match (op.kind, op.f) {
            (_, F::Start) => c.faults += 1,
            (_, F::Stop) => {}
            (OpKind::Invoke, _) => c.invocations += 1,
            (OpKind::Ok, _) => {
                c.ok += 1;
                match op.value {
                    Value::Granted(_) => c.grants += 1,
                    Value::Denied => c.denials += 1,
                    _ => {}
                }
            }
            (OpKind::Fail, _) => c.fail += 1,
            (OpKind::Info, _) => c.info += 1,
        }
    }
    c
}

fn validity_of(violated: bool) -> Validity {
    if violated {
        Validity::Invalid
    } else {
        Validity::Valid
    }
}

fn valid() -> Validity {
    Validity::Valid
}

/// What some checkers need beyond the history: the promise a rate limiter made.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CheckOptions {
    pub window: Option<WindowSpec>,
}

/// Runs every checker on a validated history and the resource log (if there is one).
pub fn check(history: &History, resource: Option<&ResourceLog>) -> RunChecks {
    check_with(history, resource, CheckOptions::default())
}

/// [`check`], with the options the counter and window checkers need.
pub fn check_with(
    history: &History,
    resource: Option<&ResourceLog>,
    options: CheckOptions,
) -> RunChecks {
    let exclusion = exclusion::check(history);
    let exclusion_validity = validity_of(exclusion.violated());
    let fencing = resource.map(fencing::check);
    let fencing_validity = fencing
        .as_ref()
        .map_or(Validity::Unknown, |f| validity_of(f.violated()));
    let lost = resource.map(lost_updates::check);
    let lost_updates_validity = match &lost {
        None => Validity::Unknown,
        Some(l) if l.final_value.is_none() => validity_of(l.violated()).max(Validity::Unknown),
        Some(l) => validity_of(l.violated()),
    };

    // The first violation in time: overlaps and foreign releases from the history; stale
    // accesses need the history's time of the matching access, approximated by the overlap.
    let mut first: Option<u64> = None;
    let mut note = |t: u64| first = Some(first.map_or(t, |f: u64| f.min(t)));
    for o in &exclusion.overlaps {
        note(o.overlap_start_ns);
    }
    for r in &exclusion.foreign_releases {
        note(r.invoke_ns);
    }
    let counter = counter::applies(history).then(|| counter::check(history));
    let counter_validity = counter
        .as_ref()
        .map_or(Validity::Valid, |c| validity_of(c.violated()));
    for a in counter.iter().flat_map(|c| &c.anomalies) {
        note(a.complete_ns);
    }
    // Requests without a stated limit cannot be judged: unknown, never valid.
    let window = match options.window {
        Some(spec) if window::applies(history) => Some(window::check(history, spec)),
        _ => None,
    };
    let window_validity = match (&window, window::applies(history)) {
        (Some(w), _) => validity_of(w.violated()),
        (None, true) => Validity::Unknown,
        (None, false) => Validity::Valid,
    };
    for o in window.iter().flat_map(|w| &w.over_admissions) {
        note(o.to_ns);
    }
    let validity = exclusion_validity
        .merge(fencing_validity)
        .merge(lost_updates_validity)
        .merge(counter_validity)
        .merge(window_validity);
    RunChecks {
        counts: counts(history),
        exclusion,
        exclusion_validity,
        fencing,
        fencing_validity,
        lost_updates: lost,
        lost_updates_validity,
        counter,
        counter_validity,
        window,
        window_validity,
        first_violation_ns: first,
        validity,
    }
}
