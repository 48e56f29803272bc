//! The fault proxy's cost against a direct connection to redis-server (issue 4's targets:
//! throughput ≥ 70 % of direct with 50 connections, added median latency ≤ 50 µs).
//!
//! Run: `cargo bench -p fencepost --bench proxy`. Needs `redis-server` on PATH (or
//! `FENCEPOST_REDIS_SERVER`); starts its own on a free 127.0.0.1 port and kills it after.

fn main() -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let report = runtime.block_on(fencepost::proxy::bench::bench_proxy(
        fencepost::proxy::bench::BenchConfig::default(),
    ))?;
    println!("{report}");
    Ok(())
}
