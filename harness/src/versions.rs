//! `fencepost versions LIB`: the published versions of a lock library, which of them its adapter
//! drives, and — with `--baseline` — whether each installs and holds under no fault.
//!
//! Bugs are version-specific: a team tests the version in its lockfile, and wants to know in
//! which release a finding came or went ([`crate::bisect`]). This lists what the library's
//! registry publishes (oldest first), groups versions into major lines (`4`, `5`; `0.7` for a
//! library still on 0.x, where each minor is a line), marks the lines the adapter drives (its
//! manifest's `drives`), and picks what a table of versions covers: every version of the
//! current and previous lines, or the newest [`NEWEST`] of them.

use crate::clients::process::adapter::{self, Adapter};
use crate::interrupt::Interrupt;
use crate::suite::case::Case;
use crate::suite::child::LibraryCases;
use crate::suite::schedule;
use anyhow::Context;
use std::fmt::Write as _;
use std::path::PathBuf;
use std::time::Instant;

/// At most this many versions of the current and previous lines are covered.
pub const NEWEST: usize = 15;

/// A version's major line: `5` for 5.0.0-beta.2, `0.7` for 0.7.3 (on 0.x each minor breaks).
pub fn line(version: &str) -> String {
    let mut parts = version
        .split(['.', '-', '+'])
        .map(|p| p.trim_start_matches('v'));
    let major = parts.next().unwrap_or_default();
    if major == "0" {
        format!("0.{}", parts.next().unwrap_or_default())
    } else {
        major.to_string()
    }
}

/// The versions a table covers, oldest first: those of the newest two lines among `published`
/// (oldest first), at most the newest [`NEWEST`] of them.
pub fn recent_lines(published: &[String]) -> Vec<String> {
    let mut lines: Vec<String> = Vec::new();
    for v in published.iter().rev() {
        let l = line(v);
        if !lines.contains(&l) {
            if lines.len() == 2 {
                break;
            }
            lines.push(l);
        }
    }
    let mut picked: Vec<String> = published
        .iter()
        .rev()
        .filter(|v| lines.contains(&line(v)))
        .take(NEWEST)
        .cloned()
        .collect();
    picked.reverse();
    picked
}

/// One version as `fencepost versions` reports it.
#[derive(Debug, Clone, serde::Serialize)]
pub struct VersionRow {
    pub version: String,
    pub line: String,
    pub driven: bool,
    /// Install wall time in ms: the first call (a first install when the cache had none), then a
    /// second (cached); or why it did not install.
    pub install_ms: Option<(u64, u64)>,
    pub refused: Option<String>,
    /// The baseline run, when asked for.
    pub baseline: Option<Case>,
}

#[derive(Debug, Clone)]
pub struct VersionsOptions {
    pub library: String,
    /// Every published version, not only the current and previous lines.
    pub all: bool,
    /// Install each covered version and run `scenarios/libraries/baseline.toml` with it.
    pub baseline: bool,
    pub seed: u64,
    pub duration: Option<crate::duration::Dur>,
    pub jobs: usize,
    pub scenarios_dir: PathBuf,
    pub results_dir: PathBuf,
    pub adapters_dir: PathBuf,
    pub fencepost: PathBuf,
    /// The server the nodes run (`--server`), passed to every run.
    pub server: Option<crate::servers::ServerAsk>,
}

/// Lists the versions (and runs their baselines when asked); returns the rows.
pub async fn versions(opts: &VersionsOptions) -> anyhow::Result<Vec<VersionRow>> {
    let a = adapter::find(&opts.library, None, &opts.adapters_dir)?;
    let published = a
        .published()
        .with_context(|| format!("cannot list the published versions of {}", opts.library))?;
    let covered = if opts.all {
        published.clone()
    } else {
        recent_lines(&published)
    };
    let mut rows: Vec<VersionRow> = covered
        .iter()
        .map(|v| VersionRow {
            version: v.clone(),
            line: line(v),
            driven: a.drives(v),
            install_ms: None,
            refused: (!a.drives(v)).then(|| refusal(&a)),
            baseline: None,
        })
        .collect();
    if !opts.baseline {
        return Ok(rows);
    }
    let cache = adapter::cache_dir();
    for r in rows.iter_mut().filter(|r| r.driven) {
        let one = || -> Result<u64, adapter::AdapterError> {
            let t = Instant::now();
            adapter::find(&opts.library, Some(r.version.clone()), &opts.adapters_dir)?
                .install(&cache)?;
            Ok(t.elapsed().as_millis() as u64)
        };
        match one().and_then(|first| Ok((first, one()?))) {
            Ok(ms) => r.install_ms = Some(ms),
            Err(e) => r.refused = Some(e.to_string()),
        }
    }
    let dir = opts.results_dir.join("versions").join(&opts.library);
    std::fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let cases = LibraryCases {
        fencepost: opts.fencepost.clone(),
        scenarios_dir: opts.scenarios_dir.clone(),
        results_dir: opts.results_dir.clone(),
        adapters_dir: opts.adapters_dir.clone(),
        duration: opts.duration,
        server: opts.server.clone(),
    };
    let jobs: Vec<schedule::Job> = rows
        .iter()
        .filter(|r| r.driven && r.refused.is_none())
        .enumerate()
        .map(|(index, r)| {
            let spec = format!("{}@{}", opts.library, r.version);
            let tag = format!("{}-{}-seed{}", opts.library, r.version, opts.seed);
            schedule::Job {
                suffix: None,
                index,
                label: spec.clone(),
                seed: opts.seed,
                not_on_server: None,
                cmd: cases.case("baseline", &spec, opts.seed, &dir, &tag),
            }
        })
        .collect();
    let mut interrupt =
        Interrupt::install().context("cannot install the SIGINT/SIGTERM handlers")?;
    let (cases, _) = schedule::run_jobs(
        jobs,
        opts.jobs,
        &opts.results_dir,
        &mut interrupt,
        "versions",
    )
    .await?;
    let mut cases = cases.into_iter();
    for r in rows.iter_mut().filter(|r| r.driven && r.refused.is_none()) {
        r.baseline = cases.next();
        // An adapter that refused the version in its hello (its package does not load, or is
        // of a shape it cannot drive) names why: the row says so rather than "error".
        if let Some(why) = r
            .baseline
            .as_ref()
            .and_then(|c| c.error.as_deref())
            .and_then(hello_refusal)
        {
            r.refused = Some(why);
            r.baseline = None;
        }
    }
    Ok(rows)
}

