//! The clock library on a real redis-server: a node started with it preloaded reports the
//! skewed time in `TIME`, and its keys expire by the skewed clock (Redis TTLs follow the wall
//! clock). This is what makes the clock nemesis honest: a jump the harness asks for is the jump
//! Redis sees.

use fencepost::nodes::clock::{self, NodeClock};
use fencepost::nodes::node::{NodeConfig, Persistence};
use fencepost::nodes::NodeSet;
use std::time::Duration;

/// A one-node cluster with the clock library preloaded; returns it, its clock and a connection.
fn node(tag: &str) -> (NodeSet, NodeClock, redis::Connection) {
    let mut cluster = NodeSet::new(&format!("clock-test-{tag}")).unwrap();
    let lib = clock::install_library(&cluster.root).unwrap();
    let control = cluster.root.join("n1.clock");
    let nc = NodeClock::create(&control).unwrap();
    cluster
        .start(NodeConfig {
            name: "n1".into(),
            persistence: Persistence::None,
            preload: Some(clock::preload(&lib, &control)),
            library_user: false,
            place: None,
            cluster: None,
        })
        .unwrap();
    let url = cluster.node("n1").unwrap().admin_url();
    let conn = redis::Client::open(url).unwrap().get_connection().unwrap();
    (cluster, nc, conn)
}

/// The node's `TIME` minus the real time, in ms.
fn time_offset_ms(conn: &mut redis::Connection) -> i64 {
    let before = clock::real_now_ns();
    let (s, us): (i64, i64) = redis::cmd("TIME").query(conn).unwrap();
    let after = clock::real_now_ns();
    let node_ns = s * 1_000_000_000 + us * 1_000;
    (node_ns - (before + after) / 2) / 1_000_000
}

#[test]
fn time_follows_a_jump_and_a_forward_jump_expires_px_keys() {
    let (_cluster, nc, mut conn) = node("jump");
    assert!(time_offset_ms(&mut conn).abs() <= 50, "no skew yet");

    let _: () = redis::cmd("SET")
        .arg("fencepost:k")
        .arg("v")
        .arg("PX")
        .arg(5_000)
        .query(&mut conn)
        .unwrap();
    nc.jump(10_000_000_000);
    let off = time_offset_ms(&mut conn);
    assert!(
        (off - 10_000).abs() <= 50,
        "TIME is {off} ms ahead, asked 10000 ± 50"
    );
    // Lazily: reading the key finds it expired.
    let v: Option<String> = redis::cmd("GET")
        .arg("fencepost:k")
        .query(&mut conn)
        .unwrap();
    assert_eq!(v, None, "a PX 5000 key must expire after a +10 s jump");

    // Actively: a key nobody reads is reclaimed by the expiry cycle.
    nc.reset();
    let _: () = redis::cmd("SET")
        .arg("fencepost:k2")
        .arg("v")
        .arg("PX")
        .arg(5_000)
        .query(&mut conn)
        .unwrap();
    nc.jump(10_000_000_000);
    let mut gone = false;
    for _ in 0..50 {
        let n: i64 = redis::cmd("DBSIZE").query(&mut conn).unwrap();
        if n == 0 {
            gone = true;
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(gone, "the active expiry cycle must reclaim the key");
}

#[test]
fn a_backward_jump_lengthens_a_ttl_and_rate_two_halves_it() {
    let (_cluster, nc, mut conn) = node("back-rate");
    let _: () = redis::cmd("SET")
        .arg("fencepost:k")
        .arg("v")
        .arg("PX")
        .arg(300)
        .query(&mut conn)
        .unwrap();
    nc.jump(-10_000_000_000);
    let off = time_offset_ms(&mut conn);
    assert!(
        (off + 10_000).abs() <= 50,
        "TIME is {off} ms off, asked −10000 ± 50"
    );
    // The key's expiry is a wall-clock instant: 10 s further away now.
    let pttl: i64 = redis::cmd("PTTL")
        .arg("fencepost:k")
        .query(&mut conn)
        .unwrap();
    assert!(
        pttl > 9_000,
        "pttl {pttl}: a backward jump must lengthen the key's life"
    );
    nc.reset();

    let _: () = redis::cmd("DEL")
        .arg("fencepost:k")
        .query(&mut conn)
        .unwrap();
    nc.set_rate(2.0).unwrap();
    let _: () = redis::cmd("SET")
        .arg("fencepost:k")
        .arg("v")
        .arg("PX")
        .arg(400)
        .query(&mut conn)
        .unwrap();
    std::thread::sleep(Duration::from_millis(250));
    let v: Option<String> = redis::cmd("GET")
        .arg("fencepost:k")
        .query(&mut conn)
        .unwrap();
    assert_eq!(v, None, "at rate 2, a 400 ms key is gone after 250 ms");
}
