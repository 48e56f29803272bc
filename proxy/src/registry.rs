//! The set of proxies a run owns, and every operation on them: the in-process control surface
//! the nemeses use, and what the HTTP API serves.
//!
//! Proxy lifecycle operations (create, enable, disable, delete, reset) are `async`: they bind or
//! close sockets and wait until that is done, so a disabled proxy's port is free and its
//! connections are closed when the call returns. Toxic operations are synchronous: they publish a
//! new toxic set on a `watch` channel that every open connection follows, so they cannot block,
//! are trivially cancel-safe, and can run from `Drop` (the [`Cut`] guard heals that way).
//!
//! Dropping the last `Registry` clone aborts every listener and connection task.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use tokio::sync::watch;

use super::error::ProxyError;
use super::link::ToxicSet;
use super::listener::{ListenerContext, Running};
use super::pipeline::ToxicEntry;
use super::rng::derive_seed;
use super::toxic::{Stream, Toxic, ToxicKind};

/// How to create a proxy.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProxyConfig {
    pub name: String,
    /// `host:port` to listen on; port 0 picks a free port (the info then shows the real one).
    pub listen: String,
    /// `host:port` to forward to, resolved at each connection, or `unix:/path` for a Unix socket
    /// on this host (an extension of fencepost's: Toxiproxy takes host:port only).
    pub upstream: String,
    pub enabled: bool,
}

impl ProxyConfig {
    /// An enabled proxy on a free 127.0.0.1 port.
    pub fn new(name: impl Into<String>, upstream: impl Into<String>) -> ProxyConfig {
        ProxyConfig {
            name: name.into(),
            listen: "127.0.0.1:0".into(),
            upstream: upstream.into(),
            enabled: true,
        }
    }

    pub fn listen(mut self, listen: impl Into<String>) -> ProxyConfig {
        self.listen = listen.into();
        self
    }

    pub fn enabled(mut self, enabled: bool) -> ProxyConfig {
        self.enabled = enabled;
        self
    }
}

/// A change to a proxy's fields; `None` keeps the current value. Changing `listen` or
/// `upstream` restarts the proxy and drops its connections, as in Toxiproxy.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ProxyUpdate {
    pub listen: Option<String>,
    pub upstream: Option<String>,
    pub enabled: Option<bool>,
}

/// A proxy as it is now.
#[derive(Clone, Debug, PartialEq)]
pub struct ProxyInfo {
    pub name: String,
    /// The bound address once the proxy has listened (the configured one before).
    pub listen: String,
    pub upstream: String,
    pub enabled: bool,
    /// Upstream toxics first, then downstream, each in the order they were added.
    pub toxics: Vec<Toxic>,
}

impl ProxyInfo {
    /// The address clients connect to.
    pub fn listen_addr(&self) -> Option<SocketAddr> {
        self.listen.parse().ok()
    }

    /// The Toxiproxy JSON form: `{name, listen, upstream, enabled, toxics}`.
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::json!({
            "name": self.name,
            "listen": self.listen,
            "upstream": self.upstream,
            "enabled": self.enabled,
            "toxics": self.toxics.iter().map(Toxic::to_json).collect::<Vec<_>>(),
        })
    }
}

/// Names of the toxics a [`Registry::cut`] adds.
pub const CUT_TOXIC_NAMES: [&str; 2] = ["fencepost_cut_upstream", "fencepost_cut_downstream"];

/// The proxies of one run. Cheap to clone; all clones share the proxies.
#[derive(Clone)]
pub struct Registry {
    inner: Arc<Inner>,
}

struct Inner {
    seed: u64,
    policy: Policy,
    proxies: Mutex<BTreeMap<String, Arc<ProxyCell>>>,
}

struct ProxyCell {
    name: String,
    proxy_seed: u64,
    toxics: watch::Sender<Arc<ToxicSet>>,
    toxic_serial: AtomicU64,
    conn_serial: Arc<AtomicU64>,
    open_connections: Arc<AtomicUsize>,
    life: tokio::sync::Mutex<Life>,
}

struct Life {
    listen: String,
    upstream: String,
    running: Option<Running>,
    deleted: bool,
}

