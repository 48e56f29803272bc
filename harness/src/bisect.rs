//! `fencepost bisect LIB --fault F`: the first version of a lock library where a finding appears
//! or goes away.
//!
//! Findings are races: a version counts as showing a finding when any of its seeds does, and
//! the report says how many did. The versions searched are the published ones the adapter
//! drives, between `--from` and `--to` (the oldest and newest driven by default). Both ends run
//! first; the finding searched for is one (a check, and for blame the kind of wrong answer) that
//! one end shows and the other does not — or the one named by `--finding`. With one change in
//! between, halving finds it in log₂(n) probes; a finding that comes and goes between the ends
//! is beyond what bisection can say, and the report says which ends were probed. When both ends
//! agree, the answer is that the finding is present (or absent) at both: nothing is searched.

use crate::clients::process::adapter;
use crate::interrupt::Interrupt;
use crate::suite::case::Case;
use crate::suite::child::LibraryCases;
use crate::suite::{schedule, Seeds};
use anyhow::Context;
use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::path::PathBuf;
use std::time::Instant;

#[derive(Debug, Clone)]
pub struct BisectOptions {
    pub library: String,
    /// A file of `scenarios/libraries/` (a matrix column).
    pub fault: String,
    pub seeds: Seeds,
    pub from: Option<String>,
    pub to: Option<String>,
    /// `CHECK` or `blame:KIND` (e.g. `blame:grant-after-lease`); default: one the ends differ in.
    pub finding: Option<String>,
    pub jobs: usize,
    pub duration: Option<crate::duration::Dur>,
    pub scenarios_dir: PathBuf,
    pub results_dir: PathBuf,
    pub adapters_dir: PathBuf,
    pub fencepost: PathBuf,
    /// The server the nodes run (`--server`), passed to every run.
    pub server: Option<crate::servers::ServerAsk>,
}

/// One probed version: its cases, and how many showed each finding.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Probe {
    pub version: String,
    pub cases: Vec<Case>,
    /// Finding → seeds that showed it.
    pub shown: BTreeMap<String, Vec<u64>>,
}

impl Probe {
    fn new(version: &str, cases: Vec<Case>) -> Probe {
        let mut shown: BTreeMap<String, Vec<u64>> = BTreeMap::new();
        for c in &cases {
            for f in c.finding_names() {
                shown.entry(f).or_default().push(c.seed);
            }
        }
        Probe {
            version: version.to_string(),
            cases,
            shown,
        }
    }

    pub fn shows(&self, finding: &str) -> bool {
        self.shown.contains_key(finding)
    }

    /// Runs that could not run or be judged: the probe says nothing then.
    fn errors(&self) -> Vec<&Case> {
        self.cases.iter().filter(|c| c.error.is_some()).collect()
    }
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct BisectReport {
    pub library: String,
    pub fault: String,
    pub seeds: Vec<u64>,
    /// The versions searched, oldest first.
    pub versions: Vec<String>,
    pub finding: Option<String>,
    /// In the order probed.
    pub probes: Vec<Probe>,
    /// The last version on the `from` side, and the first on the `to` side.
    pub boundary: Option<(String, String)>,
    /// Why there is no boundary, when there is none.
    pub verdict: String,
    pub wall_ms: u64,
    pub runs: usize,
}

/// Splits `[from, to]` out of the driven published versions (oldest first).
pub fn range(
    driven: &[String],
    from: Option<&str>,
    to: Option<&str>,
) -> Result<Vec<String>, String> {
    let index = |v: &str| {
        driven.iter().position(|d| d == v).ok_or_else(|| {
            format!(
                "{v} is not a published version the adapter drives; `fencepost versions LIB` lists them"
            )
        })
    };
    let lo = from.map(index).transpose()?.unwrap_or(0);
    let hi = to
        .map(index)
        .transpose()?
        .unwrap_or(driven.len().saturating_sub(1));
    if driven.is_empty() || lo >= hi {
        return Err(format!(
            "nothing to bisect: --from must be an older driven version than --to ({} driven)",
            driven.len()
        ));
    }
    Ok(driven[lo..=hi].to_vec())
}

/// The finding to search for: the one asked for, or one the ends differ in.
pub fn pick(first: &Probe, last: &Probe, asked: Option<&str>) -> Option<String> {
    if let Some(a) = asked {
        return Some(a.to_string());
    }
    let a: BTreeSet<&String> = first.shown.keys().collect();
    let b: BTreeSet<&String> = last.shown.keys().collect();
    a.symmetric_difference(&b).next().map(|s| s.to_string())
}

struct Runner<'a> {
    opts: &'a BisectOptions,
    cases: LibraryCases,
    dir: PathBuf,
    interrupt: Interrupt,
    runs: usize,
}

