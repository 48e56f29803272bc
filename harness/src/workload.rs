//! Counter and rate-limiter workloads in a run: their clients on the topology, and the final read.
//!
//! The lock workload's clients are built by the runner; the other kinds are built here, from the
//! same seeded RNG (one draw per client, in client order), so `--seed N` replays them too. Each
//! client reaches its node through its own proxy link (`c{client}-n1`), or — with Sentinel —
//! through its links to whichever data node Sentinel names as primary.

use crate::cluster::sentinel;
use crate::scenario::{Scenario, WorkloadKind};
use crate::topology::Topology;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::sync::Arc;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use workloads::clock::Clock;
use workloads::counter::{CounterConfig, IncrClient, RmwClient, WaitReplicas, INCR_KEY, RMW_KEY};
use workloads::critical_section::WorkloadConfig;
use workloads::limiter::{LimiterClient, LimiterConfig, LimiterKind};
use workloads::lock::{naive::NaiveLock, single::SingleLock, LeaseConfig, LockClient};
use workloads::pause::PauseGate;
use workloads::primary::{Primary, SentinelTarget};
use workloads::record::Record;

type Start = Box<dyn FnOnce(watch::Receiver<bool>) -> JoinHandle<()> + Send>;

/// Clients built but not yet started, their pause gates, and where the final read goes.
#[derive(Default)]
pub struct Prepared {
    starts: Vec<Start>,
    pub gates: Vec<Arc<PauseGate>>,
    /// The counter's key, when the workload counts.
    final_key: Option<&'static str>,
}

/// Whether the runner builds the clients itself (the lock workload).
pub fn is_lock(scenario: &Scenario) -> bool {
    scenario.workload.kind == WorkloadKind::Lock
}

/// Builds the clients of a counter or limiter workload (none for the lock workload).
pub async fn prepare(
    scenario: &Scenario,
    topology: &Arc<Topology>,
    rng: &mut ChaCha8Rng,
    rec: &Arc<dyn Record>,
    clock: &Clock,
) -> anyhow::Result<Prepared> {
    let mut out = Prepared::default();
    let kind = scenario.workload.kind;
    if kind == WorkloadKind::Lock {
        return Ok(out);
    }
    let timeout = scenario.lock.op_timeout.0;
    let w = &scenario.workload;
    for id in 0..scenario.run.clients {
        let client_seed: u64 = rng.random();
        let client_rng = ChaCha8Rng::seed_from_u64(client_seed);
        let node = primary_for(topology, id, timeout).await?;
        let gate = Arc::new(PauseGate::default());
        out.gates.push(gate.clone());
        let rec = rec.clone();
        match kind {
            WorkloadKind::Lock => unreachable!("handled above"),
            WorkloadKind::Counter => {
                let c = IncrClient {
                    id,
                    primary: node,
                    rec,
                    rng: client_rng,
                    config: CounterConfig {
                        think_ms_max: w.think_max.ms(),
                        read_one_in: w.read_one_in,
                        op_timeout: timeout,
                    },
                };
                out.starts
                    .push(Box::new(move |stop| tokio::spawn(c.run(stop))));
                out.final_key = Some(INCR_KEY);
            }
            WorkloadKind::RmwCounter => {
                let lease = LeaseConfig {
                    name: "guard".into(),
                    ttl_ms: scenario.lock.ttl.ms(),
                    drift_ms: scenario.lock.drift.ms(),
                    op_timeout_ms: timeout.as_millis() as u64,
                };
                let lock_kind = scenario.lock.kind;
                let make_lock: workloads::counter::MakeLock = Box::new(move |conn, rng| {
                    let single = SingleLock::new(lease.clone(), conn.clone(), rng);
                    match lock_kind {
                        crate::scenario::LockKind::Naive => {
                            LockClient::Naive(NaiveLock::new(single, conn))
                        }
                        _ => LockClient::Single(single),
                    }
                });
                let storage_url = &topology.clients[id as usize].resource;
                let storage = workloads::conn::connect(storage_url, timeout)
                    .await
                    .map_err(|e| anyhow::anyhow!("cannot connect client {id} to storage: {e}"))?;
                let wait = w.wait_replicas.map(|replicas| WaitReplicas {
                    replicas,
                    timeout_ms: w.wait_timeout.map_or(100, |d| d.ms()),
                });
                let c = RmwClient::new(
                    id,
                    node,
                    make_lock,
                    storage,
                    clock.clone(),
                    rec,
                    gate,
                    client_rng,
                    WorkloadConfig {
                        think_ms_max: w.think_max.ms(),
                        retry_ms_min: w.retry_min.ms(),
                        retry_ms_max: w.retry_max.ms(),
                        idle_ms_max: w.idle_max.ms(),
                    },
                    timeout,
                    wait,
                );
                out.starts
                    .push(Box::new(move |stop| tokio::spawn(c.run(stop))));
                out.final_key = Some(RMW_KEY);
            }
            WorkloadKind::FixedWindow | WorkloadKind::SlidingWindow => {
                let config = LimiterConfig {
                    kind: if kind == WorkloadKind::FixedWindow {
                        LimiterKind::FixedWindow
                    } else {
                        LimiterKind::SlidingWindow
                    },
                    limit: w.limit.unwrap_or(1),
                    window: w.window.map_or(std::time::Duration::from_secs(1), |d| d.0),
                    think_ms_max: w.think_max.ms(),
                    op_timeout: timeout,
                };
                let c = LimiterClient::new(id, node, clock.clone(), rec, client_rng, config);
                out.starts
                    .push(Box::new(move |stop| tokio::spawn(c.run(stop))));
            }
        }
    }
    Ok(out)
}

