//! The runner: one scenario, end to end.
//!
//! Start the nodes; connect the clients; run the clients and the nemeses on the seeded schedule
//! while the recorder journals every op; stop (at the end of the duration, or on SIGINT/SIGTERM);
//! heal; save the resource's log; stop the nodes; judge the saved run. Every random choice is
//! drawn from one ChaCha8 RNG seeded with the run's seed, in a fixed order, so `--seed N`
//! replays the schedule (real processes still decide the exact interleaving).

use crate::analysis;
use crate::cluster::node::Persistence;
use crate::duration::Dur;
use crate::external::ExternalTopology;
use crate::interrupt::Interrupt;
use crate::nemesis::{self, FaultIds, NemesisContext};
use crate::recorder::Recorder;
use crate::run_result::RunResult;
use crate::scenario::{LockKind, PersistenceMode, Scenario};
use crate::store::{self, RunMeta};
use crate::topology::{Topology, TopologySpec};
use anyhow::Context;
use checkers::History;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use redis::aio::MultiplexedConnection;
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::watch;
use workloads::clock::Clock;
use workloads::critical_section::{Client, WorkloadConfig};
use workloads::lock::redlock::{Redlock, RedlockConfig};
use workloads::lock::{naive::NaiveLock, single::SingleLock, LeaseConfig, LockClient};
use workloads::pause::PauseGate;
use workloads::record::Record;
use workloads::resource::{self, ResourceClient};

#[derive(Debug, Clone)]
pub struct RunOptions {
    pub seed: Option<u64>,
    pub results_dir: PathBuf,
    /// Overrides the scenario's duration (short runs in tests).
    pub duration: Option<Dur>,
    /// Overrides the scenario's lock kind.
    pub lock: Option<LockKind>,
    /// The live status line: `Some(true)` always, `Some(false)` never (the suite draws its own
    /// progress bar), `None` when stderr is a terminal.
    pub status: Option<bool>,
    /// Run against the nodes and Toxiproxy this topology file names instead of starting any.
    pub topology: Option<PathBuf>,
}

/// Runs a scenario file and returns its judged result.
pub async fn run(scenario_path: &Path, opts: &RunOptions) -> anyhow::Result<RunResult> {
    run_named(&scenario_path.display().to_string(), scenario_path, opts).await
}

/// Runs a scenario; `name` is how the user named it (for the reproduce command).
pub async fn run_named(
    name: &str,
    scenario_path: &Path,
    opts: &RunOptions,
) -> anyhow::Result<RunResult> {
    let mut scenario = Scenario::load(scenario_path)?;
    let external = match &opts.topology {
        Some(file) => Some((ExternalTopology::load(file)?, file.clone())),
        None => {
            crate::cluster::node::redis_server_path()?;
            None
        }
    };
    // From here on a signal is an orderly stop, whatever the run is doing.
    let interrupt = Interrupt::install().context("cannot install the SIGINT/SIGTERM handlers")?;
    crate::cluster::reap_stale_folders();
    if let Some(d) = opts.duration {
        scenario.run.duration = d;
    }
    if let Some(l) = opts.lock {
        scenario.lock.kind = l;
    }
    if let Some((t, file)) = &external {
        // Refused before anything starts: never a silently skipped fault.
        t.supports(&scenario, file)?;
    }
    let seed = opts.seed.unwrap_or(scenario.run.seed);
    let mut rng = ChaCha8Rng::seed_from_u64(seed);

    let (run_id, run_dir) = store::create_run_dir(&opts.results_dir, &scenario.name, seed)?;
    let mut reproduce = format!("cargo run --release -- scenario {name} --seed {seed}");
    if let Some(d) = opts.duration {
        reproduce.push_str(&format!(" --duration {d}"));
    }
    if let Some(l) = opts.lock {
        reproduce.push_str(&format!(" --lock {}", l.name()));
    }
    if let Some(t) = &opts.topology {
        reproduce.push_str(&format!(" --topology {}", t.display()));
    }
    let meta = RunMeta {
        scenario: scenario.name.clone(),
        scenario_file: scenario_path.display().to_string(),
        seed,
        run_id: run_id.clone(),
        started_unix_s: store::unix_now_s(),
        fencepost_version: env!("CARGO_PKG_VERSION").to_string(),
        reproduce,
    };
    store::write_json(&run_dir.join(store::RUN_META), &meta)?;
    // The effective scenario (after overrides), so a re-check judges what actually ran.
    std::fs::write(
        run_dir.join(store::SCENARIO),
        toml::to_string_pretty(&scenario)?,
    )?;

    eprintln!(
        "fencepost: scenario {} · seed {seed} · run {}",
        scenario.name,
        run_dir.display()
    );
    let interrupted = execute(
        &scenario,
        &mut rng,
        &run_dir,
        &run_id,
        opts.status,
        &interrupt,
        external.as_ref(),
    )
    .await?;

    let result = analysis::analyse(&run_dir, Some(interrupted))?;
    analysis::write_results(&run_dir, &result)?;
    // Charts, index.html and results/index.html (report/); a failure there only warns.
    crate::report::render_after_run(&run_dir, &result, &opts.results_dir);
    store::update_latest(&opts.results_dir, &run_dir)
        .with_context(|| format!("cannot update {}/latest", opts.results_dir.display()))?;
    Ok(result)
}

