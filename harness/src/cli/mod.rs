//! The command line: raw flags validated into rich options in one place.
//!
//! Exit codes mean something: 0 the run met its expectations or reproduced its scenario's known
//! finding (or the check found the history linearizable), 1 it did not, 2 bad input or an error,
//! 3 unknown (too little evidence: faults that never took effect, too little work, a partial
//! run, or a checker out of budget), 130 interrupted by SIGINT/SIGTERM.

mod search;

use crate::duration::{self, Dur};
use crate::runner::{self, RunOptions};
use crate::scenario::lock::LockKind;
use crate::scenario::{self, Overrides};
use anyhow::Context;
use clap::{Parser, Subcommand};
pub use search::{ExploreArgs, ShrinkArgs};
use std::path::{Path, PathBuf};

#[derive(Parser, Debug)]
#[command(
    name = "fencepost",
    version,
    about = "Jepsen-style fault injection for Redis locks, counters and rate limiters"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Run one scenario end to end and print its verdict.
    Scenario(ScenarioArgs),
    /// Re-run the checkers on a saved run folder (or, with --model, check a history file for
    /// linearizability).
    Check(CheckArgs),
    /// Check that this machine can run scenarios (redis-server, redis-sentinel, ports, results
    /// folder, a Toxiproxy URL) and print the command that fixes what is missing.
    Doctor(DoctorArgs),
    /// Every fault kind a scenario may name, with its keys, types, defaults and meaning
    /// (Markdown; docs/faults.md is this output).
    Faults,
    /// The servers the nodes can run (`--server KIND@VERSION`): each build, where it comes from
    /// and whether it is in the cache; `--obtain redis@8.2,valkey@8.0` fetches and checks them
    /// now.
    Servers {
        /// Obtain these into the cache and check each one's own INFO server (comma-separated).
        #[arg(long, value_delimiter = ',', value_parser = parse_server)]
        obtain: Vec<crate::servers::ServerAsk>,
    },
    /// Measure what fencepost's own parts cost (`proxy`: GET round trips through the fault
    /// proxy against direct to redis-server, 50 connections). Exit 1 when a target is missed.
    Bench {
        /// What to measure: proxy.
        what: String,
    },
    /// The reference adapter: fencepost's own lock behind the client protocol on stdin/stdout
    /// (adapters/fencepost-single, adapters/fencepost-redlock run it).
    #[command(hide = true)]
    Adapter {
        #[arg(long, value_parser = parse_lock)]
        lock: LockKind,
        /// A deliberate flaw, one per kind of wrong answer (no-elapsed, retake-on-extend,
        /// inflated-validity, inflated-extension, grant-always, extend-always, release-any,
        /// release-denies, held-forever): to prove the blame checker catches each.
        #[arg(long, value_parser = crate::clients::process::reference::parse_flaw)]
        flaw: Option<crate::clients::process::reference::AdapterFlaw>,
    },
    /// Run the embedded fault proxy standalone, serving Toxiproxy's HTTP API.
    Proxy(ProxyArgs),
    /// Run lock libraries × faults × seeds (scenarios/libraries/*.toml with --client each) and
    /// write one table: `results/matrix-<stamp>/` matrix.md, matrix.json, index.html, matrix.png.
    Matrix(MatrixArgs),
    /// The published versions of a lock library and which its adapter drives; with
    /// --baseline, install each of the current and previous major lines and run its baseline.
    Versions(VersionsArgs),
    /// Find the first version of a library where a finding appears or goes away: runs
    /// scenarios/libraries/FAULT.toml with LIB@VERSION over seeds, halving the range.
    Bisect(BisectArgs),
    // --- reports (harness/src/report) ---
    /// Re-render a saved run's charts and index.html (re-judging it), and results/index.html.
    Report {
        /// A run folder (`results/<scenario>/<run-id>`, or results/latest).
        run_dir: PathBuf,
    },
    /// Run every scenario over a matrix of seeds and write a safety report (Markdown, JUnit XML,
    /// JSON) to `results/suite-<stamp>/`; exit 0 only when every expectation held.
    ///
    /// `fencepost suite merge DIR…` joins the reports of a sharded suite's shards into one.
    Suite(SuiteArgs),
    /// Search for what no scenario scripted: draw fault schedules (1..3 faults, lengths
    /// relative to the run's lease and op timeout), run each as an ordinary scenario, keep the
    /// ones that showed something new and mutate them; group the findings. Writes
    /// `results/explore-<stamp>/`. Exit 1 when a finding appeared that the library's matrix
    /// row does not show, 3 when too few runs were made to say, 2 when the runs kept failing
    /// to run, 0 otherwise.
    ///
    /// `fencepost explore merge DIR…` joins the reports of a sharded explore's shards.
    Explore(ExploreArgs),
    /// Shrink a failing run to the smallest schedule that still shows its finding: drop
    /// faults, shorten and move them, fewer clients, a shorter run, keeping a change only when
    /// it reproduces the finding in at least --share of --tries runs.
    Shrink(ShrinkArgs),
}

