//! The fault proxy's cost against a direct connection to redis-server (issue 4's targets:
//! throughput ≥ 70 % of direct with 50 connections, added median latency ≤ 50 µs).
//!
//! Run: `cargo bench -p fencepost --bench proxy`. Needs `redis-server` on PATH (or
//! `FENCEPOST_REDIS_SERVER`); starts its own on a free 127.0.0.1 port and kills it after.

fn main() -> anyhow::Result<()> {
    let runtime = if std::env::var("FENCEPOST_BENCH_RUNTIME").as_deref() == Ok("current") {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?
    } else {
        tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()?
    };
    let mut config = fencepost::bench::BenchConfig::default();
    if let Some(secs) = env_number("FENCEPOST_BENCH_SECS") {
        config.load_duration = std::time::Duration::from_secs(secs);
    }
    if let Some(rounds) = env_number("FENCEPOST_BENCH_ROUNDS") {
        config.rounds = rounds as usize;
    }
    config.redis_port = env_number("FENCEPOST_BENCH_REDIS_PORT").map(|p| p as u16);
    // FENCEPOST_BENCH_OTHERS="haproxy=127.0.0.1:7001,socat=127.0.0.1:7002": proxies of other
    // makes, started by hand in front of FENCEPOST_BENCH_REDIS_PORT, measured alike
    if let Ok(others) = std::env::var("FENCEPOST_BENCH_OTHERS") {
        for other in others.split(',').filter(|o| !o.is_empty()) {
            let (name, addr) = other.split_once('=').ok_or_else(|| {
                anyhow::anyhow!("FENCEPOST_BENCH_OTHERS: expected NAME=HOST:PORT, got {other:?}")
            })?;
            config.others.push((name.to_owned(), addr.parse()?));
        }
    }
    let report = runtime.block_on(fencepost::bench::bench_proxy(config))?;
    println!("{report}");
    Ok(())
}

fn env_number(name: &str) -> Option<u64> {
    std::env::var(name).ok()?.parse().ok()
}
