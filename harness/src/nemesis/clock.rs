//! Clock nemesis: bend the wall clock of lock nodes — jump forward, jump back, strobe, change
//! its rate — or the clock of one client, then restore it.
//!
//! Redis expires keys by the wall clock, so a node whose clock jumps forward past a lease drops
//! the lock at once while its holder still counts on it (Kleppmann's clock case against
//! Redlock); a clock that runs fast shortens every lease it grants. Node clocks are bent through
//! the clock library the lock nodes preload ([`crate::nodes::clock`]); a node fault is
//! recorded as started only after the node's own `TIME` shows the new offset (within 50 ms),
//! and as stopped after `TIME` shows it restored — or says in the fault's detail that it could
//! not confirm (a paused or crashed node does not answer). A client's clock is the one its
//! validity arithmetic uses ([`workloads::clock::Clock`]); bending it makes the client believe
//! its lease lasts longer or shorter than it does.
//!
//! Restoring means back to real time: after a rate change the accumulated drift is undone in
//! one step, like an NTP step at the end of the fault.

use super::draw::Scale;
use super::driver::{positive, sleep_or_stop, Schedule};
use super::nodes::NodeTarget;
use super::{Bounds, Invalid, Needs, Nemesis, NemesisContext};

use crate::duration::Dur;
use checkers::history::BentClocks;
use checkers::Fault;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};
use tokio::sync::watch;

pub use crate::nodes::clock::{confirm_clock, CONFIRM_TOLERANCE_NS};

/// How the clock is bent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum ClockFault {
    /// The clock steps forward by `offset` (an NTP step, a resumed VM).
    JumpForward,
    /// The clock steps back by `offset`.
    JumpBack,
    /// The clock flips between +`offset` and its true reading every `period`.
    Strobe,
    /// The clock runs at `rate` × real time.
    Rate,
}

/// Bends the wall clock of lock nodes, or of one client, then restores it: a jump forward or back, a strobe, a changed rate.
#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ClockNemesis {
    /// When the first injection fires, from the start of the run.
    pub start: Dur,
    /// The mean time between injections (each gap is drawn from 0.5×..1.5× of it, from the seed).
    pub every: Dur,
    /// Which lock nodes; leave out when `client` is given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target: Option<NodeTarget>,
    /// Bend this client's own clock instead (the one its validity arithmetic uses).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client: Option<u32>,
    /// How the clock is bent.
    pub fault: ClockFault,
    /// Jump size, or the strobe's amplitude.
    #[serde(default)]
    pub offset: Dur,
    /// Strobe: how often the clock flips.
    #[serde(default)]
    pub period: Dur,
    /// Rate: the clock's speed, e.g. 2.0 (twice real time) or 0.5.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rate: Option<f64>,
    /// How long the clock stays bent before it is restored.
    pub hold: Dur,
}

impl Nemesis for ClockNemesis {
    fn draw(scale: &Scale, rng: &mut ChaCha8Rng) -> Option<Self> {
        use rand::Rng;
        // Steps of both signs, a third of a lease to five leases, on some lock nodes or on
        // one client's clock.
        let fault = scale.pick(
            rng,
            &[
                ClockFault::JumpForward,
                ClockFault::JumpBack,
                ClockFault::Strobe,
            ],
        );
        let on_client = rng.random_bool(0.5);
        let hold = scale.ttls(rng, 0.5, 3.0);
        Some(ClockNemesis {
            start: scale.start(rng),
            every: scale.every(rng, hold),
            target: (!on_client).then(|| scale.nodes(rng)),
            client: on_client.then(|| rng.random_range(0..scale.bounds.clients.max(1))),
            fault,
            offset: scale.ttls(rng, 0.3, 5.0),
            period: if fault == ClockFault::Strobe {
                super::draw::ms(rng.random_range(10..=200))
            } else {
                Dur::default()
            },
            rate: None,
            hold,
        })
    }

    fn schedule(&self) -> Schedule {
        Schedule::recurring(self.start, self.every)
    }

    fn longest(&self) -> (Dur, &'static str) {
        (self.hold, "hold")
    }

    fn validate(&self, bounds: &Bounds) -> Result<(), Invalid> {
        positive("clock", "every", self.every)?;
        positive("clock", "hold", self.hold)?;
        match (self.target, self.client) {
            (Some(t), None) => t.validate_for("clock", bounds.lock_nodes)?,
            (None, Some(c)) if c < bounds.clients => {}
            (None, Some(c)) => return Err(Invalid::new("client", format!("[[nemesis]] clock: client {c} does not exist: clients are 0..{}", bounds.clients))),
            _ => return Err(Invalid::new("target", "[[nemesis]] clock: give either `target` (lock nodes) or `client` (one client's clock), not both or neither")),
        }
        match self.fault {
            ClockFault::JumpForward | ClockFault::JumpBack | ClockFault::Strobe
                if self.offset.0.is_zero() =>
            {
                Err(Invalid::new(
                    "offset",
                    "[[nemesis]] clock: this fault needs offset > 0 (e.g. \"2s\")",
                ))
            }
            ClockFault::Strobe if self.period.0.is_zero() => Err(Invalid::new(
                "period",
                "[[nemesis]] clock: strobe needs period > 0 (e.g. \"20ms\")",
            )),
            ClockFault::Rate if !self.rate.is_some_and(|r| (0.001..=1000.0).contains(&r)) => {
                Err(Invalid::new(
                    "rate",
                    "[[nemesis]] clock: rate needs rate = a factor in 0.001..=1000 (e.g. 2.0)",
                ))
            }
            _ => Ok(()),
        }
    }

