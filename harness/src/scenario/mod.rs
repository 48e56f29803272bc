//! Scenario files: what a run does, declared in TOML, parsed and validated in one place.
//!
//! A scenario names the lock under test ([`lock`]), what the clients do ([`workload`]), the faults
//! (each `[[nemesis]]` entry is one fault plug-in's typed config, see [`crate::nemesis`]), and
//! what the run is expected to show, from how much evidence ([`expect`]). Unknown keys are errors
//! (a typo must not silently become a default), command-line overrides are applied before
//! validation, and every error names the file, the line and the fix.

pub mod client;
pub mod cluster;
pub mod edit;
pub mod expect;
pub mod lock;
pub mod workload;

use crate::duration::Dur;
use crate::invalid::{ensure, Invalid};
use crate::nemesis::{Bounds, NemesisSpec};
use client::ClientSpec;
use expect::{EvidenceSpec, Expect, KnownFinding};
use lock::{LockKind, LockSpec};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use workload::{ResourceSpec, SentinelSpec, WorkloadSpec};

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Scenario {
    /// Short name; the results folder is named after it.
    pub name: String,
    /// One or two sentences: what failure this reproduces.
    #[serde(default)]
    pub description: String,
    pub run: RunSpec,
    pub lock: LockSpec,
    #[serde(default)]
    pub resource: ResourceSpec,
    #[serde(default)]
    pub workload: WorkloadSpec,
    #[serde(default)]
    pub nemesis: Vec<NemesisSpec>,
    #[serde(default)]
    pub expect: Expect,
    #[serde(default)]
    pub evidence: EvidenceSpec,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub known_finding: Vec<KnownFinding>,
    /// A replicated setup: `n1` primary, `n2` replica, Sentinels; clients find the primary
    /// through Sentinel.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sentinel: Option<SentinelSpec>,
    /// Run the clients as processes of a real lock library.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client: Option<ClientSpec>,
    /// Run on a Redis Cluster (the lock's or counter's key on one of its shards).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cluster: Option<cluster::ClusterSection>,
    /// The server the nodes run (`[server] kind = "valkey"`, `version = "8.0"`); the machine's
    /// redis-server when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub server: Option<crate::servers::ServerAsk>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RunSpec {
    pub duration: Dur,
    pub clients: u32,
    /// Seed used when `--seed` is not given.
    #[serde(default = "default_seed")]
    pub seed: u64,
}

fn default_seed() -> u64 {
    1
}

/// Command-line settings that replace the file's, applied before validation.
#[derive(Debug, Clone, Default)]
pub struct Overrides {
    pub duration: Option<Dur>,
    pub lock: Option<LockKind>,
    /// `--client NAME[@VERSION]`: an adapter from adapters/.
    pub client: Option<String>,
    /// `--client-command "PROGRAM ARGS…"`: a user's own adapter, in words.
    pub client_command: Option<Vec<String>>,
    /// Where that command runs: the folder fencepost was started in (a command typed on the
    /// command line resolves relative paths as a shell would).
    pub client_command_dir: Option<PathBuf>,
    /// `--server KIND[@VERSION]`: the server the nodes run.
    pub server: Option<crate::servers::ServerAsk>,
}

impl Overrides {
    /// The flags as a user typed them, for the reproduce command and error messages.
    pub fn flags(&self) -> String {
        let mut s = String::new();
        if let Some(d) = self.duration {
            s.push_str(&format!(" --duration {d}"));
        }
        if let Some(l) = self.lock {
            s.push_str(&format!(" --lock {}", l.name()));
        }
        if let Some(c) = &self.client {
            s.push_str(&format!(" --client {c}"));
        }
        if let Some(c) = &self.client_command {
            let words = shell_words::join(c);
            s.push_str(&format!(" --client-command {}", shell_words::quote(&words)));
        }
        if let Some(v) = &self.server {
            s.push_str(&format!(" --server {}", v.label()));
        }
        s
    }
}

/// A scenario file that cannot be run: file, line and the fix.
#[derive(Debug, thiserror::Error)]
#[error("{file}{line}: {message}", line = line.map(|l| format!(":{l}")).unwrap_or_default())]
pub struct ScenarioError {
    pub file: PathBuf,
    pub line: Option<usize>,
    pub message: String,
}

