//! The suite: every scenario over a matrix of seeds, each case a child `fencepost scenario`
//! process ([`case`]), `--jobs` at a time.
//!
//! `fencepost suite nightly` globs `scenarios/*.toml` (other scenarios appear as they are added)
//! and runs each one once per seed, longest first, `--jobs` at a time (default 2: a run mostly
//! waits on leases, pauses and faults, and a child process of its own keeps one run's post-run
//! CPU from delaying another's clients), so every run gets its usual folder, charts and page,
//! and each child's output is kept in `logs/`. The safety report it then writes (report.md,
//! junit.xml, suite.json, index.html) is drawn by [`crate::report::suite`]. Exit code 0 when
//! every case met its expectations or reproduced its scenario's known finding unchanged; 1 on
//! any change; 3 when some case could not tell (too little evidence); 2 when a run could not be
//! run at all; 130 when interrupted.

pub mod case;

use crate::cluster::spawner;
use crate::duration::Dur;
use crate::interrupt::Interrupt;
use crate::report::suite::{self as suite_report, Case, SuiteReport, SuiteRun, Violations};
use crate::report::ReportError;
use crate::scenario::Scenario;
use crate::store;
use anyhow::Context;
use case::{CaseCommand, CaseEnd};
use indicatif::{ProgressBar, ProgressStyle};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::{Duration, Instant};

/// The suites fencepost knows.
pub const SUITES: &[&str] = &["nightly"];

/// Seeds to run each scenario with: `1..3` (inclusive), `1..=3`, `7` or `1,4,9`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Seeds(pub Vec<u64>);

impl FromStr for Seeds {
    type Err = String;
    fn from_str(s: &str) -> Result<Seeds, String> {
        let bad = || {
            format!("bad seeds `{s}`: use a range like 1..3 (inclusive), one seed like 7, or a list like 1,4,9")
        };
        let seeds: Vec<u64> = if let Some((a, b)) = s.split_once("..") {
            let b = b.strip_prefix('=').unwrap_or(b);
            let (a, b): (u64, u64) = (
                a.trim().parse().map_err(|_| bad())?,
                b.trim().parse().map_err(|_| bad())?,
            );
            if a > b {
                return Err(format!("bad seeds `{s}`: the range is empty ({a} > {b})"));
            }
            (a..=b).collect()
        } else {
            s.split(',')
                .map(|x| x.trim().parse().map_err(|_| bad()))
                .collect::<Result<_, _>>()?
        };
        if seeds.is_empty() || seeds.len() > 1000 {
            return Err(format!("bad seeds `{s}`: give 1 to 1000 seeds"));
        }
        Ok(Seeds(seeds))
    }
}

/// What to run.
#[derive(Clone, Debug)]
pub struct SuiteOptions {
    pub name: String,
    pub seeds: Seeds,
    pub scenarios_dir: PathBuf,
    pub results_dir: PathBuf,
    /// Overrides every scenario's duration (short suites in tests).
    pub duration: Option<Dur>,
    /// Only these scenario file stems (all when empty).
    pub only: Vec<String>,
    /// Cases run at once (each a child process).
    pub jobs: usize,
    /// The fencepost binary that runs each case.
    pub fencepost: PathBuf,
}

