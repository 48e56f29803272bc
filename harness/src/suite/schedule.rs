//! Runs cases — each a child `fencepost scenario` process — `jobs` at a time, longest first as
//! given, with a progress bar; forwards a SIGTERM to the running ones and stops starting new
//! ones when interrupted. The suite and the matrix both run on it.

use super::child::{CaseCommand, CaseEnd};
use crate::interrupt::Interrupt;
use crate::nodes::spawner;
use crate::suite::report::{Case, Violations};
use anyhow::Context;
use indicatif::{ProgressBar, ProgressStyle};
use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, Instant};

/// One case to run: its place in the report, what the progress line calls it, its command.
pub struct Job {
    pub index: usize,
    pub label: String,
    pub seed: u64,
    pub cmd: CaseCommand,
}

/// Runs `jobs` in the order given, `parallel` at a time; returns the cases in `index` order and
/// whether the run was interrupted.
pub async fn run_jobs(
    jobs: Vec<Job>,
    parallel: usize,
    results_dir: &Path,
    interrupt: &mut Interrupt,
    what: &str,
) -> anyhow::Result<(Vec<Case>, bool)> {
    let mut queue: std::collections::VecDeque<Job> = jobs.into();
    let bar = ProgressBar::new(queue.len() as u64);
    bar.set_style(
        ProgressStyle::with_template(
            "{spinner} [{elapsed_precise}] {bar:30.cyan/blue} {pos}/{len} {msg}",
        )
        .expect("static progress template")
        .progress_chars("=> "),
    );
    bar.enable_steady_tick(Duration::from_millis(200));
    let mut so_far = Violations::new();
    let message = |running: &BTreeMap<usize, (String, u64, u32)>, so_far: &Violations| {
        let names: Vec<String> = running
            .values()
            .map(|(n, seed, _)| format!("{n} seed {seed}"))
            .collect();
        format!(
            "{} · violations so far: {}",
            names.join(", "),
            tally(so_far)
        )
    };

    let mut cases: Vec<(usize, Case)> = Vec::new();
    let mut interrupted = false;
    // index → (label, seed, pid) of the cases running now
    let mut running: BTreeMap<usize, (String, u64, u32)> = BTreeMap::new();
    let mut waits = tokio::task::JoinSet::new();
    loop {
        while running.len() < parallel.max(1) && !interrupted {
            let Some(job) = queue.pop_front() else {
                break;
            };
            let (i, name, seed) = (job.index, job.label, job.seed);
            let t0 = Instant::now();
            match job.cmd.start() {
                Ok(child) => {
                    running.insert(i, (name.clone(), seed, child.pid()));
                    waits.spawn_blocking(move || {
                        let end = child.wait();
                        (i, name, seed, t0.elapsed().as_millis() as u64, end)
                    });
                }
                Err(e) => {
                    let case = Case::error(&name, seed, 0, &format!("cannot start the run: {e}"));
                    bar.inc(1);
                    cases.push((i, case));
                }
            }
            bar.set_message(message(&running, &so_far));
        }
        if running.is_empty() {
            break;
        }
        tokio::select! {
            signal = interrupt.wait(), if !interrupted => {
                interrupted = true;
                let sig = if signal == "SIGTERM" { libc::SIGTERM } else { libc::SIGINT };
                // Each case leads a process group of its own (the spawner's rule), so a
                // terminal's Ctrl-C reached this process alone: pass it on, and each case ends
                // its run in order and reports it interrupted.
                for (_, _, pid) in running.values() {
                    let _ = spawner::signal(*pid, sig);
                }
            }
            Some(joined) = waits.join_next() => {
                let (i, name, seed, wall_ms, end) = joined.context("a case's waiter panicked")?;
                running.remove(&i);
                let case = match end {
                    CaseEnd::Judged(result) => {
                        interrupted |= result.interrupted;
                        Case::of(&result, seed, wall_ms, results_dir)
                    }
                    CaseEnd::Failed(error) => Case::error(&name, seed, wall_ms, &error),
                    CaseEnd::Interrupted => {
                        interrupted = true;
                        Case::interrupted(&name, seed, wall_ms)
                    }
                };
                add(&mut so_far, &case.violations);
                let line = format!(
                    "{} {} seed {} in {:.1} s · {}",
                    case.status_word(),
                    name,
                    seed,
                    wall_ms as f64 / 1000.0,
                    case.error
                        .as_deref()
                        .map_or_else(|| tally(&case.violations), |e| e.to_string())
                );
                if bar.is_hidden() {
                    eprintln!("fencepost {what}: {line}");
                } else {
                    bar.println(line);
                }
                bar.inc(1);
                bar.set_message(message(&running, &so_far));
                cases.push((i, case));
            }
        }
    }
    bar.finish_and_clear();
    cases.sort_by_key(|(i, _)| *i);
    Ok((cases.into_iter().map(|(_, c)| c).collect(), interrupted))
}

/// Adds one case's violations to the running tally.
fn add(total: &mut Violations, v: &Violations) {
    for (k, n) in v {
        *total.entry(k.clone()).or_default() += n;
    }
}

/// "3 mutual exclusion · 1 fencing", or "no violations".
fn tally(v: &Violations) -> String {
    let parts: Vec<String> = v
        .iter()
        .filter(|(_, n)| **n > 0)
        .map(|(k, n)| format!("{n} {}", checkers::registry::label(k)))
        .collect();
    if parts.is_empty() {
        "no violations".into()
    } else {
        parts.join(" · ")
    }
}
