//! `fencepost shrink RUN_DIR`: a failing run cut down to the smallest schedule that still shows
//! its finding — what a maintainer can read and replay.
//!
//! Delta debugging over the schedule (Zeller's ddmin, greedily, one step at a time): try each
//! smaller candidate ([`candidates`]) — a fault dropped, a fault's lengths halved, fewer
//! injections, an earlier start, fewer clients, a shorter run, no long sections — and keep the
//! first that still reproduces, then start over from it, until no candidate does. Real timing
//! is not deterministic, so "reproduces" is a share: a candidate runs `--tries` times (seeds
//! from the failing run's on) and is kept when at least `--share` of them show the same finding
//! (the same check, and for blame the same kind of wrong answer). A try stops early once the
//! answer is sure either way. The original is measured the same way first, so the report says
//! the reproduction rate before and after.

pub mod candidates;
pub mod report;

use crate::interrupt::Interrupt;
use crate::judge::RunResult;
use crate::nodes::spawner;
use crate::scenario::edit::to_toml;
use crate::scenario::Scenario;
use crate::store;
use crate::suite::case::Case;
use crate::suite::child::{CaseCommand, CaseEnd};
use crate::suite::create_dir;
use anyhow::Context;
use candidates::{size, Size};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use std::time::Instant;

pub const SHRUNK: &str = "shrunk.toml";

#[derive(Clone, Debug)]
pub struct ShrinkOptions {
    pub run_dir: PathBuf,
    pub tries: usize,
    pub share: f64,
    /// `CHECK` or `blame:KIND`.
    pub finding: Option<String>,
    /// At most this many candidates are tried (a bound on the shrink's time).
    pub candidates: usize,
    pub jobs: usize,
    pub results_dir: PathBuf,
    pub adapters_dir: PathBuf,
    pub fencepost: PathBuf,
}

/// One candidate tried.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Step {
    pub what: String,
    pub tries: usize,
    pub reproduced: usize,
    pub kept: bool,
    /// The candidate's file, relative to the shrink folder.
    pub file: String,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ShrinkReport {
    pub run_dir: String,
    pub finding: String,
    pub tries: usize,
    pub share: f64,
    pub before: Size,
    pub after: Size,
    /// Tries of the original that showed the finding, of how many.
    pub rate_before: (usize, usize),
    /// Tries of the smallest schedule that showed it, of how many (its last measurement).
    pub rate_after: (usize, usize),
    pub steps: Vec<Step>,
    pub wall_ms: u64,
    pub interrupted: bool,
    /// The command that replays the smallest schedule.
    pub reproduce: String,
    /// A run of the original and of the smallest schedule that showed the finding (folders
    /// relative to the results folder), for the before/after timelines.
    pub before_run: Option<String>,
    pub after_run: Option<String>,
}

impl ShrinkReport {
    /// 130 interrupted; 1 when the original does not reproduce at the share asked (nothing
    /// to shrink); 0 otherwise.
    pub fn exit_code(&self) -> i32 {
        if self.interrupted {
            130
        } else if !meets(self.rate_before, self.share) {
            1
        } else {
            0
        }
    }
}

fn meets((hit, of): (usize, usize), share: f64) -> bool {
    of > 0 && hit as f64 >= share * of as f64 - 1e-9
}

/// Whether a judged run shows `finding` (`CHECK` or `blame:KIND`).
pub fn shows(r: &RunResult, finding: &str, results_dir: &Path) -> bool {
    Case::of(r, 0, 0, results_dir)
        .finding_names()
        .contains(finding)
}

