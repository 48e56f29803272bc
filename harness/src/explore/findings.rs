//! Findings, deduplicated: every failing run's violations grouped by check and kind (and, for
//! blame, the library call that gave the answer), each group with its first run, how many runs
//! showed it, their seeds and the command that replays the first — and whether the library's
//! row of a matrix already shows that kind (then it is known, not new).

use crate::judge::RunResult;
use crate::matrix::{MatrixReport, RowFindings};
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

/// What makes two findings the same.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Key {
    /// The check's id (`blame`, `mutual_exclusion`, …).
    pub check: String,
    /// Blame's finding kind (`grant-after-lease`); empty for other checks.
    pub kind: String,
    /// The library call the answer came from (`acquire`, `extend`, `release`, `held`), or
    /// `background` for a change no call of the client made; empty for other checks.
    pub call: String,
}

impl Key {
    /// `library` for an answer no correct lock may give, `physics` otherwise.
    pub fn class(&self) -> &'static str {
        if self.check == checkers::blame::KIND.id {
            "library"
        } else {
            "physics"
        }
    }

    /// `blame: grant-after-lease (acquire)`, `mutual exclusion`.
    pub fn label(&self) -> String {
        let check = checkers::registry::label(&self.check);
        if self.kind.is_empty() {
            check.to_string()
        } else {
            format!("{check}: {} ({})", self.kind, self.call)
        }
    }
}

/// When explore stops starting runs: at the first library finding (`library`), or at the first
/// finding of one check (`mutual_exclusion`) or one kind of wrong answer (`blame:KIND`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Until(String);

impl std::str::FromStr for Until {
    type Err = String;
    fn from_str(s: &str) -> Result<Until, String> {
        let kinds: Vec<String> = checkers::blame::FindingKind::ALL
            .iter()
            .map(|k| k.name())
            .collect();
        let ok = s == "library"
            || s.strip_prefix("blame:")
                .is_some_and(|k| kinds.iter().any(|n| n == k))
            || (s != checkers::blame::KIND.id && checkers::registry::get(s).is_some());
        if ok {
            return Ok(Until(s.to_string()));
        }
        let mut known = vec!["library".to_string()];
        known.extend(kinds.iter().map(|k| format!("blame:{k}")));
        known.extend(
            checkers::registry::CHECKS
                .iter()
                .filter(|c| c.id != checkers::blame::KIND.id)
                .map(|c| c.id.to_string()),
        );
        Err(crate::suggest::unknown("finding", s, &known))
    }
}

impl std::fmt::Display for Until {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl Until {
    pub fn matches(&self, key: &Key) -> bool {
        match self.0.strip_prefix("blame:") {
            _ if self.0 == "library" => key.class() == "library",
            Some(kind) => key.check == checkers::blame::KIND.id && key.kind == kind,
            None => key.check == self.0,
        }
    }
}

/// One finding of one run, with the first detail in words.
pub fn of_run(r: &RunResult) -> Vec<(Key, String)> {
    let mut found: Vec<(Key, String)> = Vec::new();
    if let Some(b) = &r.checks.blame {
        for f in &b.findings {
            let first = f.detail.split_whitespace().next().unwrap_or_default();
            let call = if ["acquire", "extend", "release", "held"].contains(&first) {
                first
            } else {
                "background"
            };
            let key = Key {
                check: checkers::blame::KIND.id.into(),
                kind: f.kind.name(),
                call: call.into(),
            };
            if !found.iter().any(|(k, _)| *k == key) {
                found.push((key, f.detail.clone()));
            }
        }
    }
    for c in r
        .checks
        .checks
        .iter()
        .filter(|c| !c.advisory && c.violations > 0)
    {
        if c.id == checkers::blame::KIND.id {
            continue;
        }
        let detail = c
            .details
            .first()
            .cloned()
            .unwrap_or_else(|| c.headline.clone());
        found.push((
            Key {
                check: c.id.clone(),
                kind: String::new(),
                call: String::new(),
            },
            detail,
        ));
    }
    found
}

/// A group of runs that showed the same finding.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Group {
    #[serde(flatten)]
    pub key: Key,
    pub class: String,
    /// The first run (its number in this explore, or `shard/number` in a merge) and when it
    /// ended, in seconds since explore began.
    pub first_run: String,
    pub first_at_s: f64,
    pub first_detail: String,
    /// The first run's folder (relative to the results folder) and the command replaying it.
    pub run_dir: Option<String>,
    pub replay: String,
    pub runs: u64,
    pub seeds: BTreeSet<u64>,
    /// The library's matrix row already shows this check (and kind).
    pub known: bool,
}

