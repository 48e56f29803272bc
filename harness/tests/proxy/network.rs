//! The nemeses' control path gives the same answers in process (`Network::Embedded`) and over
//! HTTP (`Network::External` through `ToxiproxyClient`): same results, same typed errors.

use fencepost::proxy::{
    ApiServer, Network, ProxyConfig, ProxyError, Registry, Stream, Toxic, ToxicKind,
    ToxiproxyClient, CUT_TOXIC_NAMES,
};

async fn exercise(net: &Network, upstream: &str) -> Vec<String> {
    let mut log = Vec::new();
    let info = net
        .create(ProxyConfig::new("c1-n1", upstream))
        .await
        .unwrap();
    assert!(info.enabled && info.listen_addr().is_some_and(|a| a.port() != 0));
    log.push(format!(
        "dup: {:?}",
        net.create(ProxyConfig::new("c1-n1", upstream))
            .await
            .map_err(|e| e.http_status())
    ));
    log.push(format!(
        "missing: {:?}",
        net.get("nope").await.map_err(|e| e.http_status())
    ));

    net.cut("c1-n1").await.unwrap();
    let names: Vec<String> = net
        .toxics("c1-n1")
        .await
        .unwrap()
        .into_iter()
        .map(|t| t.name)
        .collect();
    assert_eq!(names, CUT_TOXIC_NAMES);
    log.push(format!(
        "cut twice: {:?}",
        net.cut("c1-n1").await.map_err(|e| e.http_status())
    ));
    net.heal("c1-n1").await.unwrap();
    net.heal("c1-n1").await.unwrap(); // healing a healed link is fine
    assert!(net.toxics("c1-n1").await.unwrap().is_empty());

    let t = net
        .add_toxic(
            "c1-n1",
            Toxic::latency(Stream::Downstream, 100, 10).with_toxicity(0.5),
        )
        .await
        .unwrap();
    log.push(format!("added: {t:?}"));
    let u = net
        .update_toxic(
            "c1-n1",
            "latency_downstream",
            ToxicKind::Latency {
                latency_ms: 200,
                jitter_ms: 0,
            },
            1.0,
        )
        .await
        .unwrap();
    log.push(format!("updated: {u:?}"));
    let e = net.remove_toxic("c1-n1", "nope").await.unwrap_err();
    assert!(matches!(e, ProxyError::ToxicNotFound { .. }), "{e:?}");
    let e = net
        .add_toxic(
            "c1-n1",
            Toxic::new(
                Stream::Upstream,
                ToxicKind::Slicer {
                    average_size_bytes: 0,
                    size_variation_bytes: 0,
                    delay_us: 0,
                },
            ),
        )
        .await
        .unwrap_err();
    log.push(format!("bad toxic: {}", e.http_status()));

    let off = net.set_enabled("c1-n1", false).await.unwrap();
    log.push(format!("disabled: {}", off.enabled));
    net.heal_all().await.unwrap();
    let on = net.get("c1-n1").await.unwrap();
    log.push(format!("after heal_all: {} {:?}", on.enabled, on.toxics));
    net.delete("c1-n1").await.unwrap();
    log.push(format!(
        "deleted: {:?}",
        net.delete("c1-n1").await.map_err(|e| e.http_status())
    ));
    log
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn embedded_and_external_answer_alike() {
    let upstream = "127.0.0.1:6399";
    let embedded = exercise(&Network::Embedded(Registry::new(1)), upstream).await;

    let server = ApiServer::start("127.0.0.1:0".parse().unwrap(), Registry::new(1))
        .await
        .unwrap();
    let client = ToxiproxyClient::new(&format!("http://{}", server.local_addr())).unwrap();
    assert!(client.version().await.unwrap().starts_with("2."));
    let external = exercise(&Network::External(client), upstream).await;
    assert_eq!(embedded, external);
    server.stop().await.unwrap();
}

#[test]
fn client_urls_are_checked() {
    assert!(ToxiproxyClient::new("http://127.0.0.1:8474").is_ok());
    assert!(ToxiproxyClient::new("http://127.0.0.1:8474/").is_ok());
    assert!(ToxiproxyClient::new("localhost:8474").is_ok());
    assert!(ToxiproxyClient::new("https://127.0.0.1:8474").is_err());
    assert!(ToxiproxyClient::new("http://127.0.0.1:8474/api").is_err());
    assert!(ToxiproxyClient::new("127.0.0.1").is_err());
}

#[tokio::test]
async fn an_unreachable_toxiproxy_is_an_error_not_a_hang() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let client = ToxiproxyClient::new(&format!("http://127.0.0.1:{port}")).unwrap();
    let e = client.list().await.unwrap_err();
    assert!(matches!(e, ProxyError::Remote(_)), "{e:?}");
}