impl Prepared {
    /// Starts every client.
    pub fn spawn(&mut self, stop: &watch::Receiver<bool>) -> Vec<JoinHandle<()>> {
        self.starts.drain(..).map(|s| s(stop.clone())).collect()
    }

    /// After the clients stopped: the counter's final read, as one more process.
    pub async fn finish(
        &self,
        scenario: &Scenario,
        topology: &Topology,
        rec: &dyn Record,
    ) -> anyhow::Result<()> {
        let Some(key) = self.final_key else {
            return Ok(());
        };
        let url = if key == RMW_KEY {
            topology.resource_admin_url.clone()
        } else {
            primary_admin_url(topology).await?
        };
        let client = redis::Client::open(url.as_str())?;
        let mut conn = tokio::time::timeout(
            std::time::Duration::from_secs(5),
            client.get_multiplexed_async_connection(),
        )
        .await
        .map_err(|_| anyhow::anyhow!("connecting for the final read timed out"))??;
        let process = checkers::Process::Client(scenario.run.clients);
        workloads::counter::final_read(&mut conn, key, rec, process).await;
        Ok(())
    }
}

/// Starts the replica and the Sentinels when the scenario asks for them.
pub async fn start_replication(scenario: &Scenario, topology: &Topology) -> anyhow::Result<()> {
    let Some(s) = &scenario.sentinel else {
        return Ok(());
    };
    let settings = sentinel::SentinelSettings {
        sentinels: s.sentinels,
        down_after_ms: s.down_after.ms(),
        failover_timeout_ms: s.failover_timeout.ms(),
    };
    sentinel::start(topology, settings)
        .await
        .map(|_| ())
        .map_err(|e| anyhow::anyhow!("cannot start the replica and Sentinels: {e:#}"))
}

/// Client `id`'s way to the node it writes to: its link to `n1`, or, with Sentinel, its links
/// to whichever data node Sentinel names.
async fn primary_for(
    topology: &Topology,
    id: u32,
    timeout: std::time::Duration,
) -> anyhow::Result<Primary> {
    let replication = topology.cluster().replication.clone();
    if let Some(r) = replication {
        let target = SentinelTarget {
            sentinels: r.sentinel_urls.clone(),
            master: sentinel::MASTER.into(),
            links: r.client_links[id as usize].clone(),
        };
        return Ok(Primary::via_sentinel(target, timeout));
    }
    let url = &topology.clients[id as usize].lock[0];
    Primary::fixed(url, timeout)
        .await
        .map_err(|e| anyhow::anyhow!("cannot connect client {id} to n1: {e}"))
}

/// The admin URL of the node holding the counter at the end of the run: `n1`, or the primary
/// Sentinel names.
async fn primary_admin_url(topology: &Topology) -> anyhow::Result<String> {
    let replication = topology.cluster().replication.clone();
    if let Some(r) = replication {
        let port = sentinel::master_port(&r.sentinel_urls).await?;
        return sentinel::Replication::admin_url(&topology.cluster(), port)
            .ok_or_else(|| anyhow::anyhow!("Sentinel names port {port}, no node of this run"));
    }
    let cluster = topology.cluster();
    let n1 = topology
        .lock_nodes
        .first()
        .map(String::as_str)
        .unwrap_or("n1");
    Ok(cluster
        .node(n1)
        .ok_or_else(|| anyhow::anyhow!("node {n1} is gone"))?
        .admin_url())
}
