//! Least privilege on real redis-servers: the lock clients' ACL user may run only what the
//! workloads need, on `fencepost:*` keys; the `default` user is off; everything listens on
//! 127.0.0.1 only.

use fencepost::nodes::node::{NodeConfig, Persistence};
use fencepost::nodes::NodeSet;

fn query(url: &str, cmd: &mut redis::Cmd) -> redis::RedisResult<redis::Value> {
    let client = redis::Client::open(url)?;
    let mut conn = client.get_connection()?;
    cmd.query(&mut conn)
}

#[test]
fn client_user_is_refused_what_it_does_not_need() {
    let mut cluster = NodeSet::new(&format!("acl-{}", std::process::id())).unwrap();
    cluster
        .start(NodeConfig {
            name: "n1".into(),
            persistence: Persistence::None,
            preload: None,
            library_user: false,
            place: None,
            cluster: None,
        })
        .unwrap();
    let node = cluster.node("n1").unwrap();
    let client = node.client_url();

    // What the workloads need works.
    query(&client, redis::cmd("SET").arg("fencepost:lock:x").arg("t")).unwrap();
    query(&client, redis::cmd("INCR").arg("fencepost:fence:x")).unwrap();

    // What they do not need is refused with NOPERM.
    for (what, mut cmd) in [
        ("FLUSHALL", redis::cmd("FLUSHALL")),
        ("CONFIG GET", {
            let mut c = redis::cmd("CONFIG");
            c.arg("GET").arg("*");
            c
        }),
        ("SET outside fencepost:*", {
            let mut c = redis::cmd("SET");
            c.arg("payments:balance").arg("0");
            c
        }),
        ("GET outside fencepost:*", {
            let mut c = redis::cmd("GET");
            c.arg("other");
            c
        }),
        ("KEYS", {
            let mut c = redis::cmd("KEYS");
            c.arg("*");
            c
        }),
        ("SHUTDOWN", redis::cmd("SHUTDOWN")),
    ] {
        let err = query(&client, &mut cmd).expect_err(what);
        assert!(
            err.to_string().contains("NOPERM") || err.to_string().contains("no permissions"),
            "{what}: {err}"
        );
    }

    // A script may not reach keys outside the pattern either.
    let err = query(
        &client,
        redis::cmd("EVAL")
            .arg("return redis.call('GET', KEYS[1])")
            .arg(1)
            .arg("secret"),
    )
    .expect_err("EVAL on a foreign key");
    assert!(err.to_string().to_lowercase().contains("perm"), "{err}");

    // The default user is off: no password, no entry.
    let anon = format!("redis://127.0.0.1:{}/", node.port);
    assert!(
        query(&anon, &mut redis::cmd("PING")).is_err(),
        "the default user must be disabled"
    );

    // Listening on loopback only.
    let conf = std::fs::read_to_string(node.dir.join("redis.conf")).unwrap();
    assert!(conf.lines().any(|l| l == "bind 127.0.0.1"), "{conf}");
    cluster.stop();
}
