//! The readers: EDN and fencepost histories into verdicts, errors that name the place.

use super::generate::{to_edn, to_jsonl, LockSim, RegisterSim};
use super::*;
use crate::history::{Grant, History, Op, OpKind, Process, Value, F};
use crate::model::ModelKind;

fn check(model: ModelKind, text: &str) -> Result<Report, CheckError> {
    check_text(model, "h.edn", text, &Budget::default())
}

#[test]
fn edn_denials_are_observations_and_fail_tells_nothing() {
    // Process 1 holds the lock; process 2 is denied meanwhile: fine.
    let ok = "{:type :invoke, :f :acquire, :process 1}
              {:type :ok, :f :acquire, :process 1}
              {:type :invoke, :f :acquire, :process 2}
              {:type :ok, :f :acquire, :value false, :process 2}
              {:type :invoke, :f :release, :process 1}
              {:type :ok, :f :release, :process 1}";
    let r = check(ModelKind::Lock, ok).unwrap();
    assert_eq!(r.outcome.verdict, Linearizability::Ok, "{r}");
    assert_eq!(r.format, SourceFormat::Edn);
    // Denied while nobody held it: not linearizable, and the denial is the op named.
    let lonely = "[{:type :invoke, :f :acquire, :process 2}
                   {:type :ok, :f :acquire, :value false, :process 2}]";
    let r = check(ModelKind::Lock, lonely).unwrap();
    assert_eq!(r.outcome.verdict, Linearizability::Illegal);
    assert_eq!(r.exit_code(), 1);
    assert!(r.to_string().contains("line 2"), "{r}");
    // A :fail acquire did not take effect and constrains nothing.
    let failed = "{:type :invoke, :f :acquire, :process 2}
                  {:type :fail, :f :acquire, :process 2}";
    let r = check(ModelKind::Lock, failed).unwrap();
    assert_eq!(r.outcome.verdict, Linearizability::Ok);
}

#[test]
fn edn_release_by_another_client_is_refused_by_lock_but_not_mutex() {
    let text = "{:type :invoke, :f :acquire, :process 1}
                {:type :ok, :f :acquire, :process 1}
                {:type :invoke, :f :release, :process 2}
                {:type :ok, :f :release, :process 2}";
    assert_eq!(
        check(ModelKind::Lock, text).unwrap().outcome.verdict,
        Linearizability::Illegal
    );
    assert_eq!(
        check(ModelKind::Mutex, text).unwrap().outcome.verdict,
        Linearizability::Ok
    );
}

#[test]
fn edn_independent_keys_are_checked_apart() {
    let text = "{:type :invoke, :f :write, :value [:x 1], :process 0}
                {:type :ok, :f :write, :value [:x 1], :process 0}
                {:type :invoke, :f :write, :value [:y 2], :process 1}
                {:type :ok, :f :write, :value [:y 2], :process 1}
                {:type :invoke, :f :read, :value [:x nil], :process 0}
                {:type :ok, :f :read, :value [:x 1], :process 0}
                {:type :invoke, :f :cas, :value [:y [2 3]], :process 1}
                {:type :ok, :f :cas, :value [:y [2 3]], :process 1}
                {:type :invoke, :f :read, :value [:y nil], :process 1}
                {:type :ok, :f :read, :value [:y 2], :process 1}";
    let r = check(ModelKind::CasRegister, text).unwrap();
    assert_eq!(r.outcome.partitions, 2);
    assert_eq!(r.outcome.verdict, Linearizability::Illegal);
    let w = r.outcome.witness.unwrap();
    assert_eq!(w.key.as_deref(), Some(":y"));
    assert_eq!(w.op.description, "read → 2");
    assert_eq!(w.state, "value 3");
}

#[test]
fn edn_errors_name_the_line() {
    let orphan =
        "{:type :invoke, :f :read, :process 0}\n{:type :ok, :f :read, :value 1, :process 3}";
    let err = check(ModelKind::Register, orphan).unwrap_err().to_string();
    assert!(
        err.starts_with("h.edn:2:") && err.contains("never invoked"),
        "{err}"
    );
    let unbalanced = "{:type :invoke, :f :read, :process 0}\n{:type :ok :f [:read, :process 0}";
    let err = check(ModelKind::Register, unbalanced)
        .unwrap_err()
        .to_string();
    assert!(err.contains("line 2, column"), "{err}");
    let unknown_f = "{:type :invoke, :f :txn, :value [], :process 0}";
    let err = check(ModelKind::Register, unknown_f)
        .unwrap_err()
        .to_string();
    assert!(err.contains("unsupported :f :txn"), "{err}");
    let wrong_model = "{:type :invoke, :f :cas, :value [1 2], :process 0}\n{:type :ok, :f :cas, :value [1 2], :process 0}";
    let err = check(ModelKind::Register, wrong_model)
        .unwrap_err()
        .to_string();
    assert!(err.contains("use --model cas-register"), "{err}");
    let no_ops = "{:type :invoke, :f :acquire, :process 0}";
    let err = check(ModelKind::Counter, no_ops).unwrap_err().to_string();
    assert!(err.contains("no counter ops"), "{err}");
}

