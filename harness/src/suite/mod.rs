//! The suite: every scenario over a matrix of seeds, each case a child `fencepost scenario`
//! process ([`case`]), `--jobs` at a time.
//!
//! `fencepost suite nightly` globs `scenarios/*.toml` (other scenarios appear as they are added)
//! and runs each one once per seed, longest first, `--jobs` at a time (default 2: a run mostly
//! waits on leases, pauses and faults, and a child process of its own keeps one run's post-run
//! CPU from delaying another's clients), so every run gets its usual folder, charts and page,
//! and each child's output is kept in `logs/`. The safety report it then writes (report.md,
//! junit.xml, suite.json, index.html) is drawn by [`report`] (with the report module's parts). Exit code 0 when
//! every case met its expectations or reproduced its scenario's known finding unchanged; 1 on
//! any change; 3 when some case could not tell (too little evidence); 2 when a run could not be
//! run at all; 130 when interrupted.

pub mod case;
pub mod child;
pub mod junit;
pub mod report;
pub mod schedule;
pub mod shard;

use crate::duration::Dur;
use crate::interrupt::Interrupt;
use crate::report::ReportError;
use crate::scenario::Scenario;
use crate::store;
use crate::suite::report::{self as suite_report, SuiteReport, SuiteRun};
use anyhow::Context;
use child::CaseCommand;
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
    /// Run only this slice of the cases (`--shard I/N`).
    pub shard: Option<shard::Shard>,
    /// The server the nodes run (`--server`), passed to every run.
    pub server: Option<crate::servers::ServerAsk>,
    /// `--servers a,b,…`: every scenario × seed on each of these servers, the server an axis of
    /// the report (a case is `SCENARIO on SERVER`). Empty: one server, `server`.
    pub servers: Vec<crate::servers::ServerAsk>,
}

/// The name a case of scenario `name` on server `on` has in the reports: `failover on
/// valkey@8.0` on a server axis, the scenario's alone otherwise.
pub fn on_server(name: &str, on: Option<&crate::servers::ServerAsk>) -> String {
    match on {
        Some(s) => format!("{name} on {}", s.label()),
        None => name.to_string(),
    }
}