    fn needs(&self) -> Needs {
        Needs {
            node_clocks: self.target.is_some(),
            ..Needs::default()
        }
    }

    async fn fire(
        &self,
        ctx: &NemesisContext,
        rng: &mut ChaCha8Rng,
        stop: &mut watch::Receiver<bool>,
    ) {
        match (self.target, self.client) {
            (Some(target), _) => {
                let nodes = target.pick(&ctx.topology.lock_nodes, rng);
                self.bend_nodes(ctx, &nodes, stop).await;
            }
            (None, Some(c)) => self.bend_client(ctx, c, stop).await,
            (None, None) => {}
        }
    }
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

    /// Bends the nodes' clocks; the fault starts once every node's `TIME` shows the skew.
    async fn bend_nodes(
        &self,
        ctx: &NemesisContext,
        nodes: &[String],
        stop: &mut watch::Receiver<bool>,
    ) {
        let off = self.offset_ns();
        // The record cannot place these nodes' expiries from now on: declared with the fault.
        let bent_from_ns = ctx.rec.now_ns();
        let mut error = None;
        for name in nodes {
            let Some(nc) = ctx.topology.node_clock(name) else {
                error = Some(format!("{name} has no clock control"));
                break;
            };
            match self.fault {
                ClockFault::JumpForward | ClockFault::Strobe => nc.jump(off),
                ClockFault::JumpBack => nc.jump(-off),
                ClockFault::Rate => {
                    if let Err(e) = nc.set_rate(self.rate.unwrap_or(1.0)) {
                        error = Some(format!("cannot set the rate of {name}: {e}"));
                        break;
                    }
                }
            }
        }
        let confirmed = match error {
            Some(e) => Err(e),
            None => confirm_all(ctx, nodes).await,
        };
        let fault = Fault {
            bends: Some(BentClocks {
                nodes: nodes.to_vec(),
                from_ns: bent_from_ns,
            }),
            ..ctx.fault(
                nodes.join(","),
                format!("{} for {}", self.describe(), self.hold),
            )
        };
        let fault = match confirmed {
            Ok(times) => {
                let fault = Fault {
                    detail: format!("{}; {times}", fault.detail),
                    ..fault
                };
                ctx.started(&fault);
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
                Some(fault)
            }
            Err(e) => {
                // Restored before the failure is recorded: the bend the record must not read
                // ends at the failure ([`checkers::history::FaultWindows`] keeps it).
                for name in nodes {
                    if let Some(nc) = ctx.topology.node_clock(name) {
                        nc.reset();
                    }
                }
                ctx.failed(fault, e);
                None
            }
        };
        for name in nodes {
            if let Some(nc) = ctx.topology.node_clock(name) {
                nc.reset();
            }
        }
        if let Some(fault) = fault {
            let restored = match confirm_all(ctx, nodes).await {
                Ok(t) => t,
                Err(e) => format!("restore not confirmed: {e}"),
            };
            ctx.healed(Fault {
                detail: format!("restored; {restored}"),
                ..fault
            });
        }
    }

    async fn bend_client(&self, ctx: &NemesisContext, c: u32, stop: &mut watch::Receiver<bool>) {
        let Some(client) = ctx.clients.get(c as usize) else {
            return;
        };
        let clock = &client.clock;
        let off = self.offset_ns();
        let bent = match self.fault {
            ClockFault::JumpForward | ClockFault::Strobe => clock.skew(off, 1_000_000),
            ClockFault::JumpBack => clock.skew(-off, 1_000_000),
            ClockFault::Rate => clock.skew(0, (self.rate.unwrap_or(1.0) * 1e6).round() as u64),
        };
        let fault = ctx.fault(
            format!("client {c}"),
            format!(
                "{} for {} (the client's own clock)",
                self.describe(),
                self.hold
            ),
        );
        if let Err(e) = bent {
            clock.reset();
            ctx.failed(fault, e);
            return;
        }
        ctx.started(&fault);
        if self.fault == ClockFault::Strobe {
            self.strobe(stop, |on| {
                let _ = clock.skew(if on { off } else { -off }, 1_000_000);
            })
            .await;
        } else {
            sleep_or_stop(self.hold.0, stop).await;
        }
        clock.reset();
        ctx.healed(fault);
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

/// Asks every node for `TIME` and compares it with the skew the harness set: a sentence for the
/// fault's detail, or why some node's clock does not show it.
async fn confirm_all(ctx: &NemesisContext, nodes: &[String]) -> Result<String, String> {
    let mut parts = Vec::new();
    for name in nodes {
        match confirm(ctx, name).await {
            Ok(off_ms) => parts.push(format!("{name} TIME {off_ms:+} ms")),
            Err(e) => return Err(format!("{name} TIME does not show the skew: {e}")),
        }
    }
    Ok(parts.join(", "))
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
    confirm_clock(&url, nc).await
}
