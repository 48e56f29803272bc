//! Messaging workloads: what Redis promises about delivery, told apart by measurement.
//!
//! Producers publish uniquely numbered messages (`producer:seq`); every receipt (and, for
//! Streams, every acknowledgement) is recorded in the history, where the delivery checker
//! (`checkers::delivery`) counts lost, duplicated, unexpected and reordered messages.
//!
//! - **Pub/Sub** ([`subscriber`]): `PUBLISH` to a channel, each subscriber its own delivery
//!   group. Fire-and-forget: a subscriber that is not connected when a message is published never
//!   gets it — no acknowledgement, no replay.
//! - **Streams** ([`consumer`]): `XADD` to a stream read by one consumer group
//!   (`XREADGROUP` … `XACK`); a consumer claims entries another consumer read and never
//!   acknowledged (`XAUTOCLAIM`), so delivery is at least once: duplicates allowed, no loss.
//!
//! Producers ([`producer`]) are the same for both: one call per message, recorded as a call
//! (ok: the server replied; a timeout is `info`). After the run's stop, producers stop at once and
//! receivers keep reading for a drain period, so that what is still in flight at the stop is
//! received rather than counted lost.

pub mod consumer;
pub mod producer;
pub mod subscriber;

use checkers::Message;
use std::time::Duration;

/// The Pub/Sub channel every producer publishes to.
pub const CHANNEL: &str = "fencepost:messages";
/// The stream every producer appends to.
pub const STREAM: &str = "fencepost:stream";
/// The one consumer group reading the stream.
pub const GROUP: &str = "g1";
/// The stream entry's field that carries the message.
pub const FIELD: &str = "m";

/// Which delivery mechanism the workload exercises.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport {
    PubSub,
    Stream,
}

/// Pace and deadlines of a messaging workload.
#[derive(Debug, Clone)]
pub struct MessagingConfig {
    pub transport: Transport,
    /// Pause between two publishes of one producer: uniform in 0..=think_ms_max.
    pub think_ms_max: u64,
    pub op_timeout: Duration,
    /// How long receivers keep reading after the stop.
    pub drain: Duration,
    /// Streams: entries pending longer than this are claimed by another consumer.
    pub claim_idle: Duration,
    /// Streams: how long a crashed consumer stays dead before a fresh one replaces it.
    pub restart_delay: Duration,
    /// The run's client count (a restarted client's process id is `id + clients × generation`).
    pub clients: u32,
    /// Pad every payload to at least this many bytes (0: no padding): volume for output-buffer
    /// limits to bite on.
    pub payload_bytes: usize,
}

/// A message as it travels: `producer:seq`, then `:` and dots up to `payload_bytes` when padded.
pub fn encode(m: &Message, payload_bytes: usize) -> String {
    let mut s = format!("{}:{}", m.producer, m.seq);
    if payload_bytes > s.len() {
        s.push(':');
        let dots = payload_bytes.saturating_sub(s.len());
        s.extend(std::iter::repeat_n('.', dots));
    }
    s
}

/// The message a payload carries (group left empty), or `None` for a payload no producer of
/// this workload wrote.
pub fn decode(payload: &str) -> Option<Message> {
    let (p, rest) = payload.split_once(':')?;
    let s = match rest.split_once(':') {
        Some((s, pad)) if pad.bytes().all(|b| b == b'.') => s,
        Some(_) => return None,
        None => rest,
    };
    Some(Message {
        producer: p.parse().ok()?,
        seq: s.parse().ok()?,
        group: String::new(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payloads_roundtrip_and_foreign_ones_are_refused() {
        let m = Message {
            producer: 3,
            seq: 41,
            group: String::new(),
        };
        assert_eq!(decode(&encode(&m, 0)), Some(m.clone()));
        let padded = encode(&m, 1000);
        assert_eq!(padded.len(), 1000);
        assert_eq!(decode(&padded), Some(m.clone()));
        assert_eq!(encode(&m, 3), "3:41", "already longer than asked");
        assert_eq!(decode("hello"), None);
        assert_eq!(decode("1:x"), None);
        assert_eq!(decode("3:41:..x"), None, "padding is dots only");
    }
}
