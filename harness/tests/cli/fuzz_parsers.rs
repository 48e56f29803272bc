//! Fuzzing the parsers that read what users and crashes hand us: scenario files, fencepost
//! history files (JSON lines) and Jepsen EDN histories. Property: never a panic; a rejected input
//! is an error naming the file. Budget: 3,000 cases per parser per `cargo test` run (proptest,
//! fixed seed so a failure replays), over mutations of real inputs and raw random text.

use checkers::linearizable::{check_text, Budget};
use checkers::model::ModelKind;
use fencepost::scenario::Scenario;
use proptest::prelude::*;
use proptest::test_runner::{Config, RngAlgorithm, TestRng, TestRunner};
use std::path::Path;

const CASES: u32 = 3_000;

fn runner() -> TestRunner {
    let config = Config {
        cases: CASES,
        failure_persistence: None,
        ..Config::default()
    };
    TestRunner::new_with_rng(config, TestRng::from_seed(RngAlgorithm::ChaCha, &[7; 32]))
}

fn baseline() -> String {
    std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../scenarios/gc-pause.toml"),
    )
    .unwrap()
}

/// An edit of a text: replace a byte range with a snippet.
fn mutate(text: &str, at: usize, len: usize, snippet: &str) -> String {
    let bytes = text.as_bytes();
    let at = at % (bytes.len() + 1);
    let end = (at + len).min(bytes.len());
    let mut out = bytes[..at].to_vec();
    out.extend_from_slice(snippet.as_bytes());
    out.extend_from_slice(&bytes[end..]);
    String::from_utf8_lossy(&out).into_owned()
}

fn snippet() -> impl Strategy<Value = String> {
    prop_oneof![
        Just(String::new()),
        Just("\"".to_string()),
        Just("[[nemesis]]\n".to_string()),
        Just("= ".to_string()),
        Just("0".to_string()),
        Just("-1".to_string()),
        Just("\"99999999999999999999s\"".to_string()),
        Just("\n[run]\n".to_string()),
        Just("kind = \"partition\"\n".to_string()),
        "[ -~\n]{0,12}",
    ]
}

#[test]
fn scenario_parser_never_panics() {
    let base = baseline();
    let mut runner = runner();
    runner
        .run(
            &(any::<usize>(), 0usize..40, snippet()),
            |(at, len, snip)| {
                let text = mutate(&base, at, len, &snip);
                if let Err(e) = Scenario::parse(Path::new("fuzz.toml"), &text) {
                    prop_assert!(
                        e.to_string().starts_with("fuzz.toml"),
                        "error does not name the file: {e}"
                    );
                }
                Ok(())
            },
        )
        .unwrap();
}

const HISTORY: &str = concat!(
    r#"{"index":0,"time_ns":1,"process":{"client":0},"type":"invoke","f":"acquire","value":{"lease":{"key":"k","ttl_ms":100}}}"#,
    "\n",
    r#"{"index":1,"time_ns":2,"process":{"client":0},"type":"ok","f":"acquire","value":{"granted":{"fence":1,"token":"t","validity_end_ns":90}}}"#,
    "\n",
    r#"{"index":2,"time_ns":3,"process":{"client":1},"type":"invoke","f":"acquire","value":{"lease":{"key":"k","ttl_ms":100}}}"#,
    "\n",
    r#"{"index":3,"time_ns":4,"process":{"client":1},"type":"ok","f":"acquire","value":"denied"}"#,
    "\n",
    r#"{"index":4,"time_ns":5,"process":{"client":0},"type":"invoke","f":"release","value":{"held":{"key":"k","fence":1}}}"#,
    "\n",
    r#"{"index":5,"time_ns":6,"process":{"client":0},"type":"ok","f":"release","value":"released"}"#,
    "\n",
);

const EDN: &str = "{:type :invoke, :f :acquire, :process 0, :time 1}\n{:type :ok, :f :acquire, :process 0, :time 2}\n{:type :invoke, :f :release, :process 0, :time 3}\n{:type :ok, :f :release, :process 0, :time 4}\n";

fn check_never_panics(base: &'static str) {
    let mut runner = runner();
    let budget = Budget {
        time_ms: 200,
        memory_mb: 64,
    };
    runner
        .run(
            &(any::<usize>(), 0usize..30, snippet()),
            |(at, len, snip)| {
                let text = mutate(base, at, len, &snip);
                let _ = checkers::history::parse_jsonl("fuzz.jsonl", &text);
                for model in [ModelKind::Lock, ModelKind::Mutex] {
                    if let Err(e) = check_text(model, "fuzz.hist", &text, &budget) {
                        let msg = e.to_string();
                        prop_assert!(
                            msg.contains("fuzz.hist"),
                            "error does not name the file: {msg}"
                        );
                    }
                }
                Ok(())
            },
        )
        .unwrap();
}

#[test]
fn fencepost_history_parser_never_panics() {
    check_never_panics(HISTORY);
}

#[test]
fn edn_history_parser_never_panics() {
    check_never_panics(EDN);
}

#[test]
fn random_text_never_panics_any_parser() {
    let mut runner = runner();
    runner
        .run(&"[ -~\n{}\\[\\]:\"]{0,200}", |text| {
            let _ = Scenario::parse(Path::new("fuzz.toml"), &text);
            let _ = checkers::history::parse_jsonl("fuzz.jsonl", &text);
            let _ = checkers::edn::parse(&text);
            Ok(())
        })
        .unwrap();
}
