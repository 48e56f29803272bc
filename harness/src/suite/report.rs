//! The suite's safety report: what every scenario × seed showed, against what it promises.
//!
//! Rendering only (the suite itself runs in [`crate::suite`]): `report.md` (a table: scenario,
//! lock, faults, ops, violations by check, expected, outcome, time to first violation, links to
//! charts), `junit.xml` ([`super::junit`]), `suite.json` and `index.html`. A case that reproduced
//! its scenario's known finding is shown amber (◐) and counts as passing; one that could not
//! tell (too little evidence, faults that never took effect) is `?`.

use crate::judge::Outcome;
use crate::report::html::{esc, outcome_badge, CSS};
use crate::report::{html, write_file, ReportError};
use crate::store;
use serde::{Deserialize, Serialize};
use std::fmt::Write;
use std::path::Path;

pub const REPORT_MD: &str = "report.md";
pub const JUNIT_XML: &str = "junit.xml";
pub use crate::store::SUITE_JSON;
/// The link to the newest suite folder, next to `results/latest`.
pub const LATEST_SUITE: &str = "latest-suite";

pub use super::case::{Case, Violations};

/// How a suite was run.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct SuiteRun {
    pub name: String,
    /// `20261125T101500Z`; the folder is `suite-<stamp>`.
    pub stamp: String,
    pub started_unix_s: u64,
    pub seeds: Vec<u64>,
    pub scenarios: Vec<String>,
    pub duration_override: Option<String>,
    /// Cases run at once.
    pub jobs: usize,
    pub wall_ms: u64,
    pub interrupted: bool,
    /// `I/N` when this run was one slice of a sharded suite.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shard: Option<String>,
    /// The shard folders a merged report was made of.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub merged_from: Vec<String>,
    /// The command that runs this suite again as it was run (every flag that changes what
    /// runs or where it goes; a shard's names its shard).
    #[serde(default)]
    pub rerun: String,
}

/// A whole suite (`suite.json`).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct SuiteReport {
    #[serde(flatten)]
    pub run: SuiteRun,
    /// Every case met its expectations or reproduced its known finding.
    pub all_met: bool,
    pub known: usize,
    /// Cases that did not meet their expectations (changes), errors included.
    pub unmet: usize,
    pub unknown: usize,
    pub errors: usize,
    /// Cases not run: their server cannot run their scenario.
    #[serde(default)]
    pub not_on_server: usize,
    pub cases: Vec<Case>,
}

impl std::ops::Deref for SuiteReport {
    type Target = SuiteRun;
    fn deref(&self) -> &SuiteRun {
        &self.run
    }
}

impl SuiteReport {
    pub fn new(run: SuiteRun, cases: Vec<Case>) -> SuiteReport {
        let count = |o: Outcome| cases.iter().filter(|c| c.outcome == Some(o)).count();
        let errors = cases.iter().filter(|c| c.error.is_some()).count();
        let not_on_server = cases.iter().filter(|c| c.not_on_server.is_some()).count();
        SuiteReport {
            all_met: !run.interrupted
                && cases.len() > not_on_server
                && cases
                    .iter()
                    .all(|c| c.passed() || c.not_on_server.is_some()),
            known: count(Outcome::Known),
            unmet: count(Outcome::NotMet) + errors,
            unknown: count(Outcome::Unknown),
            errors,
            not_on_server,
            run,
            cases,
        }
    }

    pub fn exit_code(&self) -> i32 {
        if self.interrupted {
            130
        } else if self.errors > 0 {
            2
        } else if self.unmet > 0 {
            1
        } else if self.unknown > 0 || self.cases.len() == self.not_on_server {
            // Nothing could tell, or nothing ran at all.
            3
        } else {
            0
        }
    }

    pub fn verdict_line(&self) -> String {
        let n = self.cases.len() - self.not_on_server;
        let line = self.verdict_of_runs(n);
        if self.not_on_server > 0 {
            format!(
                "{line}; {} not run: their server cannot run their scenario",
                self.not_on_server
            )
        } else {
            line
        }
    }