/// Errors that stop a suite before it runs anything.
#[derive(Debug, thiserror::Error)]
pub enum SuiteError {
    #[error("unknown suite `{0}`: the suites are {list} (nightly = every scenarios/*.toml)", list = SUITES.join(", "))]
    UnknownSuite(String),
    #[error("no scenario files in {0}: a suite runs scenarios/*.toml")]
    NoScenarios(PathBuf),
    #[error("no scenario named {0:?} in {1}")]
    NoSuchScenario(Vec<String>, PathBuf),
    #[error(transparent)]
    Report(#[from] ReportError),
}

/// The scenario files a suite runs, sorted by name.
pub fn scenario_files(opts: &SuiteOptions) -> Result<Vec<PathBuf>, SuiteError> {
    if !SUITES.contains(&opts.name.as_str()) {
        return Err(SuiteError::UnknownSuite(opts.name.clone()));
    }
    let entries = std::fs::read_dir(&opts.scenarios_dir).map_err(|source| ReportError::Io {
        path: opts.scenarios_dir.clone(),
        source,
    })?;
    let mut files: Vec<PathBuf> = entries
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "toml"))
        .collect();
    files.sort();
    if files.is_empty() {
        return Err(SuiteError::NoScenarios(opts.scenarios_dir.clone()));
    }
    if !opts.only.is_empty() {
        let missing: Vec<String> = opts
            .only
            .iter()
            .filter(|o| !files.iter().any(|f| stem(f) == **o))
            .cloned()
            .collect();
        if !missing.is_empty() {
            return Err(SuiteError::NoSuchScenario(
                missing,
                opts.scenarios_dir.clone(),
            ));
        }
        files.retain(|f| opts.only.iter().any(|o| *o == stem(f)));
    }
    Ok(files)
}

fn stem(p: &Path) -> String {
    p.file_stem()
        .map_or(String::new(), |s| s.to_string_lossy().into_owned())
}

