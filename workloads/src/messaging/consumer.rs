//! A Streams consumer in the run's consumer group: read, record, acknowledge; claim what others
//! left pending.
//!
//! Each round it reads new entries (`XREADGROUP GROUP g1 c{id} … STREAMS stream >`), records a
//! receipt for each, passes its pause point (where a nemesis may make it crash, as a process
//! killed between reading and acknowledging would), then acknowledges them (`XACK`) and records
//! the acks. Every `claim_idle / 2` it claims entries that have been pending longer than
//! `claim_idle` (`XAUTOCLAIM`) — a crashed consumer's, or its own whose acknowledgement was lost
//! — and handles them the same way. That is the at-least-once recipe the Redis documentation
//! gives; the run measures whether it loses anything and how many duplicates it costs.
//!
//! After the run, [`replay`] reads the whole stream once, as its own delivery group: what the
//! stream itself kept of every acknowledged `XADD`.
//!
//! A crashed consumer comes back after `restart_delay` as a fresh one: a new consumer name
//! (`c{id}-{generation}`) and a new process id in the history, as Jepsen does for a killed
//! client. Its old name's pending entries are left for `XAUTOCLAIM` to find.

use super::{decode, MessagingConfig, FIELD, GROUP, STREAM};
use crate::cycle::stopped;
use crate::outcome::{with_timeout, CallError};
use crate::pause::{Fired, PauseGate};
use crate::primary::Primary;
use crate::record::Record;
use checkers::{Message, OpKind, Process, Value, F};
use redis::streams::{StreamAutoClaimReply, StreamId, StreamRangeReply, StreamReadReply};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;
use tokio::time::Instant;

/// How long one `XREADGROUP` blocks waiting for new entries.
const BLOCK_MS: u64 = 100;
/// Entries per read or claim.
const BATCH: u64 = 50;
/// The delivery group of the replay: what the stream itself still holds after the run.
pub const REPLAY: &str = "replay";

/// Creates the consumer group (reading the stream from its start), before any producer runs.
pub async fn create_group(primary: &mut Primary, timeout: Duration) -> Result<(), CallError> {
    let conn = primary.conn().await?;
    let r: Result<String, CallError> = with_timeout(
        timeout,
        redis::cmd("XGROUP")
            .arg("CREATE")
            .arg(STREAM)
            .arg(GROUP)
            .arg("0")
            .arg("MKSTREAM")
            .query_async(conn),
    )
    .await;
    match r {
        Ok(_) => Ok(()),
        Err(CallError::Refused(e)) if e.contains("BUSYGROUP") => Ok(()),
        Err(e) => Err(e),
    }
}

/// After the run, reads the whole stream once (`XRANGE`, in batches) and records a receipt in
/// the [`REPLAY`] group for each entry: an acknowledged `XADD` missing here is gone from the stream
/// (lost in a failover, say), whether or not a consumer had read it before.
pub async fn replay(
    conn: &mut (impl redis::aio::ConnectionLike + Send),
    rec: &dyn Record,
    process: Process,
) -> Result<u64, CallError> {
    let mut start = "-".to_string();
    let mut entries = 0;
    loop {
        let batch: StreamRangeReply = with_timeout(
            Duration::from_secs(5),
            redis::cmd("XRANGE")
                .arg(STREAM)
                .arg(&start)
                .arg("+")
                .arg("COUNT")
                .arg(1000)
                .query_async(conn),
        )
        .await?;
        let Some(last) = batch.ids.last() else {
            return Ok(entries);
        };
        start = format!("({}", last.id);
        for e in batch.ids {
            let (_, m) = entry_message(e, REPLAY);
            let p = rec.invoke(process, F::Receive, Value::Message(m.clone()));
            rec.complete(p, OpKind::Ok, Value::Message(m));
            entries += 1;
        }
    }
}

pub struct Consumer {
    pub id: u32,
    pub primary: Primary,
    pub rec: Arc<dyn Record>,
    pub gate: Arc<PauseGate>,
    pub config: MessagingConfig,
    generation: u32,
}

impl Consumer {
    pub fn new(
        id: u32,
        primary: Primary,
        rec: Arc<dyn Record>,
        gate: Arc<PauseGate>,
        config: MessagingConfig,
    ) -> Consumer {
        Consumer {
            id,
            primary,
            rec,
            gate,
            config,
            generation: 0,
        }
    }

    fn name(&self) -> String {
        match self.generation {
            0 => format!("c{}", self.id),
            g => format!("c{}-{g}", self.id),
        }
    }

    fn process(&self) -> Process {
        Process::Client(self.id + self.config.clients * self.generation)
    }

