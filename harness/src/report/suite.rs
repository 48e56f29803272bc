//! The suite: every scenario over a matrix of seeds, and the safety report that says whether each
//! one showed what it promises.
//!
//! `fencepost suite nightly` globs `scenarios/*.toml` (other scenarios appear as they are added),
//! runs each one once per seed as a child `fencepost scenario` process ([`super::suite_case`]),
//! `--jobs` at a time (default 2: a run mostly waits on leases, pauses and faults, and a child
//! process of its own keeps one run's post-run CPU from delaying another's clients), so every
//! run gets its usual folder, charts and page, and each child's output is kept in `logs/`. It
//! then writes `results/suite-<stamp>/` with `report.md` (a table: scenario, lock, faults,
//! ops, violations by kind, expected, met, time to first violation, links to charts),
//! `junit.xml` (one testcase per scenario × seed), `suite.json` and `index.html`, and points
//! `results/latest-suite` at it. Exit code 0 only when every expectation held; 1 when
//! some did not; 2 when a run could not be run at all; 130 when interrupted.

use super::html::{esc, CSS};
use super::suite_case::{CaseCommand, CaseEnd};
use super::{html, junit, timeline, write_file, ReportError};
use crate::cluster::spawner;
use crate::duration::Dur;
use crate::interrupt::Interrupt;
use crate::run_result::RunResult;
use crate::scenario::Scenario;
use crate::store;
use anyhow::Context;
use checkers::Validity;
use indicatif::{ProgressBar, ProgressStyle};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt::Write;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::{Duration, Instant};

pub const REPORT_MD: &str = "report.md";
pub const JUNIT_XML: &str = "junit.xml";
pub const SUITE_JSON: &str = "suite.json";
/// The link to the newest suite folder, next to `results/latest`.
pub const LATEST_SUITE: &str = "latest-suite";

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

/// Violations of one run, by kind.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Violations {
    pub overlaps: usize,
    pub foreign_releases: usize,
    pub late_accesses: usize,
    pub stale_accepted: Option<usize>,
    pub prevented: Option<usize>,
    pub lost_updates: Option<u64>,
    /// Counter workloads: increments proved lost, and proved applied twice.
    #[serde(default)]
    pub counter_lost: Option<u64>,
    #[serde(default)]
    pub counter_duplicated: Option<u64>,
    /// Rate limiters: intervals proving over-admission.
    #[serde(default)]
    pub over_admissions: Option<u64>,
}

/// One scenario × seed.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Case {
    pub scenario: String,
    pub seed: u64,
    pub lock: String,
    pub fenced: bool,
    pub faults: Vec<String>,
    pub ops: u64,
    pub violations: Violations,
    pub validity: Option<Validity>,
    /// What the scenario expects, one line per property.
    pub expected: Vec<String>,
    /// Expectations that did not hold, with what was found.
    pub unmet: Vec<String>,
    pub met: bool,
    pub first_violation_ms: Option<f64>,
    /// The run folder, relative to the results folder.
    pub run_dir: Option<String>,
    /// Charts of the run, relative to the results folder.
    pub charts: Vec<String>,
    pub wall_ms: u64,
    /// The run could not be run or judged.
    pub error: Option<String>,
    /// The run's summary (Markdown).
    pub summary: String,
}

/// A whole suite (`suite.json`).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct SuiteReport {
    pub name: String,
    /// `20261125T101500Z`; the folder is `suite-<stamp>`.
    pub stamp: String,
    pub started_unix_s: u64,
    pub seeds: Vec<u64>,
    pub scenarios: Vec<String>,
    pub duration_override: Option<String>,
    /// Cases run at once.
    #[serde(default = "one_job")]
    pub jobs: usize,
    pub wall_ms: u64,
    pub all_met: bool,
    /// Cases whose expectations did not all hold (errors included).
    pub unmet: usize,
    pub errors: usize,
    pub interrupted: bool,
    pub cases: Vec<Case>,
}

fn one_job() -> usize {
    1
}

