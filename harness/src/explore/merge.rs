//! `fencepost explore merge DIR…`: one report of a sharded explore.
//!
//! Each shard (`--shard I/N`) searched on its own runner with a seed of its own; the merge reads
//! their explore.json files, refuses a set that is not one whole explore (another target, seed,
//! budget or mode; a shard missing or given twice), and writes one report: every run, the
//! findings grouped across shards (runs added, seeds joined, the earliest first run kept), and
//! the words the shards reached together over time.

use super::corpus::Growth;
use super::findings::Group;
use super::{ExploreReport, ExploreRun, JSON};
use crate::store;
use crate::suite::shard::Shard;
use crate::suite::{create_dir, link_latest};
use anyhow::Context;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

fn read(dir: &Path) -> anyhow::Result<ExploreReport> {
    let path = dir.join(JSON);
    let text = std::fs::read_to_string(&path).with_context(|| {
        format!(
            "cannot read {} (give the folders the shards wrote, results/explore-<stamp>)",
            path.display()
        )
    })?;
    serde_json::from_str(&text)
        .with_context(|| format!("{} is not an explore.json fencepost wrote", path.display()))
}

/// Checks that `reports` are the N shards of one explore; returns them in shard order.
pub fn whole(
    mut reports: Vec<(PathBuf, ExploreReport)>,
) -> anyhow::Result<Vec<(PathBuf, ExploreReport, Shard)>> {
    let mut out = Vec::new();
    for (dir, r) in reports.drain(..) {
        let shard: Shard = r
            .shard
            .as_deref()
            .ok_or_else(|| {
                anyhow::anyhow!(
                    "{} was not run with --shard I/N: there is nothing to merge it with",
                    dir.display()
                )
            })?
            .parse()
            .map_err(anyhow::Error::msg)?;
        out.push((dir, r, shard));
    }
    let Some((_, first, s0)) = out.first() else {
        anyhow::bail!("give the shards' folders to merge");
    };
    let (target, seed, budget, guided, count) = (
        first.target.clone(),
        first.seed,
        first.budget_s,
        first.guided,
        s0.count,
    );
    for (dir, r, s) in &out {
        if r.target != target || r.seed != seed || r.budget_s != budget || r.guided != guided {
            anyhow::bail!(
                "{} is another explore ({} seed {} budget {} s {}), not a shard of {target} seed {seed} budget {budget} s {}",
                dir.display(),
                r.target,
                r.seed,
                r.budget_s,
                if r.guided { "guided" } else { "random" },
                if guided { "guided" } else { "random" }
            );
        }
        if s.count != count {
            anyhow::bail!("{} is shard {s}, the others are of {count}", dir.display());
        }
    }
    out.sort_by_key(|(_, _, s)| s.index);
    for i in 1..=count {
        let n = out.iter().filter(|(_, _, s)| s.index == i).count();
        if n != 1 {
            anyhow::bail!(
                "shard {i}/{count} is {}: give each shard's folder once",
                if n == 0 { "missing" } else { "given twice" }
            );
        }
    }
    Ok(out)
}