    pub async fn run(mut self, mut stop: watch::Receiver<bool>) {
        let mut drain_until: Option<Instant> = None;
        let mut last_claim = Instant::now();
        let claim_every = self.config.claim_idle / 2;
        loop {
            if drain_until.is_none() && *stop.borrow() {
                drain_until = Some(Instant::now() + self.config.drain);
            }
            if drain_until.is_some_and(|d| Instant::now() >= d) {
                return;
            }
            let entries = if last_claim.elapsed() >= claim_every {
                last_claim = Instant::now();
                self.claim().await
            } else {
                self.read().await
            };
            let entries = match entries {
                Ok(entries) => entries,
                Err(e) => {
                    self.primary.saw(&e);
                    tokio::time::sleep(Duration::from_millis(BLOCK_MS)).await;
                    continue;
                }
            };
            if entries.is_empty() {
                continue;
            }
            for (_, m) in &entries {
                self.event(F::Receive, m);
            }
            if let Fired::Crash(fault) = self.gate.pause_point(self.process(), &*self.rec).await {
                // Dead until the restart (or the end of the drain): nothing read is acknowledged.
                let mut until = Instant::now() + self.config.restart_delay;
                if let Some(d) = drain_until {
                    until = until.min(d);
                }
                tokio::select! {
                    _ = tokio::time::sleep_until(until) => {}
                    _ = stopped(&mut stop), if drain_until.is_none() => {
                        drain_until = Some(Instant::now() + self.config.drain);
                        tokio::time::sleep_until(until.min(Instant::now() + self.config.drain)).await;
                    }
                }
                self.generation += 1;
                self.rec.nemesis(F::Stop, fault);
                continue;
            }
            let ids: Vec<&str> = entries.iter().map(|(id, _)| id.as_str()).collect();
            match self.ack(&ids).await {
                Ok(()) => {
                    for (_, m) in &entries {
                        self.event(F::Ack, m);
                    }
                }
                Err(e) => self.primary.saw(&e),
            }
        }
    }

    /// Records a receipt or an ack: an event, an invoke at once completed.
    fn event(&self, f: F, m: &Message) {
        let p = self
            .rec
            .invoke(self.process(), f, Value::Message(m.clone()));
        self.rec.complete(p, OpKind::Ok, Value::Message(m.clone()));
    }

    async fn read(&mut self) -> Result<Vec<(String, Message)>, CallError> {
        let name = self.name();
        let timeout = self.config.op_timeout + Duration::from_millis(BLOCK_MS);
        let conn = self.primary.conn().await?;
        let reply: Option<StreamReadReply> = with_timeout(
            timeout,
            redis::cmd("XREADGROUP")
                .arg("GROUP")
                .arg(GROUP)
                .arg(&name)
                .arg("COUNT")
                .arg(BATCH)
                .arg("BLOCK")
                .arg(BLOCK_MS)
                .arg("STREAMS")
                .arg(STREAM)
                .arg(">")
                .query_async(conn),
        )
        .await?;
        Ok(reply
            .into_iter()
            .flat_map(|r| r.keys)
            .flat_map(|k| k.ids)
            .map(|e| self.message(e))
            .collect())
    }

    async fn claim(&mut self) -> Result<Vec<(String, Message)>, CallError> {
        let name = self.name();
        let timeout = self.config.op_timeout;
        let idle_ms = self.config.claim_idle.as_millis() as u64;
        let conn = self.primary.conn().await?;
        let reply: StreamAutoClaimReply = with_timeout(
            timeout,
            redis::cmd("XAUTOCLAIM")
                .arg(STREAM)
                .arg(GROUP)
                .arg(&name)
                .arg(idle_ms)
                .arg("0-0")
                .arg("COUNT")
                .arg(BATCH)
                .query_async(conn),
        )
        .await?;
        Ok(reply.claimed.into_iter().map(|e| self.message(e)).collect())
    }

    async fn ack(&mut self, ids: &[&str]) -> Result<(), CallError> {
        let timeout = self.config.op_timeout;
        let conn = self.primary.conn().await?;
        let _acked: i64 = with_timeout(
            timeout,
            redis::cmd("XACK")
                .arg(STREAM)
                .arg(GROUP)
                .arg(ids)
                .query_async(conn),
        )
        .await?;
        Ok(())
    }

    fn message(&self, e: StreamId) -> (String, Message) {
        entry_message(e, GROUP)
    }
}

/// An entry's id and message, received in `group` (a foreign entry is still a receipt: the
/// checker calls it unexpected).
fn entry_message(e: StreamId, group: &str) -> (String, Message) {
    let payload: String = e.get(FIELD).unwrap_or_default();
    let m = decode(&payload).unwrap_or(Message {
        producer: u32::MAX,
        seq: 0,
        group: String::new(),
    });
    (
        e.id,
        Message {
            group: group.to_string(),
            ..m
        },
    )
}
