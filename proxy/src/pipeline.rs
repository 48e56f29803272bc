//! The toxic pipeline of one direction of one connection: a chain of stages, one per toxic, that
//! data passes through in order, like Toxiproxy's chain of stubs, but run by the connection's own
//! task as a timed state machine instead of a goroutine per stub.
//!
//! Each stage is a FIFO of items with the logical time they leave it. A stage works serially (it
//! is "busy" until `last_out`), so data keeps its order and delays do not add up across chunks:
//! a 100 ms latency delays every chunk by 100 ms after it was read, as Toxiproxy does. Times are
//! logical (read time plus the delays so far), so timer slop does not accumulate either.
//!
//! Chain changes apply to open connections: a new toxic joins at the end of the chain, a removed
//! toxic hands what it held to the next stage at once, an updated toxic re-times what it holds.
//! The pipeline owns no sockets; the link reads into it and writes out of it.

use std::collections::VecDeque;
use std::time::Duration;

use bytes::Bytes;
use rand::Rng;
use rand_chacha::ChaCha8Rng;
use tokio::time::Instant;

use super::rng::toxic_rng;
use super::toxic::{Toxic, ToxicKind};

/// What flows through a pipeline.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Chunk {
    Data(Bytes),
    /// The source closed its side: pass the close on (FIN).
    Eof,
    /// A toxic closes the whole connection (limit_data, timeout).
    Close,
}

#[derive(Debug)]
struct Item {
    /// When the item entered this stage (logical time).
    arrival: Instant,
    /// When it leaves this stage (logical time).
    ready: Instant,
    chunk: Chunk,
}

/// A toxic as the registry publishes it: `serial` is its identity (a re-created toxic with the
/// same name is a new toxic), `revision` counts updates.
#[derive(Clone, Debug)]
pub(crate) struct ToxicEntry {
    pub(crate) serial: u64,
    pub(crate) revision: u64,
    pub(crate) toxic: Toxic,
}

struct Stage {
    serial: u64,
    revision: u64,
    kind: ToxicKind,
    /// The toxicity roll for this connection: an inactive stage passes data unchanged.
    active: bool,
    rng: ChaCha8Rng,
    queue: VecDeque<Item>,
    last_out: Option<Instant>,
    attached_at: Instant,
    /// limit_data: bytes passed so far (kept across updates, as Toxiproxy's stub state).
    sent_bytes: u64,
    /// timeout / reset_peer: bytes thrown away (the stream has a hole).
    discarded_bytes: u64,
    /// reset_peer: when the reset fires, once armed.
    reset_at: Option<Instant>,
    /// reset_peer swallowed the source's close; give it back if the toxic is removed first.
    swallowed_eof: bool,
    /// The stage has emitted a Close: nothing else passes.
    closed: bool,
}

impl Stage {
    fn new(entry: &ToxicEntry, proxy_seed: u64, conn_serial: u64, now: Instant) -> Stage {
        let mut rng = toxic_rng(proxy_seed, entry.serial, conn_serial);
        let active = roll(&mut rng, entry.toxic.toxicity);
        Stage {
            serial: entry.serial,
            revision: entry.revision,
            kind: entry.toxic.kind.clone(),
            active,
            rng,
            queue: VecDeque::new(),
            last_out: None,
            attached_at: now,
            sent_bytes: 0,
            discarded_bytes: 0,
            reset_at: None,
            swallowed_eof: false,
            closed: false,
        }
    }

    fn push(&mut self, arrival: Instant, ready: Instant, chunk: Chunk) {
        let ready = match self.last_out {
            Some(l) if l > ready => l,
            _ => ready,
        };
        self.last_out = Some(ready);
        self.queue.push_back(Item {
            arrival,
            ready,
            chunk,
        });
    }