/// Errors that stop a suite before it runs anything.
#[derive(Debug, thiserror::Error)]
pub enum SuiteError {
    #[error("unknown suite `{0}`: the suites are {list} (nightly = every scenarios/*.toml)", list = SUITES.join(", "))]
    UnknownSuite(String),
    #[error("no scenario files in {0}: a suite runs scenarios/*.toml")]
    NoScenarios(PathBuf),
    #[error("{0}")]
    NoSuchScenario(String),
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
        if let Some(first) = missing.first() {
            let known: Vec<String> = files.iter().map(|f| stem(f)).collect();
            return Err(SuiteError::NoSuchScenario(format!(
                "--only {}: {} (the scenarios of {})",
                missing.join(","),
                crate::suggest::unknown("scenario", first, &known),
                opts.scenarios_dir.display()
            )));
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
    let dir = create_dir(&opts.results_dir, "suite", &stamp)?;
    // From here on a signal stops the suite in order: no new case starts, the running ones are
    // told to stop (they save and judge what they have), and the reports are still written.
    let mut interrupt =
        Interrupt::install().context("cannot install the SIGINT/SIGTERM handlers")?;
    let started = Instant::now();
    let seeds = &opts.seeds.0;

    // On a server axis every scenario × seed runs on each server (the axis in the names);
    // otherwise on the one server asked (or the machine's).
    let axis: Vec<Option<&crate::servers::ServerAsk>> = if opts.servers.is_empty() {
        vec![None]
    } else {
        opts.servers.iter().map(Some).collect()
    };
    // Longest cases first, so the last to finish are short ones (and the matrix order is kept
    // among equals); the report lists cases in matrix order whatever order they ran in.
    let mut queue: Vec<(usize, PathBuf, Option<&crate::servers::ServerAsk>, u64)> = files
        .iter()
        .flat_map(|f| {
            axis.iter()
                .flat_map(move |&on| seeds.iter().map(move |&seed| (f.clone(), on, seed)))
        })
        .enumerate()
        .map(|(i, (f, on, seed))| (i, f, on, seed))
        .filter(|(i, _, _, _)| opts.shard.is_none_or(|s| s.takes(*i)))
        .collect();
    let length = |f: &Path| {
        opts.duration
            .or_else(|| Scenario::load(f).ok().map(|s| s.run.duration))
            .map_or(Duration::ZERO, |d| d.0)
    };
    queue.sort_by_key(|(i, f, _, _)| (std::cmp::Reverse(length(f)), *i));

    let jobs: Vec<schedule::Job> = queue
        .into_iter()
        .map(|(i, file, on, seed)| {
            let name = stem(&file);
            let tag = match on {
                Some(s) => format!("{name}-{}", s.label().replace('@', "-")),
                None => name.clone(),
            };
            // The command names the scenario as a user would type it.
            let user_name = if opts.scenarios_dir == Path::new("scenarios") {
                name.clone()
            } else {
                file.display().to_string()
            };
            // A scenario its server cannot run (a cluster on Redis 6.2) is reported as such.
            let server = on.or(opts.server.as_ref());
            let not_on_server = server.and_then(|ask| {
                let why = Scenario::load(&file).ok()?.refused_by(ask)?;
                Some(format!("{why} (with --server {})", ask.label()))
            });
            schedule::Job {
                index: i,
                label: on_server(&name, on),
                suffix: on.map(|s| on_server("", Some(s))),
                seed,
                not_on_server,
                cmd: CaseCommand {
                    fencepost: opts.fencepost.clone(),
                    scenario: user_name,
                    scenarios_dir: opts.scenarios_dir.clone(),
                    results_dir: opts.results_dir.clone(),
                    seed,
                    duration: opts.duration,
                    extra: crate::suite::child::server_args(on.or(opts.server.as_ref())),
                    log: dir.join("logs").join(format!("{tag}-seed{seed}.log")),
                    result_json: dir.join("logs").join(format!(".{tag}-seed{seed}.json")),
                },
            }
        })
        .collect();
    let (cases, interrupted) =
        schedule::run_jobs(jobs, opts.jobs, &opts.results_dir, &mut interrupt, "suite").await?;

    let report = SuiteReport::new(
        SuiteRun {
            name: opts.name.clone(),
            stamp,
            started_unix_s,
            seeds: seeds.clone(),
            scenarios: files
                .iter()
                .flat_map(|f| axis.iter().map(move |on| on_server(&stem(f), *on)))
                .collect(),
            duration_override: opts.duration.map(|d| d.to_string()),
            jobs: opts.jobs.max(1),
            wall_ms: started.elapsed().as_millis() as u64,
            interrupted,
            shard: opts.shard.map(|s| s.to_string()),
            merged_from: Vec::new(),
            rerun: rerun_command(opts),
        },
        cases,
    );
    write_reports(&report, &dir)?;
    link_latest(&opts.results_dir, &dir, suite_report::LATEST_SUITE)?;
    crate::report::index::write(&opts.results_dir)?;
    Ok((report, dir))
}

/// The command that runs the suite again as `opts` ran it.
pub fn rerun_command(opts: &SuiteOptions) -> String {
    let word = |p: &Path| shell_words::quote(&p.display().to_string()).into_owned();
    let mut s = format!(
        "cargo run --release -- suite {} --seeds {}",
        opts.name,
        suite_report::seeds_arg(&opts.seeds.0)
    );
    for o in &opts.only {
        s.push_str(&format!(" --only {}", shell_words::quote(o)));
    }
    if let Some(d) = opts.duration {
        s.push_str(&format!(" --duration {d}"));
    }
    s.push_str(&format!(" --jobs {}", opts.jobs.max(1)));
    if let Some(v) = &opts.server {
        s.push_str(&format!(" --server {}", v.label()));
    }
    if !opts.servers.is_empty() {
        let all: Vec<String> = opts.servers.iter().map(|s| s.label()).collect();
        s.push_str(&format!(" --servers {}", all.join(",")));
    }
    if let Some(shard) = opts.shard {
        s.push_str(&format!(" --shard {shard}"));
    }
    if opts.scenarios_dir != Path::new("scenarios") {
        s.push_str(&format!(" --scenarios {}", word(&opts.scenarios_dir)));
    }
    if opts.results_dir != Path::new("results") {
        s.push_str(&format!(" --results {}", word(&opts.results_dir)));
    }
    s
}

/// `fencepost suite NAME`: runs it, prints the verdict and where the reports are; returns the
/// suite's exit code.
pub async fn suite_command(opts: &SuiteOptions) -> anyhow::Result<i32> {
    let (report, dir) = run(opts).await?;
    println!("fencepost suite {}: {}", report.name, report.verdict_line());
    print_paths(&dir);
    Ok(report.exit_code())
}

/// `fencepost suite merge DIR…`: one report of the shards' cases, in `results/suite-<stamp>`;
/// returns the merged suite's exit code.
pub fn merge_command(dirs: &[PathBuf], results: &Path) -> anyhow::Result<i32> {
    let shards = shard::read(dirs)?;
    std::fs::create_dir_all(results)?;
    let report = shard::merge(shards, results)?;
    let dir = create_dir(results, "suite", &report.stamp)?;
    write_reports(&report, &dir)?;
    link_latest(results, &dir, suite_report::LATEST_SUITE)?;
    crate::report::index::write(results)?;
    println!(
        "fencepost suite {} (merged from {} shards): {}",
        report.name,
        report.merged_from.len(),
        report.verdict_line()
    );
    print_paths(&dir);
    Ok(report.exit_code())
}

/// Where a suite's reports are, on one line.
fn print_paths(dir: &Path) {
    println!(
        "{}  {}  {}",
        dir.join(suite_report::REPORT_MD).display(),
        dir.join(suite_report::JUNIT_XML).display(),
        dir.join(suite_report::SUITE_JSON).display()
    );
}

/// A fresh `results/<prefix>-<stamp>` folder.
pub fn create_dir(results: &Path, prefix: &str, stamp: &str) -> anyhow::Result<PathBuf> {
    for n in 0.. {
        let suffix = if n == 0 {
            String::new()
        } else {
            format!("-{n}")
        };
        let dir = results.join(format!("{prefix}-{stamp}{suffix}"));
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

/// Points `results/<name>` at `dir` (atomically replaced): `latest-suite`, `latest-matrix`.
pub fn link_latest(results: &Path, dir: &Path, name: &str) -> std::io::Result<()> {
    let target = dir.strip_prefix(results).unwrap_or(dir);
    let tmp = results.join(format!(".{name}-{}", std::process::id()));
    let _ = std::fs::remove_file(&tmp);
    std::os::unix::fs::symlink(target, &tmp)?;
    std::fs::rename(&tmp, results.join(name))
}

/// Every report of a suite: report.md, suite.json, index.html and junit.xml.
fn write_reports(report: &SuiteReport, dir: &Path) -> Result<(), ReportError> {
    suite_report::write_reports(report, dir)?;
    crate::report::write_file(&dir.join(suite_report::JUNIT_XML), junit::render(report))
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
