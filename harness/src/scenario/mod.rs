//! Scenario files: what a run does, declared in TOML, parsed and validated in one place.
//!
//! A scenario names the lock under test, the workload's timing, the faults (nemeses) and what the
//! run is expected to show. Unknown keys are errors (a typo must not silently become a default),
//! and every error names the file, the line and the fix.

use crate::duration::Dur;
use crate::nemesis::links::{Clients, Links};
use crate::nemesis::nodes::NodeTarget;
use crate::nemesis::partition::Shape;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

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
    /// A replicated setup: `n1` primary, `n2` replica, Sentinels; clients find the primary
    /// through Sentinel.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sentinel: Option<SentinelSpec>,
}

/// Sentinel failover settings.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SentinelSpec {
    /// How many Sentinels (quorum: a majority of them).
    #[serde(default = "d_sentinels")]
    pub sentinels: u32,
    /// `down-after-milliseconds`: how long the primary must be silent to be judged down.
    #[serde(default = "d_down_after")]
    pub down_after: Dur,
    /// `failover-timeout` (the Redis docs' example value when absent).
    #[serde(default = "d_failover_timeout")]
    pub failover_timeout: Dur,
}

fn d_sentinels() -> u32 {
    3
}
fn d_down_after() -> Dur {
    ms(1000)
}
fn d_failover_timeout() -> Dur {
    ms(60_000)
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

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum LockKind {
    /// SET NX PX + Lua compare-and-delete release.
    Single,
    /// SET NX PX + plain DEL release.
    Naive,
    /// SET NX PX on N independent nodes, granted by a majority within the lease.
    Redlock,
}

impl LockKind {
    pub fn name(self) -> &'static str {
        match self {
            LockKind::Single => "single",
            LockKind::Naive => "naive",
            LockKind::Redlock => "redlock",
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

/// Which clock a clock nemesis bends, and how.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ClockFault {
    /// The clock steps forward by `offset` (an NTP step, a resumed VM).
    JumpForward,
    /// The clock steps back by `offset`.
    JumpBack,
    /// The clock flips between +`offset` and its true reading every `period`.
    Strobe,
    /// The clock runs at `rate` × real time.
    Rate,
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

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ResourceSpec {
    /// Whether the resource rejects accesses with stale fencing tokens.
    #[serde(default)]
    pub fenced: bool,
}

/// What the clients do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum WorkloadKind {
    /// Contend for the lock and increment the protected resource under it.
    #[default]
    Lock,
    /// `INCR` a counter on the (primary) lock node.
    Counter,
    /// Acquire the lock, `GET` the counter on the storage node, `SET` it + 1, release.
    RmwCounter,
    /// Fixed-window rate limiter (`INCR` + `PEXPIRE` on the first request, a key per window).
    FixedWindow,
    /// Sliding-window rate limiter (`ZREMRANGEBYSCORE` + `ZCARD` + `ZADD` in one script).
    SlidingWindow,
}

impl WorkloadKind {
    pub fn is_limiter(self) -> bool {
        matches!(
            self,
            WorkloadKind::FixedWindow | WorkloadKind::SlidingWindow
        )
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WorkloadSpec {
    /// What the clients do (`lock` when absent).
    #[serde(default)]
    pub kind: WorkloadKind,
    /// Counter: one op in `read_one_in` is a read, the rest increments (0 = no reads).
    #[serde(default = "d_read_one_in")]
    pub read_one_in: u32,
    /// Rate limiters: at most `limit` requests admitted per `window`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub window: Option<Dur>,
    /// RMW counter: after each grant, `WAIT wait_replicas wait_timeout` and act only on a grant
    /// that many replicas acknowledged.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wait_replicas: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wait_timeout: Option<Dur>,
    #[serde(default = "d_think")]
    pub think_max: Dur,
    #[serde(default = "d_retry_min")]
    pub retry_min: Dur,
    #[serde(default = "d_retry_max")]
    pub retry_max: Dur,
    #[serde(default = "d_idle")]
    pub idle_max: Dur,
}

fn ms(n: u64) -> Dur {
    Dur(std::time::Duration::from_millis(n))
}
fn d_read_one_in() -> u32 {
    5
}
fn d_think() -> Dur {
    ms(5)
}
fn d_retry_min() -> Dur {
    ms(2)
}
fn d_retry_max() -> Dur {
    ms(20)
}
fn d_idle() -> Dur {
    ms(10)
}

impl Default for WorkloadSpec {
    fn default() -> Self {
        WorkloadSpec {
            kind: WorkloadKind::default(),
            read_one_in: d_read_one_in(),
            limit: None,
            window: None,
            wait_replicas: None,
            wait_timeout: None,
            think_max: d_think(),
            retry_min: d_retry_min(),
            retry_max: d_retry_max(),
            idle_max: d_idle(),
        }
    }
}

/// A fault injector and its schedule. Recurring faults fire first at `start`, then every
/// `every` on average.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case", deny_unknown_fields)]
pub enum NemesisSpec {
    /// Kleppmann's stop-the-world pause of a lock-holding client.
    GcPause {
        start: Dur,
        every: Dur,
        /// How long the client stops; longer than the ttl to make the lease expire.
        pause: Dur,
    },
    /// Cut clients off from nodes in one of Jepsen's shapes, then heal.
    Partition {
        start: Dur,
        every: Dur,
        /// How long each partition lasts.
        duration: Dur,
        shape: Shape,
        /// Also partition the resource node (by default only lock nodes).
        #[serde(default)]
        resource: bool,
    },
    /// A latency spike on chosen links.
    Latency {
        start: Dur,
        every: Dur,
        duration: Dur,
        latency: Dur,
        #[serde(default)]
        jitter: Dur,
        links: Links,
        #[serde(default)]
        clients: Clients,
    },
    /// Connection resets on chosen links.
    ResetPeer {
        start: Dur,
        every: Dur,
        /// How long new connections keep being reset.
        hold: Dur,
        links: Links,
        #[serde(default)]
        clients: Clients,
    },
    /// Kleppmann's delayed packet: a holder's write is held back in the network past its lease.
    DelayedWrite { start: Dur, every: Dur, delay: Dur },
    /// Sentinel failover while replication lags (once, at `start`): delay the replication link,
    /// SIGSTOP the primary until the replica is promoted, resume it after `pause`.
    Failover {
        start: Dur,
        /// Latency on the replication stream n1 → n2 while the failover runs.
        repl_delay: Dur,
        /// How long the primary keeps acknowledging unreplicated writes before it stops.
        lead: Dur,
        /// How long the old primary stays SIGSTOPped.
        pause: Dur,
        /// Stop the primary the moment a client holds a grant mid-critical-section, and hold that
        /// client there until the promotion (a long critical section).
        #[serde(default)]
        hold_holder: bool,
    },
    /// SIGSTOP lock nodes' redis-servers, then SIGCONT them: commands block, TTLs run on.
    NodePause {
        start: Dur,
        every: Dur,
        target: NodeTarget,
        /// How long the nodes stay stopped.
        pause: Dur,
    },
    /// Bend the wall clock of lock nodes (or the clock of one client), then restore it.
    Clock {
        start: Dur,
        every: Dur,
        /// Which lock nodes; leave out when `client` is given.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        target: Option<NodeTarget>,
        /// Bend this client's own clock instead (the one its validity arithmetic uses).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        client: Option<u32>,
        fault: ClockFault,
        /// Jump size, or the strobe's amplitude.
        #[serde(default)]
        offset: Dur,
        /// Strobe: how often the clock flips.
        #[serde(default)]
        period: Dur,
        /// Rate: the clock's speed, e.g. 2.0 (twice real time) or 0.5.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        rate: Option<f64>,
        /// How long the clock stays bent before it is restored.
        hold: Dur,
    },
    /// SIGKILL lock nodes and restart them on the same port after `restart_delay`, keeping
    /// what `[lock] persistence` keeps.
    Crash {
        start: Dur,
        every: Dur,
        target: NodeTarget,
        #[serde(default)]
        restart_delay: Dur,
    },
    /// Cut fixed client→node links (`c0-n4`) from `start` to the end of the run: the network
    /// backdrop of a choreographed scenario (Kleppmann's "client 1 cannot reach D and E").
    CutLinks {
        #[serde(default)]
        start: Dur,
        links: Vec<String>,
    },
}

impl NemesisSpec {
    pub fn kind(&self) -> &'static str {
        match self {
            NemesisSpec::GcPause { .. } => "gc-pause",
            NemesisSpec::Partition { .. } => "partition",
            NemesisSpec::Latency { .. } => "latency",
            NemesisSpec::ResetPeer { .. } => "reset-peer",
            NemesisSpec::DelayedWrite { .. } => "delayed-write",
            NemesisSpec::Failover { .. } => "failover",
            NemesisSpec::NodePause { .. } => "node-pause",
            NemesisSpec::Clock { .. } => "clock",
            NemesisSpec::Crash { .. } => "crash",
            NemesisSpec::CutLinks { .. } => "cut-links",
        }
    }

    /// The schedule's (start, every).
    pub fn schedule(&self) -> (Dur, Dur) {
        match *self {
            // Fires once; `every` does not apply.
            NemesisSpec::Failover { start, .. } => (start, Dur(std::time::Duration::MAX)),
            NemesisSpec::GcPause { start, every, .. }
            | NemesisSpec::Partition { start, every, .. }
            | NemesisSpec::Latency { start, every, .. }
            | NemesisSpec::ResetPeer { start, every, .. }
            | NemesisSpec::DelayedWrite { start, every, .. }
            | NemesisSpec::NodePause { start, every, .. }
            | NemesisSpec::Clock { start, every, .. }
            | NemesisSpec::Crash { start, every, .. } => (start, every),
            // Fires once; `every` does not apply.
            NemesisSpec::CutLinks { start, .. } => (start, Dur(std::time::Duration::MAX)),
        }
    }

    /// The longest a single fault of this nemesis lasts (for the end-of-run grace period).
    pub fn longest(&self) -> Dur {
        match *self {
            NemesisSpec::GcPause { pause, .. } => pause,
            NemesisSpec::Partition { duration, .. } | NemesisSpec::Latency { duration, .. } => {
                duration
            }
            NemesisSpec::ResetPeer { hold, .. } => hold,
            NemesisSpec::DelayedWrite { delay, .. } => delay,
            NemesisSpec::Failover { pause, .. } => pause,
            NemesisSpec::NodePause { pause, .. } => pause,
            NemesisSpec::Clock { hold, .. } => hold,
            NemesisSpec::Crash { restart_delay, .. } => restart_delay,
            // Healed at once when the run stops.
            NemesisSpec::CutLinks { .. } => Dur::default(),
        }
    }
}

/// A checker's expected outcome.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Expectation {
    /// The property must hold (no violation).
    Holds,
    /// The run must show at least one violation (the scenario reproduces a failure).
    Violated,
}

/// What the run must show. Absent fields are not judged.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Expect {
    /// Overlapping critical spans (two clients acting as holder at once).
    pub mutual_exclusion: Option<Expectation>,
    /// Accesses accepted out of token order at the resource.
    pub fencing: Option<Expectation>,
    /// Increments lost at the resource.
    pub lost_updates: Option<Expectation>,
    /// At least this many stale accesses rejected by fencing.
    pub prevented_min: Option<u64>,
    /// At least this many ops ended `info` (evidence the faults bit).
    pub indeterminate_min: Option<u64>,
    /// Counter workloads: increments lost or duplicated.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub counter: Option<Expectation>,
    /// Rate limiters: more than `limit` admitted in some interval of length `window`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rate_window: Option<Expectation>,
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
        let text = std::fs::read_to_string(path).map_err(|e| ScenarioError {
            file: path.to_path_buf(),
            line: None,
            message: format!("cannot read the scenario file: {e}; check the path (scenarios live in scenarios/NAME.toml)"),
        })?;
        Self::parse(path, &text)
    }

    pub fn parse(path: &Path, text: &str) -> Result<Scenario, ScenarioError> {
        let scenario: Scenario = toml::from_str(text).map_err(|e| {
            let line = e
                .span()
                .map(|s| text[..s.start.min(text.len())].matches('\n').count() + 1);
            ScenarioError {
                file: path.to_path_buf(),
                line,
                message: first_line(e.message()),
            }
        })?;
        scenario.validate(path, text)?;
        Ok(scenario)
    }

    fn validate(&self, path: &Path, text: &str) -> Result<(), ScenarioError> {
        let err = |key: &str, message: String| ScenarioError {
            file: path.to_path_buf(),
            line: line_of(text, key),
            message,
        };
        if self.name.trim().is_empty()
            || !self
                .name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        {
            return Err(err("name", format!("name `{}` must be non-empty letters, digits, `-` or `_` (it names the results folder)", self.name)));
        }
        if self.run.duration.0.is_zero() {
            return Err(err(
                "duration",
                "[run] duration must be > 0, e.g. \"10s\"".into(),
            ));
        }
        if self.run.clients == 0 || self.run.clients > 1000 {
            return Err(err(
                "clients",
                format!(
                    "[run] clients = {} is out of range: use 1..=1000",
                    self.run.clients
                ),
            ));
        }
        if self.lock.nodes == 0 || self.lock.nodes > 15 {
            return Err(err(
                "nodes",
                format!(
                    "[lock] nodes = {} is out of range: use 1..=15",
                    self.lock.nodes
                ),
            ));
        }
        if matches!(self.lock.kind, LockKind::Single | LockKind::Naive) && self.lock.nodes != 1 {
            return Err(err(
                "nodes",
                format!(
                    "[lock] kind = \"{}\" runs on one node; remove `nodes` or set it to 1",
                    self.lock.kind.name()
                ),
            ));
        }
        if self.lock.ttl.0.is_zero() {
            return Err(err("ttl", "[lock] ttl must be > 0: a lock that expires at once guards nothing (e.g. \"300ms\")".into()));
        }
        if self.lock.drift >= self.lock.ttl {
            return Err(err(
                "drift",
                format!(
                    "[lock] drift {} must be smaller than ttl {}: no validity would be left",
                    self.lock.drift, self.lock.ttl
                ),
            ));
        }
        if self.lock.op_timeout.0.is_zero() {
            return Err(err("op_timeout", "[lock] op_timeout must be > 0".into()));
        }
        let w = &self.workload;
        if w.retry_min > w.retry_max {
            return Err(err(
                "retry_min",
                format!(
                    "[workload] retry_min {} is larger than retry_max {}",
                    w.retry_min, w.retry_max
                ),
            ));
        }
        for n in &self.nemesis {
            let (_, every) = n.schedule();
            if every.0.is_zero() {
                return Err(err(
                    "every",
                    format!("[[nemesis]] {}: every must be > 0", n.kind()),
                ));
            }
            let instant = matches!(n, NemesisSpec::Crash { .. } | NemesisSpec::CutLinks { .. });
            if n.longest().0.is_zero() && !instant {
                let key = match n {
                    NemesisSpec::GcPause { .. } | NemesisSpec::NodePause { .. } => "pause",
                    NemesisSpec::Clock { .. } => "hold",
                    NemesisSpec::ResetPeer { .. } => "hold",
                    NemesisSpec::DelayedWrite { .. } => "delay",
                    _ => "duration",
                };
                return Err(err(
                    key,
                    format!("[[nemesis]] {}: {key} must be > 0", n.kind()),
                ));
            }
            if let NemesisSpec::Latency { latency, .. } = n {
                if latency.0.is_zero() {
                    return Err(err(
                        "latency",
                        "[[nemesis]] latency: latency must be > 0".into(),
                    ));
                }
            }
        }
        self.validate_redlock().map_err(|(k, m)| err(k, m))?;
        self.validate_node_faults().map_err(|(k, m)| err(k, m))?;
        self.validate_workload().map_err(|(k, m)| err(k, m))?;
        if self.expect.prevented_min.is_some_and(|m| m > 0) && !self.resource.fenced {
            return Err(err("prevented_min", "[expect] prevented_min needs [resource] fenced = true: an unfenced resource prevents nothing".into()));
        }
        Ok(())
    }

    /// Redlock's settings: only for Redlock, and leaving a lease to hold.
    fn validate_redlock(&self) -> Result<(), (&'static str, String)> {
        let l = &self.lock;
        if l.kind != LockKind::Redlock {
            if l.drift_factor.is_some() {
                return Err(("drift_factor", format!("[lock] drift_factor applies to kind = \"redlock\" only; remove it for \"{}\"", l.kind.name())));
            }
            if l.node_timeout.is_some() {
                return Err(("node_timeout", format!("[lock] node_timeout applies to kind = \"redlock\" only; use op_timeout for \"{}\"", l.kind.name())));
            }
            return Ok(());
        }
        if let Some(f) = l.drift_factor {
            if !(0.0..1.0).contains(&f) {
                return Err(("drift_factor", format!("[lock] drift_factor = {f} is out of range: use 0 ≤ drift_factor < 1 (Redlock uses 0.01)")));
            }
        }
        let drift_ns = l.ttl.ns() as f64 * l.drift_factor.unwrap_or(0.01) + l.drift.ns() as f64;
        if drift_ns >= l.ttl.ns() as f64 {
            return Err((
                "drift",
                format!(
                    "[lock] drift {} + ttl × drift_factor leaves no validity of a {} ttl",
                    l.drift, l.ttl
                ),
            ));
        }
        if let Some(t) = l.node_timeout {
            if t.0.is_zero() || t >= l.ttl {
                return Err(("node_timeout", format!("[lock] node_timeout {t} must be > 0 and well below the ttl {} (Redlock uses a few ms to tens of ms)", l.ttl)));
            }
        }
        Ok(())
    }

    /// Node faults: targets that exist, clock settings that fit the fault, links that exist.
    fn validate_node_faults(&self) -> Result<(), (&'static str, String)> {
        let nodes = self.lock.nodes;
        for n in &self.nemesis {
            match *n {
                NemesisSpec::NodePause { target, .. } | NemesisSpec::Crash { target, .. } => {
                    target
                        .check(nodes)
                        .map_err(|m| ("target", format!("[[nemesis]] {}: {m}", n.kind())))?;
                }
                NemesisSpec::Clock {
                    target,
                    client,
                    fault,
                    offset,
                    period,
                    rate,
                    ..
                } => {
                    match (target, client) {
                        (Some(t), None) => t.check(nodes).map_err(|m| ("target", format!("[[nemesis]] clock: {m}")))?,
                        (None, Some(c)) if c < self.run.clients => {}
                        (None, Some(c)) => return Err(("client", format!("[[nemesis]] clock: client {c} does not exist: clients are 0..{}", self.run.clients))),
                        _ => return Err(("target", "[[nemesis]] clock: give either `target` (lock nodes) or `client` (one client's clock), not both or neither".into())),
                    }
                    match fault {
                        ClockFault::JumpForward | ClockFault::JumpBack | ClockFault::Strobe
                            if offset.0.is_zero() =>
                        {
                            return Err((
                                "offset",
                                "[[nemesis]] clock: this fault needs offset > 0 (e.g. \"2s\")"
                                    .into(),
                            ));
                        }
                        ClockFault::Strobe if period.0.is_zero() => {
                            return Err((
                                "period",
                                "[[nemesis]] clock: strobe needs period > 0 (e.g. \"20ms\")".into(),
                            ));
                        }
                        ClockFault::Rate
                            if !rate.is_some_and(|r| (0.001..=1000.0).contains(&r)) =>
                        {
                            return Err(("rate", "[[nemesis]] clock: rate needs rate = a factor in 0.001..=1000 (e.g. 2.0)".into()));
                        }
                        _ => {}
                    }
                }
                NemesisSpec::CutLinks { ref links, .. } => {
                    if links.is_empty() {
                        return Err((
                            "links",
                            "[[nemesis]] cut-links: links is empty; name links like \"c0-n4\""
                                .into(),
                        ));
                    }
                    for l in links {
                        let ok = l
                            .strip_prefix('c')
                            .and_then(|r| r.split_once('-'))
                            .is_some_and(|(c, node)| {
                                let client_ok =
                                    c.parse::<u32>().is_ok_and(|c| c < self.run.clients);
                                let node_ok = node == crate::topology::RESOURCE
                                    || node
                                        .strip_prefix('n')
                                        .and_then(|k| k.parse::<u32>().ok())
                                        .is_some_and(|k| (1..=nodes).contains(&k));
                                client_ok && node_ok
                            });
                        if !ok {
                            return Err(("links", format!("[[nemesis]] cut-links: link `{l}` does not exist: use c{{client}}-{{node}} with clients 0..{} and nodes n1..n{nodes} or resource", self.run.clients)));
                        }
                    }
                }
                _ => {}
            }
        }
        Ok(())
    }

    /// Counter and limiter settings: present where they apply, and only there.
    fn validate_workload(&self) -> Result<(), (&'static str, String)> {
        let w = &self.workload;
        if w.kind.is_limiter() {
            match (w.limit, w.window) {
                (Some(l), Some(win)) if l > 0 && !win.0.is_zero() => {}
                _ => {
                    return Err((
                        "kind",
                        "[workload] a rate limiter needs limit = N > 0 and window = \"1s\" (> 0)"
                            .into(),
                    ))
                }
            }
        } else if w.limit.is_some() || w.window.is_some() {
            return Err(("limit", "[workload] limit and window apply to kind = \"fixed-window\" or \"sliding-window\" only".into()));
        }
        if (w.wait_replicas.is_some() || w.wait_timeout.is_some())
            && w.kind != WorkloadKind::RmwCounter
        {
            return Err((
                "wait_replicas",
                "[workload] wait_replicas applies to kind = \"rmw-counter\" only".into(),
            ));
        }
        if self.expect.counter.is_some()
            && !matches!(w.kind, WorkloadKind::Counter | WorkloadKind::RmwCounter)
        {
            return Err((
                "counter",
                "[expect] counter needs [workload] kind = \"counter\" or \"rmw-counter\"".into(),
            ));
        }
        let failover = self
            .nemesis
            .iter()
            .any(|n| matches!(n, NemesisSpec::Failover { .. }));
        if failover && self.sentinel.is_none() {
            return Err((
                "kind",
                "[[nemesis]] failover needs a [sentinel] section (a primary, a replica, Sentinels)"
                    .into(),
            ));
        }
        if self.sentinel.is_some() && self.lock.nodes != 1 {
            return Err((
                "nodes",
                "[sentinel] runs one primary (n1) and its replica (n2): [lock] nodes must be 1"
                    .into(),
            ));
        }
        if self.expect.rate_window.is_some() && !w.kind.is_limiter() {
            return Err((
                "rate_window",
                "[expect] rate_window needs a rate-limiter workload".into(),
            ));
        }
        Ok(())
    }

    /// Names of the faults this scenario injects, for reports.
    pub fn fault_names(&self) -> Vec<&'static str> {
        self.nemesis.iter().map(|n| n.kind()).collect()
    }
}

