//! Judging a saved run: read its folder, run every checker, weigh the expectations.
//!
//! The runner calls this on the files it has just written, and `fencepost check RUN_DIR` calls
//! it on any saved run — one code path, so what a run reports is exactly what a re-check of its
//! folder reports.

use crate::judge::{self, Outcome};
use crate::run_result::RunResult;
use crate::scenario::{expect, Scenario};
use crate::store::{self, RunMeta};
use anyhow::Context;
use checkers::history::parse_jsonl;
use checkers::ResourceLog;
use std::path::Path;

/// Reads a run folder and judges it. `interrupted` comes from the runner (a re-check reads the
/// flag back from a previous results.json when there is one).
pub fn analyse(run_dir: &Path, interrupted: Option<bool>) -> anyhow::Result<RunResult> {
    let meta: RunMeta = read_json(&run_dir.join(store::RUN_META))?;
    let scenario_path = run_dir.join(store::SCENARIO);
    let scenario = Scenario::load(&scenario_path)?;

    let history_path = run_dir.join(store::HISTORY);
    let text = std::fs::read_to_string(&history_path).with_context(|| {
        format!(
            "cannot read {}: is this a fencepost run folder?",
            history_path.display()
        )
    })?;
    let read = parse_jsonl(&history_path.display().to_string(), &text)?;

    let resource_path = run_dir.join(store::RESOURCE);
    let resource: Option<ResourceLog> = if resource_path.exists() {
        let log: ResourceLog = read_json(&resource_path)?;
        log.validate()
            .map_err(|e| anyhow::anyhow!("{}: {e}", resource_path.display()))?;
        Some(log)
    } else {
        None
    };

    let mut options = expect::check_options(&scenario);
    options.blame = blame_input(run_dir)?;
    let checks = checkers::run::check_with(&read.history, resource.as_ref(), options);
    let interrupted = interrupted.unwrap_or_else(|| {
        read_json::<RunResult>(&run_dir.join(store::RESULTS))
            .map(|r| r.interrupted)
            .unwrap_or(
                // No results.json: the run never finished writing it (killed).
                true,
            )
    });
    let expectations = judge::judge(&scenario, &checks, interrupted);
    let outcome = Outcome::merge(expectations.iter().map(|j| j.outcome));
    let history_ms = match (read.history.ops.first(), read.history.ops.last()) {
        (Some(a), Some(b)) => (b.time_ns - a.time_ns) / 1_000_000,
        _ => 0,
    };
    Ok(RunResult {
        meta,
        description: scenario.description.clone(),
        lock: scenario.lock.kind.name().to_string(),
        fenced: scenario.resource.fenced,
        faults: scenario
            .fault_names()
            .iter()
            .map(|s| s.to_string())
            .collect(),
        run_dir: run_dir.display().to_string(),
        interrupted,
        torn_last_line: read.torn_last_line,
        history_ms,
        checks,
        client: read_json(&run_dir.join(store::CLIENT)).ok(),
        expectations,
        outcome,
    })
}

/// The lock nodes' own record, when the run's taps journaled one.
fn blame_input(run_dir: &Path) -> anyhow::Result<Option<checkers::blame::BlameInput>> {
    let meta = run_dir.join(store::TAPS);
    if !meta.exists() {
        return Ok(None);
    }
    let meta: crate::runner::TapsMeta = read_json(&meta)?;
    let path = run_dir.join(store::NODE_EVENTS);
    let text = std::fs::read_to_string(&path).unwrap_or_default();
    let events = checkers::node_record::parse(&text)
        .map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
    Ok(Some(checkers::blame::BlameInput {
        record: checkers::node_record::NodeRecord::from_events(&events),
        nodes: meta.nodes,
    }))
}

/// Writes results.json and summary.md into the run folder.
pub fn write_results(run_dir: &Path, result: &RunResult) -> anyhow::Result<()> {
    store::write_json(&run_dir.join(store::RESULTS), result)?;
    std::fs::write(run_dir.join(store::SUMMARY), result.summary())
        .with_context(|| format!("cannot write {}", run_dir.join(store::SUMMARY).display()))
}

fn read_json<T: serde::de::DeserializeOwned>(path: &Path) -> anyhow::Result<T> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    serde_json::from_str(&text).map_err(|e| anyhow::anyhow!("{}:{}: {e}", path.display(), e.line()))
}
