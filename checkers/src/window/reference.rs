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
    let from_ns = set.iter().map(|r| r.0).min().unwrap_or(0);
    let to_ns = set.iter().map(|r| r.1).max().unwrap_or(0);
    OverAdmission {
        from_ns,
        to_ns,
        admitted: set.len() as u64,
        requests: set.iter().map(|r| r.2).collect(),
        faults: FaultWindow::faults_during(windows, from_ns, to_ns),
    }
}

#[cfg(test)]
mod tests {
    use super::WindowSpec;
    use crate::history::{Fault, History, Op, OpKind, Process, Value, F};

    /// Random limiter traffic: clients requesting (admitted, rejected, failed, timed out, or
    /// left open at the end), some calls slow, a nemesis fault now and then; coarse times so
    /// that many ops share an instant.
    fn random_requests(seed: u64) -> History {
        let mut x = seed.wrapping_mul(6364136223846793005) | 1;
        let mut next = |n: u64| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x % n
        };
        let mut ops: Vec<Op> = Vec::new();
        let mut push = |t: u64, process: Process, kind: OpKind, value: Value, f: F| {
            ops.push(Op {
                index: ops.len() as u64,
                time_ns: t,
                process,
                kind,
                f,
                value,
            })
        };
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
                    let fault = Fault {
                        kind: "partition".into(),
                        target: "n1".into(),
                        id: next(3),
                        detail: String::new(),
                    };
                    let f = if next(2) == 0 { F::Start } else { F::Stop };
                    push(t, Process::Nemesis, OpKind::Info, Value::Fault(fault), f);
                }
                push(t, p, OpKind::Invoke, Value::None, F::Request);
                if t + took >= horizon && next(2) == 0 {
                    break; // left open
                }
                let (kind, value) = match next(10) {
                    0 => (OpKind::Fail, Value::Error("e".into())),
                    1 => (OpKind::Info, Value::Error("timeout".into())),
                    2..=4 => (OpKind::Ok, Value::Admitted(false)),
                    _ => (OpKind::Ok, Value::Admitted(true)),
                };
                push(t + took, p, kind, value, F::Request);
                t += took + next(4);
            }
        }
        ops.sort_by_key(|o| (o.time_ns, o.index));
        for (i, o) in ops.iter_mut().enumerate() {
            o.index = i as u64;
        }
        let h = History::new(ops);
        h.validate().expect("a valid random history");
        h
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
