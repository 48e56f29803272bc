//! One client slot driven through an adapter process: the lock workload's cycle over the client
//! protocol, recorded with the times the process itself stamped.
//!
//! The cycle is the in-process one ([`workloads::cycle`]): acquire; on a grant, read the
//! resource, work for the think time (extending the lease every `extend_every` when the library
//! extends and does not renew by itself), ask the library whether it still holds the lock, pass
//! the pause point (where a GC pause stops the whole process group, renewal threads included),
//! write the resource, release. Every call is one op of the history, invoked and completed at the
//! moments the adapter stamped. A reply that does not come, a process that dies, a line that is
//! not a reply: the op is `info`, the process is killed and a fresh one takes the slot under a new
//! process id (Jepsen's way: a process with an op of unknown outcome is never reused).
//!
//! Field faults armed on the slot's handle are carried out here: an acquire, extend or release
//! that carries `abandon_after_ms` (the adapter gives up on the call as the library's user would),
//! and a `starve` of the library's timer thread once the client holds the lock, after its read.
//! The client records each fault's start and stop at the moments they happen; one its adapter
//! cannot carry out (its hello lacks `supports.abandon` or `supports.starve`) is handed back to
//! the nemesis as failed, with the reason.

use super::protocol::{AdapterProcess, ClientInfo, ProcessControl, ProtocolError, Reply};
use super::Spawner;
use crate::handles::{ClientHandle, FieldDone, FieldSupport};
use crate::recorder::Recorder;
use checkers::{Fault, Grant, Nanos, OpKind, Process, Value, F};
use rand_chacha::ChaCha8Rng;
use serde_json::{json, Map, Value as Json};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;
use workloads::cycle::WorkloadConfig;
use workloads::cycle::{self, LockCycle};
use workloads::record::Record;
use workloads::resource::{self, AccessResult};

/// How a slot's client works.
#[derive(Debug, Clone)]
pub struct Settings {
    pub ttl_ms: u64,
    /// How long fencepost waits for one reply (beyond any time it kept the process stopped).
    pub reply_timeout: Duration,
    /// Extend the lease this often while holding it (libraries that extend and do not renew).
    pub extend_every: Option<Duration>,
    pub fenced: bool,
    /// Ask the library whether it holds the lock before the write.
    pub check_held: bool,
    /// One critical section in `.1` lasts `.0` (longer than the ttl).
    pub long_section: Option<(Duration, u32)>,
}

/// A grant as the slot holds it.
#[derive(Debug, Clone)]
struct Held {
    grant: Grant,
    /// Where the library says the lease ends, on the history's clock.
    valid_until: Nanos,
}

pub struct ExternalClient {
    slot: u32,
    clients: u32,
    generation: u32,
    rec: Arc<Recorder>,
    handle: ClientHandle,
    control: Arc<ProcessControl>,
    spawner: Arc<Spawner>,
    proc: Option<AdapterProcess>,
    info: ClientInfo,
    rng: ChaCha8Rng,
    pacing: WorkloadConfig,
    settings: Settings,
    shared: Arc<Shared>,
    held: Option<Held>,
    /// Protocol violations in a row (reset by a good reply).
    violations_in_a_row: u32,
}

/// What every slot of a run shares.
pub struct Shared {
    /// Run-wide grant numbers, for libraries without a fencing token.
    pub grants: AtomicU64,
    /// Where protocol violations are journaled.
    pub violations: super::violations::Journal,
}