    /// Take an item that reached this stage at logical time `t`.
    fn accept(&mut self, t: Instant, chunk: Chunk) {
        if self.closed {
            return;
        }
        if !self.active {
            self.push(t, t, chunk);
            return;
        }
        match (&self.kind, chunk) {
            (ToxicKind::Latency { .. }, Chunk::Data(b)) => {
                let d = self.latency_delay();
                self.push(t, t + d, Chunk::Data(b));
            }
            (ToxicKind::Bandwidth { rate_kb_per_s }, Chunk::Data(mut b)) if *rate_kb_per_s > 0 => {
                // rate KB/s = rate bytes/ms; as Toxiproxy, send at most 100 ms worth at a time.
                let rate = *rate_kb_per_s;
                let piece_max = usize::try_from(rate.saturating_mul(100)).unwrap_or(usize::MAX);
                while !b.is_empty() {
                    let piece = b.split_to(b.len().min(piece_max));
                    let start = self.last_out.map_or(t, |l| l.max(t));
                    let cost =
                        Duration::from_nanos((piece.len() as u64).saturating_mul(1_000_000) / rate);
                    self.push(t, start + cost, Chunk::Data(piece));
                }
            }
            (ToxicKind::SlowClose { delay_ms }, Chunk::Eof) => {
                let d = Duration::from_millis(*delay_ms);
                self.push(t, t + d, Chunk::Eof);
            }
            (ToxicKind::Timeout { .. }, Chunk::Data(b)) => {
                self.discarded_bytes += b.len() as u64;
            }
            (ToxicKind::ResetPeer { timeout_ms }, chunk) => {
                if let Chunk::Data(b) = &chunk {
                    self.discarded_bytes += b.len() as u64;
                }
                if chunk == Chunk::Eof {
                    self.swallowed_eof = true;
                }
                if self.reset_at.is_none() {
                    self.reset_at = Some(t + Duration::from_millis(*timeout_ms));
                }
            }
            (
                ToxicKind::Slicer {
                    average_size_bytes,
                    size_variation_bytes,
                    delay_us,
                },
                Chunk::Data(b),
            ) => {
                let (avg, var, delay) = (
                    *average_size_bytes as usize,
                    *size_variation_bytes as usize,
                    Duration::from_micros(*delay_us),
                );
                let mut cuts = Vec::new();
                slice_offsets(&mut self.rng, 0, b.len(), avg, var, &mut cuts);
                let start = self.last_out.map_or(t, |l| l.max(t));
                let mut prev = 0;
                for (k, &end) in cuts.iter().enumerate() {
                    self.push(t, start + delay * k as u32, Chunk::Data(b.slice(prev..end)));
                    prev = end;
                }
                // the stage sleeps after the last piece too
                self.last_out = Some(start + delay * cuts.len() as u32);
            }
            (ToxicKind::LimitData { bytes }, chunk) => {
                let limit = *bytes;
                if let Chunk::Data(mut b) = chunk {
                    let remaining = limit.saturating_sub(self.sent_bytes);
                    if (b.len() as u64) > remaining {
                        b.truncate(remaining as usize);
                    }
                    if !b.is_empty() {
                        self.sent_bytes += b.len() as u64;
                        self.push(t, t, Chunk::Data(b));
                    }
                    if self.sent_bytes >= limit {
                        self.push(t, t, Chunk::Close);
                        self.closed = true;
                    }
                } else {
                    self.push(t, t, chunk);
                }
            }
            // Everything else passes in order: ends of stream through latency, data through
            // slow_close, closes through timeout, and so on.
            (_, chunk) => self.push(t, t, chunk),
        }
    }

    fn latency_delay(&mut self) -> Duration {
        let ToxicKind::Latency {
            latency_ms,
            jitter_ms,
        } = self.kind
        else {
            return Duration::ZERO;
        };
        let mut d = latency_ms as i64;
        if jitter_ms > 0 {
            let j = jitter_ms as i64;
            d += self.rng.random_range(-j..j);
        }
        Duration::from_millis(d.max(0) as u64)
    }

    /// The timeout toxic's close, if it has one and is active.
    fn timeout_at(&self) -> Option<Instant> {
        match self.kind {
            ToxicKind::Timeout { timeout_ms } if self.active && timeout_ms > 0 && !self.closed => {
                Some(self.attached_at + Duration::from_millis(timeout_ms))
            }
            _ => None,
        }
    }

    fn next_deadline(&self) -> Option<Instant> {
        let mut d = self.queue.front().map(|i| i.ready);
        for t in [self.timeout_at(), self.reset_at].into_iter().flatten() {
            d = Some(d.map_or(t, |d| d.min(t)));
        }
        d
    }

    fn buffered_bytes(&self) -> usize {
        self.queue
            .iter()
            .map(|i| match &i.chunk {
                Chunk::Data(b) => b.len(),
                _ => 0,
            })
            .sum()
    }
}

fn roll(rng: &mut ChaCha8Rng, toxicity: f32) -> bool {
    // Toxiproxy: rand.Float32() < toxicity
    rng.random::<f32>() < toxicity
}

