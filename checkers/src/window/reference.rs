//! The rate-window checker as first written, over a whole history (sorting every admission):
//! the reference the streaming fold is compared with (tests only).

use super::{OverAdmission, WindowReport, WindowSpec, MAX_REPORTED};
use crate::history::{FaultWindow, History, Nanos, OpKind, Value, F};

/// The checker as it was written over a whole history.
pub fn check(history: &History, spec: WindowSpec) -> WindowReport {
    let mut report = WindowReport {
        limit: spec.limit,
        window_ns: spec.window_ns,
        aligned: spec.aligned,
        ..Default::default()
    };
    // (invoke, complete, invoke index) of every admitted request.
    let mut admitted: Vec<(Nanos, Nanos, u64)> = Vec::new();
    for c in history.calls().iter().filter(|c| c.f == F::Request) {
        report.requests += 1;
        match (c.outcome(), c.result()) {
            (OpKind::Ok, Some(Value::Admitted(true))) => {
                report.admitted += 1;
                admitted.push((c.invoke_ns(), c.complete_ns().unwrap_or(0), c.invoke.index));
            }
            (OpKind::Ok, _) => report.rejected += 1,
            (OpKind::Fail, _) => report.failed += 1,
            _ => report.indeterminate += 1,
        }
    }
    admitted.sort();
    let windows = history.fault_windows();
    if spec.aligned {
        return aligned(report, &admitted, spec, &windows);
    }
    // For each request as the earliest invocation, the requests invoked no earlier that completed
    // within W of it.
    let mut covered_until = 0usize;
    for i in 0..admitted.len() {
        let start = admitted[i].0;
        let set: Vec<&(Nanos, Nanos, u64)> = admitted[i..]
            .iter()
            .take_while(|r| r.0 < start + spec.window_ns)
            .filter(|r| r.1 < start + spec.window_ns)
            .collect();
        let n = set.len() as u64;
        report.max_in_window = report.max_in_window.max(n);
        if n <= spec.limit {
            continue;
        }
        report.over_admissions_total += 1;
        // Keep one witness per run of overlapping sets: the first, unless a later one is larger.
        if i < covered_until {
            if let Some(last) = report.over_admissions.last_mut() {
                if n > last.admitted {
                    *last = witness(&set, &windows);
                }
            }
            continue;
        }
        covered_until = i + set.len();
        if report.over_admissions.len() < MAX_REPORTED {
            report.over_admissions.push(witness(&set, &windows));
        }
    }
    report
}

/// Over-admission per aligned window: admitted calls wholly inside `[kW, (k+1)W)`.
fn aligned(
    mut report: WindowReport,
    admitted: &[(Nanos, Nanos, u64)],
    spec: WindowSpec,
    windows: &[FaultWindow],
) -> WindowReport {
    let w = spec.window_ns.max(1);
    let mut buckets: std::collections::BTreeMap<u64, Vec<&(Nanos, Nanos, u64)>> =
        Default::default();
    for r in admitted.iter().filter(|r| r.0 / w == r.1 / w) {
        buckets.entry(r.0 / w).or_default().push(r);
    }
    for set in buckets.values() {
        let n = set.len() as u64;
        report.max_in_window = report.max_in_window.max(n);
        if n > spec.limit {
            report.over_admissions_total += 1;
            if report.over_admissions.len() < MAX_REPORTED {
                report.over_admissions.push(witness(set, windows));
            }
        }
    }
    report
}

fn witness(set: &[&(Nanos, Nanos, u64)], windows: &[FaultWindow]) -> OverAdmission {
    let set: Vec<(Nanos, Nanos, u64)> = set.iter().map(|r| **r).collect();
    let mut w = super::witness(&set);
    w.faults = FaultWindow::faults_during(windows, w.from_ns, w.to_ns);
    w
}

#[cfg(test)]
mod tests {
    use super::WindowSpec;
    use crate::fixture::{Rng, B};
    use crate::history::{History, OpKind, Process, Value, F};

    /// Random limiter traffic: clients requesting (admitted, rejected, failed, timed out, or
    /// left open at the end), some calls slow, a nemesis fault now and then; coarse times so
    /// that many ops share an instant.
    fn random_requests(seed: u64) -> History {
        let mut rng = Rng::new(seed);
        let mut next = |n: u64| rng.below(n);
        let mut b = B::default();
        let clients = 1 + next(6) as u32;
        let horizon = 100 + next(300);
        for c in 0..clients {
            let p = Process::Client(c);
            let mut t = next(5);
            while t < horizon {
                let took = if next(8) == 0 {
                    20 + next(60)
                } else {
                    1 + next(6)
                };
                if next(10) == 0 {
                    let (id, start) = (next(3), next(2) == 0);
                    b.fault(t, if start { F::Start } else { F::Stop }, "partition", id);
                }
                b.push_by(t, p, OpKind::Invoke, F::Request, Value::None);
                if t + took >= horizon && next(2) == 0 {
                    break; // left open
                }
                let (kind, value) = match next(10) {
                    0 => (OpKind::Fail, Value::Error("e".into())),
                    1 => (OpKind::Info, Value::Error("timeout".into())),
                    2..=4 => (OpKind::Ok, Value::Admitted(false)),
                    _ => (OpKind::Ok, Value::Admitted(true)),
                };
                b.push_by(t + took, p, kind, F::Request, value);
                t += took + next(4);
            }
        }
        b.history()
    }

    #[test]
    fn the_streaming_checker_equals_the_whole_history_one() {
        let (mut violated, mut valid) = (0, 0);
        for seed in 0..600 {
            let h = random_requests(seed);
            for aligned in [false, true] {
                let spec = WindowSpec {
                    limit: 1 + seed % 6,
                    window_ns: 10 + seed % 40,
                    aligned,
                };
                let want = super::check(&h, spec);
                assert_eq!(
                    crate::window::check(&h, spec),
                    want,
                    "seed {seed}, {spec:?}"
                );
                if want.violated() {
                    violated += 1;
                } else if want.admitted > 0 {
                    valid += 1;
                }
            }
        }
        assert!(violated > 100 && valid > 100, "{violated} {valid}");
    }
}
