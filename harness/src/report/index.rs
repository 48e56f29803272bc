//! `results/index.html`: every run and suite in a results folder, newest first, with verdicts.
//!
//! Rebuilt from the folders on disk after every run, suite and `fencepost report`, so it never
//! drifts from what is there. Each run's `results.json` is read through a small view that only
//! keeps what the table shows (the witnesses are skipped unparsed, only counted).

use super::html::{esc, outcome_badge, CSS};
use super::{write_file, ReportError};
use crate::judge::Outcome;
use crate::store::{self, RunMeta};
use checkers::Validity;
use serde::de::IgnoredAny;
use serde::Deserialize;
use std::fmt::Write;
use std::path::{Path, PathBuf};

pub const PAGE: &str = "index.html";

#[derive(Deserialize)]
struct RunView {
    meta: RunMeta,
    outcome: Outcome,
    #[serde(default)]
    interrupted: bool,
    lock: String,
    fenced: bool,
    faults: Vec<String>,
    history_ms: u64,
    checks: ChecksView,
}

#[derive(Deserialize)]
struct ChecksView {
    validity: Validity,
    counts: checkers::run::OpCounts,
    checks: Vec<CheckView>,
    first_violation_ns: Option<u64>,
}

#[derive(Deserialize)]
struct CheckView {
    name: String,
    violations: u64,
    #[serde(default)]
    advisory: bool,
}

/// A run folder as the index lists it.
struct Listed {
    /// Relative to the results folder: `<scenario>/<run-id>`.
    rel: String,
    started_unix_s: u64,
    run: Option<RunView>,
    /// A folder with run.json but no results.json: killed before it was judged.
    meta: Option<RunMeta>,
    has_page: bool,
}

/// A suite folder as the index lists it.
#[derive(Deserialize)]
struct SuiteView {
    name: String,
    started_unix_s: u64,
    all_met: bool,
    cases: Vec<IgnoredAny>,
    #[serde(default)]
    unmet: usize,
    #[serde(default)]
    wall_ms: u64,
}

/// Rewrites `results/index.html` (atomically: two runs finishing at once into the same
/// results folder must not leave a torn page); returns its path.
pub fn write(results: &Path) -> Result<PathBuf, ReportError> {
    let (runs, suites) = scan(results);
    let path = results.join(PAGE);
    static WRITES: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let n = WRITES.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let tmp = results.join(format!(".{PAGE}.{}-{n}.tmp", std::process::id()));
    write_file(&tmp, page(&runs, &suites))?;
    std::fs::rename(&tmp, &path).map_err(|source| ReportError::Io {
        path: path.clone(),
        source,
    })?;
    Ok(path)
}

fn scan(results: &Path) -> (Vec<Listed>, Vec<(String, SuiteView)>) {
    let mut runs = Vec::new();
    let mut suites = Vec::new();
    let Ok(top) = std::fs::read_dir(results) else {
        return (runs, suites);
    };
    for entry in top.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let path = entry.path();
        // `latest` and `latest-suite` are links to folders listed anyway.
        if name.starts_with('.') || name.starts_with("latest") || !path.is_dir() {
            continue;
        }
        if name.starts_with("suite-") {
            if let Ok(s) = super::read_json::<SuiteView>(&path.join(crate::store::SUITE_JSON)) {
                suites.push((name, s));
            }
            continue;
        }
        let Ok(inner) = std::fs::read_dir(&path) else {
            continue;
        };
        for run in inner.flatten() {
            let dir = run.path();
            if !dir.join(store::RUN_META).exists() {
                continue;
            }
            let rel = format!("{name}/{}", run.file_name().to_string_lossy());
            let view = super::read_json::<RunView>(&dir.join(store::RESULTS)).ok();
            let meta = super::read_json::<RunMeta>(&dir.join(store::RUN_META)).ok();
            let started_unix_s = view
                .as_ref()
                .map(|v| v.meta.started_unix_s)
                .or(meta.as_ref().map(|m| m.started_unix_s))
                .unwrap_or(0);
            runs.push(Listed {
                rel,
                started_unix_s,
                run: view,
                meta,
                has_page: dir.join(super::html::PAGE).exists(),
            });
        }
    }
    runs.sort_by(|a, b| (b.started_unix_s, &b.rel).cmp(&(a.started_unix_s, &a.rel)));
    suites.sort_by(|a, b| (b.1.started_unix_s, &b.0).cmp(&(a.1.started_unix_s, &a.0)));
    (runs, suites)
}

