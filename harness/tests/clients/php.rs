//! The PHP adapters (Laravel's cache lock, Symfony Lock's RedisStore and CombinedStore), from
//! Debian's packages: each answers the hello with Debian's version and the protocol's own
//! `starve` (no `abandon`: PHP has one thread), grants, denies and releases against a real
//! redis-server as its library does (Laravel: a string key holding the owner, which is the
//! token; Symfony: a sorted set whose member is the token); `@VERSION` names only the version
//! Debian installed; and a Symfony run's node record reads the sorted set member by member, so
//! blame judges its grants; and blame reads phpredis's late replies, answered to the next
//! command after a read timeout, as the grants the nodes never made that they are.
//!
//! Needs php8.2-cli, php-redis, php-symfony-lock, php-illuminate-cache and php-illuminate-redis
//! (`scripts/install-deps.sh` installs them) and redis-server; a missing one fails with the fix.

use crate::common::*;
use crate::node_versions::{adapters_dir, Hand, Redis};
use fencepost::clients::process::adapter;
use serde_json::{json, Value};
use std::io::Write;
use std::time::{Duration, Instant};

fn ns(reply: &Value, k: &str) -> u64 {
    reply[k]
        .as_u64()
        .unwrap_or_else(|| panic!("{k} is an integer: {reply}"))
}

#[test]
fn each_php_adapter_grants_denies_releases_and_starves_as_its_library_does() {
    let _serial = SERIAL.lock().unwrap_or_else(|p| p.into_inner());
    let redis = Redis::start();
    for (library, package, key_type) in [
        ("laravel-lock", "php-illuminate-cache", "string"),
        ("symfony-lock", "php-symfony-lock", "zset"),
    ] {
        let (mut a, hello) = Hand::start(library, &redis, 2000, false);
        assert_eq!(hello["library"], library, "{hello}");
        assert_eq!(hello["package"], package, "{hello}");
        let debian = std::process::Command::new("dpkg-query")
            .args(["-W", "-f=${Version}", package])
            .output()
            .unwrap();
        assert_eq!(
            hello["version"].as_str().unwrap(),
            String::from_utf8_lossy(&debian.stdout),
            "{library}: the hello names Debian's version"
        );
        assert_eq!(hello["supports"]["abandon"], false, "{hello}");
        assert_eq!(hello["supports"]["starve"], true, "{hello}");
        assert_eq!(hello["lock_keys"], json!(["fencepost-guard"]), "{hello}");

        let r = a.op("acquire", json!({"ttl_ms": 2000}));
        assert_eq!(
            (&r["outcome"], &r["granted"]),
            (&json!("ok"), &json!(true)),
            "{library}: {r}"
        );
        assert!(ns(&r, "complete_ns") >= ns(&r, "invoke_ns"), "{r}");
        assert_eq!(
            redis.command(&["TYPE", "fencepost-guard"]),
            format!("+{key_type}"),
            "{library}"
        );
        let ttl = redis.pttl("fencepost-guard");
        assert!((1000..=2000).contains(&ttl), "{library}: pttl {ttl}");
        if library == "laravel-lock" {
            // The token is the value the library stored.
            let token = r["token"].as_str().unwrap().to_string();
            let got = redis.command(&["GET", "fencepost-guard"]);
            assert!(got.ends_with(&token), "{got} vs {token}");
        } else {
            // The token is the sorted set's member, scored with the lease's end.
            let token = r["token"].as_str().unwrap().to_string();
            let score = redis.command(&["ZSCORE", "fencepost-guard", &token]);
            assert!(
                score.starts_with('$') && !score.starts_with("$-1"),
                "{score}"
            );
            assert!(r["validity_ms"].as_u64().unwrap() <= 2000, "{r}");
        }

        // A second client is denied while the first holds it.
        let (mut b, _) = Hand::start(library, &redis, 2000, false);
        let r = b.op("acquire", json!({"ttl_ms": 2000}));
        assert_eq!(
            (&r["outcome"], &r["granted"]),
            (&json!("ok"), &json!(false)),
            "{library}: {r}"
        );

        let r = a.op("release", json!({}));
        assert_eq!(r["outcome"], "ok", "{library}: {r}");
        // Laravel's release says whether it deleted; Symfony's returns nothing.
        let said = if library == "laravel-lock" {
            json!(true)
        } else {
            Value::Null
        };
        assert_eq!(r["released"], said, "{library}: {r}");
        assert_eq!(redis.pttl("fencepost-guard"), -2, "{library}: released");
        let r = b.op("acquire", json!({"ttl_ms": 2000}));
        assert_eq!(r["granted"], true, "{library}: {r}");
        b.op("release", json!({}));

        // The protocol's starve: busy for the ms asked.
        let started = Instant::now();
        let r = a.op("starve", json!({"ms": 300}));
        assert_eq!(r["outcome"], "ok", "{r}");
        assert!(
            ns(&r, "complete_ns") - ns(&r, "invoke_ns") >= 300_000_000,
            "{r}"
        );
        assert!(started.elapsed() >= Duration::from_millis(300));
        // An op the library has no call for.
        let unsupported = if library == "laravel-lock" {
            "extend"
        } else {
            "nonsense"
        };
        let r = a.op(unsupported, json!({"ttl_ms": 2000}));
        assert_eq!(
            (&r["outcome"], &r["error"]),
            (&json!("fail"), &json!("unsupported op")),
            "{library}: {r}"
        );
        // A malformed line ends the adapter with exit 2.
        let stdin = a.child.stdin.as_mut().unwrap();
        writeln!(stdin, "not json").unwrap();
        stdin.flush().unwrap();
        assert_eq!(a.child.wait().unwrap().code(), Some(2), "{library}");
    }
}

