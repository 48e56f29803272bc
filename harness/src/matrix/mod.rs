//! The library matrix: every lock library × every fault × seeds, one table.
//!
//! `fencepost matrix` runs `scenarios/libraries/<fault>.toml` with `--client <library>` for each
//! library and seed, each a child `fencepost scenario` process, `--jobs` at a time, longest
//! first ([`crate::suite::schedule`]), and writes `results/matrix-<stamp>/`: `matrix.md`,
//! `matrix.json`, `index.html` (a colour grid, each cell linking its runs' pages) and
//! `matrix.png` ([`report`]). A cell says which kind of outcome its runs showed:
//! `holds` (no violation, enough evidence), `physics` (clients acted on leases that had ended —
//! Kleppmann's point, no fault of the library — but the library gave no answer a correct lock
//! may not), `library` (an answer no correct lock may give, judged against the nodes' own
//! record) or `unknown` (too little evidence, or a run that could not run).

pub mod report;

use crate::duration::Dur;
use crate::interrupt::Interrupt;
use crate::judge::Outcome;
use crate::scenario::Scenario;
use crate::store;
use crate::suite::child::LibraryCases;
use crate::suite::report::Case;
use crate::suite::{create_dir, link_latest, schedule, Seeds};
use anyhow::Context;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// The faults of the matrix, in column order: the scenario files of `scenarios/libraries/`, as
/// the suite finds scenarios — the fault-free `baseline` (the control) first, the rest by name.
pub fn faults(scenarios_dir: &Path) -> Vec<String> {
    let mut names = crate::scenario::scenario_names(scenarios_dir);
    names.retain(|n| !n.contains('/'));
    names.sort_by_key(|n| (n != "baseline", n.clone()));
    names
}

/// The libraries of the matrix, in row order: the adapters of `adapters/` whose manifest does
/// not leave the matrix (fencepost's own locks and the example do), by runtime then name.
pub fn libraries(adapters_dir: &Path) -> Vec<String> {
    use crate::clients::process::adapter;
    let mut rows: Vec<(String, String)> = adapter::known(adapters_dir)
        .into_iter()
        .filter_map(|name| {
            let a = adapter::find(&name, None, adapters_dir).ok()?;
            a.manifest
                .matrix
                .then(|| (format!("{:?}", a.manifest.runtime), name))
        })
        .collect();
    rows.sort();
    rows.into_iter().map(|(_, name)| name).collect()
}

pub const LATEST: &str = "latest-matrix";

#[derive(Clone, Debug)]
pub struct MatrixOptions {
    pub libraries: Vec<String>,
    pub faults: Vec<String>,
    pub seeds: Seeds,
    pub jobs: usize,
    pub duration: Option<Dur>,
    /// `scenarios/libraries`.
    pub scenarios_dir: PathBuf,
    pub results_dir: PathBuf,
    pub adapters_dir: PathBuf,
    pub fencepost: PathBuf,
    /// The server the nodes run (`--server`), passed to every run.
    pub server: Option<crate::servers::ServerAsk>,
    /// `--servers a,b,…`: each library's row once per server (`redis-py on valkey@8.0`).
    pub servers: Vec<crate::servers::ServerAsk>,
}

impl MatrixOptions {
    /// The rows: (label, library spec, the server it runs on if an axis).
    fn rows(&self) -> Vec<(String, String, Option<crate::servers::ServerAsk>)> {
        let axis: Vec<Option<&crate::servers::ServerAsk>> = if self.servers.is_empty() {
            vec![None]
        } else {
            self.servers.iter().map(Some).collect()
        };
        self.libraries
            .iter()
            .flat_map(|l| {
                axis.iter()
                    .map(move |on| (crate::suite::on_server(l, *on), l.clone(), on.cloned()))
            })
            .collect()
    }
}

impl MatrixOptions {
    fn cases(&self) -> LibraryCases {
        LibraryCases {
            fencepost: self.fencepost.clone(),
            scenarios_dir: self.scenarios_dir.clone(),
            results_dir: self.results_dir.clone(),
            adapters_dir: self.adapters_dir.clone(),
            duration: self.duration,
            server: self.server.clone(),
        }
    }
}

/// What a cell's runs showed, worst first.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    Holds,
    Physics,
    Unknown,
    Library,
}

impl Kind {
    pub fn word(self) -> &'static str {
        match self {
            Kind::Holds => "holds",
            Kind::Physics => "physics",
            Kind::Unknown => "unknown",
            Kind::Library => "library",
        }
    }

    /// What one run showed.
    pub fn of(c: &Case) -> Kind {
        if c.error.is_some() {
            return Kind::Unknown;
        }
        if c.violations.get("blame").is_some_and(|n| *n > 0) {
            return Kind::Library;
        }
        if c.outcome == Some(Outcome::Unknown) {
            return Kind::Unknown;
        }
        if c.violations.values().any(|n| *n > 0) {
            Kind::Physics
        } else {
            Kind::Holds
        }
    }
}

