//! Nemeses: the fault injectors, one plug-in per fault.
//!
//! Each fault is one file that owns everything about it: its typed config (what a scenario's
//! `[[nemesis]]` entry holds, `deny_unknown_fields`), its validation against the scenario, what it
//! needs to run (processes fencepost started, Sentinel, clients with pause points), the fault
//! kind it records, and one injection ([`Nemesis::fire`]). The shared [`driver`] runs every
//! nemesis's schedule, so no fault writes its own loop.
//!
//! Explicit fault state: an injection records its start only once the fault took effect (a
//! link cut, a process stopped, a node's `TIME` confirmed skewed), and a failed injection as a
//! failed nemesis op, so a history never claims a fault that did not happen (the `faults` check
//! reads exactly that). Every fault is healed before its nemesis returns, at the end of the run
//! and on Ctrl-C alike.
//!
//! Adding a fault: one new file implementing [`Nemesis`], and one line in `registry!` below —
//! its kind (the one name a scenario, the history, the `faults` check, the charts and the docs
//! use), its config type and its chart colour.

pub mod bandwidth;
pub mod call_abandon;
pub mod catalog;
pub mod client_clock_strobe;
pub mod clock;
pub mod cluster_failover;
pub mod cluster_partition;
pub mod cluster_primary_fail;
pub mod cluster_reshard;
pub mod consumer_crash;
pub mod contention_burst;
pub mod crash;
pub mod cut_links;
pub mod delayed_write;
pub mod draw;
pub mod driver;
pub mod failover;
pub mod field;
pub mod gc_pause;
pub mod latency;
pub mod links;
pub mod loop_starve;
pub mod node_pause;
pub mod nodes;
pub mod partition;
pub mod process_kill;
pub mod process_pause;
pub mod reset_peer;
pub mod script_flush;
pub mod slot_owner;
pub mod span;

use crate::duration::Dur;
pub use crate::handles::{ClientClock, ClientHandle};
use crate::topology::Topology;
use checkers::{Fault, F};
use driver::Schedule;
use rand_chacha::ChaCha8Rng;
use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::{oneshot, watch};
use tokio::task::JoinHandle;
use workloads::pause::PauseGate;
use workloads::record::Record;

/// What a scenario looks like to a nemesis validating its config (built by the scenario, so
/// this module does not depend on the scenario's types).
#[derive(Debug, Clone, Copy)]
pub struct Bounds {
    pub clients: u32,
    pub lock_nodes: u32,
    /// The scenario runs a replica and Sentinels.
    pub sentinel: bool,
    /// The workload's clients pass a pause point while holding a grant.
    pub pause_points: bool,
    /// The clients are processes of their own (`[client]`).
    pub client_processes: bool,
    /// The workload's clients pass a point where they can crash between reading and
    /// acknowledging (Streams consumers).
    pub crash_points: bool,
    /// The lock or counter lives on a Redis Cluster (`[cluster]`).
    pub redis_cluster: bool,
}

pub use crate::invalid::Invalid;

pub use crate::topology::Needs;

/// One fault plug-in: a typed config that knows how to validate and inject itself.
pub trait Nemesis: Send + Sync + 'static {
    /// When it fires.
    fn schedule(&self) -> Schedule;
    /// The longest one injection lasts (for the end-of-run grace period, and to refuse a fault
    /// that cannot fit in the run), and the key of its config that sets it ("" when no key
    /// does: a fixed allowance, not a length the scenario chose).
    fn longest(&self) -> (Dur, &'static str);
    /// Refuses a config that cannot run in this scenario (checked at load, with the line).
    fn validate(&self, bounds: &Bounds) -> Result<(), Invalid>;
    fn needs(&self) -> Needs {
        Needs::default()
    }
    /// Draws a config of this fault for a run of `scale` (what `fencepost explore` runs):
    /// lengths as multiples of the run's lease and op timeout, moments inside the run. None
    /// when the fault cannot act on such a run, or explore does not draw it.
    fn draw(_scale: &draw::Scale, _rng: &mut ChaCha8Rng) -> Option<Self>
    where
        Self: Sized,
    {
        None
    }
    /// Whether it can act on a `[cluster]` run (which has no lone lock nodes).
    fn runs_on_redis_cluster(&self) -> bool {
        false
    }
    /// One injection: inject, record the start once it took effect (or the failure), hold,
    /// heal, record the stop. Returns early (healed) when `stop` turns true.
    fn fire(
        &self,
        ctx: &NemesisContext,
        rng: &mut ChaCha8Rng,
        stop: &mut watch::Receiver<bool>,
    ) -> impl Future<Output = ()> + Send
    where
        Self: Sized;
    /// After the last injection (the run stopped): undo whatever is still armed.
    fn finish(&self, _ctx: &NemesisContext) {}
}

