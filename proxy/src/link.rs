//! One proxied connection: a client socket, an upstream socket, and a pump per direction.
//!
//! A pump copies bytes straight through while its direction has no toxics (the fast path costs
//! one read and one write per chunk), and runs the toxic [`Pipeline`] when it has. Each pump keeps
//! a `watch` subscription to the proxy's toxics, so toxics added or removed through the API apply
//! to connections that are already open, idle or not.
//!
//! The connection ends when both directions have passed on their close, or at once when a toxic
//! closes or resets it, when a socket fails, or when the task is aborted (proxy disabled, deleted
//! or dropped). Every socket lives in this task, so ending it closes them.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use bytes::Bytes;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpStream, UnixStream};
use tokio::sync::watch;
use tokio::time::Instant;

use super::pipeline::{Chunk, Pipeline, ToxicEntry, Verdict};
use super::toxic::Stream;

/// Read buffer per direction.
const READ_BUF_BYTES: usize = 16 * 1024;
/// Stop reading from the source while toxics hold more than this (less under a bandwidth toxic:
/// [`Pipeline::hold_limit`]).
const MAX_HELD_BYTES: usize = 4 * 1024 * 1024;

/// The toxics of one proxy, both streams, in the order they were added.
#[derive(Debug, Default)]
pub(crate) struct ToxicSet {
    pub(crate) entries: Vec<ToxicEntry>,
}

impl ToxicSet {
    fn for_stream(&self, stream: Stream) -> Vec<&ToxicEntry> {
        self.entries
            .iter()
            .filter(|e| e.toxic.stream == stream)
            .collect()
    }
}

/// Counts a connection as open for as long as it lives (the task may be aborted: Drop still runs).
pub(crate) struct OpenGuard(Arc<AtomicUsize>);

impl OpenGuard {
    pub(crate) fn new(gauge: Arc<AtomicUsize>) -> OpenGuard {
        gauge.fetch_add(1, Ordering::SeqCst);
        OpenGuard(gauge)
    }
}

