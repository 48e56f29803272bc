//! Messaging workloads' clients: producers (the first `producers` clients) and receivers (the
//! rest) — Pub/Sub subscribers, or the consumers of one Streams consumer group.
//!
//! Every receiver is ready before any producer starts: subscribers have subscribed, the consumer
//! group exists. So a fault-free run has nothing to lose, and whatever is lost is the faults'.

use super::{Build, Clients};
use crate::scenario::workload::WorkloadKind;
use std::time::Duration;
use workloads::messaging::consumer::{create_group, Consumer};
use workloads::messaging::producer::Producer;
use workloads::messaging::subscriber::Subscriber;
use workloads::messaging::{MessagingConfig, Transport, GROUP};

/// How long subscribers read after the stop, unless the scenario says.
const DRAIN: Duration = Duration::from_secs(1);
/// Streams: pending entries older than this are claimed, unless the scenario says.
const CLAIM_IDLE: Duration = Duration::from_millis(1000);
/// Streams: a crashed consumer is back after this, unless the scenario says.
const RESTART_DELAY: Duration = Duration::from_millis(500);

/// The settings every messaging client of the scenario shares.
pub fn config(b: &Build<'_>) -> MessagingConfig {
    let s = b.scenario;
    let w = &s.workload;
    let claim_idle = w.claim_idle.map_or(CLAIM_IDLE, |d| d.0);
    let stream = w.kind == WorkloadKind::Stream;
    // A Streams entry handed to a consumer that never acknowledged it is not lost: it waits to be
    // claimed, which can happen once it has been idle claim_idle, by a claim that runs every
    // claim_idle / 2. Consumers read on long enough for that to happen to the last one.
    let drain = if stream {
        (claim_idle * 2).max(DRAIN)
    } else {
        DRAIN
    };
    MessagingConfig {
        transport: if stream {
            Transport::Stream
        } else {
            Transport::PubSub
        },
        think_ms_max: w.think_max.ms(),
        op_timeout: s.lock.op_timeout.0,
        drain: w.drain.map_or(drain, |d| d.0),
        claim_idle,
        restart_delay: w.restart_delay.map_or(RESTART_DELAY, |d| d.0),
        clients: s.run.clients,
        payload_bytes: w.payload_bytes.unwrap_or(0) as usize,
    }
}

pub async fn build(b: &Build<'_>) -> anyhow::Result<Clients> {
    let mut out = Clients::default();
    let s = b.scenario;
    let config = config(b);
    let Some(producers) = s.workload.producers else {
        anyhow::bail!("a messaging workload needs [workload] producers (refused at load)");
    };
    let timeout = config.op_timeout;
    if let Some(limit) = &s.workload.pubsub_buffer_limit {
        set_pubsub_limit(b, limit).await?;
    }
    if config.transport == Transport::Stream {
        let mut admin = b.topology.primary_for(0, timeout).await?;
        create_group(&mut admin, timeout)
            .await
            .map_err(|e| anyhow::anyhow!("cannot create the consumer group {GROUP}: {e}"))?;
    }
    for id in 0..s.run.clients {
        let (mut handle, _clock) = b.handle();
        if id < producers {
            let p = Producer {
                id,
                primary: b.topology.primary_for(id, timeout).await?,
                rec: b.rec.clone(),
                rng: b.rng(id, "workload"),
                config: config.clone(),
            };
            out.add(handle, Box::new(move |stop| tokio::spawn(p.run(stop))));
            continue;
        }
        match config.transport {
            Transport::PubSub => {
                let url = &b.topology.clients[id as usize].lock[0];
                let sub = Subscriber::connect(id, url, b.rec.clone(), config.clone())
                    .await
                    .map_err(|e| anyhow::anyhow!("cannot subscribe client {id}: {e}"))?;
                out.add(handle, Box::new(move |stop| tokio::spawn(sub.run(stop))));
            }
            Transport::Stream => {
                handle.crash_point = true;
                let c = Consumer::new(
                    id,
                    b.topology.primary_for(id, timeout).await?,
                    b.rec.clone(),
                    handle.gate.clone(),
                    config.clone(),
                );
                out.add(handle, Box::new(move |stop| tokio::spawn(c.run(stop))));
            }
        }
    }
    if config.transport == Transport::Stream {
        out.finish = Some(super::Finish::StreamReplay);
    }
    Ok(out)
}

/// After the run: the whole stream, read back from the primary (directly, not through a proxy
/// link), as one more process.
pub async fn replay(b: &Build<'_>) -> anyhow::Result<()> {
    let url = b.topology.primary_admin_url().await?;
    let client = redis::Client::open(url.as_str())?;
    let mut conn = tokio::time::timeout(
        Duration::from_secs(5),
        client.get_multiplexed_async_connection(),
    )
    .await
    .map_err(|_| anyhow::anyhow!("connecting for the stream's replay timed out"))??;
    let process = checkers::Process::Client(b.scenario.run.clients);
    workloads::messaging::consumer::replay(&mut conn, b.rec.as_ref(), process)
        .await
        .map_err(|e| anyhow::anyhow!("reading the stream back after the run: {e}"))?;
    Ok(())
}

/// `CONFIG SET client-output-buffer-limit "pubsub LIMIT 0 0"` on n1 (hard limit only), before any
/// subscriber connects; read back to be sure it took.
async fn set_pubsub_limit(b: &Build<'_>, limit: &str) -> anyhow::Result<()> {
    let bytes = crate::scenario::workload::parse_size(limit)
        .ok_or_else(|| anyhow::anyhow!("pubsub_buffer_limit {limit} is not a size"))?;
    let url = b.topology.admin_url("n1").ok_or_else(|| {
        anyhow::anyhow!("pubsub_buffer_limit needs node n1, which fencepost starts")
    })?;
    let mut admin = redis::Client::open(url)?
        .get_multiplexed_async_connection()
        .await?;
    let value = format!("pubsub {bytes} 0 0");
    let _: () = redis::cmd("CONFIG")
        .arg("SET")
        .arg("client-output-buffer-limit")
        .arg(&value)
        .query_async(&mut admin)
        .await?;
    let now: Vec<String> = redis::cmd("CONFIG")
        .arg("GET")
        .arg("client-output-buffer-limit")
        .query_async(&mut admin)
        .await?;
    anyhow::ensure!(
        now.get(1).is_some_and(|v| v.contains(&value)),
        "n1 did not take client-output-buffer-limit {value}: it says {now:?}"
    );
    Ok(())
}
