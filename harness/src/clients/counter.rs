//! Counter workloads' clients: `INCR` on the (primary) lock node, and the lock-guarded
//! read-modify-write counter on the storage node; and the final read after the run.
//!
//! Each client reaches its node through its own proxy link (`c{client}-n1`), or — with Sentinel
//! — through its links to whichever data node Sentinel names as primary.

use super::{lock::make_single_or_naive, Build, Clients};
use crate::scenario::workload::WorkloadKind;
use crate::topology::connect;
use workloads::counter::{CounterConfig, IncrClient, RmwClient, WaitReplicas, INCR_KEY, RMW_KEY};

pub async fn build(b: &Build<'_>) -> anyhow::Result<Clients> {
    let mut out = Clients::default();
    let s = b.scenario;
    let w = &s.workload;
    let timeout = s.lock.op_timeout.0;
    let rmw = w.kind == WorkloadKind::RmwCounter;
    for id in 0..s.run.clients {
        let node = b.topology.primary_for(id, timeout).await?;
        let (handle, clock) = b.handle();
        let rng = b.rng(id, "workload");
        let wait = w.wait_replicas.map(|replicas| WaitReplicas {
            replicas,
            timeout_ms: w.wait_timeout.map_or(100, |d| d.ms()),
        });
        if rmw {
            let storage = connect(&b.topology.clients[id as usize].resource, timeout).await?;
            let c = RmwClient::new(
                id,
                node,
                make_single_or_naive(b),
                storage,
                clock,
                b.rec.clone(),
                handle.gate.clone(),
                rng,
                b.pacing(&handle),
                timeout,
                wait,
            );
            out.add(handle, Box::new(move |stop| tokio::spawn(c.run(stop))));
        } else {
            let c = IncrClient {
                id,
                primary: node,
                rec: b.rec.clone(),
                rng,
                config: CounterConfig {
                    think_ms_max: w.think_max.ms(),
                    read_one_in: w.read_one_in,
                    op_timeout: timeout,
                },
                wait,
            };
            out.add(handle, Box::new(move |stop| tokio::spawn(c.run(stop))));
        }
    }
    out.finish = Some(super::Finish::Counter(FinalRead { rmw }));
    Ok(out)
}

/// The counter's final read, after every client stopped.
pub struct FinalRead {
    rmw: bool,
}

impl FinalRead {
    pub async fn run(&self, b: &Build<'_>) -> anyhow::Result<()> {
        let process = checkers::Process::Client(b.scenario.run.clients);
        if let (Some(map), false) = (b.topology.redis_cluster(), self.rmw) {
            // Read once the cluster has settled (every fault is healed by now).
            let settled = map
                .wait_healthy(
                    b.scenario.cluster.as_ref().map_or(1, |c| c.replicas),
                    std::time::Duration::from_secs(30),
                )
                .await;
            if let Err(e) = settled {
                eprintln!(
                    "fencepost: the cluster did not settle before the counter's final read: {e}"
                );
            }
            let admin = (0..map.names.len())
                .map(|i| map.admin_url(i))
                .collect::<Vec<_>>();
            let mut conn =
                workloads::conn::connect_cluster(&admin, std::time::Duration::from_secs(2))
                    .await
                    .map_err(|e| {
                        anyhow::anyhow!(
                            "cannot connect to the cluster for the counter's final read: {e}"
                        )
                    })?;
            workloads::counter::final_read(&mut conn, INCR_KEY, b.rec.as_ref(), process).await;
            return Ok(());
        }
        let (url, key) = if self.rmw {
            (b.topology.resource_admin_url.clone(), RMW_KEY)
        } else {
            (b.topology.primary_admin_url().await?, INCR_KEY)
        };
        let client = redis::Client::open(url.as_str())?;
        let mut conn = tokio::time::timeout(
            std::time::Duration::from_secs(5),
            client.get_multiplexed_async_connection(),
        )
        .await
        .map_err(|_| anyhow::anyhow!("connecting for the counter's final read timed out"))??;
        workloads::counter::final_read(&mut conn, key, b.rec.as_ref(), process).await;
        Ok(())
    }
}
