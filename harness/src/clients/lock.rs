//! The lock workload's clients: fencepost's own locks (`single`, `naive`, `redlock`), each
//! client contending for the lock and incrementing the protected resource under it.

use super::{Build, Clients};
use crate::scenario::lock::LockKind;
use crate::topology::connect;
use workloads::critical_section::Client;
use workloads::lock::redlock::{Redlock, RedlockConfig};
use workloads::lock::{naive::NaiveLock, single::SingleLock, LockClient};
use workloads::resource::ResourceClient;

pub async fn build(b: &Build<'_>) -> anyhow::Result<Clients> {
    let mut out = Clients::default();
    let s = b.scenario;
    let timeout = s.lock.op_timeout.0;
    for (id, links) in (0..).zip(&b.topology.clients) {
        let lock = lock_client(b, id, &links.lock).await?;
        let resource = ResourceClient::new(
            connect(&links.resource, timeout).await?,
            s.resource.fenced,
            id,
            timeout,
        );
        let (handle, clock) = b.handle();
        let client = Client {
            id,
            lock,
            resource,
            clock,
            rec: b.rec.clone(),
            gate: handle.gate.clone(),
            rng: b.rng(id, "workload"),
            config: b.pacing(&handle),
        };
        out.add(handle, Box::new(move |stop| tokio::spawn(client.run(stop))));
    }
    Ok(out)
}

/// Client `id`'s lock over its links to the lock nodes.
async fn lock_client(b: &Build<'_>, id: u32, urls: &[String]) -> anyhow::Result<LockClient> {
    let s = b.scenario;
    let timeout = s.lock.op_timeout.0;
    let conn = b.topology.lock_conn(id, timeout).await?;
    let rng = b.rng(id, "lock");
    Ok(match s.lock.kind {
        LockKind::Single => LockClient::Single(SingleLock::new(b.lease(), conn, rng)),
        LockKind::Naive => LockClient::Naive(NaiveLock::new(
            SingleLock::new(b.lease(), conn.clone(), rng),
            conn,
        )),
        LockKind::Redlock => {
            // Every lock node, each through this client's own proxy link.
            let mut nodes = vec![conn];
            for url in &urls[1..] {
                nodes.push(connect(url, timeout).await?);
            }
            let defaults = RedlockConfig::default();
            let config = RedlockConfig {
                drift_factor: s.lock.drift_factor.unwrap_or(defaults.drift_factor),
                node_timeout_ms: s
                    .lock
                    .node_timeout
                    .map_or(defaults.node_timeout_ms, |d| d.ms()),
            };
            LockClient::Redlock(
                Redlock::new(b.lease(), config, nodes, rng).reconnecting(urls.to_vec()),
            )
        }
        LockKind::Client => {
            anyhow::bail!(
                "[lock] kind = \"client\" runs client processes ([client]), not in-process locks"
            )
        }
    })
}

/// Shared with the read-modify-write counter, which takes the same locks.
pub fn make_single_or_naive(b: &Build<'_>) -> workloads::counter::MakeLock {
    let lease = b.lease();
    let naive = b.scenario.lock.kind == LockKind::Naive;
    Box::new(move |conn, rng| {
        let single = SingleLock::new(lease.clone(), conn.clone(), rng);
        if naive {
            LockClient::Naive(NaiveLock::new(single, conn))
        } else {
            LockClient::Single(single)
        }
    })
}
