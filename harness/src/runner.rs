//! The runner: one scenario, end to end.
//!
//! Start the nodes; connect the clients; run the clients and the nemeses on the seeded schedule
//! while the recorder journals every op; stop (at the end of the duration, or on SIGINT/SIGTERM);
//! heal; save the resource's log; stop the nodes; judge the saved run. Every random choice is
//! drawn from an RNG seeded by the run's seed and the name of the part that draws it
//! ([`crate::seed`]), so `--seed N` replays the schedule (real processes still decide the exact
//! interleaving).

use crate::clients;
use crate::interrupt::Interrupt;
use crate::judge;
use crate::judge::RunResult;
use crate::nemesis::{FaultIds, NemesisContext};
use crate::nodes::node::Persistence;
use crate::nodes::sentinel::SentinelSettings;
use crate::recorder::Recorder;
use crate::scenario::{Overrides, Scenario};
use crate::store::{self, RunMeta};
use crate::topology::redact;
use crate::topology::remote::RemoteTopology;
use crate::topology::{self, Setup, Spec as TopologySpec, Topology};
use anyhow::Context;
use redis::aio::MultiplexedConnection;
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::watch;
use workloads::clock::Clock;
use workloads::record::Record;
use workloads::resource;

#[derive(Debug, Clone, Default)]
pub struct RunOptions {
    pub seed: Option<u64>,
    pub results_dir: PathBuf,
    /// Settings that replace the scenario file's (applied before validation).
    pub overrides: Overrides,
    /// Where the client adapters live (`adapters/`).
    pub adapters_dir: PathBuf,
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
    let scenario = Scenario::load_with(scenario_path, &opts.overrides)?;
    let (remote, server) = match &opts.topology {
        Some(file) => {
            if let Some(ask) = &scenario.server {
                anyhow::bail!(
                    "{}: [server] {} (or --server) chooses the server of the nodes fencepost starts; with --topology {} the nodes are yours: drop it",
                    scenario_path.display(),
                    ask.label(),
                    file.display()
                );
            }
            (Some((RemoteTopology::load(file)?, file.clone())), None)
        }
        // Obtained (once, into the cache) and checked before anything starts.
        None => (
            None,
            Some(Arc::new(crate::servers::resolve(
                scenario.server.as_ref(),
                &crate::clients::process::adapter::cache_dir(),
            )?)),
        ),
    };
    // From here on a signal is an orderly stop, whatever the run is doing.
    let interrupt = Interrupt::install().context("cannot install the SIGINT/SIGTERM handlers")?;
    crate::nodes::reap_stale_folders();
    // A client library is installed (once) before any node starts.
    let plan = clients::process::plan(&scenario, scenario_path, &opts.adapters_dir)?;
    let spec = topology_spec(&scenario, plan.is_some(), server.clone());
    if let Some((t, file)) = &remote {
        // Refused before anything starts: never a silently skipped fault.
        t.supports(&spec, file)?;
    }
    let seed = opts.seed.unwrap_or(scenario.run.seed);

    let (run_id, run_dir) = store::create_run_dir(&opts.results_dir, &scenario.name, seed)?;
    let reproduce = reproduce_command(name, seed, opts);
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
    if let Some(s) = &server {
        store::write_json(&run_dir.join(store::SERVER), s.as_ref())?;
        eprintln!(
            "fencepost: nodes run {} ({}, sha256 {})",
            s.label(),
            s.source,
            &s.sha256[..s.sha256.len().min(12)]
        );
    }
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
    let run = Run {
        scenario: &scenario,
        spec: &spec,
        plan: plan.as_ref(),
        seed,
        run_dir: &run_dir,
        run_id: &run_id,
        status: opts.status,
        interrupt: &interrupt,
    };
    let interrupted = execute(&run, remote.as_ref()).await?;

