//! A Pub/Sub subscriber: its own connection, subscribed to the channel, every message recorded.
//!
//! It is its own delivery group (`s{id}`): Pub/Sub sends every subscriber every message published
//! while it is subscribed, and nothing else. Like the client libraries' health checks (redis-py's
//! `health_check_interval`), it pings its connection; a ping or a read that fails drops the
//! connection and the subscriber connects and subscribes again. Whatever was published in between
//! is gone: that is the promise being measured. The first subscription is made before the run
//! starts ([`Subscriber::connect`]), so no producer publishes before anyone listens.

use super::{decode, MessagingConfig, CHANNEL};
use crate::cycle::stopped;
use crate::record::Record;
use checkers::{Message, OpKind, Process, Value, F};
use futures_util::StreamExt;
use redis::aio::{PubSubSink, PubSubStream};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;
use tokio::time::Instant;

/// How often the subscriber checks its connection.
const PING_EVERY: Duration = Duration::from_millis(200);
/// How long it waits before connecting again after a failed attempt.
const RECONNECT_PAUSE: Duration = Duration::from_millis(50);

pub struct Subscriber {
    pub id: u32,
    url: String,
    rec: Arc<dyn Record>,
    config: MessagingConfig,
    /// Its delivery group: `s{id}`.
    group: String,
    live: Option<(PubSubSink, PubSubStream)>,
}

impl Subscriber {
    /// Connects and subscribes, before the run starts.
    pub async fn connect(
        id: u32,
        url: &str,
        rec: Arc<dyn Record>,
        config: MessagingConfig,
    ) -> Result<Subscriber, String> {
        let live = subscribe(url, config.op_timeout).await?;
        Ok(Subscriber {
            id,
            url: url.to_string(),
            rec,
            config,
            group: format!("s{id}"),
            live: Some(live),
        })
    }

    pub async fn run(mut self, mut stop: watch::Receiver<bool>) {
        let mut drain_until: Option<Instant> = None;
        loop {
            if drain_until.is_some_and(|d| Instant::now() >= d) {
                return;
            }
            let (mut sink, mut stream) = match self.live.take() {
                Some(live) => live,
                None => match subscribe(&self.url, self.config.op_timeout).await {
                    Ok(live) => live,
                    Err(_) => {
                        if *stop.borrow() && drain_until.is_none() {
                            drain_until = Some(Instant::now() + self.config.drain);
                        }
                        tokio::time::sleep(RECONNECT_PAUSE).await;
                        continue;
                    }
                },
            };
            let mut ping = tokio::time::interval(PING_EVERY);
            ping.reset();
            loop {
                let deadline =
                    drain_until.unwrap_or_else(|| Instant::now() + Duration::from_secs(3600));
                tokio::select! {
                    msg = stream.next() => match msg {
                        Some(msg) => {
                            let payload: String = msg.get_payload().unwrap_or_default();
                            self.received(&payload);
                        }
                        None => break, // the connection closed: subscribe again
                    },
                    _ = ping.tick() => {
                        let alive = tokio::time::timeout(self.config.op_timeout, sink.ping::<redis::Value>()).await;
                        if !matches!(alive, Ok(Ok(_))) {
                            break; // no answer: drop the connection and subscribe again
                        }
                    }
                    _ = stopped(&mut stop), if drain_until.is_none() => {
                        drain_until = Some(Instant::now() + self.config.drain);
                    }
                    _ = tokio::time::sleep_until(deadline), if drain_until.is_some() => return,
                }
            }
        }
    }

    fn received(&self, payload: &str) {
        let group = self.group.clone();
        // A payload no producer wrote is still a receipt: the checker calls it unexpected.
        let m = decode(payload).unwrap_or(Message {
            producer: u32::MAX,
            seq: 0,
            group: String::new(),
        });
        let m = Message { group, ..m };
        let p = self.rec.invoke(
            Process::Client(self.id),
            F::Receive,
            Value::Message(m.clone()),
        );
        self.rec.complete(p, OpKind::Ok, Value::Message(m));
    }
}

async fn subscribe(url: &str, timeout: Duration) -> Result<(PubSubSink, PubSubStream), String> {
    let client = redis::Client::open(url).map_err(|e| format!("bad redis URL: {e}"))?;
    let attempt = async {
        let mut pubsub = client.get_async_pubsub().await?;
        pubsub.subscribe(CHANNEL).await?;
        Ok::<_, redis::RedisError>(pubsub.split())
    };
    match tokio::time::timeout(timeout * 2, attempt).await {
        Ok(Ok(live)) => Ok(live),
        Ok(Err(e)) => Err(e.to_string()),
        Err(_) => Err(format!(
            "subscribing timed out after {} ms",
            (timeout * 2).as_millis()
        )),
    }
}
