//! Bad input gets a clear error, never a panic: a table of scenario files, command lines and
//! history files, each of which must exit 2 with a message naming the file (and line, or field)
//! and what is wrong.

use crate::common::*;
use std::path::{Path, PathBuf};
use std::process::Command;

struct Case {
    name: &'static str,
    args: Vec<String>,
    /// Every one of these must appear in stderr.
    expect: Vec<String>,
}

fn base() -> String {
    std::fs::read_to_string(scenario("baseline")).unwrap()
}

/// A scenario file case: `edit` turns the baseline file into a bad one.
fn scenario_case(
    dir: &Path,
    name: &'static str,
    edit: impl Fn(String) -> String,
    expect: &[&str],
) -> Case {
    let file = dir.join(format!("{name}.toml"));
    let text = edit(base());
    assert_ne!(text, base(), "case {name} does not change the file");
    std::fs::write(&file, text).unwrap();
    let mut e: Vec<String> = expect.iter().map(|s| s.to_string()).collect();
    e.push(format!("{name}.toml"));
    Case {
        name,
        args: vec![
            "scenario".into(),
            file.display().to_string(),
            "--results".into(),
            dir.display().to_string(),
        ],
        expect: e,
    }
}

fn history_case(
    dir: &Path,
    name: &'static str,
    model: &str,
    ext: &str,
    text: &str,
    expect: &[&str],
) -> Case {
    let file: PathBuf = dir.join(format!("{name}.{ext}"));
    std::fs::write(&file, text).unwrap();
    let mut e: Vec<String> = expect.iter().map(|s| s.to_string()).collect();
    e.push(format!("{name}.{ext}"));
    Case {
        name,
        args: vec![
            "check".into(),
            "--model".into(),
            model.into(),
            file.display().to_string(),
        ],
        expect: e,
    }
}

fn cli_case(name: &'static str, args: &[&str], expect: &[&str]) -> Case {
    Case {
        name,
        args: args.iter().map(|s| s.to_string()).collect(),
        expect: expect.iter().map(|s| s.to_string()).collect(),
    }
}

const INVOKE: &str = r#"{"index":0,"time_ns":1,"process":{"client":0},"type":"invoke","f":"acquire","value":{"lease":{"key":"k","ttl_ms":100}}}"#;
const GRANT: &str = r#"{"index":1,"time_ns":2,"process":{"client":0},"type":"ok","f":"acquire","value":{"granted":{"fence":1,"token":"t","validity_end_ns":90}}}"#;

