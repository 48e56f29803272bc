//! The search commands: `fencepost explore` (a fault-schedule search, and the merge of its
//! shards) and `fencepost shrink` (a failing run cut down to its smallest schedule).

use super::{parse_dur, parse_lock, split_command};
use crate::duration::Dur;
use crate::scenario::client::NodesKind;
use crate::scenario::lock::LockKind;
use anyhow::Context;
use std::path::PathBuf;

#[derive(clap::Args, Debug)]
pub struct ExploreArgs {
    /// Nothing to explore; or `merge DIR…` to join a sharded explore's folders.
    #[arg(value_name = "merge DIR")]
    pub merge: Vec<String>,
    /// Explore this lock library: an adapter in adapters/, NAME or NAME@VERSION.
    #[arg(long, conflicts_with_all = ["client_command", "lock"])]
    pub client: Option<String>,
    /// Explore your own adapter: "PROGRAM ARGS…" speaking docs/client-protocol.md, split as sh
    /// would, run from the current folder.
    #[arg(long, conflicts_with = "lock")]
    pub client_command: Option<String>,
    /// How many lock nodes your own adapter takes: `one` (the first) or `majority` (all five,
    /// Redlock-style).
    #[arg(long, value_parser = parse_nodes, requires = "client_command")]
    pub client_nodes: Option<NodesKind>,
    /// Explore one of fencepost's own locks (single, naive or redlock), in-process.
    #[arg(long, value_parser = parse_lock)]
    pub lock: Option<LockKind>,
    /// How long to keep starting runs (e.g. 30m); the runs in flight then finish.
    #[arg(long, default_value = "30m", value_parser = parse_dur)]
    pub budget: Dur,
    #[arg(long, default_value_t = 2, value_parser = clap::value_parser!(u16).range(1..=32))]
    pub jobs: u16,
    /// The search's seed. Unguided (--random) the same seed draws the same schedules; guided,
    /// the first ones, and later ones follow what the runs showed (which real timing varies).
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Draw only these fault kinds, comma-separated (default: every kind that can act on the
    /// run; `fencepost faults` lists them).
    #[arg(long, value_delimiter = ',')]
    pub faults: Option<Vec<String>>,
    /// This runner's part of the search (a seed of its own), for a CI job matrix; join the
    /// shards with `fencepost explore merge`.
    #[arg(long)]
    pub shard: Option<crate::suite::shard::Shard>,
    /// Unguided: draw every schedule afresh, never mutate the corpus (to compare).
    #[arg(long)]
    pub random: bool,
    /// The server the nodes run, KIND[@VERSION] (redis@8.2, valkey@8.0): written into every
    /// schedule. Default: the machine's redis-server.
    #[arg(long, value_parser = super::parse_server)]
    pub server: Option<crate::servers::ServerAsk>,
    /// Stop starting runs once this finding appeared: `library` (any answer no correct lock
    /// may give), a check (`mutual_exclusion`) or a kind of wrong answer
    /// (`blame:grant-after-lease`).
    #[arg(long)]
    pub until: Option<crate::explore::findings::Until>,
    /// The matrix findings whose row for the library says which findings are known: a
    /// matrix's known.json (docs/known-findings.json is the published one) or matrix.json
    /// (default: RESULTS/latest-matrix/known.json).
    #[arg(long)]
    pub known: Option<PathBuf>,
    #[arg(long, default_value = "results")]
    pub results: PathBuf,
    #[arg(long, default_value = "adapters")]
    pub adapters: PathBuf,
}

#[derive(clap::Args, Debug)]
pub struct ShrinkArgs {
    /// The failing run's folder (`results/<scenario>/<run-id>`, or a run an explore linked).
    pub run_dir: PathBuf,
    /// Runs of each candidate schedule.
    #[arg(long, default_value_t = 5, value_parser = clap::value_parser!(u32).range(1..=50))]
    pub tries: u32,
    /// The share of tries that must show the finding for a smaller schedule to be kept.
    #[arg(long, default_value_t = 0.6)]
    pub share: f64,
    /// The finding to keep (`CHECK` or `blame:KIND`); default: the run's first library
    /// finding, else its first violated check.
    #[arg(long)]
    pub finding: Option<String>,
    /// Try at most this many candidates (each runs up to --tries times).
    #[arg(long, default_value_t = 60, value_parser = clap::value_parser!(u32).range(1..=1000))]
    pub candidates: u32,
    #[arg(long, default_value_t = 2, value_parser = clap::value_parser!(u16).range(1..=32))]
    pub jobs: u16,
    #[arg(long, default_value = "results")]
    pub results: PathBuf,
    #[arg(long, default_value = "adapters")]
    pub adapters: PathBuf,
}

fn parse_nodes(s: &str) -> Result<NodesKind, String> {
    match s {
        "one" => Ok(NodesKind::One),
        "majority" => Ok(NodesKind::Majority),
        _ => Err(format!(
            "unknown `{s}`: use one (the first lock node) or majority (all five)"
        )),
    }
}

impl ExploreArgs {
    pub(super) async fn run(self) -> anyhow::Result<i32> {
        use crate::explore::target::Target;
        match self.merge.first().map(String::as_str) {
            None => {}
            Some("merge") => {
                let dirs: Vec<PathBuf> = self.merge[1..].iter().map(PathBuf::from).collect();
                let (report, dir) = crate::explore::merge::merge(&dirs, &self.results)?;
                println!("{}", crate::explore::report::markdown(&report));
                println!("{}", dir.join(crate::explore::MD).display());
                return Ok(report.exit_code());
            }
            Some(other) => anyhow::bail!(
                "unknown `fencepost explore {}`: use `fencepost explore --client LIB` (or --client-command, --lock) to explore, or `fencepost explore merge DIR…` to join shards",
                checkers::quote::clip(other)
            ),
        }
        let target = match (self.client, self.client_command, self.lock) {
            (Some(l), _, _) => Target::Library(l),
            (_, Some(c), _) => Target::Command {
                words: split_command(&c)?,
                dir: std::env::current_dir()
                    .context("cannot read the current folder for --client-command")?,
                nodes: self
                    .client_nodes
                    .unwrap_or(NodesKind::Majority),
            },
            (_, _, Some(k)) if k != LockKind::Client => Target::Lock(k),
            _ => anyhow::bail!(
                "say what to explore: --client LIB (an adapter in adapters/), --client-command \"PROGRAM ARGS…\" or --lock single|naive|redlock"
            ),
        };
        if self.budget.0.is_zero() {
            anyhow::bail!(
                "--budget {} leaves no time to run anything: give how long to keep starting runs, e.g. 30m",
                self.budget
            );
        }
        let known = self
            .known
            .unwrap_or_else(|| crate::explore::findings::default_known(&self.results));
        let opts = crate::explore::ExploreOptions {
            target,
            budget: self.budget.0,
            jobs: usize::from(self.jobs),
            seed: self.seed,
            faults: self.faults,
            shard: self.shard,
            random: self.random,
            until: self.until,
            known,
            results_dir: self.results,
            adapters_dir: self.adapters,
            server: self.server,
            fencepost: std::env::current_exe()
                .context("cannot find the fencepost binary to run explore's runs")?,
        };
        crate::explore::explore_command(&opts).await
    }
}

impl ShrinkArgs {
    pub(super) async fn run(self) -> anyhow::Result<i32> {
        if !(self.share > 0.0 && self.share <= 1.0) {
            anyhow::bail!(
                "--share {} is out of range: give the share of tries that must reproduce, in (0, 1] (e.g. 0.6)",
                self.share
            );
        }
        let opts = crate::shrink::ShrinkOptions {
            run_dir: self.run_dir,
            tries: self.tries as usize,
            share: self.share,
            finding: self.finding,
            candidates: self.candidates as usize,
            jobs: usize::from(self.jobs),
            results_dir: self.results,
            adapters_dir: self.adapters,
            fencepost: std::env::current_exe()
                .context("cannot find the fencepost binary to run the tries")?,
        };
        crate::shrink::shrink_command(&opts).await
    }
}
