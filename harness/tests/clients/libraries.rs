//! Every shipped lock library, installed on first use into its own environment and driven
//! through the client protocol, fault-free: no violation of any kind, enough grants to say so,
//! and the library and version it actually loaded named in the run.
//!
//! Needs the runtimes the adapters run on (`.ci/run` installs python3-venv, nodejs and npm) and
//! the package registries on first use; a missing one fails with the adapter's own message.

use crate::common::*;

#[test]
fn every_library_runs_fault_free_without_a_violation() {
    let results = results_dir("libraries");
    let mut failures = Vec::new();
    let adapters = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../adapters");
    let libraries = fencepost::matrix::libraries(&adapters);
    assert!(libraries.len() >= 7, "{libraries:?}");
    for library in &libraries {
        let _serial = SERIAL.lock().unwrap_or_else(|p| p.into_inner());
        let out = library_baseline(library, &["--duration", "12s"], &results);
        let text = text(&out);
        let named = text.contains(&format!("client: **{library} "));
        if out.status.code() != Some(0) || !named {
            failures.push(format!(
                "--- {library} (exit {:?}):\n{text}",
                out.status.code()
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