#[test]
fn symfony_extends_and_checks_held_and_the_combined_store_needs_a_majority() {
    let _serial = SERIAL.lock().unwrap_or_else(|p| p.into_inner());
    let redis = Redis::start();
    let (mut a, _) = Hand::start("symfony-lock", &redis, 1000, false);
    assert_eq!(a.op("acquire", json!({"ttl_ms": 1000}))["granted"], true);
    std::thread::sleep(Duration::from_millis(500));
    let r = a.op("extend", json!({"ttl_ms": 1000}));
    assert_eq!(r["extended"], true, "{r}");
    assert!(
        redis.pttl("fencepost-guard") > 900,
        "the extension moved the key's expiry"
    );
    assert_eq!(a.op("held", json!({}))["held"], true);
    // Past the lease: the node expired it, and the library says so.
    std::thread::sleep(Duration::from_millis(1200));
    assert_eq!(a.op("held", json!({}))["held"], false);
    assert_eq!(a.op("extend", json!({"ttl_ms": 1000}))["extended"], false);

    // The combined store refuses fewer than 3 nodes, in its hello.
    let (mut c, hello) = Hand::start("symfony-lock-combined", &redis, 1000, false);
    let error = hello["error"].as_str().unwrap_or_default();
    assert!(error.contains("at least 3 nodes"), "{hello}");
    assert_eq!(c.child.wait().unwrap().code(), Some(2));
}