impl SuiteReport {
    pub fn exit_code(&self) -> i32 {
        if self.interrupted {
            130
        } else if self.errors > 0 {
            2
        } else if self.all_met {
            0
        } else {
            1
        }
    }
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
    let mut so_far = Violations::default();
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
                    let case = error_case(&name, seed, 0, &format!("cannot start the run: {e}"));
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
                        case_of(&result, seed, wall_ms, &opts.results_dir)
                    }
                    CaseEnd::Failed(error) => error_case(&name, seed, wall_ms, &error),
                };
                add(&mut so_far, &case.violations);
                let line = format!(
                    "{} {} seed {} in {:.1} s · {}",
                    if case.error.is_some() {
                        "ERROR"
                    } else if case.met {
                        "met    "
                    } else {
                        "NOT MET"
                    },
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

    let unmet = cases.iter().filter(|c| !c.met).count();
    let errors = cases.iter().filter(|c| c.error.is_some()).count();
    let report = SuiteReport {
        name: opts.name.clone(),
        stamp,
        started_unix_s,
        seeds: seeds.clone(),
        scenarios: files.iter().map(|f| stem(f)).collect(),
        duration_override: opts.duration.map(|d| d.to_string()),
        jobs: opts.jobs.max(1),
        wall_ms: started.elapsed().as_millis() as u64,
        all_met: !interrupted && unmet == 0 && !cases.is_empty(),
        unmet,
        errors,
        interrupted,
        cases,
    };
    write_reports(&report, &dir)?;
    link_latest_suite(&opts.results_dir, &dir)?;
    super::index::write(&opts.results_dir)?;
    Ok((report, dir))
}

/// `fencepost suite NAME`: runs it, prints the verdict and where the reports are; returns the
/// suite's exit code.
pub async fn suite_command(opts: &SuiteOptions) -> anyhow::Result<i32> {
    let (report, dir) = run(opts).await?;
    println!("fencepost suite {}: {}", report.name, verdict_line(&report));
    println!(
        "{}  {}  {}",
        dir.join(REPORT_MD).display(),
        dir.join(JUNIT_XML).display(),
        dir.join(SUITE_JSON).display()
    );
    Ok(report.exit_code())
}