#[test]
fn every_bad_input_exits_2_with_a_clear_message_and_no_panic() {
    let dir = results_dir("bad-input");
    let r = |s: String, from: &str, to: &str| {
        assert!(s.contains(from), "{from} not in baseline");
        s.replacen(from, to, 1)
    };
    let mut cases = vec![
        // Scenario files.
        scenario_case(
            &dir,
            // appended after the file's last table ([expect]), so TOML puts it there
            "unknown_top_key",
            |s| s + "\ncolour = \"red\"\n",
            &["[expect] unknown key `colour`", "mutual_exclusion"],
        ),
        scenario_case(
            &dir,
            "unknown_key_before_any_table",
            |s| format!("colour = \"red\"\n{s}"),
            &["unknown field `colour`"],
        ),
        scenario_case(
            &dir,
            "unknown_run_key",
            |s| r(s, "clients = 5", "clients = 5\nclinets = 3"),
            &["clinets", ":9:"],
        ),
        scenario_case(
            &dir,
            "clients_wrong_type",
            |s| r(s, "clients = 5", "clients = \"five\""),
            &["invalid type"],
        ),
        scenario_case(
            &dir,
            "duration_without_unit",
            |s| r(s, "duration = \"8s\"", "duration = 8"),
            &["unit is missing"],
        ),
        scenario_case(
            &dir,
            "duration_bad_unit",
            |s| r(s, "duration = \"8s\"", "duration = \"8 sec\""),
            &["bad duration"],
        ),
        scenario_case(
            &dir,
            "duration_zero",
            |s| r(s, "duration = \"8s\"", "duration = \"0s\""),
            &["duration must be > 0"],
        ),
        scenario_case(
            &dir,
            "ttl_zero",
            |s| r(s, "ttl = \"300ms\"", "ttl = \"0ms\""),
            &["ttl must be > 0"],
        ),
        scenario_case(
            &dir,
            "clients_zero",
            |s| r(s, "clients = 5", "clients = 0"),
            &["out of range"],
        ),
        scenario_case(
            &dir,
            "drift_over_ttl",
            |s| r(s, "drift = \"5ms\"", "drift = \"400ms\""),
            &["drift"],
        ),
        scenario_case(
            &dir,
            "retry_inverted",
            |s| r(s, "retry_min = \"2ms\"", "retry_min = \"50ms\""),
            &["retry_min"],
        ),
        scenario_case(
            &dir,
            "single_on_three_nodes",
            |s| r(s, "kind = \"single\"", "kind = \"single\"\nnodes = 3"),
            &["runs on one node"],
        ),
        scenario_case(
            &dir,
            "unknown_lock_kind",
            |s| r(s, "kind = \"single\"", "kind = \"zookeeper\""),
            &["zookeeper"],
        ),
        scenario_case(
            &dir,
            "unknown_nemesis",
            |s| s + "\n[[nemesis]]\nkind = \"gc-paws\"\n",
            &["gc-paws"],
        ),
        scenario_case(
            &dir,
            "nemesis_missing_field",
            |s| {
                s.replacen(
                    "[expect]",
                    "[[nemesis]]\nkind = \"gc-pause\"\nstart = \"1s\"\nevery = \"2s\"\n\n[expect]",
                    1,
                )
            },
            &["missing field `pause`"],
        ),
        scenario_case(
            &dir,
            "unknown_shape",
            |s| {
                s.replacen("[expect]", "[[nemesis]]\nkind = \"partition\"\nshape = \"triangle\"\nstart = \"1s\"\nevery = \"2s\"\nduration = \"1s\"\n\n[expect]", 1)
            },
            &["triangle"],
        ),
        scenario_case(
            &dir,
            "prevented_without_fencing",
            |s| s + "prevented_min = 1\n",
            &["prevented_min needs"],
        ),
        scenario_case(
            &dir,
            "unknown_expectation",
            |s| {
                r(
                    s,
                    "mutual_exclusion = \"holds\"",
                    "mutual_exclusion = \"maybe\"",
                )
            },
            &["maybe"],
        ),
        scenario_case(&dir, "not_toml", |_| "this is [not toml\n".into(), &[":1:"]),
        scenario_case(
            &dir,
            "empty_file",
            |_| "\n".into(),
            &["missing field `name`"],
        ),
        scenario_case(
            &dir,
            "bad_name",
            |s| r(s, "name = \"baseline\"", "name = \"two words\""),
            &["name `two words`"],
        ),
        scenario_case(
            &dir,
            "nemesis_every_zero",
            |s| {
                s.replacen("[expect]", "[[nemesis]]\nkind = \"gc-pause\"\nstart = \"1s\"\nevery = \"0s\"\npause = \"1s\"\n\n[expect]", 1)
            },
            &["every must be > 0"],
        ),
        cli_case(
            "missing_scenario_file",
            &["scenario", "no-such-scenario"],
            &[
                "no-such-scenario.toml",
                "unknown scenario `no-such-scenario`",
                "gc-pause",
            ],
        ),
        // Command lines.
        cli_case(
            "unknown_subcommand",
            &["frobnicate"],
            &["unrecognized subcommand"],
        ),
        cli_case(
            "seed_not_a_number",
            &["scenario", "baseline", "--seed", "abc"],
            &["invalid value 'abc'"],
        ),
        cli_case(
            "duration_flag_without_unit",
            &["scenario", "baseline", "--duration", "5"],
            &["unit is missing"],
        ),
        cli_case(
            "unknown_lock_flag",
            &["scenario", "baseline", "--lock", "fancy"],
            &["unknown lock `fancy`"],
        ),
        cli_case(
            "check_missing_run_dir",
            &["check", "/nonexistent/run"],
            &["/nonexistent/run"],
        ),
        // The server: a kind that is none, a version there is no build of, a malformed one.
        cli_case(
            "server_unknown_kind",
            &["scenario", "baseline", "--server", "keydb@6"],
            &["`keydb` is not a server kind", "redis or valkey"],
        ),
        cli_case(
            "server_without_a_build",
            &["matrix", "--server", "redis@7.2"],
            &["cannot be obtained here", "OpenSSL 1.1", "redis@8.2.3"],
        ),
        cli_case(
            "server_without_cluster_support",
            &["scenario", "cluster-lock", "--server", "redis@6.2"],
            &["needs Redis 7.0 or later", "ADDSLOTSRANGE", "redis@6.2.14"],
        ),
        cli_case(
            "server_bad_version",
            &["suite", "nightly", "--server", "valkey@eight"],
            &["`eight` is not a server version", "8.2.3"],
        ),
        // Explore and shrink: refused before any run starts.
        cli_case(
            "explore_without_a_target",
            &["explore", "--budget", "1s"],
            &["say what to explore", "--client LIB"],
        ),
        cli_case(
            "explore_unknown_fault",
            &["explore", "--lock", "single", "--faults", "gc-pase"],
            &["unknown fault `gc-pase`", "did you mean `gc-pause`"],
        ),
        cli_case(
            "explore_fault_that_cannot_act",
            &["explore", "--lock", "single", "--faults", "process-kill"],
            &["`process-kill` cannot be drawn", "fencepost's single lock"],
        ),
        cli_case(
            "explore_zero_budget",
            &["explore", "--lock", "single", "--budget", "0s"],
            &["--budget 0s", "e.g. 30m"],
        ),
        cli_case(
            "explore_until_typo",
            &[
                "explore",
                "--lock",
                "single",
                "--until",
                "blame:grant-after-leas",
            ],
            &["did you mean `blame:grant-after-lease`"],
        ),
        cli_case(
            "explore_unknown_action",
            &["explore", "merg", "x"],
            &["unknown `fencepost explore merg`", "explore merge DIR"],
        ),
        cli_case(
            "explore_merge_not_an_explore",
            &["explore", "merge", "/nonexistent/x"],
            &["/nonexistent/x/explore.json", "results/explore-<stamp>"],
        ),
        cli_case(
            "explore_unknown_library",
            &["explore", "--client", "redis-pyy", "--budget", "1s"],
            &["redis-pyy", "redis-py"],
        ),
        cli_case(
            "shrink_not_a_run",
            &["shrink", "/nonexistent/run"],
            &["/nonexistent/run/results.json", "give a run folder"],
        ),
        cli_case(
            "shrink_share_out_of_range",
            &["shrink", "/nonexistent/run", "--share", "0"],
            &["--share 0", "(0, 1]"],
        ),
    ];
    // History files.
    cases.extend([
        history_case(
            &dir,
            "history_bad_json",
            "lock",
            "jsonl",
            &format!("{INVOKE}\nnot json\n{GRANT}\n"),
            &[":2"],
        ),
        history_case(
            &dir,
            "history_out_of_order",
            "lock",
            "jsonl",
            &format!("{GRANT}\n{INVOKE}\n"),
            &["order"],
        ),
        history_case(
            &dir,
            "history_duplicate_index",
            "lock",
            "jsonl",
            &format!(
                "{INVOKE}\n{}\n",
                GRANT.replace("\"index\":1", "\"index\":0")
            ),
            &["order"],
        ),
        history_case(
            &dir,
            "history_completion_without_invoke",
            "lock",
            "jsonl",
            &format!("{GRANT}\n"),
            &["never invoked"],
        ),
        history_case(
            &dir,
            "history_time_backwards",
            "lock",
            "jsonl",
            &format!(
                "{}\n{}\n",
                INVOKE.replace("\"time_ns\":1", "\"time_ns\":9"),
                GRANT
            ),
            &["time"],
        ),
        history_case(
            &dir,
            "edn_unbalanced",
            "lock",
            "edn",
            "{:type :invoke, :f :acquire, :process 0\n",
            &[],
        ),
        history_case(
            &dir,
            "edn_completion_without_invoke",
            "lock",
            "edn",
            "{:type :ok, :f :acquire, :value true, :process 0}\n",
            &[],
        ),
    ]);
    // A bad flag, not a bad file: the message names the model and the choices.
    let mut unknown_model = history_case(
        &dir,
        "unknown_model",
        "banana",
        "jsonl",
        &format!("{INVOKE}\n{GRANT}\n"),
        &[],
    );
    unknown_model.expect = vec!["unknown model `banana`".into(), "mutex, lock".into()];
    cases.push(unknown_model);
    assert!(
        cases.len() >= 30,
        "the table must hold at least 30 cases, has {}",
        cases.len()
    );

    let mut failures = Vec::new();
    for case in &cases {
        let out = Command::new(env!("CARGO_BIN_EXE_fencepost"))
            .args(&case.args)
            .current_dir(repo())
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr).to_string()
            + &String::from_utf8_lossy(&out.stdout);
        let mut problems = Vec::new();
        if out.status.code() != Some(2) {
            problems.push(format!("exit {:?}, expected 2", out.status.code()));
        }
        if err.contains("panicked") {
            problems.push("panicked".into());
        }
        for e in &case.expect {
            if !err.contains(e.as_str()) {
                problems.push(format!("message lacks `{e}`"));
            }
        }
        if !problems.is_empty() {
            failures.push(format!(
                "{}: {}\n    output: {}",
                case.name,
                problems.join("; "),
                err.trim()
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} cases failed:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
}
