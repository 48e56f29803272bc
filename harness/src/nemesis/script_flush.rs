//! Script-flush nemesis: `SCRIPT FLUSH` on lock nodes, emptying their Lua script caches.
//!
//! Lock libraries run their compare-and-delete and compare-and-extend scripts by `EVALSHA` of a
//! SHA they cached, expecting the node to remember the script; a node that restarted, failed
//! over, or had its cache flushed by an operator answers `NOSCRIPT` (symfony#59686: a lock whose
//! release failed on `NOSCRIPT` after a flush). A correct library loads the script again and
//! goes on; another fails the call, or worse, takes the error for an answer. This flushes the
//! chosen nodes' caches (synchronously) at seeded moments: the fault is an instant, recorded
//! once every node answered the flush, with how many scripts each had cached.

use super::draw::Scale;
use super::driver::{positive, Schedule};
use super::nodes::NodeTarget;
use super::{Bounds, Invalid, Nemesis, NemesisContext};
use crate::duration::Dur;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};
use std::time::Duration;
use tokio::sync::watch;

/// How long one node may take to answer the flush.
const NODE_TIMEOUT: Duration = Duration::from_millis(500);

/// Empties lock nodes' Lua script caches (SCRIPT FLUSH): libraries that run cached scripts by EVALSHA get NOSCRIPT.
#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ScriptFlush {
    /// When the first injection fires, from the start of the run.
    pub start: Dur,
    /// The mean time between injections (each gap is drawn from 0.5×..1.5× of it, from the seed); leave out to flush once.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub every: Option<Dur>,
    /// Which lock nodes.
    pub target: NodeTarget,
}

impl Nemesis for ScriptFlush {
    fn draw(scale: &Scale, rng: &mut ChaCha8Rng) -> Option<Self> {
        use rand::Rng;
        Some(ScriptFlush {
            start: scale.start(rng),
            every: Some(super::draw::ms(rng.random_range(100..=1000))),
            target: scale.pick(rng, &[NodeTarget::One, NodeTarget::All]),
        })
    }

    fn schedule(&self) -> Schedule {
        match self.every {
            Some(every) => Schedule::recurring(self.start, every),
            None => Schedule::once(self.start),
        }
    }

    fn longest(&self) -> (Dur, &'static str) {
        // An instant; the allowance covers the nodes' answers.
        (Dur(NODE_TIMEOUT), "")
    }

    fn validate(&self, bounds: &Bounds) -> Result<(), Invalid> {
        if let Some(every) = self.every {
            positive("script-flush", "every", every)?;
        }
        self.target.validate_for("script-flush", bounds.lock_nodes)
    }

    async fn fire(
        &self,
        ctx: &NemesisContext,
        rng: &mut ChaCha8Rng,
        _stop: &mut watch::Receiver<bool>,
    ) {
        let nodes = self.target.pick(&ctx.topology.lock_nodes, rng);
        let fault = ctx.fault(
            nodes.join(","),
            format!("SCRIPT FLUSH SYNC ({})", self.target),
        );
        let mut flushed = Vec::new();
        for name in &nodes {
            let Some(url) = ctx.topology.admin_url(name) else {
                return ctx.failed(fault, format!("{name} is not a node"));
            };
            match flush(&url).await {
                Ok(cached) => flushed.push(format!("{name} dropped {cached} cached script(s)")),
                Err(e) => return ctx.failed(fault, format!("{name}: {e}")),
            }
        }
        let fault = checkers::Fault {
            detail: format!("{}; {}", fault.detail, flushed.join(", ")),
            ..fault
        };
        ctx.started(&fault);
        ctx.healed(fault);
    }
}

/// Flushes one node's script cache; how many scripts it had cached just before.
async fn flush(url: &str) -> Result<u64, String> {
    let within =
        |what: &'static str| move |_| format!("no {what} within {} ms", NODE_TIMEOUT.as_millis());
    let client = redis::Client::open(url).map_err(|e| e.to_string())?;
    let mut conn = tokio::time::timeout(NODE_TIMEOUT, client.get_multiplexed_async_connection())
        .await
        .map_err(within("connection"))?
        .map_err(|e| e.to_string())?;
    let info: String = tokio::time::timeout(
        NODE_TIMEOUT,
        redis::cmd("INFO").arg("memory").query_async(&mut conn),
    )
    .await
    .map_err(within("INFO answer"))?
    .map_err(|e| e.to_string())?;
    let cached = info
        .lines()
        .find_map(|l| l.strip_prefix("number_of_cached_scripts:"))
        .and_then(|n| n.trim().parse().ok())
        .unwrap_or(0);
    let () = tokio::time::timeout(
        NODE_TIMEOUT,
        redis::cmd("SCRIPT")
            .arg("FLUSH")
            .arg("SYNC")
            .query_async(&mut conn),
    )
    .await
    .map_err(within("SCRIPT FLUSH answer"))?
    .map_err(|e| e.to_string())?;
    Ok(cached)
}
