//! Scenario files: parsing, line numbers in errors, the fixes they name.
use super::*;

const GOOD: &str = r#"
name = "t"
[run]
duration = "2s"
clients = 3
[lock]
kind = "single"
ttl = "200ms"
[[nemesis]]
kind = "gc-pause"
start = "500ms"
every = "1s"
pause = "400ms"
[expect]
mutual_exclusion = "violated"
"#;

fn parse(text: &str) -> Result<Scenario, ScenarioError> {
    Scenario::parse(Path::new("s.toml"), text)
}

#[test]
fn parses_a_good_file() {
    let s = parse(GOOD).unwrap();
    assert_eq!(s.run.clients, 3);
    assert_eq!(s.lock.ttl.ms(), 200);
    assert_eq!(
        s.expect.of("mutual_exclusion"),
        Some(expect::Expectation::Violated)
    );
    assert_eq!(s.fault_names(), vec!["gc-pause"]);
}

#[test]
fn unknown_key_names_file_and_line() {
    let bad = GOOD.replace("clients = 3", "clients = 3\nclinets = 4");
    let e = parse(&bad).unwrap_err().to_string();
    assert!(e.starts_with("s.toml:6:"), "{e}");
    assert!(e.contains("clinets"), "{e}");
}

#[test]
fn bad_duration_is_explained() {
    let e = parse(&GOOD.replace("\"200ms\"", "200"))
        .unwrap_err()
        .to_string();
    assert!(e.contains("unit is missing"), "{e}");
    assert!(e.starts_with("s.toml:8:"), "{e}");
}

#[test]
fn zero_ttl_is_refused_with_its_line() {
    let e = parse(&GOOD.replace("\"200ms\"", "\"0ms\""))
        .unwrap_err()
        .to_string();
    assert!(
        e.starts_with("s.toml:8:") && e.contains("ttl must be > 0"),
        "{e}"
    );
}

#[test]
fn unknown_nemesis_kind_is_refused() {
    let e = parse(&GOOD.replace("kind = \"gc-pause\"", "kind = \"gc-paws\""))
        .unwrap_err()
        .to_string();
    assert!(e.contains("gc-paws"), "{e}");
}

const REDLOCK: &str = r#"
name = "r"
[run]
duration = "2s"
clients = 2
[lock]
kind = "redlock"
nodes = 5
ttl = "1s"
node_timeout = "50ms"
persistence = "aof-always"
[[nemesis]]
kind = "cut-links"
links = ["c0-n4", "c1-n1"]
[[nemesis]]
kind = "clock"
target = "n3"
fault = "jump-forward"
offset = "3s"
hold = "300ms"
start = "1s"
every = "1s"
[[nemesis]]
kind = "crash"
target = "minority"
start = "1s"
every = "1s"
[[nemesis]]
kind = "node-pause"
target = "majority"
pause = "500ms"
start = "1s"
every = "1s"
"#;

#[test]
fn redlock_and_node_faults_parse() {
    let s = parse(REDLOCK).unwrap();
    assert_eq!(s.lock.kind, LockKind::Redlock);
    assert_eq!(s.lock.persistence, lock::PersistenceMode::AofAlways);
    assert_eq!(
        s.fault_names(),
        vec!["cut-links", "clock", "crash", "node-pause"]
    );
    // The effective scenario a run saves must read back.
    let again = parse(&toml::to_string_pretty(&s).unwrap()).unwrap();
    assert_eq!(again.nemesis.len(), 4);
}

