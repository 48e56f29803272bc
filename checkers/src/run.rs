//! All of a run's checkers at once: the list of checks a report shows.
//!
//! Which checkers apply is the scenario's business (a lock, a resource, a counter, a limiter,
//! messages, the faults it injects) and reaches here as [`CheckOptions`]; each applicable checker judges what it
//! can see — the mutual-exclusion and double-grant checkers the clients' history, the fencing and
//! lost-update checkers the resource's own log — and states its conclusion as a [`Check`] in one
//! list. Verdicts merge with Jepsen's priority (advisory checks are shown, not merged). A run
//! without a resource log gets `unknown` from the resource checkers, never `valid`.
//!
//! Most checkers read a history one op at a time ([`Streamed`]: counts, mutual exclusion,
//! double grants, counters, rate windows, availability, faults in memory bounded by what is in
//! flight; delivery in a few dozen bytes per message); the others need it whole. An hour's
//! history is millions of ops, so [`check_streamed`] takes the whole history only when the
//! caller could keep it, and otherwise the whole-history checkers say `unknown`, with why.

use crate::availability::{self, Availability, AvailabilityReport};
use crate::blame::{self, BlameReport};
use crate::check::{Check, Judging, Minimums, Shape};
use crate::counter::{self, Counter, CounterReport};
use crate::delivery::{self, Delivery, DeliveryConfig, DeliveryReport};
use crate::double_grant::{self, DoubleGrantReport, DoubleGrants};
use crate::exclusion::{self, Exclusion, ExclusionReport};
use crate::faults::{self, FaultReport};
use crate::fencing::{self, FencingReport};
use crate::foreign_release::{self, ForeignReleaseReport};
use crate::history::{Call, FaultWindows, History, Nanos, Op, OpKind, Value, F};
use crate::linearizable::{self, Budget, Linearizability, LinearizabilityReport};
use crate::lost_updates::{self, LostUpdateReport};
use crate::node_record::NodesRecord;
use crate::resource_log::ResourceLog;
use crate::verdict::Validity;
use crate::window::{self, Window, WindowReport, WindowSpec};
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
    /// Faults that took effect.
    pub faults: u64,
    /// Injections that failed.
    #[serde(default)]
    pub failed_faults: u64,
}

/// Every checker's report, and the list of their conclusions.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RunChecks {
    pub counts: OpCounts,
    /// One entry per checker that applied, in a fixed order.
    pub checks: Vec<Check>,
    pub exclusion: ExclusionReport,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub double_grant: Option<DoubleGrantReport>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub foreign_release: Option<ForeignReleaseReport>,
    pub fencing: Option<FencingReport>,
    pub lost_updates: Option<LostUpdateReport>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub counter: Option<CounterReport>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub window: Option<WindowReport>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub linearizability: Option<LinearizabilityReport>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub availability: Option<AvailabilityReport>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub blame: Option<BlameReport>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delivery: Option<DeliveryReport>,
    pub faults: FaultReport,
    /// Time of the first violation any checker found (history clock).
    pub first_violation_ns: Option<u64>,
    /// The merge of every non-advisory check.
    pub validity: Validity,
}

impl RunChecks {
    /// The check with this id, if it applied.
    pub fn get(&self, id: &str) -> Option<&Check> {
        self.checks.iter().find(|c| c.id == id)
    }

    pub fn verdict(&self, id: &str) -> Option<Validity> {
        self.get(id).map(|c| c.verdict)
    }

    /// Releases that deleted another client's lock (none for compare-and-delete locks).
    pub fn foreign_releases(&self) -> &[crate::foreign_release::ForeignRelease] {
        self.foreign_release
            .as_ref()
            .map_or(&[][..], |f| &f.foreign_releases[..])
    }
}

pub fn counts(history: &History) -> OpCounts {
    let mut c = OpCounts::default();
    history.ops.iter().for_each(|op| c.push(op));
    c
}