    let result = judge::analyse(&run_dir, Some(interrupted))?;
    judge::write_results(&run_dir, &result)?;
    // Charts, index.html and results/index.html (report/); a failure there only warns.
    crate::report::render_after_run(&run_dir, &result, &opts.results_dir);
    store::update_latest(&opts.results_dir, &run_dir)
        .with_context(|| format!("cannot update {}/latest", opts.results_dir.display()))?;
    Ok(result)
}

/// The command that replays this run: every flag that changes what runs or where it goes.
pub fn reproduce_command(name: &str, seed: u64, opts: &RunOptions) -> String {
    let word = |p: &Path| shell_words::quote(&p.display().to_string()).into_owned();
    let mut s = format!(
        "cargo run --release -- scenario {} --seed {seed}{}",
        shell_words::quote(name),
        opts.overrides.flags()
    );
    if opts.adapters_dir != Path::new("adapters") {
        s.push_str(&format!(" --adapters {}", word(&opts.adapters_dir)));
    }
    if let Some(t) = &opts.topology {
        s.push_str(&format!(" --topology {}", word(t)));
    }
    if opts.results_dir != Path::new("results") {
        s.push_str(&format!(" --results {}", word(&opts.results_dir)));
    }
    s
}

/// The set-up a scenario needs, as the topology reads it.
pub fn topology_spec(
    scenario: &Scenario,
    client_processes: bool,
    server: Option<Arc<crate::servers::Server>>,
) -> TopologySpec {
    TopologySpec {
        scenario: scenario.name.clone(),
        lock_nodes: scenario.lock.nodes,
        clients: scenario.run.clients,
        persistence: Persistence::from(scenario.lock.persistence),
        library_user: client_processes,
        redis_cluster: scenario
            .cluster
            .as_ref()
            .map(|c| (c.spec(), clients::workload_key(scenario.workload.kind))),
        sentinel: scenario.sentinel.as_ref().map(|s| SentinelSettings {
            sentinels: s.sentinels,
            down_after_ms: s.down_after.ms(),
            failover_timeout_ms: s.failover_timeout.ms(),
        }),
        faults: scenario
            .nemesis
            .iter()
            .map(|n| (n.kind(), n.plugin().needs()))
            .collect(),
        client_processes: scenario.client.is_some(),
        workload: (
            scenario.workload.kind.name(),
            scenario.workload.kind.runs_remote(),
        ),
        server,
    }
}

/// One run, as its parts see it.
struct Run<'a> {
    scenario: &'a Scenario,
    spec: &'a TopologySpec,
    /// The client process adapter, when the scenario runs one.
    plan: Option<&'a clients::process::Plan>,
    seed: u64,
    run_dir: &'a Path,
    run_id: &'a str,
    status: Option<bool>,
    interrupt: &'a Interrupt,
}

/// Everything with processes in it; returns whether the run was interrupted.
async fn execute(
    run: &Run<'_>,
    remote: Option<&(RemoteTopology, PathBuf)>,
) -> anyhow::Result<bool> {
    let Run {
        spec, seed, run_id, ..
    } = *run;
    let topology = Arc::new(
        topology::build(
            spec,
            remote.map(|(t, file)| (t, file.as_path())),
            run_id,
            crate::seed::derive(seed, "topology"),
        )
        .await?,
    );
    let outcome = drive(run, &topology).await;
    topology.stop().await;
    outcome
}

