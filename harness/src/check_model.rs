//! `fencepost check --model MODEL FILE`: linearizability of a history file.

/// Placeholder until the linearizability checker lands: refuses clearly.
pub fn run(model: &str, path: &std::path::Path, _budget_ms: u64) -> anyhow::Result<i32> {
    anyhow::bail!(
        "checking {} against model `{model}` is not available in this build yet",
        path.display()
    )
}