impl OpCounts {
    /// Counts one more op.
    pub fn push(&mut self, op: &Op) {
        let c = self;
        match (op.kind, op.f) {
            (OpKind::Fail, F::Start) => c.failed_faults += 1,
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
}

/// What a run's checkers gather one op at a time, in memory that does not grow with the
/// history: the counts, mutual exclusion, double grants, counters, rate windows, availability
/// and the faults (and delivery, which keeps a few dozen bytes per message, never the ops). A history too long to keep whole is judged by these alone (and the resource
/// checkers, which read the resource's own log).
pub struct Streamed {
    counts: OpCounts,
    exclusion: Exclusion,
    double_grants: DoubleGrants,
    counter: Option<Counter>,
    window: Option<Window>,
    delivery: Option<Delivery>,
    availability: Option<Availability>,
    faults: FaultReport,
    fault_windows: FaultWindows,
    ops: u64,
    end_ns: Nanos,
}

impl Streamed {
    /// `keep` violations of each kind in full (and every span when `keep` is unbounded, as a
    /// whole-history check keeps them for charts); `options` says which checkers apply.
    pub fn new(keep: usize, options: &CheckOptions) -> Streamed {
        Streamed {
            counts: OpCounts::default(),
            exclusion: Exclusion::new(keep, keep == usize::MAX),
            double_grants: DoubleGrants::new(keep),
            counter: options.counter.then(|| Counter::new(keep)),
            window: options.window.map(Window::new),
            delivery: options.delivery.clone().map(Delivery::new),
            availability: options.availability_gap_ns.map(Availability::new),
            faults: FaultReport::default(),
            fault_windows: FaultWindows::default(),
            ops: 0,
            end_ns: 0,
        }
    }

    pub fn push(&mut self, op: &Op) {
        self.ops += 1;
        self.counts.push(op);
        self.exclusion.push(op);
        self.double_grants.push(op);
        if let Some(c) = &mut self.counter {
            c.push(op);
        }
        if let Some(w) = &mut self.window {
            w.push(op);
        }
        if let Some(d) = &mut self.delivery {
            d.push(op);
        }
        if let Some(a) = &mut self.availability {
            a.push(op);
        }
        self.faults.push(op);
        self.fault_windows.push(op);
        self.end_ns = op.time_ns;
    }

    /// Ops read so far.
    pub fn ops(&self) -> u64 {
        self.ops
    }
}

/// The lock under test, as far as checkers care.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LockOptions {
    /// The release is a plain `DEL` (it can delete another client's key).
    pub release_by_del: bool,
}

/// Which checkers apply to a run, and what they need beyond the history.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct CheckOptions {
    /// The run used a lock: mutual exclusion, double grants, linearizability (and foreign
    /// releases for a `DEL` release).
    pub lock: Option<LockOptions>,
    /// The run used the protected resource: fencing and lost updates.
    pub resource: bool,
    /// The run counted: the counter checker.
    pub counter: bool,
    /// The promise a rate limiter made (its limit, or the bound the scenario judges against).
    pub window: Option<WindowSpec>,
    /// Fault kinds the scenario's nemeses inject, and how many injections of each must have
    /// taken effect.
    pub faults: Vec<(String, u64)>,
    pub minimums: Minimums,
    /// Time and memory for the lock's linearizability search.
    pub budget: Option<Budget>,
    /// The longest the workload may go without acknowledged work (the availability check).
    pub availability_gap_ns: Option<u64>,
    /// The lock nodes' own record, for the blame checker (runs that read it).
    pub blame: Option<NodesRecord>,
    /// Messaging runs: the delivery checker, and what it needs.
    pub delivery: Option<DeliveryConfig>,
    /// The run's shape, for the checks the registry wires by itself (a [`crate::check::CheckKind`] with a
    /// `judge`): each runs when its `applies` holds. `None` runs none of them (a bare history).
    pub shape: Option<Shape>,
}

impl CheckOptions {
    /// What a history shows by itself, for a history with no scenario (tests, `fencepost
    /// check` of a bare history): a lock if it has acquires, a resource if a log was given, a
    /// counter if it has adds.
    pub fn inferred(history: &History, resource: Option<&ResourceLog>) -> CheckOptions {
        CheckOptions {
            lock: history
                .ops
                .iter()
                .any(|o| o.f == F::Acquire)
                .then_some(LockOptions::default()),
            resource: resource.is_some(),
            counter: counter::applies(history),
            delivery: delivery::applies(history).then(DeliveryConfig::default),
            ..Default::default()
        }
    }
}

/// Runs every checker that applies on a validated history and the resource log (if any).
pub fn check(history: &History, resource: Option<&ResourceLog>) -> RunChecks {
    check_with(history, resource, CheckOptions::inferred(history, resource))
}

/// [`check`], with what applies stated by the caller.
pub fn check_with(
    history: &History,
    resource: Option<&ResourceLog>,
    options: CheckOptions,
) -> RunChecks {
    let mut streamed = Streamed::new(usize::MAX, &options);
    history.ops.iter().for_each(|op| streamed.push(op));
    check_streamed(streamed, Some(history), resource, options)
}

