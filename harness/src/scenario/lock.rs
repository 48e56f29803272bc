//! `[lock]`: the lock under test — its kind, nodes, lease and what its nodes keep across a crash.

use crate::duration::Dur;
use crate::invalid::{ensure, Invalid};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum LockKind {
    /// SET NX PX + Lua compare-and-delete release.
    Single,
    /// SET NX PX + plain DEL release.
    Naive,
    /// SET NX PX on N independent nodes, granted by a majority within the lease.
    Redlock,
    /// Whatever lock the `[client]` process runs (a real library behind an adapter).
    Client,
}

impl LockKind {
    pub fn name(self) -> &'static str {
        match self {
            LockKind::Single => "single",
            LockKind::Naive => "naive",
            LockKind::Redlock => "redlock",
            LockKind::Client => "client",
        }
    }

    /// Whether its release is a plain `DEL` (and so can delete another client's key).
    pub fn releases_by_del(self) -> bool {
        self == LockKind::Naive
    }
}

impl std::str::FromStr for LockKind {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "single" => Ok(LockKind::Single),
            "naive" => Ok(LockKind::Naive),
            "redlock" => Ok(LockKind::Redlock),
            "client" => Ok(LockKind::Client),
            _ => Err(format!(
                "unknown lock `{s}`: use single, naive, redlock or client"
            )),
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LockSpec {
    pub kind: LockKind,
    /// Independent lock nodes (1 for the single-instance locks).
    #[serde(default = "default_nodes")]
    pub nodes: u32,
    pub ttl: Dur,
    /// Clock-drift margin subtracted from the ttl in the client's validity arithmetic.
    #[serde(default = "default_drift")]
    pub drift: Dur,
    /// Deadline for one call to a node; a missed deadline records `info`.
    #[serde(default = "default_op_timeout")]
    pub op_timeout: Dur,
    /// Redlock: proportional part of the drift margin (drift = ttl × drift_factor + drift);
    /// 0.01 when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub drift_factor: Option<f64>,
    /// Redlock: deadline for one node's answer (so an unreachable node does not eat the
    /// lease); 50 ms when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node_timeout: Option<Dur>,
    /// What a lock node keeps across a crash-restart.
    #[serde(default)]
    pub persistence: PersistenceMode,
}

/// A lock node's persistence (what survives a crash-restart).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum PersistenceMode {
    /// Nothing: a restarted node is empty.
    #[default]
    None,
    /// `appendonly yes`, `appendfsync everysec`: up to a second of writes may be lost.
    AofEverysec,
    /// `appendonly yes`, `appendfsync always`: every write is on disk before the reply.
    AofAlways,
}

impl From<PersistenceMode> for crate::nodes::node::Persistence {
    fn from(mode: PersistenceMode) -> Self {
        use crate::nodes::node::Persistence;
        match mode {
            PersistenceMode::None => Persistence::None,
            PersistenceMode::AofEverysec => Persistence::AofEverySec,
            PersistenceMode::AofAlways => Persistence::AofAlways,
        }
    }
}

fn default_nodes() -> u32 {
    1
}
fn default_drift() -> Dur {
    Dur(std::time::Duration::from_millis(2))
}
fn default_op_timeout() -> Dur {
    Dur(std::time::Duration::from_millis(500))
}

impl LockSpec {
    pub fn validate(&self) -> Result<(), Invalid> {
        ensure((1..=15).contains(&self.nodes), "nodes", || {
            format!("[lock] nodes = {} is out of range: use 1..=15", self.nodes)
        })?;
        ensure(
            matches!(self.kind, LockKind::Redlock | LockKind::Client) || self.nodes == 1,
            "nodes",
            || {
                format!(
                    "[lock] kind = \"{}\" runs on one node; remove `nodes` or set it to 1",
                    self.kind.name()
                )
            },
        )?;
        ensure(!self.ttl.0.is_zero(), "ttl", || {
            "[lock] ttl must be > 0: a lock that expires at once guards nothing (e.g. \"300ms\")"
                .into()
        })?;
        ensure(self.drift < self.ttl, "drift", || {
            format!(
                "[lock] drift {} must be smaller than ttl {}: no validity would be left",
                self.drift, self.ttl
            )
        })?;
        ensure(!self.op_timeout.0.is_zero(), "op_timeout", || {
            "[lock] op_timeout must be > 0".into()
        })?;
        self.validate_redlock()
    }

    /// Redlock's settings: only for Redlock, and leaving a lease to hold.
    fn validate_redlock(&self) -> Result<(), Invalid> {
        if self.kind != LockKind::Redlock {
            ensure(self.drift_factor.is_none(), "drift_factor", || {
                format!(
                    "[lock] drift_factor applies to kind = \"redlock\" only; remove it for \"{}\"",
                    self.kind.name()
                )
            })?;
            return ensure(self.node_timeout.is_none(), "node_timeout", || {
                format!("[lock] node_timeout applies to kind = \"redlock\" only; use op_timeout for \"{}\"", self.kind.name())
            });
        }
        if let Some(f) = self.drift_factor {
            ensure((0.0..1.0).contains(&f), "drift_factor", || {
                format!("[lock] drift_factor = {f} is out of range: use 0 ≤ drift_factor < 1 (Redlock uses 0.01)")
            })?;
        }
        let drift_ns =
            self.ttl.ns() as f64 * self.drift_factor.unwrap_or(0.01) + self.drift.ns() as f64;
        ensure(drift_ns < self.ttl.ns() as f64, "drift", || {
            format!(
                "[lock] drift {} + ttl × drift_factor leaves no validity of a {} ttl",
                self.drift, self.ttl
            )
        })?;
        if let Some(t) = self.node_timeout {
            ensure(!t.0.is_zero() && t < self.ttl, "node_timeout", || {
                format!("[lock] node_timeout {t} must be > 0 and well below the ttl {} (Redlock uses a few ms to tens of ms)", self.ttl)
            })?;
        }
        Ok(())
    }
}
