//! Judging a saved run: read its folder, run every checker, weigh the expectations.
//!
//! The runner calls this on the files it has just written, and `fencepost check RUN_DIR` calls
//! it on any saved run — one code path, so what a run reports is exactly what a re-check of its
//! folder reports.

pub mod expectations;
pub mod options;
pub mod protocol;
pub mod result;

use crate::scenario::Scenario;
use crate::store::{self, RunMeta};
use anyhow::Context;
use checkers::ResourceLog;
pub use expectations::{judge, Judgement, Outcome};
pub use result::RunResult;
use std::path::Path;

/// Reads a run folder and judges it. `interrupted` comes from the runner (a re-check reads the
/// flag back from a previous results.json when there is one).
pub fn analyse(run_dir: &Path, interrupted: Option<bool>) -> anyhow::Result<RunResult> {
    let meta: RunMeta = read_json(&run_dir.join(store::RUN_META))?;
    let scenario_path = run_dir.join(store::SCENARIO);
    let scenario = Scenario::load(&scenario_path)?;

    let history_path = run_dir.join(store::HISTORY);
    let file = std::fs::File::open(&history_path).with_context(|| {
        format!(
            "cannot read {}: is this a fencepost run folder?",
            history_path.display()
        )
    })?;
    let mut options = options::check_options(&scenario);
    let read = read_history(&history_path, file, &options)?;

    let resource_path = run_dir.join(store::RESOURCE);
    let resource: Option<ResourceLog> = if resource_path.exists() {
        let log: ResourceLog = read_json(&resource_path)?;
        log.validate()
            .map_err(|e| anyhow::anyhow!("{}: {e}", resource_path.display()))?;
        Some(log)
    } else {
        None
    };

    if read.whole.is_some() {
        options.blame = nodes_record(run_dir)?;
    } else if run_dir.join(store::TAPS).exists() {
        // Not read: the blame checker reads a history whole; it says why it did not judge.
        options.blame = Some(Default::default());
    }
    let checks = checkers::run::check_streamed(
        read.streamed,
        read.whole.as_ref(),
        resource.as_ref(),
        options,
    );
    let interrupted = interrupted.unwrap_or_else(|| {
        read_json::<RunResult>(&run_dir.join(store::RESULTS))
            .map(|r| r.interrupted)
            .unwrap_or(
                // No results.json: the run never finished writing it (killed).
                true,
            )
    });
    let protocol =
        protocol::ProtocolReport::read(&run_dir.join("clients"), checks.counts.invocations)?;
    let expectations = judge(&scenario, &checks, interrupted, protocol.as_ref());
    let outcome = Outcome::merge(expectations.iter().map(|j| j.outcome));
    let history_ms = read
        .span_ns
        .map_or(0, |(first, last)| (last - first) / 1_000_000);
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
        server: read_json(&run_dir.join(store::SERVER)).ok(),
        protocol,
        expectations,
        outcome,
    })
}

/// The most ops a run's whole-history checkers are given: a longer history (a run of more than
/// a few minutes) is judged by the checkers that read it as it streams, and the others say
/// `unknown`, so judging an hour-long run takes the memory of a few minutes of it.
pub const WHOLE_HISTORY_OPS: usize = 250_000;

/// [`WHOLE_HISTORY_OPS`], or `FENCEPOST_WHOLE_HISTORY_OPS` when set (tests exercise the
/// long-run path on short runs with it). The binary checks the variable at start-up
/// ([`check_whole_history_ops`]), so a bad value is an error before any run, never a default.
pub fn whole_history_ops() -> usize {
    static LIMIT: std::sync::OnceLock<usize> = std::sync::OnceLock::new();
    *LIMIT.get_or_init(|| check_whole_history_ops().unwrap_or_else(|e| panic!("{e}")))
}

/// Reads `FENCEPOST_WHOLE_HISTORY_OPS`: unset is [`WHOLE_HISTORY_OPS`]; anything but a whole
/// number is an error that names the variable and the fix.
pub fn check_whole_history_ops() -> anyhow::Result<usize> {
    match std::env::var("FENCEPOST_WHOLE_HISTORY_OPS") {
        Err(_) => Ok(WHOLE_HISTORY_OPS),
        Ok(v) => v.trim().parse().map_err(|_| {
            anyhow::anyhow!(
                "FENCEPOST_WHOLE_HISTORY_OPS={v:?} is not a number of ops: set it to a whole number (e.g. 250000) or unset it"
            )
        }),
    }
}

/// A run's history as the checkers need it.
pub struct RunHistory {
    pub streamed: checkers::run::Streamed,
    /// The whole history, when it has at most [`whole_history_ops`] ops.
    pub whole: Option<checkers::History>,
    pub torn_last_line: Option<usize>,
    /// The first and last op's times.
    pub span_ns: Option<(u64, u64)>,
}

/// Reads `history.jsonl` a line at a time, validating it, feeding the streaming checkers and
/// keeping the ops while they are few enough.
pub fn read_history(
    path: &Path,
    file: std::fs::File,
    options: &checkers::run::CheckOptions,
) -> anyhow::Result<RunHistory> {
    let name = path.display().to_string();
    let ops = checkers::history::JsonlOps::new(&name, std::io::BufReader::new(file));
    let mut validator = checkers::history::Validator::default();
    let mut streamed = checkers::run::Streamed::new(usize::MAX, options);
    let mut kept: Option<Vec<checkers::Op>> = Some(Vec::new());
    let mut span_ns = None;
    let torn_last_line = ops.read_ahead(|op| -> anyhow::Result<()> {
        validator
            .push(&op)
            .map_err(|source| checkers::history::ParseError::Malformed {
                file: name.clone(),
                source,
            })?;
        span_ns = Some((span_ns.map_or(op.time_ns, |(first, _)| first), op.time_ns));
        if kept
            .as_ref()
            .is_some_and(|k| k.len() >= whole_history_ops())
        {
            // Too long to keep: from here on only what streams, with a bounded list of
            // violations. The ops read so far go through a bounded reader again.
            let whole = kept.take().expect("checked");
            streamed = checkers::run::Streamed::new(KEPT_VIOLATIONS, options);
            whole.iter().for_each(|o| streamed.push(o));
        }
        streamed.push(&op);
        if let Some(k) = &mut kept {
            k.push(op);
        }
        Ok(())
    })?;
    Ok(RunHistory {
        streamed,
        whole: kept.map(checkers::History::new),
        torn_last_line,
        span_ns,
    })
}

/// Violations of each kind a long run's results keep in full (all are counted).
pub const KEPT_VIOLATIONS: usize = 1_000;

/// The lock nodes' own record, when the run's taps journaled one (what blame judges by and the
/// timeline's node lanes draw).
pub fn nodes_record(run_dir: &Path) -> anyhow::Result<Option<checkers::node_record::NodesRecord>> {
    let meta = run_dir.join(store::TAPS);
    if !meta.exists() {
        return Ok(None);
    }
    let meta: store::TapsMeta = read_json(&meta)?;
    let path = run_dir.join(store::NODE_EVENTS);
    let text = std::fs::read_to_string(&path).unwrap_or_default();
    let events = checkers::node_record::parse(&text)
        .map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
    Ok(Some(checkers::node_record::NodesRecord {
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
    let file =
        std::fs::File::open(path).with_context(|| format!("cannot read {}", path.display()))?;
    serde_json::from_reader(std::io::BufReader::new(file))
        .map_err(|e| anyhow::anyhow!("{}:{}: {e}", path.display(), e.line()))
}