/// Every checker that applies: those that stream from `streamed`, the others from `whole`, the
/// history when it was short enough to keep. Without it they say `unknown`, with the reason.
pub fn check_streamed(
    streamed: Streamed,
    whole: Option<&History>,
    resource: Option<&ResourceLog>,
    options: CheckOptions,
) -> RunChecks {
    let min = &options.minimums;
    let whole = Whole {
        history: whole,
        calls: whole.map(History::calls),
        ops: streamed.ops,
    };
    let mut list: Vec<Check> = Vec::new();

    let exclusion = streamed.exclusion.finish();
    let lock = match options.lock {
        Some(lock) => lock_checks(
            lock,
            &exclusion,
            streamed.double_grants,
            &whole,
            &options,
            &mut list,
        ),
        None => LockReports::default(),
    };
    let failed_bends = streamed.fault_windows.failed_bends().to_vec();
    let windows = streamed.fault_windows.finish(streamed.end_ns);
    // What the nodes' record can say, once the faults that bent their clocks are taken out —
    // those that took effect, and those that bent a clock and then failed to confirm.
    let bending: Vec<crate::history::FaultWindow> =
        windows.iter().cloned().chain(failed_bends).collect();
    let nodes = options.blame.as_ref().map(|r| r.bent_by(&bending));
    let blame = nodes
        .as_ref()
        .and_then(|input| blame_check(input, &whole, &windows, min, &mut list));

    let mut fencing = None;
    let mut lost = None;
    if options.resource {
        fencing = resource.map(fencing::check);
        lost = resource.map(lost_updates::check);
        list.push(fencing::entry(fencing.as_ref(), min));
        list.push(lost_updates::entry(lost.as_ref(), min));
    }

    let counter = streamed.counter.map(|c| c.finish(&windows));
    if let Some(k) = &counter {
        list.push(counter::entry(k, min));
    }
    let window = streamed.window.map(|w| w.finish(&windows));
    if let Some(w) = &window {
        list.push(window::entry(w, min));
    }

    let availability = streamed.availability.map(Availability::finish);
    if let Some(a) = &availability {
        list.push(availability::entry(a));
    }

    let delivery = streamed.delivery.map(|d| d.finish(&windows));
    if let Some(d) = &delivery {
        list.extend(delivery::entries(d, min.messages));
    }

    let faults = streamed.faults;
    if !options.faults.is_empty() {
        list.push(faults::entry(&faults, &options.faults));
    }
    registry_checks(
        &options,
        nodes.as_ref(),
        &whole,
        resource,
        &windows,
        &mut list,
    );

    let (validity, first_violation_ns) = merge(&mut list);
    RunChecks {
        counts: streamed.counts,
        checks: list,
        exclusion,
        double_grant: lock.double_grant,
        foreign_release: lock.foreign_release,
        fencing,
        lost_updates: lost,
        counter,
        window,
        linearizability: lock.linearizability,
        availability,
        blame,
        delivery,
        faults,
        first_violation_ns,
        validity,
    }
}

/// The whole history, when it was short enough to keep (and its calls), for the checkers that
/// read it whole.
struct Whole<'h> {
    history: Option<&'h History>,
    calls: Option<Vec<Call>>,
    /// Ops in the history, kept or not.
    ops: u64,
}

impl Whole<'_> {
    /// A whole-history check's entry when the history was not kept: `unknown`, with why.
    fn skip(&self, c: Check) -> Check {
        let not_kept = format!(
            "not judged: this checker reads a history whole, and this one ({} ops) was too long to keep; a long run is judged by the checkers that read it as it streams (mutual exclusion, double grants, counters, rate windows, delivery, availability, faults, and the resource's fencing and lost updates)",
            self.ops
        );
        c.unknown(&not_kept)
            .headline("not judged: the history was too long to read whole".into())
    }
}

/// The lock checkers' reports besides mutual exclusion's.
#[derive(Default)]
struct LockReports {
    double_grant: Option<DoubleGrantReport>,
    foreign_release: Option<ForeignReleaseReport>,
    linearizability: Option<LinearizabilityReport>,
}

