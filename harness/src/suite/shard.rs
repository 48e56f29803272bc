//! Sharded suites: one suite spread over several machines by the CI's job matrix, then merged.
//!
//! `fencepost suite nightly --shard I/N` runs the cases whose place in the suite's matrix order
//! (scenario files by name × seeds) is I−1 modulo N: a deterministic slice, the same on every
//! machine, and the N slices together are the whole suite. `fencepost suite merge DIR…` reads the
//! shards' `suite.json` files, refuses a set that is not one whole suite (another suite, other
//! seeds, a shard missing or given twice), and writes one report of all the cases in matrix order,
//! as an unsharded run would have. No scheduler of fencepost's own spreads the work: the CI's job
//! matrix is the engine (`.github/workflows/nightly.yml`).

use crate::suite::report::{Case, SuiteReport, SuiteRun};
use std::path::{Component, Path, PathBuf};
use std::str::FromStr;

/// `I/N`: the I-th of N slices (1-based).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Shard {
    pub index: u32,
    pub count: u32,
}

impl FromStr for Shard {
    type Err = String;
    fn from_str(s: &str) -> Result<Shard, String> {
        let bad = || format!("bad shard `{s}`: write I/N with 1 ≤ I ≤ N ≤ 64, e.g. 2/4");
        let (i, n) = s.split_once('/').ok_or_else(bad)?;
        let (index, count): (u32, u32) = (
            i.trim().parse().map_err(|_| bad())?,
            n.trim().parse().map_err(|_| bad())?,
        );
        if index == 0 || index > count || count > 64 {
            return Err(bad());
        }
        Ok(Shard { index, count })
    }
}

impl std::fmt::Display for Shard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

impl Shard {
    /// Whether the case at `position` in matrix order is in this slice.
    pub fn takes(self, position: usize) -> bool {
        position % self.count as usize == (self.index - 1) as usize
    }
}

#[derive(Debug, thiserror::Error)]
pub enum MergeError {
    #[error("cannot read {path}: {source} (give the suite folders the shards wrote, results/suite-<stamp>)")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path} is not a suite.json fencepost wrote: {source}")]
    Parse {
        path: PathBuf,
        source: serde_json::Error,
    },
    #[error(
        "give the suite folders of the shards to merge (results/suite-<stamp>, one per shard)"
    )]
    Nothing,
    #[error("{path} is not a shard (it ran without --shard): there is nothing to merge it with")]
    NotAShard { path: PathBuf },
    #[error("{path} does not belong with {first}: {what} differ ({this} vs {other})")]
    Mismatch {
        path: PathBuf,
        first: PathBuf,
        what: &'static str,
        this: String,
        other: String,
    },
    #[error("shard {shard} is given twice ({a} and {b})")]
    Twice {
        shard: String,
        a: PathBuf,
        b: PathBuf,
    },
    #[error("shard(s) {missing} of {count} missing: a merged report must cover the whole suite")]
    Missing { missing: String, count: u32 },
}

/// One shard's report and where it lies.
pub struct ShardReport {
    pub dir: PathBuf,
    pub report: SuiteReport,
}

/// Reads `suite.json` from each folder.
pub fn read(dirs: &[PathBuf]) -> Result<Vec<ShardReport>, MergeError> {
    dirs.iter()
        .map(|dir| {
            let path = dir.join(crate::suite::report::SUITE_JSON);
            let text = std::fs::read_to_string(&path).map_err(|source| MergeError::Read {
                path: path.clone(),
                source,
            })?;
            let report =
                serde_json::from_str(&text).map_err(|source| MergeError::Parse { path, source })?;
            Ok(ShardReport {
                dir: dir.clone(),
                report,
            })
        })
        .collect()
}

/// One report of every shard's cases, in matrix order; links to runs and charts are rebased
/// from each shard's results folder onto `results`.
pub fn merge(shards: Vec<ShardReport>, results: &Path) -> Result<SuiteReport, MergeError> {
    let first = shards.first().ok_or(MergeError::Nothing)?;
    check_one_suite(&shards, first)?;
    let run = &first.report.run;
    let position = |c: &Case| {
        (
            run.scenarios.iter().position(|s| *s == c.scenario),
            run.seeds.iter().position(|s| *s == c.seed),
        )
    };
    let mut cases = Vec::new();
    for s in &shards {
        let from = s.dir.parent().unwrap_or(Path::new("."));
        for c in &s.report.cases {
            let mut c = c.clone();
            c.run_dir = c.run_dir.map(|d| rebase(from, results, &d));
            c.charts = c.charts.iter().map(|d| rebase(from, results, d)).collect();
            cases.push(c);
        }
    }
    cases.sort_by_key(position);
    Ok(SuiteReport::new(merged_run(&shards, run), cases))
}

/// The shard a report is, or why it is none.
fn shard_of(s: &ShardReport) -> Result<Shard, MergeError> {
    s.report
        .run
        .shard
        .as_deref()
        .and_then(|x| x.parse::<Shard>().ok())
        .ok_or_else(|| MergeError::NotAShard {
            path: s.dir.clone(),
        })
}

