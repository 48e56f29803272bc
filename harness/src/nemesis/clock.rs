//! Clock nemesis: bend the wall clock of lock nodes — jump forward, jump back, strobe, change
//! its rate — or the clock of one client, then restore it.
//!
//! Redis expires keys by the wall clock, so a node whose clock jumps forward past a lease drops
//! the lock at once while its holder still counts on it (Kleppmann's clock case against
//! Redlock); a clock that runs fast shortens every lease it grants. Node clocks are bent through
//! the clock library the lock nodes preload ([`crate::cluster::clock`]); a node fault is
//! recorded as started only after the node's own `TIME` shows the new offset (within 50 ms),
//! and as stopped after `TIME` shows it restored — or says in the fault's detail that it could
//! not confirm (a paused or crashed node does not answer). A client's clock is the one its
//! validity arithmetic uses ([`workloads::clock::Clock`]); bending it makes the client believe
//! its lease lasts longer or shorter than it does.
//!
//! Restoring means back to real time: after a rate change the accumulated drift is undone in
//! one step, like an NTP step at the end of the fault.

use super::nodes::NodeTarget;
use super::schedule::{sleep_or_stop, Schedule};
use crate::cluster::clock::real_now_ns;
use crate::duration::Dur;
use crate::nemesis::NemesisContext;
use crate::scenario::ClockFault;
use checkers::{Fault, F};
use rand_chacha::ChaCha8Rng;
use std::time::Duration;
use tokio::sync::watch;

/// How far a node's `TIME` may be from the offset asked for.
pub const CONFIRM_TOLERANCE_NS: i64 = 50_000_000;

pub struct ClockNemesis {
    pub schedule: Schedule,
    pub target: Option<NodeTarget>,
    pub client: Option<u32>,
    pub fault: ClockFault,
    pub offset: Dur,
    pub period: Dur,
    pub rate: Option<f64>,
    pub hold: Dur,
}

impl ClockNemesis {
    fn offset_ns(&self) -> i64 {
        self.offset.ns() as i64
    }

    fn describe(&self) -> String {
        match self.fault {
            ClockFault::JumpForward => format!("jump +{}", self.offset),
            ClockFault::JumpBack => format!("jump -{}", self.offset),
            ClockFault::Strobe => format!("strobe ±{} every {}", self.offset, self.period),
            ClockFault::Rate => format!("rate ×{}", self.rate.unwrap_or(1.0)),
        }
    }

    pub async fn run(
        mut self,
        ctx: NemesisContext,
        mut rng: ChaCha8Rng,
        mut stop: watch::Receiver<bool>,
    ) {
        while self.schedule.wait(&mut rng, &mut stop).await {
            match (self.target, self.client) {
                (Some(target), _) => {
                    let nodes = target.pick(&ctx.topology.lock_nodes, &mut rng);
                    self.bend_nodes(&ctx, &nodes, &mut stop).await;
                }
                (None, Some(c)) => self.bend_client(&ctx, c, &mut stop).await,
                (None, None) => return,
            }
        }
    }

    async fn bend_nodes(
        &self,
        ctx: &NemesisContext,
        nodes: &[String],
        stop: &mut watch::Receiver<bool>,
    ) {
        let off = self.offset_ns();
        for name in nodes {
            let Some(nc) = ctx.topology.node_clock(name) else {
                continue;
            };
            match self.fault {
                ClockFault::JumpForward | ClockFault::Strobe => nc.jump(off),
                ClockFault::JumpBack => nc.jump(-off),
                ClockFault::Rate => {
                    if let Err(e) = nc.set_rate(self.rate.unwrap_or(1.0)) {
                        eprintln!("fencepost: clock could not set the rate of {name}: {e}");
                    }
                }
            }
        }
        let confirmed = confirm_all(ctx, nodes).await;
        let fault = Fault {
            kind: "clock".into(),
            target: nodes.join(","),
            id: ctx.ids.next(),
            detail: format!("{} for {}; {confirmed}", self.describe(), self.hold),
        };
        ctx.rec.nemesis(F::Start, fault.clone());
        if self.fault == ClockFault::Strobe {
            self.strobe(stop, |on| {
                for name in nodes {
                    if let Some(nc) = ctx.topology.node_clock(name) {
                        nc.jump(if on { off } else { -off });
                    }
                }
            })
            .await;
        } else {
            sleep_or_stop(self.hold.0, stop).await;
        }
        for name in nodes {
            if let Some(nc) = ctx.topology.node_clock(name) {
                nc.reset();
            }
        }
        let restored = confirm_all(ctx, nodes).await;
        ctx.rec.nemesis(
            F::Stop,
            Fault {
                detail: format!("restored; {restored}"),
                ..fault
            },
        );
    }