/// A lock's checks: mutual exclusion, double grants, foreign releases (for a `DEL` release, on
/// the whole history) and linearizability (on the whole history, with a budget).
fn lock_checks(
    lock: LockOptions,
    exclusion: &ExclusionReport,
    double_grants: DoubleGrants,
    whole: &Whole,
    options: &CheckOptions,
    list: &mut Vec<Check>,
) -> LockReports {
    let min = &options.minimums;
    let mut reports = LockReports::default();
    list.push(exclusion::entry(exclusion, min));
    let d = double_grants.finish();
    list.push(double_grant::entry(&d, min));
    reports.double_grant = Some(d);
    if lock.release_by_del {
        match &whole.calls {
            Some(calls) => {
                let f = foreign_release::check(calls);
                list.push(foreign_release::entry(&f, min));
                reports.foreign_release = Some(f);
            }
            None => list.push(whole.skip(foreign_release::entry(&Default::default(), min))),
        }
    }
    if let (Some(budget), Some(history)) = (&options.budget, whole.history) {
        if let Some((outcome, entry)) = lock_linearizability(history, budget) {
            list.push(entry);
            reports.linearizability = Some(outcome);
        }
    }
    reports
}

/// The blame check, on the whole history's calls.
fn blame_check(
    input: &NodesRecord,
    whole: &Whole,
    windows: &[crate::history::FaultWindow],
    min: &Minimums,
    list: &mut Vec<Check>,
) -> Option<BlameReport> {
    match &whole.calls {
        Some(calls) => {
            let b = blame::check(calls, input, windows);
            list.push(blame::entry(&b, min));
            Some(b)
        }
        None => {
            list.push(whole.skip(blame::entry(&Default::default(), min)));
            None
        }
    }
}

/// The checks the registry wires by itself: each whose `applies` holds for the run's shape judges
/// the whole history; a history too long to keep gets its `unknown` entry.
fn registry_checks(
    options: &CheckOptions,
    nodes: Option<&NodesRecord>,
    whole: &Whole,
    resource: Option<&ResourceLog>,
    windows: &[crate::history::FaultWindow],
    list: &mut Vec<Check>,
) {
    let Some(shape) = &options.shape else {
        return;
    };
    for kind in crate::registry::CHECKS {
        let Some(judge) = kind.judge.filter(|_| (kind.applies)(shape)) else {
            continue;
        };
        list.push(match (whole.history, &whole.calls) {
            (Some(history), Some(calls)) => judge(&Judging {
                calls,
                history,
                resource,
                nodes,
                windows,
                minimums: &options.minimums,
            }),
            _ => whole.skip(Check::judged(kind, "", 0, Vec::new())),
        });
    }
}

/// Puts the checks in the registry's order and merges the verdicts of those that are not
/// advisory: the run's validity and its first violation.
fn merge(list: &mut [Check]) -> (Validity, Option<u64>) {
    list.sort_by_key(|c| crate::registry::position(&c.id));
    let merged: Vec<&Check> = list.iter().filter(|c| !c.advisory).collect();
    let validity = merged
        .iter()
        .fold(Validity::Valid, |v, c| v.merge(c.verdict));
    let first_violation_ns = merged.iter().filter_map(|c| c.first_violation_ns).min();
    (validity, first_violation_ns)
}