impl Runner<'_> {
    async fn probe(&mut self, version: &str) -> anyhow::Result<Probe> {
        let o = self.opts;
        let spec = format!("{}@{version}", o.library);
        eprintln!(
            "fencepost bisect: probing {spec} over {} seed(s)",
            o.seeds.0.len()
        );
        adapter::find(&o.library, Some(version.to_string()), &o.adapters_dir)?
            .install(&adapter::cache_dir())?;
        let jobs = o
            .seeds
            .0
            .iter()
            .enumerate()
            .map(|(index, &seed)| {
                let tag = format!("{}-{version}-{}-seed{seed}", o.library, o.fault);
                schedule::Job {
                    suffix: None,
                    index,
                    label: spec.clone(),
                    seed,
                    not_on_server: None,
                    cmd: self.cases.case(&o.fault, &spec, seed, &self.dir, &tag),
                }
            })
            .collect();
        let (cases, interrupted) =
            schedule::run_jobs(jobs, o.jobs, &o.results_dir, &mut self.interrupt, "bisect").await?;
        if interrupted {
            anyhow::bail!("interrupted while probing {spec}");
        }
        self.runs += cases.len();
        let p = Probe::new(version, cases);
        if let Some(e) = p.errors().first() {
            anyhow::bail!(
                "{spec} seed {} could not run, so the probe says nothing: {}",
                e.seed,
                e.error.as_deref().unwrap_or_default()
            );
        }
        Ok(p)
    }
}

/// Runs the bisection.
pub async fn bisect(opts: &BisectOptions) -> anyhow::Result<BisectReport> {
    let started = Instant::now();
    let scenario = crate::scenario::resolve(&opts.fault, &opts.scenarios_dir)
        .with_context(|| format!("bisect fault `{}`", opts.fault))?;
    crate::scenario::Scenario::load(&scenario)?;
    let a = adapter::find(&opts.library, None, &opts.adapters_dir)?;
    let driven: Vec<String> = a.published()?.into_iter().filter(|v| a.drives(v)).collect();
    let versions = range(&driven, opts.from.as_deref(), opts.to.as_deref())
        .map_err(|e| anyhow::anyhow!("{}: {e}", opts.library))?;
    let dir = opts
        .results_dir
        .join("bisect")
        .join(format!("{}-{}", opts.library, opts.fault));
    std::fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let mut runner = Runner {
        opts,
        cases: LibraryCases {
            fencepost: opts.fencepost.clone(),
            scenarios_dir: opts.scenarios_dir.clone(),
            results_dir: opts.results_dir.clone(),
            adapters_dir: opts.adapters_dir.clone(),
            duration: opts.duration,
            server: opts.server.clone(),
        },
        dir,
        interrupt: Interrupt::install().context("cannot install the SIGINT/SIGTERM handlers")?,
        runs: 0,
    };
    let first = runner.probe(&versions[0]).await?;
    let last = runner.probe(versions.last().expect("two versions")).await?;
    let finding = pick(&first, &last, opts.finding.as_deref());
    let mut report = BisectReport {
        library: opts.library.clone(),
        fault: opts.fault.clone(),
        seeds: opts.seeds.0.clone(),
        versions: versions.clone(),
        finding: finding.clone(),
        probes: Vec::new(),
        boundary: None,
        verdict: String::new(),
        wall_ms: 0,
        runs: 0,
    };
    let Some(f) = finding else {
        report.verdict = if first.shown.is_empty() {
            format!(
                "no finding at either end ({} and {}): nothing to search",
                first.version, last.version
            )
        } else {
            format!(
                "present in every version probed: both ends ({} and {}) show {}",
                first.version,
                last.version,
                first.shown.keys().cloned().collect::<Vec<_>>().join(", ")
            )
        };
        report.probes = vec![first, last];
        report.runs = runner.runs;
        report.wall_ms = started.elapsed().as_millis() as u64;
        return Ok(report);
    };
    let (mut lo, mut hi) = (0, versions.len() - 1);
    let lo_shows = first.shows(&f);
    if lo_shows == last.shows(&f) {
        report.verdict = format!(
            "{f} is {} at both ends ({} and {}): nothing to search",
            if lo_shows { "present" } else { "absent" },
            first.version,
            last.version
        );
        report.probes = vec![first, last];
    } else {
        report.probes = vec![first, last];
        while hi - lo > 1 {
            let mid = (lo + hi) / 2;
            let p = runner.probe(&versions[mid]).await?;
            if p.shows(&f) == lo_shows {
                lo = mid;
            } else {
                hi = mid;
            }
            report.probes.push(p);
        }
        report.boundary = Some((versions[lo].clone(), versions[hi].clone()));
        report.verdict = format!(
            "{f} {} between {} and {}: {} is the first version {}",
            if lo_shows { "goes away" } else { "appears" },
            versions[lo],
            versions[hi],
            versions[hi],
            if lo_shows {
                "without it"
            } else {
                "that shows it"
            }
        );
    }
    report.runs = runner.runs;
    report.wall_ms = started.elapsed().as_millis() as u64;
    Ok(report)
}