/// Writes report.md, junit.xml, suite.json and index.html into the suite folder.
pub fn write_reports(report: &SuiteReport, dir: &Path) -> Result<(), ReportError> {
    write_file(&dir.join(REPORT_MD), markdown(report))?;
    write_file(&dir.join(JUNIT_XML), junit::render(report))?;
    let json = serde_json::to_string_pretty(report).map_err(|e| ReportError::Json {
        path: dir.join(SUITE_JSON),
        message: e.to_string(),
    })?;
    write_file(&dir.join(SUITE_JSON), json + "\n")?;
    write_file(&dir.join(html::PAGE), page(report))?;
    Ok(())
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

/// Points `results/latest-suite` at the suite folder (atomically replaced).
fn link_latest_suite(results: &Path, dir: &Path) -> std::io::Result<()> {
    let target = dir.strip_prefix(results).unwrap_or(dir);
    let tmp = results.join(format!(".{LATEST_SUITE}-{}", std::process::id()));
    let _ = std::fs::remove_file(&tmp);
    std::os::unix::fs::symlink(target, &tmp)?;
    std::fs::rename(&tmp, results.join(LATEST_SUITE))
}

fn violations_of(r: &RunResult) -> Violations {
    let c = &r.checks;
    Violations {
        overlaps: c.exclusion.overlaps.len(),
        foreign_releases: c.exclusion.foreign_releases.len(),
        late_accesses: c.exclusion.late_accesses.len(),
        stale_accepted: c.fencing.as_ref().map(|f| f.stale_accepted.len()),
        prevented: c.fencing.as_ref().map(|f| f.prevented.len()),
        lost_updates: c.lost_updates.as_ref().and_then(|l| l.lost),
        counter_lost: c.counter.as_ref().map(|k| k.lost),
        counter_duplicated: c.counter.as_ref().map(|k| k.duplicated),
        over_admissions: c.window.as_ref().map(|w| w.over_admissions_total),
    }
}

fn case_of(r: &RunResult, seed: u64, wall_ms: u64, results: &Path) -> Case {
    let run_dir = Path::new(&r.run_dir);
    let rel = run_dir
        .strip_prefix(results)
        .unwrap_or(run_dir)
        .display()
        .to_string();
    let charts = [timeline::FULL, timeline::ZOOM]
        .iter()
        .map(|s| format!("{s}.png"))
        .filter(|f| run_dir.join(f).exists())
        .map(|f| format!("{rel}/{f}"))
        .collect();
    Case {
        scenario: r.meta.scenario.clone(),
        seed,
        lock: r.lock.clone(),
        fenced: r.fenced,
        faults: r.faults.clone(),
        ops: r.checks.counts.invocations,
        violations: violations_of(r),
        validity: Some(r.checks.validity),
        expected: r.expectations.iter().map(expected_of).collect(),
        unmet: r
            .expectations
            .iter()
            .filter(|j| !j.met)
            .map(|j| format!("{}: expected {}, got {}", j.what, j.expected, j.actual))
            .chain(r.interrupted.then(|| "the run was interrupted".to_string()))
            .collect(),
        met: r.met && !r.interrupted,
        first_violation_ms: r.checks.first_violation_ns.map(|t| t as f64 / 1e6),
        run_dir: Some(rel),
        charts,
        wall_ms,
        error: None,
        summary: r.summary(),
    }
}

/// "mutual exclusion violated", "lost updates holds", "stale accesses prevented by fencing ≥ 1".
fn expected_of(j: &crate::expect::Judgement) -> String {
    let word = j.expected.split_whitespace().next().unwrap_or_default();
    match word {
        "holds" | "violated" => format!("{} {word}", j.what),
        _ => format!("{} {}", j.what, j.expected),
    }
}

fn error_case(scenario: &str, seed: u64, wall_ms: u64, error: &str) -> Case {
    Case {
        scenario: scenario.to_string(),
        seed,
        lock: String::new(),
        fenced: false,
        faults: Vec::new(),
        ops: 0,
        violations: Violations::default(),
        validity: None,
        expected: Vec::new(),
        unmet: vec![format!("the run failed: {error}")],
        met: false,
        first_violation_ms: None,
        run_dir: None,
        charts: Vec::new(),
        wall_ms,
        error: Some(error.to_string()),
        summary: String::new(),
    }
}

fn add(total: &mut Violations, v: &Violations) {
    let sum_opt = |a: Option<usize>, b: Option<usize>| match (a, b) {
        (None, None) => None,
        (a, b) => Some(a.unwrap_or(0) + b.unwrap_or(0)),
    };
    total.overlaps += v.overlaps;
    total.foreign_releases += v.foreign_releases;
    total.late_accesses += v.late_accesses;
    total.stale_accepted = sum_opt(total.stale_accepted, v.stale_accepted);
    total.prevented = sum_opt(total.prevented, v.prevented);
    let sum_u64 = |a: Option<u64>, b: Option<u64>| match (a, b) {
        (None, None) => None,
        (a, b) => Some(a.unwrap_or(0) + b.unwrap_or(0)),
    };
    total.lost_updates = sum_u64(total.lost_updates, v.lost_updates);
    total.counter_lost = sum_u64(total.counter_lost, v.counter_lost);
    total.counter_duplicated = sum_u64(total.counter_duplicated, v.counter_duplicated);
    total.over_admissions = sum_u64(total.over_admissions, v.over_admissions);
}

fn tally(v: &Violations) -> String {
    let mut s = format!(
        "{} overlaps · {} foreign releases · {} stale accepted · {} lost updates",
        v.overlaps,
        v.foreign_releases,
        v.stale_accepted.unwrap_or(0),
        v.lost_updates.unwrap_or(0)
    );
    if v.counter_lost.is_some() || v.counter_duplicated.is_some() {
        s.push_str(&format!(
            " · counter {} lost / {} duplicated",
            v.counter_lost.unwrap_or(0),
            v.counter_duplicated.unwrap_or(0)
        ));
    }
    if let Some(o) = v.over_admissions {
        s.push_str(&format!(" · {o} over-admissions"));
    }
    s
}

/// The counter and limiter columns: `lost / duplicated`, and over-admissions.
fn counter_cell(v: &Violations) -> String {
    match (v.counter_lost, v.counter_duplicated) {
        (None, None) => "—".into(),
        (l, d) => format!("{} / {}", l.unwrap_or(0), d.unwrap_or(0)),
    }
}

fn opt<T: ToString>(v: Option<T>) -> String {
    v.map_or("—".into(), |v| v.to_string())
}

fn faults_of(c: &Case) -> String {
    if c.error.is_some() {
        "?".into()
    } else if c.faults.is_empty() {
        "none".into()
    } else {
        c.faults.join(", ")
    }
}

fn lock_of(c: &Case) -> String {
    if c.error.is_some() {
        "?".into()
    } else {
        format!("{}{}", c.lock, if c.fenced { ", fenced" } else { "" })
    }
}

fn verdict_line(r: &SuiteReport) -> String {
    if r.interrupted {
        format!(
            "INTERRUPTED after {} of the runs; the report covers those",
            r.cases.len()
        )
    } else if r.all_met {
        format!("all {} runs met their expectations", r.cases.len())
    } else {
        format!(
            "{} of {} runs did NOT meet their expectations{}",
            r.unmet,
            r.cases.len(),
            if r.errors > 0 {
                format!(" ({} could not run)", r.errors)
            } else {
                String::new()
            }
        )
    }
}

/// The safety report in Markdown (also the CI job summary). Links are relative to the suite
/// folder, so they work inside the uploaded results folder.
pub fn markdown(r: &SuiteReport) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "# fencepost suite `{}`: {}\n", r.name, verdict_line(r));
    let seeds: Vec<String> = r.seeds.iter().map(u64::to_string).collect();
    let _ = writeln!(
        s,
        "Started {} (UTC) · {} scenario(s) × seeds {} · {} run(s), {} at a time, in {:.0} s · exit code {}{}\n",
        store::utc_stamp(r.started_unix_s),
        r.scenarios.len(),
        seeds.join(", "),
        r.cases.len(),
        r.jobs,
        r.wall_ms as f64 / 1000.0,
        r.exit_code(),
        r.duration_override
            .as_ref()
            .map_or(String::new(), |d| format!(" · every run {d}"))
    );
    let _ = writeln!(s, "| scenario | seed | lock | faults | ops | overlaps | foreign releases | late accesses | stale accepted | rejected by fencing | lost updates | counter lost / dup. | over-admissions | expected | met | first violation | charts |");
    let _ = writeln!(
        s,
        "|---|---:|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|:---:|---:|---|"
    );
    for c in &r.cases {
        let v = &c.violations;
        let charts = match &c.run_dir {
            Some(d) => {
                let mut links = vec![format!("[page](../{d}/index.html)")];
                for ch in &c.charts {
                    let label = if ch.ends_with("-zoom.png") {
                        "zoom"
                    } else {
                        "timeline"
                    };
                    links.push(format!("[{label}](../{ch})"));
                }
                links.join(" · ")
            }
            None => "—".into(),
        };
        let _ = writeln!(
            s,
            "| {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |",
            c.scenario,
            c.seed,
            lock_of(c),
            faults_of(c),
            c.ops,
            v.overlaps,
            v.foreign_releases,
            v.late_accesses,
            opt(v.stale_accepted),
            opt(v.prevented),
            opt(v.lost_updates),
            counter_cell(v),
            opt(v.over_admissions),
            if c.expected.is_empty() {
                "(none)".to_string()
            } else {
                c.expected.join("<br>")
            },
            if c.met { "✔" } else { "✘" },
            c.first_violation_ms
                .map_or("—".into(), |ms| format!("{:.3} s", ms / 1000.0)),
            charts
        );
    }
    let failing: Vec<&Case> = r.cases.iter().filter(|c| !c.met).collect();
    if !failing.is_empty() {
        let _ = writeln!(s, "\n## Not met\n");
        for c in failing {
            let _ = writeln!(s, "- **{} seed {}**", c.scenario, c.seed);
            for u in &c.unmet {
                let _ = writeln!(s, "  - {u}");
            }
            if let Some(d) = &c.run_dir {
                let _ = writeln!(s, "  - run folder: `{d}`");
            }
        }
    }
    let _ = writeln!(
        s,
        "\nRe-run one case: `cargo run --release -- scenario NAME --seed N`; the whole suite: `cargo run --release -- suite {} --seeds {}`.",
        r.name,
        seeds_arg(&r.seeds)
    );
    s
}

