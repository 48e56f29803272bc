//! The counter checker as first written, over a whole history (sorting every observation and
//! prefix-summing every add): the reference the streaming fold is compared with (tests only).

use super::{CounterAnomaly, CounterAnomalyKind, CounterReport};
use crate::history::{Call, FaultWindow, History, Nanos, OpKind, Value, F};

fn delta_of(c: &Call) -> i64 {
    match c.invoke.value {
        Value::Int(d) => d.max(0),
        _ => 1,
    }
}

/// Sum of `deltas` whose time satisfies `before(t)`, over a list sorted by time.
struct Prefix {
    times: Vec<Nanos>,
    sums: Vec<i64>,
}

impl Prefix {
    fn new(mut items: Vec<(Nanos, i64)>) -> Prefix {
        items.sort_by_key(|&(t, _)| t);
        let mut sums = Vec::with_capacity(items.len() + 1);
        sums.push(0);
        for &(_, d) in &items {
            sums.push(sums.last().copied().unwrap_or(0) + d);
        }
        Prefix {
            times: items.into_iter().map(|(t, _)| t).collect(),
            sums,
        }
    }
    /// Sum over items with time < t.
    fn strictly_before(&self, t: Nanos) -> i64 {
        self.sums[self.times.partition_point(|&x| x < t)]
    }
    /// Sum over items with time ≤ t.
    fn up_to(&self, t: Nanos) -> i64 {
        self.sums[self.times.partition_point(|&x| x <= t)]
    }
}

/// The checker as it was written over a whole history.
pub fn check(history: &History) -> CounterReport {
    let calls = history.calls();
    let end = history.ops.last().map_or(0, |o| o.time_ns);
    let mut report = CounterReport::default();
    let mut acked = Vec::new();
    let mut possible = Vec::new();
    for c in calls.iter().filter(|c| c.f == F::Add) {
        let d = delta_of(c);
        match c.outcome() {
            OpKind::Ok => {
                report.adds_ok += 1;
                report.acknowledged += d;
                acked.push((c.complete_ns().unwrap_or(end), d));
                possible.push((c.invoke_ns(), d));
            }
            OpKind::Fail => report.adds_failed += 1,
            _ => {
                report.adds_indeterminate += 1;
                possible.push((c.invoke_ns(), d));
            }
        }
    }
    report.attempted = possible.iter().map(|&(_, d)| d).sum();
    let acked = Prefix::new(acked);
    let possible = Prefix::new(possible);
    let windows = history.fault_windows();

    // Observations in order of completion, so "the last consistent one before" is well defined.
    let mut observations: Vec<(&Call, i64, Nanos)> = calls
        .iter()
        .filter(|c| matches!(c.f, F::Read | F::Final | F::Add) && c.outcome() == OpKind::Ok)
        .filter_map(|c| match c.result() {
            Some(Value::Int(v)) => Some((c, *v, c.complete_ns().unwrap_or(end))),
            _ => None,
        })
        .collect();
    observations.sort_by_key(|&(c, _, done)| (done, c.invoke.index));

    let mut last_consistent_invoke: Nanos = 0;
    let mut last_consistent_done: Nanos = 0;
    for (c, value, done) in observations {
        report.observations += 1;
        if c.f == F::Final {
            report.final_value = Some(value);
        }
        let own = if c.f == F::Add { delta_of(c) } else { 0 };
        let mut lower = acked.strictly_before(c.invoke_ns());
        if c.f == F::Add {
            lower += own;
        }
        let upper = possible.up_to(done);
        let (kind, count) = if value < lower {
            (CounterAnomalyKind::Lost, (lower - value) as u64)
        } else if value > upper {
            (CounterAnomalyKind::Duplicated, (value - upper) as u64)
        } else {
            if done >= last_consistent_done {
                last_consistent_done = done;
                last_consistent_invoke = c.invoke_ns();
            }
            continue;
        };
        match kind {
            CounterAnomalyKind::Lost => report.lost = report.lost.max(count),
            CounterAnomalyKind::Duplicated => report.duplicated = report.duplicated.max(count),
        }
        report.anomalies.push(CounterAnomaly {
            kind,
            index: c.invoke.index,
            process: c.process,
            f: c.f,
            invoke_ns: c.invoke_ns(),
            complete_ns: done,
            value,
            lower,
            upper,
            count,
            since_ns: last_consistent_invoke,
            faults: FaultWindow::faults_during(&windows, last_consistent_invoke, done),
        });
    }
    report
}