#[test]
fn generated_lock_histories_get_the_right_verdict_in_both_formats() {
    for clients in [5, 20, 100] {
        for bad in [false, true] {
            let h = LockSim::new(3_000, clients, clients as u64, bad).history();
            let expected = if bad {
                Linearizability::Illegal
            } else {
                Linearizability::Ok
            };
            for text in [to_jsonl(&h), to_edn(&h)] {
                let r = check_text(ModelKind::Lock, "h", &text, &Budget::default()).unwrap();
                assert_eq!(r.outcome.verdict, expected, "{clients} clients: {r}");
                if bad {
                    let w = r.outcome.witness.as_ref().unwrap();
                    assert_eq!(w.op.description, "acquire → granted");
                    assert!(w.prefix.len() > 1_000, "{}", w.prefix.len());
                }
            }
        }
    }
}

#[test]
fn generated_register_histories_are_linearizable_and_read_alike() {
    for seed in 0..50 {
        let h = RegisterSim::etcd(seed).history();
        let a = check_text(
            ModelKind::CasRegister,
            "h",
            &to_jsonl(&h),
            &Budget::default(),
        )
        .unwrap();
        let b = check_text(ModelKind::CasRegister, "h", &to_edn(&h), &Budget::default()).unwrap();
        assert_eq!(a.outcome.verdict, Linearizability::Ok, "seed {seed}: {a}");
        assert_eq!(b.outcome.verdict, Linearizability::Ok, "seed {seed}: {b}");
        assert_eq!(a.outcome.ops, b.outcome.ops);
    }
}

fn op(index: u64, time_ms: u64, c: u32, kind: OpKind, f: F, value: Value) -> Op {
    Op {
        index,
        time_ns: time_ms * 1_000_000,
        process: Process::Client(c),
        kind,
        f,
        value,
    }
}

fn lease(key: &str) -> Value {
    Value::Lease {
        key: key.into(),
        ttl_ms: 10,
    }
}

fn granted(validity_end_ms: u64) -> Value {
    Value::Granted(Grant {
        fence: 1,
        token: "t".into(),
        validity_end_ns: validity_end_ms * 1_000_000,
    })
}

#[test]
fn an_expired_lease_is_explained_in_plain_words() {
    use OpKind::*;
    let h = History::new(vec![
        op(0, 0, 1, Invoke, F::Acquire, lease("k")),
        op(1, 1, 1, Ok, F::Acquire, granted(10)),
        // Client 1 pauses; its lease ends at 10 ms; client 2 gets the lock at 15 ms.
        op(2, 14, 2, Invoke, F::Acquire, lease("k")),
        op(3, 15, 2, Ok, F::Acquire, granted(25)),
    ]);
    let out = check_history(ModelKind::Lock, &h, &Budget::default()).unwrap();
    assert_eq!(out.verdict, Linearizability::Illegal);
    let why = out.witness.unwrap().explanation.unwrap();
    assert!(
        why.contains("client 1's lease") && why.contains("expired"),
        "{why}"
    );
    // The same grant before the lease ran out: no excuse, no explanation.
    let h = History::new(vec![
        op(0, 0, 1, Invoke, F::Acquire, lease("k")),
        op(1, 1, 1, Ok, F::Acquire, granted(100)),
        op(2, 14, 2, Invoke, F::Acquire, lease("k")),
        op(3, 15, 2, Ok, F::Acquire, granted(25)),
    ]);
    let out = check_history(ModelKind::Lock, &h, &Budget::default()).unwrap();
    assert_eq!(out.witness.unwrap().explanation, None);
}

#[test]
fn a_streamed_jsonl_check_explains_like_the_whole_history() {
    use OpKind::*;
    // The holder's grant lies 100 denials back in the prefix: beyond the first tail the
    // streamed explanation reads, so it must read more and still say the same.
    let mut ops = vec![
        op(0, 0, 1, Invoke, F::Acquire, lease("k")),
        op(1, 1, 1, Ok, F::Acquire, granted(10)),
    ];
    for i in 0..100u64 {
        let index = 2 + 2 * i;
        ops.push(op(index, 2 + i / 10, 3, Invoke, F::Acquire, lease("k")));
        ops.push(op(index + 1, 2 + i / 10, 3, Ok, F::Acquire, Value::Denied));
    }
    ops.push(op(202, 14, 2, Invoke, F::Acquire, lease("k")));
    ops.push(op(203, 15, 2, Ok, F::Acquire, granted(25)));
    // Numbered 0, 1, 2, …: the explanation reads the lines it needs where the first reading
    // noted them. Numbered with gaps: it reads the file again.
    let gapped: Vec<_> = ops
        .iter()
        .cloned()
        .map(|mut o| {
            o.index = o.index * 3 + 1;
            o
        })
        .collect();
    for ops in [ops, gapped] {
        let h = History::new(ops);
        let whole = check_history(ModelKind::Lock, &h, &Budget::default()).unwrap();
        let text = crate::linearizable::generate::to_jsonl(&h);
        let streamed = check_text(ModelKind::Lock, "h.jsonl", &text, &Budget::default()).unwrap();
        let (whole, streamed) = (whole.witness.unwrap(), streamed.outcome.witness.unwrap());
        assert!(
            whole.prefix.len() > 64,
            "the holder is beyond the first tail"
        );
        assert!(whole
            .explanation
            .as_deref()
            .unwrap_or("")
            .contains("expired"));
        assert_eq!(streamed.explanation, whole.explanation);
    }
}

