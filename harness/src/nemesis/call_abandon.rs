//! Call-abandon nemesis: a client gives up on a lock call that is still in flight.
//!
//! In the field, users bound lock calls with their own timeouts — an asyncio task cancelled, a
//! `Promise.race` against a timer, a future dropped — and the library's command runs on
//! regardless: a `SET NX` that timed out on the client but landed on the server leaves a key
//! nobody believes it holds; a cancelled asyncio release cleared redis-py's token while the key
//! stayed (redis-py#3847). This arms a seeded client process's next acquire, extend or release
//! with the client protocol's `abandon_after_ms`, the point drawn from `after`: the adapter stops
//! waiting there the way a user of its library would, answers `info` ("abandoned after N ms")
//! and forgets the lock object. The fault took effect when the answer is that abandonment (its
//! start and stop are recorded then, with the call and the point); a call that returned first is
//! a failed injection ("the acquire returned within N ms"). Client processes whose adapter says
//! `supports.abandon` in its hello only.

use super::draw::Scale;
use super::driver::{positive, Schedule};
use super::span::Span;
use super::{field, Bounds, Invalid, Nemesis, NemesisContext};
use crate::duration::Dur;
use crate::handles::{CallOp, FieldFault};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};
use tokio::sync::watch;

/// Which call is given up on.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, schemars::JsonSchema,
)]
#[serde(rename_all = "kebab-case")]
pub enum AbandonOp {
    /// The next acquire (a grant may land that nobody believes it holds).
    Acquire,
    /// The next extend.
    Extend,
    /// The next release (the key may stay, or go, while the client forgot it).
    Release,
    /// Whichever of acquire, extend or release comes first.
    #[default]
    Any,
}

impl AbandonOp {
    fn call(self) -> CallOp {
        match self {
            AbandonOp::Acquire => CallOp::Acquire,
            AbandonOp::Extend => CallOp::Extend,
            AbandonOp::Release => CallOp::Release,
            AbandonOp::Any => CallOp::Any,
        }
    }

    fn name(self) -> &'static str {
        match self {
            AbandonOp::Acquire => "acquire",
            AbandonOp::Extend => "extend",
            AbandonOp::Release => "release",
            AbandonOp::Any => "acquire, extend or release",
        }
    }
}

/// Gives up on a client process's next lock call after a seeded moment, as a user's timeout or cancellation would, while its command may still land (client processes whose adapter says supports.abandon).
#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CallAbandon {
    /// When the first injection fires, from the start of the run.
    pub start: Dur,
    /// The mean time between injections (each gap is drawn from 0.5×..1.5× of it, from the seed).
    pub every: Dur,
    /// Which call of the client is given up on.
    #[serde(default)]
    pub op: AbandonOp,
    /// How long after the call started the client gives up: a fixed value ("3ms") or a range the point is drawn from, seeded ("1ms..20ms"); whole milliseconds (the protocol's abandon_after_ms).
    pub after: Span,
}

impl Nemesis for CallAbandon {
    fn draw(scale: &Scale, rng: &mut ChaCha8Rng) -> Option<Self> {
        use rand::Rng;
        // Calls given up on a few ms in (up to a fifth of the op timeout): while the request
        // may still be on its way.
        let latest_ms = (scale.op_timeout.ms() / 5).max(3);
        Some(CallAbandon {
            start: scale.start(rng),
            every: scale.ttls(rng, 0.2, 1.0),
            op: scale.pick(
                rng,
                &[
                    AbandonOp::Acquire,
                    AbandonOp::Extend,
                    AbandonOp::Release,
                    AbandonOp::Any,
                ],
            ),
            after: Span {
                low: super::draw::ms(1),
                high: super::draw::ms(rng.random_range(2..=latest_ms)),
            },
        })
    }

    fn schedule(&self) -> Schedule {
        Schedule::recurring(self.start, self.every)
    }

    fn longest(&self) -> (Dur, &'static str) {
        (self.after.high, "after")
    }

    fn validate(&self, bounds: &Bounds) -> Result<(), Invalid> {
        positive("call-abandon", "every", self.every)?;
        positive("call-abandon", "after", self.after.high)?;
        let whole = |d: Dur| d.0.subsec_nanos().is_multiple_of(1_000_000);
        if !whole(self.after.low) || !whole(self.after.high) {
            return Err(Invalid::new(
                "after",
                format!("[[nemesis]] call-abandon: after = \"{}\" is not whole milliseconds: the client protocol's abandon_after_ms is; write e.g. \"1ms..20ms\"", self.after),
            ));
        }
        if !bounds.client_processes {
            return Err(Invalid::new("kind", "[[nemesis]] call-abandon gives up on a client process's call (the client protocol's abandon_after_ms): add a [client] section (or --client NAME); fencepost's own in-process clients never abandon a call"));
        }
        Ok(())
    }

    async fn fire(
        &self,
        ctx: &NemesisContext,
        rng: &mut ChaCha8Rng,
        stop: &mut watch::Receiver<bool>,
    ) {
        let after_ms = self.after.draw_ms(rng);
        let op = self.op;
        field::arm_and_wait(
            ctx,
            rng,
            FieldFault::Abandon {
                op: op.call(),
                after_ms,
                },
            format!("abandon the next {} after {after_ms} ms (after = {})", op.name(), self.after),
            |s| {
                (!s.abandon).then(|| {
                    format!(
                        "the adapter {} does not honour abandon_after_ms: its hello lacks supports.abandon",
                        s.adapter
                    )
                })
            },
            op.name(),
            stop,
        )
        .await;
    }

    fn finish(&self, ctx: &NemesisContext) {
        for c in &ctx.clients {
            c.field.disarm();
        }
    }
}
