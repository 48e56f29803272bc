//! The accept loop of one enabled proxy. It owns the listening socket and every connection task
//! (in a `JoinSet`), so stopping it closes the listener and all open connections, and aborting or
//! dropping it leaks neither tasks nor sockets.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::sync::{oneshot, watch};
use tokio::task::{JoinHandle, JoinSet};

use super::error::ProxyError;
use super::link::{self, LinkContext, OpenGuard, ToxicSet};

/// What the accept loop shares with the proxy that started it.
pub(crate) struct ListenerContext {
    pub(crate) proxy_seed: u64,
    pub(crate) upstream: String,
    pub(crate) toxics: watch::Receiver<Arc<ToxicSet>>,
    pub(crate) open_connections: Arc<AtomicUsize>,
    pub(crate) conn_serial: Arc<AtomicU64>,
}

/// A running proxy listener. Dropping it aborts the loop (and with it every connection).
pub(crate) struct Running {
    pub(crate) local_addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<()>>,
}

impl Running {
    /// Bind `listen` and start accepting.
    pub(crate) async fn start(listen: &str, ctx: ListenerContext) -> Result<Running, ProxyError> {
        let listener = TcpListener::bind(listen)
            .await
            .map_err(|source| ProxyError::Listen {
                addr: listen.to_owned(),
                source,
            })?;
        let local_addr = listener.local_addr().map_err(|source| ProxyError::Listen {
            addr: listen.to_owned(),
            source,
        })?;
        let (stop_tx, stop_rx) = oneshot::channel();
        let task = tokio::spawn(accept_loop(listener, ctx, stop_rx));
        Ok(Running {
            local_addr,
            stop: Some(stop_tx),
            task: Some(task),
        })
    }

    /// Close the listener and every open connection, and wait until they are gone.
    pub(crate) async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }
}

async fn accept_loop(listener: TcpListener, ctx: ListenerContext, mut stop: oneshot::Receiver<()>) {
    let mut conns = JoinSet::new();
    loop {
        tokio::select! {
            _ = &mut stop => break,
            Some(_) = conns.join_next(), if !conns.is_empty() => {}
            accepted = listener.accept() => match accepted {
                Ok((client, _peer)) => {
                    let link_ctx = LinkContext {
                        proxy_seed: ctx.proxy_seed,
                        conn_serial: ctx.conn_serial.fetch_add(1, Ordering::SeqCst),
                        upstream: ctx.upstream.clone(),
                        toxics: ctx.toxics.clone(),
                        _open: OpenGuard::new(ctx.open_connections.clone()),
                    };
                    conns.spawn(link::run(client, link_ctx));
                }
                // out of file descriptors and the like: back off instead of spinning
                Err(_) => tokio::time::sleep(Duration::from_millis(10)).await,
            },
        }
    }
    drop(listener);
    conns.shutdown().await;
}