impl Drop for OpenGuard {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

/// How a pump ended.
#[derive(Debug, PartialEq, Eq)]
enum PumpEnd {
    /// The source closed and the close was passed on: the other direction may go on.
    Eof,
    /// End the whole connection.
    Close,
    /// End the whole connection with a reset (RST), as Toxiproxy's reset_peer.
    Reset,
}

/// What a link needs to know about its proxy.
pub(crate) struct LinkContext {
    pub(crate) proxy_seed: u64,
    pub(crate) conn_serial: u64,
    pub(crate) upstream: String,
    pub(crate) toxics: watch::Receiver<Arc<ToxicSet>>,
    pub(crate) _open: OpenGuard,
}

/// Serve one accepted client until the connection ends.
pub(crate) async fn run(mut client: TcpStream, ctx: LinkContext) {
    let _ = client.set_nodelay(true);
    // An upstream `unix:PATH` is a Unix socket of a node on this host: the same bytes at a
    // fraction of a loopback TCP hop's kernel cost.
    if let Some(path) = ctx.upstream.strip_prefix(UNIX_PREFIX) {
        let Ok(mut upstream) = UnixStream::connect(path).await else {
            return; // dropping the client closes it, as Toxiproxy does
        };
        let (upstream_r, upstream_w) = upstream.split();
        if serve(&mut client, upstream_r, upstream_w, &ctx).await == PumpEnd::Reset {
            let _ = client.set_zero_linger();
        }
        return;
    }
    let Ok(mut upstream) = TcpStream::connect(ctx.upstream.as_str()).await else {
        return;
    };
    let _ = upstream.set_nodelay(true);
    let (upstream_r, upstream_w) = upstream.split();
    if serve(&mut client, upstream_r, upstream_w, &ctx).await == PumpEnd::Reset {
        let _ = client.set_zero_linger();
        let _ = upstream.set_zero_linger();
    }
}

/// The prefix of an upstream address that names a Unix socket.
pub(crate) const UNIX_PREFIX: &str = "unix:";

/// Pump both directions until the connection ends; how it ended says whether to reset.
async fn serve<R, W>(
    client: &mut TcpStream,
    upstream_r: R,
    upstream_w: W,
    ctx: &LinkContext,
) -> PumpEnd
where
    R: AsyncRead + Unpin,
    W: AsyncWrite + Unpin,
{
    // Borrowed halves: they do not shut the socket down when dropped, so a reset stays a
    // reset, and both sockets close (FIN, or RST after a reset) when `run` returns.
    let (client_r, client_w) = client.split();
    let up = pump(
        client_r,
        upstream_w,
        Stream::Upstream,
        ctx.toxics.clone(),
        Pipeline::new(ctx.proxy_seed, ctx.conn_serial),
    );
    let down = pump(
        upstream_r,
        client_w,
        Stream::Downstream,
        ctx.toxics.clone(),
        Pipeline::new(ctx.proxy_seed, ctx.conn_serial),
    );
    tokio::pin!(up, down);
    let (mut up_done, mut down_done) = (false, false);
    while !(up_done && down_done) {
        let end = tokio::select! {
            end = &mut up, if !up_done => { up_done = true; end }
            end = &mut down, if !down_done => { down_done = true; end }
        };
        if end != PumpEnd::Eof {
            return end;
        }
    }
    PumpEnd::Eof
}

/// Move one direction's bytes from `src` to `dst` through the direction's toxics.
async fn pump<R, W>(
    mut src: R,
    mut dst: W,
    stream: Stream,
    mut toxics: watch::Receiver<Arc<ToxicSet>>,
    mut pipeline: Pipeline,
) -> PumpEnd
where
    R: AsyncRead + Unpin,
    W: AsyncWrite + Unpin,
{
    let mut buf = vec![0u8; READ_BUF_BYTES];
    let mut src_done = false;
    {
        let set = toxics.borrow_and_update().clone();
        pipeline.sync(&set.for_stream(stream), Instant::now());
    }
    loop {
        if pipeline.is_idle() && !src_done {
            if let Some(end) = copy_until_change(&mut src, &mut dst, &mut toxics, &mut buf).await {
                return end;
            }
            let set = toxics.borrow_and_update().clone();
            pipeline.sync(&set.for_stream(stream), Instant::now());
            continue;
        }

        // Toxic path: wait for data, a change of toxics, or the next thing to fall due.
        let deadline = pipeline.next_deadline();
        let may_read = !src_done
            && pipeline.buffered_bytes() < pipeline.hold_limit(MAX_HELD_BYTES, READ_BUF_BYTES);
        tokio::select! {
            biased;
            r = toxics.changed() => {
                if r.is_err() {
                    return PumpEnd::Close;
                }
                let set = toxics.borrow_and_update().clone();
                pipeline.sync(&set.for_stream(stream), Instant::now());
            }
            _ = sleep_until_opt(deadline), if deadline.is_some() => {}
            r = src.read(&mut buf), if may_read => match r {
                Ok(0) => {
                    src_done = true;
                    pipeline.push(Instant::now(), Chunk::Eof);
                }
                Ok(n) => pipeline.push(Instant::now(), Chunk::Data(Bytes::copy_from_slice(&buf[..n]))),
                Err(_) => return PumpEnd::Close,
            },
        }
        if pipeline.advance(Instant::now()) == Verdict::Reset {
            return PumpEnd::Reset;
        }
        if let Some(end) = flush(&mut pipeline, &mut dst).await {
            return end;
        }
        if src_done && pipeline.is_idle() {
            // the close was swallowed and the toxic that swallowed it is gone
            let _ = dst.shutdown().await;
            return PumpEnd::Eof;
        }
    }
}

/// The fast path, with no toxic active: copies until the toxics change (`None`) or the
/// connection ends. The `changed` future stays registered across reads, so an idle connection
/// still sees a new toxic at once.
async fn copy_until_change<R, W>(
    src: &mut R,
    dst: &mut W,
    toxics: &mut watch::Receiver<Arc<ToxicSet>>,
    buf: &mut [u8],
) -> Option<PumpEnd>
where
    R: AsyncRead + Unpin,
    W: AsyncWrite + Unpin,
{
    let changed = toxics.changed();
    tokio::pin!(changed);
    loop {
        tokio::select! {
            biased;
            r = &mut changed => {
                // Err: the proxy is gone.
                return r.is_err().then_some(PumpEnd::Close);
            }
            r = src.read(buf) => match r {
                Ok(0) => {
                    let _ = dst.shutdown().await;
                    return Some(PumpEnd::Eof);
                }
                Ok(n) => {
                    if dst.write_all(&buf[..n]).await.is_err() {
                        return Some(PumpEnd::Close);
                    }
                }
                Err(_) => return Some(PumpEnd::Close),
            },
        }
    }
}

/// Writes what the pipeline let through; how the connection ended, if it did.
async fn flush<W: AsyncWrite + Unpin>(pipeline: &mut Pipeline, dst: &mut W) -> Option<PumpEnd> {
    while let Some(chunk) = pipeline.pop_output() {
        match chunk {
            Chunk::Data(b) => {
                if dst.write_all(&b).await.is_err() {
                    return Some(PumpEnd::Close);
                }
            }
            Chunk::Eof => {
                let _ = dst.shutdown().await;
                return Some(PumpEnd::Eof);
            }
            Chunk::Close => return Some(PumpEnd::Close),
        }
    }
    None
}

async fn sleep_until_opt(deadline: Option<Instant>) {
    match deadline {
        Some(d) => tokio::time::sleep_until(d).await,
        None => std::future::pending().await,
    }
}
