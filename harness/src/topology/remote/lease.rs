//! Sharing one Toxiproxy between runs: per-run proxy names, a heartbeat, and the sweep of the
//! proxies a dead run left.
//!
//! Every proxy a run creates is named `fp-<run>-…` (`<run>` is 8 hex digits of the run id), so
//! two runs at once never collide. Each run also holds a *lease*: a disabled proxy
//! `fp-<run>-lease` (or `-engine-lease`, when the run controls node containers) whose `latency`
//! toxic named `heartbeat` the run rewrites every second with a counter. Liveness is read off the
//! shared server itself, with no clock compared across hosts or containers: a lease whose counter
//! moves within [`WATCH`] belongs to a live run; one that stands still belongs to a run that was
//! killed, and the next run to start deletes every proxy of that run. Proxies whose names do not
//! start with `fp-` are never touched.

use crate::proxy::{ProxyConfig, ProxyError, ProxyInfo, Stream, Toxic, ToxicKind, ToxiproxyClient};
use std::collections::{BTreeMap, BTreeSet};
use std::hash::{Hash, Hasher};
use std::time::Duration;

/// How often a run's heartbeat moves.
pub const BEAT: Duration = Duration::from_secs(1);
/// How long a sweep watches a lease for a beat before calling its run dead.
pub const WATCH: Duration = Duration::from_millis(3_500);
const TAG: &str = "fp-";
const LEASE: &str = "lease";
const ENGINE_LEASE: &str = "engine-lease";
const HEARTBEAT: &str = "heartbeat";

/// The proxy-name prefix of a run: `fp-` and 8 hex digits of its id, then `-`.
pub fn prefix(run_id: &str) -> String {
    let mut h = std::collections::hash_map::DefaultHasher::new();
    run_id.hash(&mut h);
    format!("{TAG}{:08x}-", h.finish() as u32)
}

/// The run prefix of a proxy name (`fp-xxxxxxxx-`), if fencepost made it.
fn run_of(name: &str) -> Option<&str> {
    let rest = name.strip_prefix(TAG)?;
    let hex = rest.get(..8)?;
    (hex.bytes().all(|b| b.is_ascii_hexdigit()) && rest[8..].starts_with('-'))
        .then(|| &name[..TAG.len() + 9])
}

/// A run's lease, beating until released (or until the process dies).
pub struct Lease {
    client: ToxiproxyClient,
    name: String,
    beat: tokio::task::JoinHandle<()>,
}

impl Lease {
    /// Creates the lease proxy (disabled: it never listens) and starts its heartbeat.
    pub async fn take(
        client: &ToxiproxyClient,
        prefix: &str,
        upstream: &str,
        engine: bool,
    ) -> Result<Lease, ProxyError> {
        let name = format!("{prefix}{}", if engine { ENGINE_LEASE } else { LEASE });
        let mut config = ProxyConfig::new(name.clone(), upstream);
        config.enabled = false;
        client.create(&config).await?;
        client
            .add_toxic(
                &name,
                &Toxic::latency(Stream::Downstream, 0, 0).named(HEARTBEAT),
            )
            .await?;
        let (c, n) = (client.clone(), name.clone());
        let beat = tokio::spawn(async move {
            let mut count = 0u64;
            loop {
                tokio::time::sleep(BEAT).await;
                count = count % 1_000_000 + 1;
                let kind = ToxicKind::Latency {
                    latency_ms: count,
                    jitter_ms: 0,
                };
                let _ = c.update_toxic(&n, HEARTBEAT, &kind, 1.0).await;
            }
        });
        Ok(Lease {
            client: client.clone(),
            name,
            beat,
        })
    }

    /// Deletes every proxy of this run (named with its prefix), stops the heartbeat and
    /// deletes the lease proxy last.
    pub async fn release(&self) {
        let prefix = run_of(&self.name).unwrap_or(&self.name);
        if let Ok(proxies) = self.client.list().await {
            for p in proxies {
                if p.name.starts_with(prefix) && p.name != self.name {
                    let _ = self.client.delete(&p.name).await;
                }
            }
        }
        self.beat.abort();
        let _ = self.client.delete(&self.name).await;
    }
}

impl Drop for Lease {
    fn drop(&mut self) {
        self.beat.abort();
    }
}

/// What a sweep found.
#[derive(Debug, Default)]
pub struct Swept {
    /// Proxies of dead runs, deleted.
    pub deleted: Vec<String>,
    /// Live runs (their prefixes) that control node containers.
    pub live_engine_runs: Vec<String>,
}

fn beats(proxies: &[ProxyInfo]) -> BTreeMap<String, (u64, bool)> {
    proxies
        .iter()
        .filter_map(|p| {
            let run = run_of(&p.name)?;
            let kind = &p.name[run.len()..];
            let engine = match kind {
                LEASE => false,
                ENGINE_LEASE => true,
                _ => return None,
            };
            let beat = p.toxics.iter().find_map(|t| match t.kind {
                ToxicKind::Latency { latency_ms, .. } if t.name == HEARTBEAT => Some(latency_ms),
                _ => None,
            })?;
            Some((run.to_string(), (beat, engine)))
        })
        .collect()
}

/// Deletes the proxies of every run but `own` whose lease does not beat within [`WATCH`] (or
/// that has no lease at all), and reports the live runs that control containers.
pub async fn sweep(client: &ToxiproxyClient, own: &str) -> Result<Swept, ProxyError> {
    let before = client.list().await?;
    let runs: BTreeSet<String> = before
        .iter()
        .filter_map(|p| run_of(&p.name))
        .filter(|r| *r != own)
        .map(str::to_string)
        .collect();
    if runs.is_empty() {
        return Ok(Swept::default());
    }
    let first = beats(&before);
    let mut live: BTreeMap<String, bool> = BTreeMap::new();
    if first.keys().any(|r| runs.contains(r)) {
        let deadline = tokio::time::Instant::now() + WATCH;
        while tokio::time::Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(250)).await;
            for (run, (beat, engine)) in beats(&client.list().await?) {
                if first.get(&run).is_some_and(|(b, _)| *b != beat) {
                    live.insert(run, engine);
                }
            }
            if first.keys().all(|r| live.contains_key(r)) {
                break;
            }
        }
    }
    let mut swept = Swept::default();
    for p in client.list().await? {
        let Some(run) = run_of(&p.name) else { continue };
        if run == own || live.contains_key(run) || !runs.contains(run) {
            continue;
        }
        match client.delete(&p.name).await {
            Ok(()) | Err(ProxyError::ProxyNotFound { .. }) => swept.deleted.push(p.name),
            Err(e) => return Err(e),
        }
    }
    swept.live_engine_runs = live
        .into_iter()
        .filter(|(_, engine)| *engine)
        .map(|(r, _)| r)
        .collect();
    Ok(swept)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefixes_are_per_run_and_recognised() {
        let a = prefix("20261126-seed1-p10");
        assert_ne!(a, prefix("20261126-seed1-p11"));
        assert_eq!(a.len(), 12);
        assert_eq!(run_of(&format!("{a}c0-n1")), Some(a.as_str()));
        assert_eq!(run_of("c0-n1"), None);
        assert_eq!(run_of("fp-notahex!-c0"), None);
        assert_eq!(run_of("fp-0123abcd"), None);
    }
}