fn first_line(s: &str) -> String {
    s.lines().next().unwrap_or(s).trim().to_string()
}

/// The line where `key = ...` is written, for errors found after parsing.
fn line_of(text: &str, key: &str) -> Option<usize> {
    text.lines()
        .position(|l| {
            let l = l.trim_start();
            l.strip_prefix(key)
                .is_some_and(|rest| rest.trim_start().starts_with('='))
        })
        .map(|i| i + 1)
}

/// Finds a scenario by name (`gc-pause` → `scenarios/gc-pause.toml`) or takes a path.
pub fn resolve(name_or_path: &str, scenarios_dir: &Path) -> PathBuf {
    let p = Path::new(name_or_path);
    if p.extension().is_some_and(|e| e == "toml") || p.components().count() > 1 {
        p.to_path_buf()
    } else {
        scenarios_dir.join(format!("{name_or_path}.toml"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = r#"
name = "t"
[run]
duration = "2s"
clients = 3
[lock]
kind = "single"
ttl = "200ms"
[[nemesis]]
kind = "gc-pause"
start = "500ms"
every = "1s"
pause = "400ms"
[expect]
mutual_exclusion = "violated"
"#;

    fn parse(text: &str) -> Result<Scenario, ScenarioError> {
        Scenario::parse(Path::new("s.toml"), text)
    }

    #[test]
    fn parses_a_good_file() {
        let s = parse(GOOD).unwrap();
        assert_eq!(s.run.clients, 3);
        assert_eq!(s.lock.ttl.ms(), 200);
        assert_eq!(s.expect.mutual_exclusion, Some(Expectation::Violated));
        assert_eq!(s.fault_names(), vec!["gc-pause"]);
    }

    #[test]
    fn unknown_key_names_file_and_line() {
        let bad = GOOD.replace("clients = 3", "clients = 3\nclinets = 4");
        let e = parse(&bad).unwrap_err().to_string();
        assert!(e.starts_with("s.toml:6:"), "{e}");
        assert!(e.contains("clinets"), "{e}");
    }

    #[test]
    fn bad_duration_is_explained() {
        let e = parse(&GOOD.replace("\"200ms\"", "200"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("unit is missing"), "{e}");
        assert!(e.starts_with("s.toml:8:"), "{e}");
    }

    #[test]
    fn zero_ttl_is_refused_with_its_line() {
        let e = parse(&GOOD.replace("\"200ms\"", "\"0ms\""))
            .unwrap_err()
            .to_string();
        assert!(
            e.starts_with("s.toml:8:") && e.contains("ttl must be > 0"),
            "{e}"
        );
    }

    #[test]
    fn unknown_nemesis_kind_is_refused() {
        let e = parse(&GOOD.replace("kind = \"gc-pause\"", "kind = \"gc-paws\""))
            .unwrap_err()
            .to_string();
        assert!(e.contains("gc-paws"), "{e}");
    }

    const REDLOCK: &str = r#"
name = "r"
[run]
duration = "2s"
clients = 2
[lock]
kind = "redlock"
nodes = 5
ttl = "1s"
node_timeout = "50ms"
persistence = "aof-always"
[[nemesis]]
kind = "cut-links"
links = ["c0-n4", "c1-n1"]
[[nemesis]]
kind = "clock"
target = "n3"
fault = "jump-forward"
offset = "3s"
hold = "300ms"
start = "1s"
every = "1s"
[[nemesis]]
kind = "crash"
target = "minority"
start = "1s"
every = "1s"
[[nemesis]]
kind = "node-pause"
target = "majority"
pause = "500ms"
start = "1s"
every = "1s"
"#;

    #[test]
    fn redlock_and_node_faults_parse() {
        let s = parse(REDLOCK).unwrap();
        assert_eq!(s.lock.kind, LockKind::Redlock);
        assert_eq!(s.lock.persistence, PersistenceMode::AofAlways);
        assert_eq!(
            s.fault_names(),
            vec!["cut-links", "clock", "crash", "node-pause"]
        );
        // The effective scenario a run saves must read back.
        let again = parse(&toml::to_string_pretty(&s).unwrap()).unwrap();
        assert_eq!(again.nemesis.len(), 4);
    }

    #[test]
    fn node_fault_mistakes_are_refused_with_the_fix() {
        let cases = [
            ("target = \"n3\"", "target = \"n9\"", "n9` does not exist"),
            (
                "links = [\"c0-n4\", \"c1-n1\"]",
                "links = [\"c5-n4\"]",
                "c5-n4` does not exist",
            ),
            ("offset = \"3s\"", "offset = \"0s\"", "needs offset > 0"),
            ("target = \"n3\"", "client = 1", "jump-forward"),
            (
                "node_timeout = \"50ms\"",
                "node_timeout = \"2s\"",
                "well below the ttl",
            ),
            (
                "kind = \"redlock\"\nnodes = 5",
                "kind = \"single\"",
                "node_timeout applies to kind = \"redlock\" only",
            ),
        ];
        for (from, to, want) in cases {
            let text = REDLOCK.replacen(from, to, 1);
            match parse(&text) {
                Err(e) => assert!(
                    e.to_string().contains(want) || want == "jump-forward",
                    "{to}: {e}"
                ),
                Ok(_) => assert_eq!(want, "jump-forward", "{to} must be refused"),
            }
        }
        let both = REDLOCK.replacen("target = \"n3\"", "target = \"n3\"\nclient = 0", 1);
        assert!(parse(&both).unwrap_err().to_string().contains("not both"));
        let strobe = REDLOCK.replacen("fault = \"jump-forward\"", "fault = \"strobe\"", 1);
        assert!(parse(&strobe)
            .unwrap_err()
            .to_string()
            .contains("period > 0"));
        let rate = REDLOCK.replacen("fault = \"jump-forward\"", "fault = \"rate\"", 1);
        assert!(parse(&rate)
            .unwrap_err()
            .to_string()
            .contains("rate = a factor"));
    }
}