    async fn bend_client(&self, ctx: &NemesisContext, c: u32, stop: &mut watch::Receiver<bool>) {
        let Some(clock) = ctx.clocks.get(c as usize) else {
            return;
        };
        let off = self.offset_ns();
        match self.fault {
            ClockFault::JumpForward | ClockFault::Strobe => clock.skew(off, 1_000_000),
            ClockFault::JumpBack => clock.skew(-off, 1_000_000),
            ClockFault::Rate => clock.skew(0, (self.rate.unwrap_or(1.0) * 1e6).round() as u64),
        }
        let fault = Fault {
            kind: "clock".into(),
            target: format!("client {c}"),
            id: ctx.ids.next(),
            detail: format!(
                "{} for {} (the client's own clock)",
                self.describe(),
                self.hold
            ),
        };
        ctx.rec.nemesis(F::Start, fault.clone());
        if self.fault == ClockFault::Strobe {
            self.strobe(stop, |on| {
                clock.skew(if on { off } else { -off }, 1_000_000)
            })
            .await;
        } else {
            sleep_or_stop(self.hold.0, stop).await;
        }
        clock.reset_skew();
        ctx.rec.nemesis(F::Stop, fault);
    }

    /// Flips the clock every `period` for `hold` (it starts flipped on); `flip(on)` applies one
    /// flip.
    async fn strobe(&self, stop: &mut watch::Receiver<bool>, flip: impl Fn(bool)) {
        let end = tokio::time::Instant::now() + self.hold.0;
        let mut on = true;
        while tokio::time::Instant::now() < end {
            let left = end - tokio::time::Instant::now();
            if !sleep_or_stop(self.period.0.min(left), stop).await {
                return;
            }
            on = !on;
            flip(on);
        }
    }
}

/// Asks every node for `TIME` and compares it with the skew the harness set; a sentence for the
/// fault's detail.
async fn confirm_all(ctx: &NemesisContext, nodes: &[String]) -> String {
    let mut parts = Vec::new();
    for name in nodes {
        parts.push(match confirm(ctx, name).await {
            Ok(off_ms) => format!("{name} TIME {off_ms:+} ms"),
            Err(e) => format!("{name} TIME not confirmed: {e}"),
        });
    }
    parts.join(", ")
}

/// The node's `TIME` offset from real time (ms), once it matches the skew asked for.
pub async fn confirm(ctx: &NemesisContext, name: &str) -> Result<i64, String> {
    let nc = ctx
        .topology
        .node_clock(name)
        .ok_or_else(|| format!("{name} has no clock control"))?;
    let url = ctx
        .topology
        .admin_url(name)
        .ok_or_else(|| format!("{name} is not a node"))?;
    let client = redis::Client::open(url).map_err(|e| e.to_string())?;
    let limit = Duration::from_millis(500);
    let mut conn = tokio::time::timeout(limit, client.get_multiplexed_async_connection())
        .await
        .map_err(|_| "no connection within 500 ms".to_string())?
        .map_err(|e| e.to_string())?;
    let mut last = String::new();
    for _ in 0..10 {
        let before = real_now_ns();
        let answer: Result<(i64, i64), String> =
            match tokio::time::timeout(limit, redis::cmd("TIME").query_async(&mut conn)).await {
                Ok(r) => r.map_err(|e| e.to_string()),
                Err(_) => Err("no answer within 500 ms".into()),
            };
        let (s, us) = answer?;
        let after = real_now_ns();
        let mid = before + (after - before) / 2;
        let node_ns = s * 1_000_000_000 + us * 1_000;
        let expected = nc.skew().apply(mid);
        if (node_ns - expected).abs() <= CONFIRM_TOLERANCE_NS {
            return Ok((node_ns - mid) / 1_000_000);
        }
        last = format!(
            "TIME is {} ms from the skew asked for",
            (node_ns - expected) / 1_000_000
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    Err(last)
}
