//! What the toxics do to real traffic: latency on a redis-server PING, blackholes that make a
//! client op time out with the connection held open, disable, reset_peer, limit_data,
//! slow_close, timeouts, toxics reaching connections that are already open, seeded toxicity,
//! and a clean shutdown when the registry is dropped.

use crate::common::echo_server;
use std::net::SocketAddr;
use std::time::Duration;

use fencepost::bench::RedisServer;
use fencepost::proxy::{ProxyConfig, Registry, Stream, Toxic, ToxicKind};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::{timeout, Instant};

async fn proxy_to(reg: &Registry, name: &str, upstream: SocketAddr) -> SocketAddr {
    reg.create(ProxyConfig::new(name, upstream.to_string()))
        .await
        .unwrap()
        .listen_addr()
        .unwrap()
}

async fn connect(addr: SocketAddr) -> TcpStream {
    let s = TcpStream::connect(addr).await.unwrap();
    s.set_nodelay(true).unwrap();
    s
}

/// Send `msg`, read exactly as many bytes back.
async fn echo_once(s: &mut TcpStream, msg: &[u8]) -> std::io::Result<Vec<u8>> {
    s.write_all(msg).await?;
    let mut buf = vec![0u8; msg.len()];
    s.read_exact(&mut buf).await?;
    Ok(buf)
}

async fn ping(s: &mut TcpStream) -> Duration {
    let t0 = Instant::now();
    s.write_all(b"*1\r\n$4\r\nPING\r\n").await.unwrap();
    let mut buf = [0u8; 7];
    s.read_exact(&mut buf).await.unwrap();
    assert_eq!(&buf, b"+PONG\r\n");
    t0.elapsed()
}

async fn median_ping(s: &mut TcpStream, n: usize) -> Duration {
    let mut v = Vec::with_capacity(n);
    for _ in 0..n {
        v.push(ping(s).await);
    }
    v.sort();
    v[n / 2]
}

/// Wait until the gauge says `want` connections are open (they close asynchronously).
async fn wait_open(reg: &Registry, proxy: &str, want: usize) {
    let deadline = Instant::now() + Duration::from_secs(3);
    while reg.open_connections(proxy).unwrap() != want && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    assert_eq!(reg.open_connections(proxy).unwrap(), want);
}