#[cfg(test)]
mod tests {
    use crate::fixture::{Rng, B};
    use crate::history::{History, OpKind, Process, Value, F};

    /// Random counter traffic: clients adding (acknowledged with or without the value, failed,
    /// timed out, or left open at the end), reading and reading a final value, values around
    /// the true count so that some are out of bounds (a third: one client, every value exact);
    /// a nemesis fault now and then. Times are coarse so that many ops share an instant.
    fn random_counter_history(seed: u64) -> History {
        let mut rng = Rng::new(seed);
        let mut next = |n: u64| rng.below(n);
        let mut b = B::default();
        let mut count = 0i64;
        // A third of the histories are one honest client (every value the true count).
        let honest = seed.is_multiple_of(3);
        let noise = |r: u64, spread: u64| if honest { 0 } else { r as i64 - spread as i64 };
        let clients = if honest { 1 } else { 1 + next(5) as u32 };
        let horizon = 60 + next(100);
        for c in 0..clients {
            let p = Process::Client(c);
            let mut t = next(5);
            while t < horizon {
                let took = 1 + next(12);
                match next(8) {
                    0..=3 => {
                        let delta = 1 + next(3) as i64;
                        b.push_by(t, p, OpKind::Invoke, F::Add, Value::Int(delta));
                        if t + took >= horizon && next(2) == 0 {
                            break; // left open
                        }
                        let (kind, value) = match next(6) {
                            0 => (OpKind::Fail, Value::Error("e".into())),
                            1 => {
                                if next(2) == 0 {
                                    count += delta;
                                }
                                (OpKind::Info, Value::Error("timeout".into()))
                            }
                            2 => {
                                count += delta;
                                (OpKind::Ok, Value::None)
                            }
                            _ => {
                                count += delta;
                                (OpKind::Ok, Value::Int(count + noise(next(5), 2)))
                            }
                        };
                        b.push_by(t + took, p, kind, F::Add, value);
                    }
                    4..=6 => {
                        let f = if next(5) == 0 { F::Final } else { F::Read };
                        b.push_by(t, p, OpKind::Invoke, f, Value::None);
                        let v = count + noise(next(7), 3);
                        b.push_by(t + took, p, OpKind::Ok, f, Value::Int(v));
                    }
                    _ => {
                        let (id, start) = (next(3), next(2) == 0);
                        b.fault(t, if start { F::Start } else { F::Stop }, "kill", id);
                    }
                }
                t += took + next(3);
            }
        }
        b.history()
    }

    #[test]
    fn the_streaming_checker_equals_the_whole_history_one() {
        let (mut lost, mut duplicated, mut clean) = (0, 0, 0);
        for seed in 0..500 {
            let h = random_counter_history(seed);
            let mut want = super::check(&h);
            want.anomalies_total = want.anomalies.len() as u64;
            let got = crate::counter::check(&h);
            assert_eq!(got, want, "seed {seed}");
            lost += u64::from(want.lost > 0);
            duplicated += u64::from(want.duplicated > 0);
            clean += u64::from(!want.violated() && want.observations > 0);
            // Kept to the first few, the rest only counted.
            let mut few = crate::counter::Counter::new(2);
            h.ops.iter().for_each(|op| few.push(op));
            let few = few.finish(&h.fault_windows());
            assert_eq!(
                few.anomalies[..],
                want.anomalies[..want.anomalies.len().min(2)]
            );
            assert_eq!(
                (few.anomalies_total, few.lost),
                (want.anomalies_total, want.lost)
            );
        }
        // The comparison covered every outcome.
        assert!(
            lost > 20 && duplicated > 20 && clean > 20,
            "{lost} {duplicated} {clean}"
        );
    }
}
