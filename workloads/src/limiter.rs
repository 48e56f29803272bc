//! Rate-limiter workloads: the two limiters everyone copies.
//!
//! - **Fixed window** ([`LimiterKind::FixedWindow`]): one key per window, `INCR` it, and on the
//!   first request of the window (`INCR` returned 1) `PEXPIRE` it, as two commands — the pattern
//!   from countless blog posts. The window number comes from the client's clock. Its known flaw:
//!   `limit` requests at the end of one window and `limit` at the start of the next are 2 × limit
//!   in much less than W, with no fault at all.
//! - **Sliding window** ([`LimiterKind::SlidingWindow`]): a sorted set of admitted requests scored
//!   by the node's time (`TIME`); one Lua script trims entries older than W
//!   (`ZREMRANGEBYSCORE`), counts (`ZCARD`) and admits (`ZADD`) atomically. It keeps its promise
//!   as long as the node's clock does: a clock jump on the node moves every score's meaning.
//!
//! Each request is a `request` op, `ok` with `Admitted(true | false)`; a timeout is `info`.

use crate::clock::Clock;
use crate::cycle::sleep_or_stop;
use crate::outcome::{with_timeout, CallError};
use crate::primary::Primary;
use crate::record::Record;
use checkers::{OpKind, Process, Value, F};
use rand::Rng;
use rand_chacha::ChaCha8Rng;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;

pub const FIXED_PREFIX: &str = "fencepost:limiter:fixed:";
pub const SLIDING_KEY: &str = "fencepost:limiter:sliding";

const SLIDING: &str = r#"
local t = redis.call('TIME')
local now_us = tonumber(t[1]) * 1000000 + tonumber(t[2])
local window_us = tonumber(ARGV[1])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now_us - window_us)
if redis.call('ZCARD', KEYS[1]) < tonumber(ARGV[2]) then
  redis.call('ZADD', KEYS[1], now_us, ARGV[3])
  redis.call('PEXPIRE', KEYS[1], math.ceil(window_us / 1000))
  return 1
end
return 0
"#;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LimiterKind {
    FixedWindow,
    SlidingWindow,
}

/// The limiter's promise and the client's pace.
#[derive(Debug, Clone)]
pub struct LimiterConfig {
    pub kind: LimiterKind,
    /// At most `limit` requests admitted per window.
    pub limit: u64,
    pub window: Duration,
    /// Pause between requests: uniform in 0..=think_ms_max.
    pub think_ms_max: u64,
    pub op_timeout: Duration,
}

pub struct LimiterClient {
    pub id: u32,
    pub node: Primary,
    pub clock: Clock,
    pub rec: Arc<dyn Record>,
    pub rng: ChaCha8Rng,
    pub config: LimiterConfig,
    script: redis::Script,
    seq: u64,
}

impl LimiterClient {
    pub fn new(
        id: u32,
        node: Primary,
        clock: Clock,
        rec: Arc<dyn Record>,
        rng: ChaCha8Rng,
        config: LimiterConfig,
    ) -> Self {
        LimiterClient {
            id,
            node,
            clock,
            rec,
            rng,
            config,
            script: redis::Script::new(SLIDING),
            seq: 0,
        }
    }

    pub async fn run(mut self, mut stop: watch::Receiver<bool>) {
        let process = Process::Client(self.id);
        while !*stop.borrow() {
            let p = self.rec.invoke(process, F::Request, Value::None);
            let r = match self.config.kind {
                LimiterKind::FixedWindow => self.fixed().await,
                LimiterKind::SlidingWindow => self.sliding().await,
            };
            match r {
                Ok(admitted) => self.rec.complete(p, OpKind::Ok, Value::Admitted(admitted)),
                Err(e) => {
                    self.node.saw(&e);
                    self.rec.complete(p, e.kind(), e.value());
                }
            }
            let think = self.rng.random_range(0..=self.config.think_ms_max);
            sleep_or_stop(think, &mut stop).await;
        }
    }

    async fn fixed(&mut self) -> Result<bool, CallError> {
        let window_ns = self.config.window.as_nanos().max(1) as u64;
        let key = format!("{FIXED_PREFIX}{}", self.clock.client_ns() / window_ns);
        let timeout = self.config.op_timeout;
        let conn = self.node.conn().await?;
        let count: i64 =
            with_timeout(timeout, redis::cmd("INCR").arg(&key).query_async(conn)).await?;
        if count == 1 {
            let _: i64 = with_timeout(
                timeout,
                redis::cmd("PEXPIRE")
                    .arg(&key)
                    .arg(self.config.window.as_millis() as u64)
                    .query_async(conn),
            )
            .await?;
        }
        Ok(count as u64 <= self.config.limit)
    }

    async fn sliding(&mut self) -> Result<bool, CallError> {
        self.seq += 1;
        let member = format!("{}-{}", self.id, self.seq);
        let mut inv = self.script.prepare_invoke();
        inv.key(SLIDING_KEY)
            .arg(self.config.window.as_micros() as u64)
            .arg(self.config.limit)
            .arg(member);
        let timeout = self.config.op_timeout;
        let conn = self.node.conn().await?;
        let admitted: i64 = with_timeout(timeout, inv.invoke_async(conn)).await?;
        Ok(admitted == 1)
    }
}