/// Everything with processes in it; returns whether the run was interrupted.
async fn execute(
    scenario: &Scenario,
    rng: &mut ChaCha8Rng,
    run_dir: &Path,
    run_id: &str,
    status: Option<bool>,
    interrupt: &Interrupt,
    external: Option<&(ExternalTopology, PathBuf)>,
) -> anyhow::Result<bool> {
    let spec = TopologySpec {
        lock_nodes: scenario.lock.nodes,
        clients: scenario.run.clients,
        persistence: match scenario.lock.persistence {
            PersistenceMode::None => Persistence::None,
            PersistenceMode::AofEverysec => Persistence::AofEverySec,
            PersistenceMode::AofAlways => Persistence::AofAlways,
        },
    };
    let topology_seed: u64 = rng.random();
    let topology = Arc::new(match external {
        Some((t, file)) => crate::external::start(t, file, scenario, run_id).await?,
        None => Topology::start(&spec, run_id, topology_seed).await?,
    });
    let outcome = drive(scenario, rng, run_dir, &topology, status, interrupt).await;
    topology.stop().await;
    outcome
}

/// Clients and nemeses on a started topology.
async fn drive(
    scenario: &Scenario,
    rng: &mut ChaCha8Rng,
    run_dir: &Path,
    topology: &Arc<Topology>,
    status: Option<bool>,
    interrupt: &Interrupt,
) -> anyhow::Result<bool> {
    crate::workload::start_replication(scenario, topology).await?;
    store::write_json(&run_dir.join(store::NODES), &topology.describe())?;

    let clock = Clock::new();
    let recorder = Arc::new(Recorder::create(
        &run_dir.join(store::HISTORY),
        clock.clone(),
    )?);
    let rec: Arc<dyn Record> = recorder.clone();

    let lease = LeaseConfig {
        name: "guard".into(),
        ttl_ms: scenario.lock.ttl.ms(),
        drift_ms: scenario.lock.drift.ms(),
        op_timeout_ms: scenario.lock.op_timeout.ms(),
    };
    let workload = WorkloadConfig {
        think_ms_max: scenario.workload.think_max.ms(),
        retry_ms_min: scenario.workload.retry_min.ms(),
        retry_ms_max: scenario.workload.retry_max.ms(),
        idle_ms_max: scenario.workload.idle_max.ms(),
    };

    // Seeds are drawn in a fixed order: clients first, then nemeses.
    let mut clients = Vec::new();
    let mut gates = Vec::new();
    let mut client_clocks = Vec::new();
    // Counter and limiter workloads build their own clients (workload.rs); the lock workload's
    // are built here.
    let lock_links = if crate::workload::is_lock(scenario) {
        &topology.clients[..]
    } else {
        &[]
    };
    for (id, links) in (0..).zip(lock_links) {
        let client_seed: u64 = rng.random();
        let lock_conn = client_conn(&links.lock[0], scenario).await?;
        let lock_rng = ChaCha8Rng::seed_from_u64(client_seed ^ 0x5eed_10c4);
        let single = SingleLock::new(lease.clone(), lock_conn.clone(), lock_rng);
        let lock = match scenario.lock.kind {
            LockKind::Single => LockClient::Single(single),
            LockKind::Naive => LockClient::Naive(NaiveLock::new(single, lock_conn)),
            LockKind::Redlock => {
                // Every lock node, each through this client's own proxy link.
                let mut nodes = vec![lock_conn];
                for url in &links.lock[1..] {
                    nodes.push(client_conn(url, scenario).await?);
                }
                let defaults = RedlockConfig::default();
                let redlock = RedlockConfig {
                    drift_factor: scenario.lock.drift_factor.unwrap_or(defaults.drift_factor),
                    node_timeout_ms: scenario
                        .lock
                        .node_timeout
                        .map_or(defaults.node_timeout_ms, |d| d.ms()),
                };
                let rng = ChaCha8Rng::seed_from_u64(client_seed ^ 0x5eed_10c4);
                LockClient::Redlock(
                    Redlock::new(lease.clone(), redlock, nodes, rng)
                        .reconnecting(links.lock.clone()),
                )
            }
        };
        let resource = ResourceClient::new(
            client_conn(&links.resource, scenario).await?,
            scenario.resource.fenced,
            id,
            scenario.lock.op_timeout.0,
        );
        let gate = Arc::new(PauseGate::default());
        gates.push(gate.clone());
        // Same origin as the history's clock; its own skew, so a clock nemesis can bend one
        // client's clock alone.
        let client_clock = clock.independent();
        client_clocks.push(client_clock.clone());
        clients.push(Client {
            id,
            lock,
            resource,
            clock: client_clock,
            rec: rec.clone(),
            gate,
            rng: ChaCha8Rng::seed_from_u64(client_seed),
            config: workload.clone(),
        });
    }

    let mut other_clients = crate::workload::prepare(scenario, topology, rng, &rec, &clock).await?;
    gates.extend(other_clients.gates.iter().cloned());

    let ctx = NemesisContext {
        rec: rec.clone(),
        ids: Arc::new(FaultIds::default()),
        gates,
        topology: topology.clone(),
        clocks: client_clocks,
    };
    let (stop_tx, stop_rx) = watch::channel(false);
    let mut tasks = Vec::new();
    for spec in &scenario.nemesis {
        tasks.push(nemesis::spawn(
            spec,
            ctx.clone(),
            ChaCha8Rng::seed_from_u64(rng.random()),
            stop_rx.clone(),
        ));
    }
    tasks.extend(other_clients.spawn(&stop_rx));
    for c in clients {
        tasks.push(tokio::spawn(c.run(stop_rx.clone())));
    }

    let duration = scenario.run.duration.0;
    let show_status = status.unwrap_or_else(|| std::io::stderr().is_terminal());
    let interrupted = wait_for_end(duration, &recorder, show_status, &mut interrupt.clone()).await;
    let _ = stop_tx.send(true);

    // Let clients finish their critical section and nemeses heal; anything still in flight
    // after the grace period stays open in the history (an open op means `info`).
    let grace = scenario.lock.op_timeout.0 * 4 + longest_fault(scenario) + Duration::from_secs(2);
    let deadline = tokio::time::Instant::now() + grace;
    for t in tasks {
        if tokio::time::timeout_at(deadline, t).await.is_err() {
            eprintln!(
                "fencepost: a client or nemesis did not stop within {} ms; its last op stays open",
                grace.as_millis()
            );
        }
    }
    if show_status {
        eprintln!();
    }

    other_clients
        .finish(scenario, topology, rec.as_ref())
        .await
        .context("the counter's final read")?;
    let mut admin = connect(&topology.resource_admin_url).await?;
    let log = resource::read_log(&mut admin, scenario.resource.fenced)
        .await
        .map_err(|e| anyhow::anyhow!("cannot read the resource's access log: {e}"))?;
    store::write_json(&run_dir.join(store::RESOURCE), &log)?;
    let syncer = recorder.syncer();
    tokio::task::spawn_blocking(move || syncer.sync())
        .await
        .context("the journal's fsync panicked")??;
    if let Some(e) = recorder.take_error() {
        anyhow::bail!("the history journal could not be written: {e}");
    }
    Ok(interrupted)
}

