//! `fencepost check --model MODEL FILE`: is a history file linearizable under a model?
//!
//! Reads fencepost's `history.jsonl` or Jepsen's `history.edn` (told apart by their text), prints
//! the verdict and — when the history is not linearizable — the op that cannot be linearized,
//! the longest linearizable prefix before it and the state it left, in plain words. Exit codes:
//! 0 linearizable, 1 not, 3 unknown (the budget ran out). An unreadable or malformed history or
//! an unknown model is an error, which the binary turns into exit code 2.

use checkers::linearizable::{check_file, Budget};
use checkers::model::ModelKind;
use std::path::Path;

/// Checks `path` (a history file, or a run folder holding `history.jsonl`) against `model`
/// within `budget_ms`; prints the report and returns the exit code.
pub fn run(model: &str, path: &Path, budget_ms: u64) -> anyhow::Result<i32> {
    let model: ModelKind = model.parse()?;
    let file = if path.is_dir() {
        path.join("history.jsonl")
    } else {
        path.to_path_buf()
    };
    let budget = Budget {
        time_ms: budget_ms,
        ..Budget::default()
    };
    let report = check_file(model, &file, &budget)?;
    print!("{report}");
    Ok(report.exit_code())
}