/// The findings a matrix row already shows: `(check, kind)` pairs, kind empty for a check
/// other than blame.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct Known {
    pub pairs: BTreeSet<(String, String)>,
    /// Where they were read from, or why there are none (in words).
    pub source: String,
}

impl Known {
    pub fn has(&self, key: &Key) -> bool {
        self.pairs.contains(&(key.check.clone(), key.kind.clone()))
    }

    /// The row `row` of the matrix findings at `path` — a matrix's `known.json` (or the
    /// published docs/known-findings.json), or its whole `matrix.json`; an absent file or row
    /// leaves nothing known, and says so.
    pub fn from_matrix(path: &Path, row: Option<&str>) -> anyhow::Result<Known> {
        let Some(row) = row else {
            return Ok(Known {
                source: "not a matrix library: every finding counts as new".into(),
                ..Known::default()
            });
        };
        if !path.exists() {
            return Ok(Known {
                source: format!(
                    "no matrix findings at {}: every finding counts as new (run `fencepost matrix --libraries {row}`, or pass --known docs/known-findings.json)",
                    path.display()
                ),
                ..Known::default()
            });
        }
        let text = std::fs::read_to_string(path)
            .map_err(|e| anyhow::anyhow!("cannot read {}: {e}", path.display()))?;
        let bad = |e: serde_json::Error| {
            anyhow::anyhow!(
                "{} is not a matrix's known.json or matrix.json: {e} (give --known results/latest-matrix/known.json)",
                path.display()
            )
        };
        let value: serde_json::Value = serde_json::from_str(&text).map_err(bad)?;
        let rows: RowFindings = if value.get("cells").is_some() {
            serde_json::from_value::<MatrixReport>(value)
                .map_err(bad)?
                .row_findings()
        } else {
            serde_json::from_value(value).map_err(bad)?
        };
        Ok(match rows.rows.get(row) {
            Some(pairs) => Known {
                pairs: pairs.clone(),
                source: format!(
                    "{row}'s row of the matrix {} ({}, {} faults × seeds {:?})",
                    rows.stamp,
                    path.display(),
                    rows.faults.len(),
                    rows.seeds
                ),
            },
            None => Known {
                source: format!(
                    "the matrix at {} has no row for {row}: every finding counts as new",
                    path.display()
                ),
                ..Known::default()
            },
        })
    }
}

/// The groups, as runs end.
#[derive(Default)]
pub struct Groups {
    pub groups: Vec<Group>,
}

/// One run's place: its name in the report, seed, folder, replay command, end time.
pub struct RunRef<'a> {
    pub name: String,
    pub seed: u64,
    pub run_dir: Option<String>,
    pub replay: &'a str,
    pub at_s: f64,
}

impl Groups {
    /// Adds a run's findings; returns the keys that were new to this explore.
    pub fn add(&mut self, found: &[(Key, String)], run: &RunRef, known: &Known) -> Vec<Key> {
        let mut fresh = Vec::new();
        for (key, detail) in found {
            match self.groups.iter_mut().find(|g| g.key == *key) {
                Some(g) => {
                    g.runs += 1;
                    g.seeds.insert(run.seed);
                }
                None => {
                    fresh.push(key.clone());
                    self.groups.push(Group {
                        key: key.clone(),
                        class: key.class().into(),
                        first_run: run.name.clone(),
                        first_at_s: run.at_s,
                        first_detail: checkers::quote::clip(detail).to_string(),
                        run_dir: run.run_dir.clone(),
                        replay: run.replay.to_string(),
                        runs: 1,
                        seeds: [run.seed].into(),
                        known: known.has(key),
                    })
                }
            }
        }
        fresh
    }

