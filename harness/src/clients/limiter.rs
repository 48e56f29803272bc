//! Rate-limiter workloads' clients: fixed and sliding windows on the (primary) lock node.

use super::{Build, Clients};
use crate::scenario::workload::WorkloadKind;
use workloads::limiter::{LimiterClient, LimiterConfig, LimiterKind};

pub async fn build(b: &Build<'_>) -> anyhow::Result<Clients> {
    let mut out = Clients::default();
    let s = b.scenario;
    let w = &s.workload;
    let timeout = s.lock.op_timeout.0;
    let (Some(limit), Some(window)) = (w.limit, w.window) else {
        anyhow::bail!("a rate limiter needs [workload] limit and window (refused at load)");
    };
    for id in 0..s.run.clients {
        let node = b.topology.primary_for(id, timeout).await?;
        let (handle, clock) = b.handle();
        let config = LimiterConfig {
            kind: if w.kind == WorkloadKind::FixedWindow {
                LimiterKind::FixedWindow
            } else {
                LimiterKind::SlidingWindow
            },
            limit,
            window: window.0,
            think_ms_max: w.think_max.ms(),
            op_timeout: timeout,
        };
        let c = LimiterClient::new(
            id,
            node,
            clock,
            b.rec.clone(),
            b.rng(id, "workload"),
            config,
        );
        out.add(handle, Box::new(move |stop| tokio::spawn(c.run(stop))));
    }
    Ok(out)
}