#[derive(clap::Args, Debug)]
pub struct ScenarioArgs {
    /// Scenario name (looked up in scenarios/NAME.toml) or path to a .toml file.
    pub name: String,
    /// Seed for every random choice; replays a run's schedule. Default: the scenario's.
    #[arg(long)]
    pub seed: Option<u64>,
    /// Override the scenario's duration (e.g. 3s).
    #[arg(long, value_parser = parse_dur)]
    pub duration: Option<Dur>,
    /// Override the scenario's lock kind (single, naive, redlock or client).
    #[arg(long, value_parser = parse_lock)]
    pub lock: Option<LockKind>,
    /// Run the clients as processes of this lock library: an adapter in adapters/, as NAME
    /// or NAME@VERSION (any published version, installed beside the pinned one).
    #[arg(long)]
    pub client: Option<String>,
    /// Run the clients as your own adapter processes: "PROGRAM ARGS…" speaking
    /// docs/client-protocol.md, split into words as sh would (quotes, backslashes; no
    /// variables, globs or pipes), run from the current folder.
    #[arg(long, conflicts_with = "client")]
    pub client_command: Option<String>,
    /// The server the nodes run, as KIND[@VERSION]: redis@8.2, valkey@8.0 (obtained into the
    /// cache on first use; `fencepost servers` lists them). Default: the machine's redis-server.
    #[arg(long, value_parser = parse_server)]
    pub server: Option<crate::servers::ServerAsk>,
    /// Folder of client adapters.
    #[arg(long, default_value = "adapters")]
    pub adapters: PathBuf,
    /// Folder of scenario files.
    #[arg(long, default_value = "scenarios")]
    pub scenarios: PathBuf,
    /// Folder for run outputs.
    #[arg(long, default_value = "results")]
    pub results: PathBuf,
    /// Draw the live status line even when stderr is not a terminal.
    #[arg(long)]
    pub status: bool,
    /// Run against nodes fencepost did not start, behind a real Toxiproxy, as this
    /// topology file (TOML) describes; credentials come from the environment.
    #[arg(long)]
    pub topology: Option<PathBuf>,
    /// Also write the verdict (results.json) to this file: how a suite reads its cases.
    #[arg(long, hide = true)]
    pub result_json: Option<PathBuf>,
}

#[derive(clap::Args, Debug)]
pub struct CheckArgs {
    /// A run folder (`results/<scenario>/<run-id>`) or, with --model, a history file
    /// (fencepost JSONL or Jepsen EDN).
    pub path: PathBuf,
    /// Linearizability model: mutex, lock, register, cas-register, counter.
    #[arg(long)]
    pub model: Option<String>,
    /// Time budget for the linearizability search, in milliseconds.
    #[arg(long, default_value_t = 10_000)]
    pub budget_ms: u64,
}