    /// Library findings first, then by first appearance.
    pub fn sorted(mut self) -> Vec<Group> {
        self.groups.sort_by(|a, b| {
            (a.class != "library", a.first_at_s)
                .partial_cmp(&(b.class != "library", b.first_at_s))
                .unwrap_or(std::cmp::Ordering::Equal)
        });
        self.groups
    }
}

/// The default matrix findings to compare with: the newest matrix's under the results folder.
pub fn default_known(results_dir: &Path) -> PathBuf {
    results_dir
        .join(crate::matrix::LATEST)
        .join(crate::matrix::report::KNOWN)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(check: &str, kind: &str, call: &str) -> Key {
        Key {
            check: check.into(),
            kind: kind.into(),
            call: call.into(),
        }
    }

    #[test]
    fn known_findings_come_from_the_published_matrix_row() {
        let docs = Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/known-findings.json");
        let k = Known::from_matrix(&docs, Some("redis-py")).unwrap();
        assert!(
            k.has(&key("blame", "grant-after-lease", "acquire")),
            "{k:?}"
        );
        assert!(k.has(&key("mutual_exclusion", "", "")));
        assert!(!k.has(&key("blame", "renewal-retook", "background")));
        let none = Known::from_matrix(&docs, Some("no-such-lib")).unwrap();
        assert!(none.pairs.is_empty() && none.source.contains("no row for no-such-lib"));
        let absent =
            Known::from_matrix(Path::new("/nonexistent/known.json"), Some("redis-py")).unwrap();
        assert!(absent.pairs.is_empty() && absent.source.contains("every finding counts as new"));
        let own = Known::from_matrix(&docs, None).unwrap();
        assert!(own.pairs.is_empty());
    }

    #[test]
    fn until_names_a_check_or_a_kind_of_wrong_answer() {
        let late = key("blame", "grant-after-lease", "acquire");
        let overlap = key("mutual_exclusion", "", "");
        let u = |s: &str| s.parse::<Until>().unwrap();
        assert!(u("library").matches(&late) && !u("library").matches(&overlap));
        assert!(u("blame:grant-after-lease").matches(&late));
        assert!(!u("blame:renewal-retook").matches(&late));
        assert!(u("mutual_exclusion").matches(&overlap));
        let err = "blame:grant-after-leas".parse::<Until>().unwrap_err();
        assert!(
            err.contains("did you mean `blame:grant-after-lease`"),
            "{err}"
        );
        assert!("blame".parse::<Until>().is_err());
    }

    #[test]
    fn the_same_finding_in_two_runs_is_one_group_and_known_kinds_are_marked() {
        let known = Known {
            pairs: [("blame".to_string(), "grant-after-lease".to_string())].into(),
            source: "test".into(),
        };
        let mut g = Groups::default();
        let late = key("blame", "grant-after-lease", "acquire");
        let retake = key("blame", "renewal-retook", "background");
        let run = |name: &str, seed, at_s| RunRef {
            name: name.into(),
            seed,
            run_dir: None,
            replay: "fencepost scenario x --seed 1",
            at_s,
        };
        assert_eq!(
            g.add(&[(late.clone(), "a".into())], &run("1", 7, 1.0), &known),
            vec![late.clone()]
        );
        assert!(g
            .add(&[(late.clone(), "b".into())], &run("2", 8, 2.0), &known)
            .is_empty());
        g.add(
            &[
                (key("mutual_exclusion", "", ""), "c".into()),
                (retake.clone(), "d".into()),
            ],
            &run("3", 9, 3.0),
            &known,
        );
        let groups = g.sorted();
        assert_eq!(groups.len(), 3);
        assert_eq!(groups[0].key, late);
        assert_eq!(groups[0].runs, 2);
        assert_eq!(groups[0].seeds, [7, 8].into());
        assert!(groups[0].known);
        assert_eq!(groups[1].key, retake);
        assert!(!groups[1].known);
        assert_eq!(groups[2].class, "physics");
    }
}
