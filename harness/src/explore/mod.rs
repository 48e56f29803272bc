//! `fencepost explore`: find what nobody scripted.
//!
//! Every hand-written scenario fixes a fault's kind, moments and lengths; a bug that needs
//! another interleaving shows only when someone guessed it. Explore draws fault schedules from
//! the registered plug-ins instead — lengths relative to the run's own lease and op timeout,
//! moments inside the run, one to three faults together, the contention drawn too ([`plan`]) —
//! and runs each as an ordinary scenario (a child `fencepost scenario` process, `--jobs` at a
//! time), its schedule written out as TOML so it replays with `fencepost scenario FILE --seed N`.
//!
//! Guided, not only random: each run leaves a [`signature`] (what the checks, the nodes' record
//! and the calls show), and the schedules that showed a new word or a finding join a [`corpus`]
//! that explore mutates ([`mutate`]) more often than it draws afresh (`--random` never does,
//! for comparison). Findings are grouped ([`findings`]) and compared with the library's matrix
//! row; [`report`] writes explore.md, explore.json, index.html and the corpus's growth plot.
//! `--shard I/N` gives each CI runner its own part of the search (a seed of its own); [`merge`]
//! joins the shards' findings.

pub mod corpus;
pub mod findings;
pub mod merge;
pub mod mutate;
pub mod palette;
pub mod plan;
pub mod report;
pub mod search;
pub mod signature;
pub mod target;

use crate::interrupt::Interrupt;
use crate::nodes::spawner;
use crate::suite::child::{CaseCommand, CaseEnd};
use crate::suite::shard::Shard;
use crate::suite::{create_dir, link_latest};
use crate::{seed, store};
use anyhow::Context;
use corpus::Growth;
use findings::Known;
use indicatif::{ProgressBar, ProgressStyle};
use search::{Pending, Search};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::{Duration, Instant};
use target::Target;

pub const LATEST: &str = "latest-explore";
pub const JSON: &str = "explore.json";
pub const MD: &str = "explore.md";
/// Below this many judged runs, explore that found nothing new cannot say much (exit 3).
pub const MIN_RUNS: usize = 10;
/// This many runs in a row that could not run (before any was judged: 3) stop explore: the
/// set-up is broken, not the schedules.
pub const BROKEN_IN_A_ROW: usize = 5;
/// How often guided explore mutates a corpus schedule rather than drawing a fresh one.
pub const MUTATE_SHARE: f64 = 0.7;

#[derive(Clone, Debug)]
pub struct ExploreOptions {
    pub target: Target,
    pub budget: Duration,
    pub jobs: usize,
    pub seed: u64,
    /// Only these fault kinds (all drawable ones when None).
    pub faults: Option<Vec<String>>,
    pub shard: Option<Shard>,
    /// Never mutate: every schedule drawn afresh (the unguided baseline).
    pub random: bool,
    /// Stop starting runs once such a finding appeared.
    pub until: Option<findings::Until>,
    /// The matrix.json whose row says which findings are known.
    pub known: PathBuf,
    pub results_dir: PathBuf,
    pub adapters_dir: PathBuf,
    /// The server the nodes run, written into every schedule (`[server]`).
    pub server: Option<crate::servers::ServerAsk>,
    pub fencepost: PathBuf,
}

/// One run of an explore.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ExploreRun {
    pub number: usize,
    pub seed: u64,
    /// `fresh`, or `mutant of 12: stretch gc-pause ×1.7`.
    pub origin: String,
    pub faults: Vec<String>,
    pub clients: u32,
    /// The scenario file, relative to the explore folder.
    pub schedule: String,
    /// The run folder, relative to the results folder.
    pub run_dir: Option<String>,
    /// When it ended, in seconds since explore began.
    pub at_s: f64,
    pub wall_ms: u64,
    pub grants: u64,
    pub words: usize,
    pub new_words: usize,
    /// Its findings, as group labels.
    pub findings: Vec<String>,
    pub error: Option<String>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ExploreReport {
    /// What was explored (`redis-py`, `fencepost's single lock`).
    pub target: String,
    pub stamp: String,
    pub started_unix_s: u64,
    pub seed: u64,
    pub shard: Option<String>,
    pub guided: bool,
    pub budget_s: u64,
    pub jobs: usize,
    pub faults: Vec<String>,
    /// Each fault kind's weight at the end (guided: what its runs earned; 1 each unguided).
    #[serde(default)]
    pub weights: BTreeMap<String, f64>,
    pub wall_ms: u64,
    /// Time explore itself spent (drawing, mutating, signatures, grouping), not the runs'.
    pub overhead_ms: u64,
    pub interrupted: bool,
    /// Where the known findings came from.
    pub known_source: String,
    pub runs: Vec<ExploreRun>,
    pub groups: Vec<findings::Group>,
    pub growth: Vec<Growth>,
    /// Every word seen, with the run that first showed it.
    pub words: BTreeMap<String, usize>,
    /// The folders of the shards a merged report was made of.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub merged_from: Vec<String>,
    /// The command that runs this explore again.
    pub rerun: String,
    /// Why explore stopped early: runs kept failing to run (the first one's error).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub broken: Option<String>,
}