/// Read until the peer closes; Ok(bytes) on a clean close, Err on a reset.
async fn read_to_close(s: &mut TcpStream) -> std::io::Result<Vec<u8>> {
    let mut out = Vec::new();
    s.read_to_end(&mut out).await.map(|_| out)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn latency_toxic_adds_its_latency_to_a_redis_ping() {
    let redis = RedisServer::start(None)
        .await
        .expect("redis-server on PATH");
    let reg = Registry::new(1);
    let addr = proxy_to(&reg, "redis", redis.addr()).await;
    let mut conn = connect(addr).await;
    let base = median_ping(&mut conn, 50).await;

    // added to the open connection, on one stream only
    reg.add_toxic("redis", Toxic::latency(Stream::Downstream, 100, 0))
        .unwrap();
    let slow = median_ping(&mut conn, 9).await;
    let added = slow.saturating_sub(base);
    assert!(
        added >= Duration::from_millis(100) && added <= Duration::from_millis(110),
        "base {base:?}, with toxic {slow:?}, added {added:?}"
    );

    reg.remove_toxic("redis", "latency_downstream").unwrap();
    assert!(median_ping(&mut conn, 9).await < Duration::from_millis(50));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn blackhole_holds_the_connection_open_until_healed() {
    let reg = Registry::new(2);
    let addr = proxy_to(&reg, "p", echo_server().await).await;
    let mut idle = connect(addr).await;
    let mut busy = connect(addr).await;
    echo_once(&mut idle, b"hello").await.unwrap();
    echo_once(&mut busy, b"hello").await.unwrap();

    let cut = reg.cut("p").unwrap();
    // an op times out: nothing comes back, and the connection is not closed
    let op = timeout(Duration::from_millis(200), echo_once(&mut busy, b"lost")).await;
    assert!(op.is_err(), "the op must time out, got {op:?}");
    // new connections are accepted but get nothing
    let mut fresh = connect(addr).await;
    assert!(
        timeout(Duration::from_millis(100), echo_once(&mut fresh, b"x"))
            .await
            .is_err()
    );
    wait_open(&reg, "p", 3).await;

    cut.heal().unwrap();
    // the idle connection lost nothing and carries on
    assert_eq!(echo_once(&mut idle, b"again").await.unwrap(), b"again");
    // a connection whose bytes were thrown away is closed (its stream has a hole)
    let rest = timeout(Duration::from_secs(2), read_to_close(&mut busy))
        .await
        .expect("closed after heal");
    assert!(rest.map(|b| b.is_empty()).unwrap_or(true));
    drop((idle, fresh));
    wait_open(&reg, "p", 0).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cut_guard_heals_on_drop() {
    let reg = Registry::new(3);
    let addr = proxy_to(&reg, "p", echo_server().await).await;
    {
        let _cut = reg.cut("p").unwrap();
        assert_eq!(reg.toxics("p").unwrap().len(), 2);
        assert!(reg.cut("p").is_err(), "already cut");
    }
    assert!(reg.toxics("p").unwrap().is_empty());
    let mut c = connect(addr).await;
    echo_once(&mut c, b"ok").await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn disable_closes_listener_and_open_connections() {
    let reg = Registry::new(4);
    let addr = proxy_to(&reg, "p", echo_server().await).await;
    let mut open = connect(addr).await;
    echo_once(&mut open, b"hi").await.unwrap();

    reg.set_enabled("p", false).await.unwrap();
    assert_eq!(reg.open_connections("p").unwrap(), 0, "closed on return");
    let closed = timeout(Duration::from_secs(1), read_to_close(&mut open)).await;
    assert!(closed.is_ok(), "open connection closed");
    assert!(TcpStream::connect(addr).await.is_err(), "listener closed");

    let info = reg.set_enabled("p", true).await.unwrap();
    assert_eq!(info.listen_addr(), Some(addr), "same port again");
    let mut again = connect(addr).await;
    echo_once(&mut again, b"hi").await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reset_peer_resets_the_connection() {
    let reg = Registry::new(5);
    let addr = proxy_to(&reg, "p", echo_server().await).await;
    let mut c = connect(addr).await;
    echo_once(&mut c, b"hi").await.unwrap();
    reg.add_toxic(
        "p",
        Toxic::new(Stream::Upstream, ToxicKind::ResetPeer { timeout_ms: 20 }),
    )
    .unwrap();
    let t0 = Instant::now();
    c.write_all(b"boom").await.unwrap();
    let r = timeout(Duration::from_secs(2), read_to_close(&mut c))
        .await
        .unwrap();
    let err = r.expect_err("reset, not a clean close");
    assert_eq!(err.kind(), std::io::ErrorKind::ConnectionReset);
    assert!(t0.elapsed() >= Duration::from_millis(20));
    wait_open(&reg, "p", 0).await;
}

/// fencepost's own links reach their nodes through the node's Unix socket: the same faults
/// apply, a reset reaches the client as a reset, and other Unix addresses are refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unix_upstream_carries_traffic_and_faults() {
    let redis = RedisServer::start(None)
        .await
        .expect("redis-server on PATH");
    let reg = Registry::new(9);
    let upstream = redis.unix_upstream();
    assert!(upstream.starts_with("unix:/"), "{upstream}");
    let addr = reg
        .create(ProxyConfig::new("unix", upstream))
        .await
        .unwrap()
        .listen_addr()
        .unwrap();
    let mut conn = connect(addr).await;
    let base = median_ping(&mut conn, 50).await;
    reg.add_toxic("unix", Toxic::latency(Stream::Upstream, 50, 0))
        .unwrap();
    let slow = median_ping(&mut conn, 5).await;
    assert!(
        slow.saturating_sub(base) >= Duration::from_millis(50),
        "base {base:?}, with a 50 ms toxic {slow:?}"
    );
    reg.remove_toxic("unix", "latency_upstream").unwrap();
    reg.add_toxic(
        "unix",
        Toxic::new(Stream::Upstream, ToxicKind::ResetPeer { timeout_ms: 0 }),
    )
    .unwrap();
    conn.write_all(b"*1\r\n$4\r\nPING\r\n").await.unwrap();
    let r = timeout(Duration::from_secs(2), read_to_close(&mut conn))
        .await
        .unwrap();
    let err = r.expect_err("reset, not a clean close");
    assert_eq!(err.kind(), std::io::ErrorKind::ConnectionReset);
    wait_open(&reg, "unix", 0).await;

    for (listen, upstream) in [
        ("127.0.0.1:0", "unix:relative.sock"),
        ("unix:/tmp/x.sock", "127.0.0.1:6379"),
    ] {
        let mut cfg = ProxyConfig::new("bad", upstream);
        cfg.listen = listen.into();
        let err = reg.create(cfg).await.expect_err("refused");
        assert!(err.to_string().contains("unix"), "{err}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn limit_data_passes_its_bytes_then_closes() {
    let reg = Registry::new(6);
    let addr = proxy_to(&reg, "p", echo_server().await).await;
    reg.add_toxic(
        "p",
        Toxic::new(Stream::Downstream, ToxicKind::LimitData { bytes: 6 }),
    )
    .unwrap();
    let mut c = connect(addr).await;
    c.write_all(b"0123456789").await.unwrap();
    let got = timeout(Duration::from_secs(2), read_to_close(&mut c))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(got, b"012345");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_close_delays_the_close() {
    let reg = Registry::new(7);
    let addr = proxy_to(&reg, "p", echo_server().await).await;
    reg.add_toxic(
        "p",
        Toxic::new(Stream::Downstream, ToxicKind::SlowClose { delay_ms: 150 }),
    )
    .unwrap();
    let mut c = connect(addr).await;
    let t0 = Instant::now();
    c.write_all(b"bye").await.unwrap(); // the echo server closes after this
    let got = timeout(Duration::from_secs(2), read_to_close(&mut c))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(got, b"bye");
    assert!(
        t0.elapsed() >= Duration::from_millis(150),
        "{:?}",
        t0.elapsed()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn timeout_toxic_closes_after_its_timeout() {
    let reg = Registry::new(8);
    let addr = proxy_to(&reg, "p", echo_server().await).await;
    let mut c = connect(addr).await;
    echo_once(&mut c, b"hi").await.unwrap();
    let t0 = Instant::now();
    reg.add_toxic(
        "p",
        Toxic::new(Stream::Upstream, ToxicKind::Timeout { timeout_ms: 100 }),
    )
    .unwrap();
    // idle connection: closed all the same once the timeout passes
    let r = timeout(Duration::from_secs(2), read_to_close(&mut c))
        .await
        .unwrap();
    assert!(r.map(|b| b.is_empty()).unwrap_or(true));
    let took = t0.elapsed();
    assert!(
        took >= Duration::from_millis(100) && took < Duration::from_millis(500),
        "{took:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bandwidth_and_slicer_deliver_every_byte() {
    let reg = Registry::new(9);
    let addr = proxy_to(&reg, "p", echo_server().await).await;
    reg.add_toxic(
        "p",
        Toxic::new(
            Stream::Upstream,
            ToxicKind::Slicer {
                average_size_bytes: 100,
                size_variation_bytes: 40,
                delay_us: 50,
            },
        ),
    )
    .unwrap();
    reg.add_toxic(
        "p",
        Toxic::new(
            Stream::Downstream,
            ToxicKind::Bandwidth { rate_kb_per_s: 100 },
        ),
    )
    .unwrap();
    let mut c = connect(addr).await;
    let msg: Vec<u8> = (0..20_000u32).map(|i| (i % 251) as u8).collect();
    let t0 = Instant::now();
    let back = timeout(Duration::from_secs(5), echo_once(&mut c, &msg))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(back, msg);
    // 20 kB at 100 KB/s
    assert!(
        t0.elapsed() >= Duration::from_millis(190),
        "{:?}",
        t0.elapsed()
    );
}

/// Which of `n` connections a toxicity-0.5 blackhole catches, for a seed.
async fn caught(seed: u64, n: usize) -> Vec<bool> {
    let reg = Registry::new(seed);
    let addr = proxy_to(&reg, "p", echo_server().await).await;
    reg.add_toxic("p", Toxic::blackhole(Stream::Upstream).with_toxicity(0.5))
        .unwrap();
    let mut out = Vec::with_capacity(n);
    for _ in 0..n {
        let mut c = connect(addr).await;
        let r = timeout(Duration::from_millis(100), echo_once(&mut c, b"x")).await;
        out.push(r.is_err());
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn toxicity_is_replayed_from_the_seed() {
    let a = caught(11, 16).await;
    assert_eq!(
        a,
        caught(11, 16).await,
        "same seed, same connections caught"
    );
    assert!(a.iter().any(|&c| c) && a.iter().any(|&c| !c), "{a:?}");
    assert_ne!(a, caught(12, 16).await, "another seed, another draw");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dropping_the_registry_closes_everything() {
    let reg = Registry::new(13);
    let addr = proxy_to(&reg, "p", echo_server().await).await;
    let mut c = connect(addr).await;
    echo_once(&mut c, b"hi").await.unwrap();
    reg.add_toxic("p", Toxic::latency(Stream::Downstream, 10_000, 0))
        .unwrap();
    drop(reg);
    let r = timeout(Duration::from_secs(2), read_to_close(&mut c)).await;
    assert!(r.is_ok(), "connection closed when the registry went away");
    let refused = timeout(Duration::from_secs(2), async {
        loop {
            if TcpStream::connect(addr).await.is_err() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    })
    .await;
    assert!(refused.is_ok(), "listener closed");
}