/// The reason in a run's error when its adapter refused to run the version.
fn hello_refusal(error: &str) -> Option<String> {
    let at = error.find("refused to run: ")?;
    let why = error[at + "refused to run: ".len()..]
        .lines()
        .next()?
        .trim();
    Some(format!("in its hello: {}", checkers::quote::clip(why)))
}

fn refusal(a: &Adapter) -> String {
    format!(
        "not on a line the adapter drives ({})",
        a.manifest.drives.join(", ")
    )
}

/// The rows as a Markdown table.
pub fn markdown(library: &str, rows: &[VersionRow]) -> String {
    let mut s = String::new();
    let baseline = rows
        .iter()
        .any(|r| r.baseline.is_some() || r.install_ms.is_some());
    let _ = writeln!(s, "# {library}: published versions\n");
    if baseline {
        let _ = writeln!(
            s,
            "| version | line | driven | install (first / cached) | baseline | grants | run |\n|---|---|---|---|---|---|---|"
        );
    } else {
        let _ = writeln!(s, "| version | line | driven |\n|---|---|---|");
    }
    for r in rows {
        let driven = match (&r.refused, r.driven) {
            (None, true) => "yes".to_string(),
            (Some(why), _) => format!("refused: {why}"),
            (None, false) => "no".to_string(),
        };
        if !baseline {
            let _ = writeln!(s, "| {} | {} | {driven} |", r.version, r.line);
            continue;
        }
        let install = r.install_ms.map_or("—".into(), |(a, b)| {
            format!("{:.1} s / {:.1} s", a as f64 / 1e3, b as f64 / 1e3)
        });
        let (verdict, grants, run) = match &r.baseline {
            Some(c) => (
                match &c.error {
                    Some(e) => format!("error: {}", e.lines().next().unwrap_or_default()),
                    None => format!("{} ({})", c.status_word().trim(), verdict_of(c)),
                },
                c.grants.to_string(),
                c.run_dir.clone().unwrap_or_default(),
            ),
            None => ("—".into(), "—".into(), String::new()),
        };
        let _ = writeln!(
            s,
            "| {} | {} | {driven} | {install} | {verdict} | {grants} | {run} |",
            r.version, r.line
        );
    }
    s
}

fn verdict_of(c: &Case) -> String {
    let v: Vec<String> = c
        .violations
        .iter()
        .filter(|(_, n)| **n > 0)
        .map(|(id, n)| format!("{n} {}", checkers::registry::label(id)))
        .collect();
    if v.is_empty() {
        "no violation".into()
    } else {
        v.join(", ")
    }
}

/// `fencepost versions`: prints the table; exit 0, or 1 when a covered, driven version failed to
/// install or its baseline was not met.
pub async fn versions_command(opts: &VersionsOptions) -> anyhow::Result<i32> {
    let rows = versions(opts).await?;
    print!("{}", markdown(&opts.library, &rows));
    let bad = rows.iter().any(|r| {
        r.driven
            && (r.install_ms.is_none() && opts.baseline
                || r.baseline.as_ref().is_some_and(|c| !c.passed()))
    });
    Ok(if bad { 1 } else { 0 })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn lines_are_majors_and_minors_on_zero() {
        assert_eq!(line("5.0.0-beta.2"), "5");
        assert_eq!(line("4.2.0"), "4");
        assert_eq!(line("0.7.3"), "0.7");
        assert_eq!(line("v0.10.0"), "0.10");
    }

    #[test]
    fn a_refusal_in_the_hello_is_named_with_its_reason() {
        let error = "`fencepost scenario …` ended with exit status: 2; its log /x.log:\nfencepost: scenario lib-baseline\nfencepost: error: the adapter `pottery@2.0.1` refused to run: pottery does not import here: ImportError: cannot import name 'Script'\n";
        assert_eq!(
            hello_refusal(error).as_deref(),
            Some("in its hello: pottery does not import here: ImportError: cannot import name 'Script'")
        );
        assert_eq!(
            hello_refusal("exit status: 1; its log /x.log:\npanicked"),
            None
        );
    }

    #[test]
    fn a_table_covers_the_two_newest_lines_at_most_fifteen() {
        let published = v(&["3.0.0", "4.0.0", "4.1.0", "5.0.0", "5.1.0"]);
        assert_eq!(
            recent_lines(&published),
            v(&["4.0.0", "4.1.0", "5.0.0", "5.1.0"])
        );
        let many: Vec<String> = (0..30).map(|i| format!("2.{i}.0")).collect();
        let picked = recent_lines(&many);
        assert_eq!(picked.len(), NEWEST);
        assert_eq!(picked.last().unwrap(), "2.29.0");
        let zero = v(&["0.5.0", "0.6.0", "0.6.1", "0.7.3"]);
        assert_eq!(recent_lines(&zero), v(&["0.6.0", "0.6.1", "0.7.3"]));
    }
}