/// One library × fault.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Cell {
    pub library: String,
    pub fault: String,
    /// The library and version the runs loaded (`redis-py 8.1.0`).
    pub client: Option<String>,
    pub kind: Kind,
    /// The first violation (the library's finding first), in words.
    pub first: Option<String>,
    pub cases: Vec<Case>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct MatrixReport {
    pub stamp: String,
    pub started_unix_s: u64,
    pub seeds: Vec<u64>,
    pub libraries: Vec<String>,
    pub faults: Vec<String>,
    pub jobs: usize,
    pub wall_ms: u64,
    pub interrupted: bool,
    pub cells: Vec<Cell>,
}

/// What each library's row shows, as findings: `(check, kind)` pairs, the kind of wrong answer
/// for blame and empty for the other checks. Explore compares its findings with a row
/// (`known.json`, written beside matrix.json and small enough to publish: docs/known-findings.json).
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct RowFindings {
    pub stamp: String,
    pub seeds: Vec<u64>,
    pub faults: Vec<String>,
    pub rows: std::collections::BTreeMap<String, std::collections::BTreeSet<(String, String)>>,
}

impl MatrixReport {
    pub fn row_findings(&self) -> RowFindings {
        let mut rows: std::collections::BTreeMap<_, std::collections::BTreeSet<_>> = self
            .libraries
            .iter()
            .map(|l| (l.clone(), Default::default()))
            .collect();
        for c in &self.cells {
            let row = rows.entry(c.library.clone()).or_default();
            // `mutual_exclusion` → (mutual_exclusion, ""), `blame:KIND` → (blame, KIND).
            for name in c.cases.iter().flat_map(Case::finding_names) {
                let (check, kind) = name.split_once(':').unwrap_or((&name, ""));
                row.insert((check.to_string(), kind.to_string()));
            }
        }
        RowFindings {
            stamp: self.stamp.clone(),
            seeds: self.seeds.clone(),
            faults: self.faults.clone(),
            rows,
        }
    }
}

impl Cell {
    /// The earliest first violation among its runs, in seconds into the run.
    pub fn first_s(&self) -> Option<f64> {
        self.cases
            .iter()
            .filter_map(|c| c.first_violation_ms)
            .min_by(f64::total_cmp)
            .map(|ms| ms / 1000.0)
    }

    /// The kind, and when the first violation came: `physics · 2.9 s`.
    pub fn label(&self) -> String {
        match self.first_s() {
            Some(s) => format!("{} · {s:.1} s", self.kind.word()),
            None => self.kind.word().to_string(),
        }
    }
}

impl MatrixReport {
    /// A library as its runs named it, with the version they loaded (`redis-py 8.1.0`).
    pub fn named(&self, library: &str) -> String {
        self.cells
            .iter()
            .find(|c| c.library == library)
            .and_then(|c| c.client.clone())
            .unwrap_or_else(|| library.to_string())
    }

    pub fn cell(&self, library: &str, fault: &str) -> Option<&Cell> {
        self.cells
            .iter()
            .find(|c| c.library == library && c.fault == fault)
    }

    /// 0 when every run could be judged, 3 when some could not, 130 when interrupted. (The
    /// matrix measures; a library's findings are its result, not a failure of the command.)
    pub fn exit_code(&self) -> i32 {
        if self.interrupted {
            130
        } else if self.cells.iter().any(|c| c.kind == Kind::Unknown) {
            3
        } else {
            0
        }
    }
}

fn cell(library: &str, fault: &str, cases: Vec<Case>) -> Cell {
    let kind = cases.iter().map(Kind::of).max().unwrap_or(Kind::Unknown);
    let first = cases.iter().find_map(|c| {
        c.error
            .as_ref()
            .map(|e| e.lines().next().unwrap_or_default().to_string())
            .or_else(|| {
                let blame = c.findings.iter().find(|(id, _)| id == "blame");
                blame.or(c.findings.first()).map(|(id, d)| {
                    // The library's findings by kind: `blame (2 grant-after-lease): …`.
                    let kinds = c
                        .library_findings
                        .iter()
                        .map(|(k, n)| format!("{n} {k}"))
                        .collect::<Vec<_>>();
                    if id == "blame" && !kinds.is_empty() {
                        format!(
                            "{} ({}): {d}",
                            checkers::registry::label(id),
                            kinds.join(", ")
                        )
                    } else {
                        format!("{}: {d}", checkers::registry::label(id))
                    }
                })
            })
    });
    // A row of a server axis (`redis-py on valkey@8.0`: a spec has no spaces) keeps its
    // server beside the version the runs loaded.
    let on = library.split_once(" on ").map(|(_, s)| s);
    Cell {
        library: library.to_string(),
        fault: fault.to_string(),
        client: cases
            .iter()
            .find_map(|c| c.client.clone())
            .map(|c| match on {
                Some(s) => format!("{c} on {s}"),
                None => c,
            }),
        kind,
        first,
        cases,
    }
}