/// The lock's acquire/release ops as a linearizable mutex with owners (advisory: lease expiry
/// is not an op of the model). A history the reader refuses gives no entry.
fn lock_linearizability(
    history: &History,
    budget: &Budget,
) -> Option<(LinearizabilityReport, Check)> {
    let outcome =
        linearizable::check_history(crate::model::ModelKind::Lock, history, budget).ok()?;
    let mut check = Check::judged(
        &crate::linearizable::LOCK_KIND,
        "the lock's acquire/release ops, as one linearizable mutex with owners (`lock` model)",
        u64::from(outcome.verdict == Linearizability::Illegal),
        Vec::new(),
    )
    .headline(format!(
        "{} — {} ops in {:.0} ms",
        match outcome.verdict {
            Linearizability::Ok => "linearizable",
            Linearizability::Illegal => "not linearizable",
            Linearizability::Unknown => "unknown",
        },
        outcome.ops,
        outcome.elapsed_ms
    ));
    let mut details = Vec::new();
    if let Some(w) = &outcome.witness {
        details.push(format!(
            "cannot be linearized: {} (op {})",
            w.op.description, w.op.invoke_index
        ));
        details.push(w.explanation.clone().unwrap_or_else(|| {
            "lease expiry is not an op of this model: it judges whether the lock behaved as a mutex; the mutual-exclusion checker judges whether two clients acted on it".into()
        }));
    }
    check = check.details(details);
    if let Some(r) = &outcome.unknown_reason {
        check = check.unknown(r);
    }
    Some((outcome, check))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixture::B;
    use crate::history::Process;
    use crate::resource_log::{Access, AccessOp};
    use crate::window::WindowSpec;

    /// `n` sequential critical sections (acquire, read, write, release) and the resource's log of
    /// them, in milliseconds.
    fn sections(n: u64) -> (History, ResourceLog) {
        const MS: u64 = 1_000_000;
        let mut b = B::default();
        let mut accesses = Vec::new();
        for i in 0..n {
            let t = i * 10 * MS;
            let c = (i % 3) as u32;
            b.acquire(t, t + MS, c, i + 1)
                .access(t + 2 * MS, t + 3 * MS, c, i + 1, F::Read)
                .access(t + 4 * MS, t + 5 * MS, c, i + 1, F::Write)
                .release(t + 6 * MS, t + 7 * MS, c, i + 1, Value::Released);
            for (k, op) in [AccessOp::Read, AccessOp::Write].into_iter().enumerate() {
                accesses.push(Access {
                    seq: 2 * i + k as u64 + 1,
                    process: Process::Client(c),
                    op,
                    fence: Some(i + 1),
                    accepted: true,
                    value: if op == AccessOp::Write {
                        i as i64 + 1
                    } else {
                        i as i64
                    },
                    highest_before: i,
                    server_time_us: 0,
                });
            }
        }
        let log = ResourceLog {
            fenced: false,
            accesses,
            final_value: Some(n as i64),
        };
        (b.history(), log)
    }

    /// Requests admitted or rejected, one every 200 ms (never more than 5 in a second).
    fn requests(admitted: u64, rejected: u64) -> History {
        let mut b = B::default();
        for i in 0..admitted + rejected {
            let t = i * 200_000_000;
            b.push(t, 0, OpKind::Invoke, F::Request, Value::None);
            b.push(
                t + 1_000,
                0,
                OpKind::Ok,
                F::Request,
                Value::Admitted(i < admitted),
            );
        }
        b.history()
    }

    fn verdict(c: &RunChecks, id: &str) -> Validity {
        c.verdict(id).unwrap_or_else(|| panic!("no {id} check"))
    }

    #[test]
    fn every_checker_says_unknown_with_no_or_too_little_evidence() {
        let lock = CheckOptions {
            lock: Some(LockOptions {
                release_by_del: true,
            }),
            resource: true,
            counter: true,
            ..Default::default()
        };
        // (sections, the verdict each lock/resource check must give)
        for (n, want) in [
            (0, Validity::Unknown),
            (10, Validity::Unknown),
            (60, Validity::Valid),
        ] {
            let (h, log) = sections(n);
            let c = check_with(&h, Some(&log), lock.clone());
            for id in [
                "mutual_exclusion",
                "double_grant",
                "foreign_release",
                "fencing",
                "lost_updates",
            ] {
                assert_eq!(verdict(&c, id), want, "{id} with {n} sections");
            }
            // No increment at all: the counter checker has nothing to judge.
            assert_eq!(
                verdict(&c, "counter"),
                Validity::Unknown,
                "counter with {n} sections"
            );
        }
        let window = |admitted, rejected| {
            let opts = CheckOptions {
                window: Some(WindowSpec {
                    limit: 10,
                    window_ns: 1_000_000_000,
                    aligned: false,
                }),
                ..Default::default()
            };
            verdict(
                &check_with(&requests(admitted, rejected), None, opts),
                "rate_window",
            )
        };
        // A limiter that rejects everything, or one never pushed past its limit, proves nothing.
        assert_eq!(window(0, 0), Validity::Unknown);
        assert_eq!(
            window(0, 200),
            Validity::Unknown,
            "a limiter that rejects everything"
        );
        assert_eq!(
            window(10, 0),
            Validity::Unknown,
            "never pushed, never rejecting"
        );
        assert_eq!(
            window(11, 0),
            Validity::Unknown,
            "admitted past the limit but rejected nothing"
        );
        assert_eq!(window(50, 50), Validity::Valid);
        // Faults the scenario names but that never took effect.
        let faults = CheckOptions {
            faults: vec![("gc-pause".into(), 1)],
            ..Default::default()
        };
        let (h, _) = sections(60);
        assert_eq!(
            verdict(&check_with(&h, None, faults), "faults"),
            Validity::Unknown
        );
    }
}