/// Runs the suite and writes its reports; returns the report (its exit code says the verdict).
pub async fn run(opts: &SuiteOptions) -> anyhow::Result<(SuiteReport, PathBuf)> {
    let files = scenario_files(opts)?;
    std::fs::create_dir_all(&opts.results_dir)?;
    let started_unix_s = store::unix_now_s();
    let stamp = store::utc_stamp(started_unix_s);
    let dir = create_suite_dir(&opts.results_dir, &stamp)?;
    // From here on a signal stops the suite in order: no new case starts, the running ones are
    // told to stop (they save and judge what they have), and the reports are still written.
    let mut interrupt =
        Interrupt::install().context("cannot install the SIGINT/SIGTERM handlers")?;
    let started = Instant::now();
    let seeds = &opts.seeds.0;

    // Longest cases first, so the last to finish are short ones (and the matrix order is kept
    // among equals); the report lists cases in matrix order whatever order they ran in.
    let mut queue: Vec<(usize, PathBuf, u64)> = files
        .iter()
        .flat_map(|f| seeds.iter().map(move |&seed| (f.clone(), seed)))
        .enumerate()
        .map(|(i, (f, seed))| (i, f, seed))
        .collect();
    let length = |f: &Path| {
        opts.duration
            .or_else(|| Scenario::load(f).ok().map(|s| s.run.duration))
            .map_or(Duration::ZERO, |d| d.0)
    };
    queue.sort_by_key(|(i, f, _)| (std::cmp::Reverse(length(f)), *i));
    let mut queue: std::collections::VecDeque<_> = queue.into();

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
    // index → (scenario, seed, pid) of the cases running now
    let mut running: BTreeMap<usize, (String, u64, u32)> = BTreeMap::new();
    let mut waits = tokio::task::JoinSet::new();
    loop {
        while running.len() < opts.jobs.max(1) && !interrupted {
            let Some((i, file, seed)) = queue.pop_front() else {
                break;
            };
            let name = stem(&file);
            // The command names the scenario as a user would type it.
            let user_name = if opts.scenarios_dir == Path::new("scenarios") {
                name.clone()
            } else {
                file.display().to_string()
            };
            let cmd = CaseCommand {
                fencepost: opts.fencepost.clone(),
                scenario: user_name,
                scenarios_dir: opts.scenarios_dir.clone(),
                results_dir: opts.results_dir.clone(),
                seed,
                duration: opts.duration,
                log: dir.join("logs").join(format!("{name}-seed{seed}.log")),
                result_json: dir.join("logs").join(format!(".{name}-seed{seed}.json")),
            };
            let t0 = Instant::now();
            match cmd.start() {
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
                // A Ctrl-C reached the children already (same process group); a SIGTERM sent
                // to the suite alone did not. A second signal to a stopping run is harmless.
                for (_, _, pid) in running.values() {
                    let _ = spawner::signal(*pid, sig);
                }
            }
            Some(joined) = waits.join_next() => {
                let (i, name, seed, wall_ms, end) = joined.context("a suite case's waiter panicked")?;
                running.remove(&i);
                let case = match end {
                    CaseEnd::Judged(result) => {
                        interrupted |= result.interrupted;
                        Case::of(&result, seed, wall_ms, &opts.results_dir)
                    }
                    CaseEnd::Failed(error) => Case::error(&name, seed, wall_ms, &error),
                };
                add(&mut so_far, &case.violations);
                let line = format!(
                    "{} {} seed {} in {:.1} s · {}",
                    case.status_word(),
                    case.scenario,
                    seed,
                    wall_ms as f64 / 1000.0,
                    case.error
                        .as_deref()
                        .map_or_else(|| tally(&case.violations), |e| e.to_string())
                );
                if bar.is_hidden() {
                    eprintln!("fencepost suite: {line}");
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
    let cases: Vec<Case> = cases.into_iter().map(|(_, c)| c).collect();

    let report = SuiteReport::new(
        SuiteRun {
            name: opts.name.clone(),
            stamp,
            started_unix_s,
            seeds: seeds.clone(),
            scenarios: files.iter().map(|f| stem(f)).collect(),
            duration_override: opts.duration.map(|d| d.to_string()),
            jobs: opts.jobs.max(1),
            wall_ms: started.elapsed().as_millis() as u64,
            interrupted,
        },
        cases,
    );
    suite_report::write_reports(&report, &dir)?;
    link_latest_suite(&opts.results_dir, &dir)?;
    crate::report::index::write(&opts.results_dir)?;
    Ok((report, dir))
}

/// `fencepost suite NAME`: runs it, prints the verdict and where the reports are; returns the
/// suite's exit code.
pub async fn suite_command(opts: &SuiteOptions) -> anyhow::Result<i32> {
    let (report, dir) = run(opts).await?;
    println!("fencepost suite {}: {}", report.name, report.verdict_line());
    println!(
        "{}  {}  {}",
        dir.join(suite_report::REPORT_MD).display(),
        dir.join(suite_report::JUNIT_XML).display(),
        dir.join(suite_report::SUITE_JSON).display()
    );
    Ok(report.exit_code())
}

fn create_suite_dir(results: &Path, stamp: &str) -> anyhow::Result<PathBuf> {
    for n in 0.. {
        let suffix = if n == 0 {
            String::new()
        } else {
            format!("-{n}")
        };
        let dir = results.join(format!("suite-{stamp}{suffix}"));
        match std::fs::create_dir(&dir) {
            Ok(()) => return Ok(dir),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
            Err(e) => {
                return Err(
                    anyhow::Error::new(e).context(format!("cannot create {}", dir.display()))
                )
            }
        }
    }
    unreachable!()
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
        .map(|(k, n)| format!("{n} {}", k.replace('_', " ")))
        .collect();
    if parts.is_empty() {
        "no violations".into()
    } else {
        parts.join(" · ")
    }
}

/// Points `results/latest-suite` at the suite folder (atomically replaced).
fn link_latest_suite(results: &Path, dir: &Path) -> std::io::Result<()> {
    let target = dir.strip_prefix(results).unwrap_or(dir);
    let tmp = results.join(format!(
        ".{}-{}",
        suite_report::LATEST_SUITE,
        std::process::id()
    ));
    let _ = std::fs::remove_file(&tmp);
    std::os::unix::fs::symlink(target, &tmp)?;
    std::fs::rename(&tmp, results.join(suite_report::LATEST_SUITE))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seeds_parse_ranges_lists_and_singles() {
        assert_eq!("1..3".parse::<Seeds>().unwrap().0, vec![1, 2, 3]);
        assert_eq!("1..=3".parse::<Seeds>().unwrap().0, vec![1, 2, 3]);
        assert_eq!("7".parse::<Seeds>().unwrap().0, vec![7]);
        assert_eq!("1, 4,9".parse::<Seeds>().unwrap().0, vec![1, 4, 9]);
        assert!("3..1".parse::<Seeds>().is_err());
        assert!("x".parse::<Seeds>().is_err());
    }
}