#[test]
fn a_php_library_runs_only_the_version_debian_installed() {
    let debian = |package: &str| {
        let out = std::process::Command::new("dpkg-query")
            .args(["-W", "-f=${Version}", package])
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let shipped = debian("php-symfony-lock");
    assert!(
        !shipped.is_empty(),
        "php-symfony-lock is installed (scripts/install-deps.sh)"
    );
    let upstream = shipped.split('+').next().unwrap().to_string();
    for ok in [upstream.as_str(), shipped.as_str()] {
        let a = adapter::find("symfony-lock", Some(ok.into()), &adapters_dir()).unwrap();
        let installed = a
            .install(&adapter::cache_dir())
            .unwrap_or_else(|e| panic!("symfony-lock@{ok}: {e}"));
        let record = std::fs::read_to_string(installed.lockfile.unwrap()).unwrap();
        assert!(
            record.contains(&format!("php-symfony-lock\t{shipped}")),
            "{record}"
        );
    }
    let a = adapter::find("symfony-lock", Some("5.4.0".into()), &adapters_dir()).unwrap();
    let e = a.install(&adapter::cache_dir()).unwrap_err().to_string();
    assert!(
        e.contains(&format!("php-symfony-lock {shipped} from Debian")) && e.contains("Packagist"),
        "{e}"
    );
    // A Debian package the adapter needs and the machine lacks: the apt-get line that adds it.
    let mut a = adapter::find("laravel-lock", None, &adapters_dir()).unwrap();
    a.manifest
        .debian
        .push("php-fencepost-no-such-package".into());
    let e = a.install(&adapter::cache_dir()).unwrap_err().to_string();
    assert!(
        e.contains("apt-get install -y php-fencepost-no-such-package"),
        "{e}"
    );
}

#[test]
fn laravels_lock_holds_its_baseline_and_blame_judges_its_grants() {
    // (Laravel is a matrix row, so the all-libraries test runs it too; this one checks blame.)
    let _serial = SERIAL.lock().unwrap_or_else(|p| p.into_inner());
    let results = results_dir("php-laravel");
    let out = library_baseline("laravel-lock", &["--duration", "6s"], &results);
    let text = text(&out);
    assert_eq!(out.status.code(), Some(0), "{text}");
    assert!(
        text.contains("client: **laravel-lock ")
            && text.contains("grants judged against the nodes"),
        "{text}"
    );
}

#[test]
fn a_symfony_run_is_judged_member_by_member_from_its_sorted_set() {
    let _serial = SERIAL.lock().unwrap_or_else(|p| p.into_inner());
    let results = results_dir("php-symfony");
    let out = library_baseline("symfony-lock", &["--duration", "6s"], &results);
    let text = text(&out);
    assert_eq!(out.status.code(), Some(0), "{text}");
    assert!(
        text.contains("expected holds (0 violations), got holds, from")
            && text.contains("grants judged against the nodes"),
        "blame judged the grants:\n{text}"
    );
    let events: String = files_named(&results, "node-events.jsonl").concat();
    assert!(
        events.contains("\"key\":\"fencepost-guard[") && !events.contains("unreadable"),
        "the tap reads each member as a holding: {}",
        &events[..events.len().min(2000)]
    );
    // The `__write__` marker the adapter names in `lock_markers` is no holder: left out, it
    // leaves no key "held by nobody" (read as a holder it lived past the ttl in every run).
    assert!(
        !events.contains("[__write__]"),
        "the marker was read as a holder"
    );
    assert!(
        text.contains("lock left held by nobody: **valid**"),
        "{text}"
    );
}

#[test]
fn a_late_reply_read_after_a_read_timeout_is_a_grant_the_nodes_never_made() {
    // phpredis keeps a connection whose read timed out, and its next command reads the late
    // reply meant for the one before. Replies delayed 1.5 s past a CombinedStore's per-command
    // share of the op timeout (3 s over 5 nodes × 2 rounds: 300 ms) leave late "granted"s
    // queued, and a later acquire, denied by every node, returns granted: blame must say so.
    // With an op timeout of 20 s (2 s a command, past the delay) nothing times out, and the same
    // library under the same fault holds: the finding is the timeout's, not the fault's alone.
    let _serial = SERIAL.lock().unwrap_or_else(|p| p.into_inner());
    let results = results_dir("php-late-reply");
    let run_with = |file: &std::path::Path| {
        fencepost()
            .args(["scenario"])
            .arg(file)
            .args(["--client", "symfony-lock-combined", "--duration", "6s"])
            .args(["--seed", "1", "--results"])
            .arg(&*results)
            .output()
            .unwrap()
    };
    let shipped = std::path::Path::new("scenarios/libraries/reply-delay.toml");
    let out = run_with(shipped);
    let said = text(&out);
    assert_eq!(out.status.code(), Some(1), "{said}");
    assert!(
        said.contains("blame (the library's answers, against the nodes' own record): **invalid**")
            && said.contains("grant the nodes never made"),
        "stale replies are grants no node made:\n{said}"
    );

    let patient = results.join("reply-delay-20s.toml");
    let toml = std::fs::read_to_string(repo().join(shipped)).unwrap();
    assert!(toml.contains("op_timeout = \"3s\""), "{toml}");
    std::fs::write(
        &patient,
        toml.replace("op_timeout = \"3s\"", "op_timeout = \"20s\""),
    )
    .unwrap();
    let out = run_with(&patient);
    let said = text(&out);
    assert_eq!(out.status.code(), Some(0), "{said}");
    assert!(
        said.contains("expected holds (0 violations), got holds, from"),
        "with no read timing out, the same fault shows no library finding:\n{said}"
    );
}