#[derive(clap::Args, Debug)]
pub struct DoctorArgs {
    /// Folder for run outputs.
    #[arg(long, default_value = "results")]
    pub results: PathBuf,
    /// Folder of client adapters (their runtimes are checked).
    #[arg(long, default_value = "adapters")]
    pub adapters: PathBuf,
    /// An external Toxiproxy API to check, e.g. http://127.0.0.1:8474.
    #[arg(long)]
    pub toxiproxy: Option<String>,
    /// Check a topology fencepost did not start (the file `scenario --topology` takes)
    /// instead of this machine's own Redis: its Toxiproxy, nodes, containers, Sentinels.
    #[arg(long, conflicts_with = "toxiproxy")]
    pub topology: Option<PathBuf>,
}

#[derive(clap::Args, Debug)]
pub struct ProxyArgs {
    /// Address of the HTTP API (127.0.0.1 only by default).
    #[arg(long, default_value = "127.0.0.1:8474")]
    pub listen: std::net::SocketAddr,
    /// Seed for the toxics' random choices (jitter, toxicity).
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Allow a non-loopback --listen, and proxies that listen on non-loopback addresses:
    /// other hosts can then create proxies and reach whatever this host reaches.
    #[arg(long)]
    pub allow_remote: bool,
    /// Allow `unix:/path` upstreams through the API: whoever reaches the API can then relay
    /// any Unix socket this process can open (as root, every one).
    #[arg(long)]
    pub allow_unix_upstreams: bool,
}

#[derive(clap::Args, Debug)]
pub struct MatrixArgs {
    /// Libraries (adapters in adapters/), comma-separated; NAME@VERSION for another version.
    #[arg(long, value_delimiter = ',')]
    pub libraries: Option<Vec<String>>,
    /// Faults (files in scenarios/libraries/), comma-separated.
    #[arg(long, value_delimiter = ',')]
    pub faults: Option<Vec<String>>,
    /// More rows: other versions of the libraries, LIB@VERSION, comma-separated (added after
    /// the libraries' own rows).
    #[arg(long, value_delimiter = ',')]
    pub versions: Vec<String>,
    #[arg(long, default_value = "1")]
    pub seeds: crate::suite::Seeds,
    /// The server every run's nodes run, KIND[@VERSION] (redis@8.2, valkey@8.0); default the
    /// machine's redis-server. `fencepost servers` lists them.
    #[arg(long, value_parser = parse_server)]
    pub server: Option<crate::servers::ServerAsk>,
    /// Run everything on each of these servers, the server an axis of the report (rows and
    /// JUnit names carry it): redis@7.0,redis@8.2,valkey@8.0.
    #[arg(long, value_delimiter = ',', value_parser = parse_server, conflicts_with = "server")]
    pub servers: Vec<crate::servers::ServerAsk>,
    #[arg(long, default_value_t = 2, value_parser = clap::value_parser!(u16).range(1..=32))]
    pub jobs: u16,
    /// Override every run's duration (e.g. 4s).
    #[arg(long, value_parser = parse_dur)]
    pub duration: Option<Dur>,
    #[arg(long, default_value = "scenarios/libraries")]
    pub scenarios: PathBuf,
    #[arg(long, default_value = "results")]
    pub results: PathBuf,
    #[arg(long, default_value = "adapters")]
    pub adapters: PathBuf,
}