impl ProxyCell {
    async fn start(&self, life: &mut Life) -> Result<(), ProxyError> {
        if life.running.is_some() {
            return Ok(());
        }
        let running = Running::start(
            &life.listen,
            ListenerContext {
                proxy_seed: self.proxy_seed,
                upstream: life.upstream.clone(),
                toxics: self.toxics.subscribe(),
                open_connections: self.open_connections.clone(),
                conn_serial: self.conn_serial.clone(),
            },
        )
        .await?;
        life.listen = running.local_addr.to_string();
        life.running = Some(running);
        Ok(())
    }

    async fn stop(&self, life: &mut Life) {
        if let Some(running) = life.running.take() {
            running.stop().await;
        }
    }

    fn toxic_list(&self) -> Vec<Toxic> {
        let set = self.toxics.borrow();
        let mut out: Vec<Toxic> = Vec::with_capacity(set.entries.len());
        for stream in Stream::BOTH {
            out.extend(
                set.entries
                    .iter()
                    .filter(|e| e.toxic.stream == stream)
                    .map(|e| e.toxic.clone()),
            );
        }
        out
    }

    fn info_of(&self, life: &Life) -> ProxyInfo {
        ProxyInfo {
            name: self.name.clone(),
            listen: life.listen.clone(),
            upstream: life.upstream.clone(),
            enabled: life.running.is_some(),
            toxics: self.toxic_list(),
        }
    }

    fn clear_toxics(&self) {
        self.toxics.send_if_modified(|set| {
            if set.entries.is_empty() {
                return false;
            }
            *set = Arc::new(ToxicSet::default());
            true
        });
    }
}

/// What a registry lets its callers do beyond proxying loopback TCP to TCP.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Policy {
    /// Proxies may listen on addresses other hosts reach (not only loopback).
    pub allow_remote: bool,
    /// Upstreams may be Unix sockets (`unix:/path`): whoever reaches the registry can then relay
    /// any socket this process may open — as root, every one on the machine.
    pub unix_upstreams: bool,
}

impl Policy {
    /// A run's own proxies: on loopback, to its nodes' Unix sockets.
    pub const IN_PROCESS: Policy = Policy {
        allow_remote: false,
        unix_upstreams: true,
    };
    /// An API server anyone on the machine can reach: loopback TCP only.
    pub const SERVED: Policy = Policy {
        allow_remote: false,
        unix_upstreams: false,
    };
}

