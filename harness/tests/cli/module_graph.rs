//! The house has no import cycle and none of the arrows docs/architecture.md forbids:
//! `scripts/module-graph` reads every crate's `use crate::…` paths and fails on either; and it
//! does fail on one (a planted cycle in a copy of the tree).

use std::path::{Path, PathBuf};
use std::process::Command;

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn graph(root: &Path) -> std::process::Output {
    Command::new("python3")
        .arg(repo().join("scripts/module-graph"))
        .env("FENCEPOST_GRAPH_ROOT", root)
        .output()
        .expect("python3 runs scripts/module-graph")
}

#[test]
fn the_module_graph_has_no_cycle_and_no_forbidden_arrow() {
    let out = graph(&repo());
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}");
    assert!(text.contains("no cycle, no forbidden arrow"), "{text}");
    assert!(
        text.contains("topology -> "),
        "the harness's parts are listed: {text}"
    );

    // A copy of the harness's sources with nodes importing the topology: refused twice over.
    let copy = std::env::temp_dir().join(format!("fencepost-test-graph-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&copy);
    let src = copy.join("harness/src");
    std::fs::create_dir_all(&src).unwrap();
    let status = Command::new("cp")
        .args(["-r"])
        .arg(repo().join("harness/src/."))
        .arg(&src)
        .status()
        .unwrap();
    assert!(status.success());
    let node = src.join("nodes/spawner.rs");
    let text = std::fs::read_to_string(&node).unwrap();
    std::fs::write(&node, format!("{text}\nuse crate::topology::Topology;\n")).unwrap();
    let out = graph(&copy);
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(!out.status.success(), "{said}");
    assert!(said.contains("CYCLE in harness"), "{said}");
    assert!(
        said.contains("FORBIDDEN in harness: nodes -> topology"),
        "{said}"
    );
    std::fs::remove_dir_all(&copy).unwrap();
}