fn page(runs: &[Listed], suites: &[(String, SuiteView)]) -> String {
    let mut h = String::new();
    let _ = writeln!(
        h,
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>fencepost results</title><style>{CSS}</style></head><body>\n<h1>fencepost results</h1>\
         <p class=\"muted\">{} run(s), {} suite(s), newest first.</p>",
        runs.len(),
        suites.len()
    );
    if !suites.is_empty() {
        let _ = writeln!(h, "<h2>Suites</h2><table id=\"suites\"><tr><th>started (UTC)</th><th>suite</th><th>verdict</th><th>cases</th><th>not met</th><th>wall time</th><th>report</th></tr>");
        for (dir, s) in suites {
            let _ = writeln!(
                h,
                "<tr><td>{}</td><td>{}</td><td>{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{:.0} s</td><td><a href=\"{d}/index.html\">page</a> · <a href=\"{d}/report.md\">report.md</a> · <a href=\"{d}/junit.xml\">junit.xml</a></td></tr>",
                store::utc_stamp(s.started_unix_s),
                esc(&s.name),
                if s.all_met {
                    "<span class=\"badge met\">all met</span>"
                } else {
                    "<span class=\"badge unmet\">NOT MET</span>"
                },
                s.cases.len(),
                s.unmet,
                s.wall_ms as f64 / 1000.0,
                d = esc(dir)
            );
        }
        let _ = writeln!(h, "</table>");
    }
    let _ = writeln!(h, "<h2>Runs</h2><table id=\"runs\"><tr><th>started (UTC)</th><th>scenario</th><th>seed</th><th>expectations</th><th>verdict</th><th>lock</th><th>faults</th><th>violations</th><th>first violation</th><th>ops</th><th>run</th></tr>");
    for l in runs {
        let link = if l.has_page {
            format!("<a href=\"{}/index.html\">page</a>", esc(&l.rel))
        } else {
            format!("<a href=\"{}/\">folder</a>", esc(&l.rel))
        };
        match &l.run {
            Some(r) => {
                let c = &r.checks;
                let violations: Vec<String> = c
                    .checks
                    .iter()
                    .filter(|k| k.violations > 0 && !k.advisory)
                    .map(|k| format!("{} {}", k.name, k.violations))
                    .collect();
                let _ = writeln!(
                    h,
                    "<tr><td>{}</td><td>{}</td><td class=\"num\">{}</td><td>{}{}</td><td><span class=\"badge {v}\">{v}</span></td><td>{}{}</td><td>{}</td><td>{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td>{link}</td></tr>",
                    store::utc_stamp(l.started_unix_s),
                    esc(&r.meta.scenario),
                    r.meta.seed,
                    outcome_badge(r.outcome),
                    if r.interrupted { " (interrupted)" } else { "" },
                    esc(&r.lock),
                    if r.fenced { ", fenced" } else { "" },
                    esc(&if r.faults.is_empty() { "none".to_string() } else { r.faults.join(", ") }),
                    esc(&if violations.is_empty() { "none".to_string() } else { violations.join(", ") }),
                    c.first_violation_ns.map_or("—".into(), |t| format!("{:.3} s", t as f64 / 1e9)),
                    format_args!("{} in {:.1} s", c.counts.invocations, r.history_ms as f64 / 1000.0),
                    v = c.validity,
                );
            }
            None => {
                let (scenario, seed) = l
                    .meta
                    .as_ref()
                    .map_or(("?".to_string(), "?".to_string()), |m| {
                        (m.scenario.clone(), m.seed.to_string())
                    });
                let _ = writeln!(
                    h,
                    "<tr><td>{}</td><td>{}</td><td class=\"num\">{}</td><td colspan=\"7\" class=\"muted\">not judged (the run was killed before results.json was written; <code>fencepost check</code> judges it)</td><td>{link}</td></tr>",
                    store::utc_stamp(l.started_unix_s),
                    esc(&scenario),
                    esc(&seed)
                );
            }
        }
    }
    let _ = writeln!(h, "</table></body></html>");
    h
}