impl Scenario {
    /// Reads, parses and validates a scenario file.
    pub fn load(path: &Path) -> Result<Scenario, ScenarioError> {
        Self::load_with(path, &Overrides::default())
    }

    /// Reads and parses a scenario file, applies `overrides`, then validates the result.
    pub fn load_with(path: &Path, overrides: &Overrides) -> Result<Scenario, ScenarioError> {
        let text = std::fs::read_to_string(path).map_err(|e| ScenarioError {
            file: path.to_path_buf(),
            line: None,
            message: format!("cannot read the scenario file: {e}; check the path (scenarios live in scenarios/NAME.toml)"),
        })?;
        Self::parse_with(path, &text, overrides)
    }

    pub fn parse(path: &Path, text: &str) -> Result<Scenario, ScenarioError> {
        Self::parse_with(path, text, &Overrides::default())
    }

    pub fn parse_with(
        path: &Path,
        text: &str,
        overrides: &Overrides,
    ) -> Result<Scenario, ScenarioError> {
        let mut scenario: Scenario = toml::from_str(text).map_err(|e| {
            let line = e
                .span()
                .map(|s| text[..s.start.min(text.len())].matches('\n').count() + 1);
            ScenarioError {
                file: path.to_path_buf(),
                line,
                message: first_line(e.message()),
            }
        })?;
        if let Some(d) = overrides.duration {
            scenario.run.duration = d;
        }
        if let Some(l) = overrides.lock {
            scenario.lock.kind = l;
        }
        if let Some(v) = &overrides.server {
            scenario.server = Some(v.clone());
        }
        if overrides.client.is_some() || overrides.client_command.is_some() {
            let spec = scenario.client.get_or_insert_with(ClientSpec::default);
            spec.library = overrides.client.clone();
            spec.command = overrides.client_command.clone();
            spec.dir = overrides.client_command_dir.clone();
        }
        scenario.validate().map_err(|(nemesis, bad)| {
            let flags = overrides.flags();
            ScenarioError {
                file: path.to_path_buf(),
                line: match nemesis {
                    Some(i) => line_in_nemesis(text, i, &bad.key),
                    None => line_of(text, &bad.key),
                },
                message: if flags.is_empty() {
                    bad.message
                } else {
                    format!("{} (with{flags})", bad.message)
                },
            }
        })?;
        Ok(scenario)
    }

    /// Why the server `ask` names cannot run this scenario, if it cannot (a Redis Cluster on a
    /// server that cannot form one).
    pub fn refused_by(&self, ask: &crate::servers::ServerAsk) -> Option<String> {
        self.cluster
            .as_ref()
            .and_then(|_| crate::servers::lacks(ask, crate::servers::Needs::ClusterFormation))
    }

    /// What nemeses see of this scenario when they validate their configs.
    pub fn bounds(&self) -> Bounds {
        Bounds {
            clients: self.run.clients,
            lock_nodes: self.lock.nodes,
            sentinel: self.sentinel.is_some(),
            pause_points: self.workload.kind.uses_lock(),
            crash_points: self.workload.kind == workload::WorkloadKind::Stream,
            client_processes: self.client.is_some(),
            redis_cluster: self.cluster.is_some(),
        }
    }