impl ExploreReport {
    /// Runs that were judged (neither an error nor interrupted).
    pub fn judged(&self) -> usize {
        self.runs.iter().filter(|r| r.error.is_none()).count()
    }

    pub fn runs_per_min(&self) -> f64 {
        self.runs.len() as f64 / (self.wall_ms.max(1) as f64 / 60_000.0)
    }

    /// 130 interrupted; 2 when runs kept failing to run; 1 when a finding appeared that the
    /// matrix row does not show; 3 when too few runs were judged to say anything else; 0
    /// otherwise.
    pub fn exit_code(&self) -> i32 {
        if self.interrupted {
            130
        } else if self.broken.is_some() {
            2
        } else if self.groups.iter().any(|g| !g.known) {
            1
        } else if self.judged() < MIN_RUNS {
            3
        } else {
            0
        }
    }
}

/// What a run's waiter hands back: its number, and how it ended.
type Ended = (usize, CaseEnd);

/// Runs an explore and writes its reports.
pub async fn run(opts: &ExploreOptions) -> anyhow::Result<(ExploreReport, PathBuf)> {
    let kinds = plan::drawable(&opts.target, opts.faults.as_deref()).map_err(anyhow::Error::msg)?;
    if kinds.is_empty() {
        anyhow::bail!("no fault kind can be drawn for {}", opts.target.label());
    }
    let known = Known::from_matrix(&opts.known, opts.target.matrix_row())?;
    if let Target::Library(l) = &opts.target {
        use crate::clients::process::adapter;
        let (name, version) = adapter::parse_spec(l)?;
        adapter::find(&name, version, &opts.adapters_dir)?.install(&adapter::cache_dir())?;
    }
    std::fs::create_dir_all(&opts.results_dir)?;
    let started_unix_s = store::unix_now_s();
    let stamp = store::utc_stamp(started_unix_s);
    let dir = create_dir(&opts.results_dir, "explore", &stamp)?;
    std::fs::create_dir_all(dir.join("schedules"))?;
    let mut interrupt =
        Interrupt::install().context("cannot install the SIGINT/SIGTERM handlers")?;
    let shard_name = opts.shard.map(|s| s.to_string());
    let rng = seed::rng(
        opts.seed,
        &format!("explore {}", shard_name.as_deref().unwrap_or("whole")),
    );
    let mut search = Search::new(opts, kinds, known, rng);
    let started = Instant::now();
    let mut overhead = Duration::ZERO;
    let mut running: BTreeMap<usize, Pending> = BTreeMap::new();
    let mut waits: tokio::task::JoinSet<Ended> = tokio::task::JoinSet::new();
    let mut interrupted = false;
    let mut broken: Option<String> = None;
    let (mut failed_in_a_row, mut judged) = (0usize, 0usize);
    let mut next = 1usize;
    let bar = progress_bar(opts.budget);
    loop {
        while running.len() < opts.jobs.max(1)
            && !interrupted
            && broken.is_none()
            && started.elapsed() < opts.budget
            && !search.reached()
        {
            let t0 = Instant::now();
            let (scenario, origin) = search.next_schedule()?;
            let number = next;
            next += 1;
            let run_seed = search.run_seed();
            let schedule = format!("schedules/{number:04}.toml");
            let path = dir.join(&schedule);
            std::fs::write(&path, crate::scenario::edit::to_toml(&scenario))
                .with_context(|| format!("cannot write {}", path.display()))?;
            let cmd = CaseCommand::of_file(
                &opts.fencepost,
                &path,
                run_seed,
                &opts.results_dir,
                &opts.adapters_dir,
                &dir.join("logs"),
                &format!("{number:04}"),
            );
            let replay = cmd.replay();
            overhead += t0.elapsed();
            let child = cmd
                .start()
                .with_context(|| format!("cannot start run {number}"))?;
            running.insert(
                number,
                Pending {
                    number,
                    seed: run_seed,
                    origin,
                    scenario,
                    schedule,
                    replay,
                    pid: child.pid(),
                    started: t0,
                },
            );
            waits.spawn_blocking(move || (number, child.wait()));
        }
        if running.is_empty() {
            break;
        }
        tokio::select! {
            signal = interrupt.wait(), if !interrupted => {
                interrupted = true;
                spawner::pass_on(signal, running.values().map(|p| p.pid));
            }
            Some(joined) = waits.join_next() => {
                let (number, end) = joined.context("a run's waiter panicked")?;
                let Some(p) = running.remove(&number) else { continue };
                let t0 = Instant::now();
                let (run, stopped) = search.learn(p, end, started.elapsed().as_secs_f64());
                interrupted |= stopped;
                match (&run.error, stopped) {
                    (Some(e), false) => {
                        failed_in_a_row += 1;
                        let limit = if judged == 0 { 3 } else { BROKEN_IN_A_ROW };
                        if failed_in_a_row >= limit && broken.is_none() {
                            broken = Some(format!("{failed_in_a_row} runs in a row could not run; the last: {e}"));
                        }
                    }
                    (None, _) => {
                        failed_in_a_row = 0;
                        judged += 1;
                    }
                    _ => {}
                }
                let line = run_line(run);
                if bar.is_hidden() {
                    eprintln!("fencepost explore: {line}");
                } else {
                    bar.println(line);
                }
                overhead += t0.elapsed();
            }
            _ = tokio::time::sleep(Duration::from_millis(500)) => {}
        }
        bar.set_position(started.elapsed().as_secs().min(opts.budget.as_secs()));
        bar.set_message(search.progress());
    }
    bar.finish_and_clear();
    let (runs, groups, corpus, weights, known) = search.finish();
    let report = ExploreReport {
        target: opts.target.label(),
        stamp,
        started_unix_s,
        seed: opts.seed,
        shard: shard_name,
        guided: !opts.random,
        budget_s: opts.budget.as_secs(),
        jobs: opts.jobs,
        faults: weights.keys().cloned().collect(),
        weights,
        wall_ms: started.elapsed().as_millis() as u64,
        overhead_ms: overhead.as_millis() as u64,
        interrupted,
        known_source: known.source,
        runs,
        groups,
        growth: corpus.growth,
        words: corpus.seen,
        merged_from: Vec::new(),
        rerun: rerun_command(opts),
        broken,
    };
    report::write(&report, &dir)?;
    link_latest(&opts.results_dir, &dir, LATEST)?;
    Ok((report, dir))
}