/// Joins the shards into one report (pure: no files).
pub fn join(shards: &[(PathBuf, ExploreReport, Shard)], results_dir: &Path) -> ExploreReport {
    let first = &shards[0].1;
    let mut runs: Vec<ExploreRun> = Vec::new();
    let mut groups: Vec<Group> = Vec::new();
    // word → when the first shard to show it showed it.
    let mut word_at: BTreeMap<String, f64> = BTreeMap::new();
    for (dir, r, s) in shards {
        let rel = dir
            .strip_prefix(results_dir)
            .unwrap_or(dir)
            .display()
            .to_string();
        let at: BTreeMap<usize, f64> = r.runs.iter().map(|x| (x.number, x.at_s)).collect();
        for (w, run) in &r.words {
            let t = at.get(run).copied().unwrap_or(0.0);
            let e = word_at.entry(w.clone()).or_insert(t);
            *e = e.min(t);
        }
        for x in &r.runs {
            let mut x = x.clone();
            x.origin = format!("shard {s} run {}: {}", x.number, x.origin);
            x.schedule = format!("../{rel}/{}", x.schedule);
            runs.push(x);
        }
        for g in &r.groups {
            let mut g = g.clone();
            g.first_run = format!("{s}:{}", g.first_run);
            match groups.iter_mut().find(|m| m.key == g.key) {
                Some(m) => {
                    m.runs += g.runs;
                    m.seeds.extend(g.seeds.iter().copied());
                    if g.first_at_s < m.first_at_s {
                        let (runs, seeds) = (m.runs, m.seeds.clone());
                        *m = Group { runs, seeds, ..g };
                    }
                }
                None => groups.push(g),
            }
        }
    }
    runs.sort_by(|a, b| a.at_s.total_cmp(&b.at_s));
    for (i, x) in runs.iter_mut().enumerate() {
        x.number = i + 1;
    }
    let mut times: Vec<f64> = word_at.values().copied().collect();
    times.sort_by(f64::total_cmp);
    let growth = times
        .iter()
        .enumerate()
        .map(|(i, t)| Growth {
            at_s: *t,
            runs: runs.iter().filter(|x| x.at_s <= *t).count(),
            words: i + 1,
        })
        .collect();
    groups.sort_by(|a, b| {
        (a.class != "library", a.first_at_s)
            .partial_cmp(&(b.class != "library", b.first_at_s))
            .unwrap_or(std::cmp::Ordering::Equal)
    });
    ExploreReport {
        target: first.target.clone(),
        stamp: first.stamp.clone(),
        started_unix_s: shards.iter().map(|s| s.1.started_unix_s).min().unwrap_or(0),
        seed: first.seed,
        shard: None,
        guided: first.guided,
        budget_s: first.budget_s,
        jobs: first.jobs,
        faults: first.faults.clone(),
        weights: BTreeMap::new(),
        wall_ms: shards.iter().map(|s| s.1.wall_ms).max().unwrap_or(0),
        overhead_ms: shards.iter().map(|s| s.1.overhead_ms).sum(),
        interrupted: shards.iter().any(|s| s.1.interrupted),
        known_source: first.known_source.clone(),
        runs,
        groups,
        growth,
        words: word_at.keys().map(|w| (w.clone(), 0)).collect(),
        merged_from: shards.iter().map(|s| s.0.display().to_string()).collect(),
        rerun: first
            .rerun
            .split(" --shard ")
            .next()
            .unwrap_or(&first.rerun)
            .to_string(),
        broken: shards.iter().find_map(|s| s.1.broken.clone()),
    }
}