impl ExternalClient {
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        slot: u32,
        clients: u32,
        proc: AdapterProcess,
        info: ClientInfo,
        rec: Arc<Recorder>,
        handle: ClientHandle,
        control: Arc<ProcessControl>,
        spawner: Arc<Spawner>,
        rng: ChaCha8Rng,
        pacing: WorkloadConfig,
        settings: Settings,
        shared: Arc<Shared>,
    ) -> ExternalClient {
        handle.field.set_support(FieldSupport {
            adapter: format!("{} {}", info.library, info.version),
            abandon: info.supports.abandon,
            starve: info.supports.starve,
        });
        ExternalClient {
            slot,
            clients,
            generation: 0,
            rec,
            handle,
            control,
            spawner,
            proc: Some(proc),
            info,
            rng,
            pacing,
            settings,
            shared,
            held: None,
            violations_in_a_row: 0,
        }
    }

    /// The history's process id of this slot's current process.
    fn process(&self) -> Process {
        Process::Client(self.slot + self.clients * self.generation)
    }

    fn key(&self) -> String {
        self.info.lock_keys[0].clone()
    }

    pub async fn run(mut self, stop: watch::Receiver<bool>) {
        cycle::run(&mut self, stop).await;
        if let Some(p) = self.proc.take() {
            p.shutdown().await;
        }
    }

    /// A fresh process for the slot (after a kill or a protocol fault), under a new process id.
    async fn replace(&mut self) {
        if let Some(mut p) = self.proc.take() {
            p.kill();
        }
        self.held = None;
        loop {
            self.generation += 1;
            match self
                .spawner
                .start(self.slot, self.process(), &self.control)
                .await
            {
                Ok((p, _)) => {
                    self.proc = Some(p);
                    return;
                }
                Err(e) => {
                    eprintln!("fencepost: client slot {}: {e}", self.slot);
                    tokio::time::sleep(Duration::from_millis(500)).await;
                }
            }
        }
    }

    /// One op: send it, record the call with the adapter's stamps (or `info` at the deadline);
    /// on a protocol fault the process is replaced.
    async fn call(
        &mut self,
        op: &str,
        fields: Map<String, Json>,
        f: F,
        args: Value,
    ) -> Option<(Reply, Nanos, Nanos)> {
        let process = self.process();
        let hold = self.rec.hold();
        let timeout = self.settings.reply_timeout;
        let result = match self.proc.as_mut() {
            Some(p) => p.call(op, fields, timeout).await,
            None => Err(ProtocolError::Silent {
                adapter: self.info.library.clone(),
                what: op.into(),
                waited_ms: 0,
                stderr: String::new(),
            }),
        };
        let result = result.and_then(|reply| self.checked(reply, op));
        match result {
            Ok(reply) => {
                self.violations_in_a_row = 0;
                let now = self.rec.now();
                let invoke = reply
                    .invoke_ns
                    .map_or(hold.at_ns, |t| self.rec.from_monotonic(t))
                    .clamp(hold.at_ns, now);
                let complete = reply
                    .complete_ns
                    .map_or(now, |t| self.rec.from_monotonic(t))
                    .clamp(invoke, now);
                // Where the library says the lease ends: its own validity from the return, or
                // a ttl from the call (what a user of a library without one assumes).
                let ttl_ns = self.settings.ttl_ms * 1_000_000;
                let valid_until = reply
                    .int("validity_ms")
                    .map_or(invoke + ttl_ns, |v| complete + v as u64 * 1_000_000);
                let (kind, mut value) = self.completion(&reply, f);
                match &mut value {
                    Value::Granted(g) => {
                        g.validity_end_ns = valid_until;
                        self.held = Some(Held {
                            grant: g.clone(),
                            valid_until,
                        });
                    }
                    Value::Extended { validity_end_ns } => {
                        *validity_end_ns = valid_until;
                        if let Some(h) = self.held.as_mut() {
                            h.valid_until = valid_until;
                        }
                    }
                    _ => {}
                }
                self.rec
                    .call(hold, process, f, args, invoke, kind, value, complete);
                Some((reply, invoke, complete))
            }
            Err(e) => {
                let at = hold.at_ns;
                let now = self.rec.now();
                let error = checkers::quote::clip_message(&e.to_string()).into_owned();
                if e.is_violation() {
                    self.violations_in_a_row += 1;
                    self.shared
                        .violations
                        .record(&super::violations::Violation {
                            time_ns: now,
                            slot: self.slot,
                            op: op.to_string(),
                            in_a_row: self.violations_in_a_row,
                            error: error.clone(),
                        });
                }
                self.rec.call(
                    hold,
                    process,
                    f,
                    args,
                    at,
                    OpKind::Info,
                    Value::Error(format!("no reply from the client process: {error}")),
                    now,
                );
                eprintln!("fencepost: client {process}: {e}");
                self.replace().await;
                None
            }
        }
    }

    /// A reply whose numbers fencepost does arithmetic with, checked: a validity must be a
    /// whole number of milliseconds a run can hold (0 when the lease is already over).
    fn checked(&self, reply: Reply, op: &str) -> Result<Reply, ProtocolError> {
        if let Some(v) = reply.body.get("validity_ms").filter(|v| !v.is_null()) {
            let ok = v
                .as_i64()
                .is_some_and(|ms| (0..=checkers::history::MAX_MS as i64).contains(&ms));
            if !ok {
                return Err(ProtocolError::BadField {
                    adapter: self.info.library.clone(),
                    what: op.to_string(),
                    field: "validity_ms".into(),
                    value: checkers::quote::clip(&v.to_string()).into_owned(),
                    why: format!(
                        "a validity is whole milliseconds from the reply, 0..={} (0: the lease is over)",
                        checkers::history::MAX_MS
                    ),
                });
            }
        }
        Ok(reply)
    }

    /// What a reply means for the history.
    fn completion(&self, reply: &Reply, f: F) -> (OpKind, Value) {
        let error = || Value::Error(reply.error.clone().unwrap_or_else(|| reply.outcome.clone()));
        match reply.outcome.as_str() {
            "fail" => return (OpKind::Fail, error()),
            "info" => return (OpKind::Info, error()),
            _ => {}
        }
        let value = match f {
            F::Acquire if reply.flag("granted") == Some(true) => {
                let fence = match reply.int("fence") {
                    Some(f) if f >= 0 && self.info.supports.fencing_token => f as u64,
                    _ => self.shared.grants.fetch_add(1, Ordering::SeqCst) + 1,
                };
                Value::Granted(Grant {
                    fence,
                    token: reply.text("token").unwrap_or_default(),
                    // Set by the caller from the reply's times.
                    validity_end_ns: 0,
                })
            }
            F::Acquire => Value::Denied,
            F::Release if reply.flag("released") == Some(true) => Value::Released,
            // The library's release returns nothing (`released: null`): no answer to judge.
            F::Release if reply.body.get("released").is_some_and(Json::is_null) => Value::None,
            F::Release => Value::NotHeld,
            F::Extend if reply.flag("extended") == Some(true) => {
                Value::Extended { validity_end_ns: 0 }
            }
            F::Extend => Value::NotHeld,
            F::Held => Value::Belief {
                held: reply.flag("held") == Some(true),
            },
            F::Read | F::Write => {
                let r = reply
                    .body
                    .get("result")
                    .and_then(Json::as_array)
                    .and_then(|a| Some((a.first()?.as_i64()?, a.get(1)?.as_i64()?)));
                match r.map(|(a, v)| resource::answer(a, v)) {
                    Some(AccessResult::Accepted(v)) => Value::Accepted { value: v },
                    Some(AccessResult::Rejected(h)) => Value::Rejected { highest: h },
                    None => {
                        return (
                            OpKind::Info,
                            Value::Error("the access reply has no result [accepted, value]".into()),
                        )
                    }
                }
            }
            _ => Value::None,
        };
        (OpKind::Ok, value)
    }

    /// A lock call (acquire, extend, release): with `abandon_after_ms` when an abandon is armed
    /// for it, whose outcome goes back to the nemesis — recorded here as started and stopped when
    /// the adapter answered that it abandoned the call.
    async fn lock_call(
        &mut self,
        op: &str,
        mut fields: Map<String, Json>,
        f: F,
        args: Value,
    ) -> Option<(Reply, Nanos, Nanos)> {
        let Some((after_ms, fault, done)) = self.handle.field.take_abandon(op) else {
            return self.call(op, fields, f, args).await;
        };
        if !self.info.supports.abandon {
            let _ = done.send(Err(format!(
                "the adapter {} {} does not honour abandon_after_ms: its hello lacks supports.abandon",
                self.info.library, self.info.version
            )));
            return self.call(op, fields, f, args).await;
        }
        fields.insert("abandon_after_ms".into(), after_ms.into());
        let r = self.call(op, fields, f, args).await;
        let outcome = match &r {
            Some((reply, invoke, complete)) if abandoned(reply) => {
                let fault = Fault {
                    detail: format!(
                        "{op} abandoned after {after_ms} ms (the adapter answered {:.1} ms into the call)",
                        complete.saturating_sub(*invoke) as f64 / 1e6
                    ),
                    ..fault
                };
                self.rec.nemesis(F::Start, fault.clone());
                self.rec.nemesis(F::Stop, fault);
                Ok(())
            }
            Some((reply, invoke, complete)) => Err(format!(
                "the {op} returned within {after_ms} ms (outcome {} after {:.1} ms)",
                reply.outcome,
                complete.saturating_sub(*invoke) as f64 / 1e6
            )),
            None => Err(format!("the {op} got no reply (the process was replaced)")),
        };
        if outcome.is_ok() && op == "extend" {
            // The adapter forgot the lock object: there is nothing left to extend or release.
            self.held = None;
        }
        let _ = done.send(outcome);
        r
    }

    /// Starves the adapter's timer thread for `ms` (the client holds the lock): the fault starts
    /// when `starve` is sent and stops at its reply.
    async fn starve(&mut self, ms: u64, fault: Fault, done: FieldDone) {
        if !self.info.supports.starve {
            let _ = done.send(Err(format!(
                "the adapter {} {} does not answer starve: its hello lacks supports.starve",
                self.info.library, self.info.version
            )));
            return;
        }
        let Some(p) = self.proc.as_mut() else {
            let _ = done.send(Err("the client process is gone".into()));
            return;
        };
        let timeout = self.settings.reply_timeout + Duration::from_millis(ms);
        self.rec.nemesis(F::Start, fault.clone());
        let r = p.call("starve", obj(json!({ "ms": ms })), timeout).await;
        let stopped = |detail: String| Fault {
            detail: format!("{}; {detail}", fault.detail),
            ..fault.clone()
        };
        match r {
            Ok(reply) if reply.outcome == "ok" => self.rec.nemesis(F::Stop, fault.clone()),
            Ok(reply) => self.rec.nemesis(
                F::Stop,
                stopped(format!(
                    "the adapter answered {}: {}",
                    reply.outcome,
                    reply.error.as_deref().unwrap_or("no error given")
                )),
            ),
            Err(e) => {
                self.rec.nemesis(F::Stop, stopped(format!("no reply: {e}")));
                eprintln!("fencepost: client {}: {e}", self.process());
                self.replace().await;
            }
        }
        let _ = done.send(Ok(()));
    }

    fn fence(&self) -> Option<u64> {
        self.held.as_ref().map(|h| h.grant.fence)
    }

    async fn access(&mut self, write: Option<i64>) -> Option<i64> {
        let fence = self.fence();
        let (f, op, value) = match write {
            Some(v) => (F::Write, checkers::AccessOp::Write, v),
            None => (F::Read, checkers::AccessOp::Read, 0),
        };
        let pid = match self.process() {
            Process::Client(c) => c,
            Process::Nemesis => 0,
        };
        let fields = json!({
            "keys": resource::KEYS,
            "args": resource::args(pid, fence, op, value, self.settings.fenced),
        });
        let args = Value::Access { fence, write };
        let (reply, _, _) = self.call("access", obj(fields), f, args).await?;
        match self.completion(&reply, f) {
            (OpKind::Ok, Value::Accepted { value }) => Some(value),
            _ => None,
        }
    }

    /// The process died meanwhile (a kill fault): its critical section ends here.
    fn killed(&mut self) -> bool {
        self.proc.as_mut().is_none_or(|p| !p.alive())
    }
}