#[derive(clap::Args, Debug)]
pub struct VersionsArgs {
    /// The library (an adapter in adapters/).
    pub library: String,
    /// Every published version, not only the current and previous major lines (newest 15).
    #[arg(long)]
    pub all: bool,
    /// Install each driven version (timing the first and a cached install) and run
    /// scenarios/libraries/baseline.toml with it.
    #[arg(long)]
    pub baseline: bool,
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Override the baseline's duration (e.g. 10s).
    #[arg(long, value_parser = parse_dur)]
    pub duration: Option<Dur>,
    /// The server every run's nodes run, KIND[@VERSION] (redis@8.2, valkey@8.0); default the
    /// machine's redis-server. `fencepost servers` lists them.
    #[arg(long, value_parser = parse_server)]
    pub server: Option<crate::servers::ServerAsk>,
    #[arg(long, default_value_t = 2, value_parser = clap::value_parser!(u16).range(1..=32))]
    pub jobs: u16,
    #[arg(long, default_value = "scenarios/libraries")]
    pub scenarios: PathBuf,
    #[arg(long, default_value = "results")]
    pub results: PathBuf,
    #[arg(long, default_value = "adapters")]
    pub adapters: PathBuf,
}

#[derive(clap::Args, Debug)]
pub struct BisectArgs {
    /// The library (an adapter in adapters/).
    pub library: String,
    /// The fault: a file of scenarios/libraries/ (a matrix column), e.g. process-stop.
    #[arg(long)]
    pub fault: String,
    /// Seeds each probed version runs; it shows a finding when any seed does.
    #[arg(long, default_value = "1..5")]
    pub seeds: crate::suite::Seeds,
    /// The oldest version to search (default: the oldest the adapter drives).
    #[arg(long)]
    pub from: Option<String>,
    /// The newest version to search (default: the newest the adapter drives).
    #[arg(long)]
    pub to: Option<String>,
    /// The finding to search for: a check id (mutual_exclusion) or blame:KIND
    /// (blame:grant-after-lease). Default: one the two ends differ in.
    #[arg(long)]
    pub finding: Option<String>,
    /// The server every run's nodes run, KIND[@VERSION] (redis@8.2, valkey@8.0); default the
    /// machine's redis-server. `fencepost servers` lists them.
    #[arg(long, value_parser = parse_server)]
    pub server: Option<crate::servers::ServerAsk>,
    #[arg(long, default_value_t = 2, value_parser = clap::value_parser!(u16).range(1..=32))]
    pub jobs: u16,
    /// Override every run's duration (e.g. 6s).
    #[arg(long, value_parser = parse_dur)]
    pub duration: Option<Dur>,
    #[arg(long, default_value = "scenarios/libraries")]
    pub scenarios: PathBuf,
    #[arg(long, default_value = "results")]
    pub results: PathBuf,
    #[arg(long, default_value = "adapters")]
    pub adapters: PathBuf,
}

#[derive(clap::Args, Debug)]
pub struct SuiteArgs {
    /// Suite name: `nightly` runs every scenarios/*.toml; `merge` joins shards' reports.
    pub name: String,
    /// With `merge`: the shards' suite folders (`results/suite-<stamp>`).
    pub dirs: Vec<PathBuf>,
    /// Run only slice I of N of the cases (matrix order modulo N), for a CI job matrix.
    #[arg(long)]
    pub shard: Option<crate::suite::shard::Shard>,
    /// Seeds for every scenario: a range (1..3, inclusive), one seed, or a list (1,4,9).
    #[arg(long, default_value = "1..3")]
    pub seeds: crate::suite::Seeds,
    /// Override every scenario's duration (e.g. 3s).
    #[arg(long, value_parser = parse_dur)]
    pub duration: Option<Dur>,
    /// Only this scenario (file stem); repeatable.
    #[arg(long)]
    pub only: Vec<String>,
    /// Folder of scenario files.
    #[arg(long, default_value = "scenarios")]
    pub scenarios: PathBuf,
    /// Folder for run outputs.
    #[arg(long, default_value = "results")]
    pub results: PathBuf,
    /// Cases run at once, each a `fencepost scenario` process of its own. Runs spend most
    /// of their time waiting for leases, pauses and faults (a 10 s run uses ~1.5 s of CPU),
    /// so two fit on two cores without disturbing each other's timing.
    /// The server every run's nodes run, KIND[@VERSION] (redis@8.2, valkey@8.0); default the
    /// machine's redis-server. `fencepost servers` lists them.
    #[arg(long, value_parser = parse_server)]
    pub server: Option<crate::servers::ServerAsk>,
    /// Run everything on each of these servers, the server an axis of the report (rows and
    /// JUnit names carry it): redis@7.0,redis@8.2,valkey@8.0.
    #[arg(long, value_delimiter = ',', value_parser = parse_server, conflicts_with = "server")]
    pub servers: Vec<crate::servers::ServerAsk>,
    #[arg(long, default_value_t = 2, value_parser = clap::value_parser!(u16).range(1..=32))]
    pub jobs: u16,
}