/// The finding to keep: the one asked for (which the run must show), else the run's first
/// library finding, else its first violated check in the registry's order (mutual exclusion
/// before what follows from it).
pub fn pick_finding(
    r: &RunResult,
    asked: Option<&str>,
    results_dir: &Path,
) -> anyhow::Result<String> {
    let all = Case::of(r, 0, 0, results_dir).finding_names();
    if let Some(f) = asked {
        if !all.contains(f) {
            anyhow::bail!(
                "the run shows no `{f}`; it shows: {} (pass one of them to --finding)",
                if all.is_empty() {
                    "nothing".to_string()
                } else {
                    all.iter().cloned().collect::<Vec<_>>().join(", ")
                }
            );
        }
        return Ok(f.to_string());
    }
    all.iter()
        .find(|f| f.starts_with("blame:"))
        .or_else(|| all.iter().min_by_key(|f| checkers::registry::position(f)))
        .cloned()
        .ok_or_else(|| anyhow::anyhow!("the run shows no finding to shrink: every check held"))
}

/// Runs `scenario` up to `tries` times (seeds `seed`, `seed + 1`, …), `jobs` at a time, until
/// the share is sure either way; returns (showed, ran) and a run folder that showed it.
async fn measure(
    opts: &ShrinkOptions,
    file: &Path,
    seed: u64,
    finding: &str,
    logs: &Path,
    interrupt: &mut Interrupt,
) -> anyhow::Result<((usize, usize), Option<String>, bool)> {
    let need = (opts.share * opts.tries as f64 - 1e-9).ceil().max(1.0) as usize;
    let (mut hit, mut miss, mut started) = (0usize, 0usize, 0usize);
    let mut shown = None;
    let mut waits: tokio::task::JoinSet<CaseEnd> = tokio::task::JoinSet::new();
    let mut pids: Vec<u32> = Vec::new();
    let mut interrupted = false;
    loop {
        let sure = hit >= need || miss > opts.tries - need;
        while !sure && !interrupted && waits.len() < opts.jobs.max(1) && started < opts.tries {
            let s = seed + started as u64;
            let tag = format!(
                "{}-seed{s}",
                file.file_stem().and_then(|x| x.to_str()).unwrap_or("try")
            );
            let cmd = CaseCommand::of_file(
                &opts.fencepost,
                file,
                s,
                &opts.results_dir,
                &opts.adapters_dir,
                logs,
                &tag,
            );
            let child = cmd.start().context("cannot start a try")?;
            pids.push(child.pid());
            waits.spawn_blocking(move || child.wait());
            started += 1;
        }
        if waits.is_empty() {
            break;
        }
        tokio::select! {
            signal = interrupt.wait(), if !interrupted => {
                interrupted = true;
                spawner::pass_on(signal, pids.iter().copied());
            }
            Some(joined) = waits.join_next() => {
                match joined.context("a try's waiter panicked")? {
                    CaseEnd::Judged(r) if r.interrupted => interrupted = true,
                    CaseEnd::Judged(r) => {
                        if shows(&r, finding, &opts.results_dir) {
                            hit += 1;
                            shown.get_or_insert_with(|| {
                                Path::new(&r.run_dir)
                                    .strip_prefix(&opts.results_dir)
                                    .unwrap_or(Path::new(&r.run_dir))
                                    .display()
                                    .to_string()
                            });
                        } else {
                            miss += 1;
                        }
                    }
                    // A try that could not run shows nothing.
                    CaseEnd::Failed(_) => miss += 1,
                    CaseEnd::Interrupted => interrupted = true,
                }
            }
        }
    }
    Ok(((hit, hit + miss), shown, interrupted))
}