    /// Every section's own checks, then how they fit together; a nemesis's error carries its
    /// entry's position (to find its line).
    fn validate(&self) -> Result<(), (Option<usize>, Invalid)> {
        let top = |r: Result<(), Invalid>| r.map_err(|e| (None, e));
        top(ensure(
            !self.name.trim().is_empty()
                && self
                    .name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_'),
            "name",
            || {
                format!("name `{}` must be non-empty letters, digits, `-` or `_` (it names the results folder)", self.name)
            },
        ))?;
        top(ensure(!self.run.duration.0.is_zero(), "duration", || {
            "[run] duration must be > 0, e.g. \"10s\"".into()
        }))?;
        top(ensure(
            (1..=1000).contains(&self.run.clients),
            "clients",
            || {
                format!(
                    "[run] clients = {} is out of range: use 1..=1000",
                    self.run.clients
                )
            },
        ))?;
        top(self.lock.validate())?;
        top(self.workload.validate(self.lock.kind, self.run.clients))?;
        if let Some(ask) = &self.server {
            if let Some(v) = &ask.version {
                top(crate::servers::ServerAsk::check_version(v)
                    .map_err(|m| Invalid::new("version", format!("[server] {m}"))))?;
            }
            top(crate::servers::catalog::find(ask)
                .map(drop)
                .map_err(|e| Invalid::new("version", format!("[server] {e}"))))?;
            if let Some(why) = self.refused_by(ask) {
                top(Err(Invalid::new("version", format!("[server] {why}"))))?;
            }
        }
        let bounds = self.bounds();
        for (i, n) in self.nemesis.iter().enumerate() {
            n.plugin().validate(&bounds).map_err(|e| (Some(i), e))?;
            fits_the_run(n, self.run.duration).map_err(|e| (Some(i), e))?;
            if self.cluster.is_some() && !n.plugin().runs_on_redis_cluster() {
                return Err((
                    Some(i),
                    Invalid::new("kind", format!("[[nemesis]] {} acts on the lone lock nodes n1..nN, which a [cluster] run does not have: use the cluster-primary-fail, cluster-failover, cluster-partition or cluster-reshard faults, or gc-pause", n.kind())),
                ));
            }
        }
        if let Some(c) = &self.cluster {
            top(c.validate(self.lock.kind, self.workload.kind))?;
            top(ensure(
                self.sentinel.is_none() && self.client.is_none(),
                "cluster",
                || {
                    "[cluster] runs fencepost's own clients on its own topology: remove [sentinel] and [client]".into()
                },
            ))?;
        }
        if let Some(c) = &self.client {
            top(c.validate())?;
            top(ensure(
                self.workload.kind == workload::WorkloadKind::Lock,
                "client",
                || {
                    format!("[client] runs the lock workload: use [workload] kind = \"lock\", not \"{}\"", self.workload.kind.name())
                },
            ))?;
            top(ensure(self.sentinel.is_none(), "client", || {
                "[client] processes are not run against [sentinel] set-ups yet: they reach fixed lock nodes".into()
            }))?;
        }
        top(ensure(
            self.lock.kind != LockKind::Client || self.client.is_some(),
            "kind",
            || {
                "[lock] kind = \"client\" needs a [client] section (library = \"redis-py\" or command = [...]), or --client NAME".into()
            },
        ))?;
        if let Some(_s) = &self.sentinel {
            top(ensure(self.lock.nodes == 1, "nodes", || {
                "[sentinel] runs one primary (n1) and its replica (n2): [lock] nodes must be 1"
                    .into()
            }))?;
            top(ensure(
                self.workload.kind != workload::WorkloadKind::Pubsub,
                "kind",
                || {
                    "[workload] kind = \"pubsub\" subscribes on n1's link and does not follow Sentinel yet: drop [sentinel], or use kind = \"stream\"".into()
                },
            ))?;
        }
        top(expect::validate(self))
    }

    /// Names of the faults this scenario injects, for reports.
    pub fn fault_names(&self) -> Vec<&'static str> {
        self.nemesis.iter().map(|n| n.kind()).collect()
    }

    /// The longest a single fault of this scenario lasts (the end-of-run grace period).
    pub fn longest_fault(&self) -> std::time::Duration {
        self.nemesis
            .iter()
            .map(|n| n.plugin().longest().0 .0)
            .max()
            .unwrap_or_default()
    }
}

fn first_line(s: &str) -> String {
    s.lines().next().unwrap_or(s).trim().to_string()
}

/// The line where `key = ...` is written, for errors found after parsing.
fn line_of(text: &str, key: &str) -> Option<usize> {
    line_from(text, 0, key, false)
}

/// The line of `key` inside the `index`-th `[[nemesis]]` entry (or of the entry's header).
fn line_in_nemesis(text: &str, index: usize, key: &str) -> Option<usize> {
    let header = text
        .lines()
        .enumerate()
        .filter(|(_, l)| l.trim() == "[[nemesis]]")
        .nth(index)
        .map(|(i, _)| i)?;
    line_from(text, header + 1, key, true).or(Some(header + 1))
}