pub(super) fn parse_dur(s: &str) -> Result<Dur, String> {
    duration::parse(s).map(Dur)
}

pub(super) fn parse_lock(s: &str) -> Result<LockKind, String> {
    s.parse()
}

/// `--server KIND[@VERSION]`, refused at once when no build of it can be obtained.
pub(super) fn parse_server(s: &str) -> Result<crate::servers::ServerAsk, String> {
    let ask = crate::servers::ServerAsk::parse(s)?;
    crate::servers::catalog::find(&ask).map_err(|e| e.to_string())?;
    Ok(ask)
}

/// Runs the parsed command; returns the process exit code.
pub async fn dispatch(cli: Cli) -> anyhow::Result<i32> {
    crate::judge::check_whole_history_ops()?;
    match cli.command {
        Command::Scenario(args) => args.run().await,
        Command::Check(args) => args.run(),
        Command::Doctor(args) => args.run().await,
        Command::Faults => {
            print!("{}", crate::nemesis::catalog::markdown());
            Ok(0)
        }
        Command::Bench { what } => match what.as_str() {
            "proxy" => {
                let report =
                    crate::bench::bench_proxy(crate::bench::BenchConfig::default()).await?;
                println!("{report}");
                Ok(if report.meets_targets() { 0 } else { 1 })
            }
            other => anyhow::bail!("unknown benchmark `{other}`: use `fencepost bench proxy`"),
        },
        Command::Adapter { lock, flaw } => {
            crate::clients::process::reference::serve(lock, flaw).await
        }
        Command::Proxy(args) => args.run().await,
        Command::Matrix(args) => args.run().await,
        Command::Versions(a) => {
            crate::versions::versions_command(&crate::versions::VersionsOptions {
                library: a.library,
                all: a.all,
                baseline: a.baseline,
                seed: a.seed,
                duration: a.duration,
                jobs: usize::from(a.jobs),
                scenarios_dir: a.scenarios,
                results_dir: a.results,
                adapters_dir: a.adapters,
                server: a.server,
                fencepost: std::env::current_exe()
                    .context("cannot find the fencepost binary to run the baselines")?,
            })
            .await
        }
        Command::Bisect(a) => {
            crate::bisect::bisect_command(&crate::bisect::BisectOptions {
                library: a.library,
                fault: a.fault,
                seeds: a.seeds,
                from: a.from,
                to: a.to,
                finding: a.finding,
                jobs: usize::from(a.jobs),
                duration: a.duration,
                scenarios_dir: a.scenarios,
                results_dir: a.results,
                adapters_dir: a.adapters,
                server: a.server,
                fencepost: std::env::current_exe()
                    .context("cannot find the fencepost binary to run the probes")?,
            })
            .await
        }
        Command::Report { run_dir } => report_command(&run_dir),
        Command::Servers { obtain } => {
            let cache = crate::clients::process::adapter::cache_dir();
            for ask in &obtain {
                let s = crate::servers::resolve(Some(ask), &cache)?;
                println!(
                    "{}: {} at {} (sha256 {})",
                    ask.label(),
                    s.label(),
                    s.binary.display(),
                    s.sha256
                );
            }
            print!("{}", crate::servers::table(&cache));
            Ok(0)
        }
        Command::Suite(args) => args.run().await,
        Command::Explore(args) => args.run().await,
        Command::Shrink(args) => args.run().await,
    }
}

