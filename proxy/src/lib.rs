//! The fault proxy: one TCP proxy per directed link (client group → node, replica → primary),
//! with Toxiproxy's toxics and Toxiproxy's HTTP API, so a run can inject network faults without
//! root, and a real Toxiproxy can stand in for it (`--toxiproxy URL`). A crate of its own, usable
//! alone: it knows nothing of fencepost's runs, nodes or scenarios.
//!
//! - [`Registry`] owns a run's proxies: create one (`127.0.0.1:0` picks a port), add, update and
//!   remove [`Toxic`]s, enable and disable, [`Registry::cut`] a link and heal it, reset. Toxics
//!   apply to open connections; every random choice comes from the run's seed.
//! - [`api`] serves the Toxiproxy 2.x HTTP API over a registry; [`serve`] runs it standalone
//!   (`fencepost proxy --listen 127.0.0.1:8474`).
//! - [`ToxiproxyClient`] speaks the same API to an external Toxiproxy, and [`Network`] lets the
//!   nemeses drive either one through the same calls.
//!
//! Layout: `toxic` (what a fault is), `pipeline` (how toxics act on one direction of one
//! connection), `link` (a proxied connection), `listener` (an enabled proxy's accept loop),
//! `registry` (the set of proxies), `api` (HTTP server), `client` (HTTP client), `network`
//! (either), `rng` (seed derivation), `error`.

pub mod api;
mod client;
mod error;
mod link;
mod listener;
mod network;
mod pipeline;
mod registry;
mod rng;
mod toxic;

use std::net::SocketAddr;

pub use api::ApiServer;
pub use client::ToxiproxyClient;
pub use error::ProxyError;
pub use network::Network;
pub use registry::{
    is_loopback, Cut, Policy, ProxyConfig, ProxyInfo, ProxyUpdate, Registry, CUT_TOXIC_NAMES,
};
pub use toxic::{Stream, Toxic, ToxicKind};

/// Run the Toxiproxy-compatible API server on `listen` until SIGINT or SIGTERM (`docker stop`
/// sends SIGTERM, which a PID 1 would otherwise ignore), with randomness from `seed`; then
/// close every proxy and connection. A non-loopback `listen` needs `policy.allow_remote`.
pub async fn serve(listen: SocketAddr, seed: u64, policy: Policy) -> Result<(), ProxyError> {
    if !listen.ip().is_loopback() && !policy.allow_remote {
        return Err(ProxyError::InvalidAddress {
            field: "listen",
            value: listen.to_string(),
            reason: "not a loopback address: the API (which creates proxies to any address) would be reachable from other hosts; pass --allow-remote to allow it, or listen on 127.0.0.1".into(),
        });
    }
    if !listen.ip().is_loopback() {
        eprintln!("fencepost proxy: --allow-remote: the API and every proxy it creates are reachable from other hosts, with no password");
    }
    let registry = Registry::with_policy(seed, policy);
    let listen_err = |source| ProxyError::Listen {
        addr: format!("{listen} (another proxy there? pick another --listen port)"),
        source,
    };
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .map_err(listen_err)?;
    eprintln!(
        "fencepost proxy: Toxiproxy API {} on http://{} (seed {seed})",
        api::TOXIPROXY_API_VERSION,
        listener.local_addr().map_err(listen_err)?
    );
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .map_err(listen_err)?;
    api::serve_until(listener, registry.clone(), async move {
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = term.recv() => {}
        }
    })
    .await
    .map_err(listen_err)?;
    registry.shutdown().await;
    Ok(())
}