/// The first `key = …` line from line `from` (0-based); `table_only` stops at the next header.
fn line_from(text: &str, from: usize, key: &str, table_only: bool) -> Option<usize> {
    for (i, l) in text.lines().enumerate().skip(from) {
        let l = l.trim_start();
        if table_only && l.starts_with('[') {
            return None;
        }
        if l.strip_prefix(key)
            .is_some_and(|rest| rest.trim_start().starts_with('='))
        {
            return Some(i + 1);
        }
    }
    None
}

/// Finds a scenario by name (`gc-pause` → `scenarios/gc-pause.toml`) or takes a path.
/// Refuses a schedule the run cannot hold: a first injection at or after the run's end, one
/// injection longer than the run, or a first injection that would heal after the run's end
/// (the run would stop it early, and it would never be seen whole).
fn fits_the_run(n: &crate::nemesis::NemesisSpec, run: Dur) -> Result<(), Invalid> {
    let kind = n.kind();
    let start = n.plugin().schedule().start;
    let (length, key) = n.plugin().longest();
    if start.0 >= run.0 {
        return Err(Invalid::new(
            "start",
            format!("[[nemesis]] {kind}: start = \"{start}\" is at or after the end of the run ([run] duration = \"{run}\"): start it earlier, or make the run longer"),
        ));
    }
    if key.is_empty() {
        return Ok(()); // a fixed allowance: the fault's own length is not the scenario's choice
    }
    if length.0 >= run.0 {
        return Err(Invalid::new(
            key,
            format!("[[nemesis]] {kind}: one injection lasts {length} ({key}), as long as the whole run ([run] duration = \"{run}\"): shorten {key}, or make the run longer"),
        ));
    }
    if start.0 + length.0 > run.0 {
        return Err(Invalid::new(
            key,
            format!("[[nemesis]] {kind}: the first injection (start {start} + {key} {length}) would heal at {}, after the end of the run ([run] duration = \"{run}\"): start it earlier, shorten {key}, or make the run longer", Dur(start.0 + length.0)),
        ));
    }
    Ok(())
}

/// The file a scenario name or path means: a path ending in `.toml` as given; otherwise
/// `SCENARIOS/NAME.toml` (NAME may have a folder: `libraries/baseline`). A name with no file is
/// refused with the closest scenario names, every one there is, and where it looked.
pub fn resolve(name_or_path: &str, scenarios_dir: &Path) -> Result<PathBuf, ScenarioError> {
    let p = Path::new(name_or_path);
    let path = if p.extension().is_some_and(|e| e == "toml") {
        p.to_path_buf()
    } else {
        scenarios_dir.join(format!("{name_or_path}.toml"))
    };
    if path.is_file() {
        return Ok(path);
    }
    let here = std::env::current_dir()
        .map(|d| d.display().to_string())
        .unwrap_or_else(|_| "?".into());
    let message = if p.extension().is_some_and(|e| e == "toml") {
        format!(
            "no scenario file {} (relative paths start at the current folder, {here})",
            path.display()
        )
    } else if !scenarios_dir.is_dir() {
        format!(
            "no scenario folder {} here (it is relative to the current folder, {here}): run from the repository's root, or pass --scenarios DIR",
            scenarios_dir.display()
        )
    } else {
        let known = scenario_names(scenarios_dir);
        format!(
            "{}; scenario names are file names in {} without .toml, or pass a path to a .toml file",
            crate::suggest::unknown("scenario", name_or_path, &known),
            scenarios_dir.display()
        )
    };
    Err(ScenarioError {
        file: path,
        line: None,
        message,
    })
}

/// The scenario names in a folder and its subfolders (`gc-pause`, `libraries/baseline`), sorted.
pub fn scenario_names(scenarios_dir: &Path) -> Vec<String> {
    fn walk(dir: &Path, prefix: &str, out: &mut Vec<String>) {
        for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
            let path = e.path();
            let name = e.file_name().to_string_lossy().into_owned();
            if path.is_dir() && prefix.is_empty() {
                walk(&path, &format!("{name}/"), out);
            } else if let Some(stem) = name.strip_suffix(".toml") {
                out.push(format!("{prefix}{stem}"));
            }
        }
    }
    let mut names = Vec::new();
    walk(scenarios_dir, "", &mut names);
    names.sort();
    names
}

#[cfg(test)]
mod tests;
