//! Every kind of wrong answer blame judges, made by a deliberately flawed reference adapter in a
//! real run, is caught under its own name — and the correct adapter under the same workload
//! gives none.

use crate::common::*;
use std::path::{Path, PathBuf};
use std::process::Stdio;

/// The workloads the flaws need: every section short and contended; every section long (1.5 s,
/// past the 1 s ttl) and extended every third of the ttl; long and extended once, too late; long
/// and never extended.
const CONTENDED: &str = "";
const EXTENDED: &str = "long_section = \"1500ms\"\nlong_one_in = 1\n";
const EXTENDED_LATE: &str =
    "long_section = \"1500ms\"\nlong_one_in = 1\nextend_every = \"1200ms\"\n";
const UNEXTENDED: &str = "long_section = \"1500ms\"\nlong_one_in = 1\nextend_every = \"5s\"\n";

/// (flaw, workload, clients, the finding's words).
const CASES: [(&str, &str, u32, &str); 7] = [
    (
        "inflated-validity",
        CONTENDED,
        5,
        "validity promised beyond the nodes' lease",
    ),
    ("grant-always", CONTENDED, 5, "grant the nodes never made"),
    (
        "release-denies",
        CONTENDED,
        5,
        "said not released while it deleted the key",
    ),
    (
        "inflated-extension",
        EXTENDED,
        1,
        "extension's validity promised beyond the nodes' lease",
    ),
    (
        "extend-always",
        EXTENDED_LATE,
        1,
        "extension the nodes never made",
    ),
    (
        "release-any",
        UNEXTENDED,
        1,
        "released a key that was not the client's",
    ),
    (
        "held-forever",
        UNEXTENDED,
        1,
        "said held after the nodes' lease ended",
    ),
];

/// The baseline library scenario around fencepost's single lock (with `flaw`), `workload`
/// added to its [client] section, `clients` clients, no expectations.
fn scenario(dir: &Path, name: &str, flaw: &str, workload: &str, clients: u32) -> PathBuf {
    let bin = env!("CARGO_BIN_EXE_fencepost");
    let mut command = format!("\"{bin}\", \"adapter\", \"--lock\", \"single\"");
    if !flaw.is_empty() {
        command.push_str(&format!(", \"--flaw\", \"{flaw}\""));
    }
    let base = std::fs::read_to_string(repo().join("scenarios/libraries/baseline.toml")).unwrap();
    let head = base.split("[expect]").next().unwrap();
    let text = head
        .replace("name = \"lib-baseline\"", &format!("name = \"{name}\""))
        .replace("clients = 5", &format!("clients = {clients}"))
        .replace("long_section = \"1500ms\"\n", "")
        .replace("long_one_in = 40\n", "")
        .replace(
            "library = \"redis-py\"",
            &format!("command = [{command}]\nnodes = \"one\"\n{workload}"),
        );
    let file = dir.join(format!("{name}.toml"));
    std::fs::write(&file, text).unwrap();
    file
}

/// The blame check's findings by kind, and the check as text.
fn findings(results: &Path, name: &str, out: &str) -> (Vec<String>, String) {
    // results/<scenario name>/<run id>/results.json
    let dir = std::fs::read_dir(results.join(name))
        .unwrap_or_else(|e| {
            panic!(
                "no run folder for {name} in {}: {e}\n{out}",
                results.display()
            )
        })
        .flatten()
        .map(|e| e.path())
        .find(|p| p.join("results.json").is_file())
        .unwrap_or_else(|| panic!("no results.json for {name} in {}\n{out}", results.display()));
    let r: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("results.json")).unwrap()).unwrap();
    let kinds = r["checks"]["blame"]["findings"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|f| f["kind"].as_str().unwrap_or_default().to_string())
        .collect();
    let check = r["checks"]["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == "blame")
        .expect("a blame check")
        .to_string();
    (kinds, check)
}

fn run(results: &Path, file: &Path) -> String {
    let out = fencepost()
        .arg("scenario")
        .arg(file)
        .args(["--duration", "5s", "--seed", "1", "--results"])
        .arg(results)
        .stdout(Stdio::piped())
        .output()
        .unwrap();
    text(&out)
}

#[test]
fn each_kind_of_wrong_answer_is_caught_by_name_and_the_correct_lock_gives_none() {
    let results = results_dir("wrong-answers");
    let mut controls = Vec::new();
    for (flaw, workload, clients, words) in CASES {
        let name = format!("flaw-{flaw}");
        let out = run(
            &results,
            &scenario(&results, &name, flaw, workload, clients),
        );
        let (kinds, check) = findings(&results, &name, &out);
        assert!(!kinds.is_empty(), "{flaw}: no finding: {check}\n{out}");
        assert!(
            check.contains(words),
            "{flaw}: not named `{words}`: {check}"
        );
        if !controls.contains(&(workload, clients)) {
            controls.push((workload, clients));
        }
    }
    for (i, (workload, clients)) in controls.into_iter().enumerate() {
        let name = format!("correct-{i}");
        let out = run(&results, &scenario(&results, &name, "", workload, clients));
        let (kinds, check) = findings(&results, &name, &out);
        assert!(
            kinds.is_empty(),
            "correct lock, workload {workload:?}: {check}\n{out}"
        );
        assert!(check.contains("answers judged"), "{check}");
    }
}