/// The registry: one line per fault, `"kind" => Variant(module::Config)`. It generates the
/// scenario's `NemesisSpec` enum (tagged by `kind`) and the dispatch to each plug-in.
macro_rules! registry {
    ($($kind:literal => $variant:ident($config:ty), colour $colour:expr;)*) => {
        /// A scenario's `[[nemesis]]` entry: one fault's typed config, tagged by `kind`.
        #[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
        #[serde(tag = "kind")]
        pub enum NemesisSpec {
            $(#[serde(rename = $kind)] $variant($config),)*
        }

        /// Every fault kind a scenario may name.
        pub const KINDS: &[&str] = &[$($kind),*];

        /// The colour a fault kind is shaded in on every chart (RGB), by its registry line;
        /// a phase (`failover/split-brain`) takes its fault's.
        pub fn colour(kind: &str) -> Option<(u8, u8, u8)> {
            let base = kind.split('/').next().unwrap_or(kind);
            match base {
                $($kind => Some($colour),)*
                _ => None,
            }
        }

        /// Every fault kind with the JSON schema of its config, from the config's own type
        /// (keys, types, defaults and doc comments): what [`catalog`] prints.
        pub fn schemas() -> Vec<(&'static str, schemars::Schema)> {
            vec![$(($kind, schemars::schema_for!($config)),)*]
        }

        /// Draws a fault of `kind` for a run of `scale`: the plug-in's own draw, kept only when
        /// its own validation accepts it for that run.
        pub fn draw_fault(
            kind: &str,
            scale: &draw::Scale,
            rng: &mut ChaCha8Rng,
        ) -> Option<NemesisSpec> {
            let spec = match kind {
                $($kind => NemesisSpec::$variant(<$config as Nemesis>::draw(scale, rng)?),)*
                _ => return None,
            };
            spec.plugin().validate(&scale.bounds).ok()?;
            Some(spec)
        }

        impl NemesisSpec {
            /// The scenario's name for this fault.
            pub fn kind(&self) -> &'static str {
                match self { $(NemesisSpec::$variant(_) => $kind,)* }
            }

            /// The plug-in behind this entry.
            pub fn plugin(&self) -> &dyn Nemesis {
                match self { $(NemesisSpec::$variant(c) => c,)* }
            }

            /// Starts this nemesis's schedule on the shared driver; its faults are recorded
            /// under its kind.
            pub fn spawn(
                &self,
                ctx: NemesisContext,
                rng: ChaCha8Rng,
                stop: watch::Receiver<bool>,
            ) -> JoinHandle<()> {
                let ctx = NemesisContext { kind: self.kind(), ..ctx };
                match self {
                    $(NemesisSpec::$variant(c) => tokio::spawn(driver::drive(c.clone(), ctx, rng, stop)),)*
                }
            }
        }
    };
}

registry! {
    // kind => plug-in, and the colour its windows are shaded in (none may look like a bar colour
    // — blue, amber, red — or a mark — red, green — of the timeline).
    "gc-pause" => GcPause(gc_pause::GcPause), colour (150, 110, 210);
    "consumer-crash" => ConsumerCrash(consumer_crash::ConsumerCrash), colour (120, 80, 60);
    "partition" => Partition(partition::Partition), colour (60, 170, 160);
    "latency" => Latency(latency::Latency), colour (160, 160, 60);
    "bandwidth" => Bandwidth(bandwidth::Bandwidth), colour (180, 140, 100);
    "reset-peer" => ResetPeer(reset_peer::ResetPeer), colour (200, 170, 210);
    "delayed-write" => DelayedWrite(delayed_write::DelayedWrite), colour (150, 150, 200);
    "failover" => Failover(failover::Failover), colour (60, 120, 60);
    "node-pause" => NodePause(node_pause::NodePause), colour (220, 120, 160);
    "clock" => Clock(clock::ClockNemesis), colour (160, 100, 50);
    "crash" => Crash(crash::Crash), colour (90, 90, 90);
    "cut-links" => CutLinks(cut_links::CutLinks), colour (70, 140, 140);
    "process-pause" => ProcessPause(process_pause::ProcessPause), colour (180, 120, 220);
    "process-kill" => ProcessKill(process_kill::ProcessKill), colour (120, 120, 120);
    "cluster-primary-fail" => ClusterPrimaryFail(cluster_primary_fail::ClusterPrimaryFail), colour (100, 160, 100);
    "cluster-failover" => ClusterFailover(cluster_failover::ClusterFailover), colour (80, 100, 80);
    "cluster-partition" => ClusterPartition(cluster_partition::ClusterPartition), colour (40, 150, 150);
    "cluster-reshard" => ClusterReshard(cluster_reshard::ClusterReshard), colour (170, 130, 170);
    "call-abandon" => CallAbandon(call_abandon::CallAbandon), colour (110, 60, 110);
    "loop-starve" => LoopStarve(loop_starve::LoopStarve), colour (170, 210, 230);
    "script-flush" => ScriptFlush(script_flush::ScriptFlush), colour (100, 100, 160);
    "contention-burst" => ContentionBurst(contention_burst::ContentionBurst), colour (200, 200, 150);
    "client-clock-strobe" => ClientClockStrobe(client_clock_strobe::ClientClockStrobe), colour (110, 70, 30);
}

