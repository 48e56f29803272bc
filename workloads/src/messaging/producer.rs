//! A producer: publishes numbered messages, one call each, as fast as its think time allows.
//!
//! `PUBLISH` (Pub/Sub) or `XADD` (Streams) on the primary. Every attempt is a new message (a new
//! seq): a message whose publish timed out is never retried under the same number, so the
//! checker can tell "sent, maybe" (`info`) from "sent" (`ok`) for each.

use super::{encode, MessagingConfig, Transport, CHANNEL, FIELD, STREAM};
use crate::cycle::sleep_or_stop;
use crate::outcome::{with_timeout, CallError};
use crate::primary::Primary;
use crate::record::Record;
use checkers::{Message, OpKind, Process, Value, F};
use rand::Rng;
use rand_chacha::ChaCha8Rng;
use std::sync::Arc;
use tokio::sync::watch;

pub struct Producer {
    pub id: u32,
    pub primary: Primary,
    pub rec: Arc<dyn Record>,
    pub rng: ChaCha8Rng,
    pub config: MessagingConfig,
}

impl Producer {
    pub async fn run(mut self, mut stop: watch::Receiver<bool>) {
        let process = Process::Client(self.id);
        let mut seq = 0;
        while !*stop.borrow() {
            seq += 1;
            let m = Message {
                producer: self.id,
                seq,
                group: String::new(),
            };
            let p = self
                .rec
                .invoke(process, F::Publish, Value::Message(m.clone()));
            match self.publish(&m).await {
                Ok(()) => self.rec.complete(p, OpKind::Ok, Value::Message(m)),
                Err(e) => {
                    self.primary.saw(&e);
                    self.rec.complete(p, e.kind(), e.value());
                }
            }
            let think = self.rng.random_range(0..=self.config.think_ms_max);
            sleep_or_stop(think, &mut stop).await;
        }
    }

    async fn publish(&mut self, m: &Message) -> Result<(), CallError> {
        let timeout = self.config.op_timeout;
        let payload = encode(m, self.config.payload_bytes);
        let conn = self.primary.conn().await?;
        match self.config.transport {
            Transport::PubSub => {
                let _receivers: i64 = with_timeout(
                    timeout,
                    redis::cmd("PUBLISH")
                        .arg(CHANNEL)
                        .arg(&payload)
                        .query_async(conn),
                )
                .await?;
            }
            Transport::Stream => {
                let _id: String = with_timeout(
                    timeout,
                    redis::cmd("XADD")
                        .arg(STREAM)
                        .arg("*")
                        .arg(FIELD)
                        .arg(&payload)
                        .query_async(conn),
                )
                .await?;
            }
        }
        Ok(())
    }
}