/// Whether `host` (of a `host:port`) is a loopback name or address.
pub fn is_loopback(host: &str) -> bool {
    let host = host.trim_start_matches('[').trim_end_matches(']');
    host == "localhost"
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

fn check_addr(field: &'static str, value: &str, policy: Policy) -> Result<(), ProxyError> {
    let bad = |reason: &str| ProxyError::InvalidAddress {
        field,
        value: checkers::quote::clip(value).into_owned(),
        reason: reason.to_owned(),
    };
    if let Some(path) = value.strip_prefix(super::link::UNIX_PREFIX) {
        return match (field, path.starts_with('/')) {
            ("upstream", true) if policy.unix_upstreams => Ok(()),
            ("upstream", true) => Err(bad("Unix-socket upstreams are off: anyone who reaches this API could relay any socket this process can open; start `fencepost proxy` with --allow-unix-upstreams if every user who can reach it may do that")),
            ("upstream", false) => Err(bad("expected unix:/absolute/path")),
            _ => Err(bad("the proxy listens on TCP: expected host:port")),
        };
    }
    let (host, port) = value
        .rsplit_once(':')
        .ok_or_else(|| bad("expected host:port (or unix:/path for an upstream)"))?;
    if host.is_empty() {
        return Err(bad("missing host"));
    }
    port.parse::<u16>().map_err(|_| bad("invalid port"))?;
    if field == "listen" && !policy.allow_remote && !is_loopback(host) {
        return Err(bad("only loopback addresses (127.0.0.1, ::1, localhost) may be listened on: another host could then reach a node through the proxy; start `fencepost proxy` with --allow-remote to allow it"));
    }
    Ok(())
}

/// Populate keeps a proxy whose addresses match; a requested port 0 matches any port.
fn listen_matches(current: &str, requested: &str) -> bool {
    if current == requested {
        return true;
    }
    match (current.rsplit_once(':'), requested.rsplit_once(':')) {
        (Some((h1, _)), Some((h2, "0"))) => h1 == h2,
        _ => false,
    }
}

impl Registry {
    /// An empty registry whose randomness derives from `seed`, for a run's own proxies
    /// ([`Policy::IN_PROCESS`]).
    pub fn new(seed: u64) -> Registry {
        Registry::with_policy(seed, Policy::IN_PROCESS)
    }

    /// An empty registry that allows what `policy` says.
    pub fn with_policy(seed: u64, policy: Policy) -> Registry {
        Registry {
            inner: Arc::new(Inner {
                seed,
                policy,
                proxies: Mutex::new(BTreeMap::new()),
            }),
        }
    }

    pub fn seed(&self) -> u64 {
        self.inner.seed
    }

    fn map(&self) -> MutexGuard<'_, BTreeMap<String, Arc<ProxyCell>>> {
        // a panic while holding this lock cannot leave the map inconsistent
        self.inner
            .proxies
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn cell(&self, name: &str) -> Result<Arc<ProxyCell>, ProxyError> {
        self.map()
            .get(name)
            .cloned()
            .ok_or_else(|| ProxyError::ProxyNotFound {
                name: name.to_owned(),
            })
    }

    fn validate(config: &ProxyConfig, policy: Policy) -> Result<(), ProxyError> {
        if config.name.is_empty() {
            return Err(ProxyError::MissingField("name".into()));
        }
        if config.upstream.is_empty() {
            return Err(ProxyError::MissingField("upstream".into()));
        }
        check_addr("upstream", &config.upstream, policy)?;
        check_addr("listen", &config.listen, policy)
    }

    /// Create a proxy; 409 if the name is taken. Returns it with its bound address.
    pub async fn create(&self, config: ProxyConfig) -> Result<ProxyInfo, ProxyError> {
        Self::validate(&config, self.inner.policy)?;
        let cell = Arc::new(ProxyCell {
            name: config.name.clone(),
            proxy_seed: derive_seed(self.inner.seed, &[b"proxy", config.name.as_bytes()]),
            toxics: watch::Sender::new(Arc::new(ToxicSet::default())),
            toxic_serial: AtomicU64::new(0),
            conn_serial: Arc::new(AtomicU64::new(0)),
            open_connections: Arc::new(AtomicUsize::new(0)),
            life: tokio::sync::Mutex::new(Life {
                listen: config.listen.clone(),
                upstream: config.upstream.clone(),
                running: None,
                deleted: false,
            }),
        });
        // hold the new proxy's lifecycle lock from before it is visible until it has started
        let mut life = cell.life.lock().await;
        {
            let mut map = self.map();
            if map.contains_key(&config.name) {
                return Err(ProxyError::ProxyExists { name: config.name });
            }
            map.insert(config.name.clone(), cell.clone());
        }
        if config.enabled {
            if let Err(e) = cell.start(&mut life).await {
                life.deleted = true;
                let mut map = self.map();
                if map.get(&config.name).is_some_and(|c| Arc::ptr_eq(c, &cell)) {
                    map.remove(&config.name);
                }
                return Err(e);
            }
        }
        Ok(cell.info_of(&life))
    }

    /// Toxiproxy's populate: create each proxy, keep an existing one whose addresses match, and
    /// replace one whose addresses differ. The whole list is checked before anything changes.
    pub async fn populate(&self, configs: Vec<ProxyConfig>) -> Result<Vec<ProxyInfo>, ProxyError> {
        let mut seen = std::collections::HashSet::new();
        for (i, c) in configs.iter().enumerate() {
            if c.name.is_empty() {
                return Err(ProxyError::MissingField(format!("name at proxy {}", i + 1)));
            }
            if c.upstream.is_empty() {
                return Err(ProxyError::MissingField(format!(
                    "upstream at proxy {}",
                    i + 1
                )));
            }
            Self::validate(c, self.inner.policy)?;
            if !seen.insert(c.name.as_str()) {
                return Err(ProxyError::BadRequest(format!(
                    "duplicate proxy name {:?}",
                    c.name
                )));
            }
        }
        let mut out = Vec::with_capacity(configs.len());
        for c in configs {
            if let Ok(existing) = self.get(&c.name).await {
                if listen_matches(&existing.listen, &c.listen) && existing.upstream == c.upstream {
                    out.push(existing);
                    continue;
                }
                match self.delete(&c.name).await {
                    Ok(()) | Err(ProxyError::ProxyNotFound { .. }) => {}
                    Err(e) => return Err(e),
                }
            }
            out.push(self.create(c).await?);
        }
        Ok(out)
    }

    /// Every proxy, by name.
    pub async fn list(&self) -> Vec<ProxyInfo> {
        let cells: Vec<Arc<ProxyCell>> = self.map().values().cloned().collect();
        let mut out = Vec::with_capacity(cells.len());
        for cell in cells {
            let life = cell.life.lock().await;
            if !life.deleted {
                out.push(cell.info_of(&life));
            }
        }
        out
    }

    pub async fn get(&self, name: &str) -> Result<ProxyInfo, ProxyError> {
        let cell = self.cell(name)?;
        let life = cell.life.lock().await;
        if life.deleted {
            return Err(ProxyError::ProxyNotFound {
                name: name.to_owned(),
            });
        }
        Ok(cell.info_of(&life))
    }

    /// Change a proxy's fields (Toxiproxy's POST/PATCH /proxies/{proxy}).
    pub async fn update(&self, name: &str, update: ProxyUpdate) -> Result<ProxyInfo, ProxyError> {
        let cell = self.cell(name)?;
        let mut life = cell.life.lock().await;
        if life.deleted {
            return Err(ProxyError::ProxyNotFound {
                name: name.to_owned(),
            });
        }
        let listen = update.listen.unwrap_or_else(|| life.listen.clone());
        let upstream = update.upstream.unwrap_or_else(|| life.upstream.clone());
        let enabled = update.enabled.unwrap_or(life.running.is_some());
        check_addr("listen", &listen, self.inner.policy)?;
        check_addr("upstream", &upstream, self.inner.policy)?;
        if listen != life.listen || upstream != life.upstream {
            cell.stop(&mut life).await;
            life.listen = listen;
            life.upstream = upstream;
        }
        if enabled {
            cell.start(&mut life).await?;
        } else {
            cell.stop(&mut life).await;
        }
        Ok(cell.info_of(&life))
    }

    /// Enable (listen again) or disable (close the listener and every open connection).
    pub async fn set_enabled(&self, name: &str, enabled: bool) -> Result<ProxyInfo, ProxyError> {
        self.update(
            name,
            ProxyUpdate {
                enabled: Some(enabled),
                ..ProxyUpdate::default()
            },
        )
        .await
    }

    /// Stop a proxy and forget it.
    pub async fn delete(&self, name: &str) -> Result<(), ProxyError> {
        let cell = self.cell(name)?;
        let mut life = cell.life.lock().await;
        if life.deleted {
            return Err(ProxyError::ProxyNotFound {
                name: name.to_owned(),
            });
        }
        cell.stop(&mut life).await;
        life.deleted = true;
        let mut map = self.map();
        if map.get(name).is_some_and(|c| Arc::ptr_eq(c, &cell)) {
            map.remove(name);
        }
        Ok(())
    }

    /// Toxiproxy's reset: enable every proxy and remove every toxic.
    pub async fn reset(&self) -> Result<(), ProxyError> {
        let cells: Vec<Arc<ProxyCell>> = self.map().values().cloned().collect();
        for cell in cells {
            let mut life = cell.life.lock().await;
            if life.deleted {
                continue;
            }
            cell.clear_toxics();
            cell.start(&mut life).await?;
        }
        Ok(())
    }

    /// Heal every fault: the same as [`Registry::reset`], named for what a nemesis means.
    pub async fn heal_all(&self) -> Result<(), ProxyError> {
        self.reset().await
    }

    /// Stop every proxy and wait until all listeners and connections are closed.
    pub async fn shutdown(&self) {
        let cells: Vec<Arc<ProxyCell>> = std::mem::take(&mut *self.map()).into_values().collect();
        for cell in cells {
            let mut life = cell.life.lock().await;
            cell.stop(&mut life).await;
            life.deleted = true;
        }
    }

    /// A proxy's toxics (upstream first, then downstream).
    pub fn toxics(&self, proxy: &str) -> Result<Vec<Toxic>, ProxyError> {
        Ok(self.cell(proxy)?.toxic_list())
    }

    pub fn toxic(&self, proxy: &str, toxic: &str) -> Result<Toxic, ProxyError> {
        self.toxics(proxy)?
            .into_iter()
            .find(|t| t.name == toxic)
            .ok_or_else(|| ProxyError::ToxicNotFound {
                proxy: proxy.to_owned(),
                toxic: toxic.to_owned(),
            })
    }

    /// Add a toxic; it applies at once, to open connections too. 409 if the name is taken on
    /// either stream.
    pub fn add_toxic(&self, proxy: &str, toxic: Toxic) -> Result<Toxic, ProxyError> {
        toxic.kind.validate()?;
        Toxic::check_toxicity(toxic.toxicity)?;
        let cell = self.cell(proxy)?;
        let mut result = Ok(());
        cell.toxics.send_if_modified(|set| {
            if set.entries.iter().any(|e| e.toxic.name == toxic.name) {
                result = Err(ProxyError::ToxicExists {
                    proxy: proxy.to_owned(),
                    toxic: toxic.name.clone(),
                });
                return false;
            }
            let mut entries = set.entries.clone();
            entries.push(ToxicEntry {
                serial: cell.toxic_serial.fetch_add(1, Ordering::SeqCst),
                revision: 0,
                toxic: toxic.clone(),
            });
            *set = Arc::new(ToxicSet { entries });
            true
        });
        result.map(|()| toxic)
    }

    /// Replace a toxic's parameters and toxicity (name, type and stream stay).
    pub fn update_toxic(
        &self,
        proxy: &str,
        toxic: &str,
        kind: ToxicKind,
        toxicity: f32,
    ) -> Result<Toxic, ProxyError> {
        self.modify_toxic(proxy, toxic, |current| {
            if current.kind.type_name() != kind.type_name() {
                return Err(ProxyError::BadRequest(format!(
                    "toxic {toxic} is a {}, not a {}",
                    current.kind.type_name(),
                    kind.type_name()
                )));
            }
            kind.validate()?;
            Toxic::check_toxicity(toxicity)?;
            Ok(Toxic {
                kind: kind.clone(),
                toxicity,
                ..current.clone()
            })
        })
    }

    /// Update a toxic from a Toxiproxy update body (attributes merge into the current ones).
    pub fn update_toxic_json(
        &self,
        proxy: &str,
        toxic: &str,
        body: &[u8],
    ) -> Result<Toxic, ProxyError> {
        self.modify_toxic(proxy, toxic, |current| current.apply_update_json(body))
    }

    fn modify_toxic(
        &self,
        proxy: &str,
        toxic: &str,
        f: impl FnOnce(&Toxic) -> Result<Toxic, ProxyError>,
    ) -> Result<Toxic, ProxyError> {
        let cell = self.cell(proxy)?;
        let mut f = Some(f);
        let mut result = Err(ProxyError::ToxicNotFound {
            proxy: proxy.to_owned(),
            toxic: toxic.to_owned(),
        });
        cell.toxics.send_if_modified(|set| {
            let Some(i) = set.entries.iter().position(|e| e.toxic.name == toxic) else {
                return false;
            };
            let Some(f) = f.take() else { return false };
            match f(&set.entries[i].toxic) {
                Ok(updated) => {
                    let mut entries = set.entries.clone();
                    entries[i].toxic = updated.clone();
                    entries[i].revision += 1;
                    *set = Arc::new(ToxicSet { entries });
                    result = Ok(updated);
                    true
                }
                Err(e) => {
                    result = Err(e);
                    false
                }
            }
        });
        result
    }

    /// Remove a toxic; what it held moves on at once.
    pub fn remove_toxic(&self, proxy: &str, toxic: &str) -> Result<(), ProxyError> {
        let cell = self.cell(proxy)?;
        let removed = cell.toxics.send_if_modified(|set| {
            let before = set.entries.len();
            let entries: Vec<ToxicEntry> = set
                .entries
                .iter()
                .filter(|e| e.toxic.name != toxic)
                .cloned()
                .collect();
            if entries.len() == before {
                return false;
            }
            *set = Arc::new(ToxicSet { entries });
            true
        });
        if removed {
            Ok(())
        } else {
            Err(ProxyError::ToxicNotFound {
                proxy: proxy.to_owned(),
                toxic: toxic.to_owned(),
            })
        }
    }

    /// Remove every toxic of a proxy.
    pub fn clear_toxics(&self, proxy: &str) -> Result<(), ProxyError> {
        self.cell(proxy)?.clear_toxics();
        Ok(())
    }

    /// Cut a link: blackhole both streams (`timeout` 0), so open connections stay open and
    /// time out, and new ones connect but get no answer, as behind a partition. The guard heals
    /// the cut when dropped; call [`Cut::heal`] to heal it and see errors.
    pub fn cut(&self, proxy: &str) -> Result<Cut, ProxyError> {
        let [up, down] = CUT_TOXIC_NAMES;
        self.add_toxic(proxy, Toxic::blackhole(Stream::Upstream).named(up))?;
        if let Err(e) = self.add_toxic(proxy, Toxic::blackhole(Stream::Downstream).named(down)) {
            let _ = self.remove_toxic(proxy, up);
            return Err(e);
        }
        Ok(Cut {
            registry: self.clone(),
            proxy: proxy.to_owned(),
            healed: false,
        })
    }

    /// Remove a cut's toxics, if present. Connections that lost data while cut are closed
    /// (their byte stream has a hole); idle ones carry on.
    pub fn heal(&self, proxy: &str) -> Result<(), ProxyError> {
        for name in CUT_TOXIC_NAMES {
            match self.remove_toxic(proxy, name) {
                Ok(()) | Err(ProxyError::ToxicNotFound { .. }) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    /// Connections open through a proxy now.
    pub fn open_connections(&self, proxy: &str) -> Result<usize, ProxyError> {
        Ok(self.cell(proxy)?.open_connections.load(Ordering::SeqCst))
    }

    /// Connections open through all proxies now.
    pub fn open_connections_total(&self) -> usize {
        self.map()
            .values()
            .map(|c| c.open_connections.load(Ordering::SeqCst))
            .sum()
    }
}

/// A cut link; heals when dropped. See [`Registry::cut`].
#[must_use = "dropping a Cut heals it at once"]
pub struct Cut {
    registry: Registry,
    proxy: String,
    healed: bool,
}

impl Cut {
    pub fn proxy(&self) -> &str {
        &self.proxy
    }

    /// Heal the cut now.
    pub fn heal(mut self) -> Result<(), ProxyError> {
        self.healed = true;
        self.registry.heal(&self.proxy)
    }
}

impl Drop for Cut {
    fn drop(&mut self) {
        if !self.healed {
            let _ = self.registry.heal(&self.proxy);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_are_checked() {
        let p = Policy::IN_PROCESS;
        assert!(check_addr("listen", "127.0.0.1:0", p).is_ok());
        assert!(check_addr("listen", "localhost:8474", p).is_ok());
        assert!(check_addr("listen", "[::1]:80", p).is_ok());
        assert!(check_addr("listen", "nope", p).is_err());
        assert!(check_addr("listen", ":80", p).is_err());
        assert!(check_addr("listen", "host:99999", p).is_err());
    }

    #[test]
    fn remote_listens_and_unix_upstreams_need_the_policy() {
        let served = Policy::SERVED;
        let e = check_addr("listen", "0.0.0.0:8474", served).unwrap_err();
        assert!(e.to_string().contains("--allow-remote"), "{e}");
        let e = check_addr("upstream", "unix:/var/run/docker.sock", served).unwrap_err();
        assert!(e.to_string().contains("--allow-unix-upstreams"), "{e}");
        assert!(check_addr("upstream", "127.0.0.1:6379", served).is_ok());
        let open = Policy {
            allow_remote: true,
            unix_upstreams: true,
        };
        assert!(check_addr("listen", "0.0.0.0:8474", open).is_ok());
        assert!(check_addr("upstream", "unix:/tmp/x.sock", open).is_ok());
        assert!(check_addr("upstream", "unix:/tmp/x.sock", Policy::IN_PROCESS).is_ok());
    }

    #[test]
    fn port_zero_matches_any_port() {
        assert!(listen_matches("127.0.0.1:4000", "127.0.0.1:0"));
        assert!(listen_matches("127.0.0.1:4000", "127.0.0.1:4000"));
        assert!(!listen_matches("127.0.0.1:4000", "127.0.0.1:4001"));
    }
}