/// `fencepost explore merge DIR…`: writes the merged report; returns it and its folder.
pub fn merge(dirs: &[PathBuf], results_dir: &Path) -> anyhow::Result<(ExploreReport, PathBuf)> {
    let reports = dirs
        .iter()
        .map(|d| read(d).map(|r| (d.clone(), r)))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let shards = whole(reports)?;
    let merged = join(&shards, results_dir);
    std::fs::create_dir_all(results_dir)?;
    let dir = create_dir(
        results_dir,
        "explore-merged",
        &store::utc_stamp(store::unix_now_s()),
    )?;
    super::report::write(&merged, &dir)?;
    link_latest(results_dir, &dir, super::LATEST)?;
    Ok((merged, dir))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::explore::findings::Key;

    fn group(kind: &str, first_at_s: f64, seed: u64) -> Group {
        Group {
            key: Key {
                check: "blame".into(),
                kind: kind.into(),
                call: "acquire".into(),
            },
            class: "library".into(),
            first_run: "1".into(),
            first_at_s,
            first_detail: String::new(),
            run_dir: None,
            replay: format!("replay {seed}"),
            runs: 1,
            seeds: [seed].into(),
            known: false,
        }
    }

    fn run(number: usize, at_s: f64) -> ExploreRun {
        ExploreRun {
            number,
            seed: number as u64,
            origin: "fresh".into(),
            faults: vec!["gc-pause".into()],
            clients: 3,
            schedule: format!("schedules/{number:04}.toml"),
            run_dir: None,
            at_s,
            wall_ms: 1000,
            grants: 10,
            words: 2,
            new_words: 1,
            findings: Vec::new(),
            error: None,
        }
    }

    fn shard(
        i: u32,
        n: u32,
        groups: Vec<Group>,
        words: &[(&str, usize)],
    ) -> (PathBuf, ExploreReport) {
        (
            PathBuf::from(format!("results/explore-{i}")),
            ExploreReport {
                target: "redis-py".into(),
                stamp: "s".into(),
                started_unix_s: 100 + i as u64,
                seed: 1,
                shard: Some(format!("{i}/{n}")),
                guided: true,
                budget_s: 60,
                jobs: 2,
                faults: vec!["gc-pause".into()],
                weights: BTreeMap::new(),
                wall_ms: 60_000 + i as u64,
                overhead_ms: 10,
                interrupted: false,
                known_source: String::new(),
                runs: vec![run(1, 10.0), run(2, 20.0)],
                groups,
                growth: Vec::new(),
                words: words.iter().map(|(w, r)| (w.to_string(), *r)).collect(),
                merged_from: Vec::new(),
                rerun: format!("fencepost explore --client redis-py --shard {i}/{n}"),
                broken: None,
            },
        )
    }

    #[test]
    fn shards_join_into_one_report_with_findings_deduplicated() {
        let a = shard(
            1,
            2,
            vec![group("grant-after-lease", 30.0, 7)],
            &[("x", 1), ("y", 2)],
        );
        let b = shard(
            2,
            2,
            vec![
                group("grant-after-lease", 12.0, 8),
                group("renewal-retook", 50.0, 9),
            ],
            &[("y", 1), ("z", 2)],
        );
        let shards = whole(vec![b, a]).unwrap();
        let m = join(&shards, Path::new("results"));
        assert_eq!(m.runs.len(), 4);
        assert_eq!(m.groups.len(), 2);
        let late = &m.groups[0];
        assert_eq!(late.key.kind, "grant-after-lease");
        assert_eq!((late.runs, late.first_at_s), (2, 12.0));
        assert_eq!(late.first_run, "2/2:1");
        assert_eq!(late.seeds, [7, 8].into());
        assert_eq!(late.replay, "replay 8");
        // y was first seen at 10 s (shard 2's run 1), before shard 1's 20 s.
        assert_eq!(m.words.len(), 3);
        assert_eq!(
            m.growth
                .iter()
                .map(|g| (g.at_s, g.words))
                .collect::<Vec<_>>(),
            vec![(10.0, 1), (10.0, 2), (20.0, 3)]
        );
        assert_eq!(m.rerun, "fencepost explore --client redis-py");
        assert_eq!(m.merged_from.len(), 2);
    }

    #[test]
    fn a_set_that_is_not_one_explore_is_refused() {
        let missing = whole(vec![shard(1, 3, vec![], &[]), shard(2, 3, vec![], &[])]).unwrap_err();
        assert!(
            missing.to_string().contains("shard 3/3 is missing"),
            "{missing}"
        );
        let twice = whole(vec![shard(1, 2, vec![], &[]), shard(1, 2, vec![], &[])]).unwrap_err();
        assert!(twice.to_string().contains("given twice"), "{twice}");
        let mut other = shard(2, 2, vec![], &[]);
        other.1.seed = 5;
        let err = whole(vec![shard(1, 2, vec![], &[]), other]).unwrap_err();
        assert!(err.to_string().contains("another explore"), "{err}");
        let mut unsharded = shard(1, 1, vec![], &[]);
        unsharded.1.shard = None;
        assert!(whole(vec![unsharded])
            .unwrap_err()
            .to_string()
            .contains("--shard"));
    }
}