/// Fault ids pair each start with its stop; unique across all nemeses of a run.
#[derive(Debug, Default)]
pub struct FaultIds(AtomicU64);

impl FaultIds {
    pub fn next(&self) -> u64 {
        self.0.fetch_add(1, Ordering::Relaxed) + 1
    }
}

/// What a nemesis can reach.
#[derive(Clone)]
pub struct NemesisContext {
    /// The scenario's name for the fault (its registry kind): what its injections record.
    pub kind: &'static str,
    pub rec: Arc<dyn Record>,
    pub ids: Arc<FaultIds>,
    /// Every client, by client id.
    pub clients: Vec<ClientHandle>,
    pub topology: Arc<Topology>,
}

impl NemesisContext {
    /// A new injection of this nemesis's fault (with a fresh id) to record, under its kind.
    pub fn fault(&self, target: impl Into<String>, detail: impl Into<String>) -> Fault {
        self.recorded(self.kind.to_string(), target, detail)
    }

    /// A phase of an injection (a failover's replication delay, its split brain), recorded as
    /// `kind/phase`: shown on the charts, not counted as injections of the fault.
    pub fn phase(
        &self,
        phase: &str,
        target: impl Into<String>,
        detail: impl Into<String>,
    ) -> Fault {
        self.recorded(format!("{}/{phase}", self.kind), target, detail)
    }

    fn recorded(
        &self,
        kind: String,
        target: impl Into<String>,
        detail: impl Into<String>,
    ) -> Fault {
        Fault {
            kind,
            target: target.into(),
            id: self.ids.next(),
            detail: detail.into(),
            frozen: None,
            bends: None,
        }
    }

    /// Records that `fault` took effect (its start).
    pub fn started(&self, fault: &Fault) {
        self.rec.nemesis(F::Start, fault.clone());
    }

    /// Records that an injection of `fault` failed, and why (a failed nemesis op: no window).
    pub fn failed(&self, fault: Fault, why: impl std::fmt::Display) {
        eprintln!(
            "fencepost: {} on {} did not take effect: {why}",
            fault.kind, fault.target
        );
        self.rec.nemesis_failed(Fault {
            detail: format!("{}; did not take effect: {why}", fault.detail),
            ..fault
        });
    }

    /// Records that `fault` was healed (its stop).
    pub fn healed(&self, fault: Fault) {
        self.rec.nemesis(F::Stop, fault);
    }

    /// Arms every client's pause point; the first client to reach it (holding a grant) is held
    /// until the caller lets it go. Waits at most 5 s; None if no holder came.
    pub async fn catch_holder(
        &self,
        stop: &mut watch::Receiver<bool>,
    ) -> Option<oneshot::Sender<()>> {
        let mut arrivals: Vec<_> = self.gates().map(|g| g.arm_rendezvous()).collect();
        let deadline = Instant::now() + Duration::from_secs(5);
        let mut caught = None;
        while caught.is_none() && Instant::now() < deadline && !*stop.borrow() {
            for a in &mut arrivals {
                if let Ok(go) = a.try_recv() {
                    caught = Some(go);
                    break;
                }
            }
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        self.gates().for_each(|g| g.disarm());
        // A client that arrived at the same moment is let go at once (its sender is dropped).
        caught
    }

    pub fn gates(&self) -> impl Iterator<Item = &Arc<PauseGate>> {
        self.clients.iter().map(|c| &c.gate)
    }

    /// A client (seeded) that `fits` and whose gate has nothing armed: a fault still waiting for
    /// its client to reach the pause point stays armed (it is the same fault, not a new one).
    pub fn idle_client(
        &self,
        rng: &mut ChaCha8Rng,
        fits: impl Fn(&ClientHandle) -> bool,
    ) -> Option<&ClientHandle> {
        let idle: Vec<&ClientHandle> = self
            .clients
            .iter()
            .filter(|c| fits(c) && !c.gate.is_armed())
            .collect();
        if idle.is_empty() {
            return None;
        }
        Some(idle[rand::Rng::random_range(rng, 0..idle.len())])
    }
}