fn longest_fault(scenario: &Scenario) -> Duration {
    scenario
        .nemesis
        .iter()
        .map(|n| n.longest().0)
        .max()
        .unwrap_or_default()
}

/// A client's reconnecting connection through its proxy link.
async fn client_conn(url: &str, scenario: &Scenario) -> anyhow::Result<workloads::conn::Conn> {
    workloads::conn::connect(url, scenario.lock.op_timeout.0)
        .await
        .map_err(|e| anyhow::anyhow!("cannot connect a client to {}: {e}", redact(url)))
}

/// Connects as the node's client user (or admin), within a deadline.
async fn connect(url: &str) -> anyhow::Result<MultiplexedConnection> {
    let client = redis::Client::open(url).context("bad redis URL")?;
    tokio::time::timeout(
        Duration::from_secs(5),
        client.get_multiplexed_async_connection(),
    )
    .await
    .map_err(|_| anyhow::anyhow!("connecting to {} timed out", redact(url)))?
    .with_context(|| format!("cannot connect to {}", redact(url)))
}

fn redact(url: &str) -> String {
    match (url.find("://"), url.find('@')) {
        (Some(a), Some(b)) => format!("{}://…@{}", &url[..a], &url[b + 1..]),
        _ => url.to_string(),
    }
}