impl ScenarioArgs {
    /// `fencepost scenario`: runs it, prints its summary; the exit code is its outcome's.
    async fn run(self) -> anyhow::Result<i32> {
        let path = scenario::resolve(&self.name, &self.scenarios)?;
        // A scenario found through another --scenarios folder is replayed by its path.
        let name = if self.scenarios == Path::new("scenarios") {
            self.name
        } else {
            path.display().to_string()
        };
        let client_command = self.client_command.map(|c| split_command(&c)).transpose()?;
        let client_command_dir = match client_command {
            Some(_) => Some(
                std::env::current_dir()
                    .context("cannot read the current folder for --client-command")?,
            ),
            None => None,
        };
        let opts = RunOptions {
            seed: self.seed,
            results_dir: self.results,
            overrides: Overrides {
                duration: self.duration,
                lock: self.lock,
                client: self.client,
                client_command_dir,
                client_command,
                server: self.server,
            },
            adapters_dir: self.adapters,
            status: self.status.then_some(true),
            topology: self.topology,
        };
        let result = runner::run_named(&name, &path, &opts).await?;
        if let Some(file) = self.result_json {
            crate::store::write_json(&file, &result)?;
        }
        println!("{}", result.summary());
        Ok(if result.interrupted {
            130
        } else {
            result.exit_code()
        })
    }
}

impl CheckArgs {
    /// `fencepost check`: a history file's linearizability (with --model), or a run re-judged.
    fn run(self) -> anyhow::Result<i32> {
        if let Some(model) = &self.model {
            return crate::check_model::run(model, &self.path, self.budget_ms);
        }
        if self.path.is_file() {
            anyhow::bail!(
                "{} is a file, not a run folder: to check a history file's linearizability add --model (lock, mutex, register, cas-register or counter); to re-judge a run give its folder, results/<scenario>/<run-id>",
                self.path.display()
            );
        }
        let result = crate::judge::analyse(&self.path, None)?;
        crate::judge::write_results(&self.path, &result)?;
        println!("{}", result.summary());
        if result.interrupted {
            eprintln!("fencepost: this run was interrupted: its history is partial, so only a violation found in it is a verdict");
        }
        Ok(result.exit_code())
    }
}

impl DoctorArgs {
    async fn run(self) -> anyhow::Result<i32> {
        let checks = match &self.topology {
            Some(file) => crate::doctor::topology_checks(&self.results, file).await,
            None => {
                crate::doctor::checks(&self.results, &self.adapters, self.toxiproxy.as_deref())
                    .await
            }
        };
        Ok(crate::doctor::print(&checks))
    }
}

impl ProxyArgs {
    async fn run(self) -> anyhow::Result<i32> {
        let policy = crate::proxy::Policy {
            allow_remote: self.allow_remote,
            unix_upstreams: self.allow_unix_upstreams,
        };
        crate::proxy::serve(self.listen, self.seed, policy).await?;
        Ok(0)
    }
}

impl MatrixArgs {
    async fn run(self) -> anyhow::Result<i32> {
        if let Some(v) = self.versions.iter().find(|v| !v.contains('@')) {
            anyhow::bail!(
                "--versions {v}: name a version, LIB@VERSION (e.g. {v}@1.0.0); `fencepost versions {v}` lists them"
            );
        }
        let opts = crate::matrix::MatrixOptions {
            libraries: self
                .libraries
                .unwrap_or_else(|| crate::matrix::libraries(&self.adapters))
                .into_iter()
                .chain(self.versions)
                .collect(),
            faults: self
                .faults
                .unwrap_or_else(|| crate::matrix::faults(&self.scenarios)),
            seeds: self.seeds,
            jobs: usize::from(self.jobs),
            duration: self.duration,
            scenarios_dir: self.scenarios,
            results_dir: self.results,
            adapters_dir: self.adapters,
            server: self.server,
            servers: self.servers,
            fencepost: std::env::current_exe()
                .context("cannot find the fencepost binary to run the matrix's cases")?,
        };
        crate::matrix::matrix_command(&opts).await
    }
}