#[test]
fn fencepost_lock_keys_are_partitions_and_resource_accesses_are_skipped() {
    use OpKind::*;
    let h = History::new(vec![
        op(0, 0, 1, Invoke, F::Acquire, lease("a")),
        op(1, 1, 1, Ok, F::Acquire, granted(100)),
        op(2, 2, 2, Invoke, F::Acquire, lease("b")),
        op(3, 3, 2, Ok, F::Acquire, granted(100)),
        op(
            4,
            4,
            1,
            Invoke,
            F::Write,
            Value::Access {
                fence: Some(1),
                write: Some(7),
            },
        ),
        op(5, 5, 1, Ok, F::Write, Value::Accepted { value: 7 }),
        op(6, 6, 3, Invoke, F::Acquire, lease("a")),
        op(7, 7, 3, Ok, F::Acquire, Value::Denied),
        // Never completed: indeterminate.
        op(
            8,
            8,
            2,
            Invoke,
            F::Release,
            Value::Held {
                key: "b".into(),
                fence: 1,
            },
        ),
    ]);
    let text = to_jsonl(&h);
    let r = check_text(ModelKind::Lock, "history.jsonl", &text, &Budget::default()).unwrap();
    assert_eq!(r.outcome.verdict, Linearizability::Ok, "{r}");
    assert_eq!(r.outcome.partitions, 2);
    assert_eq!(r.skipped_ops, 1);
    assert_eq!(r.format, SourceFormat::Fencepost);
}

#[test]
fn malformed_fencepost_history_is_an_error() {
    let h = History::new(vec![op(0, 0, 1, OpKind::Ok, F::Acquire, granted(1))]);
    let err = check_text(
        ModelKind::Lock,
        "history.jsonl",
        &to_jsonl(&h),
        &Budget::default(),
    )
    .unwrap_err()
    .to_string();
    assert!(
        err.contains("history.jsonl") && err.contains("never invoked"),
        "{err}"
    );
}

#[test]
fn witness_serializes_for_results_json() {
    let h = LockSim::new(500, 5, 1, true).history();
    let out = check_history(ModelKind::Lock, &h, &Budget::default()).unwrap();
    let json = serde_json::to_value(&out).unwrap();
    assert_eq!(json["verdict"], "illegal");
    assert!(json["witness"]["prefix"].as_array().unwrap().len() > 10);
    assert!(json["witness"]["op"]["process"]["client"].is_number());
}

#[test]
fn edn_files_are_read_in_pieces_as_their_whole_text_is_read() {
    let dir = std::env::temp_dir().join(format!("fencepost-edn-pieces-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let good = to_edn(&LockSim::new(30_000, 20, 7, false).history());
    let bad = to_edn(&LockSim::new(30_000, 20, 7, true).history());
    assert!(bad.len() > 2 * read::EDN_PIECE_BYTES, "{} bytes", bad.len());
    // An unbalanced op in the last piece: its line and column as the whole text gives them.
    let at = bad.len() - 1_000;
    let next_line = at + bad[at..].find('\n').unwrap() + 1;
    let late_error = format!(
        "{}{{:type :ok :f [:acquire\n{}",
        &bad[..next_line],
        &bad[next_line..]
    );
    let orphan =
        "{:type :invoke, :f :read, :process 0}\n{:type :ok, :f :read, :value 1, :process 3}";
    for (name, text, model) in [
        ("good", good.as_str(), ModelKind::Lock),
        ("bad", bad.as_str(), ModelKind::Lock),
        ("late-error", late_error.as_str(), ModelKind::Lock),
        ("orphan", orphan, ModelKind::Register),
    ] {
        let path = dir.join(format!("{name}.edn"));
        std::fs::write(&path, text).unwrap();
        let file = path.display().to_string();
        let from_file = check_file(model, &path, &Budget::default());
        let from_text = check_text(model, &file, text, &Budget::default());
        match (from_file, from_text) {
            (Ok(mut a), Ok(mut b)) => {
                a.outcome.elapsed_ms = 0.0;
                b.outcome.elapsed_ms = 0.0;
                assert_eq!(a, b, "{name}");
            }
            (Err(a), Err(b)) => assert_eq!(a.to_string(), b.to_string(), "{name}"),
            (a, b) => panic!("{name}: from the file {a:?}, from the text {b:?}"),
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
}
