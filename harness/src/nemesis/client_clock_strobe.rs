//! Client-clock-strobe nemesis: a client's wall clock steps back while its acquire is in flight.
//!
//! Libraries time their own calls on the wall clock: a validity computed as `ttl − (end −
//! start)` with `start` read before the `SET` and `end` after it grows by however far the clock
//! stepped back in between — a lease promised past its end on the node. An NTP step or a VM's
//! clock correction can land there; the `clock` nemesis steps clocks a few times a run and
//! almost never inside a call. This one is aimed: it arms a seeded client's next acquire, and a
//! small seeded `delay` after the call was sent — while it is still in flight — steps that
//! client's wall clock back by `offset` (with `strobe = N`, back and forth N times within
//! `duration`), then restores it at `duration`. The fault starts at the step, recorded from the
//! client's own task before it can see the acquire's answer; an acquire that returned before the
//! delay is a failed injection. The clock is the client's: an in-process client's own clock, or
//! a client process's wall clock through the preload clock library. For a client process "in
//! flight" is as the harness sees it: a step in the last ~0.1 ms before the adapter's reply
//! reaches the harness may land after the library returned, so the library scenario delays the
//! nodes' replies to put every step well inside the call.

use super::draw::Scale;
use super::driver::{positive, sleep_or_stop, Schedule};
use super::span::Span;
use super::{Bounds, Invalid, Nemesis, NemesisContext};
use crate::duration::Dur;
use checkers::F;
use rand::Rng;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};
use std::time::Duration;
use tokio::sync::{oneshot, watch};
use workloads::cycle::{Aim, Landing};

/// How long an aimed step waits for its client's next acquire.
const PATIENCE: Duration = Duration::from_secs(5);

fn default_strobe() -> u32 {
    1
}

fn default_delay() -> Span {
    Span {
        low: Dur(Duration::from_micros(300)),
        high: Dur(Duration::from_millis(1)),
    }
}

/// Steps a client's wall clock back (or back and forth) while its next acquire is in flight, then restores it.
#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ClientClockStrobe {
    /// When the first injection fires, from the start of the run.
    pub start: Dur,
    /// The mean time between injections (each gap is drawn from 0.5×..1.5× of it, from the seed).
    pub every: Dur,
    /// How far back the clock steps.
    pub offset: Dur,
    /// How many times it steps back: with N > 1 it steps forward again and back again, every duration / (2N − 1).
    #[serde(default = "default_strobe")]
    pub strobe: u32,
    /// How long after the first step the clock is restored.
    pub duration: Dur,
    /// How long after the acquire was sent the first step lands: a fixed value or a range drawn from the seed; shorter than the library's acquire takes (an in-process client's takes about 0.2 ms: "0ms..100us").
    #[serde(default = "default_delay")]
    pub delay: Span,
}

impl Nemesis for ClientClockStrobe {
    fn draw(scale: &Scale, rng: &mut ChaCha8Rng) -> Option<Self> {
        // Steps aimed at calls in flight: a third of a lease to five leases, one to three
        // back-and-forths, within a tenth to half a lease, a few ms after the call is sent.
        let strobe = rng.random_range(1..=3);
        let duration = scale.ttls(rng, 0.1, 0.5);
        let latest_ms = (scale.op_timeout.ms() / 10).clamp(2, 50);
        Some(ClientClockStrobe {
            start: scale.start(rng),
            every: scale.every(rng, duration),
            offset: scale.ttls(rng, 0.3, 5.0),
            strobe,
            duration: Dur(duration.0.max(Duration::from_millis(2 * strobe as u64))),
            delay: Span {
                low: super::draw::ms(1),
                high: super::draw::ms(rng.random_range(2..=latest_ms)),
            },
        })
    }

    fn schedule(&self) -> Schedule {
        Schedule::recurring(self.start, self.every)
    }

    fn longest(&self) -> (Dur, &'static str) {
        (self.duration, "duration")
    }

    fn runs_on_redis_cluster(&self) -> bool {
        true
    }