#[test]
fn node_fault_mistakes_are_refused_with_the_fix() {
    let cases = [
        ("target = \"n3\"", "target = \"n9\"", "n9` does not exist"),
        (
            "links = [\"c0-n4\", \"c1-n1\"]",
            "links = [\"c5-n4\"]",
            "c5-n4` does not exist",
        ),
        ("offset = \"3s\"", "offset = \"0s\"", "needs offset > 0"),
        ("target = \"n3\"", "client = 1", "jump-forward"),
        (
            "node_timeout = \"50ms\"",
            "node_timeout = \"2s\"",
            "well below the ttl",
        ),
        (
            "kind = \"redlock\"\nnodes = 5",
            "kind = \"single\"",
            "node_timeout applies to kind = \"redlock\" only",
        ),
    ];
    for (from, to, want) in cases {
        let text = REDLOCK.replacen(from, to, 1);
        match parse(&text) {
            Err(e) => assert!(
                e.to_string().contains(want) || want == "jump-forward",
                "{to}: {e}"
            ),
            Ok(_) => assert_eq!(want, "jump-forward", "{to} must be refused"),
        }
    }
    let both = REDLOCK.replacen("target = \"n3\"", "target = \"n3\"\nclient = 0", 1);
    assert!(parse(&both).unwrap_err().to_string().contains("not both"));
    let strobe = REDLOCK.replacen("fault = \"jump-forward\"", "fault = \"strobe\"", 1);
    assert!(parse(&strobe)
        .unwrap_err()
        .to_string()
        .contains("period > 0"));
    let rate = REDLOCK.replacen("fault = \"jump-forward\"", "fault = \"rate\"", 1);
    assert!(parse(&rate)
        .unwrap_err()
        .to_string()
        .contains("rate = a factor"));
}

const MESSAGING: &str = r#"
name = "m"
[run]
duration = "2s"
clients = 4
[lock]
kind = "single"
ttl = "200ms"
[workload]
kind = "stream"
producers = 2
[[nemesis]]
kind = "consumer-crash"
start = "500ms"
every = "1s"
[expect]
message_loss = "holds"
"#;

#[test]
fn messaging_mistakes_are_refused_with_the_fix() {
    let s = parse(MESSAGING).unwrap();
    assert!(s.bounds().crash_points);
    let cases = [
        // (change, line, what the fix says)
        ("producers = 2", "producers = 4", "1 <= N < [run] clients"),
        ("producers = 2\n", "", "needs producers = N"),
        (
            "producers = 2",
            "producers = 2\ndrain = \"1s\"",
            "use drain >= 2000 ms",
        ),
        (
            "kind = \"stream\"",
            "kind = \"pubsub\"",
            "use [workload] kind = \"stream\"",
        ),
        (
            "kind = \"single\"",
            "kind = \"redlock\"",
            "use [lock] kind = \"single\"",
        ),
        (
            "message_loss = \"holds\"",
            "mutual_exclusion = \"holds\"",
            "needs clients that take the lock",
        ),
    ];
    for (from, to, fix) in cases {
        let e = parse(&MESSAGING.replacen(from, to, 1))
            .unwrap_err()
            .to_string();
        assert!(
            e.starts_with("s.toml:") && e.contains(fix),
            "{from} → {to}: {e}"
        );
    }
    let lock = GOOD.replace("[expect]", "[workload]\nproducers = 1\n[expect]");
    let e = parse(&lock).unwrap_err().to_string();
    assert!(
        e.contains("apply to kind = \"pubsub\" or \"stream\" only"),
        "{e}"
    );
}

#[test]
fn a_partition_victim_list_fits_its_shape_and_the_clients() {
    let part = |shape: &str, clients: &str| {
        GOOD.replace(
            "kind = \"gc-pause\"\nstart = \"500ms\"\nevery = \"1s\"\npause = \"400ms\"",
            &format!("kind = \"partition\"\nshape = \"{shape}\"\nclients = {clients}\nstart = \"500ms\"\nevery = \"1s\"\nduration = \"400ms\""),
        )
    };
    assert!(parse(&part("isolate-client", "[1, 2]")).is_ok());
    let e = parse(&part("halves", "[1]")).unwrap_err().to_string();
    assert!(
        e.contains("chooses the victim of shape = \"isolate-client\""),
        "{e}"
    );
    let e = parse(&part("isolate-client", "[3]"))
        .unwrap_err()
        .to_string();
    assert!(e.contains("name one or more clients 0..3"), "{e}");
}

