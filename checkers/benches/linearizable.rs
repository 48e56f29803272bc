//! Linearizability checker benchmarks: the lock histories Porcupine cannot decide, and Jepsen
//! etcd-style register histories.
//!
//!     cargo bench -p checkers --bench linearizable
//!     cargo bench -p checkers --bench linearizable -- 'lock/100k'    # one row
//!
//! Histories come from the seeded simulations in `checkers::linearizable::generate` (a correct
//! lock with retrying clients, ~200 µs one-way, hold 0–1 ms, retry after 0–0.6 ms; the bad
//! variant flips one denied acquire halfway through to granted while another client surely
//! holds the lock). Each bench first asserts the verdict, so a fast wrong answer cannot pass.
//! Whole-process figures (parse + check, max RSS) are in BENCHMARKS.md, measured with
//! `/usr/bin/time -v target/release/fencepost check --model lock FILE` on files written by
//! `cargo run --release -p checkers --example lin_gen -- /tmp/fencepost-lin`.

use checkers::linearizable::generate::{to_jsonl, LockSim, RegisterSim};
use checkers::linearizable::{check_history, check_text, Budget, Linearizability};
use checkers::model::ModelKind;
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};
use std::hint::black_box;
use std::time::Duration;

fn lock(c: &mut Criterion) {
    let mut group = c.benchmark_group("lock");
    group.sample_size(10);
    group.warm_up_time(Duration::from_millis(500));
    group.measurement_time(Duration::from_secs(2));
    for (calls, label) in [(1_000, "1k"), (10_000, "10k"), (100_000, "100k")] {
        for clients in [5, 20, 100] {
            for bad in [false, true] {
                let history = LockSim::new(calls, clients, 42, bad).history();
                let expected = if bad {
                    Linearizability::Illegal
                } else {
                    Linearizability::Ok
                };
                let check = || check_history(ModelKind::Lock, &history, &Budget::default());
                assert_eq!(check().unwrap().verdict, expected);
                let id = BenchmarkId::new(
                    format!("{label}/{clients}"),
                    if bad { "bad" } else { "good" },
                );
                group.bench_function(id, |b| b.iter(|| black_box(check().unwrap())));
            }
        }
    }
    group.finish();
}

/// Reading the text is most of a whole `fencepost check`: the same history, parse included.
fn lock_from_text(c: &mut Criterion) {
    let mut group = c.benchmark_group("lock-text");
    group.sample_size(10);
    for bad in [false, true] {
        let text = to_jsonl(&LockSim::new(100_000, 100, 42, bad).history());
        let check = || check_text(ModelKind::Lock, "h.jsonl", &text, &Budget::default());
        assert_eq!(check().unwrap().exit_code(), if bad { 1 } else { 0 });
        group.bench_function(
            BenchmarkId::new("100k/100", if bad { "bad" } else { "good" }),
            |b| b.iter(|| black_box(check().unwrap())),
        );
    }
    group.finish();
}

fn register_etcd(c: &mut Criterion) {
    let mut group = c.benchmark_group("register-etcd");
    for seed in 0..5 {
        let history = RegisterSim::etcd(seed).history();
        let check = || check_history(ModelKind::CasRegister, &history, &Budget::default());
        assert_eq!(check().unwrap().verdict, Linearizability::Ok);
        group.bench_function(BenchmarkId::new("cas-register", seed), |b| {
            b.iter(|| black_box(check().unwrap()))
        });
    }
    group.finish();
}

criterion_group!(benches, lock, lock_from_text, register_etcd);
criterion_main!(benches);
