//! `[client]`: run the clients as processes of a real lock library (an adapter) instead of
//! fencepost's own locks.
//!
//! `library = "redis-py"` names an adapter shipped in `adapters/` (`"redis-py@5.0.8"` asks for
//! another published version of it); `command = ["python3", "my_adapter.py"]` runs a user's own,
//! from the scenario file's folder (or `dir`; `--client-command` sets it to the folder fencepost
//! was started in). Either speaks docs/client-protocol.md.

use crate::duration::Dur;
use crate::invalid::{ensure, Invalid};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClientSpec {
    /// An adapter in `adapters/`, optionally `NAME@VERSION`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub library: Option<String>,
    /// A user's own adapter: the program and its arguments.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub command: Option<Vec<String>>,
    /// The folder `command` runs in (default: the scenario file's folder).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dir: Option<std::path::PathBuf>,
    /// How many lock nodes a user's own adapter is given: `"one"` (the first) or `"majority"`
    /// (every one, the default). Adapters in `adapters/` say it in their adapter.toml.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nodes: Option<NodesKind>,
    /// Ask the library to renew the lease by itself (default: what the adapter declares).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auto_renewal: Option<bool>,
    /// Extend the lease this often during the critical section (default: a third of the ttl,
    /// for libraries that extend and do not renew by themselves).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub extend_every: Option<Dur>,
    /// Ask the library whether it still holds the lock before the write (when it can tell).
    #[serde(default = "yes")]
    pub check_held: bool,
    /// One critical section in `long_one_in` lasts `long_section` (longer than the ttl: the
    /// library must extend or renew to keep the lock); the others think up to
    /// `[workload] think_max`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub long_section: Option<Dur>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub long_one_in: Option<u32>,
}

fn yes() -> bool {
    true
}

impl ClientSpec {
    /// What the report calls the client before it says itself.
    pub fn label(&self) -> String {
        match (&self.library, &self.command) {
            (Some(l), _) => l.clone(),
            (None, Some(c)) => c.join(" "),
            (None, None) => "?".into(),
        }
    }

    pub fn validate(&self) -> Result<(), Invalid> {
        ensure(
            self.library.is_some() != self.command.is_some(),
            "library",
            || {
                "[client] needs either library = \"redis-py\" (an adapter in adapters/) or command = [\"python3\", \"my_adapter.py\"] (your own), not both".into()
            },
        )?;
        if let Some(l) = &self.library {
            parse_spec(l).map_err(|e| Invalid::new("library", format!("[client] {e}")))?;
        }
        ensure(
            self.command
                .as_ref()
                .is_none_or(|c| !c.is_empty() && !c[0].is_empty()),
            "command",
            || "[client] command is empty: give the program and its arguments".into(),
        )?;
        ensure(
            self.extend_every.is_none_or(|d| !d.0.is_zero()),
            "extend_every",
            || "[client] extend_every must be > 0".into(),
        )?;
        ensure(
            self.long_section.is_some() == self.long_one_in.is_some_and(|n| n > 0),
            "long_section",
            || "[client] long_section = \"1500ms\" and long_one_in = N (> 0) go together".into(),
        )
    }
}

/// How many lock nodes the library takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum NodesKind {
    /// One node (the first lock node of the run).
    One,
    /// Every lock node (Redlock-style: 3 or more).
    Majority,
}

/// `NAME` or `NAME@VERSION`.
pub fn parse_spec(spec: &str) -> Result<(String, Option<String>), String> {
    let bad = || {
        format!(
            "bad --client `{}`: use NAME or NAME@VERSION (e.g. redis-semaphore@5.8.0); VERSION is a published version of the library's package",
            checkers::quote::clip(spec)
        )
    };
    let (name, version) = match spec.split_once('@') {
        Some((n, v)) => (n, Some(v)),
        None => (spec, None),
    };
    let ok_name = !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    let ok_version = version.is_none_or(|v| {
        !v.is_empty()
            && v.chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '+'))
    });
    if !ok_name || !ok_version {
        return Err(bad());
    }
    Ok((name.to_string(), version.map(str::to_string)))
}