/// The report in words: the verdict, each probe with its seeds and runs, and how to replay them.
pub fn markdown(r: &BisectReport, scenarios_dir: &std::path::Path) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "# bisect: {} × {}\n\n**{}**\n\n{} version(s) between the ends ({} … {}), seeds {:?}; {} run(s), {:.0} s.\n",
        r.library,
        r.fault,
        r.verdict,
        r.versions.len(),
        r.versions.first().map(String::as_str).unwrap_or("?"),
        r.versions.last().map(String::as_str).unwrap_or("?"),
        r.seeds,
        r.runs,
        r.wall_ms as f64 / 1e3
    );
    let _ = writeln!(s, "| probe | version | shows | runs |\n|---|---|---|---|");
    for (i, p) in r.probes.iter().enumerate() {
        let shows = match &r.finding {
            Some(f) => match p.shown.get(f) {
                Some(seeds) => format!(
                    "{f} in {} of {} seed(s) {seeds:?}",
                    seeds.len(),
                    p.cases.len()
                ),
                None => format!("no {f} in {} seed(s)", p.cases.len()),
            },
            None if p.shown.is_empty() => "no finding".into(),
            None => p
                .shown
                .iter()
                .map(|(f, seeds)| format!("{f} ({}/{})", seeds.len(), p.cases.len()))
                .collect::<Vec<_>>()
                .join(", "),
        };
        let runs = p
            .cases
            .iter()
            .filter_map(|c| c.run_dir.clone())
            .collect::<Vec<_>>()
            .join("<br>");
        let _ = writeln!(s, "| {} | {} | {shows} | {runs} |", i + 1, p.version);
    }
    let _ = writeln!(s, "\nReplay any run:\n");
    for p in &r.probes {
        for c in &p.cases {
            let _ = writeln!(
                s,
                "    fencepost scenario {} --client {}@{} --seed {}",
                scenarios_dir.join(format!("{}.toml", r.fault)).display(),
                r.library,
                p.version,
                c.seed
            );
        }
    }
    s
}

/// `fencepost bisect`: prints the report and writes bisect.md and bisect.json beside the runs'
/// logs. Exit 0 with an answer (a boundary, or the same at both ends), 3 without one.
pub async fn bisect_command(opts: &BisectOptions) -> anyhow::Result<i32> {
    let r = bisect(opts).await?;
    let text = markdown(&r, &opts.scenarios_dir);
    print!("{text}");
    let dir = opts
        .results_dir
        .join("bisect")
        .join(format!("{}-{}", opts.library, opts.fault));
    std::fs::write(dir.join("bisect.md"), &text)
        .with_context(|| format!("cannot write {}", dir.join("bisect.md").display()))?;
    std::fs::write(dir.join("bisect.json"), serde_json::to_vec_pretty(&r)?)
        .with_context(|| format!("cannot write {}", dir.join("bisect.json").display()))?;
    println!("\n{}", dir.join("bisect.md").display());
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn case(seed: u64, violations: &[(&str, u64)], kinds: &[&str]) -> Case {
        let mut c = Case::error("f", seed, 0, "");
        c.error = None;
        c.violations = violations
            .iter()
            .map(|(k, n)| (k.to_string(), *n))
            .collect();
        c.library_findings = kinds.iter().map(|k| (k.to_string(), 1)).collect();
        c
    }

    #[test]
    fn a_finding_is_a_check_or_a_kind_of_wrong_answer_shown_by_any_seed() {
        let p = Probe::new(
            "1.0.0",
            vec![
                case(1, &[("mutual_exclusion", 0)], &[]),
                case(
                    2,
                    &[("mutual_exclusion", 3), ("blame", 1)],
                    &["grant-after-lease"],
                ),
            ],
        );
        assert!(p.shows("mutual_exclusion"));
        assert!(p.shows("blame:grant-after-lease"));
        assert!(!p.shows("blame"));
        assert_eq!(p.shown["mutual_exclusion"], vec![2]);
    }

    #[test]
    fn the_finding_searched_is_one_the_ends_differ_in() {
        let a = Probe::new("1", vec![case(1, &[("mutual_exclusion", 1)], &[])]);
        let b = Probe::new(
            "2",
            vec![case(
                1,
                &[("mutual_exclusion", 1), ("blame", 1)],
                &["re-take"],
            )],
        );
        assert_eq!(pick(&a, &b, None).as_deref(), Some("blame:re-take"));
        assert_eq!(pick(&a, &a, None), None);
        assert_eq!(pick(&a, &a, Some("x")).as_deref(), Some("x"));
    }

    #[test]
    fn the_range_is_between_driven_versions() {
        let d: Vec<String> = ["1.0", "1.1", "1.2"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        assert_eq!(range(&d, None, None).unwrap().len(), 3);
        assert_eq!(range(&d, Some("1.1"), None).unwrap(), vec!["1.1", "1.2"]);
        assert!(range(&d, Some("1.2"), Some("1.0")).is_err());
        assert!(range(&d, Some("9.9"), None)
            .unwrap_err()
            .contains("versions LIB"));
    }
}