/// Clients and nemeses on a started topology.
async fn drive(run: &Run<'_>, topology: &Arc<Topology>) -> anyhow::Result<bool> {
    let Run {
        scenario,
        plan,
        seed,
        run_dir,
        status,
        interrupt,
        ..
    } = *run;
    store::write_json(&run_dir.join(store::NODES), &topology.describe())?;

    let clock = Clock::new();
    let recorder = Arc::new(Recorder::create(
        &run_dir.join(store::HISTORY),
        clock.clone(),
    )?);
    let rec: Arc<dyn Record> = recorder.clone();
    let build = clients::Build {
        scenario,
        topology,
        run_seed: seed,
        rec: &rec,
        recorder: &recorder,
        clock: &clock,
        run_dir,
        external: plan,
    };
    let mut clients = clients::build(&build).await?;
    if let Some(info) = &clients.info {
        store::write_json(&run_dir.join(store::CLIENT), info)?;
    }
    let taps = start_taps(scenario, plan, topology, &clients, run_dir, &recorder).await?;

    let ctx = NemesisContext {
        // each nemesis's own kind is set as it is spawned
        kind: "nemesis",
        rec: rec.clone(),
        ids: Arc::new(FaultIds::default()),
        clients: clients.handles.clone(),
        topology: topology.clone(),
    };
    let (stop_tx, stop_rx) = watch::channel(false);
    let mut tasks = Vec::new();
    for (i, spec) in scenario.nemesis.iter().enumerate() {
        let rng = crate::seed::rng(seed, &format!("nemesis/{i}/{}", spec.kind()));
        tasks.push(spec.spawn(ctx.clone(), rng, stop_rx.clone()));
    }
    tasks.extend(clients.spawn(&stop_rx));

    let duration = scenario.run.duration.0;
    let show_status = status.unwrap_or_else(|| std::io::stderr().is_terminal());
    let interrupted = wait_for_end(duration, &recorder, show_status, &mut interrupt.clone()).await;
    let _ = stop_tx.send(true);

    // Let clients finish their critical section and nemeses heal; anything still in flight
    // after the grace period stays open in the history (an open op means `info`).
    let grace = scenario.lock.op_timeout.0 * 4 + scenario.longest_fault() + Duration::from_secs(2);
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

    if let Some(t) = taps {
        t.stop().await;
    }
    clients
        .finish(&build)
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

/// Taps on the lock nodes' replication streams, for the blame checker: lock workloads on nodes
/// fencepost started (not behind Sentinel, whose replicas the taps would pose as).
async fn start_taps(
    scenario: &Scenario,
    plan: Option<&clients::process::Plan>,
    topology: &Arc<Topology>,
    clients: &clients::Clients,
    run_dir: &Path,
    recorder: &Arc<Recorder>,
) -> anyhow::Result<Option<crate::nodes::tap::Taps>> {
    use crate::scenario::workload::WorkloadKind;
    if scenario.workload.kind != WorkloadKind::Lock || !matches!(topology.setup, Setup::Local) {
        return Ok(None);
    }
    let (keys, markers) = match &clients.info {
        Some(info) => (info.lock_keys.clone(), info.lock_markers.clone()),
        None => (vec![clients::workload_key(WorkloadKind::Lock)], Vec::new()),
    };
    let one = match plan {
        Some(p) => p.nodes == clients::process::adapter::NodesKind::One,
        None => scenario.lock.kind != crate::scenario::lock::LockKind::Redlock,
    };
    let nodes: Vec<String> = if one {
        topology.lock_nodes.iter().take(1).cloned().collect()
    } else {
        topology.lock_nodes.clone()
    };
    store::write_json(
        &run_dir.join(store::TAPS),
        &store::TapsMeta {
            nodes: nodes.clone(),
            keys: keys.clone(),
            markers: markers.clone(),
        },
    )?;
    let journal = Arc::new(crate::nodes::tap::Journal::create(
        &run_dir.join(store::NODE_EVENTS),
        recorder.clone(),
    )?);
    let topo = topology.clone();
    Ok(Some(
        crate::nodes::tap::Taps::start(
            &nodes,
            move |n| topo.admin_url(n),
            crate::nodes::tap::Watched { keys, markers },
            journal,
        )
        .await,
    ))
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
                    let elapsed = started.elapsed().as_secs_f64();
                    let ops = recorder.stats.ops.load(Ordering::Relaxed);
                    eprint!(
                        "\r[{elapsed:5.1}s/{:.0}s] ops {ops} ({:.0}/s) · grants {} · violations {}   ",
                        duration.as_secs_f64(),
                        ops as f64 / elapsed.max(0.001),
                        recorder.stats.grants.load(Ordering::Relaxed),
                        recorder.stats.violations.load(Ordering::Relaxed),
                    );
                }
            }
        }
    }
}
