//! The control folder an `[engine]` topology shares with its node containers, at the same path
//! on both sides (`control_dir`): how a run reaches inside the nodes without a shell in them.
//!
//! - the clock library (`libfencepost_clock.so`), which the lock nodes preload (`LD_PRELOAD` in
//!   their service's environment), and one clock control file per lock node (`n1.clock`), which
//!   the run maps and bends, as for local nodes ([`crate::nodes::clock`]);
//! - one include file per node (`n1.conf`), which the node's command line includes last, holding
//!   the scenario's persistence: it is what a crashed container comes back with.
//!
//! Files are taken over, never truncated: a container that outlives a run keeps its clock file
//! mapped.

use super::engine::Engine;
use super::wait_answers;
use crate::nodes::clock::{self, NodeClock};
use crate::nodes::node::Persistence;
use anyhow::Context;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

/// Writes the clock library, takes over each lock node's clock file (no skew), and writes each
/// node's include file with its persistence. Returns the lock nodes' clocks, in order.
pub fn prepare(
    dir: &Path,
    lock_nodes: &[&str],
    includes: &[(String, Persistence)],
) -> anyhow::Result<Vec<Arc<NodeClock>>> {
    // The files are created private; a container's redis-server may run as another user, so
    // they are made readable (never writable) by others: they hold no secret.
    let readable = |path: &Path| {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o644))
            .with_context(|| format!("cannot make {} readable to the nodes", path.display()))
    };
    readable(&clock::install_library(dir)?)?;
    let mut clocks = Vec::new();
    for name in lock_nodes {
        let clock = NodeClock::create(&dir.join(format!("{name}.clock")))?;
        readable(clock.path())?;
        clocks.push(Arc::new(clock));
    }
    for (name, persistence) in includes {
        let path = dir.join(format!("{name}.conf"));
        std::fs::write(&path, persistence.config_text())
            .with_context(|| format!("cannot write {}", path.display()))?;
    }
    Ok(clocks)
}

/// How far the start-up probe skews a node's clock to see that the node follows its control file.
const PROBE_OFFSET_NS: i64 = 60_000_000_000;

/// Makes sure node `name`'s clock follows its control file: skews it by a minute and reads
/// `TIME`. A container started before the control file existed (or without the preload) does
/// not follow; it is restarted once — the library maps the file at process start — and checked
/// again, and if it still does not follow, the run is refused with the settings to check.
pub async fn take_clock(
    engine: &Engine,
    name: &str,
    url: &str,
    nc: &NodeClock,
) -> anyhow::Result<()> {
    let probe = || async {
        nc.jump(PROBE_OFFSET_NS);
        let r = crate::nodes::clock::confirm_clock(url, nc).await;
        nc.reset();
        r
    };
    if probe().await.is_ok() {
        return Ok(());
    }
    engine.kill(name).await?;
    engine.start(name).await?;
    wait_answers(url, Duration::from_secs(20))
        .await
        .map_err(|e| anyhow::anyhow!("node {name} after a restart for its clock: {e}"))?;
    probe().await.map(|_| ()).map_err(|e| {
        anyhow::anyhow!(
            "node {name}'s clock does not follow {}: {e}; its container needs LD_PRELOAD={} and {}={} in its environment (see docker/compose.yml)",
            nc.path().display(),
            nc.path().with_file_name(clock::LIBRARY_FILE).display(),
            clock::CONTROL_ENV,
            nc.path().display()
        )
    })
}
