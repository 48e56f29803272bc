//! The nightly workflow validates against GitHub's workflow schema (action-validator from npm,
//! pinned by scripts/workflow-lint/package-lock.json), and fans the suite out over shards that a
//! last job merges — the CI's job matrix is the engine, not a scheduler of fencepost's own.

use std::path::{Path, PathBuf};
use std::process::Command;

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn lint(files: &[&Path]) -> std::process::Output {
    Command::new(repo().join("scripts/workflow-lint/lint.sh"))
        .args(files)
        .output()
        .expect("scripts/workflow-lint/lint.sh runs (it needs npm: .ci/run installs it)")
}

#[test]
fn the_nightly_workflow_validates_and_a_broken_one_does_not() {
    let nightly = repo().join(".github/workflows/nightly.yml");
    let out = lint(&[&nightly]);
    assert!(
        out.status.success(),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );

    let text = std::fs::read_to_string(&nightly).unwrap();
    let broken = std::env::temp_dir().join(format!("fencepost-broken-{}.yml", std::process::id()));
    std::fs::write(&broken, text.replacen("runs-on:", "runz-on:", 1)).unwrap();
    let out = lint(&[&broken]);
    let _ = std::fs::remove_file(&broken);
    assert!(!out.status.success(), "a misspelt key must not validate");
}

#[test]
fn the_nightly_workflow_shards_the_suite_and_merges_the_shards() {
    let text = std::fs::read_to_string(repo().join(".github/workflows/nightly.yml")).unwrap();
    let shards = text
        .lines()
        .find_map(|l| l.trim().strip_prefix("shard: ["))
        .expect("a job matrix of shards");
    let n = shards.trim_end_matches(']').split(',').count();
    assert!(n >= 2, "{shards}");
    assert!(
        text.contains(&format!("SHARDS: \"{n}\"")),
        "SHARDS matches the matrix"
    );
    assert!(text.contains("--shard \"${{ matrix.shard }}/$SHARDS\""));
    assert!(text.contains("needs: shard") && text.contains("fencepost suite merge"));
}

#[test]
fn the_nightly_workflow_explores_every_library_in_parts_and_merges_them() {
    let text = std::fs::read_to_string(repo().join(".github/workflows/nightly.yml")).unwrap();
    let parts = text
        .lines()
        .find_map(|l| l.trim().strip_prefix("part: ["))
        .expect("a job matrix of explore parts");
    let n = parts.trim_end_matches(']').split(',').count();
    assert!(n >= 2, "{parts}");
    assert!(text.contains(&format!("EXPLORE_PARTS: \"{n}\"")));
    assert!(text.contains("--shard \"${{ matrix.part }}/$EXPLORE_PARTS\""));
    assert!(text.contains("needs: explore") && text.contains("fencepost explore merge"));
    // Every library of the matrix is explored (its rows: adapters that do not leave it).
    let libraries = fencepost::matrix::libraries(&repo().join("adapters"));
    let listed = text
        .lines()
        .find_map(|l| l.trim().strip_prefix("library: ["))
        .expect("a job matrix of libraries");
    for l in &libraries {
        assert!(
            listed.split(", ").any(|x| x.trim_end_matches(']') == l),
            "{l} is not explored: {listed}"
        );
    }
    // The known findings it compares with are published and cover every library.
    let known: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(repo().join("docs/known-findings.json")).unwrap(),
    )
    .unwrap();
    for l in &libraries {
        assert!(
            known["rows"].get(l).is_some(),
            "docs/known-findings.json has no row for {l}"
        );
    }
}