/// Toxiproxy's slicer: split [start, end) in two around the middle ± variation until pieces are
/// within `var` of `avg`. Pushes the end offset of every piece. Always terminates: every split
/// point is strictly inside the range.
fn slice_offsets(
    rng: &mut ChaCha8Rng,
    start: usize,
    end: usize,
    avg: usize,
    var: usize,
    out: &mut Vec<usize>,
) {
    let len = end - start;
    if len <= avg.saturating_add(var) || len < 2 {
        out.push(end);
        return;
    }
    let jitter = if var > 0 {
        rng.random_range(0..2 * var) as isize - var as isize
    } else {
        0
    };
    let mid = (start as isize + (len / 2) as isize + jitter)
        .clamp(start as isize + 1, end as isize - 1) as usize;
    slice_offsets(rng, start, mid, avg, var, out);
    slice_offsets(rng, mid, end, avg, var, out);
}

/// What the link should do after the pipeline moved.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Verdict {
    Continue,
    /// Reset the connection now (TCP RST on both sides).
    Reset,
}

/// The chain of stages of one direction of one connection.
pub(crate) struct Pipeline {
    proxy_seed: u64,
    conn_serial: u64,
    stages: Vec<Stage>,
    /// Items that left the last stage and are due to be written.
    output: VecDeque<Chunk>,
}

impl Pipeline {
    pub(crate) fn new(proxy_seed: u64, conn_serial: u64) -> Pipeline {
        Pipeline {
            proxy_seed,
            conn_serial,
            stages: Vec::new(),
            output: VecDeque::new(),
        }
    }

    /// No toxics and nothing held: the link may copy bytes straight through.
    pub(crate) fn is_idle(&self) -> bool {
        self.stages.is_empty() && self.output.is_empty()
    }

    /// Bring the chain in line with the toxics published for this direction (in chain order).
    pub(crate) fn sync(&mut self, entries: &[&ToxicEntry], now: Instant) {
        // removed toxics hand what they hold to the next stage
        let mut i = 0;
        while i < self.stages.len() {
            if entries.iter().any(|e| e.serial == self.stages[i].serial) {
                i += 1;
                continue;
            }
            let stage = self.stages.remove(i);
            let mut handed: Vec<Chunk> = stage.queue.into_iter().map(|it| it.chunk).collect();
            if stage.swallowed_eof {
                handed.push(Chunk::Eof);
            }
            // a blackhole that threw data away leaves a stream with a hole: close it
            // (Toxiproxy closes on every removal of a timeout toxic; idle connections survive
            // here, as they would a real partition)
            if matches!(stage.kind, ToxicKind::Timeout { .. }) && stage.discarded_bytes > 0 {
                handed.push(Chunk::Close);
            }
            for chunk in handed {
                self.feed(i, now, chunk);
            }
        }
        // updated toxics: new parameters, a new toxicity roll, re-timed contents
        for stage in &mut self.stages {
            let Some(entry) = entries.iter().find(|e| e.serial == stage.serial) else {
                continue;
            };
            if entry.revision != stage.revision {
                stage.revision = entry.revision;
                stage.kind = entry.toxic.kind.clone();
                stage.active = roll(&mut stage.rng, entry.toxic.toxicity);
                stage.last_out = None;
                stage.reset_at = None;
                let held: Vec<Item> = stage.queue.drain(..).collect();
                for it in held {
                    stage.accept(it.arrival, it.chunk);
                }
            }
        }
        // new toxics join at the end of the chain
        for entry in entries {
            if !self.stages.iter().any(|s| s.serial == entry.serial) {
                self.stages
                    .push(Stage::new(entry, self.proxy_seed, self.conn_serial, now));
            }
        }
    }

    /// Put a chunk into stage `index` (or the output, past the last stage).
    fn feed(&mut self, index: usize, t: Instant, chunk: Chunk) {
        match self.stages.get_mut(index) {
            Some(stage) => stage.accept(t, chunk),
            None => self.output.push_back(chunk),
        }
    }

    /// A chunk read from the source at `now`.
    pub(crate) fn push(&mut self, now: Instant, chunk: Chunk) {
        self.feed(0, now, chunk);
    }

    /// Move everything that is due by `now` along the chain.
    pub(crate) fn advance(&mut self, now: Instant) -> Verdict {
        for i in 0..self.stages.len() {
            if self.stages[i].reset_at.is_some_and(|t| t <= now) {
                return Verdict::Reset;
            }
            if let Some(t) = self.stages[i].timeout_at() {
                if t <= now {
                    let stage = &mut self.stages[i];
                    stage.closed = true;
                    stage.queue.clear();
                    self.feed(i + 1, t, Chunk::Close);
                }
            }
            while self.stages[i]
                .queue
                .front()
                .is_some_and(|it| it.ready <= now)
            {
                let Some(it) = self.stages[i].queue.pop_front() else {
                    break;
                };
                self.feed(i + 1, it.ready, it.chunk);
            }
        }
        Verdict::Continue
    }