/// The command that runs this explore again (same target, budget, seed and switches).
fn rerun_command(opts: &ExploreOptions) -> String {
    let mut s = String::from("fencepost explore");
    match &opts.target {
        Target::Library(l) => s.push_str(&format!(" --client {l}")),
        Target::Command { words, nodes, .. } => s.push_str(&format!(
            " --client-command {} --client-nodes {}",
            shell_words::quote(&shell_words::join(words)),
            if *nodes == crate::scenario::client::NodesKind::One {
                "one"
            } else {
                "majority"
            }
        )),
        Target::Lock(k) => s.push_str(&format!(" --lock {}", k.name())),
    }
    if let Some(v) = &opts.server {
        s.push_str(&format!(" --server {}", v.label()));
    }
    s.push_str(&format!(
        " --budget {}s --jobs {} --seed {}",
        opts.budget.as_secs(),
        opts.jobs,
        opts.seed
    ));
    if let Some(f) = &opts.faults {
        s.push_str(&format!(" --faults {}", f.join(",")));
    }
    if let Some(sh) = opts.shard {
        s.push_str(&format!(" --shard {sh}"));
    }
    if opts.random {
        s.push_str(" --random");
    }
    if let Some(u) = &opts.until {
        s.push_str(&format!(" --until {u}"));
    }
    s
}

fn progress_bar(budget: Duration) -> ProgressBar {
    let bar = ProgressBar::new(budget.as_secs().max(1));
    bar.set_style(
        ProgressStyle::with_template(
            "{spinner} [{elapsed_precise}] {bar:30.cyan/blue} {eta} left · {msg}",
        )
        .expect("static progress template")
        .progress_chars("=> "),
    );
    bar.enable_steady_tick(Duration::from_millis(200));
    bar
}

/// "run 12 (mutant of 3: …) gc-pause+latency · 41 grants · 2 new words · blame: …".
fn run_line(r: &ExploreRun) -> String {
    let what = match &r.error {
        Some(e) => format!("ERROR {}", e.lines().next().unwrap_or_default()),
        None if r.findings.is_empty() => "no finding".into(),
        None => r.findings.join(", "),
    };
    format!(
        "run {} ({}) {} · {} grants · {} new words · {what}",
        r.number,
        r.origin,
        r.faults.join("+"),
        r.grants,
        r.new_words
    )
}

/// `fencepost explore`: runs it, prints where the reports are; returns its exit code.
pub async fn explore_command(opts: &ExploreOptions) -> anyhow::Result<i32> {
    let (report, dir) = run(opts).await?;
    if let Some(why) = &report.broken {
        eprintln!(
            "fencepost explore: stopped: {why}\n(each run's log is in {}; fix what the runs need and explore again)",
            dir.join("logs").display()
        );
    }
    println!("{}", report::markdown(&report));
    println!(
        "{}  {}",
        dir.join(MD).display(),
        dir.join(crate::report::html::PAGE).display()
    );
    Ok(report.exit_code())
}
