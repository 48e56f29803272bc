//! Field faults of client processes, armed on a client and carried out by it: what
//! `call-abandon` and `loop-starve` share.
//!
//! The nemesis picks a client process from the seed, checks that its adapter said in its hello it
//! can carry the fault out (else the injection is recorded failed, with the reason), arms the
//! fault on the client's handle and waits: the client carries it out at its next matching call,
//! records the fault's start and stop at the moments they happen, and says whether it took
//! effect. A fault no call took within [`PATIENCE`] is taken back and recorded failed.

use super::driver::sleep_or_stop;
use super::NemesisContext;
use crate::handles::{ArmedField, FieldFault, FieldSupport};
use rand::Rng;
use rand_chacha::ChaCha8Rng;
use std::time::Duration;
use tokio::sync::{oneshot, watch};

/// How long an armed field fault waits for its client's next matching call.
pub const PATIENCE: Duration = Duration::from_secs(5);

/// Arms `what` on a seeded client process and waits until it took effect, failed, or the run
/// stopped. `lacks` says why an adapter cannot carry the fault out (None: it can); `waits_for`
/// names the call it waits for, for the failure message.
pub async fn arm_and_wait(
    ctx: &NemesisContext,
    rng: &mut ChaCha8Rng,
    what: FieldFault,
    detail: String,
    lacks: impl Fn(&FieldSupport) -> Option<String>,
    waits_for: &str,
    stop: &mut watch::Receiver<bool>,
) {
    let idle: Vec<usize> = (0..ctx.clients.len())
        .filter(|&c| !ctx.clients[c].field.is_armed())
        .collect();
    if idle.is_empty() {
        return;
    }
    let c = idle[rng.random_range(0..idle.len())];
    let handle = &ctx.clients[c];
    let fault = ctx.fault(format!("client slot {c}"), detail);
    match handle.field.support() {
        None => return ctx.failed(fault, "the client is not a process"),
        Some(s) => {
            if let Some(why) = lacks(&s) {
                return ctx.failed(fault, why);
            }
        }
    }
    let (done, mut outcome) = oneshot::channel();
    handle.field.arm(ArmedField {
        what,
        fault: fault.clone(),
        done,
    });
    let mut waited = false;
    loop {
        tokio::select! {
            r = &mut outcome => {
                match r {
                    Ok(Ok(())) => {}
                    Ok(Err(why)) => ctx.failed(fault, why),
                    Err(_) => ctx.failed(fault, "the client dropped the fault"),
                }
                return;
            }
            going = sleep_or_stop(PATIENCE, stop), if !waited => {
                waited = true;
                // Not taken by any call: taken back. Taken: it is under way, wait for it.
                if handle.field.disarm() {
                    if going {
                        ctx.failed(fault, format!("client slot {c} made no {waits_for} within {} s", PATIENCE.as_secs()));
                    }
                    return;
                }
            }
        }
    }
}
