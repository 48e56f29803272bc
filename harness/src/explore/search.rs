//! The search's memory: what it has seen (the corpus of schedules and their words, each fault
//! kind's credit), what it has found (the groups of findings) and what it has run — and the two
//! decisions made from it: the next schedule, and what a finished run taught.

use super::corpus::Corpus;
use super::findings::{self, Groups, Known, RunRef};
use super::palette::Palette;
use super::{mutate, plan, signature, ExploreOptions, ExploreRun, MUTATE_SHARE};
use crate::scenario::Scenario;
use crate::suite::child::CaseEnd;
use rand::Rng;
use rand_chacha::ChaCha8Rng;
use std::collections::BTreeMap;
use std::path::Path;
use std::time::Instant;

/// A run in flight.
pub struct Pending {
    pub number: usize,
    pub seed: u64,
    /// `fresh`, or `mutant of N: what changed`.
    pub origin: String,
    pub scenario: Scenario,
    /// The schedule's file, relative to the explore folder.
    pub schedule: String,
    pub replay: String,
    pub pid: u32,
    pub started: Instant,
}

pub struct Search<'a> {
    opts: &'a ExploreOptions,
    palette: Palette,
    corpus: Corpus,
    groups: Groups,
    known: Known,
    runs: Vec<ExploreRun>,
    rng: ChaCha8Rng,
}

impl<'a> Search<'a> {
    pub fn new(
        opts: &'a ExploreOptions,
        kinds: Vec<&'static str>,
        known: Known,
        rng: ChaCha8Rng,
    ) -> Search<'a> {
        Search {
            opts,
            palette: Palette::new(kinds, !opts.random),
            corpus: Corpus::default(),
            groups: Groups::default(),
            known,
            runs: Vec::new(),
            rng,
        }
    }

    /// The next schedule: a mutant of a corpus entry (guided, most of the time) or a fresh draw.
    /// The parent is picked by energy (the rarity of what it showed); the mutation works on one
    /// of its faults chosen by the palette's weights (what each kind's runs paid, with UCB1's
    /// bonus for the kinds tried least), so the kinds' weights steer the mutants as they steer
    /// the fresh draws. An entry's first mutant puts that fault's strength between the lease and
    /// the op timeout and changes nothing else; its second does that and turns one of the
    /// fault's choices; later ones are havoc (one to three mutations).
    pub fn next_schedule(&mut self) -> anyhow::Result<(Scenario, String)> {
        let rng = &mut self.rng;
        if !self.opts.random && rng.random_bool(MUTATE_SHARE) {
            if let Some(pick) = self.corpus.pick(rng) {
                let s = &pick.scenario;
                let focus = self.palette.pick_among(&s.fault_names(), rng);
                let staged = match pick.nth {
                    1 => mutate::between_waits_of(s, focus, false, rng),
                    2 => mutate::between_waits_of(s, focus, true, rng),
                    _ => None,
                };
                let child = staged.or_else(|| mutate::mutate(s, &self.palette, focus, rng));
                if let Some((mut child, what)) = child {
                    child.server = self.opts.server.clone();
                    return Ok((child, format!("mutant of {}: {what}", pick.run)));
                }
            }
        }
        let target = &self.opts.target;
        let mut s = plan::fresh(target, &self.palette, rng)
            .map_err(|e| anyhow::anyhow!("cannot draw a schedule for {}: {e}", target.label()))?;
        s.server = self.opts.server.clone();
        Ok((s, "fresh".into()))
    }

    /// The seed of the next run.
    pub fn run_seed(&mut self) -> u64 {
        self.rng.random_range(1..1_000_000u64)
    }

    /// The `--until` finding appeared.
    pub fn reached(&self) -> bool {
        self.opts
            .until
            .as_ref()
            .is_some_and(|u| self.groups.groups.iter().any(|g| u.matches(&g.key)))
    }

    /// A run ended: its signature joins the corpus, its findings their groups, its faults earn
    /// credit. Returns its line in the report, and whether it was interrupted.
    pub fn learn(&mut self, p: Pending, end: CaseEnd, at_s: f64) -> (&ExploreRun, bool) {
        let mut run = ExploreRun {
            number: p.number,
            seed: p.seed,
            origin: p.origin,
            faults: p
                .scenario
                .fault_names()
                .iter()
                .map(|k| k.to_string())
                .collect(),
            clients: p.scenario.run.clients,
            schedule: p.schedule,
            run_dir: None,
            at_s,
            wall_ms: p.started.elapsed().as_millis() as u64,
            grants: 0,
            words: 0,
            new_words: 0,
            findings: Vec::new(),
            error: None,
        };
        let mut interrupted = false;
        match end {
            CaseEnd::Judged(r) if r.interrupted => {
                interrupted = true;
                run.error = Some("interrupted".into());
            }
            CaseEnd::Judged(r) => {
                let rel = Path::new(&r.run_dir)
                    .strip_prefix(&self.opts.results_dir)
                    .unwrap_or(Path::new(&r.run_dir))
                    .display()
                    .to_string();
                run.run_dir = Some(rel);
                run.grants = r.checks.counts.grants;
                let words = signature::of_run(&r);
                let found = findings::of_run(&r);
                let here = RunRef {
                    name: p.number.to_string(),
                    seed: p.seed,
                    run_dir: run.run_dir.clone(),
                    replay: &p.replay,
                    at_s,
                };
                let new_groups = self.groups.add(&found, &here, &self.known).len();
                run.words = words.len();
                run.new_words = self.corpus.admit(
                    p.number,
                    &p.scenario,
                    &words,
                    new_groups,
                    at_s,
                    self.runs.len() + 1,
                );
                run.findings = found.iter().map(|(k, _)| k.label()).collect();
                self.palette.credit(&run.faults, run.new_words, new_groups);
            }
            // The cause is at the end (the run's last log lines follow the command).
            CaseEnd::Failed(e) => {
                let last = e.lines().rev().find(|l| !l.trim().is_empty()).unwrap_or(&e);
                run.error = Some(checkers::quote::clip(last.trim()).to_string());
            }
            CaseEnd::Interrupted => {
                interrupted = true;
                run.error = Some("interrupted before it had a history".into());
            }
        }
        self.runs.push(run);
        (self.runs.last().expect("just pushed"), interrupted)
    }

    /// "14 runs · 37 words · findings: 2 blame: grant-after-lease (acquire) NEW, 5 mutual
    /// exclusion".
    pub fn progress(&self) -> String {
        let found: Vec<String> = self
            .groups
            .groups
            .iter()
            .map(|g| {
                format!(
                    "{} {}{}",
                    g.runs,
                    g.key.label(),
                    if g.known { "" } else { " NEW" }
                )
            })
            .collect();
        format!(
            "{} runs · {} words · findings: {}",
            self.runs.len(),
            self.corpus.seen.len(),
            if found.is_empty() {
                "none".into()
            } else {
                found.join(", ")
            }
        )
    }

    /// What the search leaves: its runs in order, the groups, the corpus, each kind's final
    /// weight, and where the known findings came from.
    pub fn finish(
        mut self,
    ) -> (
        Vec<ExploreRun>,
        Vec<findings::Group>,
        Corpus,
        BTreeMap<String, f64>,
        Known,
    ) {
        self.runs.sort_by_key(|r| r.number);
        let weights = self
            .palette
            .kinds()
            .iter()
            .zip(self.palette.weights())
            .map(|(k, w)| (k.to_string(), w))
            .collect();
        (
            self.runs,
            self.groups.sorted(),
            self.corpus,
            weights,
            self.known,
        )
    }
}