    fn verdict_of_runs(&self, n: usize) -> String {
        if n == 0 && !self.interrupted {
            return "no run was made".into();
        }
        if self.interrupted {
            format!("INTERRUPTED after {n} of the runs; the report covers those")
        } else if self.all_met {
            format!(
                "all {n} runs met their expectations{}",
                if self.known > 0 {
                    format!(" ({} reproduced a known finding unchanged)", self.known)
                } else {
                    String::new()
                }
            )
        } else {
            let mut parts = Vec::new();
            if self.unmet > 0 {
                parts.push(format!("{} did NOT meet their expectations", self.unmet));
            }
            if self.unknown > 0 {
                parts.push(format!(
                    "{} could not tell (too little evidence)",
                    self.unknown
                ));
            }
            if self.errors > 0 {
                parts.push(format!("{} could not run", self.errors));
            }
            format!("of {n} runs, {}", parts.join(", "))
        }
    }
}

/// Writes report.md, suite.json and index.html into the suite folder (junit.xml is
/// [`super::junit`]'s, which reads this report).
pub fn write_reports(report: &SuiteReport, dir: &Path) -> Result<(), ReportError> {
    write_file(&dir.join(REPORT_MD), markdown(report))?;
    crate::report::write_json(&dir.join(SUITE_JSON), report)?;
    write_file(&dir.join(html::PAGE), page(report))?;
    Ok(())
}

/// The checks with a column in the tables: every check that ran in some case, in first-seen
/// order.
fn columns(r: &SuiteReport) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for c in &r.cases {
        for k in c.violations.keys() {
            if !out.contains(k) {
                out.push(k.clone());
            }
        }
    }
    out
}

fn cell(c: &Case, id: &str) -> String {
    c.violations.get(id).map_or("—".into(), |n| n.to_string())
}

fn faults_of(c: &Case) -> String {
    if c.not_on_server.is_some() {
        "—".into()
    } else if c.error.is_some() {
        "?".into()
    } else if c.faults.is_empty() {
        "none".into()
    } else {
        c.faults.join(", ")
    }
}

fn lock_of(c: &Case) -> String {
    if c.not_on_server.is_some() {
        "—".into()
    } else if c.error.is_some() {
        "?".into()
    } else {
        format!("{}{}", c.lock, if c.fenced { ", fenced" } else { "" })
    }
}

fn mark(c: &Case) -> &'static str {
    if c.interrupted {
        return "⏸ interrupted";
    }
    if c.not_on_server.is_some() {
        return "– not on this server";
    }
    c.outcome.map_or("error", Outcome::mark)
}

/// The safety report in Markdown (also the CI job summary). Links are relative to the suite
/// folder, so they work inside the uploaded results folder.
pub fn markdown(r: &SuiteReport) -> String {
    let mut s = String::new();
    md_heading(&mut s, r);
    md_table(&mut s, r);
    md_findings(&mut s, r);
    let _ = writeln!(
        s,
        "\nRe-run one case: the `reproduce:` line of its summary (its run folder's `run.json`); the whole suite: `{}`.",
        if r.rerun.is_empty() {
            format!(
                "cargo run --release -- suite {} --seeds {}",
                r.name,
                seeds_arg(&r.seeds)
            )
        } else {
            r.rerun.clone()
        }
    );
    s
}

/// The verdict, how the suite ran, and where its shards came from.
fn md_heading(s: &mut String, r: &SuiteReport) {
    let _ = writeln!(s, "# fencepost suite `{}`: {}\n", r.name, r.verdict_line());
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
    if let Some(shard) = &r.shard {
        let _ = writeln!(
            s,
            "Shard {shard} of the suite: `fencepost suite merge` joins the shards into one report.\n"
        );
    }
    if !r.merged_from.is_empty() {
        let _ = writeln!(
            s,
            "Merged from {} shards run side by side (the wall time is the slowest shard's): {}\n",
            r.merged_from.len(),
            r.merged_from.join(", ")
        );
    }
}

/// One row per case: its violations by check, what it expected, its outcome, its charts.
fn md_table(s: &mut String, r: &SuiteReport) {
    let cols = columns(r);
    let _ = writeln!(
        s,
        "✔ met · ◐ known finding reproduced · ✘ not met · ? unknown (too little evidence) · – not run (its server cannot run the scenario: the findings below say why). Violations by check:\n"
    );
    let _ = writeln!(
        s,
        "| scenario | seed | lock | faults | ops | {} | expected | outcome | first violation | charts |",
        cols.iter()
            .map(|c| checkers::registry::label(c).to_string())
            .collect::<Vec<_>>()
            .join(" | ")
    );
    let _ = writeln!(
        s,
        "|---|---:|---|---|---:|{}---|:---:|---:|---|",
        "---:|".repeat(cols.len())
    );
    for c in &r.cases {
        let _ = writeln!(
            s,
            "| {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |",
            c.scenario,
            c.seed,
            lock_of(c),
            faults_of(c),
            c.ops,
            cols.iter()
                .map(|k| cell(c, k))
                .collect::<Vec<_>>()
                .join(" | "),
            if c.expected.is_empty() {
                "(none)".to_string()
            } else {
                c.expected.join("<br>")
            },
            mark(c),
            c.first_violation_ms
                .map_or("—".into(), |ms| format!("{:.3} s", ms / 1000.0)),
            md_charts(c)
        );
    }
}

