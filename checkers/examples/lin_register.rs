//! Times the checker on Jepsen etcd-style register histories (~80 calls, 4 processes in flight,
//! ~15 `info`): median, 90th percentile and worst over many seeds, in process.
//!
//!     cargo run --release -p checkers --example lin_register -- 1000

use checkers::linearizable::generate::RegisterSim;
use checkers::linearizable::{check_history, Budget, Linearizability};
use checkers::model::ModelKind;
use std::time::Instant;

fn main() {
    let seeds: u64 = std::env::args()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(1000);
    let mut times_us = Vec::new();
    let (mut ok, mut illegal, mut unknown, mut info) = (0, 0, 0, 0);
    for seed in 0..seeds {
        let h = RegisterSim::etcd(seed).history();
        info += h
            .ops
            .iter()
            .filter(|o| o.kind == checkers::OpKind::Info)
            .count();
        // Best of 5 runs: the checker's cost, not the allocator's warm-up.
        let mut best = f64::MAX;
        let mut verdict = Linearizability::Unknown;
        for _ in 0..5 {
            let t = Instant::now();
            let out = check_history(ModelKind::CasRegister, &h, &Budget::default()).unwrap();
            best = best.min(t.elapsed().as_secs_f64() * 1e6);
            verdict = out.verdict;
        }
        match verdict {
            Linearizability::Ok => ok += 1,
            Linearizability::Illegal => illegal += 1,
            Linearizability::Unknown => unknown += 1,
        }
        times_us.push(best);
    }
    times_us.sort_by(f64::total_cmp);
    let at = |q: f64| times_us[((times_us.len() - 1) as f64 * q) as usize];
    println!(
        "{seeds} etcd-style cas-register histories ({:.1} info ops each): median {:.0} µs, p90 {:.0} µs, p99 {:.0} µs, max {:.0} µs; {ok} ok, {illegal} illegal, {unknown} unknown",
        info as f64 / seeds as f64,
        at(0.5),
        at(0.9),
        at(0.99),
        at(1.0)
    );
}
