//! `[workload]`, `[resource]` and `[sentinel]`: what the clients do, the data they guard, and the
//! replicated set-up they may run on.

use super::lock::LockKind;
use crate::duration::Dur;
use crate::invalid::{ensure, Invalid};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ResourceSpec {
    /// Whether the resource rejects accesses with stale fencing tokens.
    #[serde(default)]
    pub fenced: bool,
}

/// Sentinel failover settings.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SentinelSpec {
    /// How many Sentinels (quorum: a majority of them).
    #[serde(default = "d_sentinels")]
    pub sentinels: u32,
    /// `down-after-milliseconds`: how long the primary must be silent to be judged down.
    #[serde(default = "d_down_after")]
    pub down_after: Dur,
    /// `failover-timeout` (the Redis docs' example value when absent).
    #[serde(default = "d_failover_timeout")]
    pub failover_timeout: Dur,
}

fn d_sentinels() -> u32 {
    3
}
fn d_down_after() -> Dur {
    ms(1000)
}
fn d_failover_timeout() -> Dur {
    ms(60_000)
}

/// What the clients do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum WorkloadKind {
    /// Contend for the lock and increment the protected resource under it.
    #[default]
    Lock,
    /// `INCR` a counter on the (primary) lock node.
    Counter,
    /// Acquire the lock, `GET` the counter on the storage node, `SET` it + 1, release.
    RmwCounter,
    /// Fixed-window rate limiter (`INCR` + `PEXPIRE` on the first request, a key per window).
    FixedWindow,
    /// Sliding-window rate limiter (`ZREMRANGEBYSCORE` + `ZCARD` + `ZADD` in one script).
    SlidingWindow,
    /// Producers `PUBLISH` numbered messages; every other client is a subscriber.
    Pubsub,
    /// Producers `XADD` numbered messages; every other client is a consumer of one group.
    Stream,
}

