//! The network the nemeses drive: the embedded proxy in this process, or a real Toxiproxy over
//! HTTP. One enum with the same calls on both, so a scenario runs unchanged on either and the
//! embedded path costs no HTTP round trip.

use super::client::ToxiproxyClient;
use super::error::ProxyError;
use super::registry::{ProxyConfig, ProxyInfo, Registry, CUT_TOXIC_NAMES};
use super::toxic::{Stream, Toxic, ToxicKind};

/// Where the proxies live.
#[derive(Clone)]
pub enum Network {
    Embedded(Registry),
    External(ToxiproxyClient),
}

impl Network {
    pub async fn create(&self, config: ProxyConfig) -> Result<ProxyInfo, ProxyError> {
        match self {
            Network::Embedded(r) => r.create(config).await,
            Network::External(c) => c.create(&config).await,
        }
    }

    pub async fn get(&self, proxy: &str) -> Result<ProxyInfo, ProxyError> {
        match self {
            Network::Embedded(r) => r.get(proxy).await,
            Network::External(c) => c.get(proxy).await,
        }
    }

    pub async fn delete(&self, proxy: &str) -> Result<(), ProxyError> {
        match self {
            Network::Embedded(r) => r.delete(proxy).await,
            Network::External(c) => c.delete(proxy).await,
        }
    }

    /// Disable closes the listener and every open connection; enable listens again.
    pub async fn set_enabled(&self, proxy: &str, enabled: bool) -> Result<ProxyInfo, ProxyError> {
        match self {
            Network::Embedded(r) => r.set_enabled(proxy, enabled).await,
            Network::External(c) => c.set_enabled(proxy, enabled).await,
        }
    }

    pub async fn add_toxic(&self, proxy: &str, toxic: Toxic) -> Result<Toxic, ProxyError> {
        match self {
            Network::Embedded(r) => r.add_toxic(proxy, toxic),
            Network::External(c) => c.add_toxic(proxy, &toxic).await,
        }
    }

    pub async fn update_toxic(
        &self,
        proxy: &str,
        toxic: &str,
        kind: ToxicKind,
        toxicity: f32,
    ) -> Result<Toxic, ProxyError> {
        match self {
            Network::Embedded(r) => r.update_toxic(proxy, toxic, kind, toxicity),
            Network::External(c) => c.update_toxic(proxy, toxic, &kind, toxicity).await,
        }
    }

    pub async fn remove_toxic(&self, proxy: &str, toxic: &str) -> Result<(), ProxyError> {
        match self {
            Network::Embedded(r) => r.remove_toxic(proxy, toxic),
            Network::External(c) => c.remove_toxic(proxy, toxic).await,
        }
    }

    pub async fn toxics(&self, proxy: &str) -> Result<Vec<Toxic>, ProxyError> {
        match self {
            Network::Embedded(r) => r.toxics(proxy),
            Network::External(c) => c.toxics(proxy).await,
        }
    }

    /// Cut a link (blackhole both streams; see [`Registry::cut`]). Undo with [`Network::heal`].
    pub async fn cut(&self, proxy: &str) -> Result<(), ProxyError> {
        let [up, down] = CUT_TOXIC_NAMES;
        self.add_toxic(proxy, Toxic::blackhole(Stream::Upstream).named(up))
            .await?;
        if let Err(e) = self
            .add_toxic(proxy, Toxic::blackhole(Stream::Downstream).named(down))
            .await
        {
            let _ = self.remove_toxic(proxy, up).await;
            return Err(e);
        }
        Ok(())
    }

    /// Heal a cut; a link that is not cut is left as it is.
    pub async fn heal(&self, proxy: &str) -> Result<(), ProxyError> {
        for name in CUT_TOXIC_NAMES {
            match self.remove_toxic(proxy, name).await {
                Ok(()) | Err(ProxyError::ToxicNotFound { .. }) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    /// Enable every proxy and remove every toxic.
    pub async fn heal_all(&self) -> Result<(), ProxyError> {
        match self {
            Network::Embedded(r) => r.reset().await,
            Network::External(c) => c.reset().await,
        }
    }
}