/// Refuses shards of different suites (names, seeds, scenarios, durations, shard counts), a
/// shard given twice and a missing one.
fn check_one_suite(shards: &[ShardReport], first: &ShardReport) -> Result<(), MergeError> {
    let count = shard_of(first)?.count;
    let mut seen: Vec<Option<PathBuf>> = vec![None; count as usize];
    for s in shards {
        let (a, b) = (&s.report.run, &first.report.run);
        let mismatch = |what, this: String, other: String| MergeError::Mismatch {
            path: s.dir.clone(),
            first: first.dir.clone(),
            what,
            this,
            other,
        };
        let shard = shard_of(s)?;
        let differences = [
            ("shard counts", shard.count.to_string(), count.to_string()),
            ("suite names", a.name.clone(), b.name.clone()),
            ("seeds", format!("{:?}", a.seeds), format!("{:?}", b.seeds)),
            (
                "scenario lists",
                a.scenarios.join(","),
                b.scenarios.join(","),
            ),
            (
                "duration overrides",
                format!("{:?}", a.duration_override),
                format!("{:?}", b.duration_override),
            ),
        ];
        if let Some((what, this, other)) = differences.into_iter().find(|(_, x, y)| x != y) {
            return Err(mismatch(what, this, other));
        }
        let slot = &mut seen[(shard.index - 1) as usize];
        if let Some(other) = slot {
            return Err(MergeError::Twice {
                shard: shard.to_string(),
                a: other.clone(),
                b: s.dir.clone(),
            });
        }
        *slot = Some(s.dir.clone());
    }
    let missing: Vec<String> = (1..=count)
        .filter(|i| seen[(*i - 1) as usize].is_none())
        .map(|i| format!("{i}/{count}"))
        .collect();
    if missing.is_empty() {
        Ok(())
    } else {
        Err(MergeError::Missing {
            missing: missing.join(", "),
            count,
        })
    }
}

/// How the merged suite ran: from the first shard, started with the first, as long as the
/// slowest (the shards ran side by side), and rerun unsharded.
fn merged_run(shards: &[ShardReport], run: &SuiteRun) -> SuiteRun {
    SuiteRun {
        stamp: crate::store::utc_stamp(crate::store::unix_now_s()),
        started_unix_s: shards
            .iter()
            .map(|s| s.report.run.started_unix_s)
            .min()
            .unwrap_or(run.started_unix_s),
        wall_ms: shards
            .iter()
            .map(|s| s.report.run.wall_ms)
            .max()
            .unwrap_or(0),
        interrupted: shards.iter().any(|s| s.report.run.interrupted),
        rerun: run.shard.as_ref().map_or(run.rerun.clone(), |s| {
            run.rerun.replace(&format!(" --shard {s}"), "")
        }),
        shard: None,
        merged_from: shards
            .iter()
            .map(|s| {
                format!(
                    "{} ({})",
                    s.dir.display(),
                    s.report.run.shard.as_deref().unwrap_or("?")
                )
            })
            .collect(),
        ..run.clone()
    }
}

/// `rel`, relative to folder `from`, as a path relative to folder `to`.
fn rebase(from: &Path, to: &Path, rel: &str) -> String {
    let abs = |p: &Path| std::fs::canonicalize(p).unwrap_or_else(|_| p.to_path_buf());
    let (from, to) = (abs(from), abs(to));
    if from == to {
        return rel.to_string();
    }
    let f: Vec<Component> = from.components().collect();
    let t: Vec<Component> = to.components().collect();
    let common = f.iter().zip(&t).take_while(|(a, b)| a == b).count();
    let mut out = PathBuf::new();
    for _ in common..t.len() {
        out.push("..");
    }
    for c in &f[common..] {
        out.push(c.as_os_str());
    }
    out.join(rel).display().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shards_parse_and_slice_the_matrix_whole_and_disjoint() {
        assert_eq!("2/4".parse::<Shard>(), Ok(Shard { index: 2, count: 4 }));
        for bad in ["0/4", "5/4", "4", "a/b", "1/0", "1/65"] {
            assert!(bad.parse::<Shard>().is_err(), "{bad}");
        }
        let shards: Vec<Shard> = (1..=4).map(|i| Shard { index: i, count: 4 }).collect();
        for position in 0..108 {
            let takers = shards.iter().filter(|s| s.takes(position)).count();
            assert_eq!(takers, 1, "case {position} in exactly one shard");
        }
    }

    #[test]
    fn rebase_walks_from_one_results_folder_to_another() {
        assert_eq!(
            rebase(
                Path::new("/r/shard-2"),
                Path::new("/r/merged"),
                "gc-pause/x"
            ),
            "../shard-2/gc-pause/x"
        );
        assert_eq!(rebase(Path::new("/r"), Path::new("/r"), "a/b"), "a/b");
    }
}
