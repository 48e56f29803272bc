//! Compatibility proven by a client no one here wrote: the `toxiproxy_rust` crate drives the
//! embedded API server. The crate is blocking (reqwest's blocking client, which panics on an
//! async worker thread), so the server and an echo upstream run on a runtime in a background
//! thread and the client runs on the test thread.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use fencepost::proxy::{ApiServer, Registry};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use toxiproxy_rust::client::Client;
use toxiproxy_rust::proxy::ProxyPack;

struct Background {
    api: SocketAddr,
    upstream: SocketAddr,
    registry: Registry,
    _runtime: tokio::runtime::Runtime,
}

fn background() -> Background {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let registry = Registry::new(42);
    let (api, upstream) = runtime.block_on(async {
        let server = ApiServer::start("127.0.0.1:0".parse().unwrap(), registry.clone())
            .await
            .unwrap();
        let api = server.local_addr();
        std::mem::forget(server); // lives as long as the runtime
        let echo = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let upstream = echo.local_addr().unwrap();
        tokio::spawn(async move {
            while let Ok((mut s, _)) = echo.accept().await {
                tokio::spawn(async move {
                    let mut buf = [0u8; 4096];
                    while let Ok(n) = s.read(&mut buf).await {
                        if n == 0 || s.write_all(&buf[..n]).await.is_err() {
                            break;
                        }
                    }
                });
            }
        });
        (api, upstream)
    });
    Background {
        api,
        upstream,
        registry,
        _runtime: runtime,
    }
}

/// One echo round trip through `addr`, with a deadline.
fn echo(addr: &str) -> std::io::Result<Duration> {
    let t0 = Instant::now();
    let mut s = TcpStream::connect(addr)?;
    s.set_read_timeout(Some(Duration::from_secs(2)))?;
    s.write_all(b"ping")?;
    let mut buf = [0u8; 4];
    s.read_exact(&mut buf)?;
    assert_eq!(&buf, b"ping");
    Ok(t0.elapsed())
}

#[test]
fn toxiproxy_rust_drives_the_embedded_server() {
    let bg = background();
    let client = Client::new(bg.api);

    assert!(client.is_running());
    assert!(client.version().unwrap().contains("\"version\""));

    let proxies = client
        .populate(vec![ProxyPack::new(
            "echo".into(),
            "127.0.0.1:0".into(),
            bg.upstream.to_string(),
        )])
        .expect("populate");
    assert_eq!(proxies.len(), 1);
    assert!(client.all().unwrap().contains_key("echo"));

    let proxy = client.find_proxy("echo").expect("find_proxy");
    let listen = proxy.proxy_pack.listen.clone();
    assert!(!listen.ends_with(":0"), "real port reported: {listen}");
    assert!(proxy.proxy_pack.enabled);
    echo(&listen).expect("echo through the proxy");

    // every toxic the crate supports: added, listed with its attributes, removed
    proxy.with_latency("downstream".into(), 60, 0, 1.0);
    proxy.with_bandwidth("upstream".into(), 500, 1.0);
    proxy.with_slow_close("upstream".into(), 10, 1.0);
    proxy.with_timeout("upstream".into(), 5000, 0.0);
    proxy.with_slicer("downstream".into(), 1024, 128, 500, 1.0);
    proxy.with_limit_data("downstream".into(), 4096, 1.0);
    let toxics = proxy.toxics().expect("toxics");
    let mut names: Vec<&str> = toxics.iter().map(|t| t.name.as_str()).collect();
    names.sort_unstable();
    assert_eq!(
        names,
        [
            "bandwidth_upstream",
            "latency_downstream",
            "limit_data_downstream",
            "slicer_downstream",
            "slow_close_upstream",
            "timeout_upstream",
        ]
    );
    let slicer = toxics.iter().find(|t| t.r#type == "slicer").unwrap();
    assert_eq!(slicer.attributes["average_size"], 1024);
    assert_eq!(slicer.attributes["size_variation"], 128);
    assert_eq!(slicer.attributes["delay"], 500);
    assert_eq!(slicer.toxicity, 1.0);
    let timeout = toxics.iter().find(|t| t.r#type == "timeout").unwrap();
    assert_eq!(timeout.toxicity, 0.0);
    // the latency toxic acts on the echo (toxicity 0 timeout does not)
    let rtt = echo(&listen).expect("echo with toxics");
    assert!(rtt >= Duration::from_millis(60), "{rtt:?}");
    proxy.delete_all_toxics().expect("delete_all_toxics");
    assert!(proxy.toxics().unwrap().is_empty());
    assert!(echo(&listen).unwrap() < Duration::from_millis(60));

    // apply: toxics for the closure only
    proxy
        .with_latency("upstream".into(), 30, 0, 1.0)
        .apply(|| {
            assert!(echo(&listen).unwrap() >= Duration::from_millis(30));
        })
        .unwrap();
    assert!(proxy.toxics().unwrap().is_empty());

    // disable and enable
    proxy.disable().unwrap();
    assert!(!client.find_proxy("echo").unwrap().proxy_pack.enabled);
    assert!(
        echo(&listen).is_err(),
        "disabled proxy lets nothing through"
    );
    proxy.enable().unwrap();
    echo(&listen).expect("enabled again");
    proxy.with_down(|| assert!(echo(&listen).is_err())).unwrap();
    echo(&listen).expect("up after with_down");

    // find_and_reset_proxy and reset
    proxy.with_latency("downstream".into(), 1, 0, 1.0);
    let proxy = client.find_and_reset_proxy("echo").unwrap();
    assert!(proxy.toxics().unwrap().is_empty());
    proxy.with_timeout("downstream".into(), 0, 1.0);
    proxy.disable().unwrap();
    client.reset().unwrap();
    let after = client.find_proxy("echo").unwrap();
    assert!(after.proxy_pack.enabled);
    assert!(after.proxy_pack.toxics.is_empty());

    // a toxic the server refuses (slicer average_size 0) does not break anything
    proxy.with_slicer("downstream".into(), 0, 0, 0, 1.0);
    assert!(proxy.toxics().unwrap().is_empty());

    // every connection made through the proxy is closed again
    let deadline = Instant::now() + Duration::from_secs(2);
    while bg.registry.open_connections("echo").unwrap() > 0 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(10));
    }
    assert_eq!(bg.registry.open_connections("echo").unwrap(), 0);

    proxy.delete().unwrap();
    assert!(client.find_proxy("echo").is_err());
    assert!(client.all().unwrap().is_empty());
}