    fn validate(&self, bounds: &Bounds) -> Result<(), Invalid> {
        let kind = "client-clock-strobe";
        positive(kind, "every", self.every)?;
        positive(kind, "offset", self.offset)?;
        positive(kind, "duration", self.duration)?;
        if !(1..=1000).contains(&self.strobe) {
            return Err(Invalid::new(
                "strobe",
                format!("[[nemesis]] {kind}: strobe = {} is out of range: use 1 (one step back) ..= 1000", self.strobe),
            ));
        }
        let steps = 2 * self.strobe - 1;
        if self.duration.0 < Duration::from_millis(steps as u64) {
            return Err(Invalid::new(
                "duration",
                format!("[[nemesis]] {kind}: strobe = {} steps the clock {steps} times within duration = \"{}\", less than 1 ms apart: make duration at least {steps}ms, or strobe smaller", self.strobe, self.duration),
            ));
        }
        if self.delay.high.0 > Duration::from_secs(1) {
            return Err(Invalid::new(
                "delay",
                format!("[[nemesis]] {kind}: delay = \"{}\" lands the step more than 1 s into the acquire, after any acquire has returned: use a delay shorter than the library's acquire, e.g. \"300us..1ms\"", self.delay),
            ));
        }
        if !bounds.pause_points {
            return Err(Invalid::new("kind", format!("[[nemesis]] {kind} lands inside an acquire; this workload's clients take no lock: use [workload] kind = \"lock\" or \"rmw-counter\"")));
        }
        Ok(())
    }

    async fn fire(
        &self,
        ctx: &NemesisContext,
        rng: &mut ChaCha8Rng,
        stop: &mut watch::Receiver<bool>,
    ) {
        let idle: Vec<usize> = (0..ctx.clients.len())
            .filter(|&c| !ctx.clients[c].cycle.is_aimed())
            .collect();
        if idle.is_empty() {
            return;
        }
        let c = idle[rng.random_range(0..idle.len())];
        let after = self.delay.draw(rng);
        let handle = &ctx.clients[c];
        let target = match handle.process {
            Some(_) => format!("client slot {c}"),
            None => format!("client {c}"),
        };
        let fault = ctx.fault(target, self.describe(after));
        let off = self.offset.ns() as i64;
        let (landed, mut landing) = oneshot::channel();
        let (clock, rec, started) = (handle.clock.clone(), ctx.rec.clone(), fault.clone());
        handle.cycle.aim(Aim {
            after,
            land: Box::new(move |l| {
                let r = match l {
                    Landing::InFlight => match clock.skew(-off, 1_000_000) {
                        Ok(()) => {
                            rec.nemesis(F::Start, started);
                            Ok(())
                        }
                        Err(e) => {
                            clock.reset();
                            Err(format!("cannot step the client's clock: {e}"))
                        }
                    },
                    Landing::Returned(took) => Err(format!(
                        "the acquire returned in {:.2} ms, before the step due {:.2} ms into it",
                        took.as_secs_f64() * 1e3,
                        after.as_secs_f64() * 1e3
                    )),
                };
                let _ = landed.send(r);
            }),
        });
        // Wait for the landing: the next acquire, within PATIENCE (a taken aim lands within
        // `delay`, so it is always waited for: a step must be undone).
        let r = tokio::select! {
            r = &mut landing => r,
            going = sleep_or_stop(PATIENCE, stop) => {
                if handle.cycle.disarm() {
                    if going {
                        ctx.failed(fault, format!("client {c} started no acquire within {} s", PATIENCE.as_secs()));
                    }
                    return;
                }
                landing.await
            }
        };
        match r {
            Ok(Ok(())) => {}
            Ok(Err(why)) => return ctx.failed(fault, why),
            Err(_) => return ctx.failed(fault, "the client dropped the aimed step"),
        }
        self.strobe(handle, stop).await;
        handle.clock.reset();
        ctx.healed(fault);
    }

    fn finish(&self, ctx: &NemesisContext) {
        for c in &ctx.clients {
            c.cycle.disarm();
        }
    }
}

impl ClientClockStrobe {
    fn describe(&self, after: Duration) -> String {
        let first = format!(
            "wall clock steps back {} at {:.2} ms into an acquire",
            self.offset,
            after.as_secs_f64() * 1e3
        );
        match self.strobe {
            1 => format!("{first}; restored after {}", self.duration),
            n => format!(
                "{first}, then forth and back {} more time(s) every {:.1} ms; restored after {}",
                n - 1,
                self.period().as_secs_f64() * 1e3,
                self.duration
            ),
        }
    }

    /// The time between two steps of a strobe.
    fn period(&self) -> Duration {
        self.duration.0 / (2 * self.strobe - 1)
    }

    /// After the first step back: the strobe's further steps (forward, back, …), then the rest of
    /// `duration`.
    async fn strobe(&self, handle: &super::ClientHandle, stop: &mut watch::Receiver<bool>) {
        let off = self.offset.ns() as i64;
        let period = self.period();
        for i in 1..(2 * self.strobe - 1) {
            if !sleep_or_stop(period, stop).await {
                return;
            }
            let step = if i % 2 == 1 { off } else { -off };
            let _ = handle.clock.skew(step, 1_000_000);
        }
        sleep_or_stop(period, stop).await;
    }
}