impl WorkloadKind {
    pub fn name(self) -> &'static str {
        match self {
            WorkloadKind::Lock => "lock",
            WorkloadKind::Counter => "counter",
            WorkloadKind::RmwCounter => "rmw-counter",
            WorkloadKind::FixedWindow => "fixed-window",
            WorkloadKind::SlidingWindow => "sliding-window",
            WorkloadKind::Pubsub => "pubsub",
            WorkloadKind::Stream => "stream",
        }
    }

    /// Its clients publish and receive messages that the delivery checker can judge.
    pub fn is_messaging(self) -> bool {
        matches!(self, WorkloadKind::Pubsub | WorkloadKind::Stream)
    }

    pub fn is_limiter(self) -> bool {
        matches!(
            self,
            WorkloadKind::FixedWindow | WorkloadKind::SlidingWindow
        )
    }

    /// Its clients take the lock (and pass a pause point while holding it).
    pub fn uses_lock(self) -> bool {
        matches!(self, WorkloadKind::Lock | WorkloadKind::RmwCounter)
    }

    /// Its clients read and write the protected resource (through its script and log).
    pub fn uses_resource(self) -> bool {
        self == WorkloadKind::Lock
    }

    /// Its clients increment a counter that the counter checker can judge.
    pub fn counts(self) -> bool {
        matches!(self, WorkloadKind::Counter | WorkloadKind::RmwCounter)
    }

    /// It runs on remote set-ups (nodes fencepost did not start) so far.
    pub fn runs_remote(self) -> bool {
        matches!(
            self,
            WorkloadKind::Lock | WorkloadKind::Counter | WorkloadKind::RmwCounter
        )
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WorkloadSpec {
    /// What the clients do (`lock` when absent).
    #[serde(default)]
    pub kind: WorkloadKind,
    /// Counter: one op in `read_one_in` is a read, the rest increments (0 = no reads).
    #[serde(default = "d_read_one_in")]
    pub read_one_in: u32,
    /// Rate limiters: at most `limit` requests admitted per `window`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub window: Option<Dur>,
    /// RMW counter: after each grant, `WAIT wait_replicas wait_timeout` and act only on a grant
    /// that many replicas acknowledged. INCR counter: after each `INCR`, the same `WAIT`; an
    /// increment fewer replicas acknowledged is recorded `info`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wait_replicas: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wait_timeout: Option<Dur>,
    #[serde(default = "d_think")]
    pub think_max: Dur,
    #[serde(default = "d_retry_min")]
    pub retry_min: Dur,
    #[serde(default = "d_retry_max")]
    pub retry_max: Dur,
    #[serde(default = "d_idle")]
    pub idle_max: Dur,
    /// Messaging: how many of the clients are producers (the first ones); the rest receive.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub producers: Option<u32>,
    /// Messaging: how long receivers keep reading after the stop (what is in flight arrives).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub drain: Option<Dur>,
    /// Streams: entries pending longer than this are claimed by another consumer (`XAUTOCLAIM`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub claim_idle: Option<Dur>,
    /// Streams: how long a crashed consumer stays dead before a fresh one takes its place.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub restart_delay: Option<Dur>,
    /// Messaging: pad every payload to this many bytes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payload_bytes: Option<u32>,
    /// Pub/Sub: the node's hard `client-output-buffer-limit pubsub`, e.g. "256kb" (Redis's default
    /// is 32mb hard, 8mb soft over 60 s): a subscriber whose unread replies pass it is disconnected.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pubsub_buffer_limit: Option<String>,
}

/// Bytes in a Redis memory size: `256kb`, `1mb`, `1gb` (powers of 1024, as redis.conf reads
/// them) or plain bytes.
pub fn parse_size(s: &str) -> Option<u64> {
    let t = s.trim().to_ascii_lowercase();
    let (n, unit) = match t.find(|c: char| !c.is_ascii_digit()) {
        Some(i) => t.split_at(i),
        None => (t.as_str(), ""),
    };
    let n: u64 = n.parse().ok()?;
    let unit = match unit {
        "" | "b" => 1,
        "kb" => 1 << 10,
        "mb" => 1 << 20,
        "gb" => 1 << 30,
        _ => return None,
    };
    n.checked_mul(unit)
}

fn ms(n: u64) -> Dur {
    Dur(std::time::Duration::from_millis(n))
}
fn d_read_one_in() -> u32 {
    5
}
fn d_think() -> Dur {
    ms(5)
}
fn d_retry_min() -> Dur {
    ms(2)
}
fn d_retry_max() -> Dur {
    ms(20)
}
fn d_idle() -> Dur {
    ms(10)
}

impl Default for WorkloadSpec {
    fn default() -> Self {
        WorkloadSpec {
            kind: WorkloadKind::default(),
            read_one_in: d_read_one_in(),
            limit: None,
            window: None,
            wait_replicas: None,
            wait_timeout: None,
            think_max: d_think(),
            retry_min: d_retry_min(),
            retry_max: d_retry_max(),
            idle_max: d_idle(),
            producers: None,
            drain: None,
            claim_idle: None,
            restart_delay: None,
            payload_bytes: None,
            pubsub_buffer_limit: None,
        }
    }
}

impl WorkloadSpec {
    /// Settings present where they apply, and only there; `lock` is the lock the clients would
    /// take (no silent fallback: a combination the clients cannot run is refused here).
    pub fn validate(&self, lock: LockKind, clients: u32) -> Result<(), Invalid> {
        ensure(self.retry_min <= self.retry_max, "retry_min", || {
            format!(
                "[workload] retry_min {} is larger than retry_max {}",
                self.retry_min, self.retry_max
            )
        })?;
        if self.kind.is_limiter() {
            let ok =
                matches!((self.limit, self.window), (Some(l), Some(w)) if l > 0 && !w.0.is_zero());
            ensure(ok, "kind", || {
                "[workload] a rate limiter needs limit = N > 0 and window = \"1s\" (> 0)".into()
            })?;
        } else {
            ensure(
                self.limit.is_none() && self.window.is_none(),
                "limit",
                || {
                    "[workload] limit and window apply to kind = \"fixed-window\" or \"sliding-window\" only".into()
                },
            )?;
        }
        if self.kind.is_messaging() {
            ensure(
                self.producers.is_some_and(|p| p >= 1 && p < clients),
                "producers",
                || {
                    format!("[workload] kind = \"{}\" needs producers = N with 1 <= N < [run] clients ({clients}): the first N clients publish, the others receive", self.kind.name())
                },
            )?;
            ensure(lock == LockKind::Single, "kind", || {
                "[workload] messaging runs on the lock node n1: use [lock] kind = \"single\" (the lock itself is not taken)".into()
            })?;
        } else {
            ensure(
                self.producers.is_none() && self.drain.is_none(),
                "producers",
                || {
                    "[workload] producers and drain apply to kind = \"pubsub\" or \"stream\" only"
                        .into()
                },
            )?;
        }
        if let (WorkloadKind::Stream, Some(drain)) = (self.kind, self.drain) {
            let claim_idle = self.claim_idle.map_or(1000, |d| d.ms());
            ensure(drain.ms() >= 2 * claim_idle, "drain", || {
                format!("[workload] drain = \"{drain}\" is too short for a stream: an unacknowledged entry can be claimed once idle claim_idle ({claim_idle} ms), by a claim every claim_idle / 2; use drain >= {} ms, or leave it out", 2 * claim_idle)
            })?;
        }
        ensure(
            self.payload_bytes.is_none() || self.kind.is_messaging(),
            "payload_bytes",
            || "[workload] payload_bytes applies to kind = \"pubsub\" or \"stream\" only".into(),
        )?;
        ensure(
            self.payload_bytes.is_none_or(|b| b <= 1 << 20),
            "payload_bytes",
            || "[workload] payload_bytes must be at most 1048576 (1 MiB)".into(),
        )?;
        if let Some(limit) = &self.pubsub_buffer_limit {
            ensure(
                self.kind == WorkloadKind::Pubsub,
                "pubsub_buffer_limit",
                || "[workload] pubsub_buffer_limit applies to kind = \"pubsub\" only".into(),
            )?;
            ensure(
                parse_size(limit).is_some_and(|b| b > 0),
                "pubsub_buffer_limit",
                || {
                    format!("[workload] pubsub_buffer_limit = \"{limit}\" is not a size: write e.g. \"256kb\" or \"1mb\"")
                },
            )?;
        }
        ensure(
            (self.claim_idle.is_none() && self.restart_delay.is_none())
                || self.kind == WorkloadKind::Stream,
            "claim_idle",
            || "[workload] claim_idle and restart_delay apply to kind = \"stream\" only".into(),
        )?;
        ensure(
            (self.wait_replicas.is_none() && self.wait_timeout.is_none())
                || matches!(self.kind, WorkloadKind::RmwCounter | WorkloadKind::Counter),
            "wait_replicas",
            || {
                "[workload] wait_replicas applies to kind = \"rmw-counter\" and \"counter\" only"
                    .into()
            },
        )?;
        ensure(
            !(self.kind == WorkloadKind::RmwCounter && lock == LockKind::Redlock),
            "kind",
            || {
                "[workload] kind = \"rmw-counter\" takes a single-instance lock on the (primary) lock node: use [lock] kind = \"single\" or \"naive\", not \"redlock\"".into()
            },
        )
    }
}

/// The delivery groups that must receive every message: each subscriber; or the consumer group,
/// and the stream itself as read back after the run.
pub fn expected_groups(kind: WorkloadKind, producers: u32, clients: u32) -> Vec<String> {
    use workloads::messaging::{consumer::REPLAY, GROUP};
    match kind {
        WorkloadKind::Pubsub => (producers..clients).map(|id| format!("s{id}")).collect(),
        _ => vec![GROUP.to_string(), REPLAY.to_string()],
    }
}

#[cfg(test)]
mod tests {
    use super::parse_size;

    #[test]
    fn sizes_read_as_redis_conf_reads_them() {
        assert_eq!(parse_size("256kb"), Some(256 * 1024));
        assert_eq!(parse_size("1MB"), Some(1 << 20));
        assert_eq!(parse_size("4096"), Some(4096));
        assert_eq!(parse_size("1.5mb"), None);
        assert_eq!(parse_size("lots"), None);
    }
}
