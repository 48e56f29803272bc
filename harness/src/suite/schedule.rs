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
    /// Added to a judged case's scenario name in the reports (a suite's server axis:
    /// ` on valkey@8.0`).
    pub suffix: Option<String>,
    pub seed: u64,
    /// The server this case would run on cannot run its scenario (why): recorded as such,
    /// never started.
    pub not_on_server: Option<String>,
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
    let mut s = Scheduler::new(jobs, results_dir, what);
    loop {
        s.start_more(parallel.max(1));
        if s.running.is_empty() {
            break;
        }
        tokio::select! {
            signal = interrupt.wait(), if !s.interrupted => s.pass_on(signal),
            Some(joined) = s.waits.join_next() => {
                s.finished(joined.context("a case's waiter panicked")?);
            }
        }
    }
    s.bar.finish_and_clear();
    let mut cases = s.cases;
    cases.sort_by_key(|(i, _)| *i);
    Ok((cases.into_iter().map(|(_, c)| c).collect(), s.interrupted))
}

/// What a case's waiter hands back: its place, label, seed, wall time and how it ended.
/// And the suffix its judged case's name takes ([`Job::suffix`]).
type Ended = (usize, String, u64, u64, CaseEnd, Option<String>);

/// The cases to run, those running, those done, and the progress bar.
struct Scheduler<'a> {
    queue: std::collections::VecDeque<Job>,
    /// index → (label, seed, pid) of the cases running now.
    running: BTreeMap<usize, (String, u64, u32)>,
    waits: tokio::task::JoinSet<Ended>,
    cases: Vec<(usize, Case)>,
    so_far: Violations,
    interrupted: bool,
    bar: ProgressBar,
    results_dir: &'a Path,
    what: &'a str,
}

impl<'a> Scheduler<'a> {
    fn new(jobs: Vec<Job>, results_dir: &'a Path, what: &'a str) -> Scheduler<'a> {
        let bar = ProgressBar::new(jobs.len() as u64);
        bar.set_style(
            ProgressStyle::with_template(
                "{spinner} [{elapsed_precise}] {bar:30.cyan/blue} {pos}/{len} {msg}",
            )
            .expect("static progress template")
            .progress_chars("=> "),
        );
        bar.enable_steady_tick(Duration::from_millis(200));
        Scheduler {
            queue: jobs.into(),
            running: BTreeMap::new(),
            waits: tokio::task::JoinSet::new(),
            cases: Vec::new(),
            so_far: Violations::new(),
            interrupted: false,
            bar,
            results_dir,
            what,
        }
    }

    /// Starts queued cases until `parallel` run (none once interrupted).
    fn start_more(&mut self, parallel: usize) {
        while self.running.len() < parallel && !self.interrupted {
            let Some(job) = self.queue.pop_front() else {
                break;
            };
            let (i, name, seed, suffix) = (job.index, job.label, job.seed, job.suffix);
            if let Some(why) = job.not_on_server {
                let case = Case::not_on_server(&name, seed, &why);
                self.print(&format!(
                    "{} {name} seed {seed} · {why}",
                    case.status_word()
                ));
                self.bar.inc(1);
                self.cases.push((i, case));
                continue;
            }
            let t0 = Instant::now();
            match job.cmd.start() {
                Ok(child) => {
                    self.running.insert(i, (name.clone(), seed, child.pid()));
                    self.waits.spawn_blocking(move || {
                        let end = child.wait();
                        (i, name, seed, t0.elapsed().as_millis() as u64, end, suffix)
                    });
                }
                Err(e) => {
                    let case = Case::error(&name, seed, 0, &format!("cannot start the run: {e}"));
                    self.bar.inc(1);
                    self.cases.push((i, case));
                }
            }
            self.bar.set_message(self.message());
        }
    }

    /// A signal arrived: no new case starts, and the running ones hear it. Each case leads a
    /// process group of its own (the spawner's rule), so a terminal's Ctrl-C reached this
    /// process alone: each case ends its run in order and reports it interrupted.
    fn pass_on(&mut self, signal: &str) {
        self.interrupted = true;
        spawner::pass_on(signal, self.running.values().map(|(_, _, pid)| *pid));
    }

    /// A case ended: record it, print its line, move the bar.
    fn finished(&mut self, (i, name, seed, wall_ms, end, suffix): Ended) {
        self.running.remove(&i);
        let case = match end {
            CaseEnd::Judged(result) => {
                self.interrupted |= result.interrupted;
                let mut case = Case::of(&result, seed, wall_ms, self.results_dir);
                if let Some(s) = suffix {
                    case.scenario.push_str(&s);
                }
                case
            }
            CaseEnd::Failed(error) => Case::error(&name, seed, wall_ms, &error),
            CaseEnd::Interrupted => {
                self.interrupted = true;
                Case::interrupted(&name, seed, wall_ms)
            }
        };
        add(&mut self.so_far, &case.violations);
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
        self.print(&line);
        self.bar.inc(1);
        self.bar.set_message(self.message());
        self.cases.push((i, case));
    }

    /// One progress line, above the bar (or on stderr when the bar is hidden).
    fn print(&self, line: &str) {
        if self.bar.is_hidden() {
            eprintln!("fencepost {}: {line}", self.what);
        } else {
            self.bar.println(line);
        }
    }

    /// "gc-pause seed 1, … · violations so far: …".
    fn message(&self) -> String {
        let names: Vec<String> = self
            .running
            .values()
            .map(|(n, seed, _)| format!("{n} seed {seed}"))
            .collect();
        format!(
            "{} · violations so far: {}",
            names.join(", "),
            tally(&self.so_far)
        )
    }
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