impl SuiteArgs {
    async fn run(self) -> anyhow::Result<i32> {
        if self.name == "merge" {
            return crate::suite::merge_command(&self.dirs, &self.results);
        }
        if !self.dirs.is_empty() {
            return Err(anyhow::anyhow!(
                "`fencepost suite {}` takes no folders ({}): only `fencepost suite merge DIR…` does",
                self.name,
                self.dirs
                    .iter()
                    .map(|d| d.display().to_string())
                    .collect::<Vec<_>>()
                    .join(" ")
            ));
        }
        let opts = crate::suite::SuiteOptions {
            name: self.name,
            seeds: self.seeds,
            scenarios_dir: self.scenarios,
            results_dir: self.results,
            duration: self.duration,
            only: self.only,
            jobs: usize::from(self.jobs),
            fencepost: std::env::current_exe()
                .context("cannot find the fencepost binary to run the suite's cases")?,
            shard: self.shard,
            server: self.server,
            servers: self.servers,
        };
        crate::suite::suite_command(&opts).await
    }
}

/// `--client-command "…"` in words, as a POSIX shell splits them (no expansion).
pub(super) fn split_command(command: &str) -> anyhow::Result<Vec<String>> {
    let words = shell_words::split(command).map_err(|e| {
        anyhow::anyhow!(
            "bad --client-command `{}`: {e}; quote as in sh, e.g. --client-command \"python3 'my adapter.py'\"",
            checkers::quote::clip(command)
        )
    })?;
    if words.is_empty() {
        anyhow::bail!("--client-command is empty: give the program and its arguments");
    }
    Ok(words)
}

/// An error and its causes as one line for a user: each cause once (an error whose message
/// already ends with its cause's text does not repeat it), every quoted input value clipped
/// ([`checkers::quote::clip_message`]).
pub fn error_text(e: &anyhow::Error) -> String {
    let mut text = String::new();
    for cause in e.chain() {
        let part = cause.to_string();
        let part = checkers::quote::clip_message(&part);
        if part.is_empty() || text.contains(part.as_ref()) {
            continue;
        }
        if !text.is_empty() {
            text.push_str(": ");
        }
        text.push_str(&part);
    }
    text
}

/// `fencepost report RUN_DIR`: re-judges a saved run (rewriting results.json and summary.md, as
/// `fencepost check` does), redraws its charts and page, refreshes the results index of the
/// folder the run lives in, and prints what was written; the exit code is the run's own.
fn report_command(run_dir: &Path) -> anyhow::Result<i32> {
    let (result, rendered) = rerender(run_dir)?;
    for c in &rendered.charts {
        println!("{}  {}", c.svg.display(), c.png.display());
    }
    println!("{}", rendered.page.display());
    eprintln!(
        "fencepost: rendered {} chart(s) and the page in {} ms",
        rendered.charts.len(),
        rendered.elapsed.as_millis()
    );
    Ok(result.exit_code())
}

/// Re-judges a saved run, then redraws it: what `fencepost report` does, before it prints.
pub fn rerender(
    run_dir: &Path,
) -> anyhow::Result<(crate::judge::RunResult, crate::report::Rendered)> {
    let result = crate::judge::analyse(run_dir, None)?;
    crate::judge::write_results(run_dir, &result)?;
    let rendered = crate::report::render_run(run_dir, &result)?;
    if let Some(results) = crate::report::results_root(run_dir) {
        crate::report::index::write(&results)?;
    }
    Ok((result, rendered))
}