/// Runs the matrix and writes its reports.
pub async fn run(opts: &MatrixOptions) -> anyhow::Result<(MatrixReport, PathBuf)> {
    for f in &opts.faults {
        let file = crate::scenario::resolve(f, &opts.scenarios_dir)
            .with_context(|| format!("matrix fault `{f}`"))?;
        Scenario::load(&file).with_context(|| format!("matrix fault `{f}`"))?;
    }
    for l in &opts.libraries {
        let (name, version) = crate::clients::process::adapter::parse_spec(l)?;
        crate::clients::process::adapter::find(&name, version, &opts.adapters_dir)?;
    }
    std::fs::create_dir_all(&opts.results_dir)?;
    let started_unix_s = store::unix_now_s();
    let stamp = store::utc_stamp(started_unix_s);
    let dir = create_dir(&opts.results_dir, "matrix", &stamp)?;
    let mut interrupt =
        Interrupt::install().context("cannot install the SIGINT/SIGTERM handlers")?;
    let started = std::time::Instant::now();
    // Install every adapter once, before the runs (their first use would race otherwise).
    for l in &opts.libraries {
        let (name, version) = crate::clients::process::adapter::parse_spec(l)?;
        crate::clients::process::adapter::find(&name, version, &opts.adapters_dir)?
            .install(&crate::clients::process::adapter::cache_dir())?;
    }
    let rows = opts.rows();
    let mut jobs = Vec::new();
    let mut index = 0;
    for (row, l, on) in &rows {
        let mut cases = opts.cases();
        if on.is_some() {
            cases.server = on.clone();
        }
        for f in &opts.faults {
            for &seed in &opts.seeds.0 {
                let tag = format!("{}-{f}-seed{seed}", row.replace(['@', ' '], "-"));
                jobs.push(schedule::Job {
                    index,
                    label: format!("{row} × {f}"),
                    suffix: None,
                    seed,
                    not_on_server: None,
                    cmd: cases.case(f, l, seed, &dir.join("logs"), &tag),
                });
                index += 1;
            }
        }
    }
    let (cases, interrupted) =
        schedule::run_jobs(jobs, opts.jobs, &opts.results_dir, &mut interrupt, "matrix").await?;
    let mut cases = cases.into_iter();
    let mut cells = Vec::new();
    for (row, _, _) in &rows {
        for f in &opts.faults {
            let mine: Vec<Case> = cases.by_ref().take(opts.seeds.0.len()).collect();
            cells.push(cell(row, f, mine));
        }
    }
    let report = MatrixReport {
        stamp,
        started_unix_s,
        seeds: opts.seeds.0.clone(),
        libraries: rows.iter().map(|(row, _, _)| row.clone()).collect(),
        faults: opts.faults.clone(),
        jobs: opts.jobs,
        wall_ms: started.elapsed().as_millis() as u64,
        interrupted,
        cells,
    };
    crate::matrix::report::write(&report, &dir)?;
    link_latest(&opts.results_dir, &dir, LATEST)?;
    Ok((report, dir))
}

/// `fencepost matrix`: runs it, prints where the reports are; returns its exit code.
pub async fn matrix_command(opts: &MatrixOptions) -> anyhow::Result<i32> {
    let (report, dir) = run(opts).await?;
    println!(
        "{}",
        crate::matrix::report::markdown(&report, Path::new("."))
    );
    println!(
        "{}  {}  {}",
        dir.join(crate::matrix::report::MD).display(),
        dir.join(crate::report::html::PAGE).display(),
        dir.join(crate::matrix::report::PNG).display()
    );
    Ok(report.exit_code())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn case(library_findings: &[(&str, u64)], violations: &[(&str, u64)]) -> Case {
        let mut c = Case::error("lib-x", 1, 0, "");
        c.error = None;
        c.library_findings = library_findings
            .iter()
            .map(|(k, n)| (k.to_string(), *n))
            .collect();
        c.violations = violations
            .iter()
            .map(|(k, n)| (k.to_string(), *n))
            .collect();
        c
    }

    #[test]
    fn a_rows_findings_are_its_blame_kinds_and_violated_checks() {
        let report = MatrixReport {
            stamp: "s".into(),
            started_unix_s: 0,
            seeds: vec![1, 2],
            libraries: vec!["a".into(), "b".into()],
            faults: vec!["baseline".into(), "reply-delay".into()],
            jobs: 2,
            wall_ms: 0,
            interrupted: false,
            cells: vec![
                cell("a", "baseline", vec![case(&[], &[("mutual_exclusion", 0)])]),
                cell(
                    "a",
                    "reply-delay",
                    vec![
                        case(&[("grant-after-lease", 2)], &[("blame", 2), ("fencing", 0)]),
                        case(&[], &[("mutual_exclusion", 3)]),
                    ],
                ),
                cell("b", "baseline", vec![case(&[], &[])]),
            ],
        };
        let rows = report.row_findings();
        let pair = |c: &str, k: &str| (c.to_string(), k.to_string());
        assert_eq!(
            rows.rows["a"],
            [
                pair("blame", "grant-after-lease"),
                pair("mutual_exclusion", "")
            ]
            .into()
        );
        assert!(rows.rows["b"].is_empty(), "a row that held shows nothing");
        assert_eq!(rows.seeds, vec![1, 2]);
    }
}