/// Sleeps for the run's duration, drawing the status line and checkpointing the journal;
/// returns true when SIGINT or SIGTERM cut it short.
async fn wait_for_end(
    duration: Duration,
    recorder: &Recorder,
    show_status: bool,
    interrupt: &mut Interrupt,
) -> bool {
    let started = Instant::now();
    let end = tokio::time::Instant::now() + duration;
    let mut tick = tokio::time::interval(Duration::from_millis(500));
    let mut last_violation_check = Instant::now();
    let mut violations = 0usize;
    // The status line's violation count: the check runs on a blocking thread over a copy that
    // grows by the ops recorded since the last count (a 20 s failover history takes ~40 ms to
    // check: on the runtime, that would be a pause the harness caused).
    let mut live: Option<History> = Some(History::new(Vec::new()));
    let mut counting: Option<tokio::task::JoinHandle<(History, usize)>> = None;
    // one fsync at a time, on a blocking thread: a slow disk never holds up the clients
    let mut syncing: Option<tokio::task::JoinHandle<()>> = None;
    loop {
        tokio::select! {
            _ = tokio::time::sleep_until(end) => return false,
            signal = interrupt.wait() => {
                eprintln!("\nfencepost: interrupted ({signal}); stopping clients, healing faults, saving the history");
                return true;
            }
            _ = tick.tick() => {
                if syncing.as_ref().is_none_or(|s| s.is_finished()) {
                    let syncer = recorder.syncer();
                    syncing = Some(tokio::task::spawn_blocking(move || {
                        let _ = syncer.sync();
                    }));
                }
                if show_status {
                    if let Some(done) = counting.take_if(|c| c.is_finished()) {
                        if let Ok((history, n)) = done.await {
                            live = Some(history);
                            violations = n;
                        }
                    }
                    if last_violation_check.elapsed() >= Duration::from_secs(1) {
                        if let Some(mut history) = live.take() {
                            history.ops.extend(recorder.ops_since(history.ops.len()));
                            counting = Some(tokio::task::spawn_blocking(move || {
                                let n = checkers::exclusion::check(&history).overlaps.len();
                                (history, n)
                            }));
                            last_violation_check = Instant::now();
                        }
                    }
                    let elapsed = started.elapsed().as_secs_f64();
                    let ops = recorder.stats.ops.load(Ordering::Relaxed);
                    eprint!(
                        "\r[{elapsed:5.1}s/{:.0}s] ops {ops} ({:.0}/s) · grants {} · violations {violations}   ",
                        duration.as_secs_f64(),
                        ops as f64 / elapsed.max(0.001),
                        recorder.stats.grants.load(Ordering::Relaxed),
                    );
                }
            }
        }
    }
}