/// Shrinks the run; writes the shrink folder's files.
pub async fn run(opts: &ShrinkOptions) -> anyhow::Result<(ShrinkReport, PathBuf)> {
    let result: RunResult = serde_json::from_str(
        &std::fs::read_to_string(opts.run_dir.join(store::RESULTS)).with_context(|| {
            format!(
                "cannot read {}: give a run folder fencepost wrote (results/<scenario>/<run-id>)",
                opts.run_dir.join(store::RESULTS).display()
            )
        })?,
    )
    .with_context(|| {
        format!(
            "{} is not a results.json fencepost wrote",
            opts.run_dir.display()
        )
    })?;
    let original = Scenario::load(&opts.run_dir.join(store::SCENARIO))?;
    let finding = pick_finding(&result, opts.finding.as_deref(), &opts.results_dir)?;
    let seed = result.meta.seed;
    std::fs::create_dir_all(&opts.results_dir)?;
    let dir = create_dir(
        &opts.results_dir,
        "shrink",
        &store::utc_stamp(store::unix_now_s()),
    )?;
    let logs = dir.join("logs");
    std::fs::create_dir_all(&logs)?;
    let mut interrupt =
        Interrupt::install().context("cannot install the SIGINT/SIGTERM handlers")?;
    let started = Instant::now();
    let write = |name: &str, s: &Scenario| -> anyhow::Result<PathBuf> {
        let path = dir.join(name);
        std::fs::write(&path, to_toml(s))
            .with_context(|| format!("cannot write {}", path.display()))?;
        Ok(path)
    };
    let mut current = original.clone();
    current.name = format!("{}-shrink", original.name);
    let file = write("00-original.toml", &current)?;
    eprintln!(
        "fencepost shrink: measuring the original ({} tries) for {finding}",
        opts.tries
    );
    let (rate_before, before_run, mut interrupted) =
        measure(opts, &file, seed, &finding, &logs, &mut interrupt).await?;
    let mut steps = Vec::new();
    let mut rate_after = rate_before;
    let mut after_run = before_run.clone();
    // Candidates already refused, by their file's text: the same schedule is not tried twice.
    let mut refused = std::collections::BTreeSet::new();
    if meets(rate_before, opts.share) {
        'shrinking: while !interrupted && steps.len() < opts.candidates {
            for (what, cand) in candidates::candidates(&current) {
                if interrupted || steps.len() >= opts.candidates {
                    break 'shrinking;
                }
                if refused.contains(&to_toml(&cand)) {
                    continue;
                }
                let name = format!("{:02}.toml", steps.len() + 1);
                let path = write(&name, &cand)?;
                let (rate, shown, stop) =
                    measure(opts, &path, seed, &finding, &logs, &mut interrupt).await?;
                interrupted |= stop;
                let kept = !stop && meets(rate, opts.share);
                eprintln!(
                    "fencepost shrink: {what}: {} of {} tries showed it{}",
                    rate.0,
                    rate.1,
                    if kept { " — kept" } else { "" }
                );
                steps.push(Step {
                    what,
                    tries: rate.1,
                    reproduced: rate.0,
                    kept,
                    file: name,
                });
                if !kept {
                    refused.insert(to_toml(&cand));
                }
                if kept {
                    current = cand;
                    rate_after = rate;
                    after_run = shown;
                    continue 'shrinking;
                }
            }
            break;
        }
    }
    write(SHRUNK, &current)?;
    let reproduce = CaseCommand::of_file(
        &opts.fencepost,
        &dir.join(SHRUNK),
        seed,
        &opts.results_dir,
        &opts.adapters_dir,
        &logs,
        "shrunk",
    )
    .replay();
    let report = ShrinkReport {
        run_dir: opts.run_dir.display().to_string(),
        finding,
        tries: opts.tries,
        share: opts.share,
        before: size(&original),
        after: size(&current),
        rate_before,
        rate_after,
        steps,
        wall_ms: started.elapsed().as_millis() as u64,
        interrupted,
        reproduce,
        before_run,
        after_run,
    };
    report::write(&report, &dir, &opts.results_dir)?;
    Ok((report, dir))
}

/// `fencepost shrink`: shrinks, prints the report; returns its exit code.
pub async fn shrink_command(opts: &ShrinkOptions) -> anyhow::Result<i32> {
    let (report, dir) = run(opts).await?;
    println!("{}", report::markdown(&report));
    println!("{}", dir.join(report::MD).display());
    Ok(report.exit_code())
}