#[test]
fn cluster_mistakes_are_refused_with_the_fix() {
    let cluster = GOOD.replace("[expect]", "[cluster]\nshards = 3\n[expect]");
    assert!(
        parse(&cluster).is_ok(),
        "gc-pause acts on clients: fine on a cluster"
    );
    let cases = [
        // a fault on the lone lock nodes, which a cluster run does not have
        (
            cluster.replace(
                "kind = \"gc-pause\"\nstart = \"500ms\"\nevery = \"1s\"\npause = \"400ms\"",
                "kind = \"node-pause\"\nstart = \"1s\"\nevery = \"1s\"\ntarget = \"one\"\npause = \"1s\"",
            ),
            "s.toml:10:",
            "use the cluster-primary-fail",
        ),
        // a cluster fault without a cluster
        (
            GOOD.replace(
                "kind = \"gc-pause\"\nstart = \"500ms\"\nevery = \"1s\"\npause = \"400ms\"",
                "kind = \"cluster-partition\"\nstart = \"1s\"\nduration = \"1s\"",
            ),
            "s.toml:10:",
            "add a [cluster] section",
        ),
        (
            cluster.replace("shards = 3", "shards = 2"),
            "s.toml:15:",
            "use 3..=9",
        ),
        (
            cluster.replace("kind = \"single\"", "kind = \"redlock\""),
            "s.toml:7:",
            "single-instance lock on the cluster",
        ),
        (
            cluster
                .replace(
                    "[[nemesis]]\nkind = \"gc-pause\"\nstart = \"500ms\"\nevery = \"1s\"\npause = \"400ms\"\n",
                    "",
                )
                .replace("[run]", "[workload]\nkind = \"stream\"\nproducers = 1\n[run]"),
            "s.toml:4:",
            "not supported on a cluster",
        ),
    ];
    for (text, line, fix) in cases {
        let e = parse(&text).unwrap_err().to_string();
        assert!(e.starts_with(line) && e.contains(fix), "{e}");
    }
}

#[test]
fn every_shipped_cluster_scenario_loads() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../scenarios");
    let mut n = 0;
    for e in std::fs::read_dir(&dir).unwrap().flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        if name.starts_with("cluster-") && name.ends_with(".toml") {
            let s = Scenario::load(&e.path()).unwrap();
            assert!(s.cluster.is_some(), "{name}");
            n += 1;
        }
    }
    assert!(n >= 6, "{n} cluster scenarios");
}

#[test]
fn schedules_the_run_cannot_hold_are_refused_with_the_key_and_the_fix() {
    let cases = [
        // a pause longer than the whole run
        (
            "pause = \"400ms\"",
            "pause = \"30s\"",
            "s.toml:13:",
            "as long as the whole run",
        ),
        // the first injection after the run's end
        (
            "start = \"500ms\"",
            "start = \"8s\"",
            "s.toml:11:",
            "at or after the end of the run",
        ),
        // the first injection healing after the end
        (
            "start = \"500ms\"",
            "start = \"1800ms\"",
            "s.toml:13:",
            "would heal at 2200ms",
        ),
    ];
    for (from, to, line, want) in cases {
        let e = parse(&GOOD.replacen(from, to, 1)).unwrap_err().to_string();
        assert!(e.starts_with(line) && e.contains(want), "{to}: {e}");
        assert!(e.contains("make the run longer"), "{to}: {e}");
    }
    // An override that makes the schedule impossible is refused the same way, and says so.
    let short = Overrides {
        duration: Some(Dur(std::time::Duration::from_millis(700))),
        ..Overrides::default()
    };
    let e = Scenario::parse_with(Path::new("s.toml"), GOOD, &short)
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("would heal") && e.contains("with --duration 700ms"),
        "{e}"
    );
}