    /// The next chunk due to be written, if any.
    pub(crate) fn pop_output(&mut self) -> Option<Chunk> {
        self.output.pop_front()
    }

    /// When something next becomes due.
    pub(crate) fn next_deadline(&self) -> Option<Instant> {
        self.stages.iter().filter_map(Stage::next_deadline).min()
    }

    /// Bytes held in the chain (for backpressure on the source).
    /// How much it may hold before the link stops reading from the source. A bandwidth toxic
    /// holds back the sender, as Toxiproxy's does (its link reads a chunk, the toxic sleeps, the
    /// next read waits): 100 ms worth of its rate, at least a read buffer's worth. Other toxics
    /// hold up to `max` (a latency toxic must not throttle the stream it delays).
    pub(crate) fn hold_limit(&self, max: usize, read_buf: usize) -> usize {
        self.stages
            .iter()
            .filter(|s| s.active)
            .filter_map(|s| match s.kind {
                ToxicKind::Bandwidth { rate_kb_per_s } if rate_kb_per_s > 0 => Some(
                    usize::try_from(rate_kb_per_s.saturating_mul(100))
                        .unwrap_or(usize::MAX)
                        .max(read_buf),
                ),
                _ => None,
            })
            .fold(max, usize::min)
    }

    pub(crate) fn buffered_bytes(&self) -> usize {
        self.stages.iter().map(Stage::buffered_bytes).sum::<usize>()
            + self
                .output
                .iter()
                .map(|c| match c {
                    Chunk::Data(b) => b.len(),
                    _ => 0,
                })
                .sum::<usize>()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::toxic::Stream;

    fn entry(serial: u64, toxic: Toxic) -> ToxicEntry {
        ToxicEntry {
            serial,
            revision: 0,
            toxic,
        }
    }

    fn drain(p: &mut Pipeline, now: Instant) -> Vec<Chunk> {
        p.advance(now);
        std::iter::from_fn(|| p.pop_output()).collect()
    }

    #[test]
    fn latency_delays_each_chunk_from_its_read_time() {
        let t0 = Instant::now();
        let mut p = Pipeline::new(1, 1);
        let e = entry(1, Toxic::latency(Stream::Upstream, 100, 0));
        p.sync(&[&e], t0);
        p.push(t0, Chunk::Data(Bytes::from_static(b"a")));
        p.push(
            t0 + Duration::from_millis(10),
            Chunk::Data(Bytes::from_static(b"b")),
        );
        assert!(drain(&mut p, t0 + Duration::from_millis(99)).is_empty());
        assert_eq!(drain(&mut p, t0 + Duration::from_millis(100)).len(), 1);
        assert_eq!(p.next_deadline(), Some(t0 + Duration::from_millis(110)));
        assert_eq!(drain(&mut p, t0 + Duration::from_millis(110)).len(), 1);
    }

    #[test]
    fn removing_a_toxic_releases_what_it_held() {
        let t0 = Instant::now();
        let mut p = Pipeline::new(1, 1);
        let e = entry(1, Toxic::latency(Stream::Upstream, 10_000, 0));
        p.sync(&[&e], t0);
        p.push(t0, Chunk::Data(Bytes::from_static(b"a")));
        p.sync(&[], t0 + Duration::from_millis(1));
        assert_eq!(
            drain(&mut p, t0 + Duration::from_millis(1)),
            vec![Chunk::Data(Bytes::from_static(b"a"))]
        );
        assert!(p.is_idle());
    }

    #[test]
    fn blackhole_discards_and_closes_on_removal_only_if_it_discarded() {
        let t0 = Instant::now();
        let mut p = Pipeline::new(1, 1);
        let e = entry(1, Toxic::blackhole(Stream::Upstream));
        p.sync(&[&e], t0);
        p.sync(&[], t0);
        assert!(drain(&mut p, t0).is_empty());
        p.sync(&[&e], t0);
        p.push(t0, Chunk::Data(Bytes::from_static(b"lost")));
        assert!(drain(&mut p, t0 + Duration::from_secs(3600)).is_empty());
        p.sync(&[], t0);
        assert_eq!(drain(&mut p, t0), vec![Chunk::Close]);
    }

    #[test]
    fn limit_data_passes_the_limit_then_closes() {
        let t0 = Instant::now();
        let mut p = Pipeline::new(1, 1);
        let e = entry(
            1,
            Toxic::new(Stream::Downstream, ToxicKind::LimitData { bytes: 3 }),
        );
        p.sync(&[&e], t0);
        p.push(t0, Chunk::Data(Bytes::from_static(b"ab")));
        p.push(t0, Chunk::Data(Bytes::from_static(b"cd")));
        assert_eq!(
            drain(&mut p, t0),
            vec![
                Chunk::Data(Bytes::from_static(b"ab")),
                Chunk::Data(Bytes::from_static(b"c")),
                Chunk::Close
            ]
        );
    }

    #[test]
    fn slicer_keeps_every_byte_in_order() {
        let t0 = Instant::now();
        let mut p = Pipeline::new(1, 1);
        let e = entry(
            1,
            Toxic::new(
                Stream::Downstream,
                ToxicKind::Slicer {
                    average_size_bytes: 7,
                    size_variation_bytes: 3,
                    delay_us: 10,
                },
            ),
        );
        p.sync(&[&e], t0);
        let data: Vec<u8> = (0..=255u8).collect();
        p.push(t0, Chunk::Data(Bytes::from(data.clone())));
        let out = drain(&mut p, t0 + Duration::from_secs(1));
        assert!(out.len() > 10);
        let joined: Vec<u8> = out
            .iter()
            .flat_map(|c| match c {
                Chunk::Data(b) => b.to_vec(),
                _ => vec![],
            })
            .collect();
        assert_eq!(joined, data);
    }

    #[test]
    fn bandwidth_paces_data() {
        let t0 = Instant::now();
        let mut p = Pipeline::new(1, 1);
        let e = entry(
            1,
            Toxic::new(
                Stream::Downstream,
                ToxicKind::Bandwidth { rate_kb_per_s: 1 },
            ),
        );
        p.sync(&[&e], t0);
        p.push(t0, Chunk::Data(Bytes::from(vec![0u8; 250])));
        // 1 KB/s: 100 bytes per 100 ms
        assert_eq!(drain(&mut p, t0 + Duration::from_millis(100)).len(), 1);
        assert_eq!(drain(&mut p, t0 + Duration::from_millis(200)).len(), 1);
        assert_eq!(drain(&mut p, t0 + Duration::from_millis(250)).len(), 1);
    }

    #[test]
    fn a_bandwidth_toxic_holds_back_the_sender_and_a_latency_toxic_does_not() {
        let t0 = Instant::now();
        let mut p = Pipeline::new(1, 1);
        assert_eq!(p.hold_limit(4 << 20, 16 << 10), 4 << 20);
        let slow = entry(
            1,
            Toxic::new(
                Stream::Downstream,
                ToxicKind::Bandwidth { rate_kb_per_s: 1 },
            ),
        );
        p.sync(&[&slow], t0);
        assert_eq!(p.hold_limit(4 << 20, 16 << 10), 16 << 10);
        let fast = entry(
            2,
            Toxic::new(
                Stream::Downstream,
                ToxicKind::Bandwidth {
                    rate_kb_per_s: 10_000,
                },
            ),
        );
        p.sync(&[&fast], t0);
        assert_eq!(p.hold_limit(4 << 20, 16 << 10), 1_000_000);
        let late = entry(3, Toxic::latency(Stream::Downstream, 100, 0));
        p.sync(&[&late], t0);
        assert_eq!(p.hold_limit(4 << 20, 16 << 10), 4 << 20);
    }

    #[test]
    fn toxicity_zero_never_applies() {
        let t0 = Instant::now();
        let mut p = Pipeline::new(1, 1);
        let e = entry(1, Toxic::blackhole(Stream::Upstream).with_toxicity(0.0));
        p.sync(&[&e], t0);
        p.push(t0, Chunk::Data(Bytes::from_static(b"x")));
        assert_eq!(drain(&mut p, t0).len(), 1);
    }

    #[test]
    fn reset_peer_fires_after_first_data() {
        let t0 = Instant::now();
        let mut p = Pipeline::new(1, 1);
        let e = entry(
            1,
            Toxic::new(Stream::Upstream, ToxicKind::ResetPeer { timeout_ms: 50 }),
        );
        p.sync(&[&e], t0);
        assert_eq!(p.next_deadline(), None);
        p.push(t0, Chunk::Data(Bytes::from_static(b"x")));
        assert_eq!(p.advance(t0 + Duration::from_millis(49)), Verdict::Continue);
        assert_eq!(p.advance(t0 + Duration::from_millis(50)), Verdict::Reset);
    }
}