/// The adapter's answer to a call that carried `abandon_after_ms`: it gave up on it.
fn abandoned(reply: &Reply) -> bool {
    reply.outcome == "info"
        && reply
            .error
            .as_deref()
            .is_some_and(|e| e.starts_with("abandoned"))
}

fn obj(v: Json) -> Map<String, Json> {
    match v {
        Json::Object(m) => m,
        _ => Map::new(),
    }
}

impl LockCycle for ExternalClient {
    async fn acquire(&mut self) -> Option<(Grant, u64)> {
        if self.killed() {
            self.replace().await;
        }
        let ttl_ms = self.settings.ttl_ms;
        let args = Value::Lease {
            key: self.key(),
            ttl_ms,
        };
        self.held = None;
        let (reply, _, _) = self
            .lock_call(
                "acquire",
                obj(json!({ "ttl_ms": ttl_ms })),
                F::Acquire,
                args,
            )
            .await?;
        if reply.outcome != "ok" || reply.flag("granted") != Some(true) {
            return None;
        }
        let h = self.held.clone()?;
        Some((h.grant, h.valid_until))
    }

    async fn work(&mut self, _grant: &Grant, _valid_until: u64) {
        let Some(current) = self.access(None).await else {
            return;
        };
        // Holding the lock, after the read: where a starved timer thread hurts.
        if let Some((ms, fault, done)) = self.handle.field.take_starve() {
            self.starve(ms, fault, done).await;
            if self.proc.is_none() || self.held.is_none() || self.killed() {
                return;
            }
        }
        // A long section runs its length even in a contention burst (it is the workload's lease
        // to keep, not a delay): its extends race the others' hammering. The ordinary think
        // time is 0 then.
        let think = match self.settings.long_section {
            Some((long, one_in)) if rand::Rng::random_ratio(&mut self.rng, 1, one_in) => long,
            _ => Duration::from_millis(self.pacing.think_ms(&mut self.rng)),
        };
        let end = tokio::time::Instant::now() + think;
        while let Some(every) = self.settings.extend_every {
            let now = tokio::time::Instant::now();
            if now + every >= end {
                break;
            }
            tokio::time::sleep(every).await;
            let (Some(fence), key) = (self.fence(), self.key()) else {
                return;
            };
            let ttl_ms = self.settings.ttl_ms;
            let args = Value::Extension { key, fence, ttl_ms };
            match self
                .lock_call("extend", obj(json!({ "ttl_ms": ttl_ms })), F::Extend, args)
                .await
            {
                Some((r, _, _)) if r.outcome == "ok" && r.flag("extended") == Some(true) => {}
                // Not extended: the lease may be gone; stop working under it.
                _ => return,
            }
        }
        tokio::time::sleep_until(end).await;
        if self.settings.check_held {
            match self.call("held", Map::new(), F::Held, Value::None).await {
                Some((r, _, _)) if r.outcome == "ok" && r.flag("held") == Some(true) => {}
                _ => return,
            }
        }
        let valid_until = self.held.as_ref().map_or(0, |h| h.valid_until);
        if self.rec.now() >= valid_until {
            return;
        }
        // Past the validity check: a pause here is how a client acts on an expired lease.
        let control = self.control.clone();
        let gate = self.handle.gate.clone();
        gate.pause_point_with(self.process(), self.rec.as_ref(), &|stopped| {
            let _ = if stopped {
                control.stop()
            } else {
                control.cont()
            };
        })
        .await;
        if self.killed() {
            return;
        }
        self.access(Some(current + 1)).await;
    }

    async fn release(&mut self, _grant: &Grant) {
        if self.killed() {
            return;
        }
        let Some(fence) = self.fence() else { return };
        let args = Value::Held {
            key: self.key(),
            fence,
        };
        self.lock_call("release", Map::new(), F::Release, args)
            .await;
        self.held = None;
    }

    fn pacing(&mut self) -> (&mut ChaCha8Rng, &WorkloadConfig) {
        (&mut self.rng, &self.pacing)
    }
}
