//! Writes the linearizability benchmark's histories to a folder (default /tmp/fencepost-lin):
//! `lock-{N}-{C}-{good|bad}.jsonl` for N ∈ {1k, 10k, 100k} × C ∈ {5, 20, 100}, the same as EDN,
//! `lock-info-{N}-{C}-{good|bad}.jsonl` with 10% of calls timed out (and, with 1m,
//! `lock-info5-1m-{C}-{good|bad}.jsonl` with 5%), and
//! `register-etcd-{seed}.jsonl`; with `FENCEPOST_LIN_GOING=2,10,20` (info percents) also
//! `lock-going{P}-{N}-{C}-{good|bad}.jsonl` for N ≥ 10k: clients that go on after a lost reply,
//! release blindly and think long ([`LockSim::going_on`]). `FENCEPOST_LIN_KINDS=going` (a
//! comma list of plain, info, going, register) writes only those kinds.
//!
//!     cargo run --release -p checkers --example lin_gen -- /tmp/fencepost-lin
//!
//! `FENCEPOST_LIN_SIZES=1k` (a comma list of 1k, 10k, 100k, 1m; 1m only when named) and `FENCEPOST_LIN_CLIENTS=5` (of 5,
//! 20, 100) write only those (the bench scripts' own test runs the table that small).

use checkers::linearizable::generate::{to_edn, to_jsonl, LockSim, RegisterSim};
use std::path::PathBuf;

fn main() -> std::io::Result<()> {
    let dir = PathBuf::from(
        std::env::args()
            .nth(1)
            .unwrap_or_else(|| "/tmp/fencepost-lin".into()),
    );
    std::fs::create_dir_all(&dir)?;
    let chosen = |var: &str, label: &str| {
        std::env::var(var).map_or(true, |list| list.split(',').any(|x| x.trim() == label))
    };
    // 1m (173 MB of EDN per file) only when asked for by name.
    let sizes = [
        (1_000, "1k"),
        (10_000, "10k"),
        (100_000, "100k"),
        (1_000_000, "1m"),
    ]
    .into_iter()
    .filter(|(_, label)| {
        chosen("FENCEPOST_LIN_SIZES", label)
            && (*label != "1m" || std::env::var("FENCEPOST_LIN_SIZES").is_ok())
    });
    let clients = || {
        [5u32, 20, 100]
            .into_iter()
            .filter(|c| chosen("FENCEPOST_LIN_CLIENTS", &c.to_string()))
    };
    // FENCEPOST_LIN_KINDS (a comma list of plain, info, going, register; default all).
    let kind = |k: &str| chosen("FENCEPOST_LIN_KINDS", k);
    for (n, label) in sizes.clone().filter(|_| kind("plain")) {
        for c in clients() {
            for bad in [false, true] {
                let h = LockSim::new(n, c, 42, bad).history();
                let name = format!("lock-{label}-{c}-{}", if bad { "bad" } else { "good" });
                std::fs::write(dir.join(format!("{name}.jsonl")), to_jsonl(&h))?;
                std::fs::write(dir.join(format!("{name}.edn")), to_edn(&h))?;
            }
        }
    }
    // Under faults: 10% of calls time out (`info`).
    for (n, label) in sizes.clone().filter(|&(n, _)| n >= 10_000 && kind("info")) {
        for c in clients() {
            for bad in [false, true] {
                let mut sim = LockSim::new(n, c, 42, bad);
                sim.info_percent = 10;
                let name = format!("lock-info-{label}-{c}-{}", if bad { "bad" } else { "good" });
                std::fs::write(dir.join(format!("{name}.jsonl")), to_jsonl(&sim.history()))?;
            }
        }
    }
    // 1M ops with 5 % of calls timed out, when 1m is asked for.
    if kind("info")
        && std::env::var("FENCEPOST_LIN_SIZES")
            .is_ok_and(|l| l.split(',').any(|x| x.trim() == "1m"))
    {
        for c in clients() {
            for bad in [false, true] {
                let mut sim = LockSim::new(1_000_000, c, 42, bad);
                sim.info_percent = 5;
                let name = format!("lock-info5-1m-{c}-{}", if bad { "bad" } else { "good" });
                std::fs::write(dir.join(format!("{name}.jsonl")), to_jsonl(&sim.history()))?;
            }
        }
    }
    // Clients that go on after a lost reply (issue 29's shapes), at each asked info percent.
    let going = std::env::var("FENCEPOST_LIN_GOING")
        .ok()
        .filter(|_| kind("going"))
        .unwrap_or_default();
    for percent in going
        .split(',')
        .filter_map(|p| p.trim().parse::<u64>().ok())
    {
        for (n, label) in sizes.clone().filter(|&(n, _)| n >= 10_000) {
            for c in clients() {
                for bad in [false, true] {
                    let sim = LockSim::going_on(n, c, 42, bad, percent);
                    let name = format!(
                        "lock-going{percent}-{label}-{c}-{}",
                        if bad { "bad" } else { "good" }
                    );
                    std::fs::write(dir.join(format!("{name}.jsonl")), to_jsonl(&sim.history()))?;
                }
            }
        }
    }
    for seed in (0..5).filter(|_| kind("register")) {
        let h = RegisterSim::etcd(seed).history();
        std::fs::write(
            dir.join(format!("register-etcd-{seed}.jsonl")),
            to_jsonl(&h),
        )?;
        std::fs::write(dir.join(format!("register-etcd-{seed}.edn")), to_edn(&h))?;
    }
    println!("wrote histories to {}", dir.display());
    Ok(())
}