/// A case's page and charts, as links relative to the suite folder.
fn md_charts(c: &Case) -> String {
    match &c.run_dir {
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
    }
}

/// The known findings reproduced, and every case not met or unknown with why.
fn md_findings(s: &mut String, r: &SuiteReport) {
    let known: Vec<&Case> = r.cases.iter().filter(|c| !c.known.is_empty()).collect();
    if !known.is_empty() {
        let _ = writeln!(s, "\n## Known findings reproduced\n");
        for c in known {
            for k in &c.known {
                let _ = writeln!(s, "- ◐ **{} seed {}** — {k}", c.scenario, c.seed);
            }
        }
    }
    let failing: Vec<&Case> = r
        .cases
        .iter()
        .filter(|c| !c.passed() && c.not_on_server.is_none())
        .collect();
    let absent: Vec<&Case> = r
        .cases
        .iter()
        .filter(|c| c.not_on_server.is_some())
        .collect();
    if !absent.is_empty() {
        let _ = writeln!(s, "\n## Not run on their server\n");
        for c in absent {
            let why = c.not_on_server.as_deref().unwrap_or_default();
            let _ = writeln!(s, "- – **{} seed {}**: {why}", c.scenario, c.seed);
        }
    }
    if !failing.is_empty() {
        let _ = writeln!(s, "\n## Not met or unknown\n");
        for c in failing {
            let _ = writeln!(s, "- {} **{} seed {}**", mark(c), c.scenario, c.seed);
            for u in &c.unmet {
                let _ = writeln!(s, "  - {u}");
            }
            if let Some(d) = &c.run_dir {
                let _ = writeln!(s, "  - run folder: `{d}`");
            }
        }
    }
}

pub fn seeds_arg(seeds: &[u64]) -> String {
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
        esc(&r.verdict_line()),
        n = esc(&r.name)
    );
    let cols = columns(r);
    let _ = writeln!(
        h,
        "<table><tr><th>scenario</th><th>seed</th><th>lock</th><th>faults</th><th>ops</th>{}<th>expected</th><th>outcome</th><th>first violation</th><th>run</th></tr>",
        cols.iter()
            .map(|c| format!("<th>{}</th>", esc(checkers::registry::label(c))))
            .collect::<String>()
    );
    for c in &r.cases {
        let outcome = match c.outcome {
            _ if c.interrupted => "<span class=\"badge unknown\">interrupted</span>".to_string(),
            _ if c.not_on_server.is_some() => {
                "<span class=\"badge unknown\">not on this server</span>".to_string()
            }
            None => "<span class=\"badge unmet\">error</span>".to_string(),
            Some(o) => outcome_badge(o),
        };
        let notes: Vec<&String> = c
            .unmet
            .iter()
            .chain(&c.known)
            .chain(&c.not_on_server)
            .collect();
        let _ = writeln!(
            h,
            "<tr><td>{}</td><td class=\"num\">{}</td><td>{}</td><td>{}</td><td class=\"num\">{}</td>{}<td>{}</td><td>{outcome} {}</td><td class=\"num\">{}</td><td>{}</td></tr>",
            esc(&c.scenario),
            c.seed,
            esc(&lock_of(c)),
            esc(&faults_of(c)),
            c.ops,
            cols.iter()
                .map(|k| format!("<td class=\"num\">{}</td>", cell(c, k)))
                .collect::<String>(),
            c.expected.iter().map(|e| esc(e)).collect::<Vec<_>>().join("<br>"),
            esc(&notes.iter().map(|s| s.as_str()).collect::<Vec<_>>().join("; ")),
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
    fn seed_ranges_print_as_typed() {
        assert_eq!(seeds_arg(&[1, 2, 3]), "1..3");
        assert_eq!(seeds_arg(&[1, 4]), "1,4");
    }
}