fn seeds_arg(seeds: &[u64]) -> String {
    let contiguous = seeds.windows(2).all(|w| w[1] == w[0] + 1);
    match (seeds.first(), seeds.last()) {
        (Some(a), Some(b)) if contiguous && a != b => format!("{a}..{b}"),
        _ => seeds
            .iter()
            .map(u64::to_string)
            .collect::<Vec<_>>()
            .join(","),
    }
}

/// The suite's own page: the same table, linking each run's page.
fn page(r: &SuiteReport) -> String {
    let mut h = String::new();
    let _ = writeln!(
        h,
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>fencepost suite {n}</title><style>{CSS}</style></head><body>\
         <p class=\"muted\"><a href=\"../index.html\">all runs</a></p><h1>suite {n} {}</h1><p>{}</p>",
        if r.all_met {
            "<span class=\"badge met\">all met</span>"
        } else {
            "<span class=\"badge unmet\">NOT MET</span>"
        },
        esc(&verdict_line(r)),
        n = esc(&r.name)
    );
    let _ = writeln!(h, "<table><tr><th>scenario</th><th>seed</th><th>lock</th><th>faults</th><th>ops</th><th>overlaps</th><th>foreign releases</th><th>stale accepted</th><th>rejected by fencing</th><th>lost updates</th><th>counter lost / dup.</th><th>over-admissions</th><th>expected</th><th>met</th><th>first violation</th><th>run</th></tr>");
    for c in &r.cases {
        let v = &c.violations;
        let _ = writeln!(
            h,
            "<tr><td>{}</td><td class=\"num\">{}</td><td>{}</td><td>{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td>{}</td><td>{}</td><td class=\"num\">{}</td><td>{}</td></tr>",
            esc(&c.scenario),
            c.seed,
            esc(&lock_of(c)),
            esc(&faults_of(c)),
            c.ops,
            v.overlaps,
            v.foreign_releases,
            opt(v.stale_accepted),
            opt(v.prevented),
            opt(v.lost_updates),
            counter_cell(v),
            opt(v.over_admissions),
            c.expected.iter().map(|e| esc(e)).collect::<Vec<_>>().join("<br>"),
            if c.met {
                "<span class=\"badge met\">✔</span>".to_string()
            } else {
                format!("<span class=\"badge unmet\">✘</span> {}", esc(&c.unmet.join("; ")))
            },
            c.first_violation_ms
                .map_or("—".into(), |ms| format!("{:.3} s", ms / 1000.0)),
            c.run_dir.as_ref().map_or("—".into(), |d| format!("<a href=\"../{}/index.html\">page</a>", esc(d)))
        );
    }
    let _ = writeln!(h, "</table><p><a href=\"{REPORT_MD}\">report.md</a> · <a href=\"{JUNIT_XML}\">junit.xml</a> · <a href=\"{SUITE_JSON}\">suite.json</a></p></body></html>");
    h
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
        assert_eq!(seeds_arg(&[1, 2, 3]), "1..3");
        assert_eq!(seeds_arg(&[1, 4]), "1,4");
    }
}
